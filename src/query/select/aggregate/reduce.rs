//! One group's calls reduced as 1.x reduces them: per shard group, per series (in series-key
//! order) and per window for the functions 1.x layers (its per-series call iterators, then its
//! merges), per subquery source where a subquery has several, else per window over the merged
//! points; or the store's partials combined. Then the windows are filled.

use super::*;

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
                reduce_pushed(call, members, inp.m, p.window.as_ref(), p.window_start_default, p.single_selector, catalog, procs)?
            }
            None => reduce_points(inp, g, call, &ranks)?,
        };
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
        let mut by_key: Vec<(String, usize)> =
            g.members.iter().map(|&si| (crate::model::series_key(&m.name, &inp.data[si].tags), si)).collect();
        let known: std::collections::HashSet<String> = by_key.iter().map(|(k, _)| k.clone()).collect();
        for k in inp.catalog_keys.get(&g.tags).map(|v| v.as_slice()).unwrap_or(&[]) {
            if !known.contains(k) {
                by_key.push((k.clone(), usize::MAX));
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
/// each with its series' rank and source.
struct CallPoints {
    samples: Vec<Sample>,
    ranks: Vec<usize>,
    srcs: Vec<usize>,
}

fn call_points(inp: &AggInput, g: &Group, call: &AggCall, ranks: &SeriesRanks) -> CallPoints {
    let mut cp = CallPoints { samples: Vec::new(), ranks: Vec::new(), srcs: Vec::new() };
    for (t, si, vals) in &g.rows {
        let sd = &inp.data[*si];
        let rc = RowCtx { time: *t, tags: &sd.tags, vals, aggs: &[], aux: &[], cond: false };
        let v = call.arg.eval(&rc);
        if eval::is_null(&v) {
            continue;
        }
        let mut a = inp.aux_of(*t, *si, vals);
        for tk in &call.tag_args {
            let tv = sd.tags.iter().find(|(k, _)| k == tk).map(|(_, v)| v.clone()).unwrap_or_default();
            a.push(Value::String(tv));
        }
        cp.samples.push(Sample { time: *t, value: v, aux: a });
        cp.ranks.push(ranks.of(*si));
        cp.srcs.push(sd.src);
    }
    cp
}

/// A call over the group's points, reduced as 1.x layers it.
fn reduce_points(inp: &AggInput, g: &Group, call: &AggCall, ranks: &SeriesRanks) -> QResult<Vec<Sample>> {
    let (m, p) = (inp.m, inp.plan);
    let cp = call_points(inp, g, call, ranks);
    let partials = functions::aggregate::is_pushed_down(&call.agg) && !call.inner_distinct && call.tag_args.is_empty();
    if let (Aggregate::Integral { unit }, Some(w)) = (&call.agg, &p.window) {
        return Ok(functions::integral(&cp.samples, *unit, Some(w))?);
    }
    if partials && m.sub.is_none() && m.shard_dur > 0 {
        return reduce_layered(inp, call, &cp, ranks.count);
    }
    if partials && m.sub.is_some() && cp.srcs.iter().any(|&x| Some(&x) != cp.srcs.first()) {
        return reduce_by_source(inp, call, &cp);
    }
    let mut samples = cp.samples;
    if matches!(call.agg, Aggregate::Percentile(_) | Aggregate::Mode) && m.sub.is_none() && m.shard_dur > 0 && g.members.len() > 1 {
        // percentile()/mode() read 1.x's sorted merge of the series; its order among equal times
        // decides what their unstable sort by value leaves among ties.
        let perm = functions::aggregate::go_sorted_merge_permutation(&samples, &cp.ranks, m.shard_dur);
        samples = perm.into_iter().filter_map(|k| samples.get(k).cloned()).collect();
    }
    reduce_windows(inp, call, &samples)
}

/// The window start of a point (the statement's start without GROUP BY time).
fn window_of(p: &AggPlan, t: i64) -> i64 {
    p.window.as_ref().map_or(p.window_start_default, |w| w.start(t))
}

/// Per window over the merged points.
fn reduce_windows(inp: &AggInput, call: &AggCall, samples: &[Sample]) -> QResult<Vec<Sample>> {
    let p = inp.plan;
    let mut reduced = Vec::new();
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
            reduced.push(s);
        }
        i = j;
    }
    Ok(reduced)
}

/// Per shard group, per series (key order), per window: the series' points reduced (1.x's
/// per-series call iterators), then combined in 1.x's merge order.
fn reduce_layered(inp: &AggInput, call: &AggCall, cp: &CallPoints, nranks: usize) -> QResult<Vec<Sample>> {
    let (m, p) = (inp.m, inp.plan);
    let mut by_shard: BTreeMap<i64, Vec<Vec<(i64, Vec<Sample>)>>> = BTreeMap::new();
    for (k, smp) in cp.samples.iter().enumerate() {
        let ws = window_of(p, smp.time);
        let sg = functions::aggregate::shard_group_start(smp.time, m.shard_dur);
        let e = by_shard.entry(sg).or_insert_with(|| vec![Vec::new(); nranks]);
        if let Some(list) = cp.ranks.get(k).and_then(|r| e.get_mut(*r)) {
            match list.last_mut() {
                Some((w, pts)) if *w == ws => pts.push(smp.clone()),
                _ => list.push((ws, vec![smp.clone()])),
            }
        }
    }
    let mut parts: BTreeMap<i64, Vec<Vec<(i64, Sample, u64)>>> = BTreeMap::new();
    for (sg, per_series) in by_shard {
        let mut ps = Vec::with_capacity(per_series.len());
        for windows in per_series {
            let mut v = Vec::with_capacity(windows.len());
            for (ws, pts) in windows {
                inp.ctx.governor.check()?;
                let n = pts.iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
                if let Some(s) = reduce_call(call, &pts, ws)?.into_iter().next() {
                    v.push((ws, s, n));
                }
            }
            ps.push(v);
        }
        parts.insert(sg, ps);
    }
    let procs = inp.ctx.settings.float_merge_parallelism;
    combine_layered(&call.agg, parts, p.window.is_some(), p.single_selector, procs)
}

/// Several subquery sources: 1.x reduces each source on its own (a call iterator per source),
/// then combines the partials per window in its merge order over the sources (e.g. a mean
/// weighted by each source's count).
fn reduce_by_source(inp: &AggInput, call: &AggCall, cp: &CallPoints) -> QResult<Vec<Sample>> {
    let p = inp.plan;
    let nsrc = cp.srcs.iter().max().map_or(0, |x| x + 1);
    let mut per_src: Vec<Vec<(i64, Sample, u64)>> = vec![Vec::new(); nsrc];
    for (src, parts) in per_src.iter_mut().enumerate() {
        let pts: Vec<Sample> = cp.samples.iter().zip(&cp.srcs).filter(|(_, &x)| x == src).map(|(p, _)| p.clone()).collect();
        let mut i = 0;
        while i < pts.len() {
            let ws = window_of(p, pts[i].time);
            let mut j = i;
            while j < pts.len() && window_of(p, pts[j].time) == ws {
                j += 1;
            }
            let n = pts[i..j].iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
            if let Some(r) = reduce_call(call, &pts[i..j], ws)?.into_iter().next() {
                parts.push((ws, r, n));
            }
            i = j;
        }
    }
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
    Ok(functions::fill(&reduced, w, start, end, &p.fill, call.out_type, is_count, cap))
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
        let mut by_tag: BTreeMap<Vec<String>, Vec<Sample>> = BTreeMap::new();
        for s in part {
            let key: Vec<String> = s.aux[s.aux.len().saturating_sub(nt)..].iter().map(|v| format!("{v:?}")).collect();
            by_tag.entry(key).or_default().push(s.clone());
        }
        let one = match call.agg {
            Aggregate::Top(_) => Aggregate::Top(1),
            _ => Aggregate::Bottom(1),
        };
        let mut best = Vec::new();
        for (_, v) in by_tag {
            best.extend(functions::reduce(&one, &v, ws)?);
        }
        best.sort_by_key(|s| s.time);
        return Ok(functions::reduce(&call.agg, &best, ws)?);
    }
    Ok(functions::reduce(&call.agg, part, ws)?)
}

/// Bytes the filled buckets of one call in one group will hold, charged before `fill` makes them:
/// every bucket from `start` to `end` (at most `cap`), or those already there.
fn fill_bytes(reduced: &[Sample], start: Option<i64>, end: i64, every: i64, cap: usize) -> u64 {
    let span = start.map(|s| (end as i128 - s as i128) / every.max(1) as i128 + 1).unwrap_or(0);
    let n = (span.clamp(0, cap as i128) as u64).max(reduced.len() as u64);
    n * (std::mem::size_of::<Sample>() as u64 + 16)
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
