//! One group's calls reduced as 1.x reduces them: per shard group, per series (in series-key
//! order) and per window for the functions 1.x layers (its per-series call iterators, then its
//! merges), per subquery source where a subquery has several, else per window over the merged
//! points; or the store's partials combined. Then the windows are filled.

use super::*;

use crate::query::govern::Tally;

/// Each call's points for this group, reduced and filled.
pub(super) fn reduce_group(inp: &AggInput, g: &Group, mem: &mut Charge) -> QResult<Vec<Vec<Sample>>> {
    let ranks = match inp.pushed {
        Some(_) => SeriesRanks::default(),
        None => SeriesRanks::new(inp, g),
    };
    let mut per_call = Vec::with_capacity(inp.plan.calls.len());
    for (ci, call) in inp.plan.calls.iter().enumerate() {
        let reduced = match &inp.pushed {
            Some(by_call) => {
                let members: &[&AggregateSeries] = by_call.get(ci).and_then(|by_group| by_group.get(&g.tags)).map_or(&[], Vec::as_slice);
                let p = inp.plan;
                let catalog = inp.catalog_keys.get(&g.tags);
                let procs = inp.ctx.settings.float_merge_parallelism;
                let pushed = Pushed { series: members, catalog, procs };
                reduce_pushed(call, pushed, inp.m, p.window.as_ref(), p.window_start_default, p.single_selector, &inp.ctx.governor)?
            }
            None => reduce_points(inp, g, call, &ranks)?,
        };
        // A call's points are held until the rows are made.
        mem.add(reduced.iter().map(govern::sample_bytes).sum())?;
        per_call.push(fill_windows(inp, call, reduced, mem)?);
    }
    Ok(per_call)
}

/// Series-key rank of each member series: 1.x reduces series in that order, and splits them into
/// parallel groups by their number, counting the catalog's series without points here too (they
/// get no index).
#[derive(Default)]
struct SeriesRanks {
    by_index: BTreeMap<usize, usize>,
    count: usize,
}

impl SeriesRanks {
    fn new(inp: &AggInput, g: &Group) -> SeriesRanks {
        let m = inp.m;
        let member_keys: Vec<String> = g.members.iter().map(|&si| crate::model::series_key(&m.name, &inp.data[si].tags)).collect();
        let mut by_key: Vec<(&str, usize)> = member_keys.iter().map(String::as_str).zip(g.members.iter().copied()).collect();
        let known: std::collections::HashSet<&str> = member_keys.iter().map(String::as_str).collect();
        for k in inp.catalog_keys.get(&g.tags).map(|v| v.as_slice()).unwrap_or(&[]) {
            if !known.contains(k.as_str()) {
                by_key.push((k, usize::MAX));
            }
        }
        by_key.sort();
        let by_index = by_key.iter().enumerate().map(|(r, (_, si))| (*si, r)).collect();
        SeriesRanks { by_index, count: by_key.len() }
    }

    fn of(&self, si: usize) -> usize {
        self.by_index.get(&si).copied().unwrap_or(0)
    }
}

/// A call's input points of one group: the argument's non-null values with their aux values,
/// each with its series' rank and source; charged while they live.
struct CallPoints {
    samples: Vec<Sample>,
    ranks: Vec<u32>,
    srcs: Vec<u32>,
    _mem: Charge,
}

/// Bytes a [`CallPoints`] point holds beyond its sample: its rank and source, and the references
/// `functions::reduce` sorts or selects by.
const POINT_EXTRA_BYTES: u64 = 8 + 16;

fn call_points(inp: &AggInput, g: &Group, call: &AggCall, ranks: &SeriesRanks) -> QResult<CallPoints> {
    let n = g.rows.len();
    let mut mem = Tally::new(&inp.ctx.governor)?;
    let (mut samples, mut rks, mut srcs) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for &r in &g.rows {
        let sd = &inp.data[r.si()];
        let rc = RowCtx { time: r.time, tags: &sd.tags, vals: sd.row(r.j()), aggs: &[], aux: &[], cond: false };
        let v = call.arg.eval(&rc);
        if eval::is_null(&v) {
            continue;
        }
        let mut a = inp.aux_of(r);
        for tk in &call.tag_args {
            let tv = sd.tags.iter().find(|(k, _)| k == tk).map(|(_, v)| v.clone()).unwrap_or_default();
            a.push(Value::String(tv));
        }
        let s = Sample { time: r.time, value: v, aux: a };
        mem.add(govern::sample_bytes(&s) + POINT_EXTRA_BYTES)?;
        samples.push(s);
        rks.push(ranks.of(r.si()) as u32);
        srcs.push(sd.src as u32);
    }
    Ok(CallPoints { samples, ranks: rks, srcs, _mem: mem.settle()? })
}

/// A call over the group's points, reduced as 1.x layers it.
fn reduce_points(inp: &AggInput, g: &Group, call: &AggCall, ranks: &SeriesRanks) -> QResult<Vec<Sample>> {
    let (m, p) = (inp.m, inp.plan);
    let mut cp = call_points(inp, g, call, ranks)?;
    let partials = functions::aggregate::is_pushed_down(&call.agg) && !call.inner_distinct && call.tag_args.is_empty();
    if let (Aggregate::Integral { unit }, Some(w)) = (&call.agg, &p.window) {
        return Ok(functions::integral(&cp.samples, *unit, Some(w))?);
    }
    if partials && m.sub.is_none() && m.shard_dur > 0 {
        return reduce_layered(inp, call, cp, ranks.count);
    }
    if partials && m.sub.is_some() && cp.srcs.iter().any(|&x| Some(&x) != cp.srcs.first()) {
        return reduce_by_source(inp, call, cp);
    }
    if matches!(call.agg, Aggregate::Percentile(_) | Aggregate::Mode) && m.sub.is_none() && m.shard_dur > 0 && g.members.len() > 1 {
        // percentile()/mode() read 1.x's sorted merge of the series; its order among equal times
        // decides what their unstable sort by value leaves among ties.
        let _perm_mem = inp.ctx.governor.hold(cp.samples.len() as u64 * PERMUTATION_BYTES)?;
        let ranks: Vec<usize> = cp.ranks.iter().map(|&r| r as usize).collect();
        let perm = functions::aggregate::go_sorted_merge_permutation(&cp.samples, &ranks, m.shard_dur);
        drop(ranks);
        permute(&mut cp.samples, perm);
    }
    reduce_windows(inp, call, &cp.samples)
}

/// Bytes per point `go_sorted_merge_permutation` holds while it orders the points (its lists
/// and keys per series, the merge order, the permutation).
const PERMUTATION_BYTES: u64 = 80;

/// Reorders `v` in place so that `v[i]` becomes the old `v[perm[i]]` (no copy of the items);
/// `perm` must be a permutation of `0..v.len()` (else `v` is left as it is).
fn permute<T>(v: &mut [T], mut perm: Vec<usize>) {
    let n = v.len();
    let mut seen = vec![false; n];
    if perm.len() != n || !perm.iter().all(|&k| k < n && !std::mem::replace(&mut seen[k], true)) {
        return;
    }
    drop(seen);
    for start in 0..n {
        let mut j = start;
        loop {
            let k = perm[j];
            perm[j] = j;
            if k == start || k == j {
                break;
            }
            v.swap(j, k);
            j = k;
        }
    }
}

/// The permutation that sorts `v`'s indexes by `key` (stable: equal keys keep their order).
fn stable_order<K: Ord>(n: usize, key: impl Fn(usize) -> K) -> Vec<usize> {
    let mut keyed: Vec<(K, usize)> = (0..n).map(|k| (key(k), k)).collect();
    keyed.sort_unstable();
    // Not collected in place, which would keep the keys' block under the indexes.
    let mut order = Vec::with_capacity(n);
    order.extend(keyed.into_iter().map(|(_, k)| k));
    order
}

/// The window start of a point (the statement's start without GROUP BY time).
pub(super) fn window_of(p: &AggPlan, t: i64) -> i64 {
    p.window.as_ref().map_or(p.window_start_default, |w| w.start(t))
}

/// Per window over the merged points.
fn reduce_windows(inp: &AggInput, call: &AggCall, samples: &[Sample]) -> QResult<Vec<Sample>> {
    let p = inp.plan;
    let mut reduced = Vec::new();
    let mut held = Tally::new(&inp.ctx.governor)?;
    let mut i = 0;
    while i < samples.len() {
        let ws = window_of(p, samples[i].time);
        let mut j = i;
        while j < samples.len() && (p.window.is_none() || window_of(p, samples[j].time) == ws) {
            j += 1;
        }
        inp.ctx.governor.check()?;
        for mut s in reduce_call(call, &samples[i..j], ws)? {
            s.time = functions::output_time(&call.agg, s.time, ws, p.single_selector, p.window.is_some());
            held.add(govern::sample_bytes(&s))?;
            reduced.push(s);
        }
        i = j;
    }
    Ok(reduced)
}

/// Per shard group, per series (key order), per window: the series' points reduced (1.x's
/// per-series call iterators), then combined in 1.x's merge order. The points are reordered in
/// place by shard group and series, so each window of a series is one slice.
fn reduce_layered(inp: &AggInput, call: &AggCall, mut cp: CallPoints, nranks: usize) -> QResult<Vec<Sample>> {
    let (m, p) = (inp.m, inp.plan);
    let gov = &inp.ctx.governor;
    let n = cp.samples.len();
    // (shard group, rank) of each point in the new order; with the order, 32 bytes a point.
    let mut sorting = gov.hold(n as u64 * 32)?;
    let shard_of = |s: &Sample| functions::aggregate::shard_group_start(s.time, m.shard_dur);
    let perm = stable_order(n, |k| (shard_of(&cp.samples[k]), cp.ranks[k]));
    let keys: Vec<(i64, u32)> = perm.iter().map(|&k| (shard_of(&cp.samples[k]), cp.ranks[k])).collect();
    permute(&mut cp.samples, perm);
    sorting.shrink(n as u64 * 16);
    let mut parts: BTreeMap<i64, Vec<Vec<(i64, Sample, u64)>>> = BTreeMap::new();
    // 1.x's engine reads each series newest first under ORDER BY time DESC: a float sum adds
    // the points of a run in that order.
    if inp.sel.order_desc {
        newest_first(inp.plan, &mut cp.samples, &keys);
    }
    let _parts = reduce_runs(inp, call, &cp.samples, &keys, |(sg, rank), part| {
        let per_series = parts.entry(sg).or_insert_with(|| vec![Vec::new(); nranks]);
        if let (Some(part), Some(list)) = (part, per_series.get_mut(rank as usize)) {
            list.push(part);
        }
    })?;
    drop((sorting, keys, cp));
    let procs = inp.ctx.settings.float_merge_parallelism;
    combine_layered(&call.agg, parts, p.window.is_some(), p.single_selector, procs, gov)
}

/// Reverses each run of `samples` with one key (`keys[i]` is sample i's) and one window.
fn newest_first<K: PartialEq + Copy>(p: &AggPlan, samples: &mut [Sample], keys: &[K]) {
    let n = samples.len().min(keys.len());
    let mut i = 0;
    while i < n {
        let ws = window_of(p, samples[i].time);
        let mut j = i + 1;
        while j < n && keys[j] == keys[i] && window_of(p, samples[j].time) == ws {
            j += 1;
        }
        samples[i..j].reverse();
        i = j;
    }
}

/// Reduces each run of `samples` with one key (`keys[i]` is sample i's; equal keys are adjacent)
/// and one window to a partial result (window start, point, count of non-null points), handed to
/// `put` with its key (`None`: the run reduced to nothing). The partials are charged to the
/// returned hold.
fn reduce_runs<K: PartialEq + Copy>(
    inp: &AggInput,
    call: &AggCall,
    samples: &[Sample],
    keys: &[K],
    mut put: impl FnMut(K, Option<(i64, Sample, u64)>),
) -> QResult<Charge> {
    let p = inp.plan;
    let mut held = Tally::new(&inp.ctx.governor)?;
    let n = samples.len().min(keys.len());
    let mut i = 0;
    while i < n {
        let key = keys[i];
        let ws = window_of(p, samples[i].time);
        let mut j = i + 1;
        while j < n && keys[j] == key && window_of(p, samples[j].time) == ws {
            j += 1;
        }
        inp.ctx.governor.check()?;
        let pts = &samples[i..j];
        let cnt = pts.iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
        let part = reduce_call(call, pts, ws)?.into_iter().next();
        if let Some(s) = &part {
            held.add(part_bytes(s))?;
        }
        put(key, part.map(|s| (ws, s, cnt)));
        i = j;
    }
    Ok(held.settle()?)
}

/// Several subquery sources: 1.x reduces each source on its own (a call iterator per source),
/// then combines the partials per window in its merge order over the sources (e.g. a mean
/// weighted by each source's count).
fn reduce_by_source(inp: &AggInput, call: &AggCall, mut cp: CallPoints) -> QResult<Vec<Sample>> {
    let p = inp.plan;
    let n = cp.samples.len();
    let nsrc = cp.srcs.iter().max().map_or(0, |&x| x as usize + 1);
    let _sorting = inp.ctx.governor.hold(n as u64 * 24)?;
    // The points reordered by source (stable), so that each source's windows are slices.
    let perm = stable_order(n, |k| cp.srcs[k]);
    let srcs: Vec<u32> = perm.iter().map(|&k| cp.srcs[k]).collect();
    permute(&mut cp.samples, perm);
    let mut per_src: Vec<Vec<(i64, Sample, u64)>> = vec![Vec::new(); nsrc];
    let _parts = reduce_runs(inp, call, &cp.samples, &srcs, |src, part| {
        if let (Some(part), Some(parts)) = (part, per_src.get_mut(src as usize)) {
            parts.push(part);
        }
    })?;
    drop((srcs, cp));
    let keys: Vec<Vec<i64>> = per_src.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
    let order: Vec<&(i64, Sample, u64)> =
        functions::aggregate::go_merge_order(&keys).into_iter().filter_map(|(i, j)| per_src.get(i)?.get(j)).collect();
    let mut reduced = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let ws = order[k].0;
        let mut parts: Vec<(Sample, u64)> = Vec::new();
        while k < order.len() && order[k].0 == ws {
            parts.push((order[k].1.clone(), order[k].2));
            k += 1;
        }
        if let Some((mut s, _)) = functions::aggregate::combine(&call.agg, &parts, ws)? {
            s.time = functions::output_time(&call.agg, s.time, ws, p.single_selector, p.window.is_some());
            reduced.push(s);
        }
    }
    Ok(reduced)
}

/// A call's windows filled as the statement's `fill()` asks (charged before they are made).
fn fill_windows(inp: &AggInput, call: &AggCall, reduced: Vec<Sample>, mem: &mut Charge) -> QResult<Vec<Sample>> {
    let p = inp.plan;
    let Some(w) = &p.window else { return Ok(reduced) };
    if !call.agg.is_filled() || matches!(p.fill, functions::Fill::None) {
        return Ok(reduced);
    }
    let start = p.tr.min.map(|t| w.start(t));
    let end = w.start(p.max);
    let is_count = matches!(call.agg, Aggregate::Count);
    if p.bucket_cap.is_none() {
        check_buckets(&reduced, start, end, w.every)?;
    }
    let cap = p.bucket_cap.unwrap_or(MAX_BUCKETS);
    mem.add(fill_bytes(&reduced, start, end, w.every, cap))?;
    // Under ORDER BY time DESC 1.x's fill iterator walks the windows newest first, so
    // fill(previous) carries the newer window's value (`*FillIterator.Next`, `itr.prev`).
    let desc_previous = inp.sel.order_desc && matches!(p.fill, functions::Fill::Previous);
    let filled = if desc_previous {
        let mut filled = functions::fill(&reduced, w, start, end, &functions::Fill::Null, call.out_type, false, cap);
        previous_newest_first(&mut filled, &reduced);
        filled
    } else {
        functions::fill(&reduced, w, start, end, &p.fill, call.out_type, is_count, cap)
    };
    mem.shrink(reduced.iter().map(govern::sample_bytes).sum());
    Ok(filled)
}

/// `fill(previous)` over windows read newest first: a window without points (one `filled` has and
/// `reduced` has not) takes the value of the nearest newer window with points, null before any.
fn previous_newest_first(filled: &mut [Sample], reduced: &[Sample]) {
    let real: BTreeSet<i64> = reduced.iter().map(|s| s.time).collect();
    let mut prev: Option<Value> = None;
    for s in filled.iter_mut().rev() {
        if real.contains(&s.time) {
            prev = Some(s.value.clone());
        } else if let Some(v) = &prev {
            s.value = v.clone();
        }
    }
}

/// One window's points reduced by one call.
pub(super) fn reduce_call(call: &AggCall, part: &[Sample], ws: i64) -> QResult<Vec<Sample>> {
    if call.inner_distinct {
        let d = functions::reduce(&Aggregate::Distinct, part, ws)?;
        return Ok(functions::reduce(&Aggregate::Count, &d, ws)?);
    }
    if !call.tag_args.is_empty() {
        // top/bottom with tags: the best point per tag combination, then the best N of those.
        let nt = call.tag_args.len();
        let mut by_tag: BTreeMap<Vec<String>, Vec<&Sample>> = BTreeMap::new();
        for s in part.iter().filter(|s| !eval::is_null(&s.value)) {
            let key: Vec<String> = s.aux[s.aux.len().saturating_sub(nt)..].iter().map(|v| format!("{v:?}")).collect();
            by_tag.entry(key).or_default().push(s);
        }
        let one = match call.agg {
            Aggregate::Top(_) => Aggregate::Top(1),
            _ => Aggregate::Bottom(1),
        };
        let mut best = Vec::new();
        for (_, v) in by_tag {
            best.extend(functions::reduce_refs(&one, &v, ws)?);
        }
        best.sort_by_key(|s| s.time);
        return Ok(functions::reduce(&call.agg, &best, ws)?);
    }
    Ok(functions::reduce(&call.agg, part, ws)?)
}

/// Bytes the filled buckets of one call in one group will hold, charged before `fill` makes them:
/// every bucket from `start` (else the first bucket) to `end`, at most `cap`, or those already
/// there.
fn fill_bytes(reduced: &[Sample], start: Option<i64>, end: i64, every: i64, cap: usize) -> u64 {
    let first = start.or_else(|| reduced.first().map(|r| r.time));
    let span = first.map(|s| (end as i128 - s as i128) / every.max(1) as i128 + 1).unwrap_or(0);
    let n = (span.clamp(0, cap as i128) as u64).max(reduced.len() as u64);
    let aux = reduced.first().map_or(0, |s| s.aux.len());
    let aux_block = if aux == 0 { 0 } else { govern::heap_bytes(aux * std::mem::size_of::<Value>()) };
    n * (std::mem::size_of::<Sample>() as u64 + aux_block)
}

/// 1.x's max-select-buckets error, before filling more buckets than memory should hold.
fn check_buckets(rows: &[Sample], start: Option<i64>, end: i64, every: i64) -> QResult<()> {
    let Some(first) = start.or_else(|| rows.first().map(|r| r.time)) else { return Ok(()) };
    if every <= 0 {
        return Ok(());
    }
    let n = (end as i128 - first as i128) / every as i128 + 1;
    if n > MAX_BUCKETS as i128 {
        return Err(format!("max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_items_into_the_order_given() {
        let mut v: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        permute(&mut v, vec![3, 0, 4, 1, 2]);
        assert_eq!(v, ["d", "a", "e", "b", "c"]);
        // Not a permutation: left as it is.
        permute(&mut v, vec![0, 0, 1, 2, 3]);
        assert_eq!(v, ["d", "a", "e", "b", "c"]);
        permute(&mut v, vec![0, 1]);
        assert_eq!(v, ["d", "a", "e", "b", "c"]);
        permute(&mut v, vec![0, 1, 2, 3, 9]);
        assert_eq!(v, ["d", "a", "e", "b", "c"]);
    }

    #[test]
    fn stable_order_keeps_equal_keys_in_place() {
        let keys = [2, 1, 2, 0, 1];
        assert_eq!(stable_order(keys.len(), |k| keys[k]), vec![3, 1, 4, 0, 2]);
    }
}
