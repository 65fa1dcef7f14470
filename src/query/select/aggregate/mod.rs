//! Aggregate SELECTs: calls reduced per series, window and shard group as 1.x layers them (or
//! pushed down to the store), combined, filled, joined into rows, transformed.
//!
//! `plan` compiles the statement for one measurement, `narrow` narrows what ORDER BY time DESC
//! LIMIT reads; this file reads its points (or asks the store for partials), groups the series
//! and runs each group through `reduce` (the calls, as 1.x's iterators layer them, and `fill`)
//! and `transform` (the fields over the calls, their transformations, the rows).

use super::*;

use crate::backend::AggregateSeries;

mod narrow;
mod plan;
mod reduce;
mod transform;

use plan::AggPlan;

/// One output group: its tags, its series (indexes into the loaded points) and its rows, merged
/// by time (ties keep series order, as 1.x's merge does), or, over a subquery's merged stream, in
/// the stream's order within each window (see `stream_rows`); filtered by the condition.
struct Group {
    tags: Tags,
    members: Vec<usize>,
    rows: Vec<RowRef>,
}

/// What every group of a measurement shares while it is evaluated.
struct AggInput<'a> {
    ctx: &'a QueryContext,
    sel: &'a Select,
    m: &'a MeasInfo,
    plan: &'a AggPlan,
    data: &'a [SeriesData],
    /// Partials the store computed, by call, then by group (`None`: the points were read).
    pushed: Option<Vec<BTreeMap<Tags, Vec<&'a AggregateSeries>>>>,
    /// Series keys in the catalog, by group (see [`catalog_keys`]).
    catalog_keys: BTreeMap<Tags, Vec<String>>,
}

impl AggInput<'_> {
    /// The aux values of a row (what a selector shows next to its value, raw transformations).
    fn aux_of(&self, r: RowRef) -> Vec<Value> {
        let sd = &self.data[r.si()];
        let rc = RowCtx { time: r.time, tags: &sd.tags, vals: sd.row(r.j()), aggs: &[], aux: &[], cond: false };
        self.plan.aux.iter().map(|a| a.eval(&rc)).collect()
    }
}

/// The series of an aggregate statement over one measurement.
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
    let Some(mut plan) = plan::plan(ctx, sel, m, fields, rest, tr, group_by_time, scan)? else { return Ok(vec![]) };
    // ORDER BY time DESC LIMIT n: only the windows the answer can show are read (`narrow`).
    if let Some(start) = narrow::read_start(backend, sel, m, &plan, scan, keys).await? {
        plan.min = start;
    }
    let keep = |tags: &Tags, t: i64, vals: &[Value]| plan.cond.keeps(plan.n_select_fields, tags, t, vals);
    // Under ORDER BY time DESC 1.x adds a series' points newest first: float sums are left to
    // the evaluator (stores sum oldest first).
    let desc_sums = sel.order_desc && plan.calls.iter().any(|c| matches!(c.agg, functions::Aggregate::Sum | functions::Aggregate::Mean));
    let pushed = if plan.cond.cond.is_none() && plan.aux.is_empty() && !desc_sums {
        let p = &plan;
        pushdown(backend, m, &p.calls, scan, &p.cond.pred, p.min, p.max, p.window.as_ref()).await?
    } else {
        None
    };
    let (data, _loaded) = if let Some(by_call) = &pushed {
        (Vec::new(), ctx.governor.hold(pushed_bytes(by_call))?)
    } else {
        let opts = LoadOpts { filter: Some(&keep), cap: None, where_fields: Some(&plan.cond.fields) };
        load(backend, m, scan, &plan.cond.pred, plan.min, plan.max, budget, &ctx.governor, opts).await?
    };
    let (catalog_keys, _catalog_mem) = catalog_keys(backend, &ctx.governor, m, &plan.cond.pred, keys).await?;
    let mut groups: BTreeMap<Tags, Vec<usize>> = BTreeMap::new();
    for (i, sd) in data.iter().enumerate() {
        groups.entry(group_of(keys, &sd.tags)).or_default().push(i);
    }
    let pushed = pushed.as_ref().map(|by_call| pushed_by_group(by_call, keys, &mut groups));
    let inp = AggInput { ctx, sel, m, plan: &plan, data: &data, pushed, catalog_keys };
    let gov = &ctx.governor;
    let mut out = Vec::new();
    for (tags, members) in groups {
        gov.check()?;
        // What the group builds is charged while it is built (before, where its size is known);
        // its answer's rows stay charged.
        let n = members.iter().map(|&si| data[si].times.len()).sum::<usize>() as u64;
        let mut group_mem = gov.hold(n * ROW_REF_BYTES)?;
        let sorting = gov.hold(if members.len() > 1 { n * ROW_REF_BYTES / 2 } else { 0 })?;
        let rows = if m.sub.is_some() && m.sub_ordered && !plan.raw_transform {
            stream_rows(&data, &members, |t| reduce::window_of(&plan, t))
        } else {
            merged_rows(&data, &members)
        };
        let g = Group { rows, tags, members };
        drop(sorting);
        let rows_out = if plan.raw_transform {
            transform::raw_transform_rows(&inp, &g, &mut group_mem)?
        } else {
            let per_call = reduce::reduce_group(&inp, &g, &mut group_mem)?;
            transform::field_rows(&inp, &g, per_call, &mut group_mem)?
        };
        if let Some(s) = finish_series(sel, m, g.tags, columns, rows_out) {
            let answer = series_bytes(&s);
            group_mem.grow_to(answer)?;
            group_mem.keep(answer);
            out.push(s);
        }
    }
    Ok(out)
}

/// Bytes the store's partials hold.
fn pushed_bytes(by_call: &[Vec<AggregateSeries>]) -> u64 {
    let row = std::mem::size_of::<crate::backend::AggregateRow>();
    let tag_bytes = |t: &Tags| t.iter().map(|(k, v)| govern::heap_bytes(k.len()) + govern::heap_bytes(v.len()) + 48).sum::<u64>();
    by_call
        .iter()
        .flatten()
        .map(|s| govern::heap_bytes(s.rows.len() * row) + tag_bytes(&s.tags) + std::mem::size_of::<AggregateSeries>() as u64)
        .sum()
}

/// Every series of the measurement the tag condition keeps, by group: 1.x splits a shard's
/// series into parallel groups by their number, series without points included (the catalog's
/// series are counted: a series living only in other shard groups counts too).
/// The keys are charged while they are held.
async fn catalog_keys(
    backend: &dyn Backend,
    gov: &Governor,
    m: &MeasInfo,
    pred: &TagPredicate,
    keys: &[String],
) -> QResult<(BTreeMap<Tags, Vec<String>>, Charge)> {
    let mut out: BTreeMap<Tags, Vec<String>> = BTreeMap::new();
    if m.sub.is_some() || m.shard_dur <= 0 {
        return Ok((out, gov.hold(0)?));
    }
    let names = MeasurementFilter::Names(vec![m.name.clone()]);
    let list = match backend.series(&m.db, m.rp.as_deref(), &names, pred).await {
        Ok(l) => l,
        Err(crate::backend::BackendError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let listed = list.iter().map(|si| govern::tags_bytes(&si.tags) + 72).sum::<u64>();
    let mut held = gov.hold(listed)?;
    let mut kept = govern::Tally::new(gov)?;
    for si in list {
        let key = crate::model::series_key(&m.name, &si.tags);
        // The key, its slot, and its share of the ranks `reduce` makes of the group's keys.
        kept.add(govern::heap_bytes(key.len()) + 24 + 48)?;
        out.entry(group_of(keys, &si.tags)).or_default().push(key);
    }
    held.shrink(listed);
    held.absorb(kept.settle()?);
    Ok((out, held))
}

/// The store's partials by call, then by group; their groups join `groups`.
fn pushed_by_group<'a>(
    by_call: &'a [Vec<AggregateSeries>],
    keys: &[String],
    groups: &mut BTreeMap<Tags, Vec<usize>>,
) -> Vec<BTreeMap<Tags, Vec<&'a AggregateSeries>>> {
    by_call
        .iter()
        .map(|per_call| {
            let mut by_group: BTreeMap<Tags, Vec<&AggregateSeries>> = BTreeMap::new();
            for ser in per_call {
                let g = group_of(keys, &ser.tags);
                groups.entry(g.clone()).or_default();
                by_group.entry(g).or_default().push(ser);
            }
            by_group
        })
        .collect()
}

/// A group's rows as an answer's series: ORDER BY time DESC, LIMIT and OFFSET applied.
fn finish_series(sel: &Select, m: &MeasInfo, tags: Tags, columns: &[String], mut rows: Vec<Vec<Value>>) -> Option<Series> {
    if sel.order_desc {
        rows.reverse();
    }
    let rows = limits::apply(rows, sel.limit, sel.offset);
    if rows.is_empty() {
        return None;
    }
    Some(Series { name: m.name.clone(), tags, columns: columns.to_vec(), values: rows, partial: false })
}
