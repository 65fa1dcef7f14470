//! Aggregate SELECTs: calls reduced per series, window and shard group as 1.x layers them (or
//! pushed down to the store), combined, filled, joined into rows, transformed.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) async fn aggregate_measurement(
    backend: &dyn Backend,
    ctx: &QueryContext,
    sel: &Select,
    m: &MeasInfo,
    fields: &[Field],
    columns: &[String],
    rest: Option<&Expr>,
    tr: TimeRange,
    keys: &[String],
    group_by_time: Option<(i64, i64)>,
    scan: &mut Vec<String>,
    budget: &mut usize,
) -> QResult<Vec<Series>> {
    let mut calls: Vec<AggCall> = Vec::new();
    let mut aux: Vec<CExpr> = Vec::new();
    let mut afields: Vec<AggField> = Vec::new();
    for f in fields {
        // A transformation may sit inside arithmetic or math (`non_negative_derivative(mean(x),
        // 1s) * 8`): the outer expression is applied to its output points.
        let mut outer_expr = None;
        let (inner, transform) = match f.expr.unparen() {
            Expr::Call { name, args } if is_transform_name(name) => {
                (args.first().cloned().unwrap_or(Expr::Null), Some((name.clone(), args.clone())))
            }
            e => match take_transform(e) {
                Some((outer, name, args)) => {
                    outer_expr = Some(compile_outer(&outer)?);
                    (args.first().cloned().unwrap_or(Expr::Null), Some((name, args)))
                }
                None => (e.clone(), None),
            },
        };
        let raw = transform.is_some() && !has_agg_call(&inner);
        let expr = if raw {
            // A transformation of raw points: the points are the field's values.
            let c = compile_row(&inner, m, scan, false)?;
            aux.push(c);
            CExpr::Aux(aux.len() - 1)
        } else {
            compile_agg_expr(&inner, m, scan, &mut calls, &mut aux)?
        };
        afields.push(AggField { expr, transform, raw, outer: outer_expr });
    }
    let raw_transform = calls.is_empty();
    if raw_transform && group_by_time.is_some() {
        return Err(format!(
            "aggregate function required inside the call to {}",
            afields.iter().find_map(|f| f.transform.as_ref().map(|t| t.0.clone())).unwrap_or_default()
        ).into());
    }
    if scan.is_empty() {
        return Ok(vec![]);
    }
    let n_select_fields = scan.len();
    // Transformations of raw points see them in 1.x's merge order (see `merge`).
    let mut key_exprs: Vec<CExpr> = Vec::new();
    if raw_transform {
        let mut names: Vec<(String, Option<VarHint>)> = Vec::new();
        for f in fields {
            collect_vars(&f.expr, &mut names);
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names.dedup_by(|a, b| a.0 == b.0);
        for (n, h) in &names {
            key_exprs.push(compile_row(&Expr::Var { name: n.clone(), hint: *h }, m, scan, true)?);
        }
    }
    let c = compile_condition(m, rest, scan)?;
    // derivative/difference/elapsed of buckets need the bucket before the first one (1.x reads
    // one interval more).
    let mut tr = tr;
    if let Some((every, _)) = group_by_time {
        let extends = afields.iter().any(|f| {
            matches!(
                f.transform.as_ref().map(|t| t.0.as_str()),
                Some("derivative" | "non_negative_derivative" | "difference" | "non_negative_difference" | "elapsed")
            ) || f.transform.as_ref().is_some_and(|t| {
                // moving_average and the technical-analysis functions too; their outputs in that
                // interval are kept (1.6.7).
                t.0 == "moving_average" || functions::ta::TaKind::from_name(&t.0).is_some()
            })
        });
        // Under ORDER BY time DESC 1.x reads the interval after the range instead.
        if extends && !sel.order_desc {
            if let Some(lo) = tr.min {
                tr.min = Some(lo.saturating_sub(every));
            }
        } else if extends {
            tr.max = Some(tr.max.unwrap_or(ctx.now).saturating_add(every));
        }
    }
    let min = tr.min_or();
    let max = match (group_by_time, tr.max) {
        (Some(_), None) => ctx.now,
        _ => tr.max_or(),
    };
    // With LIMIT (ascending, no transformation) only the first LIMIT + OFFSET buckets are needed.
    let bucket_cap = if sel.limit > 0 && !sel.order_desc && afields.iter().all(|f| f.transform.is_none()) {
        Some(sel.limit.saturating_add(sel.offset).min(MAX_BUCKETS as u64) as usize)
    } else {
        None
    };
    if let (Some((every, _)), Some(lo), None) = (group_by_time, tr.min, bucket_cap) {
        // Filling every bucket of a huge range would take all memory; 1.x's
        // max-select-buckets error instead.
        let n = (max as i128 - lo as i128) / every as i128 + 1;
        if n > MAX_BUCKETS as i128 && !matches!(sel.fill, Fill::None) {
            return Err(format!("max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})").into());
        }
    }
    let keep = |tags: &Tags, t: i64, vals: &[Value]| -> bool {
        if vals[..n_select_fields].iter().all(eval::is_null) {
            return false;
        }
        match &c.cond {
            Some(ce) => {
                let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
                eval::truthy(&ce.eval(&rc))
            }
            None => true,
        }
    };
    let tz = match &sel.tz {
        Some(name) => Some(name.parse::<chrono_tz::Tz>().map_err(|_| format!("unable to find time zone {name}"))?),
        None => None,
    };
    let window = group_by_time.map(|(every, offset)| Window::new(every, offset, tz));
    let pushed = if c.cond.is_none() && aux.is_empty() {
        pushdown(backend, m, &calls, scan, &c.pred, min, max, window.as_ref()).await?
    } else {
        None
    };
    let (data, _loaded) = if pushed.is_some() {
        (Vec::new(), ctx.governor.hold(0)?)
    } else {
        let opts = LoadOpts { filter: Some(&keep), cap: None };
        load(backend, m, scan, &c.pred, min, max, budget, &ctx.governor, opts).await?
    };
    let window_start_default = tr.min.unwrap_or(MIN_TIME);
    let single_selector = calls.len() == 1 && calls[0].agg.is_selector() && afields.len() == 1 || {
        calls.len() == 1 && calls[0].agg.is_selector() && !aux.is_empty()
    };

    // Every series of the measurement the tag condition keeps, by group: 1.x splits a shard's
    // series into parallel groups by their number, series without points included (we count
    // the catalog's series: a series living only in other shard groups counts too).
    let mut catalog_keys: BTreeMap<Tags, Vec<String>> = BTreeMap::new();
    if m.sub.is_none() && m.shard_dur > 0 {
        let names = MeasurementFilter::Names(vec![m.name.clone()]);
        let list = match backend.series(&m.db, m.rp.as_deref(), &names, &c.pred).await {
            Ok(l) => l,
            Err(e) if e.origin() == crate::backend::Origin::Downstream => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for si in list {
            catalog_keys.entry(group_of(keys, &si.tags)).or_default().push(crate::model::series_key(&m.name, &si.tags));
        }
    }
    let mut groups: BTreeMap<Tags, Vec<usize>> = BTreeMap::new();
    for (i, sd) in data.iter().enumerate() {
        groups.entry(group_of(keys, &sd.tags)).or_default().push(i);
    }
    // Pushed-down partials by call, then by group.
    let mut pushed_groups: Vec<BTreeMap<Tags, Vec<&crate::backend::AggregateSeries>>> = Vec::new();
    if let Some(p) = &pushed {
        for per_call in p {
            let mut by_group: BTreeMap<Tags, Vec<&crate::backend::AggregateSeries>> = BTreeMap::new();
            for ser in per_call {
                let g = group_of(keys, &ser.tags);
                groups.entry(g.clone()).or_default();
                by_group.entry(g).or_default().push(ser);
            }
            pushed_groups.push(by_group);
        }
    }
    let fill = match &sel.fill {
        Fill::Null => functions::Fill::Null,
        Fill::None => functions::Fill::None,
        Fill::Previous => functions::Fill::Previous,
        Fill::Linear => functions::Fill::Linear,
        Fill::Value(FillValue::Integer(i)) => functions::Fill::Number(Value::Integer(*i)),
        Fill::Value(FillValue::Float(f)) => functions::Fill::Number(Value::Float(*f)),
        Fill::Value(FillValue::Unsigned(u)) => functions::Fill::Number(Value::Unsigned(*u)),
        Fill::Value(_) => functions::Fill::Null,
    };

    let mut out = Vec::new();
    let gov = &ctx.governor;
    for (gtags, members) in groups {
        // The group's rows, filtered by the condition, with the selected-field presence rule;
        // what the group builds is charged while it is built (`group_mem`).
        gov.check()?;
        let mut rows: Vec<(i64, usize, Vec<Value>)> = Vec::new();
        for (t, si, j) in merged_rows(&data, &members) {
            let vals = row_vals(&data[si], j);
            rows.push((t, si, vals));
        }
        let mut group_mem = gov.hold(rows.len() as u64 * (govern::row_bytes(scan.len()) + 16))?;
        let aux_of = |t: i64, si: usize, vals: &[Value]| -> Vec<Value> {
            let rc = RowCtx { time: t, tags: &data[si].tags, vals, aggs: &[], aux: &[], cond: false };
            aux.iter().map(|a| a.eval(&rc)).collect()
        };

        let mut table: Vec<(i64, Vec<Value>)> = Vec::new();
        if raw_transform {
            // Transformations straight over the points, in 1.x's merge order.
            let mut inputs: Vec<(String, Vec<MergeItem>)> = Vec::new();
            for &si in &members {
                let sd = &data[si];
                let mut items = Vec::with_capacity(sd.times.len());
                for (j, &t) in sd.times.iter().enumerate() {
                    let vals = row_vals(sd, j);
                    let rc = RowCtx { time: t, tags: &sd.tags, vals: &vals, aggs: &[], aux: &[], cond: true };
                    items.push(MergeItem { time: t, si, j, key: key_exprs.iter().map(|e| e.eval(&rc)).collect() });
                }
                if sel.order_desc {
                    items.reverse();
                }
                inputs.push((crate::model::series_key(&m.name, &sd.tags), items));
            }
            inputs.sort_by(|a, b| a.0.cmp(&b.0));
            if sel.order_desc {
                inputs.reverse();
            }
            let desc = sel.order_desc;
            let ordered = if m.sub.is_some() {
                let mut flat: Vec<(usize, MergeItem)> =
                    inputs.into_iter().enumerate().flat_map(|(i, inp)| inp.1.into_iter().map(move |it| (i, it))).collect();
                // Ascending, series order kept for equal times.
                flat.sort_by(|a, b| a.1.time.cmp(&b.1.time).then_with(|| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }));
                flat
            } else {
                merge(inputs.into_iter().map(|i| i.1).collect(), &|x, y| merge_less(x.1, y.1, desc))
            };
            for (_, it) in ordered {
                let vals = row_vals(&data[it.si], it.j);
                table.push((it.time, aux_of(it.time, it.si, &vals)));
            }
            // 1.x runs transformations over the stream in the query's order (newest first
            // under ORDER BY time DESC); the answer is put back in time order below.
            let stream_desc = desc && m.sub.is_none();
            let mut cols_out: Vec<Vec<Sample>> = Vec::new();
            for f in &afields {
                let samples: Vec<Sample> = table
                    .iter()
                    .map(|(t, a)| {
                        let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs: &[], aux: a, cond: false };
                        Sample::new(*t, f.expr.eval(&rc))
                    })
                    .filter(|s| !eval::is_null(&s.value))
                    .collect();
                let mut res = match &f.transform {
                    Some((name, args)) => apply_transform(name, args, &samples, None, !stream_desc, gov)?,
                    None => samples,
                };
                if stream_desc {
                    res.reverse();
                }
                apply_outer(f.outer.as_ref(), &mut res);
                cols_out.push(res);
            }
            let rows_out = join_columns(&cols_out);
            if let Some(s) = finish_series(sel, m, gtags, columns, rows_out) {
                gov.charge(series_bytes(&s))?;
                out.push(s);
            }
            continue;
        }

        // Series-key rank of each member series (1.x reduces series in that order).
        let mut by_key: Vec<(String, usize)> =
            members.iter().map(|&si| (crate::model::series_key(&m.name, &data[si].tags), si)).collect();
        // series without points here still count (see `catalog_keys`): they get no index
        let known: std::collections::HashSet<String> = by_key.iter().map(|(k, _)| k.clone()).collect();
        for k in catalog_keys.get(&gtags).map(|v| v.as_slice()).unwrap_or(&[]) {
            if !known.contains(k) {
                by_key.push((k.clone(), usize::MAX));
            }
        }
        by_key.sort();
        let mut rank_by_si: BTreeMap<usize, usize> = BTreeMap::new();
        for (r, (_, si)) in by_key.iter().enumerate() {
            rank_by_si.insert(*si, r);
        }
        let rank_of = |si: usize| rank_by_si.get(&si).copied().unwrap_or(0);
        let nranks = by_key.len();

        // Per call: samples, windowed, reduced, filled.
        let mut per_call: Vec<Vec<Sample>> = Vec::new();
        for (ci, call) in calls.iter().enumerate() {
            if pushed.is_some() {
                let members: &[&crate::backend::AggregateSeries] =
                    pushed_groups.get(ci).and_then(|g| g.get(&gtags)).map(|v| v.as_slice()).unwrap_or(&[]);
                let mut reduced =
                    reduce_pushed(call, members, m, window.as_ref(), window_start_default, single_selector, catalog_keys.get(&gtags), ctx.settings.float_merge_parallelism)?;
                if let Some(w) = &window {
                    if call.agg.is_filled() && !matches!(fill, functions::Fill::None) {
                        let start = tr.min.map(|t| w.start(t));
                        let end = w.start(max);
                        let is_count = matches!(call.agg, Aggregate::Count);
                        if bucket_cap.is_none() {
                            check_buckets(&reduced, start, end, w.every)?;
                        }
                        let cap = bucket_cap.unwrap_or(MAX_BUCKETS);
                        group_mem.add(fill_bytes(&reduced, start, end, w.every, cap))?;
                        reduced = functions::fill(&reduced, w, start, end, &fill, call.out_type, is_count, cap);
                    }
                }
                per_call.push(reduced);
                continue;
            }
            let mut samples: Vec<Sample> = Vec::new();
            let mut ranks: Vec<usize> = Vec::new();
            let mut srcs: Vec<usize> = Vec::new();
            for (t, si, vals) in &rows {
                let rc = RowCtx { time: *t, tags: &data[*si].tags, vals, aggs: &[], aux: &[], cond: false };
                let v = call.arg.eval(&rc);
                if eval::is_null(&v) {
                    continue;
                }
                let mut a = aux_of(*t, *si, vals);
                for tk in &call.tag_args {
                    let tv = data[*si].tags.iter().find(|(k, _)| k == tk).map(|(_, v)| v.clone()).unwrap_or_default();
                    a.push(Value::String(tv));
                }
                samples.push(Sample { time: *t, value: v, aux: a });
                ranks.push(rank_of(*si));
                srcs.push(data[*si].src);
            }
            let layered = functions::aggregate::is_pushed_down(&call.agg)
                && !call.inner_distinct
                && call.tag_args.is_empty()
                && m.sub.is_none()
                && m.shard_dur > 0;
            let mut reduced: Vec<Sample> = Vec::new();
            if let (Aggregate::Integral { unit }, Some(w)) = (&call.agg, &window) {
                reduced = functions::integral(&samples, *unit, Some(w)).map_err(QueryError::from)?;
            } else if layered {
                // Per shard group, per series (key order), per window: the series' points
                // reduced (1.x's per-series call iterators), then combined in 1.x's merge order.
                let mut by_shard: BTreeMap<i64, Vec<Vec<(i64, Vec<Sample>)>>> = BTreeMap::new();
                for (k, smp) in samples.iter().enumerate() {
                    let ws = match &window {
                        Some(w) => w.start(smp.time),
                        None => window_start_default,
                    };
                    let sg = functions::aggregate::shard_group_start(smp.time, m.shard_dur);
                    let e = by_shard.entry(sg).or_insert_with(|| vec![Vec::new(); nranks]);
                    if let Some(list) = ranks.get(k).and_then(|r| e.get_mut(*r)) {
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
                            gov.check()?;
                            let n = pts.iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
                            if let Some(s) = reduce_call(call, &pts, ws)?.into_iter().next() {
                                v.push((ws, s, n));
                            }
                        }
                        ps.push(v);
                    }
                    parts.insert(sg, ps);
                }
                reduced = combine_layered(&call.agg, parts, window.is_some(), single_selector, ctx.settings.float_merge_parallelism)?;
            } else if m.sub.is_some()
                && functions::aggregate::is_pushed_down(&call.agg)
                && !call.inner_distinct
                && call.tag_args.is_empty()
                && srcs.iter().any(|&x| Some(&x) != srcs.first())
            {
                // Several subquery sources: 1.x reduces each source on its own (a call iterator
                // per source), then combines the partials per window in its merge order over
                // the sources (e.g. a mean weighted by each source's count).
                let window_of = |t: i64| window.as_ref().map(|w| w.start(t)).unwrap_or(window_start_default);
                let nsrc = srcs.iter().max().map_or(0, |x| x + 1);
                let mut per_src: Vec<Vec<(i64, Sample, u64)>> = vec![Vec::new(); nsrc];
                for (src, parts) in per_src.iter_mut().enumerate() {
                    let pts: Vec<Sample> =
                        samples.iter().zip(&srcs).filter(|(_, &x)| x == src).map(|(p, _)| p.clone()).collect();
                    let mut i = 0;
                    while i < pts.len() {
                        let ws = window_of(pts[i].time);
                        let mut j = i;
                        while j < pts.len() && window_of(pts[j].time) == ws {
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
                let order: Vec<&(i64, Sample, u64)> = functions::aggregate::go_merge_order(&keys)
                    .into_iter()
                    .filter_map(|(i, j)| per_src.get(i)?.get(j))
                    .collect();
                let mut k = 0;
                while k < order.len() {
                    let ws = order[k].0;
                    let mut parts: Vec<(Sample, u64)> = Vec::new();
                    while k < order.len() && order[k].0 == ws {
                        parts.push((order[k].1.clone(), order[k].2));
                        k += 1;
                    }
                    if let Some((mut s, _)) = combine_parts(&call.agg, &parts, ws)? {
                        s.time = functions::output_time(&call.agg, s.time, ws, single_selector, window.is_some());
                        reduced.push(s);
                    }
                }
            } else {
                if matches!(call.agg, Aggregate::Percentile(_) | Aggregate::Mode) && m.sub.is_none() && m.shard_dur > 0 && members.len() > 1 {
                    // percentile()/mode() read 1.x's sorted merge of the series; its order among
                    // equal times decides what their unstable sort by value leaves among ties.
                    let perm = functions::aggregate::go_sorted_merge_permutation(&samples, &ranks, m.shard_dur);
                    samples = perm.into_iter().filter_map(|k| samples.get(k).cloned()).collect();
                }
                let mut i = 0;
                while i < samples.len() {
                    let ws = match &window {
                        Some(w) => w.start(samples[i].time),
                        None => window_start_default,
                    };
                    let mut j = i;
                    while j < samples.len() && window.as_ref().map(|w| w.start(samples[j].time) == ws).unwrap_or(true) {
                        j += 1;
                    }
                    let part = &samples[i..j];
                    gov.check()?;
                    let res = reduce_call(call, part, ws)?;
                    for mut s in res {
                        s.time = functions::output_time(&call.agg, s.time, ws, single_selector, window.is_some());
                        reduced.push(s);
                    }
                    i = j;
                }
            }
            if let Some(w) = &window {
                if call.agg.is_filled() && !matches!(fill, functions::Fill::None) {
                    let start = tr.min.map(|t| w.start(t));
                    let end = w.start(max);
                    let is_count = matches!(call.agg, Aggregate::Count);
                    if bucket_cap.is_none() {
                        check_buckets(&reduced, start, end, w.every)?;
                    }
                    let cap = bucket_cap.unwrap_or(MAX_BUCKETS);
                    group_mem.add(fill_bytes(&reduced, start, end, w.every, cap))?;
                    reduced = functions::fill(&reduced, w, start, end, &fill, call.out_type, is_count, cap);
                }
            }
            per_call.push(reduced);
        }

        // Join the calls' outputs into rows.
        let multi = calls.len() == 1
            && matches!(calls[0].agg, Aggregate::Top(_) | Aggregate::Bottom(_) | Aggregate::Distinct | Aggregate::Sample(_));
        let mut joined: Vec<(i64, Vec<Value>, Vec<Value>)> = Vec::new();
        if multi || calls.len() == 1 {
            for s in &per_call[0] {
                joined.push((s.time, vec![s.value.clone()], s.aux.clone()));
            }
        } else {
            let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
            for (k, samples) in per_call.iter().enumerate() {
                for s in samples {
                    let e = by_time.entry(s.time).or_insert_with(|| vec![Value::Null; calls.len()]);
                    e[k] = s.value.clone();
                }
            }
            for (t, v) in by_time {
                joined.push((t, v, vec![]));
            }
        }
        let mut cols_out: Vec<Vec<Sample>> = Vec::new();
        for f in &afields {
            let mut samples: Vec<Sample> = Vec::new();
            if f.raw {
                // e.g. `derivative(x), mean(x)`: 1.x answers both, each row with one of them.
                for (t, si, vals) in &rows {
                    let a = aux_of(*t, *si, vals);
                    let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs: &[], aux: &a, cond: false };
                    samples.push(Sample::new(*t, f.expr.eval(&rc)));
                }
            } else {
                for (t, aggs, auxv) in &joined {
                    let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs, aux: auxv, cond: false };
                    samples.push(Sample::new(*t, f.expr.eval(&rc)));
                }
            }
            if let Some((name, args)) = &f.transform {
                let mut nonnull: Vec<Sample> = samples.into_iter().filter(|s| !eval::is_null(&s.value)).collect();
                // 1.x walks the buckets in the query's order (newest first under DESC).
                if sel.order_desc {
                    nonnull.reverse();
                }
                samples = apply_transform(name, args, &nonnull, window.as_ref(), !sel.order_desc, gov)?;
                if sel.order_desc {
                    samples.reverse();
                }
                apply_outer(f.outer.as_ref(), &mut samples);
            }
            cols_out.push(samples);
        }
        let mut rows_out = join_columns(&cols_out);
        if afields.iter().all(|f| f.transform.is_none()) {
            // Without fill, rows where every value is null (buckets nobody had) are dropped by
            // construction; keep filled ones.
            rows_out.retain(|r| r.len() > 1);
        }
        if let Some(s) = finish_series(sel, m, gtags, columns, rows_out) {
            gov.charge(series_bytes(&s))?;
            out.push(s);
        }
    }
    Ok(out)
}

pub(super) fn reduce_call(call: &AggCall, part: &[Sample], ws: i64) -> QResult<Vec<Sample>> {
    if call.inner_distinct {
        let d = functions::reduce(&Aggregate::Distinct, part, ws).map_err(QueryError::from)?;
        return functions::reduce(&Aggregate::Count, &d, ws).map_err(QueryError::from);
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
            best.extend(functions::reduce(&one, &v, ws).map_err(QueryError::from)?);
        }
        best.sort_by_key(|s| s.time);
        return functions::reduce(&call.agg, &best, ws).map_err(QueryError::from);
    }
    functions::reduce(&call.agg, part, ws).map_err(QueryError::from)
}

pub(super) fn apply_transform(
    name: &str,
    args: &[Expr],
    samples: &[Sample],
    window: Option<&Window>,
    ascending: bool,
    gov: &Governor,
) -> QResult<Vec<Sample>> {
    use functions::transform::{default_derivative_unit, Transform};
    let every = window.map(|w| w.every);
    let unit = args.get(1).and_then(duration_arg);
    if name == "holt_winters" || name == "holt_winters_with_fit" {
        let h = args.get(1).and_then(int_arg).unwrap_or(0);
        let m = args.get(2).and_then(int_arg).unwrap_or(0);
        let every = window.map(|w| w.every).unwrap_or(0);
        return functions::holt_winters::holt_winters(samples, h, m, every, name == "holt_winters_with_fit", &gov.stopper())
            .map_err(QueryError::from);
    }
    if let Some(kind) = functions::ta::TaKind::from_name(name) {
        let period = args.get(1).and_then(int_arg).unwrap_or(1).max(1) as usize;
        let hold = match args.get(2).and_then(int_arg) {
            Some(h) if h >= 0 => Some(h.min(u32::MAX as i64) as u32),
            _ => None,
        };
        let warmup = match args.get(3).map(Expr::unparen) {
            Some(Expr::Str(w)) => functions::ta::Warmup::parse(w),
            _ => None,
        };
        return functions::ta::Ta::new(kind, period, hold, warmup).apply(samples).map_err(QueryError::from);
    }
    let t = match name {
        "derivative" => Transform::Derivative { unit: unit.unwrap_or(default_derivative_unit(every)), non_negative: false },
        "non_negative_derivative" => {
            Transform::Derivative { unit: unit.unwrap_or(default_derivative_unit(every)), non_negative: true }
        }
        "difference" => Transform::Difference { non_negative: false },
        "non_negative_difference" => Transform::Difference { non_negative: true },
        "elapsed" => Transform::Elapsed { unit: unit.unwrap_or(1) },
        "moving_average" => Transform::MovingAverage(args.get(1).and_then(int_arg).unwrap_or(2).max(1) as usize),
        "cumulative_sum" => Transform::CumulativeSum,
        _ => return Err(format!("undefined function {name}()").into()),
    };
    t.apply_ordered(samples, ascending).map_err(QueryError::from)
}

/// Joins per-field outputs row by row (fields of one query have rows at the same positions,
/// except transformations, which are joined by time).
pub(super) fn join_columns(cols: &[Vec<Sample>]) -> Vec<Vec<Value>> {
    let n = cols.len();
    let mut out: Vec<Vec<Value>> = Vec::new();
    if cols.iter().all(|c| c.len() == cols[0].len()) {
        for i in 0..cols.first().map(|c| c.len()).unwrap_or(0) {
            let mut row = vec![Value::Time(cols[0][i].time)];
            for c in cols {
                row.push(c[i].value.clone());
            }
            out.push(row);
        }
        // Append aux columns of the single selector (its extra selected fields).
        return out;
    }
    let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (k, c) in cols.iter().enumerate() {
        for s in c {
            let e = by_time.entry(s.time).or_insert_with(|| vec![Value::Null; n]);
            e[k] = s.value.clone();
        }
    }
    for (t, v) in by_time {
        let mut row = vec![Value::Time(t)];
        row.extend(v);
        out.push(row);
    }
    out
}

pub(super) fn finish_series(sel: &Select, m: &MeasInfo, tags: Tags, columns: &[String], mut rows: Vec<Vec<Value>>) -> Option<Series> {
    if sel.order_desc {
        rows.reverse();
    }
    let rows = apply_limits(rows, sel.limit, sel.offset);
    if rows.is_empty() {
        return None;
    }
    Some(Series { name: m.name.clone(), tags, columns: columns.to_vec(), values: rows, partial: false })
}

/// 1.x's max-select-buckets error, before filling more buckets than memory should hold.
/// Bytes the filled buckets of one call in one group will hold, charged before `fill` makes them:
/// every bucket from `start` to `end` (at most `cap`), or those already there.
pub(super) fn fill_bytes(reduced: &[Sample], start: Option<i64>, end: i64, every: i64, cap: usize) -> u64 {
    let span = start.map(|s| (end as i128 - s as i128) / every.max(1) as i128 + 1).unwrap_or(0);
    let n = (span.clamp(0, cap as i128) as u64).max(reduced.len() as u64);
    n * (std::mem::size_of::<Sample>() as u64 + 16)
}

pub(super) fn check_buckets(rows: &[Sample], start: Option<i64>, end: i64, every: i64) -> QResult<()> {
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
