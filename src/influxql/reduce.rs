//! Constant folding as 1.x's `influxql.Reduce` does it before a SELECT is checked: the query
//! compiler reduces every field (with its math valuer: `sin(1)` becomes a number), every GROUP BY
//! expression (no valuer) and the non-time parts of the condition (`now()` becomes a time).
//! What a field reduces to decides which error 1.x reports: `SELECT 1 + 2` is one literal
//! ("field must contain at least one variable"), `SELECT 1 + 'a'` stays a binary expression
//! of two literals ("cannot perform a binary expression on two literals"), and `top(x, 1 + 1)`
//! has an integer limit.
//!
//! Folded as 1.x folds them: arithmetic, bitwise and comparison operators over boolean,
//! integer, unsigned, float, duration and time literals (division by zero gives 0), `+` and
//! `=`/`!=` over strings, AND/OR with a boolean side, parentheses around anything but a binary
//! expression, and the math functions of 1.x's valuer over literal arguments. Not folded:
//! strings that 1.x would read as times next to durations or times (they stay binary
//! expressions here; 1.x only folds them in time comparisons, which are checked elsewhere).

use super::ast::{BinaryOp, Expr};

/// What a call may be evaluated by while reducing (1.x's `Valuer`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Valuer {
    /// No valuer (GROUP BY expressions): calls stay calls.
    None,
    /// The query compiler's math valuer (fields): math functions over literals are evaluated.
    Math,
    /// `now()` becomes this time (conditions).
    Now(i64),
}

/// `influxql.Reduce`: folds constants, then removes parentheses around the whole expression.
pub fn reduce(e: &Expr, valuer: Valuer) -> Expr {
    match fold(e, valuer) {
        Expr::Paren(inner) => *inner,
        other => other,
    }
}

/// Literals as 1.x's `Literal` interface counts them (a regex is one).
pub fn is_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Boolean(_)
            | Expr::BindParam(_)
            | Expr::Duration(_)
            | Expr::Integer(_)
            | Expr::Unsigned(_)
            | Expr::Nil
            | Expr::Number(_)
            | Expr::Regex(_)
            | Expr::String(_)
            | Expr::Time(_)
    )
}

fn fold(e: &Expr, valuer: Valuer) -> Expr {
    match e {
        Expr::Binary { op, lhs, rhs } => binary(*op, fold(lhs, valuer), fold(rhs, valuer)),
        Expr::Call { name, args } => {
            let args: Vec<Expr> = args.iter().map(|a| fold(a, valuer)).collect();
            if args.iter().all(is_literal) {
                if let Some(v) = call(valuer, name, &args) {
                    return v;
                }
            }
            Expr::Call { name: name.clone(), args }
        }
        Expr::Paren(inner) => match fold(inner, valuer) {
            b @ Expr::Binary { .. } => Expr::Paren(Box::new(b)),
            other => other,
        },
        other => other.clone(),
    }
}

/// A call over literals evaluated by the valuer; `None` when it stays a call.
fn call(valuer: Valuer, name: &str, args: &[Expr]) -> Option<Expr> {
    match valuer {
        Valuer::None => None,
        Valuer::Now(now) => (name == "now" && args.is_empty()).then_some(Expr::Time(now)),
        Valuer::Math => math(name, args),
    }
}

/// 1.x's `MathValuer.Call`: a float, the argument itself (integers through abs/floor/ceil/round),
/// or nil when an argument is not a number; `None` for a name or arity it does not evaluate.
fn math(name: &str, args: &[Expr]) -> Option<Expr> {
    let float = |e: &Expr| match e {
        Expr::Number(f) => Some(*f),
        Expr::Integer(i) => Some(*i as f64),
        Expr::Unsigned(u) => Some(*u as f64),
        _ => None,
    };
    let num = |v: Option<f64>| v.map_or(Expr::Nil, Expr::Number);
    match args {
        [a] => {
            let f: fn(f64) -> f64 = match name {
                "abs" | "floor" | "ceil" | "round" => {
                    return Some(match a {
                        Expr::Number(x) => Expr::Number(match name {
                            "abs" => x.abs(),
                            "floor" => x.floor(),
                            "ceil" => x.ceil(),
                            _ => x.round(),
                        }),
                        Expr::Integer(_) => a.clone(),
                        // An unsigned result has no literal in 1.x's `asLiteral`: nil.
                        _ => Expr::Nil,
                    })
                }
                "sin" => f64::sin,
                "cos" => f64::cos,
                "tan" => f64::tan,
                "asin" => f64::asin,
                "acos" => f64::acos,
                "atan" => f64::atan,
                "exp" => f64::exp,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sqrt" => f64::sqrt,
                _ => return None,
            };
            Some(num(float(a).map(f)))
        }
        [a, b] => {
            let f: fn(f64, f64) -> f64 = match name {
                "atan2" => f64::atan2,
                "log" => |x, y| x.ln() / y.ln(),
                "pow" => f64::powf,
                _ => return None,
            };
            Some(num(float(a).zip(float(b)).map(|(x, y)| f(x, y))))
        }
        _ => None,
    }
}

fn is_bool(e: &Expr, v: bool) -> bool {
    matches!(e, Expr::Boolean(b) if *b == v)
}

fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    use BinaryOp::*;
    match op {
        And if is_bool(&lhs, false) || is_bool(&rhs, false) => return Expr::Boolean(false),
        And if is_bool(&lhs, true) => return rhs,
        And if is_bool(&rhs, true) => return lhs,
        Or if is_bool(&lhs, true) || is_bool(&rhs, true) => return Expr::Boolean(true),
        Or if is_bool(&lhs, false) => return rhs,
        Or if is_bool(&rhs, false) => return lhs,
        _ => {}
    }
    literals(op, &lhs, &rhs).unwrap_or_else(|| Expr::binary(op, lhs, rhs))
}

/// The value of `lhs op rhs` when both are literals 1.x folds; `None` keeps the expression.
fn literals(op: BinaryOp, lhs: &Expr, rhs: &Expr) -> Option<Expr> {
    use Expr::*;
    match (lhs, rhs) {
        (Boolean(a), Boolean(b)) => bools(op, *a, *b),
        (Boolean(_) | Duration(_) | Integer(_) | Number(_) | Time(_), Nil) => Some(Boolean(false)),
        (Nil | String(_), Nil) => matches!(op, BinaryOp::Eq | BinaryOp::Neq).then_some(Boolean(false)),
        (Nil, _) => matches!(op, BinaryOp::Eq | BinaryOp::Neq).then_some(Boolean(false)),
        (Duration(a), Duration(b)) => durations(op, *a, *b),
        (Duration(a), Number(b)) => scale(op, *a, *b as i64, *b == 0.0),
        (Duration(a), Integer(b)) => scale(op, *a, *b, *b == 0),
        (Duration(a), Time(t)) => (op == BinaryOp::Add).then(|| Time(t.wrapping_add(*a))),
        (Integer(a), Number(b)) => floats(op, *a as f64, *b),
        (Integer(a), Integer(b)) => integers(op, *a, *b),
        (Integer(a), Unsigned(b)) => match op {
            BinaryOp::Lt | BinaryOp::Lte if *a < 0 => Some(Boolean(true)),
            BinaryOp::Gt | BinaryOp::Gte if *a < 0 => Some(Boolean(false)),
            _ => unsigneds(op, *a as u64, *b),
        },
        (Integer(a), Duration(d)) => match op {
            BinaryOp::Add => Some(Time(a.wrapping_add(*d))),
            BinaryOp::Sub => Some(Time(a.wrapping_sub(*d))),
            _ => None,
        },
        (Integer(a), Time(t)) => (op == BinaryOp::Add).then(|| Time(t.wrapping_add(*a))),
        (Unsigned(a), Number(b)) => floats(op, *a as f64, *b),
        (Unsigned(a), Integer(b)) => match op {
            BinaryOp::Lt | BinaryOp::Lte if *b < 0 => Some(Boolean(false)),
            BinaryOp::Gt | BinaryOp::Gte if *b < 0 => Some(Boolean(true)),
            _ => unsigneds(op, *a, *b as u64),
        },
        (Unsigned(a), Unsigned(b)) => unsigneds(op, *a, *b),
        (Number(a), Number(b)) => floats(op, *a, *b),
        (Number(a), Integer(b)) => floats(op, *a, *b as f64),
        (Number(a), Unsigned(b)) => floats(op, *a, *b as f64),
        (String(a), String(b)) => match op {
            BinaryOp::Eq => Some(Boolean(a == b)),
            BinaryOp::Neq => Some(Boolean(a != b)),
            BinaryOp::Add => Some(String(format!("{a}{b}"))),
            _ => None,
        },
        (Time(t), Duration(d) | Integer(d)) => match op {
            BinaryOp::Add => Some(Time(t.wrapping_add(*d))),
            BinaryOp::Sub => Some(Time(t.wrapping_sub(*d))),
            _ => None,
        },
        (Time(a), Time(b)) => match op {
            BinaryOp::Sub => Some(Duration(a.wrapping_sub(*b))),
            _ => compare(op, a, b),
        },
        _ => None,
    }
}

fn compare<T: PartialOrd>(op: BinaryOp, a: &T, b: &T) -> Option<Expr> {
    use BinaryOp::*;
    let v = match op {
        Eq => a == b,
        Neq => a != b,
        Gt => a > b,
        Gte => a >= b,
        Lt => a < b,
        Lte => a <= b,
        _ => return None,
    };
    Some(Expr::Boolean(v))
}

fn bools(op: BinaryOp, a: bool, b: bool) -> Option<Expr> {
    use BinaryOp::*;
    let v = match op {
        Eq => a == b,
        Neq | BitXor => a != b,
        And | BitAnd => a && b,
        Or | BitOr => a || b,
        _ => return None,
    };
    Some(Expr::Boolean(v))
}

fn durations(op: BinaryOp, a: i64, b: i64) -> Option<Expr> {
    match op {
        BinaryOp::Add => Some(Expr::Duration(a.wrapping_add(b))),
        BinaryOp::Sub => Some(Expr::Duration(a.wrapping_sub(b))),
        _ => compare(op, &a, &b),
    }
}

/// A duration multiplied or divided by a number (`zero`: the divisor as written is 0).
fn scale(op: BinaryOp, d: i64, by: i64, zero: bool) -> Option<Expr> {
    match op {
        BinaryOp::Mul => Some(Expr::Duration(d.wrapping_mul(by))),
        BinaryOp::Div if zero => Some(Expr::Duration(0)),
        BinaryOp::Div => d.checked_div(by).map(Expr::Duration),
        _ => None,
    }
}

fn integers(op: BinaryOp, a: i64, b: i64) -> Option<Expr> {
    use BinaryOp::*;
    let v = match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        Div if b == 0 => return Some(Expr::Number(0.0)),
        Div => return Some(Expr::Number(a as f64 / b as f64)),
        Mod if b == 0 => 0,
        Mod => a.wrapping_rem(b),
        BitAnd => a & b,
        BitOr => a | b,
        BitXor => a ^ b,
        _ => return compare(op, &a, &b),
    };
    Some(Expr::Integer(v))
}

fn unsigneds(op: BinaryOp, a: u64, b: u64) -> Option<Expr> {
    use BinaryOp::*;
    let v = match op {
        Add => a.wrapping_add(b),
        Sub => a.wrapping_sub(b),
        Mul => a.wrapping_mul(b),
        Div | Mod if b == 0 => 0,
        Div => a / b,
        Mod => a % b,
        _ => return compare(op, &a, &b),
    };
    Some(Expr::Unsigned(v))
}

fn floats(op: BinaryOp, a: f64, b: f64) -> Option<Expr> {
    use BinaryOp::*;
    let v = match op {
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div if b == 0.0 => 0.0,
        Div => a / b,
        Mod => a % b,
        _ => return compare(op, &a, &b),
    };
    Some(Expr::Number(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influxql::parse_query;

    fn field(q: &str) -> Expr {
        let Ok(query) = parse_query(&format!("SELECT {q} FROM m")) else { panic!("{q}") };
        let crate::influxql::Statement::Select(s) = &query.statements[0] else { panic!("{q}") };
        reduce(&s.fields[0].expr, Valuer::Math)
    }

    #[test]
    fn folds_as_1x() {
        assert_eq!(field("1 + 2"), Expr::Integer(3));
        assert_eq!(field("7 / 2"), Expr::Number(3.5));
        assert_eq!(field("1 / 0"), Expr::Number(0.0));
        assert_eq!(field("2 * 1s"), Expr::binary(BinaryOp::Mul, Expr::Integer(2), Expr::Duration(1_000_000_000)));
        assert_eq!(field("1s * 2"), Expr::Duration(2_000_000_000));
        assert_eq!(field("'a' + 'b'"), Expr::String("ab".into()));
        assert_eq!(field("(x)"), Expr::var("x"));
        assert_eq!(field("((x + 1))"), Expr::binary(BinaryOp::Add, Expr::var("x"), Expr::Integer(1)));
        assert_eq!(field("sin(0)"), Expr::Number(0.0));
        // 1.x's valuer hands integers through abs() unchanged.
        assert_eq!(field("abs(-2)"), Expr::Integer(-2));
        assert_eq!(field("sin('a')"), Expr::Nil);
        // log takes two arguments: with one it stays a call (1.x then reports its arity).
        assert!(matches!(field("log(2)"), Expr::Call { .. }));
        assert!(matches!(field("1 + 'a'"), Expr::Binary { .. }));
        assert!(matches!(field("mean(1)"), Expr::Call { .. }));
    }
}
