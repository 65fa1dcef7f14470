//! Transformations over one series' points (raw or bucketed), as 1.x's stream reducers:
//! cumulative_sum, derivative, non_negative_derivative, difference, non_negative_difference,
//! elapsed, moving_average. Null points (empty buckets under `fill(null)`) are skipped, as 1.x
//! skips nil points; filled values (`fill(0)`, `fill(previous)`...) take part.

use super::{as_f64, series_type, unsupported_type_error, FunctionError, Sample};
use crate::model::FieldType;
use crate::query::result::Value;

/// A transformation call.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    CumulativeSum,
    /// `derivative(x[, unit])` / `non_negative_derivative(x[, unit])`; `unit` in ns, see
    /// [`default_derivative_unit`].
    Derivative { unit: i64, non_negative: bool },
    Difference { non_negative: bool },
    /// `elapsed(x[, unit])`, default unit 1ns.
    Elapsed { unit: i64 },
    MovingAverage(usize),
}

/// 1.x's unit of derivative()/non_negative_derivative() without an explicit unit: the
/// `GROUP BY time` interval when there is one, else 1s.
pub fn default_derivative_unit(group_by_every: Option<i64>) -> i64 {
    match group_by_every {
        Some(e) if e > 0 => e,
        _ => 1_000_000_000,
    }
}

impl Transform {
    pub fn name(&self) -> &'static str {
        match self {
            Transform::CumulativeSum => "cumulative_sum",
            Transform::Derivative { non_negative: false, .. } => "derivative",
            Transform::Derivative { non_negative: true, .. } => "non_negative_derivative",
            Transform::Difference { non_negative: false } => "difference",
            Transform::Difference { non_negative: true } => "non_negative_difference",
            Transform::Elapsed { .. } => "elapsed",
            Transform::MovingAverage(_) => "moving_average",
        }
    }

    /// The word 1.x uses in `unsupported {word} iterator type: ...`.
    pub fn iterator_word(&self) -> &'static str {
        match self {
            Transform::CumulativeSum => "cumulative sum",
            Transform::Derivative { .. } => "derivative",
            Transform::Difference { .. } => "difference",
            Transform::Elapsed { .. } => "elapsed",
            Transform::MovingAverage(_) => "moving average",
        }
    }

    pub fn accepts(&self, ty: FieldType) -> bool {
        match self {
            Transform::Elapsed { .. } => true,
            _ => matches!(ty, FieldType::Float | FieldType::Integer | FieldType::Unsigned),
        }
    }

    /// e.g. `unsupported derivative iterator type: *query.stringInterruptIterator`.
    pub fn check_input_type(&self, ty: FieldType) -> Result<(), FunctionError> {
        if self.accepts(ty) {
            Ok(())
        } else {
            Err(unsupported_type_error(self.iterator_word(), ty))
        }
    }

    /// Output type: derivatives and moving averages are floats, elapsed integers, the others
    /// keep the input type.
    pub fn output_type(&self, ty: FieldType) -> FieldType {
        super::aggregate::result_field_type(self.name(), ty)
    }

    /// Apply to a series (time order). Output points carry the time of the point they were
    /// computed at; no aux values. The first point gives no output for derivative/difference/
    /// elapsed; moving_average(N) starts at the N-th point.
    pub fn apply(&self, points: &[Sample]) -> Result<Vec<Sample>, FunctionError> {
        self.apply_ordered(points, true)
    }

    /// Like [`Transform::apply`] for a query's order: with `ascending == false`
    /// (`ORDER BY time DESC`) `points` come newest first and 1.x walks them in that order
    /// (differences are "this minus the next newer", elapsed values negative, derivatives
    /// divide by the positive time distance).
    pub fn apply_ordered(&self, points: &[Sample], ascending: bool) -> Result<Vec<Sample>, FunctionError> {
        let Some(ty) = series_type(points) else { return Ok(Vec::new()) };
        self.check_input_type(ty)?;
        let pts: Vec<&Sample> = points.iter().filter(|p| !matches!(p.value, Value::Null)).collect();
        Ok(match self {
            Transform::CumulativeSum => cumulative_sum(&pts, ty),
            Transform::Derivative { unit, non_negative } => derivative(&pts, ty, *unit, *non_negative, ascending),
            Transform::Difference { non_negative } => difference(&pts, ty, *non_negative),
            Transform::Elapsed { unit } => elapsed(&pts, *unit),
            Transform::MovingAverage(n) => moving_average(&pts, ty, *n),
        })
    }
}

/// Shorthand for [`Transform::apply`].
pub fn apply(t: &Transform, points: &[Sample]) -> Result<Vec<Sample>, FunctionError> {
    t.apply(points)
}

fn cumulative_sum(pts: &[&Sample], ty: FieldType) -> Vec<Sample> {
    let mut out = Vec::with_capacity(pts.len());
    let (mut fi, mut ii, mut uu) = (0.0f64, 0i64, 0u64);
    for p in pts {
        let v = match (ty, &p.value) {
            (FieldType::Integer, Value::Integer(i)) => {
                ii = ii.wrapping_add(*i);
                Value::Integer(ii)
            }
            (FieldType::Unsigned, Value::Unsigned(u)) => {
                uu = uu.wrapping_add(*u);
                Value::Unsigned(uu)
            }
            (FieldType::Float, v) => match as_f64(v) {
                Some(f) => {
                    fi += f;
                    Value::Float(fi)
                }
                None => continue,
            },
            _ => continue,
        };
        out.push(Sample::new(p.time, v));
    }
    out
}

/// Consecutive pairs as 1.x's stream reducers see them: a point with the same time as the
/// current one is dropped (the first one at a time wins).
fn pairs<'a>(pts: &[&'a Sample]) -> Vec<(&'a Sample, &'a Sample)> {
    let mut out = Vec::with_capacity(pts.len());
    let mut curr: Option<&Sample> = None;
    for p in pts {
        match curr {
            Some(c) if c.time == p.time => {}
            Some(c) => {
                out.push((c, *p));
                curr = Some(p);
            }
            None => curr = Some(p),
        }
    }
    out
}

fn derivative(pts: &[&Sample], ty: FieldType, unit: i64, non_negative: bool, ascending: bool) -> Vec<Sample> {
    let mut out = Vec::new();
    for (prev, curr) in pairs(pts) {
        let diff = match (ty, &prev.value, &curr.value) {
            (FieldType::Integer, Value::Integer(a), Value::Integer(b)) => b.wrapping_sub(*a) as f64,
            (FieldType::Unsigned, Value::Unsigned(a), Value::Unsigned(b)) => {
                if b > a {
                    (b - a) as f64
                } else {
                    -((a - b) as f64)
                }
            }
            (_, a, b) => match (as_f64(a), as_f64(b)) {
                (Some(a), Some(b)) => b - a,
                _ => continue,
            },
        };
        let mut elapsed = curr.time.wrapping_sub(prev.time);
        if !ascending {
            elapsed = elapsed.wrapping_neg();
        }
        let value = diff / (elapsed as f64 / unit as f64);
        if non_negative && diff < 0.0 {
            continue;
        }
        out.push(Sample::new(curr.time, Value::Float(value)));
    }
    out
}

fn difference(pts: &[&Sample], ty: FieldType, non_negative: bool) -> Vec<Sample> {
    let mut out = Vec::new();
    for (prev, curr) in pairs(pts) {
        let v = match (ty, &prev.value, &curr.value) {
            (FieldType::Integer, Value::Integer(a), Value::Integer(b)) => {
                let d = b.wrapping_sub(*a);
                if non_negative && d < 0 {
                    continue;
                }
                Value::Integer(d)
            }
            (FieldType::Unsigned, Value::Unsigned(a), Value::Unsigned(b)) => {
                if non_negative && b < a {
                    continue;
                }
                Value::Unsigned(b.wrapping_sub(*a))
            }
            (_, a, b) => match (as_f64(a), as_f64(b)) {
                (Some(a), Some(b)) => {
                    let d = b - a;
                    if non_negative && d < 0.0 {
                        continue;
                    }
                    Value::Float(d)
                }
                _ => continue,
            },
        };
        out.push(Sample::new(curr.time, v));
    }
    out
}

fn elapsed(pts: &[&Sample], unit: i64) -> Vec<Sample> {
    let unit = unit.max(1);
    pts.windows(2)
        .map(|w| Sample::new(w[1].time, Value::Integer(w[1].time.wrapping_sub(w[0].time) / unit)))
        .collect()
}

fn moving_average(pts: &[&Sample], ty: FieldType, n: usize) -> Vec<Sample> {
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let cap = n.min(pts.len().max(1));
    match ty {
        FieldType::Float => {
            let mut buf: Vec<f64> = Vec::with_capacity(cap);
            let (mut pos, mut sum) = (0usize, 0.0f64);
            for p in pts {
                let Some(v) = as_f64(&p.value) else { continue };
                if buf.len() < n {
                    buf.push(v);
                } else {
                    sum -= buf[pos];
                    buf[pos] = v;
                }
                sum += v;
                pos += 1;
                if pos >= n {
                    pos = 0;
                }
                if buf.len() == n {
                    out.push(Sample::new(p.time, Value::Float(sum / n as f64)));
                }
            }
        }
        FieldType::Integer => {
            let mut buf: Vec<i64> = Vec::with_capacity(cap);
            let (mut pos, mut sum) = (0usize, 0i64);
            for p in pts {
                let Value::Integer(v) = p.value else { continue };
                if buf.len() < n {
                    buf.push(v);
                } else {
                    sum = sum.wrapping_sub(buf[pos]);
                    buf[pos] = v;
                }
                sum = sum.wrapping_add(v);
                pos += 1;
                if pos >= n {
                    pos = 0;
                }
                if buf.len() == n {
                    out.push(Sample::new(p.time, Value::Float(sum as f64 / n as f64)));
                }
            }
        }
        FieldType::Unsigned => {
            let mut buf: Vec<u64> = Vec::with_capacity(cap);
            let (mut pos, mut sum) = (0usize, 0u64);
            for p in pts {
                let Value::Unsigned(v) = p.value else { continue };
                if buf.len() < n {
                    buf.push(v);
                } else {
                    sum = sum.wrapping_sub(buf[pos]);
                    buf[pos] = v;
                }
                sum = sum.wrapping_add(v);
                pos += 1;
                if pos >= n {
                    pos = 0;
                }
                if buf.len() == n {
                    out.push(Sample::new(p.time, Value::Float(sum as f64 / n as f64)));
                }
            }
        }
        _ => {}
    }
    out
}
