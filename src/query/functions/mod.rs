//! InfluxQL functions as InfluxDB 1.x (1.6.7) computes them: aggregates, selectors,
//! transformations, math functions, `fill()` and time buckets (`GROUP BY time(..)`, `tz()`).
//!
//! Everything here is pure and independent of the AST: functions operate on the points of one
//! series (one GROUP BY tag set) and, for aggregates, one time bucket. Points are given in time
//! order. The query engine decides which points go to which call.
//!
//! How the engine uses this module (mirrors 1.x's iterator pipeline):
//! 1. At plan time: [`Aggregate::check_input_type`] / [`Transform::check_input_type`] /
//!    [`math::output_type`] for 1.x's type errors.
//! 2. Per group (GROUP BY tag set) and per window: [`aggregate::reduce_layers`] — it takes the
//!    window's points split by shard group ([`aggregate::shard_group_start`]) and series, and
//!    reproduces 1.x's per-series-then-combined arithmetic, which changes float sums/means
//!    (verified on 1.6.7). [`aggregate::reduce`] is the one-stream reducer (one series, one
//!    shard). Pass the window start; for queries without `GROUP BY time` pass the query's
//!    lower time bound, or 0 when there is none. `top(f, tag.., N)`/`bottom`:
//!    [`aggregate::reduce_top_bottom_tagged`].
//!    Then the output time rule [`aggregate::output_time`] (selectors keep the point's time only
//!    when the query has a single selector and no `GROUP BY time`).
//!    `integral()` is a stream over the whole series: use [`aggregate::integral`].
//! 3. [`fill::fill`] over the series' bucketed rows (not for top/bottom/sample/distinct/integral,
//!    which 1.x never fills).
//! 4. Transformations over the (possibly aggregated) series: [`transform::apply`]; null rows
//!    (empty buckets with `fill(null)`) are skipped, as 1.x does. Over aggregates 1.x computes
//!    the inner aggregate from one interval *before* the query start (N-1 intervals for
//!    moving_average(N)), so e.g. `derivative(mean(v)) ... fill(0)` has a point at the first
//!    bucket; the engine should widen the inner range and drop outputs before the start.
//! 5. Math per row: [`math::call`].

#![allow(clippy::excessive_precision, clippy::too_many_arguments)]

pub mod aggregate;
pub mod fill;
pub mod goheap;
pub mod gosort;
pub mod holt_winters;
pub mod math;
pub mod ta;
pub mod transform;
pub mod window;

use crate::model::FieldType;
use crate::query::result::Value;
use std::fmt;

pub use aggregate::{
    integral, output_time, reduce, reduce_layers, reduce_top_bottom_tagged, shard_group_start,
    Aggregate,
};
pub use fill::{fill, Fill};
pub use transform::Transform;
pub use window::{bucket_start, Window};

/// One input (or output) point of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    /// `Value::Null` marks a missing value (e.g. an empty bucket filled with null); aggregates and
    /// transformations skip such points as 1.x skips nil points.
    pub value: Value,
    /// Extra selected fields/tags carried along by selectors (`SELECT max(v), host ...`).
    pub aux: Vec<Value>,
}

impl Sample {
    pub fn new(time: i64, value: Value) -> Sample {
        Sample { time, value, aux: Vec::new() }
    }
}

/// An error as 1.x words it (the text goes into the statement's `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError(pub String);

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FunctionError {}

/// The Go type name 1.x prints in "unsupported X iterator type: %T" for an input of type `ty`
/// read straight from a field: `*query.floatInterruptIterator` etc.
pub fn raw_iterator_name(ty: FieldType) -> String {
    format!("*query.{}InterruptIterator", ty.as_str())
}

/// `unsupported {what} iterator type: {iterator}`, 1.x's error for a function given a type it
/// has no implementation for (e.g. `mean` of a string field). `what` is 1.x's wording
/// ("mean", "moving average", "cumulative sum", ...); see [`Aggregate::iterator_word`].
pub fn unsupported_type_error(what: &str, ty: FieldType) -> FunctionError {
    FunctionError(format!("unsupported {} iterator type: {}", what, raw_iterator_name(ty)))
}

/// The field type of a value, if it is one a field can have (`Time`/`Null` give `None`).
pub fn value_type(v: &Value) -> Option<FieldType> {
    match v {
        Value::Float(_) => Some(FieldType::Float),
        Value::Integer(_) => Some(FieldType::Integer),
        Value::Unsigned(_) => Some(FieldType::Unsigned),
        Value::String(_) => Some(FieldType::String),
        Value::Boolean(_) => Some(FieldType::Boolean),
        Value::Null | Value::Time(_) => None,
    }
}

/// The type of a slice of points: the type of its first non-null value. When floats and
/// integers are mixed, 1.x's iterator would be a float one: integers are then read as floats.
pub(crate) fn series_type(points: &[Sample]) -> Option<FieldType> {
    let mut ty = None;
    for p in points {
        match (ty, value_type(&p.value)) {
            (_, None) => {}
            (None, Some(t)) => ty = Some(t),
            (Some(FieldType::Integer), Some(FieldType::Float))
            | (Some(FieldType::Unsigned), Some(FieldType::Float)) => ty = Some(FieldType::Float),
            _ => {}
        }
    }
    ty
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
