//! Row-level semantics of InfluxQL values: arithmetic in field expressions and comparisons in
//! `WHERE` conditions, as 1.x evaluates them.

use std::cmp::Ordering;

use regex::Regex;

use super::ir::BinOp;
use super::result::Value;
use crate::model::{FieldType, FieldValue};

pub fn from_field(v: &FieldValue) -> Value {
    match v {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Integer(i) => Value::Integer(*i),
        FieldValue::Unsigned(u) => Value::Unsigned(*u),
        FieldValue::String(s) => Value::String(s.clone()),
        FieldValue::Boolean(b) => Value::Boolean(*b),
    }
}

pub fn is_null(v: &Value) -> bool {
    matches!(v, Value::Null)
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

/// Arithmetic and bitwise operators in a field expression. `Null` in, `Null` out; types that do
/// not combine give `Null` (the planner rejects them first where 1.x does).
pub fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => Null,
        (Integer(x), Integer(y)) => int_op(op, *x, *y),
        (Unsigned(x), Unsigned(y)) => uint_op(op, *x, *y),
        (Unsigned(x), Integer(y)) if *y >= 0 => uint_op(op, *x, *y as u64),
        (Integer(x), Unsigned(y)) if *x >= 0 => uint_op(op, *x as u64, *y),
        (Boolean(x), Boolean(y)) => match op {
            BinOp::BitAnd => Boolean(*x & *y),
            BinOp::BitOr => Boolean(*x | *y),
            BinOp::BitXor => Boolean(*x ^ *y),
            _ if op.is_comparison() => compare(op, a, b),
            _ => Null,
        },
        _ => {
            if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) {
                return compare(op, a, b);
            }
            match (as_f64(a), as_f64(b)) {
                (Some(x), Some(y)) => float_op(op, x, y),
                _ => Null,
            }
        }
    }
}

fn int_op(op: BinOp, x: i64, y: i64) -> Value {
    match op {
        BinOp::Add => Value::Integer(x.wrapping_add(y)),
        BinOp::Sub => Value::Integer(x.wrapping_sub(y)),
        BinOp::Mul => Value::Integer(x.wrapping_mul(y)),
        BinOp::Div => Value::Float(if y == 0 { 0.0 } else { x as f64 / y as f64 }),
        BinOp::Mod => Value::Integer(if y == 0 { 0 } else { x.wrapping_rem(y) }),
        BinOp::BitAnd => Value::Integer(x & y),
        BinOp::BitOr => Value::Integer(x | y),
        BinOp::BitXor => Value::Integer(x ^ y),
        _ => compare(op, &Value::Integer(x), &Value::Integer(y)),
    }
}

fn uint_op(op: BinOp, x: u64, y: u64) -> Value {
    match op {
        BinOp::Add => Value::Unsigned(x.wrapping_add(y)),
        BinOp::Sub => Value::Unsigned(x.wrapping_sub(y)),
        BinOp::Mul => Value::Unsigned(x.wrapping_mul(y)),
        BinOp::Div => Value::Float(if y == 0 { 0.0 } else { x as f64 / y as f64 }),
        BinOp::Mod => Value::Unsigned(if y == 0 { 0 } else { x % y }),
        BinOp::BitAnd => Value::Unsigned(x & y),
        BinOp::BitOr => Value::Unsigned(x | y),
        BinOp::BitXor => Value::Unsigned(x ^ y),
        _ => compare(op, &Value::Unsigned(x), &Value::Unsigned(y)),
    }
}

fn float_op(op: BinOp, x: f64, y: f64) -> Value {
    match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div => Value::Float(if y == 0.0 { 0.0 } else { x / y }),
        BinOp::Mod => Value::Float(if y == 0.0 { 0.0 } else { x % y }),
        _ => Value::Null,
    }
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Integer(x), Integer(y)) => Some(x.cmp(y)),
        (Unsigned(x), Unsigned(y)) => Some(x.cmp(y)),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        (Time(x), Integer(y)) | (Integer(x), Time(y)) => Some(x.cmp(y)),
        _ => as_f64(a)?.partial_cmp(&as_f64(b)?),
    }
}

/// A comparison in a condition; `Boolean` or `Null` (unknown, treated as false).
pub fn compare(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => return Null,
        _ => {}
    }
    let r = match (a, b) {
        (String(x), String(y)) => match op {
            BinOp::Eq => x == y,
            BinOp::Neq => x != y,
            _ => return Null,
        },
        (Boolean(x), Boolean(y)) => match op {
            BinOp::Eq => x == y,
            BinOp::Neq => x != y,
            BinOp::And => *x && *y,
            BinOp::Or => *x || *y,
            _ => return Null,
        },
        _ => {
            let Some(ord) = num_cmp(a, b) else { return Null };
            match op {
                BinOp::Eq => ord == Ordering::Equal,
                BinOp::Neq => ord != Ordering::Equal,
                BinOp::Lt => ord == Ordering::Less,
                BinOp::Lte => ord != Ordering::Greater,
                BinOp::Gt => ord == Ordering::Greater,
                BinOp::Gte => ord != Ordering::Less,
                _ => return Null,
            }
        }
    };
    Boolean(r)
}

pub fn regex_match(op: BinOp, a: &Value, re: &Regex) -> Value {
    match a {
        Value::String(s) => {
            let m = re.is_match(s);
            Value::Boolean(if op == BinOp::EqRegex { m } else { !m })
        }
        _ => Value::Null,
    }
}

pub fn truthy(v: &Value) -> bool {
    matches!(v, Value::Boolean(true))
}

/// `expr::type` casts on a field value: numbers convert between float and integer (truncating),
/// anything else must already have the type, else `Null`.
pub fn cast(v: Value, t: FieldType) -> Value {
    match (t, v) {
        (_, Value::Null) => Value::Null,
        (FieldType::Float, Value::Float(f)) => Value::Float(f),
        (FieldType::Float, Value::Integer(i)) => Value::Float(i as f64),
        (FieldType::Float, Value::Unsigned(u)) => Value::Float(u as f64),
        (FieldType::Integer, Value::Integer(i)) => Value::Integer(i),
        (FieldType::Integer, Value::Float(f)) => Value::Integer(f as i64),
        (FieldType::Integer, Value::Unsigned(u)) => Value::Integer(u as i64),
        (FieldType::Unsigned, Value::Unsigned(u)) => Value::Unsigned(u),
        (FieldType::Unsigned, Value::Integer(i)) => Value::Unsigned(i as u64),
        (FieldType::Unsigned, Value::Float(f)) => Value::Unsigned(f as u64),
        (FieldType::String, Value::String(s)) => Value::String(s),
        (FieldType::Boolean, Value::Boolean(b)) => Value::Boolean(b),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_rules() {
        // SELECT i/0, i%0, i/2 FROM m (1.6.7): 0, 0, 0.5
        assert_eq!(arith(BinOp::Div, &Value::Integer(1), &Value::Integer(0)), Value::Float(0.0));
        assert_eq!(arith(BinOp::Mod, &Value::Integer(1), &Value::Integer(0)), Value::Integer(0));
        assert_eq!(arith(BinOp::Div, &Value::Integer(1), &Value::Integer(2)), Value::Float(0.5));
        assert_eq!(arith(BinOp::Mul, &Value::Integer(2), &Value::Integer(2)), Value::Integer(4));
        assert_eq!(arith(BinOp::Add, &Value::Integer(1), &Value::Float(1.5)), Value::Float(2.5));
        assert_eq!(arith(BinOp::Add, &Value::Integer(1), &Value::Null), Value::Null);
    }

    #[test]
    fn comparisons() {
        assert_eq!(compare(BinOp::Gt, &Value::Integer(1), &Value::Float(0.5)), Value::Boolean(true));
        assert_eq!(compare(BinOp::Gt, &Value::String("x".into()), &Value::String("a".into())), Value::Null);
        assert_eq!(compare(BinOp::Neq, &Value::Null, &Value::Integer(1)), Value::Null);
        assert_eq!(compare(BinOp::Eq, &Value::String("1".into()), &Value::Integer(1)), Value::Null);
        assert_eq!(compare(BinOp::Eq, &Value::Boolean(true), &Value::Boolean(true)), Value::Boolean(true));
    }
}
