//! A statement's aggregate requests answered in passes: the requests over the same series, time
//! range and buckets share one read of each series' rows (`read::run_aggregate`), and a pass's
//! series are split among the machine's cores.
//!
//! Why. TSBS's `cpu-max-all-8` asks `max` of ten fields of one measurement: answered one request
//! at a time, each series' rows were read ten times, and SQLite stepping through rows was most of
//! the profile; a row read once yields every column asked. And 1.x reduces a tag set's series on
//! `GOMAXPROCS` goroutines (`NewParallelMergeIterator` in its engine's `createCallIterator`), so
//! a `GROUP BY` over many series uses every core: a pass here is cut into one part per core, each
//! read on a blocking thread with a connection of the reader pool.
//!
//! Bounds: a statement holds at most `parts` blocking threads and reader connections at once
//! (one per core, at most [`MAX_PARTS`]); what it keeps is what the requests answer (one row per
//! series, non-empty bucket and call), as when they were asked one by one.

use std::sync::Arc;

use futures::StreamExt;

use super::catalog::Shared;
use super::read::{self, AggCall, AggPlan, Pool};
use super::series::Tags;
use super::EmbeddedBackend;
use crate::backend::{AggregateFn, AggregateRequest, AggregateSeries, BackendError, Result};

/// Parts a pass is cut into at most, whatever the core count.
pub(super) const MAX_PARTS: usize = 8;

/// Calls read together: `reqs[k]` is the request whose answer is the plan's call `k`.
struct Pass {
    plan: Arc<AggPlan>,
    series: Arc<Vec<(Tags, i64)>>,
    reqs: Vec<usize>,
}

/// Parts a pass is cut into: one per core, at most [`MAX_PARTS`]. Read once when the store opens.
pub(super) fn parts() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_PARTS)
}

/// Each request's answer, in the order asked; a pass is cut into at most `parts` parts.
pub(super) async fn answer(pool: &Arc<Pool>, g: &std::sync::RwLock<Shared>, parts: usize, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
    let mut answers: Vec<Result<Vec<AggregateSeries>>> = reqs.iter().map(|_| Ok(Vec::new())).collect();
    let passes = {
        let g = g.read().unwrap_or_else(|e| e.into_inner());
        plan(&g, &reqs, &mut answers)
    };
    let parts = parts.max(1);
    let mut jobs = Vec::new();
    for (pi, p) in passes.iter().enumerate() {
        let n = p.series.len();
        // A first/last pass seeks the key once per series and bucket: too little work per series
        // to pay a thread handoff per part (measured: TSBS lastpoint 4 % slower split in two);
        // such passes run side by side instead, `parts` at a time.
        let seeks = matches!(p.plan.calls[0].func, AggregateFn::First | AggregateFn::Last);
        let k = if seeks { 1 } else { parts.min(n).max(1) };
        jobs.extend((0..k).map(|i| (pi, i * n / k..(i + 1) * n / k)));
    }
    let done: Vec<(usize, Result<Vec<Vec<AggregateSeries>>>)> = futures::stream::iter(jobs.into_iter().map(|(pi, range)| {
        let (pool, plan, series) = (pool.clone(), passes[pi].plan.clone(), passes[pi].series.clone());
        async move {
            let r = tokio::task::spawn_blocking(move || {
                let conn = pool.get()?;
                let r = read::run_aggregate(&conn, &plan, series.get(range).unwrap_or(&[]));
                pool.put(conn);
                r
            })
            .await;
            (pi, r.map_err(|e| BackendError::Internal(e.to_string())).and_then(|r| r))
        }
    }))
    .buffered(parts)
    .collect()
    .await;
    // Parts come in order, each a contiguous run of the sorted series: appended, the series stay sorted.
    for (pi, part) in done {
        let p = &passes[pi];
        match part {
            Ok(per_call) => {
                for (&ri, mut series) in p.reqs.iter().zip(per_call) {
                    if let Some(Ok(a)) = answers.get_mut(ri) {
                        a.append(&mut series);
                    }
                }
            }
            Err(e) => {
                for &ri in &p.reqs {
                    answers[ri] = Err(e.clone());
                }
            }
        }
    }
    answers
}

/// The passes of `reqs`; a request answered without reading (invalid, refused, nothing to read)
/// gets its answer in `answers` and joins no pass.
fn plan(g: &Shared, reqs: &[AggregateRequest], answers: &mut [Result<Vec<AggregateSeries>>]) -> Vec<Pass> {
    let mut passes: Vec<Pass> = Vec::new();
    for (ri, req) in reqs.iter().enumerate() {
        let (mid, series, call) = match resolve(g, req) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                answers[ri] = Err(e);
                continue;
            }
        };
        let (min_time, max_time) = (req.scan.min_time, req.scan.max_time);
        if series.is_empty() || min_time > max_time {
            continue;
        }
        // first/last seek the key per bucket instead of reading rows: a pass of their own.
        let seeks = matches!(call.func, AggregateFn::First | AggregateFn::Last);
        let joins = |p: &Pass| {
            let q = &p.plan;
            !seeks
                && !matches!(q.calls[0].func, AggregateFn::First | AggregateFn::Last)
                && (q.mid, q.min_time, q.max_time, q.every, q.offset) == (mid, min_time, max_time, req.every, req.offset)
                && p.series.iter().map(|s| s.1).eq(series.iter().map(|s| s.1))
        };
        match passes.iter_mut().find(|p| joins(p)) {
            Some(p) => {
                if let Some(plan) = Arc::get_mut(&mut p.plan) {
                    plan.calls.push(call);
                    p.reqs.push(ri);
                }
            }
            None => passes.push(Pass {
                plan: Arc::new(AggPlan { mid, calls: vec![call], min_time, max_time, every: req.every, offset: req.offset }),
                series: Arc::new(series),
                reqs: vec![ri],
            }),
        }
    }
    passes
}

/// A request's measurement id, its matching series (tags, id) and its call.
type Resolved = (i64, Vec<(Tags, i64)>, AggCall);

/// A request's measurement, matching series and call; `None`: nothing to read (no such
/// measurement or field).
fn resolve(g: &Shared, req: &AggregateRequest) -> Result<Option<Resolved>> {
    if req.scan.fields.len() != 1 {
        return Err(BackendError::Invalid("aggregate pushdown takes exactly one field".into()));
    }
    if req.every < 0 {
        return Err(BackendError::Invalid("negative bucket width".into()));
    }
    let (_, _, r) = g.cat.resolve_rp(&req.scan.db, req.scan.rp.as_deref())?;
    let Some(m) = r.meas.get(&req.scan.measurement).and_then(|mid| g.cat.meas.get(mid)) else { return Ok(None) };
    let Some(f) = m.fields.get(&req.scan.fields[0]) else { return Ok(None) };
    if !read::agg_supported(req.func, f.ty) {
        return Err(BackendError::Unsupported(format!("aggregate {:?} on a {} field is not pushed down", req.func, f.ty)));
    }
    let series = EmbeddedBackend::matching_series(&g.series, m.id, &req.scan.tags);
    Ok(Some((m.id, series, AggCall { col: f.col, ty: f.ty, func: req.func })))
}
