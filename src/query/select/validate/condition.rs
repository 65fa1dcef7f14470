//! The checks of a WHERE clause, as 1.x's compiler makes them before anything else: first
//! `influxql.ConditionExpr` takes the time comparisons out, left to right (each must compare
//! `time` with a time, and with a comparison operator; every other term must be a comparison
//! or a boolean), then `validateCondition` walks what is left for calls (math only, with its
//! own arity table: `log` takes one argument there).

use crate::influxql::ast::{BinaryOp, Expr};
use crate::influxql::reduce::{reduce, Valuer};
use crate::query::error::QResult;
use crate::query::{cond, lower};
use crate::rules::function_kinds;

/// Both checks; `now` is the statement's `now()`.
pub(super) fn check(e: &Expr, now: i64) -> QResult<()> {
    let rest = match without_time(e, now)? {
        Some(Expr::Paren(inner)) => Some(*inner),
        other => other,
    };
    match rest {
        Some(r) => calls(&r),
        None => Ok(()),
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// `conditionExpr`: the condition without its time comparisons, as 1.x reduces it (`None`:
/// nothing left).
fn without_time(e: &Expr, now: i64) -> QResult<Option<Expr>> {
    match e {
        Expr::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs } => {
            let l = without_time(lhs, now)?;
            let r = without_time(rhs, now)?;
            Ok(match (l, r) {
                (Some(l), Some(r)) => Some(Expr::binary(*op, l, r)),
                (x, None) | (None, x) => x,
            })
        }
        Expr::Binary { op, lhs, rhs } if is_time(lhs) || is_time(rhs) => {
            let (op, value) = if is_time(lhs) { (*op, rhs) } else { (flip(*op), lhs) };
            cond::time_value(&lower::expr(value), now)?;
            if !matches!(op, BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte | BinaryOp::Eq) {
                return Err(format!("invalid time comparison operator: {op}").into());
            }
            Ok(None)
        }
        Expr::Binary { .. } => Ok(Some(reduce(e, Valuer::Now(now)))),
        Expr::Paren(inner) => Ok(without_time(inner, now)?.map(|x| match x {
            b @ Expr::Binary { .. } => Expr::Paren(Box::new(b)),
            other => other,
        })),
        Expr::Boolean(_) => Ok(Some(e.clone())),
        other => Err(format!("invalid condition expression: {}", super::go_text(other)).into()),
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        o => o,
    }
}

/// `validateCondition`: calls in binary expressions (not inside parentheses) must be math
/// with 1.x's argument counts.
fn calls(e: &Expr) -> QResult<()> {
    match e {
        Expr::Binary { lhs, rhs, .. } => {
            calls(lhs)?;
            calls(rhs)
        }
        Expr::Call { name, args } => {
            if !function_kinds::is_math(name) {
                return Err(format!("invalid function call in condition: {}", super::go_text(e)).into());
            }
            let want = function_kinds::math_arity_in_condition(name);
            if args.len() != want {
                return Err(format!("invalid number of arguments for {name}, expected {want}, got {}", args.len()).into());
            }
            args.iter().try_for_each(calls)
        }
        _ => Ok(()),
    }
}
