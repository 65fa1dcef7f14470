//! `GROUP BY time(…) ORDER BY time DESC LIMIT n [OFFSET k]`: reading only the buckets the answer
//! can show, instead of every bucket since the first point.
//!
//! 1.x answers an aggregate per group and window, fills the windows between the first and the
//! last, and applies LIMIT/OFFSET to each group's rows in time order (newest first under
//! `ORDER BY time DESC`; `query/iterator.go` `newLimitIterator` over the fill iterator). A filled
//! window is one row per group for the calls narrowed here (`count`, `sum`, `mean`, `min`, `max`,
//! `first`, `last`: one value per window, `is_filled`), so with `fill(null)`, `fill(<n>)`,
//! `fill(previous)` or `fill(linear)` the rows of a group run without a gap from its first
//! window to the window of the range's end `E` (the upper bound, else now()), and the answer's
//! `c = n + k` rows are the windows from `L = E - (c-1)·every` to `E`, if the group has rows
//! before `L`.
//!
//! What decides those rows besides the points in `[L, E]`: whether the group's calls have points
//! before `L` at all (the fill starts at the first window with a point when the query has no
//! lower time bound — `fill` — and a group without points in the range is not answered), and,
//! for `fill(linear)`, the value of the latest window before `L` with a point (`fill(previous)`
//! walks newest first under DESC, so it only needs the newer windows, see `reduce`).
//! So before reading, descending scans of each field with a limit of one point per series find
//! each group's latest point before `L`: first over the `c` windows before `L`, then over
//! ranges [`GROWTH`] times longer, further back, until every group of the catalog's series has
//! been found or the range's start is reached (after [`PROBES`] such scans, the rest at once). A
//! group found in a probe has no point in the newer ranges probed before, so its latest point is
//! among that probe's. The read then starts at the earliest window holding one of those points
//! (`R ≤ L`). Every group and call keeps, in `[R, E]`, its latest non-empty window before `L`
//! whole, so its fill start is at or before `L` exactly when it was, and the windows from `L` on
//! are computed from the same points; the windows before `L` that remain are cut by the LIMIT as
//! before. The time range the statement reports (fill start with a lower bound, the bucket
//! check) is unchanged; only what is read is. (A probe is short on purpose: a store answers a
//! limited descending scan by reading the probed range, ClickHouse by grouping its points.)
//!
//! Not narrowed: `fill(none)` (the newest `c` windows with points can be anywhere), a row
//! condition on fields (a probe's latest point may fail it), transformations (they read
//! neighbouring windows), selectors with other fields, `tz()` (windows of unequal length), a
//! subquery source, and VictoriaMetrics (its export reads ascending and whole, so the probe would
//! read the whole history before `L`, more than the rollup it spares).

use super::*;

use crate::backend::ScanOrder;

/// Probes that grow before the last one, which reads the rest of the range.
const PROBES: usize = 4;
/// How much longer each probe's range is than the one before.
const GROWTH: i128 = 8;

/// Where the read of an aggregate statement may start (≥ `plan.min`), or `None` to read it all.
/// `keys`: the statement's GROUP BY tag keys.
pub(super) async fn read_start(backend: &dyn Backend, sel: &Select, m: &MeasInfo, plan: &plan::AggPlan, scan: &[String], keys: &[String]) -> QResult<Option<i64>> {
    let (Some(l), Some(w)) = (answer_start(sel, m, plan, backend.kind()), plan.window.as_ref()) else { return Ok(None) };
    let names = MeasurementFilter::Names(vec![m.name.clone()]);
    let listed = match backend.series(&m.db, m.rp.as_deref(), &names, &plan.cond.pred).await {
        Ok(l) => l,
        Err(crate::backend::BackendError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let groups: BTreeSet<Tags> = listed.iter().map(|s| group_of(keys, &s.tags)).collect();
    let first_span = i128::from(w.start(plan.max)) - i128::from(l) + i128::from(w.every);
    let mut start = l;
    for f in scan {
        let mut found: BTreeSet<Tags> = BTreeSet::new();
        let (mut hi, mut span) = (i128::from(l) - 1, first_span.max(1));
        for probe in 0.. {
            let lo = if probe + 1 >= PROBES { i128::from(plan.min) } else { (hi - span + 1).max(i128::from(plan.min)) };
            let req = m.scan_request(&plan.cond.pred, lo as i64, hi as i64, vec![f.clone()]).ordered(ScanOrder::Desc).limited(Some(1));
            let mut stream = backend.scan(req).await?;
            let mut new: BTreeSet<Tags> = BTreeSet::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                let g = group_of(keys, &chunk.tags);
                if let (Some(&t), false) = (chunk.times.first(), found.contains(&g)) {
                    start = start.min(w.start(t));
                    new.insert(g);
                }
            }
            found.extend(new);
            if lo <= i128::from(plan.min) || groups.iter().all(|g| found.contains(g)) {
                break;
            }
            (hi, span) = (lo - 1, span.saturating_mul(GROWTH));
        }
    }
    Ok(Some(start.max(plan.min)))
}

/// `L` of the module docs when the statement is one this narrows and `L` is inside the range.
fn answer_start(sel: &Select, m: &MeasInfo, plan: &plan::AggPlan, kind: crate::backend::BackendKind) -> Option<i64> {
    let w = plan.window.as_ref()?;
    let narrowed_calls = plan.calls.iter().all(|c| pushdown_fn(&c.agg).is_some() && c.agg.is_filled() && !c.inner_distinct && c.tag_args.is_empty());
    let eligible = sel.order_desc
        && sel.limit > 0
        && !matches!(plan.fill, functions::Fill::None)
        && plan.cond.cond.is_none()
        && plan.aux.is_empty()
        && !plan.raw_transform
        && plan.afields.iter().all(|f| f.transform.is_none())
        && narrowed_calls
        && !plan.calls.is_empty()
        && w.tz.is_none()
        && w.every > 0
        && m.sub.is_none()
        && kind != crate::backend::BackendKind::VictoriaMetrics;
    if !eligible {
        return None;
    }
    let c = sel.limit.saturating_add(sel.offset);
    let back = i128::from(w.every) * (i128::from(c.min(MAX_BUCKETS as u64)) - 1);
    let l = i128::from(w.start(plan.max)) - back;
    (l > i128::from(plan.min)).then_some(l as i64)
}
