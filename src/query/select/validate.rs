//! The checks 1.x's compiler makes of a SELECT before reading anything, with its texts: calls
//! and their arguments, math arity, conditions, and the arithmetic types of the fields.

use super::*;

pub(super) const TRANSFORMS: &[&str] = &[
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
    "holt_winters",
    "holt_winters_with_fit",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "triple_exponential_derivative",
    "relative_strength_index",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
    "chande_momentum_oscillator",
];

/// 1.x's argument checks of the technical-analysis functions (period, hold period, warm-up
/// type), with its texts.
pub(super) fn validate_ta_call(name: &str, kind: functions::ta::TaKind, args: &[Expr]) -> QResult<()> {
    use functions::ta::TaKind;
    let n = args.len();
    let max = if kind.has_warmup() { 4 } else { 3 };
    if n < 2 || n > max {
        return Err(format!("invalid number of arguments for {name}, expected at least 2 but no more than {max}, got {n}").into());
    }
    match int_arg(&args[1]) {
        None => return Err(format!("{name} period must be an integer").into()),
        Some(p) if p < 1 => return Err(format!("{name} period must be greater than or equal to 1").into()),
        Some(_) => {}
    }
    if let Some(a) = args.get(2) {
        match int_arg(a) {
            None => return Err(format!("{name} hold period must be an integer").into()),
            Some(h) if kind == TaKind::Trix && h < 1 && h != -1 => {
                return Err(format!("{name} hold period must be greater than or equal to 1").into())
            }
            Some(h) if h < 0 && h != -1 => return Err(format!("{name} hold period must be greater than or equal to 0").into()),
            Some(_) => {}
        }
    }
    if let Some(a) = args.get(3) {
        let Expr::Str(w) = a.unparen() else { return Err(format!("{name} warmup type must be a string").into()) };
        let ok = match kind {
            TaKind::Cmo => matches!(w.as_str(), "none" | "exponential" | "simple"),
            _ => matches!(w.as_str(), "exponential" | "simple"),
        };
        if !ok {
            return Err(match kind {
                TaKind::Cmo => format!("{name} warmup type must be one of: 'none' 'exponential' 'simple'").into(),
                _ => format!("{name} warmup type must be one of: 'exponential' 'simple'").into(),
            });
        }
    }
    Ok(())
}

pub(super) fn is_aggregate_name(n: &str) -> bool {
    Aggregate::from_name(n, Some(1), Some(50.0), None).is_some()
}

pub(super) fn is_transform_name(n: &str) -> bool {
    TRANSFORMS.contains(&n)
}

pub(super) fn selector_name(n: &str) -> bool {
    matches!(n, "first" | "last" | "max" | "min" | "percentile" | "sample" | "top" | "bottom")
}

/// Walks calls that are aggregates/selectors/transforms (not math).
pub(super) fn visit_calls<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a str, &'a [Expr])) {
    match e {
        Expr::Call { name, args } => {
            if is_aggregate_name(name) || is_transform_name(name) {
                f(name, args);
            } else {
                for a in args {
                    visit_calls(a, f);
                }
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            visit_calls(lhs, f);
            visit_calls(rhs, f);
        }
        Expr::Paren(x) => visit_calls(x, f),
        _ => {}
    }
}

pub(super) fn has_agg_call(e: &Expr) -> bool {
    let mut found = false;
    visit_calls(e, &mut |_, _| found = true);
    found
}

/// Var refs outside aggregate calls.
pub(super) fn free_vars(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Var { name, .. } if name != "time" => out.push(e.clone()),
        Expr::Wildcard { .. } | Expr::Regex(_) => out.push(e.clone()),
        Expr::Call { name, args } if !(is_aggregate_name(name) || is_transform_name(name)) => {
            for a in args {
                free_vars(a, out);
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            free_vars(lhs, out);
            free_vars(rhs, out);
        }
        Expr::Paren(x) => free_vars(x, out),
        _ => {}
    }
}

pub(super) fn contains_var(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } | Expr::Wildcard { .. } | Expr::Regex(_) => true,
        Expr::Call { args, .. } => args.iter().any(contains_var),
        Expr::Binary { lhs, rhs, .. } => contains_var(lhs) || contains_var(rhs),
        Expr::Paren(x) => contains_var(x),
        _ => false,
    }
}

pub(super) fn duration_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Duration(d) => Some(*d),
        _ => None,
    }
}

pub(super) fn int_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i),
        _ => None,
    }
}

pub(super) fn num_arg(e: &Expr) -> Option<f64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i as f64),
        Expr::Float(f) => Some(*f),
        _ => None,
    }
}

/// An argument as 1.x prints it in errors (`found hostname`, `found 'x'`, `found 1.500`).
pub(super) fn arg_text(e: &Expr) -> String {
    match e {
        Expr::Float(f) => format!("{f:.3}"),
        Expr::Duration(d) => crate::query::util::influxql_duration(*d),
        other => expr_text(other),
    }
}

/// Math calls with the wrong number of arguments (1.x: `invalid number of arguments for pow,
/// expected 2, got 1`), checked before anything else about a field.
pub(super) fn validate_math(e: &Expr) -> QResult<()> {
    match e {
        Expr::Call { name, args } => {
            if functions::math::is_math_function(name) {
                let want = functions::math::arity(name);
                if args.len() != want {
                    return Err(format!("invalid number of arguments for {name}, expected {want}, got {}", args.len()).into());
                }
            }
            args.iter().try_for_each(validate_math)
        }
        Expr::Binary { lhs, rhs, .. } => {
            validate_math(lhs)?;
            validate_math(rhs)
        }
        Expr::Paren(x) => validate_math(x),
        _ => Ok(()),
    }
}

/// Checks calls the way 1.x's compiler does, with its texts. `interval`: the statement has a
/// GROUP BY time interval (a transformation of an aggregate needs one).
pub(super) fn validate_call(name: &str, args: &[Expr], interval: bool) -> QResult<()> {
    if let Some(kind) = functions::ta::TaKind::from_name(name) {
        validate_ta_call(name, kind, args)?;
    }
    let n = args.len();
    let expect = |want: usize| -> QResult<()> {
        if n != want {
            Err(format!("invalid number of arguments for {name}, expected {want}, got {n}").into())
        } else {
            Ok(())
        }
    };
    match name {
        "count" | "distinct" | "mean" | "median" | "mode" | "spread" | "stddev" | "sum" | "first" | "last"
        | "max" | "min" | "cumulative_sum" | "difference" | "non_negative_difference" => expect(1)?,
        "percentile" | "sample" | "moving_average" => expect(2)?,
        "top" | "bottom" => {
            if n < 2 {
                return Err(format!("invalid number of arguments for {name}, expected at least 2, got {n}").into());
            }
            let Some(l) = args.last().and_then(int_arg) else {
                let found = args.last().map(|a| arg_text(a.unparen())).unwrap_or_default();
                return Err(format!("expected integer as last argument in {name}(), found {found}").into());
            };
            if l <= 0 {
                return Err(format!("limit ({l}) in {name} function must be at least 1").into());
            }
        }
        "derivative" | "non_negative_derivative" | "elapsed" | "integral" => {
            if n == 0 || n > 2 {
                return Err(format!("invalid number of arguments for {name}, expected at least 1 but no more than 2, got {n}").into());
            }
            if n == 2 {
                match duration_arg(&args[1]) {
                    Some(d) if d <= 0 => {
                        return Err(format!(
                            "duration argument must be positive, got {}",
                            crate::query::util::influxql_duration(d)
                        ).into())
                    }
                    Some(_) => {}
                    None => return Err(format!("second argument to {name} must be a duration, got *influxql.IntegerLiteral").into()),
                }
            }
        }
        _ => {}
    }
    match name {
        "sample" => {
            if let Some(k) = args.get(1).and_then(int_arg) {
                if k <= 0 {
                    return Err(format!("sample window must be greater than 1, got {k}").into());
                }
            }
        }
        "moving_average" => {
            if let Some(k) = args.get(1).and_then(int_arg) {
                if k <= 1 {
                    return Err(format!("moving_average window must be greater than 1, got {k}").into());
                }
            }
        }
        "percentile" => {
            if args.get(1).and_then(num_arg).is_none() {
                return Err(format!("expected float argument in {name}()").into());
            }
        }
        "holt_winters" | "holt_winters_with_fit" => {
            expect(3)?;
            if !matches!(args.first().map(Expr::unparen), Some(Expr::Call { .. })) {
                return Err(format!("must use aggregate function with {name}").into());
            }
        }
        _ => {}
    }
    // A transformation of an aggregate needs GROUP BY time (checked after its arguments).
    if is_transform_name(name) && !interval && matches!(args.first().map(Expr::unparen), Some(Expr::Call { .. })) {
        return Err(format!("{name} aggregate requires a GROUP BY interval").into());
    }
    Ok(())
}

pub(super) fn check_undefined(e: &Expr) -> QResult<()> {
    match e {
        Expr::Call { name, args } => {
            if !(is_aggregate_name(name) || is_transform_name(name) || functions::math::is_math_function(name)) {
                return Err(format!("undefined function {name}()").into());
            }
            for a in args {
                check_undefined(a)?;
            }
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            check_undefined(lhs)?;
            check_undefined(rhs)
        }
        Expr::Paren(x) => check_undefined(x),
        _ => Ok(()),
    }
}

/// 1.x rejects a condition that is not a boolean expression (`WHERE x`).
pub(super) fn check_condition(e: &Expr) -> QResult<()> {
    match e.unparen() {
        Expr::Binary { op: BinOp::And | BinOp::Or, lhs, rhs } => {
            check_condition(lhs)?;
            check_condition(rhs)
        }
        Expr::Binary { op, .. } if op.is_comparison() => Ok(()),
        Expr::Bool(_) => Ok(()),
        other => Err(format!("invalid condition expression: {}", expr_text(other)).into()),
    }
}

pub(super) fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Var { name, .. } => name.clone(),
        Expr::Integer(i) => i.to_string(),
        Expr::Float(f) => f.to_string(),
        Expr::Str(s) => format!("'{s}'"),
        Expr::Binary { op, lhs, rhs } => format!("{} {} {}", expr_text(lhs), op.as_str(), expr_text(rhs)),
        Expr::Paren(x) => format!("({})", expr_text(x)),
        Expr::Call { name, args } => {
            format!("{}({})", name, args.iter().map(expr_text).collect::<Vec<_>>().join(", "))
        }
        _ => String::new(),
    }
}

/// The type of an expression for 1.x's compile-time check of arithmetic, with the text 1.x
/// prints for it (`usage_user::float`).
pub(super) fn expr_type(e: &Expr, metas: &[MeasInfo]) -> (Option<&'static str>, String) {
    match e {
        Expr::Var { name, hint } => {
            let ty = match hint {
                Some(VarHint::Type(t)) => Some(t.as_str()),
                Some(VarHint::Tag) => Some("tag"),
                _ => metas.iter().find_map(|m| m.fields.get(name)).map(|t| t.as_str()).or_else(|| {
                    if metas.iter().any(|m| m.tags.contains(name)) {
                        Some("tag")
                    } else {
                        None
                    }
                }),
            };
            match ty {
                Some(t) => (Some(t), format!("{name}::{t}")),
                None => (None, name.clone()),
            }
        }
        Expr::Integer(i) => (Some("integer"), i.to_string()),
        Expr::Float(f) => (Some("float"), format!("{f}")),
        Expr::Str(s) => (Some("string"), format!("'{s}'")),
        Expr::Bool(b) => (Some("boolean"), b.to_string()),
        Expr::Paren(x) => {
            let (t, s) = expr_type(x, metas);
            (t, format!("({s})"))
        }
        Expr::Binary { op, lhs, rhs } => {
            let (lt, ls) = expr_type(lhs, metas);
            let (rt, rs) = expr_type(rhs, metas);
            let t = match (lt, rt) {
                (Some("float"), _) | (_, Some("float")) => Some("float"),
                (Some(a), Some(b)) if a == b => Some(a),
                (a, None) => a,
                (None, b) => b,
                (a, _) => a,
            };
            (t, format!("{ls} {} {rs}", op.as_str()))
        }
        _ => (None, String::new()),
    }
}

pub(super) fn type_check(e: &Expr, metas: &[MeasInfo]) -> QResult<()> {
    match e {
        Expr::Binary { op, lhs, rhs } if !op.is_comparison() && !matches!(op, BinOp::And | BinOp::Or) => {
            type_check(lhs, metas)?;
            type_check(rhs, metas)?;
            let (lt, _) = expr_type(lhs, metas);
            let (rt, _) = expr_type(rhs, metas);
            let numeric = |t: &str| matches!(t, "float" | "integer" | "unsigned");
            if let (Some(a), Some(b)) = (lt, rt) {
                let ok = a == b && a != "tag" || (numeric(a) && numeric(b));
                if !ok && a != "tag" && b != "tag" {
                    let (_, text) = expr_type(e, metas);
                    return Err(format!("type error: {text}: incompatible types: {a} and {b}").into());
                }
            }
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            type_check(lhs, metas)?;
            type_check(rhs, metas)
        }
        Expr::Paren(x) => type_check(x, metas),
        _ => Ok(()),
    }
}

/// What the checks learnt of a statement's shape.
pub(super) struct Shape {
    /// It calls aggregates, selectors or transformations.
    pub(super) any_agg: bool,
    /// `GROUP BY time(every, offset)` with `every > 0` (`time(0s)` buckets nothing: 1.x answers as
    /// without GROUP BY time).
    pub(super) group_by_time: Option<(i64, i64)>,
}

/// The checks of a SELECT that need no catalog, in 1.x's order, with its texts.
pub(super) fn check_statement(sel: &Select) -> QResult<Shape> {
    let mut any_agg = false;
    let mut n_calls = 0usize;
    let mut selectors = 0usize;
    let mut err: Option<QueryError> = None;
    if sel.dimensions.iter().filter(|d| matches!(d, Dimension::Time { .. })).count() > 1 {
        return Err("multiple time dimensions not allowed".into());
    }
    let has_interval = sel.dimensions.iter().any(|d| matches!(d, Dimension::Time { every, .. } if *every > 0));
    for f in &sel.fields {
        check_undefined(&f.expr)?;
        validate_math(&f.expr)?;
        visit_calls(&f.expr, &mut |name, args| {
            any_agg = true;
            n_calls += 1;
            if selector_name(name) {
                selectors += 1;
            }
            if err.is_none() {
                if let Err(e) = validate_call(name, args, has_interval) {
                    err = Some(e);
                }
            }
        });
    }
    if let Some(e) = err {
        return Err(e);
    }
    for f in &sel.fields {
        if !contains_var(&f.expr) {
            return Err("field must contain at least one variable".into());
        }
    }
    if n_calls > 1 {
        for f in &sel.fields {
            let mut bad: Option<String> = None;
            visit_calls(&f.expr, &mut |name, _| {
                if bad.is_none() && matches!(name, "top" | "bottom") {
                    bad = Some(name.to_string());
                }
            });
            if let Some(b) = bad {
                return Err(format!("selector function {b}() cannot be combined with other functions").into());
            }
        }
    }
    // distinct() must be the only call, without other fields (1.x).
    if sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Call { name, .. } if name == "distinct")) {
        let mut fv = Vec::new();
        for f in &sel.fields {
            free_vars(&f.expr, &mut fv);
        }
        if n_calls != 1 || !fv.is_empty() {
            return Err("aggregate function distinct() cannot be combined with other functions or fields".into());
        }
    }
    let has_time_dim = sel.dimensions.iter().any(|d| matches!(d, Dimension::Time { .. }));
    if !any_agg && has_time_dim {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    // time(0s) buckets nothing: 1.x answers as without GROUP BY time.
    let group_by_time = sel.dimensions.iter().find_map(|d| match d {
        Dimension::Time { every, offset } if *every > 0 => Some((*every, *offset)),
        _ => None,
    });
    if any_agg {
        let mut fv = Vec::new();
        for f in &sel.fields {
            free_vars(&f.expr, &mut fv);
        }
        if !(fv.is_empty() || n_calls == 1 && selectors == 1) {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
    }
    Ok(Shape { any_agg, group_by_time })
}
