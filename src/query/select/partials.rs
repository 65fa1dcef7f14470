//! Combining partial results (per series, per shard group, pushed down by the store) in the
//! order 1.x's merges combine them, so that float sums and selector ties are 1.x's to the bit.

use super::*;

/// One group's reduced points of a pushed-down call: per window, the series' partials per
/// shard group combined, then across shard groups, as 1.x layers them.
#[allow(clippy::too_many_arguments)]
pub(super) fn reduce_pushed(
    call: &AggCall,
    series: &[&crate::backend::AggregateSeries],
    m: &MeasInfo,
    window: Option<&Window>,
    window_start_default: i64,
    single_selector: bool,
    catalog: Option<&Vec<String>>,
    procs: usize,
) -> QResult<Vec<Sample>> {
    let empty = crate::backend::AggregateSeries { tags: Vec::new(), rows: Vec::new() };
    let mut members: Vec<(String, &crate::backend::AggregateSeries)> =
        series.iter().map(|s| (crate::model::series_key(&m.name, &s.tags), *s)).collect();
    // series without points here still count when 1.x splits them (see `catalog_keys`)
    let known: std::collections::HashSet<String> = members.iter().map(|(k, _)| k.clone()).collect();
    for k in catalog.map(|v| v.as_slice()).unwrap_or(&[]) {
        if !known.contains(k) {
            members.push((k.clone(), &empty));
        }
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    // shard group start → per series (key order) its partials: (window start, sample, count)
    type Part = (i64, Sample, u64);
    let mut by_shard: BTreeMap<i64, Vec<Vec<Part>>> = BTreeMap::new();
    for (k, (_, ser)) in members.iter().enumerate() {
        for row in &ser.rows {
            let ws = match window {
                Some(w) => w.start(row.bucket_start),
                None => window_start_default,
            };
            let sg = functions::aggregate::shard_group_start(row.bucket_start, m.shard_dur);
            let time = if call.agg.is_selector() { row.point_time.unwrap_or(ws) } else { ws };
            let value = eval::from_field(&row.value);
            let e = by_shard.entry(sg).or_insert_with(|| vec![Vec::new(); members.len()]);
            if let Some(list) = e.get_mut(k) {
                list.push((ws, Sample::new(time, value), row.count));
            }
        }
    }
    combine_layered(&call.agg, by_shard, window.is_some(), single_selector, procs)
}

/// 1.x's layering of partial results: `by_shard` holds, per shard group (time order), per
/// series (key order), the series' partials (window start, reduced point, point count) in
/// window order. Per shard they are combined per window in the order 1.x's parallel merge
/// yields them, then the shards' results in the order of the merge across shards, then once
/// more (the statement's merge over its single source).
/// `procs`: the GOMAXPROCS of the 1.x whose answers are reproduced (`query.float_merge_parallelism`):
/// 1.x splits a tag set's series into that many groups (`NewParallelMergeIterator`), which decides
/// the order in which partial results are combined.
pub(super) fn combine_layered(
    agg: &Aggregate,
    by_shard: BTreeMap<i64, Vec<Vec<(i64, Sample, u64)>>>,
    windowed: bool,
    single_selector: bool,
    procs: usize,
) -> QResult<Vec<Sample>> {
    type Part = (i64, Sample, u64);
    let mut shard_streams: Vec<Vec<Part>> = Vec::new();
    for (_, mut per_series) in by_shard {
        for v in per_series.iter_mut() {
            v.sort_by_key(|p| p.0);
        }
        if !windowed && matches!(agg, Aggregate::Last) {
            // 1.x reads last() without GROUP BY time as a descending sorted merge of the
            // series' points limited to one: the series in reverse key order keyed by their
            // last time; among equal times the Go heap's pick, not the larger value (1.6.7:
            // `SELECT last(usage_user) FROM cpu`). first() (ascending) answers the larger value
            // among equal times in 1.6.7, as the reducer over every series does, so it is not
            // treated here.
            let idx: Vec<usize> = (0..per_series.len()).rev().collect();
            let keys: Vec<Vec<std::cmp::Reverse<i64>>> = idx
                .iter()
                .map(|&i| per_series[i].first().map(|p| vec![std::cmp::Reverse(p.1.time)]).unwrap_or_default())
                .collect();
            let pick = functions::aggregate::go_merge_order(&keys).first().and_then(|&(i, _)| idx.get(i).copied());
            let stream: Vec<Part> = pick.and_then(|i| per_series.get(i)?.first().cloned()).into_iter().collect();
            shard_streams.push(combine_stream(agg, stream.iter())?);
            continue;
        }
        let keys: Vec<Vec<i64>> = per_series.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
        let order = functions::aggregate::go_parallel_merge_order(&keys, procs);
        shard_streams.push(combine_stream(agg, order.iter().filter_map(|&(i, j)| per_series.get(i)?.get(j)))?);
    }
    // Across shard groups: 1.x's merge of the shards' outputs, combined per window; then the
    // statement's merge over sources (one input: a reduction of one partial).
    let keys: Vec<Vec<i64>> = shard_streams.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
    let order = functions::aggregate::go_merge_order(&keys);
    let top = combine_stream(agg, order.iter().filter_map(|&(i, j)| shard_streams.get(i)?.get(j)))?;
    let mut out = Vec::new();
    for (ws, s, n) in top {
        if let Some((mut s, _)) = functions::aggregate::combine(agg, &[(s, n)], ws)? {
            s.time = functions::output_time(agg, s.time, ws, single_selector, windowed);
            out.push(s);
        }
    }
    Ok(out)
}

/// Combines a merged stream of partials (window start, sample, count): each run of one window,
/// in stream order (1.x's reduce iterator over a merge iterator).
pub(super) fn combine_stream<'a>(
    agg: &Aggregate,
    stream: impl Iterator<Item = &'a (i64, Sample, u64)>,
) -> QResult<Vec<(i64, Sample, u64)>> {
    let mut out = Vec::new();
    let mut run: Vec<(Sample, u64)> = Vec::new();
    let mut cur: Option<i64> = None;
    for (ws, s, n) in stream {
        if cur != Some(*ws) {
            if let Some(w) = cur {
                if let Some((s, n)) = functions::aggregate::combine(agg, &run, w)? {
                    out.push((w, s, n));
                }
            }
            run.clear();
            cur = Some(*ws);
        }
        run.push((s.clone(), *n));
    }
    if let Some(w) = cur {
        if let Some((s, n)) = functions::aggregate::combine(agg, &run, w)? {
            out.push((w, s, n));
        }
    }
    Ok(out)
}
