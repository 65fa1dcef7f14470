//! Math functions of InfluxQL (1.x `query/math.go`), applied per row.
//!
//! Types: abs/ceil/floor/round keep integer and unsigned inputs as they are (identity) and
//! work on floats; every other function returns a float. A null or non-numeric argument
//! gives null. Type errors (at plan time) are [`output_type`]'s.
//!
//! Floats go through Rust's libm-backed functions; Go's own implementations can differ by an
//! ulp for some inputs of sin/cos/tan/exp/pow. log2 and log10 use Go's formulas.

use super::FunctionError;
use crate::model::FieldType;
use crate::query::result::Value;

/// Whether `name` is one of the math functions.
pub fn is_math_function(name: &str) -> bool {
    matches!(
        name,
        "abs" | "sin" | "cos" | "tan" | "asin" | "acos" | "atan" | "atan2" | "exp" | "log" | "ln"
            | "log2" | "log10" | "sqrt" | "pow" | "floor" | "ceil" | "round"
    )
}

/// The number of arguments each takes (1, or 2 for atan2/log/pow).
pub fn arity(name: &str) -> usize {
    match name {
        "atan2" | "log" | "pow" => 2,
        _ => 1,
    }
}

/// Name of an argument's type as 1.x prints it in errors; `None` = unknown (e.g. a field that
/// does not exist).
pub fn type_name(t: Option<FieldType>) -> &'static str {
    match t {
        None => "unknown",
        Some(t) => t.as_str(),
    }
}

/// The result type for argument types `args` (`None` = unknown, which 1.x accepts), or 1.x's
/// error: `invalid argument type for the first argument in sin(): string`.
/// Returns `Ok(None)` when the result type is unknown (abs/ceil/floor/round of unknown).
pub fn output_type(name: &str, args: &[Option<FieldType>]) -> Result<Option<FieldType>, FunctionError> {
    let a0 = args.first().copied().flatten();
    let numeric = |t: Option<FieldType>| matches!(t, None | Some(FieldType::Float | FieldType::Integer | FieldType::Unsigned));
    let err = |which: &str, t: Option<FieldType>| {
        FunctionError(format!("invalid argument type for the {} argument in {}(): {}", which, name, type_name(t)))
    };
    match name {
        "sin" | "cos" | "tan" | "atan" | "exp" | "log" | "ln" | "log2" | "log10" | "sqrt" => {
            if numeric(a0) {
                Ok(Some(FieldType::Float))
            } else {
                Err(err("first", a0))
            }
        }
        "asin" | "acos" => {
            if matches!(a0, None | Some(FieldType::Float)) {
                Ok(Some(FieldType::Float))
            } else {
                Err(err("first", a0))
            }
        }
        "atan2" | "pow" => {
            let a1 = args.get(1).copied().flatten();
            if !numeric(a0) {
                return Err(err("first", a0));
            }
            if !numeric(a1) {
                return Err(err("second", a1));
            }
            Ok(Some(FieldType::Float))
        }
        "abs" | "floor" | "ceil" | "round" => {
            if numeric(a0) {
                Ok(a0)
            } else {
                Err(err("first", a0))
            }
        }
        _ => Ok(None),
    }
}

fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

/// Evaluate a math function on one row's argument values. Unknown names and wrong argument
/// counts give `Value::Null` (the planner rejects those earlier).
pub fn call(name: &str, args: &[Value]) -> Value {
    let f = |g: fn(f64) -> f64| match args.first().and_then(as_float) {
        Some(x) => Value::Float(g(x)),
        None => Value::Null,
    };
    let f2 = |g: fn(f64, f64) -> f64| match (args.first().and_then(as_float), args.get(1).and_then(as_float)) {
        (Some(x), Some(y)) => Value::Float(g(x, y)),
        _ => Value::Null,
    };
    let keep_int = |g: fn(f64) -> f64| match args.first() {
        Some(Value::Float(x)) => Value::Float(g(*x)),
        Some(v @ (Value::Integer(_) | Value::Unsigned(_))) => v.clone(),
        _ => Value::Null,
    };
    if args.len() != arity(name) {
        return Value::Null;
    }
    match name {
        "abs" => keep_int(f64::abs),
        "floor" => keep_int(f64::floor),
        "ceil" => keep_int(f64::ceil),
        "round" => keep_int(go_round),
        "sin" => f(f64::sin),
        "cos" => f(f64::cos),
        "tan" => f(f64::tan),
        "asin" => f(f64::asin),
        "acos" => f(f64::acos),
        "atan" => f(f64::atan),
        "exp" => f(f64::exp),
        "ln" => f(f64::ln),
        "log2" => f(go_log2),
        "log10" => f(go_log10),
        "sqrt" => f(f64::sqrt),
        "atan2" => f2(f64::atan2),
        "log" => f2(|x, b| x.ln() / b.ln()),
        "pow" => f2(go_pow),
        _ => Value::Null,
    }
}

/// Round half away from zero (1.x's `round`).
pub fn go_round(x: f64) -> f64 {
    let t = x.trunc();
    if (x - t).abs() >= 0.5 {
        t + 1f64.copysign(x)
    } else {
        t
    }
}

/// Go's Frexp: x = frac × 2^exp with |frac| in [0.5, 1).
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || x.is_nan() || x.is_infinite() {
        return (x, 0);
    }
    let (mut x, mut e) = (x, 0i32);
    if x.abs() < f64::MIN_POSITIVE {
        x *= (1u64 << 52) as f64;
        e = -52;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let bits = (bits & !(0x7ffu64 << 52)) | (1022u64 << 52);
    (f64::from_bits(bits), e)
}

/// Go's Log2: exact for powers of two, else ln(frac)/ln2 + exp.
pub fn go_log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return (exp - 1) as f64;
    }
    frac.ln() * (1.0 / std::f64::consts::LN_2) + exp as f64
}

/// Go's Log10: ln(x) × (1/ln 10).
pub fn go_log10(x: f64) -> f64 {
    x.ln() * (1.0 / std::f64::consts::LN_10)
}

/// Go's Pow special cases, then libm's pow.
pub fn go_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}
