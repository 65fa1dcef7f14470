//! Fields over the calls' outputs: the math around the calls, the transformations (derivative,
//! moving averages, holt_winters, the technical-analysis functions) in the order 1.x runs them,
//! and the fields joined into rows.

use super::*;

/// The rows of a group whose fields transform the points themselves (no aggregate call): the
/// points in 1.x's merge order, each field computed and transformed.
pub(super) fn raw_transform_rows(inp: &AggInput, g: &Group) -> QResult<Vec<Vec<Value>>> {
    let (sel, m, p) = (inp.sel, inp.m, inp.plan);
    let desc = sel.order_desc;
    let mut inputs: Vec<(String, Vec<MergeItem>)> = Vec::new();
    for &si in &g.members {
        let sd = &inp.data[si];
        let mut items = Vec::with_capacity(sd.times.len());
        for (j, &t) in sd.times.iter().enumerate() {
            let vals = row_vals(sd, j);
            let rc = RowCtx { time: t, tags: &sd.tags, vals: &vals, aggs: &[], aux: &[], cond: true };
            items.push(MergeItem { time: t, si, j, key: p.key_exprs.iter().map(|e| e.eval(&rc)).collect() });
        }
        if desc {
            items.reverse();
        }
        inputs.push((crate::model::series_key(&m.name, &sd.tags), items));
    }
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
    let table: Vec<(i64, Vec<Value>)> = ordered
        .into_iter()
        .map(|(_, it)| (it.time, inp.aux_of(it.time, it.si, &row_vals(&inp.data[it.si], it.j))))
        .collect();
    // 1.x runs transformations over the stream in the query's order (newest first under ORDER
    // BY time DESC); the answer is put back in time order.
    let stream_desc = desc && m.sub.is_none();
    let mut cols_out: Vec<Vec<Sample>> = Vec::new();
    for f in &p.afields {
        let samples: Vec<Sample> = table
            .iter()
            .map(|(t, a)| {
                let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs: &[], aux: a, cond: false };
                Sample::new(*t, f.expr.eval(&rc))
            })
            .filter(|s| !eval::is_null(&s.value))
            .collect();
        let mut res = match &f.transform {
            Some((name, args)) => apply_transform(name, args, &samples, None, !stream_desc, &inp.ctx.governor)?,
            None => samples,
        };
        if stream_desc {
            res.reverse();
        }
        apply_outer(f.outer.as_ref(), &mut res);
        cols_out.push(res);
    }
    Ok(join_columns(&cols_out))
}

/// The rows of a group of an aggregate statement: the calls' outputs joined by time, each field
/// computed over them (or over the points, for a transformation of raw points next to
/// aggregates) and transformed.
pub(super) fn field_rows(inp: &AggInput, g: &Group, per_call: Vec<Vec<Sample>>) -> QResult<Vec<Vec<Value>>> {
    let (sel, p) = (inp.sel, inp.plan);
    let joined = join_calls(&p.calls, per_call);
    let mut cols_out: Vec<Vec<Sample>> = Vec::new();
    for f in &p.afields {
        let mut samples: Vec<Sample> = Vec::new();
        if f.raw {
            // e.g. `derivative(x), mean(x)`: 1.x answers both, each row with one of them.
            for (t, si, vals) in &g.rows {
                let a = inp.aux_of(*t, *si, vals);
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
            samples = apply_transform(name, args, &nonnull, p.window.as_ref(), !sel.order_desc, &inp.ctx.governor)?;
            if sel.order_desc {
                samples.reverse();
            }
            apply_outer(f.outer.as_ref(), &mut samples);
        }
        cols_out.push(samples);
    }
    let mut rows_out = join_columns(&cols_out);
    if p.afields.iter().all(|f| f.transform.is_none()) {
        // Without fill, rows where every value is null (buckets nobody had) are dropped by
        // construction; keep filled ones.
        rows_out.retain(|r| r.len() > 1);
    }
    Ok(rows_out)
}

/// The calls' outputs as (time, one value per call, aux values): a single call (or a selector
/// answering several points) as it is, several calls joined by time.
fn join_calls(calls: &[AggCall], per_call: Vec<Vec<Sample>>) -> Vec<(i64, Vec<Value>, Vec<Value>)> {
    let mut joined: Vec<(i64, Vec<Value>, Vec<Value>)> = Vec::new();
    if calls.len() == 1 {
        for s in per_call.into_iter().next().unwrap_or_default() {
            joined.push((s.time, vec![s.value], s.aux));
        }
        return joined;
    }
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
    joined
}

/// Joins per-field outputs row by row (fields of one query have rows at the same positions,
/// except transformations, which are joined by time).
fn join_columns(cols: &[Vec<Sample>]) -> Vec<Vec<Value>> {
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
