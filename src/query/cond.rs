//! WHERE conditions: the time range is taken out of them, tag-only parts become a
//! `TagPredicate` for the store, the rest is evaluated per row.

use crate::backend::TagPredicate;

use super::ir::{BinOp, Expr};

use crate::rules::time_bounds::{MAX_TIME, MIN_TIME};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive; `None` = no bound written.
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl TimeRange {
    pub fn unbounded() -> Self {
        TimeRange { min: None, max: None }
    }
    fn lower(&mut self, v: i64) {
        self.min = Some(self.min.map_or(v, |m| m.max(v)));
    }
    fn upper(&mut self, v: i64) {
        self.max = Some(self.max.map_or(v, |m| m.min(v)));
    }
    pub fn min_or(&self) -> i64 {
        self.min.unwrap_or(MIN_TIME)
    }
    pub fn max_or(&self) -> i64 {
        self.max.unwrap_or(MAX_TIME)
    }
}

fn is_time_var(e: &Expr) -> bool {
    matches!(e.unparen(), Expr::Var { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// Whether `e` mentions `time` anywhere.
pub fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } => is_time_var(e),
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        Expr::Paren(x) => mentions_time(x),
        Expr::Call { args, .. } => args.iter().any(mentions_time),
        _ => false,
    }
}

/// Parses a time string as 1.x accepts it in a condition.
pub fn parse_time_string(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    }
    None
}

/// 1.x's error for a time compared with something that is not a time.
fn incompatible(go_type: &str) -> String {
    format!("invalid operation: time and *influxql.{go_type} are not compatible")
}

/// The value side of a time comparison, in nanoseconds.
pub fn time_value(e: &Expr, now: i64) -> Result<i64, String> {
    match e.unparen() {
        Expr::Str(s) => parse_time_string(s)
            .ok_or_else(|| "invalid operation: time and *influxql.StringLiteral are not compatible".to_string()),
        Expr::Integer(i) => Ok(*i),
        Expr::Unsigned(u) => Ok(*u as i64),
        Expr::Float(f) => Ok(*f as i64),
        Expr::Duration(d) => Ok(*d),
        Expr::Call { name, args } if name.eq_ignore_ascii_case("now") && args.is_empty() => Ok(now),
        Expr::Binary { op: op @ (BinOp::Add | BinOp::Sub), lhs, rhs } => {
            let not_compatible = || incompatible("BinaryExpr");
            let l = time_value(lhs, now).map_err(|_| not_compatible())?;
            let r = time_value(rhs, now).map_err(|_| not_compatible())?;
            Ok(if *op == BinOp::Add { l.saturating_add(r) } else { l.saturating_sub(r) })
        }
        Expr::Bool(_) => Err(incompatible("BooleanLiteral")),
        Expr::Regex(_) => Err(incompatible("RegexLiteral")),
        Expr::Var { .. } => Err(incompatible("VarRef")),
        Expr::Call { .. } => Err(incompatible("Call")),
        Expr::Binary { .. } => Err(incompatible("BinaryExpr")),
        _ => Err("invalid time comparison".into()),
    }
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Lte => BinOp::Gte,
        BinOp::Gt => BinOp::Lt,
        BinOp::Gte => BinOp::Lte,
        o => o,
    }
}

/// Takes every `time <op> value` comparison out of `cond` into a range (intersected, as 1.x does
/// for conditions joined by AND). Returns what is left (`None` = nothing).
pub fn split_time(cond: &Expr, now: i64) -> Result<(Option<Expr>, TimeRange), String> {
    let mut tr = TimeRange::unbounded();
    let rest = strip_time(cond, now, &mut tr)?;
    Ok((rest, tr))
}

fn strip_time(e: &Expr, now: i64, tr: &mut TimeRange) -> Result<Option<Expr>, String> {
    match e {
        Expr::Paren(inner) => strip_time(inner, now, tr),
        Expr::Binary { op: op @ (BinOp::And | BinOp::Or), lhs, rhs } => {
            let l = strip_time(lhs, now, tr)?;
            let r = strip_time(rhs, now, tr)?;
            Ok(match (l, r) {
                (Some(l), Some(r)) => Some(Expr::bin(*op, l, r)),
                (Some(x), None) | (None, Some(x)) => {
                    if *op == BinOp::Or {
                        // `time > x OR cond`: 1.x keeps the range and drops nothing else; a
                        // point must still satisfy the range.
                        Some(x)
                    } else {
                        Some(x)
                    }
                }
                (None, None) => None,
            })
        }
        Expr::Binary { op, lhs, rhs } if is_time_var(lhs) || is_time_var(rhs) => {
            let (op, val) = if is_time_var(lhs) { (*op, rhs) } else { (flip(*op), lhs) };
            let v = time_value(val, now)?;
            match op {
                BinOp::Gt => tr.lower(v.saturating_add(1)),
                BinOp::Gte => tr.lower(v),
                BinOp::Lt => tr.upper(v.saturating_sub(1)),
                BinOp::Lte => tr.upper(v),
                BinOp::Eq => {
                    tr.lower(v);
                    tr.upper(v);
                }
                _ => return Err(format!("invalid time comparison operator: {}", op.as_str())),
            }
            Ok(None)
        }
        other => Ok(Some(other.clone())),
    }
}

/// Converts a condition that refers only to tags into a `TagPredicate`; `None` when it refers to
/// anything else. `is_tag` says whether an identifier is a tag here.
pub fn tag_predicate(e: &Expr, is_tag: &dyn Fn(&str) -> bool) -> Option<TagPredicate> {
    match e.unparen() {
        Expr::Bool(true) => Some(TagPredicate::True),
        Expr::Binary { op: BinOp::And, lhs, rhs } => Some(TagPredicate::And(
            Box::new(tag_predicate(lhs, is_tag)?),
            Box::new(tag_predicate(rhs, is_tag)?),
        )),
        Expr::Binary { op: BinOp::Or, lhs, rhs } => Some(TagPredicate::Or(
            Box::new(tag_predicate(lhs, is_tag)?),
            Box::new(tag_predicate(rhs, is_tag)?),
        )),
        Expr::Binary { op, lhs, rhs } => {
            let (key, val) = match (lhs.unparen(), rhs.unparen()) {
                (Expr::Var { name, hint }, v) if tag_hint_ok(*hint) && is_tag(name) => (name.clone(), v),
                (v, Expr::Var { name, hint }) if tag_hint_ok(*hint) && is_tag(name) => (name.clone(), v),
                _ => return None,
            };
            match (op, val) {
                (BinOp::Eq, Expr::Str(s)) => Some(TagPredicate::Eq(key, s.clone())),
                (BinOp::Neq, Expr::Str(s)) => Some(TagPredicate::Ne(key, s.clone())),
                (BinOp::EqRegex, Expr::Regex(r)) => Some(TagPredicate::Match(key, r.clone())),
                (BinOp::NeqRegex, Expr::Regex(r)) => Some(TagPredicate::NotMatch(key, r.clone())),
                _ => None,
            }
        }
        _ => None,
    }
}

fn tag_hint_ok(h: Option<super::ir::VarHint>) -> bool {
    matches!(h, None | Some(super::ir::VarHint::Tag))
}

/// Splits a condition at its top-level ANDs.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e.unparen() {
        Expr::Binary { op: BinOp::And, lhs, rhs } => {
            let mut v = conjuncts(lhs);
            v.extend(conjuncts(rhs));
            v
        }
        other => vec![other],
    }
}

/// `cond` split into what the store filters (tags) and what rows are checked against.
pub fn split_tags(cond: Option<&Expr>, is_tag: &dyn Fn(&str) -> bool) -> (TagPredicate, Option<Expr>) {
    let Some(cond) = cond else { return (TagPredicate::True, None) };
    let mut pred: Option<TagPredicate> = None;
    let mut rest: Option<Expr> = None;
    for c in conjuncts(cond) {
        if let Some(p) = tag_predicate(c, is_tag) {
            pred = Some(match pred {
                None => p,
                Some(q) => TagPredicate::And(Box::new(q), Box::new(p)),
            });
        } else {
            rest = Some(match rest {
                None => c.clone(),
                Some(r) => Expr::bin(BinOp::And, r, c.clone()),
            });
        }
    }
    (pred.unwrap_or(TagPredicate::True), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_range() {
        let e = Expr::bin(
            BinOp::And,
            Expr::bin(BinOp::Eq, Expr::var("host"), Expr::Str("a".into())),
            Expr::bin(
                BinOp::And,
                Expr::bin(BinOp::Gte, Expr::var("time"), Expr::Str("2024-01-01T00:00:00Z".into())),
                Expr::bin(BinOp::Lt, Expr::var("time"), Expr::Integer(1704067260000000000)),
            ),
        );
        let (rest, tr) = split_time(&e, 0).unwrap();
        assert_eq!(tr.min, Some(1704067200000000000));
        assert_eq!(tr.max, Some(1704067259999999999));
        let (p, r) = split_tags(rest.as_ref(), &|k| k == "host");
        assert!(r.is_none());
        assert!(p.matches(&[("host".into(), "a".into())]));
        assert!(time_value(&Expr::Str("not a time".into()), 0).is_err());
    }
}
