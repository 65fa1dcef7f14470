//! Fields over the calls' outputs: the math around the calls, the transformations (derivative,
//! moving averages, holt_winters, the technical-analysis functions) in the order 1.x runs them,
//! and the fields joined into rows.

use super::*;

/// The rows of a group whose fields transform the points themselves (no aggregate call): the
/// points in 1.x's merge order, each field computed and transformed. The rows' charge is added to
/// `mem`.
pub(super) fn raw_transform_rows(inp: &AggInput, g: &Group, mem: &mut Charge) -> QResult<Vec<Vec<Value>>> {
    let (sel, m, p) = (inp.sel, inp.m, inp.plan);
    let gov = &inp.ctx.governor;
    let desc = sel.order_desc;
    let mut items_mem = govern::Tally::new(gov)?;
    let mut inputs: Vec<(String, Vec<MergeItem>)> = Vec::new();
    for &si in &g.members {
        let sd = &inp.data[si];
        let mut items = Vec::with_capacity(sd.times.len());
        for (j, &t) in sd.times.iter().enumerate() {
            let rc = RowCtx { time: t, tags: &sd.tags, vals: sd.row(j), aggs: &[], aux: &[], cond: true };
            let it = MergeItem { time: t, si, j, key: merge_key(&p.key_exprs, &rc) };
            // The item, and its place in the merged order.
            items_mem.add(2 * it.bytes())?;
            items.push(it);
        }
        if desc {
            items.reverse();
        }
        inputs.push((crate::model::series_key(&m.name, &sd.tags), items));
    }
    let items_mem = items_mem.settle()?;
    inputs.sort_by(|a, b| a.0.cmp(&b.0));
    if desc {
        inputs.reverse();
    }
    let ordered = if m.sub.is_some() {
        let mut flat: Vec<(usize, MergeItem)> =
            inputs.into_iter().enumerate().flat_map(|(i, inp)| inp.1.into_iter().map(move |it| (i, it))).collect();
        // Ascending, series order kept for equal times.
        flat.sort_by(|a, b| a.1.time.cmp(&b.1.time).then_with(|| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }));
        flat
    } else {
        merge(inputs.into_iter().map(|i| i.1).collect(), &|x, y| merge_less(x.1, y.1, desc))
    };
    let order_mem = gov.hold(ordered.len() as u64 * std::mem::size_of::<RowRef>() as u64)?;
    // Not collected in place: the merged items' block is freed, not kept under the references.
    let mut order: Vec<RowRef> = Vec::with_capacity(ordered.len());
    order.extend(ordered.into_iter().map(|(_, it)| RowRef::new(it.time, it.si, it.j)));
    drop(items_mem);
    // 1.x runs transformations over the stream in the query's order (newest first under ORDER
    // BY time DESC); the answer is put back in time order.
    let stream_desc = desc && m.sub.is_none();
    let mut cols_out: Vec<Vec<Sample>> = Vec::new();
    let mut cols_mem = govern::Tally::new(gov)?;
    for f in &p.afields {
        let mut in_mem = govern::Tally::new(gov)?;
        let mut samples: Vec<Sample> = Vec::new();
        for &r in &order {
            let a = inp.aux_of(r);
            let rc = RowCtx { time: r.time, tags: &[], vals: &[], aggs: &[], aux: &a, cond: false };
            let s = Sample::new(r.time, f.expr.eval(&rc));
            if !eval::is_null(&s.value) {
                // The point, and the reference the transformation reads it through.
                in_mem.add(govern::sample_bytes(&s) + 8)?;
                samples.push(s);
            }
        }
        let mut res = match &f.transform {
            Some((name, args)) => apply_transform(name, args, &samples, None, !stream_desc, gov)?,
            None => samples,
        };
        if stream_desc {
            res.reverse();
        }
        apply_outer(f.outer.as_ref(), &mut res);
        for s in &res {
            cols_mem.add(govern::sample_bytes(s))?;
        }
        cols_out.push(res);
    }
    drop((order, order_mem));
    let _cols_mem = cols_mem.settle()?;
    join_columns(&cols_out, mem, gov)
}

/// The rows of a group of an aggregate statement: the calls' outputs joined by time, each field
/// computed over them (or over the points, for a transformation of raw points next to
/// aggregates) and transformed. The rows' charge is added to `mem`.
pub(super) fn field_rows(inp: &AggInput, g: &Group, per_call: Vec<Vec<Sample>>, mem: &mut Charge) -> QResult<Vec<Vec<Value>>> {
    let (sel, p) = (inp.sel, inp.plan);
    let gov = &inp.ctx.governor;
    let joined = Joined::new(&p.calls, per_call, gov)?;
    if p.afields.iter().all(|f| f.transform.is_none() && !f.raw) {
        // Each row straight from the calls' outputs at its time.
        let mut rows_mem = govern::Tally::new(gov)?;
        let mut rows = Vec::with_capacity(joined.len());
        for k in 0..joined.len() {
            let (t, aggs, aux) = joined.get(k);
            let rc = RowCtx { time: t, tags: &[], vals: &[], aggs, aux, cond: false };
            let mut row = Vec::with_capacity(1 + p.afields.len());
            row.push(Value::Time(t));
            row.extend(p.afields.iter().map(|f| f.expr.eval(&rc)));
            rows_mem.add(govern::rows_bytes(std::slice::from_ref(&row)))?;
            rows.push(row);
        }
        mem.absorb(rows_mem.settle()?);
        return Ok(rows);
    }
    let mut cols_out: Vec<Vec<Sample>> = Vec::new();
    let mut cols_mem = govern::Tally::new(gov)?;
    for f in &p.afields {
        let mut samples: Vec<Sample> = Vec::new();
        if f.raw {
            // e.g. `derivative(x), mean(x)`: 1.x answers both, each row with one of them.
            for &r in &g.rows {
                let a = inp.aux_of(r);
                let rc = RowCtx { time: r.time, tags: &[], vals: &[], aggs: &[], aux: &a, cond: false };
                let s = Sample::new(r.time, f.expr.eval(&rc));
                cols_mem.add(govern::sample_bytes(&s))?;
                samples.push(s);
            }
        } else {
            for k in 0..joined.len() {
                let (t, aggs, aux) = joined.get(k);
                let rc = RowCtx { time: t, tags: &[], vals: &[], aggs, aux, cond: false };
                let s = Sample::new(t, f.expr.eval(&rc));
                cols_mem.add(govern::sample_bytes(&s))?;
                samples.push(s);
            }
        }
        if let Some((name, args)) = &f.transform {
            let mut nonnull: Vec<Sample> = samples.into_iter().filter(|s| !eval::is_null(&s.value)).collect();
            // 1.x walks the buckets in the query's order (newest first under DESC).
            if sel.order_desc {
                nonnull.reverse();
            }
            samples = apply_transform(name, args, &nonnull, p.window.as_ref(), !sel.order_desc, gov)?;
            if sel.order_desc {
                samples.reverse();
            }
            apply_outer(f.outer.as_ref(), &mut samples);
        }
        cols_out.push(samples);
    }
    drop(joined);
    let _cols_mem = cols_mem.settle()?;
    let mut rows_out = join_columns(&cols_out, mem, gov)?;
    if p.afields.iter().all(|f| f.transform.is_none()) {
        // Without fill, rows where every value is null (buckets nobody had) are dropped by
        // construction; keep filled ones.
        rows_out.retain(|r| r.len() > 1);
    }
    Ok(rows_out)
}

/// The calls' outputs as rows of (time, one value per call, aux values): a single call (or a
/// selector answering several points) as it is, several calls joined by time.
enum Joined {
    One(Vec<Sample>),
    Many(Vec<(i64, Vec<Value>)>, #[allow(dead_code)] Charge),
}

impl Joined {
    fn new(calls: &[AggCall], per_call: Vec<Vec<Sample>>, gov: &Governor) -> QResult<Joined> {
        if calls.len() == 1 {
            return Ok(Joined::One(per_call.into_iter().next().unwrap_or_default()));
        }
        let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
        let mut held = govern::Tally::new(gov)?;
        for (k, samples) in per_call.iter().enumerate() {
            for s in samples {
                row_at(&mut by_time, s.time, calls.len(), &mut held)?[k] = s.value.clone();
                held.add(govern::value_bytes(&s.value))?;
            }
        }
        Ok(Joined::Many(by_time.into_iter().collect(), held.settle()?))
    }

    fn len(&self) -> usize {
        match self {
            Joined::One(v) => v.len(),
            Joined::Many(v, _) => v.len(),
        }
    }

    /// Row `k`: its time, the calls' values, the aux values.
    fn get(&self, k: usize) -> (i64, &[Value], &[Value]) {
        match self {
            Joined::One(v) => (v[k].time, std::slice::from_ref(&v[k].value), &v[k].aux),
            Joined::Many(v, _) => (v[k].0, &v[k].1, &[]),
        }
    }
}

/// Joins per-field outputs row by row (fields of one query have rows at the same positions,
/// except transformations, which are joined by time); the rows are charged to `mem` as they are
/// made.
fn join_columns(cols: &[Vec<Sample>], mem: &mut Charge, gov: &Governor) -> QResult<Vec<Vec<Value>>> {
    let n = cols.len();
    let mut rows_mem = govern::Tally::new(gov)?;
    let mut out: Vec<Vec<Value>> = Vec::new();
    if cols.iter().all(|c| c.len() == cols[0].len()) {
        for i in 0..cols.first().map(|c| c.len()).unwrap_or(0) {
            let mut row = Vec::with_capacity(n + 1);
            row.push(Value::Time(cols[0][i].time));
            for c in cols {
                row.push(c[i].value.clone());
            }
            rows_mem.add(govern::rows_bytes(std::slice::from_ref(&row)))?;
            out.push(row);
        }
        mem.absorb(rows_mem.settle()?);
        return Ok(out);
    }
    let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (k, c) in cols.iter().enumerate() {
        for s in c {
            row_at(&mut by_time, s.time, n + 1, &mut rows_mem)?[k + 1] = s.value.clone();
            rows_mem.add(govern::value_bytes(&s.value))?;
        }
    }
    for (t, mut row) in by_time {
        row[0] = Value::Time(t);
        out.push(row);
    }
    mem.absorb(rows_mem.settle()?);
    Ok(out)
}

/// The values at time `t` (`width` nulls, charged with their map entry, when new).
fn row_at<'a>(by_time: &'a mut BTreeMap<i64, Vec<Value>>, t: i64, width: usize, held: &mut govern::Tally) -> QResult<&'a mut Vec<Value>> {
    Ok(match by_time.entry(t) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            held.add(govern::row_bytes(width) + 16)?;
            e.insert(vec![Value::Null; width])
        }
    })
}

/// A transformation over a field's points (in the query's order when `ascending` is false).
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
        let fit = name == "holt_winters_with_fit";
        return Ok(functions::holt_winters::holt_winters(samples, h, m, every, fit, &gov.stopper())?);
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
        return Ok(functions::ta::Ta::new(kind, period, hold, warmup).apply(samples)?);
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
    Ok(t.apply_ordered(samples, ascending)?)
}
