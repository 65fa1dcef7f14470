//! `fill()` over one series' bucketed rows, as 1.x's fill iterator (ascending order).

use super::aggregate::linear_float;
use super::window::{zone_offset, Window};
use super::Sample;
use crate::rules::time_bounds::MIN_TIME;
use crate::model::FieldType;
use crate::query::result::Value;

/// The `fill()` option of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Fill {
    /// `fill(null)`, the default (for `count()` 1.x fills 0 instead, see [`fill`]).
    Null,
    /// `fill(none)`: empty buckets are left out.
    None,
    Previous,
    Linear,
    /// `fill(<number>)`: `Value::Integer` or `Value::Float` as written; cast to the series'
    /// output type (float ← integer, integer ← float truncates, as Go's conversion).
    Number(Value),
}

/// Fill the empty buckets of one series.
///
/// `rows`: the series' reduced points, time order, times already bucket starts (one per
/// non-empty bucket; several per bucket are allowed and kept). `start`: the bucket start of the
/// query's lower time bound, or `None` when the WHERE clause has none (then filling starts at
/// the first row's bucket). `end`: the bucket start of the query's upper bound (1.x uses
/// now() when the query has none). `ty`: the output type of the call (see
/// `Aggregate::output_type`) used to cast a fill number. `is_count`: the call is `count()`,
/// for which `fill(null)` means `fill(0)`. `max_buckets` bounds the work: filling stops after
/// that many filled rows, passing the remaining rows through (the caller reports its own
/// error for too many buckets).
///
/// An empty `rows` gives no rows at all (1.x's fill iterator emits nothing for a series
/// without points).
pub fn fill(
    rows: &[Sample],
    window: &Window,
    start: Option<i64>,
    end: i64,
    fill: &Fill,
    ty: FieldType,
    is_count: bool,
    max_buckets: usize,
) -> Vec<Sample> {
    if matches!(fill, Fill::None) || rows.is_empty() {
        return rows.to_vec();
    }
    let mut fill = fill.clone();
    if is_count && fill == Fill::Null {
        fill = Fill::Number(zero_of(ty));
    }
    let aux_len = rows.first().map(|r| r.aux.len()).unwrap_or(0);
    let mut t = match start {
        Some(s) if s != MIN_TIME => s,
        _ => window.start(rows[0].time),
    };
    let mut offset = zone_offset(window.tz, t);
    let mut prev: Option<&Sample> = None;
    let mut out = Vec::with_capacity(rows.len());
    let mut i = 0;
    let mut buckets = 0usize;
    loop {
        let next = rows.get(i);
        match next {
            None if t > end => break,
            Some(p) if p.time <= t => {
                // A real row (1.x advances the expected time after every row).
                out.push(p.clone());
                prev = Some(p);
                i += 1;
                t = window.advance(t, &mut offset);
                continue;
            }
            _ => {}
        }
        // Construct a filled row at `t`.
        let value = match &fill {
            Fill::Null | Fill::None => Value::Null,
            Fill::Number(v) => cast_number(v, ty),
            Fill::Previous => prev.map(|p| p.value.clone()).unwrap_or(Value::Null),
            Fill::Linear => match (prev, next) {
                (Some(p), Some(n)) => linear(window.every, t, p, n, ty),
                _ => Value::Null,
            },
        };
        out.push(Sample { time: t, value, aux: vec![Value::Null; aux_len] });
        t = window.advance(t, &mut offset);
        buckets += 1;
        if buckets >= max_buckets {
            // Pass the remaining rows through unfilled.
            out.extend(rows[i..].iter().cloned());
            break;
        }
    }
    out
}

fn zero_of(ty: FieldType) -> Value {
    match ty {
        FieldType::Float => Value::Float(0.0),
        FieldType::Unsigned => Value::Unsigned(0),
        FieldType::String => Value::String(String::new()),
        FieldType::Boolean => Value::Boolean(false),
        FieldType::Integer => Value::Integer(0),
    }
}

/// 1.x's castToFloat / castToInteger / castToUnsigned of the fill value; other types give
/// their zero value.
pub fn cast_number(v: &Value, ty: FieldType) -> Value {
    match ty {
        FieldType::Float => match v {
            Value::Float(f) => Value::Float(*f),
            Value::Integer(i) => Value::Float(*i as f64),
            Value::Unsigned(u) => Value::Float(*u as f64),
            _ => Value::Float(0.0),
        },
        FieldType::Integer => match v {
            Value::Float(f) => Value::Integer(go_f64_to_i64(*f)),
            Value::Integer(i) => Value::Integer(*i),
            Value::Unsigned(u) => Value::Integer(*u as i64),
            _ => Value::Integer(0),
        },
        FieldType::Unsigned => match v {
            Value::Float(f) => Value::Unsigned(*f as u64),
            Value::Integer(i) => Value::Unsigned(*i as u64),
            Value::Unsigned(u) => Value::Unsigned(*u),
            _ => Value::Unsigned(0),
        },
        FieldType::String => match v {
            Value::String(s) => Value::String(s.clone()),
            _ => Value::String(String::new()),
        },
        FieldType::Boolean => match v {
            Value::Boolean(b) => Value::Boolean(*b),
            _ => Value::Boolean(false),
        },
    }
}

/// Go's `int64(f)` on amd64: truncation; out of range (and NaN) gives i64::MIN.
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// 1.x's linear fill: times are divided by the interval first (integer division).
fn linear(every: i64, t: i64, prev: &Sample, next: &Sample, ty: FieldType) -> Value {
    let every = every.max(1);
    let (w, pt, nt) = (t / every, prev.time / every, next.time / every);
    match (ty, &prev.value, &next.value) {
        (FieldType::Integer, Value::Integer(a), Value::Integer(b)) => {
            let m = b.wrapping_sub(*a) as f64 / nt.wrapping_sub(pt) as f64;
            let x = w.wrapping_sub(pt) as f64;
            Value::Integer(go_f64_to_i64(m * x + *a as f64))
        }
        (FieldType::Unsigned, Value::Unsigned(a), Value::Unsigned(b)) => {
            let m = b.wrapping_sub(*a) as f64 / nt.wrapping_sub(pt) as f64;
            let x = w.wrapping_sub(pt) as f64;
            Value::Unsigned((m * x + *a as f64) as u64)
        }
        (FieldType::Float, a, b) => match (super::as_f64(a), super::as_f64(b)) {
            (Some(a), Some(b)) => Value::Float(linear_float(w, pt, nt, a, b)),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}
