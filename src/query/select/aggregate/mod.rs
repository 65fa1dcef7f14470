//! Aggregate SELECTs: calls reduced per series, window and shard group as 1.x layers them (or
//! pushed down to the store), combined, filled, joined into rows, transformed.
//!
//! `plan` compiles the statement for one measurement; this file reads its points (or asks the
//! store for partials), groups the series and runs each group through `reduce` (the calls, as
//! 1.x's iterators layer them, and `fill`) and `transform` (the fields over the calls, their
//! transformations, the rows).

use super::*;

use crate::backend::AggregateSeries;

mod plan;
mod reduce;
mod transform;

use plan::AggPlan;

/// One output group: its tags, its series (indexes into the loaded points) and its rows, merged
/// by time (ties keep series order, as 1.x's merge does), filtered by the condition.
struct Group {
    tags: Tags,
    members: Vec<usize>,
    rows: Vec<(i64, usize, Vec<Value>)>,
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
    fn aux_of(&self, t: i64, si: usize, vals: &[Value]) -> Vec<Value> {
        let rc = RowCtx { time: t, tags: &self.data[si].tags, vals, aggs: &[], aux: &[], cond: false };
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
    let Some(plan) = plan::plan(ctx, sel, m, fields, rest, tr, group_by_time, scan)? else { return Ok(vec![]) };
    let keep = |tags: &Tags, t: i64, vals: &[Value]| -> bool {
        if vals[..plan.n_select_fields].iter().all(eval::is_null) {
            return false;
        }
        match &plan.cond.cond {
            Some(ce) => {
                let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
                eval::truthy(&ce.eval(&rc))
            }
            None => true,
        }
    };
    let pushed = if plan.cond.cond.is_none() && plan.aux.is_empty() {
        let p = &plan;
        pushdown(backend, m, &p.calls, scan, &p.cond.pred, p.min, p.max, p.window.as_ref()).await?
    } else {
        None
    };
    let (data, _loaded) = if pushed.is_some() {
        (Vec::new(), ctx.governor.hold(0)?)
    } else {
        let opts = LoadOpts { filter: Some(&keep), cap: None };
        load(backend, m, scan, &plan.cond.pred, plan.min, plan.max, budget, &ctx.governor, opts).await?
    };
    let catalog_keys = catalog_keys(backend, m, &plan.cond.pred, keys).await?;
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
        let rows: Vec<(i64, usize, Vec<Value>)> =
            merged_rows(&data, &members).into_iter().map(|(t, si, j)| (t, si, row_vals(&data[si], j))).collect();
        // What the group builds is charged while it is built.
        let mut group_mem = gov.hold(rows.len() as u64 * (govern::row_bytes(scan.len()) + 16))?;
        let g = Group { tags, members, rows };
        let rows_out = if plan.raw_transform {
            transform::raw_transform_rows(&inp, &g)?
        } else {
            let per_call = reduce::reduce_group(&inp, &g, &mut group_mem)?;
            transform::field_rows(&inp, &g, per_call)?
        };
        if let Some(s) = finish_series(sel, m, g.tags, columns, rows_out) {
            gov.charge(series_bytes(&s))?;
            out.push(s);
        }
    }
    Ok(out)
}

/// Every series of the measurement the tag condition keeps, by group: 1.x splits a shard's
/// series into parallel groups by their number, series without points included (the catalog's
/// series are counted: a series living only in other shard groups counts too).
async fn catalog_keys(backend: &dyn Backend, m: &MeasInfo, pred: &TagPredicate, keys: &[String]) -> QResult<BTreeMap<Tags, Vec<String>>> {
    let mut out: BTreeMap<Tags, Vec<String>> = BTreeMap::new();
    if m.sub.is_some() || m.shard_dur <= 0 {
        return Ok(out);
    }
    let names = MeasurementFilter::Names(vec![m.name.clone()]);
    let list = match backend.series(&m.db, m.rp.as_deref(), &names, pred).await {
        Ok(l) => l,
        Err(crate::backend::BackendError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    for si in list {
        out.entry(group_of(keys, &si.tags)).or_default().push(crate::model::series_key(&m.name, &si.tags));
    }
    Ok(out)
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
