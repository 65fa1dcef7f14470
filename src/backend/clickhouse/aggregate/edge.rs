//! `last` (or `first`) calls read near the end (or start) of their series: a group whose calls
//! are all `last` reads only the rows at or after the earliest of its buckets' last times.
//!
//! # Why
//!
//! A pushed-down `last(*) … GROUP BY *` (`lastpoint`) is one pass of `argMax` over every row of
//! the range, each field's columns read and aggregated: at 100 hosts × 30 h (1.08M rows) about
//! 380 ms of ClickHouse 18.16's CPU a query, where 1.x reads one block per series. The last
//! points are a few rows at the end of each series.
//!
//! # How, and why it is exact
//!
//! 1. `SELECT _sid, <bucket>, max(time) … GROUP BY _sid, <bucket>` over the group's rows (same
//!    range and series, no field condition): the groups `G` and, per group, its last time. It
//!    reads `_sid` and `time` only (17 MB for the 1.08M rows above, a tenth of the whole pass).
//!    `T` is the earliest of those last times.
//! 2. The group's statement ([`statement`](super::statement)) over `time >= T` only.
//!
//! Take a group `g` and a call of field `f`. If the narrowed answer has a point of `f` in `g`,
//! the last point of `f` in `g` is at or after that point's time, which is at least `T`; every
//! row of `g` at or after `T` was read, so the narrowed answer's last point of `f` in `g` (and,
//! with rewritten points, its merged value: every row of that time was read) is the whole
//! range's. So the narrowed answer is the whole one where, for every group of step 1, every
//! call has a point: checked by the `(_sid, bucket start)` pairs (`read_answer`'s `complete`),
//! not by counting, so a group that appeared between the two statements cannot stand for one
//! that lost its points. Otherwise (a field absent from a group's recent rows, a series written
//! between the statements) the group's statement runs over the whole range as before, which
//! costs step 1 and 2 more (a tenth of the whole pass and its recent rows, measured above).
//! `first` is the mirror image (`min(time)`, the latest of the first times, `time <= T`).
//!
//! # Latest only
//!
//! `last()` without `GROUP BY time` (`AggregateRequest::latest_only`, the same flag
//! VictoriaMetrics' recent window answers) asks one bucket per shard group, and the caller keeps
//! of each series the latest. There step 1 groups by `_sid` alone: `T` is the earliest of the
//! series' last times, not of every shard group's, so a statement over weeks of shard groups
//! reads near the end of the newest rather than of the oldest. Exact by the argument above, per
//! series: if the narrowed answer has, for a series, a row where every call has a point, each
//! call's last point in that series is at or after `T` and was read, in whatever bucket it lies;
//! an older bucket it answers is exact too (its last point is at or after any of its points
//! read), and one it misses is not wanted. The check is then per series (a row of the series
//! with every call answered), else the whole range as above.
//!
//! Only where the statement groups by `_sid` (the series table listed the series: one server,
//! a table made since `_sid`), so that both statements name a group the same way.

use std::collections::HashSet;

use super::super::dialect::{ident, table};
use super::super::names::{SID, TIME};
use super::super::rowbinary::Cursor;
use super::super::scan::Rows;
use super::super::Inner;
use super::{bucket_sql, not_pushed, prewhere_sql, where_sql, Group, MAX_ROWS};
use crate::backend::{AggregateFn, AggregateSeries, BackendError, Result};

/// Which end every call of the group reads: `Some(true)` all `last`, `Some(false)` all `first`.
fn end_of(g: &Group<'_>) -> Option<bool> {
    let all = |f: AggregateFn| g.calls.iter().all(|c| c.func == f);
    if all(AggregateFn::Last) {
        Some(true)
    } else if all(AggregateFn::First) {
        Some(false)
    } else {
        None
    }
}

/// The group's answer read near its end (module docs); `None`: not answered this way (the
/// caller asks the whole range).
pub(super) async fn answer(inner: &Inner, g: &Group<'_>) -> Result<Option<Vec<Vec<AggregateSeries>>>> {
    let Some(last) = end_of(g) else { return Ok(None) };
    if g.narrow.ids.is_none() || g.calls.is_empty() {
        return Ok(None);
    }
    let latest = last && g.calls.iter().all(|c| c.latest_only);
    let (lo, hi) = (g.req.scan.min_time, g.req.scan.max_time);
    let (keys, bound) = match ends(inner, g, last, latest).await {
        Ok(Some(k)) => k,
        Ok(None) | Err(BackendError::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let range = if last { (bound.max(lo), hi) } else { (lo, bound.min(hi)) };
    if range == (lo, hi) {
        // Nothing to narrow: the whole range is the caller's statement.
        return Ok(None);
    }
    let mut complete = HashSet::new();
    let Some(a) = super::answer(inner, g, range, Some(&mut complete)).await? else { return Ok(None) };
    let whole = if latest {
        // Each series needs one row where every call has a point (module docs, "Latest only").
        let answered: HashSet<u64> = complete.iter().map(|k| k.0).collect();
        keys.iter().all(|k| answered.contains(&k.0))
    } else {
        keys.iter().all(|k| complete.contains(k))
    };
    Ok(whole.then_some(a))
}

/// Step 1 (module docs): every `(_sid, bucket start)` with rows, and the earliest of their last
/// times (`last`; else the latest of their first times); with `latest`, every `_sid` (bucket 0)
/// and the earliest of the series' last times. `None`: no rows, or more groups than an answer
/// may hold.
async fn ends(inner: &Inner, g: &Group<'_>, last: bool, latest: bool) -> Result<Option<(HashSet<(u64, i64)>, i64)>> {
    let scan = &g.req.scan;
    let sid = ident(SID);
    let (b, by) = if latest {
        ("toInt64(0)".to_string(), sid.clone())
    } else {
        let b = bucket_sql(g.req.every, g.req.offset, scan.min_time);
        (b.clone(), format!("{sid}, {b}"))
    };
    let sql = format!(
        "SELECT {sid}, {b}, {f}({t}) FROM {tbl}{pre} WHERE {cond} GROUP BY {by} LIMIT {limit} FORMAT RowBinary",
        f = if last { "max" } else { "min" },
        t = ident(TIME),
        tbl = table(g.chdb, &scan.measurement),
        pre = prewhere_sql(g.narrow, (scan.min_time, scan.max_time)),
        cond = where_sql(g.req, g.s, g.narrow, (scan.min_time, scan.max_time)),
        limit = MAX_ROWS + 1,
    );
    let settings = super::settings(inner, g.narrow);
    let ans = inner.retry_missing(|| inner.client.stream(&sql, &settings)).await.map_err(not_pushed)?;
    let mut rows = Rows::new(ans);
    let mut keys = HashSet::new();
    let mut bound: Option<i64> = None;
    while let Some((h, start, t)) = rows.next(|c| Ok(key_row(c))).await.map_err(not_pushed)? {
        if keys.len() as u64 >= MAX_ROWS {
            return Ok(None);
        }
        keys.insert((h, start));
        bound = Some(match bound {
            None => t,
            Some(x) if last => x.min(t),
            Some(x) => x.max(t),
        });
    }
    Ok(bound.map(|b| (keys, b)))
}

fn key_row(c: &mut Cursor<'_>) -> Option<(u64, i64, i64)> {
    Some((c.u64()?, c.i64()?, c.i64()?))
}
