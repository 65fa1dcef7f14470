//! The checks of one (reduced) field, as 1.x's `compiledField.compileExpr` and the function
//! compilers of query/compile.go make them: each call checks its arguments in order (count,
//! then each literal argument, then its input: a field, or — for a transformation — a nested
//! call, which needs GROUP BY time and is checked after the transformation itself). The first
//! failure is the statement's error.

use crate::influxql::ast::Expr;
use crate::rules::durations::influxql_literal;
use crate::influxql::reduce::is_literal;
use crate::query::error::QResult;
use crate::query::functions::ta::TaKind;
use crate::rules::function_kinds::{self, Kind};

use super::{go_text, Compiled};

/// Checks a field, recording what `validateFields` needs in `c`.
pub(super) fn compile_field(c: &mut Compiled, e: &Expr) -> QResult<()> {
    FieldCheck { c, allow_wildcard: true }.expr(e)
}

/// A field being checked: `*` and regexes are allowed in it until a binary expression is met.
struct FieldCheck<'c> {
    c: &'c mut Compiled,
    allow_wildcard: bool,
}

/// The Go type 1.x names in `got %T` errors.
fn go_type(e: &Expr) -> &'static str {
    match e {
        Expr::VarRef { .. } => "*influxql.VarRef",
        Expr::Call { .. } => "*influxql.Call",
        Expr::Distinct(_) => "*influxql.Distinct",
        Expr::Binary { .. } => "*influxql.BinaryExpr",
        Expr::Paren(_) => "*influxql.ParenExpr",
        Expr::Number(_) => "*influxql.NumberLiteral",
        Expr::Integer(_) => "*influxql.IntegerLiteral",
        Expr::Unsigned(_) => "*influxql.UnsignedLiteral",
        Expr::String(_) => "*influxql.StringLiteral",
        Expr::Boolean(_) => "*influxql.BooleanLiteral",
        Expr::Duration(_) => "*influxql.DurationLiteral",
        Expr::Time(_) => "*influxql.TimeLiteral",
        Expr::Regex(_) => "*influxql.RegexLiteral",
        Expr::Wildcard(_) => "*influxql.Wildcard",
        Expr::BindParam(_) => "*influxql.BoundParameter",
        Expr::Nil => "*influxql.NilLiteral",
    }
}

fn arity_error(name: &str, want: &str, got: usize) -> QResult<()> {
    Err(format!("invalid number of arguments for {name}, expected {want}, got {got}").into())
}

/// A `time.Duration` argument: positive when given.
fn duration_arg(arg: Option<&Expr>, other: impl Fn(&Expr) -> String) -> QResult<()> {
    match arg {
        None => Ok(()),
        Some(Expr::Duration(d)) if *d <= 0 => Err(format!("duration argument must be positive, got {}", influxql_literal(*d)).into()),
        Some(Expr::Duration(_)) => Ok(()),
        Some(a) => Err(other(a).into()),
    }
}

impl FieldCheck<'_> {
    fn expr(&mut self, e: &Expr) -> QResult<()> {
        match e {
            Expr::VarRef { .. } => {
                self.c.has_aux = true;
                Ok(())
            }
            Expr::Wildcard(_) | Expr::Regex(_) if !self.allow_wildcard => {
                let what = if matches!(e, Expr::Regex(_)) { "regex" } else { "wildcard" };
                Err(format!("unable to use {what} in a binary expression").into())
            }
            Expr::Wildcard(_) | Expr::Regex(_) => {
                self.c.has_aux = true;
                Ok(())
            }
            Expr::Call { name, args } if function_kinds::is_math(name) => self.math(name, args),
            Expr::Call { name, args } => {
                self.c.calls += 1;
                self.call(name, args)
            }
            Expr::Distinct(v) => {
                self.c.calls += 1;
                self.distinct(&[Expr::var(v)], false)
            }
            Expr::Binary { lhs, rhs, .. } => {
                self.allow_wildcard = false;
                match (is_literal(lhs), is_literal(rhs)) {
                    (true, true) => Err("cannot perform a binary expression on two literals".into()),
                    (true, false) => self.expr(rhs),
                    (false, true) => self.expr(lhs),
                    (false, false) => {
                        self.expr(lhs)?;
                        self.expr(rhs)
                    }
                }
            }
            Expr::Paren(inner) => self.expr(inner),
            _ => Err("field must contain at least one variable".into()),
        }
    }

    /// A call inside a transformation or holt_winters(): distinct() there is count's kind.
    fn nested(&mut self, e: &Expr) -> QResult<()> {
        match e {
            Expr::Call { name, args } if name == "distinct" => self.distinct(args, true),
            Expr::Distinct(v) => self.distinct(&[Expr::var(v)], true),
            _ => self.expr(e),
        }
    }

    fn math(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        let want = function_kinds::math_arity(name);
        if args.len() != want {
            return arity_error(name, &want.to_string(), args.len());
        }
        args.iter().filter(|a| !is_literal(a)).try_for_each(|a| self.expr(a))
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        if let Some(kind) = TaKind::from_name(name) {
            return self.technical(name, kind, args);
        }
        match name {
            "percentile" => self.percentile(args),
            "sample" => self.sample(args),
            "distinct" => self.distinct(args, false),
            "top" | "bottom" => self.top_bottom(name, args),
            "derivative" | "non_negative_derivative" | "elapsed" => self.derivative(name, args),
            "difference" | "non_negative_difference" | "cumulative_sum" => {
                if args.len() != 1 {
                    return arity_error(name, "1", args.len());
                }
                self.c.only_selectors = false;
                self.transform_input(name, &args[0], true)
            }
            "moving_average" => self.moving_average(args),
            "integral" => self.integral(args),
            "holt_winters" | "holt_winters_with_fit" => self.holt_winters(name, args),
            _ => self.function(name, args),
        }
    }

    /// The input of a transformation: a call (needs GROUP BY time) or a field (must not have
    /// one of its own). `nested`: a distinct() call there is not a top-level distinct().
    fn transform_input(&mut self, name: &str, arg: &Expr, nested: bool) -> QResult<()> {
        if let Expr::Call { .. } = arg {
            if self.c.interval == 0 {
                return Err(format!("{name} aggregate requires a GROUP BY interval").into());
            }
            return if nested { self.nested(arg) } else { self.expr(arg) };
        }
        if self.c.interval != 0 && !self.c.inherited {
            return Err(format!("aggregate function required inside the call to {name}").into());
        }
        self.symbol(name, arg)
    }

    /// The input of an aggregate or selector: a field, `*` or a regex.
    fn symbol(&mut self, name: &str, arg: &Expr) -> QResult<()> {
        match arg {
            Expr::VarRef { .. } => Ok(()),
            Expr::Wildcard(_) | Expr::Regex(_) => {
                if !self.allow_wildcard {
                    let what = if matches!(arg, Expr::Regex(_)) { "regex field" } else { "wildcard" };
                    return Err(format!("unsupported expression with {what}: {name}()").into());
                }
                self.c.only_selectors = false;
                Ok(())
            }
            _ => Err(format!("expected field argument in {name}()").into()),
        }
    }

    /// The aggregates and selectors of one argument.
    fn function(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        // What is left of 1.x's functions here: max, min, first, last (selectors) and count,
        // sum, mean, median, mode, stddev, spread.
        match function_kinds::kind(name) {
            Some(Kind::Selector) => {}
            Some(Kind::Aggregate) => self.c.only_selectors = false,
            _ => return Err(format!("undefined function {name}()").into()),
        }
        if args.len() != 1 {
            return arity_error(name, "1", args.len());
        }
        if name == "count" {
            match &args[0] {
                Expr::Call { name, args } if name == "distinct" => return self.distinct(args, true),
                Expr::Distinct(v) => return self.distinct(&[Expr::var(v)], true),
                _ => {}
            }
        }
        self.symbol(name, &args[0])
    }

    fn percentile(&mut self, args: &[Expr]) -> QResult<()> {
        if args.len() != 2 {
            return arity_error("percentile", "2", args.len());
        }
        if !matches!(args[1], Expr::Integer(_) | Expr::Number(_)) {
            return Err("expected float argument in percentile()".into());
        }
        self.symbol("percentile", &args[0])
    }

    fn sample(&mut self, args: &[Expr]) -> QResult<()> {
        if args.len() != 2 {
            return arity_error("sample", "2", args.len());
        }
        match args[1] {
            Expr::Integer(k) if k <= 0 => return Err(format!("sample window must be greater than 1, got {k}").into()),
            Expr::Integer(_) => {}
            _ => return Err("expected integer argument in sample()".into()),
        }
        self.symbol("sample", &args[0])
    }

    fn distinct(&mut self, args: &[Expr], nested: bool) -> QResult<()> {
        match args {
            [] => return Err("distinct function requires at least one argument".into()),
            [Expr::VarRef { .. }] => {}
            [_] => return Err("expected field argument in distinct()".into()),
            _ => return Err("distinct function can only have one argument".into()),
        }
        if !nested {
            self.c.has_distinct = true;
        }
        self.c.only_selectors = false;
        Ok(())
    }

    fn top_bottom(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        if let Some(tb) = &self.c.top_bottom {
            return Err(format!("selector function {tb}() cannot be combined with other functions").into());
        }
        if args.len() < 2 {
            return arity_error(name, "at least 2", args.len());
        }
        let last = &args[args.len() - 1];
        let Expr::Integer(limit) = *last else {
            return Err(format!("expected integer as last argument in {name}(), found {}", go_text(last)).into());
        };
        if limit <= 0 {
            return Err(format!("limit ({limit}) in {name} function must be at least 1").into());
        }
        let stmt_limit = self.c.limit;
        if stmt_limit > 0 && limit as u64 > stmt_limit {
            return Err(format!(
                "limit ({limit}) in {name} function can not be larger than the LIMIT ({stmt_limit}) in the select statement"
            )
            .into());
        }
        if !matches!(args[0], Expr::VarRef { .. }) {
            return Err(format!("expected first argument to be a field in {name}(), found {}", go_text(&args[0])).into());
        }
        for tag in &args[1..args.len() - 1] {
            if !matches!(tag, Expr::VarRef { .. }) {
                return Err(format!("only fields or tags are allowed in {name}(), found {}", go_text(tag)).into());
            }
            // Each tag is selected as a field of its own (unless the answer is written INTO).
            if !self.c.has_target {
                self.c.fields += 1;
                self.c.has_aux = true;
            }
        }
        self.c.top_bottom = Some(name.to_string());
        Ok(())
    }

    /// derivative, non_negative_derivative and elapsed: input and an optional unit.
    fn derivative(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        if args.is_empty() || args.len() > 2 {
            return arity_error(name, "at least 1 but no more than 2", args.len());
        }
        duration_arg(args.get(1), |a| format!("second argument to {name} must be a duration, got {}", go_type(a)))?;
        self.c.only_selectors = false;
        self.transform_input(name, &args[0], true)
    }

    fn moving_average(&mut self, args: &[Expr]) -> QResult<()> {
        if args.len() != 2 {
            return arity_error("moving_average", "2", args.len());
        }
        match args[1] {
            Expr::Integer(n) if n <= 1 => return Err(format!("moving_average window must be greater than 1, got {n}").into()),
            Expr::Integer(_) => {}
            ref a => return Err(format!("second argument for moving_average must be an integer, got {}", go_type(a)).into()),
        }
        self.c.only_selectors = false;
        self.transform_input("moving_average", &args[0], true)
    }

    /// The exponential averages, kaufmans_* and chande_momentum_oscillator: period, hold
    /// period, warm-up type.
    fn technical(&mut self, name: &str, kind: TaKind, args: &[Expr]) -> QResult<()> {
        let max = if kind.has_warmup() { 4 } else { 3 };
        if args.len() < 2 || args.len() > max {
            return arity_error(name, &format!("at least 2 but no more than {max}"), args.len());
        }
        match args[1] {
            Expr::Integer(p) if p < 1 => return Err(format!("{name} period must be greater than or equal to 1").into()),
            Expr::Integer(_) => {}
            _ => return Err(format!("{name} period must be an integer").into()),
        }
        match args.get(2) {
            Some(Expr::Integer(h)) if kind == TaKind::Trix && *h < 1 && *h != -1 => {
                return Err(format!("{name} hold period must be greater than or equal to 1").into())
            }
            Some(Expr::Integer(h)) if *h < 0 && *h != -1 => {
                return Err(format!("{name} hold period must be greater than or equal to 0").into())
            }
            Some(Expr::Integer(_)) | None => {}
            Some(_) => return Err(format!("{name} hold period must be an integer").into()),
        }
        let types = if kind == TaKind::Cmo { &["none", "exponential", "simple"][..] } else { &["exponential", "simple"][..] };
        match args.get(3) {
            Some(Expr::String(w)) if !types.contains(&w.as_str()) => {
                let list: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
                return Err(format!("{name} warmup type must be one of: {}", list.join(" ")).into());
            }
            Some(Expr::String(_)) | None => {}
            Some(_) => return Err(format!("{name} warmup type must be a string").into()),
        }
        self.c.only_selectors = false;
        self.transform_input(name, &args[0], false)
    }

    fn integral(&mut self, args: &[Expr]) -> QResult<()> {
        if args.is_empty() || args.len() > 2 {
            return arity_error("integral", "at least 1 but no more than 2", args.len());
        }
        duration_arg(args.get(1), |_| "second argument must be a duration".to_string())?;
        self.c.only_selectors = false;
        self.symbol("integral", &args[0])
    }

    fn holt_winters(&mut self, name: &str, args: &[Expr]) -> QResult<()> {
        if args.len() != 3 {
            return arity_error(name, "3", args.len());
        }
        match args[1] {
            Expr::Integer(n) if n <= 0 => return Err(format!("second arg to {name} must be greater than 0, got {n}").into()),
            Expr::Integer(_) => {}
            _ => return Err(format!("expected integer argument as second arg in {name}").into()),
        }
        match args[2] {
            Expr::Integer(s) if s < 0 => return Err(format!("third arg to {name} cannot be negative, got {s}").into()),
            Expr::Integer(_) => {}
            _ => return Err(format!("expected integer argument as third arg in {name}").into()),
        }
        self.c.only_selectors = false;
        let Expr::Call { .. } = &args[0] else {
            return Err(format!("must use aggregate function with {name}").into());
        };
        if self.c.interval == 0 {
            return Err(format!("{name} aggregate requires a GROUP BY interval").into());
        }
        self.nested(&args[0])
    }
}
