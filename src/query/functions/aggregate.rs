//! Aggregates and selectors over the points of one series in one window, as 1.x's reducers
//! compute them (`query/call_iterator.go`, `query/functions.go`).
//!
//! Notes for exactness:
//! - 1.x reduces in layers: first per series (and per shard), then the partial results are
//!   reduced again (count partials are summed, sum partials are summed, min/max/first/last
//!   partials are selected again). For floats the grouping changes the rounding of `sum`, so a
//!   caller after bit-identical sums over several series should `reduce` each series first and
//!   then `reduce(Sum)` the partials, in series-key order.
//! - Points with `Value::Null` are skipped, as 1.x skips nil points.

use super::{as_f64, series_type, unsupported_type_error, FunctionError, Sample};
use super::window::Window;
use crate::model::FieldType;
use crate::query::result::Value;
use std::cmp::Ordering;

/// An aggregate or selector call.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    Count,
    Distinct,
    /// `integral(field[, unit])`; unit in ns, default 1s. Prefer [`integral`] (it needs the
    /// whole series when there is a `GROUP BY time`).
    Integral { unit: i64 },
    Mean,
    Median,
    Mode,
    Spread,
    Stddev,
    Sum,
    Bottom(usize),
    First,
    Last,
    Max,
    Min,
    /// Percentile in [0, 100] (1.x accepts integer or float literals).
    Percentile(f64),
    /// `sample(field, N)`: a random subset (reservoir sampling, like 1.x).
    Sample(usize),
    Top(usize),
}

impl Aggregate {
    /// Parse a function name (with its numeric argument where it has one). `None` for a name
    /// that is not an aggregate/selector.
    pub fn from_name(name: &str, n: Option<usize>, p: Option<f64>, unit: Option<i64>) -> Option<Aggregate> {
        Some(match name {
            "count" => Aggregate::Count,
            "distinct" => Aggregate::Distinct,
            "integral" => Aggregate::Integral { unit: unit.unwrap_or(1_000_000_000) },
            "mean" => Aggregate::Mean,
            "median" => Aggregate::Median,
            "mode" => Aggregate::Mode,
            "spread" => Aggregate::Spread,
            "stddev" => Aggregate::Stddev,
            "sum" => Aggregate::Sum,
            "bottom" => Aggregate::Bottom(n?),
            "first" => Aggregate::First,
            "last" => Aggregate::Last,
            "max" => Aggregate::Max,
            "min" => Aggregate::Min,
            "percentile" => Aggregate::Percentile(p?),
            "sample" => Aggregate::Sample(n?),
            "top" => Aggregate::Top(n?),
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Distinct => "distinct",
            Aggregate::Integral { .. } => "integral",
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Mode => "mode",
            Aggregate::Spread => "spread",
            Aggregate::Stddev => "stddev",
            Aggregate::Sum => "sum",
            Aggregate::Bottom(_) => "bottom",
            Aggregate::First => "first",
            Aggregate::Last => "last",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
            Aggregate::Percentile(_) => "percentile",
            Aggregate::Sample(_) => "sample",
            Aggregate::Top(_) => "top",
        }
    }

    /// Selectors return (a) point(s) of the input, with its time: first, last, max, min,
    /// percentile, sample, top, bottom.
    pub fn is_selector(&self) -> bool {
        crate::rules::function_kinds::is_selector(self.name())
    }

    /// Whether 1.x keeps the selected points' own times even with `GROUP BY time` (top, bottom,
    /// sample: their iterators bypass the interval rewrite) — and never fills their buckets.
    /// Distinct and integral are not filled either, see [`Aggregate::is_filled`].
    pub fn keeps_point_time(&self) -> bool {
        matches!(self, Aggregate::Sample(_) | Aggregate::Top(_) | Aggregate::Bottom(_))
    }

    /// Whether 1.x applies `fill()` to this call's buckets (not for top, bottom, sample,
    /// distinct, integral).
    pub fn is_filled(&self) -> bool {
        !matches!(
            self,
            Aggregate::Sample(_)
                | Aggregate::Top(_)
                | Aggregate::Bottom(_)
                | Aggregate::Distinct
                | Aggregate::Integral { .. }
        )
    }

    /// The word 1.x uses in `unsupported {word} iterator type: ...` for this call.
    pub fn iterator_word(&self) -> &'static str {
        match self {
            // 1.x's mode() reports "median" (a copy-paste in its source); sample reports
            // "elapsed" — neither can happen as both accept every type.
            Aggregate::Mode => "median",
            Aggregate::Sample(_) => "elapsed",
            other => other.name(),
        }
    }

    /// Whether 1.x has an implementation of this call for an input of type `ty`.
    pub fn accepts(&self, ty: FieldType) -> bool {
        use FieldType::*;
        let numeric = matches!(ty, Float | Integer | Unsigned);
        match self {
            Aggregate::Count
            | Aggregate::Distinct
            | Aggregate::Mode
            | Aggregate::First
            | Aggregate::Last
            | Aggregate::Sample(_) => true,
            Aggregate::Max | Aggregate::Min => numeric || ty == Boolean,
            _ => numeric,
        }
    }

    /// 1.x's error for an input type the call does not accept, e.g.
    /// `unsupported mean iterator type: *query.stringInterruptIterator` (verified on 1.6.7).
    pub fn check_input_type(&self, ty: FieldType) -> Result<(), FunctionError> {
        if self.accepts(ty) {
            Ok(())
        } else {
            Err(unsupported_type_error(self.iterator_word(), ty))
        }
    }

    /// The type of the values this call outputs for an input of type `ty`.
    pub fn output_type(&self, ty: FieldType) -> FieldType {
        result_field_type(self.name(), ty)
    }
}

/// The field type a call named `name` answers for an input of type `ty`
/// ([`crate::rules::function_kinds::result_type`]).
pub(crate) fn result_field_type(name: &str, ty: FieldType) -> FieldType {
    use crate::rules::function_kinds::{result_type, ResultType};
    match result_type(name) {
        ResultType::Float => FieldType::Float,
        ResultType::Integer => FieldType::Integer,
        ResultType::FirstArgument => ty,
    }
}

/// The time 1.x shows for a reduced point. `point_time` is what [`reduce`] returned;
/// `window_start` the bucket start (or without `GROUP BY time`, the query's lower time bound,
/// 0 when unbounded). `single_selector`: the query selects exactly one selector call (then
/// 1.x keeps the selected point's time when there is no `GROUP BY time`).
pub fn output_time(agg: &Aggregate, point_time: i64, window_start: i64, single_selector: bool, group_by_time: bool) -> i64 {
    // integral() sets its own times: bucket starts, or 0 without GROUP BY time (even with a
    // WHERE lower bound: `SELECT integral(v) FROM cpu WHERE time >= 5s` answers time 0).
    if agg.keeps_point_time() || matches!(agg, Aggregate::Integral { .. }) {
        return point_time;
    }
    if single_selector && !group_by_time && agg.is_selector() {
        return point_time;
    }
    if window_start == crate::rules::time_bounds::MIN_TIME {
        0
    } else {
        window_start
    }
}

/// Reduce the points of one window (time order) to the call's output points, as 1.x's reducer
/// emits them: aggregates give one point with `time == window_start`; selectors give the
/// selected point(s) with their own time and aux values (top/bottom/sample/distinct outputs are
/// ordered by time). An empty window (or one with only nulls) gives no point.
pub fn reduce(agg: &Aggregate, points: &[Sample], window_start: i64) -> Result<Vec<Sample>, FunctionError> {
    let Some(ty) = series_type(points) else { return Ok(Vec::new()) };
    agg.check_input_type(ty)?;
    let pts: Vec<&Sample> = points.iter().filter(|p| !matches!(p.value, Value::Null)).collect();
    let ws = window_start;
    let one = |v: Value| Ok(vec![Sample { time: ws, value: v, aux: Vec::new() }]);
    match agg {
        Aggregate::Count => one(Value::Integer(pts.len() as i64)),
        Aggregate::Sum => one(sum(&pts, ty)),
        Aggregate::Mean => one(Value::Float(mean(&pts, ty))),
        Aggregate::Median => one(median(&pts, ty)),
        Aggregate::Mode => one(mode(&pts, ty)),
        Aggregate::Spread => one(spread(&pts, ty)),
        Aggregate::Stddev => one(Value::Float(stddev(&pts, ty))),
        Aggregate::Distinct => Ok(distinct(&pts, ty, ws)),
        Aggregate::Integral { unit } => {
            let owned: Vec<Sample> = pts.iter().map(|p| (*p).clone()).collect();
            let mut out = integral(&owned, *unit, None)?;
            for p in &mut out {
                p.time = 0;
            }
            Ok(out)
        }
        Aggregate::First => Ok(select_one(&pts, ty, |c, p| {
            c.time < p.time || (c.time == p.time && go_cmp(&c.value, &p.value, ty) == Some(Ordering::Greater))
        })),
        Aggregate::Last => Ok(select_one(&pts, ty, |c, p| {
            c.time > p.time || (c.time == p.time && go_cmp(&c.value, &p.value, ty) == Some(Ordering::Greater))
        })),
        // Go's `>`/`<`/`==`: a NaN never replaces, and is never replaced once selected.
        Aggregate::Max => Ok(select_one(&pts, ty, |c, p| match go_cmp(&c.value, &p.value, ty) {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => c.time < p.time,
            _ => false,
        })),
        Aggregate::Min => Ok(select_one(&pts, ty, |c, p| match go_cmp(&c.value, &p.value, ty) {
            Some(Ordering::Less) => true,
            Some(Ordering::Equal) => c.time < p.time,
            _ => false,
        })),
        Aggregate::Percentile(pct) => Ok(percentile(&pts, ty, *pct)),
        Aggregate::Top(n) => Ok(top_bottom(&pts, ty, *n, true)),
        Aggregate::Bottom(n) => Ok(top_bottom(&pts, ty, *n, false)),
        Aggregate::Sample(n) => Ok(sample(&pts, ty, *n)),
    }
}

/// Normalize a value to the slice's type (integers read as floats in a float slice).
fn norm(v: &Value, ty: FieldType) -> Value {
    match (ty, v) {
        (FieldType::Float, Value::Integer(i)) => Value::Float(*i as f64),
        (FieldType::Float, Value::Unsigned(u)) => Value::Float(*u as f64),
        _ => v.clone(),
    }
}

/// Go's comparison operators on the slice's type: `None` when a NaN is involved (then `<`,
/// `>` and `==` are all false).
fn go_cmp(a: &Value, b: &Value, ty: FieldType) -> Option<Ordering> {
    match (norm(a, ty), norm(b, ty)) {
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(&y),
        (x, y) => Some(cmp_val(&x, &y, ty)),
    }
}

/// A total order for sorting: Go's order, with NaN after every number (and equal to NaN).
fn cmp_val(a: &Value, b: &Value, ty: FieldType) -> Ordering {
    match (norm(a, ty), norm(b, ty)) {
        (Value::Float(x), Value::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
        (Value::Integer(x), Value::Integer(y)) => x.cmp(&y),
        (Value::Unsigned(x), Value::Unsigned(y)) => x.cmp(&y),
        (Value::String(x), Value::String(y)) => x.cmp(&y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(&y),
        _ => Ordering::Equal,
    }
}

/// Sort like Go's `sort.Sort` (1.6.7 was built with Go 1.19: pdqsort, see `gosort`), so the
/// order left among elements `less` cannot tell apart is 1.x's.
fn go_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    super::gosort::sort(v, less);
}

/// Feed points to a "replace when `better(curr, prev)`" selector like 1.x's FuncReducer.
fn select_one(pts: &[&Sample], ty: FieldType, better: impl Fn(&Sample, &Sample) -> bool) -> Vec<Sample> {
    let mut best: Option<&Sample> = None;
    for p in pts {
        if value_fits(&p.value, ty) {
            match best {
                None => best = Some(p),
                Some(b) if better(p, b) => best = Some(p),
                _ => {}
            }
        }
    }
    best.map(|b| vec![Sample { time: b.time, value: norm(&b.value, ty), aux: b.aux.clone() }]).unwrap_or_default()
}

/// Whether a value can be read as the slice's type (other values are ignored).
fn value_fits(v: &Value, ty: FieldType) -> bool {
    matches!(
        (ty, v),
        (FieldType::Float, Value::Float(_) | Value::Integer(_) | Value::Unsigned(_))
            | (FieldType::Integer, Value::Integer(_))
            | (FieldType::Unsigned, Value::Unsigned(_))
            | (FieldType::String, Value::String(_))
            | (FieldType::Boolean, Value::Boolean(_))
    )
}

fn sum(pts: &[&Sample], ty: FieldType) -> Value {
    match ty {
        FieldType::Integer => {
            let mut s: i64 = 0;
            for p in pts {
                if let Value::Integer(i) = p.value {
                    s = s.wrapping_add(i);
                }
            }
            Value::Integer(s)
        }
        FieldType::Unsigned => {
            let mut s: u64 = 0;
            for p in pts {
                if let Value::Unsigned(u) = p.value {
                    s = s.wrapping_add(u);
                }
            }
            Value::Unsigned(s)
        }
        _ => {
            let mut s = 0.0f64;
            for p in pts {
                if let Some(f) = as_f64(&p.value) {
                    s += f;
                }
            }
            Value::Float(s)
        }
    }
}

/// 1.x: running sum (int64 wrapping for integers) divided by the count.
fn mean(pts: &[&Sample], ty: FieldType) -> f64 {
    let n = pts.iter().filter(|p| value_fits(&p.value, ty)).count() as f64;
    match sum(pts, ty) {
        Value::Integer(s) => s as f64 / n,
        Value::Unsigned(s) => s as f64 / n,
        Value::Float(s) => s / n,
        _ => f64::NAN,
    }
}

/// Values of the slice's type sorted by value as 1.x does (`sort.Sort` on `Less = a < b`,
/// unstable): the order among equal values — the time a percentile() selects, the run a mode()
/// counts first — is Go's.
fn sorted_by_value<'a>(pts: &[&'a Sample], ty: FieldType) -> Vec<&'a Sample> {
    let mut v: Vec<&Sample> = pts.iter().copied().filter(|p| value_fits(&p.value, ty)).collect();
    go_sort(&mut v, |a, b| go_cmp(&a.value, &b.value, ty) == Some(Ordering::Less));
    v
}

fn median(pts: &[&Sample], ty: FieldType) -> Value {
    let v = sorted_by_value(pts, ty);
    let n = v.len();
    if n == 0 {
        return Value::Null;
    }
    if n == 1 {
        return Value::Float(as_f64(&v[0].value).unwrap_or(f64::NAN));
    }
    if n % 2 == 1 {
        return Value::Float(as_f64(&v[n / 2].value).unwrap_or(f64::NAN));
    }
    let (lo, hi) = (&v[n / 2 - 1].value, &v[n / 2].value);
    Value::Float(match (norm(lo, ty), norm(hi, ty)) {
        (Value::Float(l), Value::Float(h)) => l + (h - l) / 2.0,
        (Value::Integer(l), Value::Integer(h)) => l as f64 + (h.wrapping_sub(l)) as f64 / 2.0,
        (Value::Unsigned(l), Value::Unsigned(h)) => l as f64 + (h.wrapping_sub(l)) as f64 / 2.0,
        _ => f64::NAN,
    })
}

fn mode(pts: &[&Sample], ty: FieldType) -> Value {
    let fit: Vec<&Sample> = pts.iter().copied().filter(|p| value_fits(&p.value, ty)).collect();
    if fit.is_empty() {
        return Value::Null;
    }
    if fit.len() == 1 {
        return norm(&fit[0].value, ty);
    }
    if ty == FieldType::Boolean {
        let t = fit.iter().filter(|p| p.value == Value::Boolean(true)).count();
        return Value::Boolean(t >= fit.len() - t);
    }
    let v = sorted_by_value(&fit, ty);
    let mut most_freq = 0usize;
    let mut curr_freq = 0usize;
    let mut curr_mode = &v[0].value;
    let mut most_mode = &v[0].value;
    let mut most_time = v[0].time;
    let mut curr_time = v[0].time;
    for p in &v {
        if !same(&p.value, curr_mode, ty) {
            curr_freq = 1;
            curr_mode = &p.value;
            curr_time = p.time;
            continue;
        }
        curr_freq += 1;
        if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
            continue;
        }
        most_freq = curr_freq;
        most_mode = &p.value;
        most_time = p.time;
    }
    norm(most_mode, ty)
}

/// Go's `==` (NaN != NaN).
fn same(a: &Value, b: &Value, ty: FieldType) -> bool {
    match (norm(a, ty), norm(b, ty)) {
        (Value::Float(x), Value::Float(y)) => x == y,
        (x, y) => x == y,
    }
}

fn spread(pts: &[&Sample], ty: FieldType) -> Value {
    match ty {
        FieldType::Integer => {
            let (mut mn, mut mx) = (i64::MAX, i64::MIN);
            for p in pts {
                if let Value::Integer(i) = p.value {
                    mn = mn.min(i);
                    mx = mx.max(i);
                }
            }
            Value::Integer(mx.wrapping_sub(mn))
        }
        FieldType::Unsigned => {
            let (mut mn, mut mx) = (u64::MAX, 0u64);
            for p in pts {
                if let Value::Unsigned(u) = p.value {
                    mn = mn.min(u);
                    mx = mx.max(u);
                }
            }
            Value::Unsigned(mx.wrapping_sub(mn))
        }
        _ => {
            let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
            for p in pts {
                if let Some(f) = as_f64(&p.value) {
                    mn = go_min(mn, f);
                    mx = go_max(mx, f);
                }
            }
            Value::Float(mx - mn)
        }
    }
}

/// Go's math.Min / math.Max: NaN wins; -0 < +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

/// Sample standard deviation: incremental mean, then the sum of squared deviations over n-1.
/// Fewer than 2 points gives NaN (1.x then prints null). Float NaN inputs are skipped.
fn stddev(pts: &[&Sample], ty: FieldType) -> f64 {
    let vals: Vec<f64> = pts.iter().filter(|p| value_fits(&p.value, ty)).filter_map(|p| as_f64(&p.value)).collect();
    if vals.len() < 2 {
        return f64::NAN;
    }
    let mut mean = 0.0f64;
    let mut count = 0usize;
    for &v in &vals {
        if v.is_nan() {
            continue;
        }
        count += 1;
        mean += (v - mean) / count as f64;
    }
    let mut variance = 0.0f64;
    for &v in &vals {
        if v.is_nan() {
            continue;
        }
        let d = v - mean;
        variance += d * d;
    }
    (variance / (count as f64 - 1.0)).sqrt()
}

fn distinct(pts: &[&Sample], ty: FieldType, ws: i64) -> Vec<Sample> {
    // First point for each distinct value, then ordered by (time, value).
    let mut firsts: Vec<&Sample> = Vec::new();
    for p in pts {
        if !value_fits(&p.value, ty) {
            continue;
        }
        if !firsts.iter().any(|q| same_key(&q.value, &p.value, ty)) {
            firsts.push(p);
        }
    }
    go_sort(
        &mut firsts,
        |a, b| a.time < b.time || (a.time == b.time && go_cmp(&a.value, &b.value, ty) == Some(Ordering::Less)),
    );
    firsts.into_iter().map(|p| Sample { time: ws, value: norm(&p.value, ty), aux: Vec::new() }).collect()
}

/// Map-key equality (Go map keys: NaN never equals NaN).
fn same_key(a: &Value, b: &Value, ty: FieldType) -> bool {
    same(a, b, ty)
}

fn percentile(pts: &[&Sample], ty: FieldType, pct: f64) -> Vec<Sample> {
    let v = sorted_by_value(pts, ty);
    let len = v.len();
    let i = ((len as f64) * pct / 100.0 + 0.5).floor() as i64 - 1;
    if i < 0 || i >= len as i64 {
        return Vec::new();
    }
    let p = v[i as usize];
    vec![Sample { time: p.time, value: norm(&p.value, ty), aux: p.aux.clone() }]
}

/// top: the n greatest values, ties to the earlier time; bottom: the n smallest, ties to the
/// earlier time. Output ordered by time (stable), as 1.x's ordered reduce does.
fn top_bottom(pts: &[&Sample], ty: FieldType, n: usize, top: bool) -> Vec<Sample> {
    // "better" ordering: a before b when a should be kept over b.
    let better = |a: &Sample, b: &Sample| -> Ordering {
        let c = cmp_val(&a.value, &b.value, ty);
        let c = if top { c.reverse() } else { c };
        c.then_with(|| a.time.cmp(&b.time))
    };
    let mut v: Vec<&Sample> = pts.iter().copied().filter(|p| value_fits(&p.value, ty)).collect();
    v.sort_by(|a, b| better(a, b));
    v.truncate(n);
    v.sort_by_key(|a| a.time);
    v.into_iter().map(|p| Sample { time: p.time, value: norm(&p.value, ty), aux: p.aux.clone() }).collect()
}

fn sample(pts: &[&Sample], ty: FieldType, n: usize) -> Vec<Sample> {
    use rand::Rng;
    let fit: Vec<&Sample> = pts.iter().copied().filter(|p| value_fits(&p.value, ty)).collect();
    let mut res: Vec<&Sample> = Vec::with_capacity(n.min(fit.len()));
    let mut rng = rand::thread_rng();
    for (count, p) in fit.iter().enumerate() {
        if count < n {
            res.push(p);
        } else {
            let r = rng.gen_range(0..=count);
            if r < n {
                res[r] = p;
            }
        }
    }
    go_sort(
        &mut res,
        |a, b| a.time < b.time || (a.time == b.time && go_cmp(&a.value, &b.value, ty) == Some(Ordering::Less)),
    );
    res.into_iter().map(|p| Sample { time: p.time, value: norm(&p.value, ty), aux: p.aux.clone() }).collect()
}

/// `integral(field, unit)` over a whole series (time order), trapezoid rule, as 1.x's stream
/// reducer: with `window` (GROUP BY time) the area is split at bucket boundaries by linear
/// interpolation and one point per bucket is emitted with the bucket start as time; without,
/// one point (time 0) for the series. Points sharing a time: the later one replaces the
/// earlier. A bucket whose only point sits at its very start emits nothing (1.x quirk for the
/// last bucket). Never filled.
pub fn integral(points: &[Sample], unit: i64, window: Option<&Window>) -> Result<Vec<Sample>, FunctionError> {
    let Some(ty) = series_type(points) else { return Ok(Vec::new()) };
    Aggregate::Integral { unit }.check_input_type(ty)?;
    let unit = unit as f64;
    let mut out = Vec::new();
    let mut prev: Option<(i64, f64)> = None;
    let (mut wstart, mut wend) = (0i64, 0i64);
    let mut sum = 0.0f64;
    for p in points {
        let Some(v) = as_f64(&p.value) else { continue };
        let t = p.time;
        let Some((pt, pv)) = prev else {
            prev = Some((t, v));
            if let Some(w) = window {
                let (s, e) = w.bounds(t);
                wstart = s;
                wend = e;
            }
            continue;
        };
        if pt == t {
            prev = Some((t, v));
            continue;
        }
        let (mut pt, mut pv) = (pt, pv);
        if let Some(w) = window {
            if t >= wend {
                if pt != wend {
                    let value = linear_float(wend, pt, t, pv, v);
                    let elapsed = wend.wrapping_sub(pt) as f64 / unit;
                    sum += 0.5 * (value + pv) * elapsed;
                    pv = value;
                    pt = wend;
                }
                out.push(Sample::new(wstart, Value::Float(sum)));
                let (s, e) = w.bounds(t);
                wstart = s;
                wend = e;
                sum = 0.0;
            }
        }
        let elapsed = t.wrapping_sub(pt) as f64 / unit;
        sum += 0.5 * (v + pv) * elapsed;
        prev = Some((t, v));
    }
    if let Some((pt, _)) = prev {
        if pt != wstart {
            out.push(Sample::new(wstart, Value::Float(sum)));
        }
    }
    Ok(out)
}

/// 1.x's linear interpolation for floats: slope from the two points, times the distance.
pub(crate) fn linear_float(window_time: i64, prev_time: i64, next_time: i64, prev: f64, next: f64) -> f64 {
    let m = (next - prev) / (next_time.wrapping_sub(prev_time)) as f64;
    let x = window_time.wrapping_sub(prev_time) as f64;
    m * x + prev
}

/// Whether 1.x computes this call per series first and then combines the partial results
/// (count, sum, mean, min, max, first, last); the others see one merged stream of points.
pub fn is_pushed_down(agg: &Aggregate) -> bool {
    crate::rules::function_kinds::combines_partials(agg.name())
}

/// A partial result: the reduced point and how many points it stands for.
pub type Partial = (Sample, u64);

fn partial_of(agg: &Aggregate, pts: &[Sample], ws: i64) -> Result<Option<Partial>, FunctionError> {
    let n = pts.iter().filter(|p| !matches!(p.value, Value::Null)).count() as u64;
    let out = reduce(agg, pts, ws)?;
    Ok(out.into_iter().next().map(|s| (s, n)))
}

/// Combines partial results of window `ws` the way 1.x's call iterator does when fed
/// already-reduced points, in the order given (that order decides float sums' last bits):
/// count partials are summed as integers; mean partials weighted (`sum += mean × count` for a
/// count of 2 or more, else `+= mean`, divided by the points counted so); sum, min, max, first
/// and last reduce the partial points again. The production path (`select::partials`) and
/// [`reduce_layers`] both combine through here.
pub fn combine(agg: &Aggregate, parts: &[Partial], ws: i64) -> Result<Option<Partial>, FunctionError> {
    if parts.is_empty() {
        return Ok(None);
    }
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let s = match agg {
        Aggregate::Count => {
            let mut c: i64 = 0;
            for (p, _) in parts {
                if let Value::Integer(i) = p.value {
                    c = c.wrapping_add(i);
                }
            }
            Sample::new(ws, Value::Integer(c))
        }
        Aggregate::Mean => {
            let (mut sum, mut cnt) = (0.0f64, 0u64);
            for (p, n) in parts {
                let v = as_f64(&p.value).unwrap_or(f64::NAN);
                if *n >= 2 {
                    sum += v * *n as f64;
                    cnt += n;
                } else {
                    sum += v;
                    cnt += 1;
                }
            }
            Sample::new(ws, Value::Float(sum / cnt as f64))
        }
        _ => {
            let samples: Vec<Sample> = parts.iter().map(|p| p.0.clone()).collect();
            match reduce(agg, &samples, ws)?.into_iter().next() {
                Some(s) => s,
                None => return Ok(None),
            }
        }
    };
    Ok(Some((s, total)))
}

/// Reduce one window of a group made of several series, reproducing 1.x's layering so float
/// results match to the bit: `shards` in time order (1.x's shard groups, see
/// [`shard_group_duration`]), each holding the points of each series (in series-key order) that
/// fall in that shard, time-ordered. For count/sum/mean/min/max/first/last 1.x reduces each
/// series per shard, then combines the partials per shard, then across shards (and once more
/// at the top); for the other calls all points are merged by time (ties keep series order) and
/// reduced once.
pub fn reduce_layers(agg: &Aggregate, shards: &[Vec<Vec<Sample>>], window_start: i64) -> Result<Vec<Sample>, FunctionError> {
    if !is_pushed_down(agg) {
        let mut all: Vec<Sample> = shards.iter().flatten().flatten().cloned().collect();
        all.sort_by_key(|p| p.time); // stable: ties keep shard, then series order
        return reduce(agg, &all, window_start);
    }
    let mut shard_parts = Vec::new();
    for shard in shards {
        let mut series_parts = Vec::new();
        for series in shard {
            if let Some(p) = partial_of(agg, series, window_start)? {
                series_parts.push(p);
            }
        }
        // the engine's merge over the shard's series (a reduction even for a single input)
        if let Some(p) = combine(agg, &series_parts, window_start)? {
            shard_parts.push(p);
        }
    }
    // across shards, then the statement-level merge over sources
    let top = match combine(agg, &shard_parts, window_start)? {
        Some(p) => combine(agg, &[p], window_start)?,
        None => None,
    };
    Ok(top.map(|p| vec![p.0]).unwrap_or_default())
}

/// 1.x's shard-group rules live in [`crate::rules::shards`].
pub use crate::rules::shards::{group_start as shard_group_start, of_policy as rp_shard_group_duration};

/// `top(field, tag1[, tag2...], N)` / `bottom(...)`: 1.x first takes, per distinct combination
/// of the tag values (`groups`: tag values + that combination's points, time order), the
/// max (top) or min (bottom) point — ties to the earliest — then the top/bottom N of those.
/// Each output point's `aux` is the group's tag values followed by the point's own aux.
/// Output ordered by time. `agg` must be `Top(n)` or `Bottom(n)`.
pub fn reduce_top_bottom_tagged(
    agg: &Aggregate,
    groups: &[(Vec<Value>, Vec<Sample>)],
    window_start: i64,
) -> Result<Vec<Sample>, FunctionError> {
    let inner = match agg {
        Aggregate::Top(_) => Aggregate::Max,
        Aggregate::Bottom(_) => Aggregate::Min,
        _ => return reduce(agg, &groups.iter().flat_map(|g| g.1.iter().cloned()).collect::<Vec<_>>(), window_start),
    };
    if let Some(ty) = groups.iter().find_map(|g| series_type(&g.1)) {
        agg.check_input_type(ty)?;
    }
    let mut picked = Vec::with_capacity(groups.len());
    for (tags, pts) in groups {
        for mut s in reduce(&inner, pts, window_start)? {
            let mut aux = tags.clone();
            aux.append(&mut s.aux);
            s.aux = aux;
            picked.push(s);
        }
    }
    reduce(agg, &picked, window_start)
}

/// The output order of 1.x's merge iterator over `inputs`, each a nondecreasing sequence of
/// keys (tag set, window start): a Go `container/heap` of the inputs keyed by their next key
/// (equal keys are not reordered by Go's sift, so ties come out in heap order, not input
/// order); the popped input is read while its keys equal the first one, then pushed back.
/// Returns (input, position) pairs.
pub fn go_merge_order<K: Ord + Copy>(inputs: &[Vec<K>]) -> Vec<(usize, usize)> {
    let less = |a: &(usize, &K), b: &(usize, &K)| a.1 < b.1;
    let firsts: Vec<(usize, K)> = inputs.iter().enumerate().filter_map(|(i, v)| v.first().map(|k| (i, *k))).collect();
    let mut heap = super::goheap::GoHeap::new(firsts, &less);
    let mut pos = vec![0usize; inputs.len()];
    let mut out = Vec::with_capacity(inputs.iter().map(Vec::len).sum());
    while let Some((cur, window)) = heap.pop(&less) {
        let run = &inputs[cur];
        while pos[cur] < run.len() && run[pos[cur]] == window {
            out.push((cur, pos[cur]));
            pos[cur] += 1;
        }
        if let Some(next) = run.get(pos[cur]) {
            heap.push(cur, *next, &less);
        }
    }
    out
}

/// The order in which 1.x's input of percentile() and mode() (a sorted merge of the
/// group's series iterators per shard, then of the shards) yields one group's points: `ranks[k]`
/// is the rank (key order) of the series of `samples[k]` (a series' points in time order). Per
/// shard group (time order), a Go heap over the series with points, one point per pop, ordered
/// by time, then — among equal times — by the string aux values in order (1.x's sorted-merge
/// heap); points still tied come out in the heap's order. Returns the indices in that order.
///
/// The aux comparison is exact for aux columns holding strings in every point (tags, string
/// fields); it stops at the first column that does not (Go's comparison gives up there).
pub fn go_sorted_merge_permutation(samples: &[Sample], ranks: &[usize], shard_dur: i64) -> Vec<usize> {
    use std::collections::BTreeMap;
    // Rank of each point's leading string aux values among all distinct ones.
    let width = samples.first().map(|s| s.aux.len()).unwrap_or(0);
    let cols = (0..width)
        .take_while(|&c| samples.iter().all(|s| s.aux.len() == width && matches!(s.aux.get(c), Some(Value::String(_)))))
        .count();
    let prefix = |s: &Sample| -> Vec<String> {
        s.aux.iter().take(cols).map(|v| if let Value::String(x) = v { x.clone() } else { String::new() }).collect()
    };
    let mut distinct: Vec<Vec<String>> = samples.iter().map(prefix).collect();
    distinct.sort();
    distinct.dedup();
    let aux_rank = |s: &Sample| distinct.binary_search(&prefix(s)).unwrap_or(0);
    let mut by_shard: BTreeMap<i64, BTreeMap<usize, Vec<usize>>> = BTreeMap::new();
    for (k, (s, &r)) in samples.iter().zip(ranks).enumerate() {
        by_shard.entry(shard_group_start(s.time, shard_dur)).or_default().entry(r).or_default().push(k);
    }
    let mut out = Vec::with_capacity(samples.len());
    for (_, per_series) in by_shard {
        let lists: Vec<Vec<usize>> = per_series.into_values().collect();
        let keys: Vec<Vec<(i64, usize)>> =
            lists.iter().map(|l| l.iter().map(|&k| (samples[k].time, aux_rank(&samples[k]))).collect()).collect();
        out.extend(go_merge_order(&keys).into_iter().filter_map(|(i, j)| lists.get(i)?.get(j).copied()));
    }
    out
}

/// The output order of 1.x's parallel merge of one tag set's per-series iterators
/// (`NewParallelMergeIterator`): the inputs (series in key order, empty ones included: they
/// count when splitting) cut into `parallelism` consecutive groups (the last takes the rest),
/// each merged, then the groups merged.
pub fn go_parallel_merge_order<K: Ord + Copy>(inputs: &[Vec<K>], parallelism: usize) -> Vec<(usize, usize)> {
    let k = inputs.len();
    if k <= 1 {
        return inputs.first().map(|s| (0..s.len()).map(|j| (0, j)).collect()).unwrap_or_default();
    }
    let p = parallelism.clamp(1, k);
    let n = k / p;
    let mut groups: Vec<Vec<(usize, usize)>> = Vec::with_capacity(p);
    for g in 0..p {
        let lo = g * n;
        let hi = if g + 1 < p { lo + n } else { k };
        groups.push(go_merge_order(&inputs[lo..hi]).into_iter().map(|(i, j)| (lo + i, j)).collect());
    }
    let keys: Vec<Vec<K>> = groups.iter().map(|g| g.iter().map(|&(i, j)| inputs[i][j]).collect()).collect();
    go_merge_order(&keys).into_iter().filter_map(|(g, j)| groups.get(g).and_then(|v| v.get(j)).copied()).collect()
}
