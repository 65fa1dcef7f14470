//! Aggregate pushdown on VictoriaMetrics: `fn(field)` per series per time bucket computed with
//! MetricsQL rollups, only where the answer is provably the evaluator's over the raw samples a scan
//! returns; otherwise `BackendError::Unsupported`, and the planner evaluates over raw samples.
//!
//! # Windows
//!
//! VictoriaMetrics keeps milliseconds and evaluates a rollup `f(m[d])` at time `T` over the samples
//! with `T - d < t <= T` (its `rollupConfig.doInternal`). InfluxQL's bucket `[s, s + every)`
//! clipped to the query's `[lo, hi]` is therefore `f(m[(b - a + 1)ms])` at `T = b`, with
//! `a = max(s, lo)`, `b = min(s + every - 1ms, hi)`. Whole buckets are evaluated together with
//! `/api/v1/query_range` (`step = every`, `start`/`end` the buckets' last milliseconds); the clipped
//! first/last buckets and buckets near "now" with `/api/v1/query`. Only `every` and `offset` that
//! are whole milliseconds are pushed down (otherwise buckets would hold unequal numbers of
//! milliseconds).
//!
//! A range of fewer than [`DIRECT_BUCKETS`] buckets is asked that way at once. A longer one (the
//! planner asks `last(*)` without a time range per 7-day shard group from 1970 on) is first asked
//! whole, with each series' first and last sample times (`tfirst/tlast_over_time`): series whose
//! samples lie in one bucket are answered from that, and only the buckets between the others'
//! first and last samples are asked bucket by bucket.
//!
//! Things VictoriaMetrics does that would change answers, and what is done about each:
//!
//! * response cache, start/end alignment to the step, and the instant query's shift by
//!   `-search.latencyOffset`: every request has `nocache=1`, which turns all three off;
//! * `query_range` replaces points within `-search.latencyOffset` of its clock by earlier ones
//!   (`adjustLastPoints`, for steps under `-search.maxStepForPointsAdjustment`): buckets ending
//!   less than [`RECENT_MS`] before now are asked with instant queries instead (this assumes
//!   influxgate's and VictoriaMetrics' clocks agree within a few minutes);
//! * time arguments are read as float seconds and truncated to milliseconds
//!   (`int64(secs * 1e3)`): they are sent with an extra half millisecond ([`time_arg`]);
//! * `-search.maxPointsPerTimeseries`: a `query_range` call asks at most [`MAX_STEPS`] steps;
//! * samples sharing a millisecond (VictoriaMetrics keeps both; a scan returns the last one):
//!   detected in the same queries with `rollup_scrape_interval` (its `min` interval is 0 exactly
//!   then) → `Unsupported`; except for `last`, which takes the same (last) sample as the scan;
//! * `aggr_over_time` and `rollup_scrape_interval` name their outputs with a `rollup` label,
//!   overwriting a tag of that name: a metric with a `rollup` label is not pushed down;
//! * samples before `T - window - 5 min` are not fetched by a rollup, so nothing before 1970-01-01
//!   00:15 is asked: a request whose range starts earlier checks with an export that no series has
//!   samples there (else `Unsupported`);
//! * NaN samples (never written by influxgate, which refuses non-finite values; possible in data
//!   written straight to VictoriaMetrics, e.g. Prometheus staleness markers) are skipped by
//!   rollups, while a scan returns them: such data is outside what this module claims.
//!
//! # Exactness of each function (compared with `query::functions::aggregate::reduce`)
//!
//! * `count`: `count_over_time` — the number of samples.
//! * `sum`: `sum_over_time` adds the window's values one by one in time order starting from 0.0
//!   (`rollupSum` in 1.79), the evaluator's float sum exactly; values come back printed with Go's
//!   shortest round-trip format (`strconv.AppendFloat(f, 'f', -1)`), so they parse to the same
//!   f64.
//! * `mean`: `sum_over_time / count_over_time`, the evaluator's `sum / n`.
//! * `first`/`last`: `first_over_time`/`last_over_time` with `tfirst_over_time`/`tlast_over_time`
//!   for the point's time (one sample per millisecond, see above, so there are no ties).
//! * `min`/`max`: the value is `min_over_time`/`max_over_time`. The point's time must be the
//!   earliest holding it (1.x); `tmin_over_time`/`tmax_over_time` give the *latest*. It is exact
//!   when the extreme is unique: when the bucket's values are all distinct
//!   (`distinct_over_time == count_over_time`) or the latest extreme is the bucket's first sample.
//!   Other buckets get the time from one export of the raw samples of their span (see
//!   `resolve_ties`), or, when that span holds too many samples or most buckets are concerned
//!   (integer-valued fields), the request answers `Unsupported`. None of this is done when the
//!   request says the point's time is not shown (`point_time == false`: GROUP BY time, where a
//!   selector shows its bucket's start).
//!
//! Several rollups of one request are computed in one pass with `aggr_over_time`, and the requests
//! of one statement that differ only in their field (`max(a), max(b), ...`) in the same calls: the
//! selectors name all their metrics and `keep_metric_names` keeps each series' metric name, so a
//! statement of ten such calls costs one catalog lookup, one label check and one rollup query
//! (per phase) instead of ten of each. Each series' rollups are computed as when asked alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::selector::{names_split, selectors, to_dnf, Matcher};
use super::{secs, Inner, VictoriaMetricsBackend, MAX_FUTURE_MS, MAX_MS, NS_PER_MS};
use crate::backend::{
    AggregateFn, AggregateRequest, AggregateRow, AggregateSeries, BackendError, Result, TagPredicate,
};
use crate::model::FieldValue;

/// Buckets ending less than this before now (ms) are asked with instant queries (see the module
/// docs); covers `-search.latencyOffset` and `-search.maxStepForPointsAdjustment` up to 5 min.
pub const RECENT_MS: i64 = 5 * 60 * 1000;
/// Steps per `query_range` call (VictoriaMetrics' `-search.maxPointsPerTimeseries` is 30000).
pub const MAX_STEPS: i64 = 10_000;
/// Steps × series per `query_range` call, bounding one answer's size.
const MAX_CELLS_PER_CALL: i64 = 200_000;
/// Buckets one request may span, and buckets × series; past them the request is not pushed down
/// (the answer is kept in memory; the planner's scan has its own point limit).
const MAX_BUCKETS: i64 = 2_000_000;
const MAX_CELLS: i64 = 10_000_000;
/// Ranges of fewer buckets are asked bucket by bucket without first asking the whole range.
pub const DIRECT_BUCKETS: i64 = 2_000;
/// Instant queries (clipped or recent buckets) one request may make.
const MAX_INSTANT: usize = 32;
/// Raw samples read at most to find the earliest time of tied min/max extremes.
pub const MAX_RESOLVE_SAMPLES: u64 = 100_000;
/// The largest export read for that (bytes).
const RESOLVE_ANSWER_BYTES: usize = 64 << 20;
/// Calls to VictoriaMetrics under way at once for one request.
const PARALLEL: usize = 2;
/// The earliest millisecond asked about. VictoriaMetrics 1.79 fetches a rollup's samples from
/// `T - max(window, step) - 5 min` on and finds nothing when that is before 1970; earlier samples
/// (the first quarter hour of 1970) are looked for with an export, and refused.
const MIN_LO: i64 = 15 * 60 * 1000;
/// The latest time asked about: VictoriaMetrics refuses samples more than 2 days ahead of its
/// clock; this leaves room for clock skew between influxgate and VictoriaMetrics.
const FUTURE_MS: i64 = MAX_FUTURE_MS + 365 * 24 * 3600 * 1000;

/// One MetricsQL rollup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum R {
    Count,
    Sum,
    Min,
    Max,
    TMin,
    TMax,
    Distinct,
    First,
    TFirst,
    Last,
    TLast,
}

impl R {
    fn name(self) -> &'static str {
        match self {
            R::Count => "count_over_time",
            R::Sum => "sum_over_time",
            R::Min => "min_over_time",
            R::Max => "max_over_time",
            R::TMin => "tmin_over_time",
            R::TMax => "tmax_over_time",
            R::Distinct => "distinct_over_time",
            R::First => "first_over_time",
            R::TFirst => "tfirst_over_time",
            R::Last => "last_over_time",
            R::TLast => "tlast_over_time",
        }
    }

    fn from_name(n: &str) -> Option<R> {
        [R::Count, R::Sum, R::Min, R::Max, R::TMin, R::TMax, R::Distinct, R::First, R::TFirst, R::Last, R::TLast]
            .into_iter()
            .find(|r| r.name() == n)
    }
}

/// The rollups a function's rows are made of; min/max whose point time is not shown
/// (`point_time == false`) need only the extreme and the count.
fn rollups_of(f: AggregateFn, point_time: bool) -> Vec<R> {
    match f {
        AggregateFn::Count => vec![R::Count],
        AggregateFn::Sum | AggregateFn::Mean => vec![R::Sum, R::Count],
        AggregateFn::Min if !point_time => vec![R::Min, R::Count],
        AggregateFn::Max if !point_time => vec![R::Max, R::Count],
        AggregateFn::Min => vec![R::Min, R::TMin, R::Count, R::Distinct, R::TFirst],
        AggregateFn::Max => vec![R::Max, R::TMax, R::Count, R::Distinct, R::TFirst],
        AggregateFn::First => vec![R::First, R::TFirst],
        AggregateFn::Last => vec![R::Last, R::TLast],
    }
}

/// `ms` as a VictoriaMetrics time or duration argument: seconds with an extra half millisecond,
/// since it computes `int64(secs * 1e3)` (truncating). `ms >= 0`.
pub fn time_arg(ms: i64) -> String {
    format!("{}.{:03}5", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Seconds (as VictoriaMetrics prints timestamps and `t*_over_time` values) → ms.
pub(super) fn ms_of(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

/// Where a query is evaluated.
#[derive(Debug, Clone, Copy)]
pub(super) enum Eval {
    At(i64),
    Range { start: i64, end: i64, step: i64 },
}

/// A query answer, its values borrowed from the body (no allocation per value; VictoriaMetrics
/// prints values as plain numbers, `NaN` or `±Inf`, never with a JSON escape, which would fail
/// the parse and leave the request to the planner).
#[derive(Deserialize)]
struct QueryData<'a> {
    #[serde(default, borrow)]
    result: Vec<QueryItem<'a>>,
}

#[derive(Deserialize)]
struct QueryItem<'a> {
    metric: HashMap<String, String>,
    #[serde(default, borrow)]
    value: Option<(f64, &'a str)>,
    #[serde(default, borrow)]
    values: Option<Vec<(f64, &'a str)>>,
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => None,
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| !v.is_nan()),
    }
}

type Tags = Vec<(String, String)>;
/// A series of one metric: its metric name and tags.
pub(super) type Key = (String, Tags);
/// Per series: per evaluation time (ms): the rollups' values, in the order asked.
type Answer = BTreeMap<Key, BTreeMap<i64, Vec<Option<f64>>>>;

/// A rollup query failing in VictoriaMetrics (limits, syntax it does not know) means "not pushed
/// down"; an unreachable or slow VictoriaMetrics stays an error.
fn not_pushed(e: BackendError) -> BackendError {
    match e {
        BackendError::Unavailable(_) | BackendError::Timeout(_) => e,
        other => BackendError::Unsupported(format!("aggregate not pushed down to victoriametrics: {other}")),
    }
}

pub(super) struct Ctx<'a> {
    pub(super) inner: &'a Inner,
    pub(super) db: &'a str,
    pred: &'a TagPredicate,
    /// One selector per conjunction of the predicate (a superset of the series; `pred` decides).
    sels: Vec<String>,
}

impl<'a> Ctx<'a> {
    /// The same request over other selectors (which must select no series outside `pred`'s
    /// metrics and database; `pred` still decides).
    pub(super) fn with_sels(&self, sels: Vec<String>) -> Ctx<'a> {
        Ctx { inner: self.inner, db: self.db, pred: self.pred, sels }
    }

    /// `aggr_over_time` of the rollups over each selector, each series keeping its metric name
    /// (`keep_metric_names`: the selectors name all the request's metrics); with `dups`, also the
    /// windows where two samples share a millisecond (`rollup_scrape_interval`'s smallest interval
    /// is 0 exactly then; the window it may widen only adds neighbours), as series labelled
    /// `rollup="min"`.
    fn query_text(&self, rs: &[R], window: i64, dups: bool) -> String {
        let names: Vec<String> = rs.iter().map(|r| format!("\"{}\"", r.name())).collect();
        let mut q = String::new();
        for (i, sel) in self.sels.iter().enumerate() {
            if i > 0 {
                q.push_str(" or ");
            }
            q.push_str(&format!("aggr_over_time(({}),{sel}[{window}ms]) keep_metric_names", names.join(",")));
            if dups {
                q.push_str(&format!(
                    " or (label_match(rollup_scrape_interval({sel}[{window}ms]) keep_metric_names,\"rollup\",\"min\") == 0)"
                ));
            }
        }
        q
    }

    /// The series' metric name and tags (labels minus the db label and `rollup`), when the series
    /// belongs to the request, and its `rollup` label.
    fn key_of(&self, mut metric: HashMap<String, String>) -> Option<(Key, Option<String>)> {
        let rollup = metric.remove("rollup");
        let name = metric.remove("__name__")?;
        let tags = self.inner.labels.tags_in_db(metric, self.db)?;
        self.pred.matches(&tags).then_some(((name, tags), rollup))
    }

    /// Runs `rs` over windows of `window` ms evaluated as `eval` says; also says, with `dups`,
    /// whether a series has two samples at one millisecond in those windows.
    pub(super) async fn run(&self, rs: &[R], window: i64, eval: Eval, dups: bool) -> Result<(Answer, bool)> {
        let q = self.query_text(rs, window, dups);
        let (path, times) = match eval {
            Eval::At(t) => ("/api/v1/query", vec![("time", time_arg(t))]),
            Eval::Range { start, end, step } => (
                "/api/v1/query_range",
                vec![("start", time_arg(start)), ("end", time_arg(end)), ("step", time_arg(step))],
            ),
        };
        let mut pairs: Vec<(&str, &str)> = vec![("query", &q), ("nocache", "1")];
        pairs.extend(times.iter().map(|(k, v)| (*k, v.as_str())));
        let body = self.inner.api_body(path, &pairs).await.map_err(not_pushed)?;
        let data: QueryData = super::api_data(path, &body).map_err(not_pushed)?;
        let mut out: Answer = BTreeMap::new();
        let mut found_dups = false;
        for item in data.result {
            let points: Vec<(f64, &str)> = match (item.value, item.values) {
                (Some(v), _) => vec![v],
                (None, Some(vs)) => vs,
                (None, None) => Vec::new(),
            };
            if item.metric.get("rollup").is_some_and(|r| r == "min") {
                // Two samples at one millisecond, in any series the selectors matched (with or
                // without its name): counted whether or not the series is the request's.
                found_dups |= dups && points.iter().any(|(_, v)| parse_value(v) == Some(0.0));
                continue;
            }
            if !item.metric.contains_key("__name__") {
                // Every answer is read by metric name: a store that drops it is not asked.
                return Err(BackendError::Unsupported("victoriametrics did not keep metric names".into()));
            }
            let Some((key, rollup)) = self.key_of(item.metric) else { continue };
            let Some(name) = rollup else { continue };
            let Some(col) = R::from_name(&name).and_then(|r| rs.iter().position(|x| *x == r)) else { continue };
            let series = out.entry(key).or_default();
            for (ts, v) in points {
                let t = match eval {
                    Eval::At(t) => t,
                    Eval::Range { .. } => ms_of(ts),
                };
                if let Some(x) = parse_value(v) {
                    series.entry(t).or_insert_with(|| vec![None; rs.len()])[col] = Some(x);
                }
            }
        }
        Ok((out, found_dups))
    }
}

/// One series' row of one bucket from its rollups, and whether it is a min/max whose point time
/// may not be the earliest holding the extreme (then it is the latest, see the module docs).
pub(super) fn make_row(func: AggregateFn, rs: &[R], vals: &[Option<f64>], bucket_start: i64) -> Option<(AggregateRow, bool)> {
    let get = |r: R| rs.iter().position(|x| *x == r).and_then(|i| vals.get(i).copied().flatten());
    let t_ns = |r: R| get(r).map(|s| ms_of(s).saturating_mul(NS_PER_MS));
    let count = get(R::Count).map(|c| c as u64);
    let row = |value: FieldValue, point_time: Option<i64>, count: u64| AggregateRow {
        bucket_start,
        point_time,
        value,
        count,
    };
    match func {
        AggregateFn::Count => match count {
            Some(n) if n > 0 => Some((row(FieldValue::Integer(n as i64), None, n), false)),
            _ => None,
        },
        AggregateFn::Sum => match (get(R::Sum), count) {
            (Some(s), Some(n)) if n > 0 => Some((row(FieldValue::Float(s), None, n), false)),
            _ => None,
        },
        AggregateFn::Mean => match (get(R::Sum), count) {
            (Some(s), Some(n)) if n > 0 => Some((row(FieldValue::Float(s / n as f64), None, n), false)),
            _ => None,
        },
        AggregateFn::Min | AggregateFn::Max => {
            let (v, t) = if func == AggregateFn::Min { (R::Min, R::TMin) } else { (R::Max, R::TMax) };
            // Without its time asked (the point's time is not shown), the bucket's start.
            let t = if rs.contains(&t) { t_ns(t) } else { Some(bucket_start) };
            let (Some(v), Some(t), Some(n)) = (get(v), t, count) else { return None };
            let unique = get(R::Distinct).map(|d| d as u64) == Some(n) || t_ns(R::TFirst) == Some(t);
            Some((row(FieldValue::Float(v), Some(t), n), !unique))
        }
        AggregateFn::First => match (get(R::First), t_ns(R::TFirst)) {
            (Some(v), Some(t)) => Some((row(FieldValue::Float(v), Some(t), 1), false)),
            _ => None,
        },
        AggregateFn::Last => match (get(R::Last), t_ns(R::TLast)) {
            (Some(v), Some(t)) => Some((row(FieldValue::Float(v), Some(t), 1), false)),
            _ => None,
        },
    }
}

fn tie() -> BackendError {
    BackendError::Unsupported(
        "min/max not pushed down to victoriametrics: too many buckets whose extreme may be tied".into(),
    )
}

/// min/max rows whose extreme may be tied get the earliest time holding it from the raw samples:
/// one export of the span of those buckets, when the rows' counts say it holds at most
/// [`MAX_RESOLVE_SAMPLES`] samples and at most a quarter of the rows are concerned, for each metric
/// of the group (otherwise
/// `Unsupported`: the planner's own scan is cheaper).
/// The export is read as the scan reads it (`export::parse_line`, one sample per millisecond:
/// requests with several are refused before).
async fn resolve_ties(
    ctx: &Ctx<'_>,
    req: &AggregateRequest,
    every: i64,
    out: &mut BTreeMap<Key, Vec<AggregateRow>>,
    suspects: &BTreeMap<Key, BTreeSet<i64>>,
) -> Result<()> {
    let every_ns = every.saturating_mul(NS_PER_MS);
    // The span of these suspects' buckets, and a test of whether a bucket meets it.
    let span = |sus: &mut dyn Iterator<Item = &i64>| {
        let (mut from, mut to) = (i64::MAX, i64::MIN);
        for b in sus {
            from = from.min(*b);
            to = to.max(if every == 0 { req.scan.max_time } else { b.saturating_add(every_ns - 1) });
        }
        (from.max(req.scan.min_time), to.min(req.scan.max_time))
    };
    let meets = |(from, to): (i64, i64), b: i64| every == 0 || (b.saturating_add(every_ns - 1) >= from && b <= to);
    // Each metric as its call alone would be decided. Mostly tied (integer-valued data): the
    // planner's one scan of every field is cheaper than an export per field.
    let metrics: BTreeSet<&String> = suspects.keys().map(|(m, _)| m).collect();
    for m in metrics {
        let (s_m, o_m) = (suspects.iter().filter(|((k, _), _)| k == m), out.iter().filter(|((k, _), _)| k == m));
        let sp = span(&mut s_m.clone().flat_map(|(_, b)| b));
        let samples: u64 = o_m.clone().flat_map(|(_, r)| r).filter(|r| meets(sp, r.bucket_start)).map(|r| r.count).sum();
        let rows: usize = o_m.map(|(_, r)| r.len()).sum();
        let tied: usize = s_m.map(|(_, b)| b.len()).sum();
        if samples > MAX_RESOLVE_SAMPLES || (tied > 8 && tied * 4 > rows) {
            return Err(tie());
        }
    }
    let (from, to) = span(&mut suspects.values().flatten());
    let (lo, hi) = (super::ceil_div(from, NS_PER_MS).max(0), to.div_euclid(NS_PER_MS));
    let (start, end) = (secs((lo - 1).max(0)), secs(hi.saturating_add(1).min(MAX_MS)));
    let mut pairs: Vec<(&str, &str)> = ctx.sels.iter().map(|s| ("match[]", s.as_str())).collect();
    pairs.push(("start", &start));
    pairs.push(("end", &end));
    let resp = ctx.inner.post_form("/api/v1/export", &pairs).await?;
    let body = super::read_bounded(resp, RESOLVE_ANSWER_BYTES, false, "/api/v1/export", ctx.inner.opts.timeout)
        .await
        .map_err(not_pushed)?;
    let min = req.func == AggregateFn::Min;
    // (series, bucket) → the earliest (time, value) holding the extreme so far
    let mut best: HashMap<(Key, i64), (i64, f64)> = HashMap::new();
    let mut samples = super::export::Samples::default();
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let labels = super::export_line(line, &mut samples)?;
        let Some((key, _)) = ctx.key_of(super::export::owned(labels).collect()) else { continue };
        let Some(buckets) = suspects.get(&key) else { continue };
        for (ms, v) in samples.timestamps.iter().zip(samples.values.iter()) {
            if *ms < lo || *ms > hi {
                continue;
            }
            let t = ms.saturating_mul(NS_PER_MS);
            let b = if every == 0 {
                req.scan.min_time
            } else {
                (t as i128 - (t as i128 - req.offset as i128).rem_euclid(every_ns as i128)) as i64
            };
            if !buckets.contains(&b) {
                continue;
            }
            let e = best.entry((key.clone(), b)).or_insert((t, *v));
            if (min && *v < e.1) || (!min && *v > e.1) || (*v == e.1 && t < e.0) {
                *e = (t, *v);
            }
        }
    }
    for (key, buckets) in suspects {
        let Some(rows) = out.get_mut(key) else { continue };
        for row in rows.iter_mut().filter(|r| buckets.contains(&r.bucket_start)) {
            match best.get(&(key.clone(), row.bucket_start)) {
                Some((t, v)) if FieldValue::Float(*v) == row.value => row.point_time = Some(*t),
                // the export disagrees with the rollups (data written meanwhile): leave it to the planner
                _ => return Err(BackendError::Unsupported("min/max: samples changed during pushdown".into())),
            }
        }
    }
    Ok(())
}

fn dups_refused() -> BackendError {
    BackendError::Unsupported(
        "a series has several samples at one millisecond: not pushed down to victoriametrics".into(),
    )
}

/// The calls asking buckets `b0..=b1` (ms, starts) clipped to `[lo, hi]`: runs of whole buckets
/// ending before `now - RECENT_MS` as `query_range` pieces of at most `per_call` steps, the others
/// as instant queries; `None` when more than `MAX_INSTANT` would be instant.
fn plan_calls(b0: i64, b1: i64, every: i64, lo: i64, hi: i64, now: i64, per_call: i64) -> Option<Vec<(i64, Eval)>> {
    let mut calls: Vec<(i64, Eval)> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    let flush = |calls: &mut Vec<(i64, Eval)>, (from, to): (i64, i64)| {
        // Whole buckets whose last milliseconds are from..=to, step `every`, in pieces.
        let mut s = from;
        while s <= to {
            let e = (s + (per_call - 1) * every).min(to);
            calls.push((every, Eval::Range { start: s, end: e, step: every }));
            s = e + every;
        }
    };
    let mut instants = 0usize;
    let mut s = b0;
    while s <= b1 {
        let (a, b) = (s.max(lo), (s + every - 1).min(hi));
        s += every;
        if a > b {
            continue;
        }
        if a == s - every && b == s - 1 && b < now - RECENT_MS {
            run = Some((run.map_or(b, |r| r.0), b));
            continue;
        }
        if let Some(r) = run.take() {
            flush(&mut calls, r);
        }
        instants += 1;
        if instants > MAX_INSTANT {
            return None;
        }
        calls.push((b - a + 1, Eval::At(b)));
    }
    if let Some(r) = run.take() {
        flush(&mut calls, r);
    }
    Some(calls)
}

/// `Backend::aggregate_many` for VictoriaMetrics: requests that differ only in their field are
/// answered together (see [`aggregate_group`]), the groups [`PARALLEL`] at once; in the order asked.
pub(super) async fn aggregate_many(backend: &VictoriaMetricsBackend, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
    // Requests alike but for their field: the same Debug text once the field is left out.
    let key = |r: &AggregateRequest| {
        let mut scan = r.scan.clone();
        scan.fields.clear();
        format!("{scan:?} {:?} {} {} {} {}", r.func, r.every, r.offset, r.point_time, r.latest_only)
    };
    crate::backend::aggregate_grouped(&reqs, key, PARALLEL, |group| async move { aggregate_group(backend, &group).await }).await
}

/// `Backend::aggregate` for VictoriaMetrics: a group of one.
pub(super) async fn aggregate(backend: &VictoriaMetricsBackend, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
    Ok(aggregate_group(backend, &[&req]).await?.pop().unwrap_or_default())
}

/// Answers requests that differ only in their field (same function, series, range and buckets)
/// with the same calls, one metric per request; in the order given. See the module docs.
async fn aggregate_group(backend: &VictoriaMetricsBackend, reqs: &[&AggregateRequest]) -> crate::backend::GroupAnswer {
    let inner: &Inner = &backend.inner;
    let Some(req) = reqs.first().copied() else { return Ok(Vec::new()) };
    let scan = &req.scan;
    inner.check_rp(scan.rp.as_deref())?;
    if reqs.iter().any(|r| r.scan.fields.len() != 1) {
        return Err(BackendError::Invalid("aggregate pushdown takes exactly one field".into()));
    }
    if req.every < 0 {
        return Err(BackendError::Invalid("negative bucket width".into()));
    }
    if req.every % NS_PER_MS != 0 || req.offset.rem_euclid(NS_PER_MS) != 0 {
        return Err(BackendError::Unsupported("buckets that are not whole milliseconds are not pushed down".into()));
    }
    let every = req.every / NS_PER_MS;
    let offset = req.offset.div_euclid(NS_PER_MS);
    let now = chrono::Utc::now().timestamp_millis();
    let lo = super::ceil_div(scan.min_time, NS_PER_MS).max(0);
    let hi = scan.max_time.div_euclid(NS_PER_MS).min(MAX_MS).min(now.saturating_add(FUTURE_MS));
    if lo > hi {
        return Ok(vec![Vec::new(); reqs.len()]);
    }
    if hi < MIN_LO {
        return Err(BackendError::Unsupported("times in the first quarter hour of 1970 are not pushed down".into()));
    }
    let memo = backend.memo();
    let fmap = inner.field_metrics(memo, &scan.db, &scan.measurement).await?;
    // Each request's metric (None: the field has none, an empty answer), and the metrics asked.
    let metric_of: Vec<Option<&String>> = reqs.iter().map(|r| fmap.get(&r.scan.fields[0])).collect();
    let metrics: Vec<String> = metric_of.iter().flatten().map(|m| (*m).clone()).collect::<BTreeSet<_>>().into_iter().collect();
    if metrics.is_empty() {
        return Ok(vec![Vec::new(); reqs.len()]);
    }
    // Outputs of aggr_over_time/rollup_scrape_interval are told apart by a `rollup` label.
    if names_split(&metrics) {
        return Err(BackendError::Unsupported("metric names holding bytes 0x00–0x02 are not pushed down together".into()));
    }
    let names_sels = selectors(&metrics, &[inner.db_matcher(&scan.db)]);
    // A tag regex is pushed down only where VictoriaMetrics judges every value as the evaluator
    // does (see `selector`); otherwise the rollups cover a superset and `key_of` decides.
    let regex = inner.regex_pushable(memo, &scan.db, &fmap.values().cloned().collect::<Vec<_>>(), &scan.tags).await?;
    let mut sels = Vec::new();
    for conj in to_dnf(&scan.tags, &inner.labels, regex) {
        let mut ms: Vec<Matcher> = vec![inner.db_matcher(&scan.db)];
        ms.extend(conj);
        sels.extend(selectors(&metrics, &ms));
    }
    let early = lo < MIN_LO;
    let lo = lo.max(MIN_LO);
    let ctx = Ctx { inner, db: &scan.db, pred: &scan.tags, sels };
    let func = req.func;
    let rs = rollups_of(func, req.point_time);
    // Whether min/max buckets whose extreme may be tied need their earliest point's time.
    let ties_matter = req.point_time;

    let bucket = |t: i64| t - (t - offset).rem_euclid(every.max(1));
    // Checks made beside the rollups (whose answer is dropped when one fails).
    let guards = async {
        let end = secs(MAX_MS);
        let labels = async {
            // In a statement's view, the label names of every metric of the measurement, which
            // its series listing asked already (a superset: a `rollup` label on another field's
            // series also leaves the request to the planner).
            let l: Vec<String> = match memo {
                Some(_) => inner.metric_labels(memo, &scan.db, &fmap.values().cloned().collect::<Vec<_>>()).await?,
                None => inner.api("/api/v1/labels", &super::labels_pairs(&names_sels, &end)).await?,
            };
            Ok::<bool, BackendError>(l.iter().any(|l| l == "rollup"))
        };
        let early_samples = async {
            if !early {
                return Ok(false);
            }
            // Rollups cannot see these milliseconds: only go on when no series has samples there.
            let end = secs(MIN_LO - 1);
            let mut p: Vec<(&str, &str)> = names_sels.iter().map(|s| ("match[]", s.as_str())).collect();
            p.extend([("start", "0"), ("end", end.as_str())]);
            let resp = inner.post_form("/api/v1/export", &p).await?;
            let body = super::read_bounded(resp, 4096, true, "/api/v1/export", inner.opts.timeout).await?;
            Ok(body.iter().any(|b| !b.is_ascii_whitespace()))
        };
        let (rollup_label, early_samples) = futures::try_join!(labels, early_samples)?;
        if rollup_label {
            return Err(BackendError::Unsupported("a series with a `rollup` label is not pushed down".into()));
        }
        if early_samples {
            return Err(BackendError::Unsupported("series with samples on 1970-01-01 are not pushed down".into()));
        }
        Ok(())
    };
    // last() needs no check: of samples sharing a millisecond, a scan keeps the last exported and
    // last_over_time/tlast_over_time take the last too, both in the order of VictoriaMetrics'
    // merged result (export and rollups read it with the same ProcessSearchQuery/RunParallel).
    let dups = func != AggregateFn::Last;
    let rollups = async {
        let mut out: BTreeMap<Key, Vec<AggregateRow>> = BTreeMap::new();
        // min/max rows whose extreme may be tied: series → bucket starts (ns)
        let mut suspects: BTreeMap<Key, BTreeSet<i64>> = BTreeMap::new();

        // Only each series' latest bucket wanted (last() without GROUP BY time): from a recent
        // window (see `latest`), when the range is longer than that window.
        let window = i64::try_from(inner.opts.last_window_ms).unwrap_or(i64::MAX);
        if req.latest_only && func == AggregateFn::Last && every > 0 && window > 0 && hi - lo >= window {
            let (series, all_labels) = inner.list_series(memo, &scan.db, &metrics, &scan.tags, lo, hi).await?;
            if let Some(l) = super::latest::answer(&ctx, &series, &all_labels, &metrics, (lo, hi), window, &bucket).await? {
                inner.latest_windows.fetch_add(1, Ordering::Relaxed);
                if l.older_asked {
                    inner.latest_older.fetch_add(1, Ordering::Relaxed);
                }
                return Ok((l.rows, suspects));
            }
        }
        // A range of few buckets is asked bucket by bucket at once ("direct"); otherwise phase A asks
        // the whole range with each series' first and last sample times, answers the series whose
        // samples lie in one bucket, and bounds the buckets phase B asks for the others.
        let direct = if every > 0 && (bucket(hi) - bucket(lo)) / every < DIRECT_BUCKETS {
            plan_calls(bucket(lo), bucket(hi), every, lo, hi, now, MAX_STEPS)
        } else {
            None
        };
        // Series phase B is for (None: all), and its calls.
        // (In phase A the whole range was checked for samples sharing a millisecond.)
        let (multi, calls, dups): (Option<BTreeSet<Key>>, Vec<(i64, Eval)>, bool) = match direct {
            Some(calls) => (None, calls, dups),
            None => {
                let mut rs_a = rs.clone();
                for r in [R::TFirst, R::TLast] {
                    if !rs_a.contains(&r) {
                        rs_a.push(r);
                    }
                }
                let (whole, found) = ctx.run(&rs_a, hi - lo + 1, Eval::At(hi), dups).await?;
                if found {
                    return Err(dups_refused());
                }
                let col = |r: R| rs_a.iter().position(|x| *x == r).unwrap_or(0);
                if ties_matter && matches!(func, AggregateFn::Min | AggregateFn::Max) {
                    // Samples of series holding a value twice (whose buckets may tie): when far
                    // more than `resolve_ties` reads, stop before asking every bucket.
                    // (per metric, as each call alone)
                    let (c, d) = (col(R::Count), col(R::Distinct));
                    let mut tied: BTreeMap<&str, f64> = BTreeMap::new();
                    for ((m, _), by_t) in &whole {
                        if let Some(v) = by_t.get(&hi).filter(|v| v[d] < v[c]) {
                            *tied.entry(m.as_str()).or_default() += v[c].unwrap_or(0.0);
                        }
                    }
                    if tied.values().any(|t| *t > 4.0 * MAX_RESOLVE_SAMPLES as f64) {
                        return Err(tie());
                    }
                }
                // Series with samples in more than one bucket.
                let mut multi: BTreeSet<Key> = BTreeSet::new();
                let (mut b0, mut b1) = (i64::MAX, i64::MIN);
                for (tags, by_t) in whole {
                    let Some(vals) = by_t.get(&hi) else { continue };
                    let (Some(tf), Some(tl)) = (vals[col(R::TFirst)], vals[col(R::TLast)]) else { continue };
                    let (tf, tl) = (ms_of(tf), ms_of(tl));
                    if every == 0 || bucket(tf) == bucket(tl) {
                        let start = if every == 0 { scan.min_time } else { bucket(tf).saturating_mul(NS_PER_MS) };
                        if let Some((row, suspect)) = make_row(func, &rs_a, vals, start) {
                            if suspect && ties_matter {
                                suspects.entry(tags.clone()).or_default().insert(start);
                            }
                            out.entry(tags).or_default().push(row);
                        }
                    } else {
                        b0 = b0.min(bucket(tf));
                        b1 = b1.max(bucket(tl));
                        multi.insert(tags);
                    }
                }
                if multi.is_empty() {
                    (Some(multi), Vec::new(), false)
                } else {
                    let n = (b1 - b0) / every + 1;
                    if n > MAX_BUCKETS || n.saturating_mul(multi.len() as i64) > MAX_CELLS {
                        return Err(BackendError::Unsupported(format!(
                            "{n} buckets: not pushed down to victoriametrics"
                        )));
                    }
                    let per_call = (MAX_CELLS_PER_CALL / multi.len() as i64).clamp(1, MAX_STEPS);
                    let Some(calls) = plan_calls(b0, b1, every, lo, hi, now, per_call) else {
                        return Err(BackendError::Unsupported(
                            "too many clipped or recent buckets: not pushed down to victoriametrics".into(),
                        ));
                    };
                    (Some(multi), calls, false)
                }
            }
        };

        // Phase B: bucket by bucket.
        if !calls.is_empty() {
            let answers: Vec<(Answer, bool)> =
                futures::stream::iter(calls.into_iter().map(|(w, e)| ctx.run(&rs, w, e, dups)))
                    .buffered(PARALLEL)
                    .try_collect()
                    .await?;
            if answers.iter().any(|a| a.1) {
                return Err(dups_refused());
            }
            let mut rows: BTreeMap<Key, BTreeMap<i64, AggregateRow>> = BTreeMap::new();
            for (ans, _) in answers {
                for (tags, by_t) in ans {
                    if multi.as_ref().is_some_and(|m| !m.contains(&tags)) {
                        continue;
                    }
                    // One key lookup (and copy) per series, not per bucket.
                    let mine = rows.entry(tags.clone()).or_default();
                    for (t, vals) in by_t {
                        let start = bucket(t).saturating_mul(NS_PER_MS);
                        if let Some((row, suspect)) = make_row(func, &rs, &vals, start) {
                            if suspect && ties_matter {
                                suspects.entry(tags.clone()).or_default().insert(start);
                            }
                            mine.insert(start, row);
                        }
                    }
                }
            }
            for (tags, r) in rows {
                out.entry(tags).or_default().extend(r.into_values());
            }
        }
        Ok::<_, BackendError>((out, suspects))
    };
    let ((), (mut out, suspects)) = futures::try_join!(guards, rollups)?;
    if !suspects.is_empty() {
        resolve_ties(&ctx, req, every, &mut out, &suspects).await?;
    }
    // Per metric, its series in tag order (the keys' order).
    let mut by_metric: BTreeMap<String, Vec<AggregateSeries>> = BTreeMap::new();
    for ((metric, tags), mut rows) in out {
        if rows.is_empty() {
            continue;
        }
        rows.sort_by_key(|r| r.bucket_start);
        by_metric.entry(metric).or_default().push(AggregateSeries { tags, rows });
    }
    Ok(metric_of.iter().map(|m| m.and_then(|m| by_metric.get(m).cloned()).unwrap_or_default()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_args_survive_truncation() {
        // VictoriaMetrics: int64(ParseFloat(arg) * 1e3)
        for ms in [0i64, 1, 999, 1_000, 1_451_606_400_123, 1_451_606_459_999, 4_102_444_800_001, 60_000, 290] {
            let secs: f64 = time_arg(ms).parse().unwrap();
            assert_eq!((secs * 1e3) as i64, ms, "{ms}");
        }
        assert_eq!(time_arg(1_451_606_400_123), "1451606400.1235");
        assert_eq!(ms_of(1451606400.123), 1_451_606_400_123);
    }

    #[test]
    fn values() {
        assert_eq!(parse_value("0.1"), Some(0.1));
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("NaN"), None);
        assert_eq!(parse_value("17"), Some(17.0));
    }

    #[test]
    fn min_max_without_point_time_ask_value_and_count() {
        let rs = rollups_of(AggregateFn::Max, false);
        assert_eq!(rs, vec![R::Max, R::Count]);
        // the row shows its bucket's start and is never a tie suspect worth resolving
        let (row, _) = make_row(AggregateFn::Max, &rs, &[Some(5.0), Some(3.0)], 60_000_000_000).unwrap();
        assert_eq!((row.value, row.point_time, row.count), (FieldValue::Float(5.0), Some(60_000_000_000), 3));
        assert!(make_row(AggregateFn::Min, &rollups_of(AggregateFn::Min, false), &[Some(1.0), None], 0).is_none());
    }

    #[test]
    fn min_max_rows_only_when_unique() {
        let rs = rollups_of(AggregateFn::Max, true);
        // max 5 at 2.000 s, 3 samples, 2 distinct values, first sample at 1.000 s: maybe tied
        let v = vec![Some(5.0), Some(2.0), Some(3.0), Some(2.0), Some(1.0)];
        assert!(make_row(AggregateFn::Max, &rs, &v, 0).unwrap().1);
        // all distinct
        let v = vec![Some(5.0), Some(2.0), Some(3.0), Some(3.0), Some(1.0)];
        let (row, suspect) = make_row(AggregateFn::Max, &rs, &v, 0).unwrap();
        assert!(!suspect);
        assert_eq!(row.point_time, Some(2_000_000_000));
        assert_eq!(row.count, 3);
        // the latest max is the first sample: unique
        let v = vec![Some(5.0), Some(1.0), Some(3.0), Some(2.0), Some(1.0)];
        assert!(!make_row(AggregateFn::Max, &rs, &v, 0).unwrap().1);
    }
}
