//! Aggregate pushdown: asking the store for per-series partials where its answer is provably
//! the evaluator's.

use super::*;

/// The store's name for a call, for the calls whose partial results 1.x combines (no other call
/// can be answered from a store's partials).
pub(super) fn pushdown_fn(agg: &Aggregate) -> Option<crate::backend::AggregateFn> {
    use crate::backend::AggregateFn as F;
    if !function_kinds::combines_partials(agg.name()) {
        return None;
    }
    Some(match agg {
        Aggregate::Count => F::Count,
        Aggregate::Sum => F::Sum,
        Aggregate::Mean => F::Mean,
        Aggregate::Min => F::Min,
        Aggregate::Max => F::Max,
        Aggregate::First => F::First,
        Aggregate::Last => F::Last,
        _ => return None,
    })
}

/// Asks the store for per-series partial aggregates when it can give every call of the query
/// exactly: buckets must not straddle 1.x's shard groups (partials are combined per shard group,
/// as 1.x does), so without `GROUP BY time` the store buckets by shard group. `None`: scan.
#[allow(clippy::too_many_arguments)]
pub(super) async fn pushdown(
    backend: &dyn Backend,
    m: &MeasInfo,
    calls: &[AggCall],
    scan: &[String],
    pred: &TagPredicate,
    min: i64,
    max: i64,
    window: Option<&Window>,
) -> QResult<Option<Vec<Vec<crate::backend::AggregateSeries>>>> {
    let caps = backend.capabilities();
    if caps.aggregates.is_empty() || m.sub.is_some() || m.shard_dur <= 0 || calls.is_empty() {
        return Ok(None);
    }
    let sd = m.shard_dur;
    let origin = functions::aggregate::shard_group_start(0, sd).rem_euclid(sd);
    let (every, offset) = match window {
        None => (sd, origin),
        Some(w) => {
            if w.tz.is_some() || w.every <= 0 || sd % w.every != 0 || (origin - w.offset).rem_euclid(w.every) != 0 {
                return Ok(None);
            }
            (w.every, w.offset)
        }
    };
    let mut reqs = Vec::new();
    for call in calls {
        let Some(f) = pushdown_fn(&call.agg) else { return Ok(None) };
        if !caps.aggregates.contains(&f) || call.inner_distinct || !call.tag_args.is_empty() {
            return Ok(None);
        }
        let CExpr::Col(i, None) = &call.arg else { return Ok(None) };
        let Some(name) = scan.get(*i) else { return Ok(None) };
        match m.fields.get(name) {
            Some(FieldType::Float) | Some(FieldType::Integer) | Some(FieldType::Unsigned) => {}
            _ => return Ok(None),
        }
        reqs.push(crate::backend::AggregateRequest {
            scan: m.scan_request(pred, min, max, vec![name.clone()]),
            func: f,
            every,
            offset,
            // With GROUP BY time a selector shows its bucket's start, not its point's time.
            point_time: window.is_none(),
            // last() over whole shard groups: `partials::combine_layered` keeps the latest point.
            latest_only: window.is_none() && f == crate::backend::AggregateFn::Last,
        });
    }
    // All at once: a remote store answers several in one round trip, or a few at a time.
    let answers = backend.aggregate_many(reqs).await;
    let mut out = Vec::new();
    for a in answers {
        match a {
            Ok(v) => out.push(v),
            Err(crate::backend::BackendError::Unsupported(_)) => return Ok(None),
            // A store's failure stays a store error (503), not the statement's text.
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(out))
}
