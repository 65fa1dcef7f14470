//! Math functions of InfluxQL (1.x `query/math.go`), applied per row.
//!
//! Types: abs/ceil/floor/round keep integer and unsigned inputs as they are (identity) and
//! work on floats; every other function returns a float. A null or non-numeric argument
//! gives null. Type errors (at plan time) are [`output_type`]'s.
//!
//! Go's math package has its own algorithms; to give 1.x's bits, ln/log/log2/log10, sin/cos/tan
//! asin/acos/atan/atan2 and pow follow them (checked against 1.6.7). exp uses libm, which can
//! differ from Go's (assembly) exp by an ulp for some inputs (so can pow with a fractional
//! exponent); sqrt/floor/ceil/abs are exact everywhere.

use super::FunctionError;
use crate::model::FieldType;
use crate::query::result::Value;

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
    if args.len() != crate::rules::function_kinds::math_arity(name) {
        return Value::Null;
    }
    // 1.x answers null where Go's math gives NaN (sqrt/ln of a negative, asin(2), ...).
    let out = match name {
        "abs" => keep_int(f64::abs),
        "floor" => keep_int(f64::floor),
        "ceil" => keep_int(f64::ceil),
        "round" => keep_int(go_round),
        "sin" => f(go_sin),
        "cos" => f(go_cos),
        "tan" => f(go_tan),
        "asin" => f(go_asin),
        "acos" => f(go_acos),
        "atan" => f(go_atan),
        "exp" => f(f64::exp),
        "ln" => f(go_ln),
        "log2" => f(go_log2),
        "log10" => f(go_log10),
        "sqrt" => f(f64::sqrt),
        "atan2" => f2(go_atan2),
        "log" => f2(|x, b| go_ln(x) / go_ln(b)),
        "pow" => f2(go_pow),
        _ => Value::Null,
    };
    match out {
        Value::Float(x) if x.is_nan() => Value::Null,
        v => v,
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
    go_ln(frac) * std::f64::consts::LOG2_E + exp as f64
}

/// Go's Log10: ln(x) × (1 / ln 10), the constant folded exactly (i.e. log10(e)).
pub fn go_log10(x: f64) -> f64 {
    go_ln(x) * std::f64::consts::LOG10_E
}

fn is_odd_int(x: f64) -> bool {
    if x.abs() >= (1u64 << 53) as f64 {
        return false;
    }
    let (xi, xf) = (x.trunc(), x - x.trunc());
    xf == 0.0 && (xi as i64) & 1 == 1
}

/// Go's Ldexp: frac × 2^exp with a single rounding for subnormal results.
fn go_ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_nan() || frac.is_infinite() {
        return frac;
    }
    let (f, e) = frexp(frac);
    // f = 1.m × 2^-1, so the value is 1.m × 2^(exp + e - 1)
    let mut exp = exp.saturating_add(e as i64 - 1);
    if exp < -1075 {
        return 0f64.copysign(frac);
    }
    if exp > 1023 {
        return f64::INFINITY.copysign(frac);
    }
    let mut m = 1.0;
    if exp < -1022 {
        exp += 53;
        m = 1.0 / (1u64 << 53) as f64;
    }
    let bits = (f.to_bits() & !(0x7ffu64 << 52)) | (((exp + 1023) as u64) << 52);
    m * f64::from_bits(bits)
}

/// Go's Pow: special cases, then x^frac(y) via exp/log and x^int(y) by repeated squaring of
/// the mantissa (so integer powers round like 1.x, not like libm's correctly rounded pow).
pub fn go_pow(x: f64, y: f64) -> f64 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        if y < 0.0 {
            return if is_odd_int(y) { f64::INFINITY.copysign(x) } else { f64::INFINITY };
        }
        return if is_odd_int(y) { x } else { 0.0 };
    }
    if y.is_infinite() {
        if x == -1.0 {
            return 1.0;
        }
        return if (x.abs() < 1.0) == (y > 0.0) { 0.0 } else { f64::INFINITY };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return go_pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let ya = y.abs();
    let (mut yi, mut yf) = (ya.trunc(), ya - ya.trunc());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= 9.223372036854775808e18 {
        if x == -1.0 {
            return 1.0;
        }
        return if (x.abs() < 1.0) == (y > 0.0) { 0.0 } else { f64::INFINITY };
    }
    let mut a1 = 1.0f64;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * go_ln(x)).exp();
    }
    let (mut x1, xe0) = frexp(x);
    let mut xe = xe0 as i64;
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    go_ldexp(a1, ae)
}

/// Natural logarithm computed as Go's math.Log does (the classic fdlibm reduction to
/// [sqrt(2)/2, sqrt(2)) and its degree-14 polynomial), so results match 1.x to the bit.
pub fn go_ln(x: f64) -> f64 {
    const LN2_HI: f64 = 6.93147180369123816490e-01;
    const LN2_LO: f64 = 1.90821492927058770002e-10;
    const C1: f64 = 6.666666666666735130e-01;
    const C2: f64 = 3.999999999940941908e-01;
    const C3: f64 = 2.857142874366239149e-01;
    const C4: f64 = 2.222219843214978396e-01;
    const C5: f64 = 1.818357216161805012e-01;
    const C6: f64 = 1.531383769920937332e-01;
    const C7: f64 = 1.479819860511658591e-01;
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    let (mut f1, mut ki) = frexp(x);
    if f1 < std::f64::consts::SQRT_2 / 2.0 {
        f1 *= 2.0;
        ki -= 1;
    }
    let f = f1 - 1.0;
    let k = ki as f64;
    let s = f / (2.0 + f);
    let s2 = s * s;
    let s4 = s2 * s2;
    let t1 = s2 * (C1 + s4 * (C3 + s4 * (C5 + s4 * C7)));
    let t2 = s4 * (C2 + s4 * (C4 + s4 * C6));
    let r = t1 + t2;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)
}

// Trigonometry as Go's math package computes it (Cephes-style: reduction by Pi/4 in three
// parts, then minimax polynomials), so 1.x's results are reproduced to the bit. Inputs of
// 2^29 and beyond (where Go switches to Payne-Hanek reduction) fall back to libm.
const TRIG_REDUCE_THRESHOLD: f64 = (1u64 << 29) as f64;
const PI4A: f64 = 7.85398125648498535156e-1;
const PI4B: f64 = 3.77489470793079817668e-8;
const PI4C: f64 = 2.69515142907905952645e-15;
const SIN_C: [f64; 6] = [
    1.58962301576546568060e-10,
    -2.50507477628578072866e-8,
    2.75573136213857245213e-6,
    -1.98412698295895385996e-4,
    8.33333333332211858878e-3,
    -1.66666666666666307295e-1,
];
const COS_C: [f64; 6] = [
    -1.13585365213876817300e-11,
    2.08757008419747316778e-9,
    -2.75573141792967388112e-7,
    2.48015872888517045348e-5,
    -1.38888888888730564116e-3,
    4.16666666666665929218e-2,
];
const TAN_P: [f64; 3] = [-1.30936939181383777646e4, 1.15351664838587416140e6, -1.79565251976484877988e7];
const TAN_Q: [f64; 5] = [
    1.0,
    1.36812963470692954678e4,
    -1.32089234440210967447e6,
    2.50083801823357915839e7,
    -5.38695755929454629881e7,
];

/// Octant and reduced argument of |x| < 2^29.
fn octant(x: f64) -> (u64, f64) {
    let mut j = (x * (4.0 / std::f64::consts::PI)) as u64;
    let mut y = j as f64;
    if j & 1 == 1 {
        j += 1;
        y += 1.0;
    }
    j &= 7;
    (j, ((x - y * PI4A) - y * PI4B) - y * PI4C)
}

fn sin_poly(z: f64, zz: f64) -> f64 {
    let c = &SIN_C;
    z + z * zz * (((((c[0] * zz + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5])
}

fn cos_poly(zz: f64) -> f64 {
    let c = &COS_C;
    1.0 - 0.5 * zz + zz * zz * (((((c[0] * zz + c[1]) * zz + c[2]) * zz + c[3]) * zz + c[4]) * zz + c[5])
}

pub fn go_sin(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let (mut x, mut sign) = (x, false);
    if x < 0.0 {
        x = -x;
        sign = true;
    }
    if x >= TRIG_REDUCE_THRESHOLD {
        return if sign { -x.sin() } else { x.sin() };
    }
    let (mut j, z) = octant(x);
    if j > 3 {
        sign = !sign;
        j -= 4;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 { cos_poly(zz) } else { sin_poly(z, zz) };
    if sign {
        -y
    } else {
        y
    }
}

pub fn go_cos(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return f64::NAN;
    }
    let x = x.abs();
    if x >= TRIG_REDUCE_THRESHOLD {
        return x.cos();
    }
    let mut sign = false;
    let (mut j, z) = octant(x);
    if j > 3 {
        j -= 4;
        sign = !sign;
    }
    if j > 1 {
        sign = !sign;
    }
    let zz = z * z;
    let y = if j == 1 || j == 2 { sin_poly(z, zz) } else { cos_poly(zz) };
    if sign {
        -y
    } else {
        y
    }
}

pub fn go_tan(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    if x.is_infinite() {
        return f64::NAN;
    }
    let (mut x, mut sign) = (x, false);
    if x < 0.0 {
        x = -x;
        sign = true;
    }
    if x >= TRIG_REDUCE_THRESHOLD {
        return if sign { -x.tan() } else { x.tan() };
    }
    let (j, z) = octant(x);
    let zz = z * z;
    let (p, q) = (&TAN_P, &TAN_Q);
    let mut y = if zz > 1e-14 {
        z + z * (zz * ((p[0] * zz + p[1]) * zz + p[2]) / ((((zz + q[1]) * zz + q[2]) * zz + q[3]) * zz + q[4]))
    } else {
        z
    };
    if j & 2 == 2 {
        y = -1.0 / y;
    }
    if sign {
        -y
    } else {
        y
    }
}

// Inverse trigonometry as Go computes it (Cephes rational approximation of atan with range
// reduction at 0.66 and tan(3π/8); asin/acos through atan).
fn xatan(x: f64) -> f64 {
    const P: [f64; 5] = [
        -8.750608600031904122785e-01,
        -1.615753718733365076637e+01,
        -7.500855792314704667340e+01,
        -1.228866684490136173410e+02,
        -6.485021904942025371773e+01,
    ];
    const Q: [f64; 5] = [
        2.485846490142306297962e+01,
        1.650270098316988542046e+02,
        4.328810604912902668951e+02,
        4.853903996359136964868e+02,
        1.945506571482613964425e+02,
    ];
    let z = x * x;
    let z = z * ((((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4])
        / (((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4]);
    x * z + x
}

fn satan(x: f64) -> f64 {
    const MOREBITS: f64 = 6.123233995736765886130e-17;
    const TAN3PIO8: f64 = 2.41421356237309504880;
    if x <= 0.66 {
        return xatan(x);
    }
    if x > TAN3PIO8 {
        return std::f64::consts::FRAC_PI_2 - xatan(1.0 / x) + MOREBITS;
    }
    std::f64::consts::FRAC_PI_4 + xatan((x - 1.0) / (x + 1.0)) + 0.5 * MOREBITS
}

pub fn go_atan(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    if x > 0.0 {
        satan(x)
    } else {
        -satan(-x)
    }
}

pub fn go_asin(x: f64) -> f64 {
    if x == 0.0 || x.is_nan() {
        return x;
    }
    let (mut x, mut sign) = (x, false);
    if x < 0.0 {
        x = -x;
        sign = true;
    }
    if x > 1.0 {
        return f64::NAN;
    }
    let mut temp = (1.0 - x * x).sqrt();
    if x > 0.7 {
        temp = std::f64::consts::FRAC_PI_2 - satan(temp / x);
    } else {
        temp = satan(x / temp);
    }
    if sign {
        -temp
    } else {
        temp
    }
}

pub fn go_acos(x: f64) -> f64 {
    std::f64::consts::FRAC_PI_2 - go_asin(x)
}

pub fn go_atan2(y: f64, x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    if y.is_nan() || x.is_nan() {
        return f64::NAN;
    }
    if y == 0.0 {
        if x >= 0.0 && !x.is_sign_negative() {
            return 0f64.copysign(y);
        }
        return PI.copysign(y);
    }
    if x == 0.0 {
        return FRAC_PI_2.copysign(y);
    }
    if x.is_infinite() {
        if x > 0.0 {
            return if y.is_infinite() { FRAC_PI_4.copysign(y) } else { 0f64.copysign(y) };
        }
        return if y.is_infinite() { (3.0 * PI / 4.0).copysign(y) } else { PI.copysign(y) };
    }
    if y.is_infinite() {
        return FRAC_PI_2.copysign(y);
    }
    let q = go_atan(y / x);
    if x < 0.0 {
        if q <= 0.0 {
            return q + PI;
        }
        return q - PI;
    }
    q
}
