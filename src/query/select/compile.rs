//! Expressions compiled against one measurement: row expressions (fields, tags, math), the
//! condition, and aggregate fields (math over calls, maybe a transformation on top).

use super::*;

#[derive(Debug, Clone)]
pub(super) enum CExpr {
    Lit(Value),
    /// Scanned field `i`, cast to a type when `::type` asked for one.
    Col(usize, Option<FieldType>),
    Tag(String),
    Time,
    Bin(BinOp, Box<CExpr>, Box<CExpr>),
    Re(BinOp, Box<CExpr>, Regex),
    Math(String, Vec<CExpr>),
    /// The value of aggregate call `k` in the current bucket.
    Agg(usize),
    /// Aux value `k` of the selected point.
    Aux(usize),
}

pub(super) struct RowCtx<'a> {
    pub(super) time: i64,
    pub(super) tags: &'a [(String, String)],
    pub(super) vals: &'a [Value],
    pub(super) aggs: &'a [Value],
    pub(super) aux: &'a [Value],
    /// In a condition a missing tag is '' (1.x); in output it is null.
    pub(super) cond: bool,
}

impl CExpr {
    pub(super) fn eval(&self, r: &RowCtx) -> Value {
        match self {
            CExpr::Lit(v) => v.clone(),
            CExpr::Col(i, cast) => {
                let v = r.vals.get(*i).cloned().unwrap_or(Value::Null);
                match cast {
                    Some(t) => eval::cast(v, *t),
                    None => v,
                }
            }
            CExpr::Tag(k) => match r.tags.iter().find(|(tk, _)| tk == k) {
                Some((_, v)) => Value::String(v.clone()),
                None if r.cond => Value::String(String::new()),
                None => Value::Null,
            },
            CExpr::Time => Value::Time(r.time),
            CExpr::Bin(op, a, b) => match op {
                BinOp::And => Value::Boolean(eval::truthy(&a.eval(r)) && eval::truthy(&b.eval(r))),
                BinOp::Or => Value::Boolean(eval::truthy(&a.eval(r)) || eval::truthy(&b.eval(r))),
                op if op.is_comparison() => eval::compare(*op, &a.eval(r), &b.eval(r)),
                op => eval::arith(*op, &a.eval(r), &b.eval(r)),
            },
            CExpr::Re(op, a, re) => eval::regex_match(*op, &a.eval(r), re),
            CExpr::Math(name, args) => {
                let vals: Vec<Value> = args.iter().map(|a| a.eval(r)).collect();
                functions::math::call(name, &vals)
            }
            CExpr::Agg(k) => r.aggs.get(*k).cloned().unwrap_or(Value::Null),
            CExpr::Aux(k) => r.aux.get(*k).cloned().unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Resolved {
    Field(FieldType),
    Tag,
    Missing,
}

pub(super) fn resolve(m: &MeasInfo, name: &str, hint: Option<VarHint>, in_cond: bool) -> Resolved {
    let field = m.fields.get(name).copied();
    let is_tag = m.tags.contains(name) || !m.tags_complete;
    match hint {
        Some(VarHint::Tag) => Resolved::Tag,
        Some(VarHint::Field) | Some(VarHint::Type(_)) => field.map(Resolved::Field).unwrap_or(Resolved::Missing),
        None => match field {
            Some(t) => Resolved::Field(t),
            None if is_tag || in_cond => Resolved::Tag,
            None => Resolved::Missing,
        },
    }
}

pub(super) fn col_index(scan: &mut Vec<String>, name: &str) -> usize {
    if let Some(i) = scan.iter().position(|f| f == name) {
        return i;
    }
    scan.push(name.to_string());
    scan.len() - 1
}

/// Compiles a row expression (no aggregate calls) against one measurement.
pub(super) fn compile_row(e: &Expr, m: &MeasInfo, scan: &mut Vec<String>, in_cond: bool) -> QResult<CExpr> {
    Ok(match e {
        Expr::Paren(x) => compile_row(x, m, scan, in_cond)?,
        Expr::Var { name, hint } => {
            if name == "time" && hint.is_none() {
                return Ok(CExpr::Time);
            }
            match resolve(m, name, *hint, in_cond) {
                Resolved::Field(t) => {
                    let cast = match hint {
                        Some(VarHint::Type(want)) if *want != t => Some(*want),
                        _ => None,
                    };
                    CExpr::Col(col_index(scan, name), cast)
                }
                Resolved::Tag => CExpr::Tag(name.clone()),
                Resolved::Missing => CExpr::Lit(Value::Null),
            }
        }
        Expr::Float(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Integer(*i)),
        Expr::Unsigned(u) => CExpr::Lit(Value::Unsigned(*u)),
        Expr::Str(s) => CExpr::Lit(Value::String(s.clone())),
        Expr::Bool(b) => CExpr::Lit(Value::Boolean(*b)),
        Expr::Duration(d) => CExpr::Lit(Value::Integer(*d)),
        Expr::Null => CExpr::Lit(Value::Null),
        Expr::Regex(_) => CExpr::Lit(Value::Null),
        Expr::Wildcard { .. } => CExpr::Lit(Value::Null),
        Expr::Binary { op, lhs, rhs } => {
            if matches!(op, BinOp::EqRegex | BinOp::NeqRegex) {
                if let Expr::Regex(re) = rhs.unparen() {
                    return Ok(CExpr::Re(*op, Box::new(compile_row(lhs, m, scan, in_cond)?), re.clone()));
                }
                if let Expr::Regex(re) = lhs.unparen() {
                    return Ok(CExpr::Re(*op, Box::new(compile_row(rhs, m, scan, in_cond)?), re.clone()));
                }
            }
            CExpr::Bin(
                *op,
                Box::new(compile_row(lhs, m, scan, in_cond)?),
                Box::new(compile_row(rhs, m, scan, in_cond)?),
            )
        }
        Expr::Call { name, args } => {
            if function_kinds::is_math(name) {
                let mut c = Vec::new();
                for a in args {
                    c.push(compile_row(a, m, scan, in_cond)?);
                }
                CExpr::Math(name.clone(), c)
            } else if name == "now" || in_cond {
                // 1.x evaluates a call it does not know, in a condition, to null (the checks
                // before reading reject it only outside parentheses; see `validate`).
                CExpr::Lit(Value::Null)
            } else {
                return Err(format!("undefined function {name}()").into());
            }
        }
    })
}

pub(super) struct Compiled {
    pub(super) pred: TagPredicate,
    pub(super) cond: Option<CExpr>,
    /// What of `cond` a store may apply as it scans (`prefilter`): keeps every row `cond` keeps.
    pub(super) fields: crate::backend::FieldCondition,
}

impl Compiled {
    /// Whether a scanned row belongs to a SELECT's input (1.x's rule for raw and aggregate
    /// statements alike): one of its first `selected` values (the selected fields) is not null,
    /// and the row condition holds.
    pub(super) fn keeps(&self, selected: usize, tags: &Tags, t: i64, vals: &[Value]) -> bool {
        if vals.iter().take(selected).all(eval::is_null) {
            return false;
        }
        match &self.cond {
            Some(ce) => {
                let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
                eval::truthy(&ce.eval(&rc))
            }
            None => true,
        }
    }
}

pub(super) fn compile_condition(m: &MeasInfo, rest: Option<&Expr>, scan: &mut Vec<String>) -> QResult<Compiled> {
    let is_tag = |k: &str| !m.fields.contains_key(k);
    let (pred, row_cond) = cond::split_tags(rest, &is_tag);
    let cond = match row_cond {
        Some(e) => Some(compile_row(&e, m, scan, true)?),
        None => None,
    };
    let fields = cond.as_ref().map(|c| prefilter::derive(c, scan, m)).unwrap_or_default();
    Ok(Compiled { pred, cond, fields })
}

pub(super) fn collect_vars(e: &Expr, out: &mut Vec<(String, Option<VarHint>)>) {
    match e {
        Expr::Var { name, hint } => out.push((name.clone(), *hint)),
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_vars(a, out)),
        Expr::Binary { lhs, rhs, .. } => {
            collect_vars(lhs, out);
            collect_vars(rhs, out);
        }
        Expr::Paren(x) => collect_vars(x, out),
        _ => {}
    }
}

/// One aggregate call of the query, compiled for a measurement.
pub(super) struct AggCall {
    pub(super) agg: Aggregate,
    /// The argument (a field).
    pub(super) arg: CExpr,
    /// `count(distinct(x))`: distinct first.
    pub(super) inner_distinct: bool,
    /// `top(x, tag1, .., N)`: tags whose values are first reduced to one point each.
    pub(super) tag_args: Vec<String>,
    pub(super) out_type: FieldType,
}

/// A field expression of an aggregate query: math over calls, maybe a transform on top.
pub(super) struct AggField {
    pub(super) expr: CExpr,
    pub(super) transform: Option<(String, Vec<Expr>)>,
    /// A transformation of raw points (not of aggregates): computed over the rows.
    pub(super) raw: bool,
    /// Arithmetic/math around the transformation; its output value is `Aux(0)`.
    pub(super) outer: Option<CExpr>,
}

pub(super) fn compile_agg_expr(
    e: &Expr,
    m: &MeasInfo,
    scan: &mut Vec<String>,
    calls: &mut Vec<AggCall>,
    aux: &mut Vec<CExpr>,
) -> QResult<CExpr> {
    Ok(match e {
        Expr::Paren(x) => compile_agg_expr(x, m, scan, calls, aux)?,
        Expr::Call { name, args } if function_kinds::reduces_windows(name) => {
            let (arg_expr, inner_distinct) = match args.first().map(|a| a.unparen()) {
                Some(Expr::Call { name: n2, args: a2 }) if n2 == "distinct" && name == "count" => {
                    (a2.first().cloned().unwrap_or(Expr::Null), true)
                }
                Some(Expr::Call { name: n2, .. }) => {
                    return Err(format!("expected field argument in {name}(), found {n2}()").into());
                }
                Some(a) => (a.clone(), false),
                None => (Expr::Null, false),
            };
            let mut tag_args = Vec::new();
            let mut n = None;
            let mut p = None;
            let mut unit = None;
            match name.as_str() {
                "top" | "bottom" => {
                    n = args.last().and_then(int_arg).map(|v| v.max(0) as usize);
                    for a in &args[1..args.len().saturating_sub(1)] {
                        if let Expr::Var { name, .. } = a.unparen() {
                            tag_args.push(name.clone());
                        }
                    }
                }
                "sample" => n = args.get(1).and_then(int_arg).map(|v| v.max(0) as usize),
                "percentile" => p = args.get(1).and_then(num_arg),
                "integral" => unit = args.get(1).and_then(duration_arg),
                _ => {}
            }
            let agg = Aggregate::from_name(name, n, p, unit).ok_or_else(|| format!("undefined function {name}()"))?;
            // Aggregates read fields only: a tag argument gives no points (1.x).
            let arg = match compile_row(&arg_expr, m, scan, false)? {
                CExpr::Tag(_) => CExpr::Lit(Value::Null),
                c => c,
            };
            let in_type = match &arg {
                CExpr::Col(i, cast) => cast.or_else(|| m.fields.get(&scan[*i]).copied()).unwrap_or(FieldType::Float),
                _ => FieldType::Float,
            };
            let agg_in = if inner_distinct { Aggregate::Count } else { agg.clone() };
            let out_type = agg_in.output_type(in_type);
            calls.push(AggCall { agg, arg, inner_distinct, tag_args, out_type });
            CExpr::Agg(calls.len() - 1)
        }
        Expr::Call { name, args } if function_kinds::is_math(name) => {
            let mut c = Vec::new();
            for a in args {
                c.push(compile_agg_expr(a, m, scan, calls, aux)?);
            }
            CExpr::Math(name.clone(), c)
        }
        Expr::Binary { op, lhs, rhs } => CExpr::Bin(
            *op,
            Box::new(compile_agg_expr(lhs, m, scan, calls, aux)?),
            Box::new(compile_agg_expr(rhs, m, scan, calls, aux)?),
        ),
        Expr::Var { .. } => {
            let c = compile_row(e, m, scan, false)?;
            aux.push(c);
            CExpr::Aux(aux.len() - 1)
        }
        other => compile_row(other, m, scan, false)?,
    })
}

/// Finds the one transformation call inside an arithmetic/math expression; returns the
/// expression with the call replaced by a placeholder, the call's name and arguments.
pub(super) fn take_transform(e: &Expr) -> Option<(Expr, String, Vec<Expr>)> {
    let mut found: Option<(String, Vec<Expr>)> = None;
    fn walk(e: &Expr, found: &mut Option<(String, Vec<Expr>)>) -> Expr {
        match e {
            Expr::Call { name, args } if function_kinds::transforms_series(name) && found.is_none() => {
                *found = Some((name.clone(), args.clone()));
                Expr::Var { name: TRANSFORM_SLOT.into(), hint: None }
            }
            Expr::Call { name, args } if function_kinds::is_math(name) => {
                Expr::Call { name: name.clone(), args: args.iter().map(|a| walk(a, found)).collect() }
            }
            Expr::Binary { op, lhs, rhs } => Expr::bin(*op, walk(lhs, found), walk(rhs, found)),
            Expr::Paren(x) => Expr::Paren(Box::new(walk(x, found))),
            other => other.clone(),
        }
    }
    let outer = walk(e, &mut found);
    found.map(|(n, a)| (outer, n, a))
}

pub(super) const TRANSFORM_SLOT: &str = "\u{0}transform";

/// Compiles the expression around a transformation: literals, arithmetic and math only.
pub(super) fn compile_outer(e: &Expr) -> QResult<CExpr> {
    Ok(match e {
        Expr::Var { name, .. } if name == TRANSFORM_SLOT => CExpr::Aux(0),
        Expr::Paren(x) => compile_outer(x)?,
        Expr::Float(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Integer(*i)),
        Expr::Unsigned(u) => CExpr::Lit(Value::Unsigned(*u)),
        Expr::Binary { op, lhs, rhs } => CExpr::Bin(*op, Box::new(compile_outer(lhs)?), Box::new(compile_outer(rhs)?)),
        Expr::Call { name, args } if function_kinds::is_math(name) => {
            // 1.6.7 does not apply a math function to a transformation's points
            // (`abs(difference(x))` answers the differences as they are).
            if args.iter().any(|a| matches!(a.unparen(), Expr::Var { name, .. } if name == TRANSFORM_SLOT)) {
                return Ok(CExpr::Aux(0));
            }
            CExpr::Math(name.clone(), args.iter().map(compile_outer).collect::<Result<_, _>>()?)
        }
        _ => return Err("mixing aggregate and non-aggregate queries is not supported".into()),
    })
}

pub(super) fn apply_outer(outer: Option<&CExpr>, samples: &mut [Sample]) {
    let Some(o) = outer else { return };
    for s in samples.iter_mut() {
        let v = std::mem::replace(&mut s.value, Value::Null);
        let aux = [v];
        let rc = RowCtx { time: s.time, tags: &[], vals: &[], aggs: &[], aux: &aux, cond: false };
        s.value = o.eval(&rc);
    }
}
