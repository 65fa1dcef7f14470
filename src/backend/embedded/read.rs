//! Reads: scans and aggregates run on blocking threads with read-only connections from a small pool.

use std::sync::Mutex;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;

use super::series::{owned, Tags};
use super::writer::sql_err;
use crate::backend::{AggregateFn, AggregateRow, AggregateSeries, BackendError, FieldCondition, Result, SeriesChunk};
use crate::model::{FieldType, FieldValue};

/// Rows per `SeriesChunk`.
pub const CHUNK_ROWS: usize = 1024;

pub(crate) struct Pool {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub fn new(path: std::path::PathBuf) -> Pool {
        Pool { path, idle: Mutex::new(Vec::new()) }
    }

    pub fn get(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| BackendError::Unavailable(e.to_string()))?;
        c.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql_err)?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(c)
    }

    pub fn put(&self, c: Connection) {
        let mut g = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if g.len() < 8 {
            g.push(c);
        }
    }
}

/// What a scan reads, resolved from the catalog.
pub(crate) struct ScanPlan {
    pub mid: i64,
    /// Matching series, sorted by tags.
    pub series: Vec<(Tags, i64)>,
    /// Per requested field: its column and type, or `None` when the measurement lacks it.
    pub cols: Vec<Option<(i64, FieldType)>>,
    pub min_time: i64,
    pub max_time: i64,
    /// Newest first within each series (the primary key `(series_id, time)` read backwards).
    pub desc: bool,
    /// At most this many rows per series (a table keeps one row per series and time).
    pub limit: Option<usize>,
    /// Rows for which this does not hold are skipped (and not counted by `limit`); it names the
    /// requested fields by `fields` (the request's, in `cols` order).
    pub filter: FieldCondition,
    pub fields: Vec<String>,
}

pub(crate) fn value_of(v: ValueRef<'_>, ty: FieldType) -> Option<FieldValue> {
    Some(match (v, ty) {
        (ValueRef::Null, _) => return None,
        (ValueRef::Real(f), _) => FieldValue::Float(f),
        (ValueRef::Integer(i), FieldType::Float) => FieldValue::Float(i as f64),
        (ValueRef::Integer(i), FieldType::Integer) => FieldValue::Integer(i),
        (ValueRef::Integer(i), FieldType::Unsigned) => FieldValue::Unsigned(i as u64),
        (ValueRef::Integer(i), FieldType::Boolean) => FieldValue::Boolean(i != 0),
        (ValueRef::Integer(i), FieldType::String) => FieldValue::String(i.to_string()),
        (ValueRef::Text(t), _) => FieldValue::String(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(b), _) => FieldValue::String(String::from_utf8_lossy(b).into_owned()),
    })
}

/// `SELECT time, f_a, .. FROM p_N WHERE series_id = ?1 AND time BETWEEN ?2 AND ?3 AND (any not null)`,
/// in ascending (or, `desc`, descending) time: both are walks of the primary key's index.
fn select_sql(mid: i64, cols: &[i64], desc: bool) -> String {
    let mut s = String::from("SELECT time");
    for c in cols {
        s.push_str(&format!(", f_{c}"));
    }
    s.push_str(&format!(" FROM p_{mid} WHERE series_id = ?1 AND time >= ?2 AND time <= ?3"));
    if !cols.is_empty() {
        s.push_str(" AND (");
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                s.push_str(" OR ");
            }
            s.push_str(&format!("f_{c} IS NOT NULL"));
        }
        s.push(')');
    }
    s.push_str(if desc { " ORDER BY time DESC" } else { " ORDER BY time" });
    s
}

/// Streams the plan's rows into `tx`; stops early when the receiver is gone. Each chunk is read
/// by a statement of its own (from the time after the last chunk's), ended before the chunk is
/// sent: a reader holds a snapshot only while it reads, never while its consumer is slow.
pub(crate) fn run_scan(conn: &Connection, plan: ScanPlan, tx: &mpsc::Sender<Result<SeriesChunk>>) -> Result<()> {
    let present: Vec<(usize, i64, FieldType)> =
        plan.cols.iter().enumerate().filter_map(|(i, c)| c.map(|(col, ty)| (i, col, ty))).collect();
    if present.is_empty() && !plan.cols.is_empty() {
        return Ok(());
    }
    let col_ids: Vec<i64> = present.iter().map(|p| p.1).collect();
    let sql = select_sql(plan.mid, &col_ids, plan.desc);
    let mut stmt = match conn.prepare_cached(&sql) {
        Ok(s) => s,
        // The measurement was dropped after we resolved it: nothing to read.
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such") => return Ok(()),
        Err(e) => return Err(sql_err(e)),
    };
    let nf = plan.cols.len();
    let mut j = 0usize;
    let map: Vec<Option<(usize, FieldType)>> = plan
        .cols
        .iter()
        .map(|c| {
            c.map(|(_, ty)| {
                j += 1;
                (j, ty)
            })
        })
        .collect();
    let new_chunk = |tags: &Tags| SeriesChunk {
        tags: owned(tags),
        times: Vec::with_capacity(CHUNK_ROWS),
        columns: (0..nf).map(|_| Vec::with_capacity(CHUNK_ROWS)).collect(),
    };
    // The filter's fields, each with its column in the row (`None`: not read, so absent). Only
    // these are decoded before the filter is judged: a selective condition (TSBS `high-cpu-1`
    // keeps one row in ten) skips decoding the rest of a row it drops.
    let judged: Vec<(&str, Option<(usize, FieldType)>)> =
        plan.filter.fields().into_iter().map(|f| (f, plan.fields.iter().position(|n| n == f).and_then(|i| map[i]))).collect();
    let mut seen: Vec<Option<FieldValue>> = Vec::with_capacity(judged.len());
    for (tags, sid) in &plan.series {
        // The part of the range still to read: `[from, to]`.
        let (mut from, mut to) = (plan.min_time, plan.max_time);
        let mut left = plan.limit.unwrap_or(usize::MAX);
        while left > 0 {
            let mut chunk = new_chunk(tags);
            let want = CHUNK_ROWS.min(left);
            {
                let mut rows = stmt.query(rusqlite::params![sid, from, to]).map_err(sql_err)?;
                while let Some(row) = rows.next().map_err(sql_err)? {
                    if !judged.is_empty() {
                        seen.clear();
                        for (_, m) in &judged {
                            seen.push(match m {
                                Some((j, ty)) => value_of(row.get_ref(*j).map_err(sql_err)?, *ty),
                                None => None,
                            });
                        }
                        let value = |f: &str| judged.iter().position(|(n, _)| *n == f).and_then(|k| seen[k].as_ref());
                        if !plan.filter.holds(&value) {
                            continue;
                        }
                    }
                    chunk.times.push(row.get(0).map_err(sql_err)?);
                    for (i, m) in map.iter().enumerate() {
                        let v = match m {
                            Some((j, ty)) => value_of(row.get_ref(*j).map_err(sql_err)?, *ty),
                            None => None,
                        };
                        chunk.columns[i].push(v);
                    }
                    if chunk.times.len() >= want {
                        break;
                    }
                }
            }
            // The statement is reset here, so no snapshot is held while the consumer (in the
            // end an HTTP client) takes its time: the WAL checkpoint never waits for it.
            let full = chunk.times.len() >= want;
            left -= chunk.times.len();
            let more = match chunk.times.last() {
                Some(&t) if full && plan.desc && t > from => {
                    to = t - 1;
                    true
                }
                Some(&t) if full && !plan.desc && t < to => {
                    from = t + 1;
                    true
                }
                _ => false,
            };
            if !chunk.times.is_empty() && tx.blocking_send(Ok(chunk)).is_err() {
                return Ok(());
            }
            if !more {
                break;
            }
        }
    }
    Ok(())
}

/// One call of an aggregate pass: the column it reads, the column's type, the function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AggCall {
    pub col: i64,
    pub ty: FieldType,
    pub func: AggregateFn,
}

/// What an aggregate pass reads: calls over the same series, range and buckets, answered from one
/// read of each series' rows (`first`/`last` passes hold one call: they seek instead of reading).
pub(crate) struct AggPlan {
    pub mid: i64,
    pub calls: Vec<AggCall>,
    pub min_time: i64,
    pub max_time: i64,
    pub every: i64,
    pub offset: i64,
}

/// Whether `aggregate()` answers `func` on a field of type `ty` exactly. A float `sum`/`mean` is
/// a series' values added one by one in ascending time, as 1.x's per-series reducer (and the
/// evaluator's per-series partial) adds them: the store's partial is the evaluator's to the bit.
pub(crate) fn agg_supported(func: AggregateFn, ty: FieldType) -> bool {
    use FieldType::*;
    match func {
        AggregateFn::Count | AggregateFn::First | AggregateFn::Last => true,
        AggregateFn::Min | AggregateFn::Max | AggregateFn::Sum | AggregateFn::Mean => matches!(ty, Float | Integer | Unsigned),
    }
}

struct Acc {
    start: i64,
    count: u64,
    /// first/last/min/max: the selected (time, value).
    sel: Option<(i64, FieldValue)>,
    isum: i64,
    usum: u64,
    fsum: f64,
}

fn less(a: &FieldValue, b: &FieldValue) -> bool {
    match (a, b) {
        (FieldValue::Float(x), FieldValue::Float(y)) => x < y,
        (FieldValue::Integer(x), FieldValue::Integer(y)) => x < y,
        (FieldValue::Unsigned(x), FieldValue::Unsigned(y)) => x < y,
        _ => false,
    }
}

fn bucket_of(t: i64, every: i64, offset: i64, min_time: i64) -> i64 {
    if every <= 0 {
        return min_time;
    }
    let (t, e, o) = (t as i128, every as i128, offset as i128);
    let s = t - (t - o).rem_euclid(e);
    s.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl Acc {
    fn new(start: i64) -> Acc {
        Acc { start, count: 0, sel: None, isum: 0, usum: 0, fsum: 0.0 }
    }

    fn add(&mut self, func: AggregateFn, t: i64, v: FieldValue) {
        self.count += 1;
        match func {
            AggregateFn::Count => {}
            AggregateFn::First => {
                if self.sel.is_none() {
                    self.sel = Some((t, v));
                }
            }
            AggregateFn::Last => self.sel = Some((t, v)),
            // Rows come in ascending time, so keeping the first extreme keeps the earliest on ties.
            AggregateFn::Min => match &self.sel {
                Some((_, cur)) if !less(&v, cur) => {}
                _ => self.sel = Some((t, v)),
            },
            AggregateFn::Max => match &self.sel {
                Some((_, cur)) if !less(cur, &v) => {}
                _ => self.sel = Some((t, v)),
            },
            AggregateFn::Sum | AggregateFn::Mean => match v {
                FieldValue::Float(x) => self.fsum += x,
                FieldValue::Integer(x) => {
                    self.isum = self.isum.wrapping_add(x);
                    self.fsum += x as f64;
                }
                FieldValue::Unsigned(x) => {
                    self.usum = self.usum.wrapping_add(x);
                    self.fsum += x as f64;
                }
                _ => {}
            },
        }
    }

    fn finish(self, func: AggregateFn, ty: FieldType) -> Option<AggregateRow> {
        if self.count == 0 {
            return None;
        }
        let (point_time, value) = match func {
            AggregateFn::Count => (None, FieldValue::Integer(self.count as i64)),
            AggregateFn::Sum => (
                None,
                match ty {
                    FieldType::Unsigned => FieldValue::Unsigned(self.usum),
                    FieldType::Float => FieldValue::Float(self.fsum),
                    _ => FieldValue::Integer(self.isum),
                },
            ),
            AggregateFn::Mean => (None, FieldValue::Float(self.fsum / self.count as f64)),
            AggregateFn::First | AggregateFn::Last | AggregateFn::Min | AggregateFn::Max => {
                let (t, v) = self.sel?;
                (Some(t), v)
            }
        };
        // first/last: 1, as their key lookups answer (only `mean` combines with the count)
        let count = if matches!(func, AggregateFn::First | AggregateFn::Last) { 1 } else { self.count };
        Some(AggregateRow { bucket_start: self.start, point_time, value, count })
    }
}

/// Key lookups a first/last series may take before it is read row by row instead.
const MAX_LOOKUPS: usize = 64;

/// first/last: per series, per non-empty bucket one lookup on the `(series_id, time)` key (the
/// latest / earliest row holding the field in what is left of the range, whose bucket is then
/// skipped), instead of reading every row. The engine asks per shard group even without
/// `GROUP BY time`, so a series usually has one or two non-empty buckets. A series with more
/// than `MAX_LOOKUPS` is read row by row (lookups would then cost more than the scan).
fn run_first_last(conn: &Connection, plan: &AggPlan, call: AggCall, series: &[(Tags, i64)]) -> Result<Vec<AggregateSeries>> {
    let last = call.func == AggregateFn::Last;
    let sql = format!(
        "SELECT time, f_{c} FROM p_{m} WHERE series_id = ?1 AND time >= ?2 AND time <= ?3 AND f_{c} IS NOT NULL \
         ORDER BY time {dir} LIMIT 1",
        c = call.col,
        m = plan.mid,
        dir = if last { "DESC" } else { "ASC" }
    );
    let mut stmt = match conn.prepare_cached(&sql) {
        Ok(s) => s,
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such") => return Ok(Vec::new()),
        Err(e) => return Err(sql_err(e)),
    };
    let mut out = Vec::new();
    for (tags, sid) in series {
        let mut series_rows: Vec<AggregateRow> = Vec::new();
        let (mut lo, mut hi) = (plan.min_time, plan.max_time);
        let mut too_many = false;
        while lo <= hi {
            if series_rows.len() >= MAX_LOOKUPS {
                too_many = true;
                break;
            }
            let mut rows = stmt.query(rusqlite::params![sid, lo, hi]).map_err(sql_err)?;
            let Some(row) = rows.next().map_err(sql_err)? else { break };
            let t: i64 = row.get(0).map_err(sql_err)?;
            let Some(value) = value_of(row.get_ref(1).map_err(sql_err)?, call.ty) else { break };
            let b = bucket_of(t, plan.every, plan.offset, plan.min_time);
            series_rows.push(AggregateRow { bucket_start: b, point_time: Some(t), value, count: 1 });
            if plan.every <= 0 {
                break;
            }
            if last {
                // b <= t <= hi; what is left lies before this bucket
                if b <= lo {
                    break;
                }
                hi = b - 1;
            } else {
                let next = b as i128 + plan.every as i128;
                if next > hi as i128 {
                    break;
                }
                lo = next as i64;
            }
        }
        if too_many {
            drop(stmt);
            let read = AggPlan { calls: vec![call], ..*plan };
            let mut per_call = vec![Vec::new()];
            scan_series(&mut conn.prepare_cached(&select_sql(plan.mid, &[call.col], false)).map_err(sql_err)?, &read, *sid, &mut per_call)?;
            series_rows = per_call.pop().unwrap_or_default();
            stmt = conn.prepare_cached(&sql).map_err(sql_err)?;
        } else if last {
            series_rows.reverse();
        }
        if !series_rows.is_empty() {
            out.push(AggregateSeries { tags: owned(tags), rows: series_rows });
        }
    }
    Ok(out)
}

/// One series' buckets for every call of the plan, from one read of its rows in the range
/// (`stmt`: `select_sql` over the calls' columns, in call order); each call's rows are appended
/// to `out[call]`.
fn scan_series(stmt: &mut rusqlite::CachedStatement<'_>, plan: &AggPlan, sid: i64, out: &mut [Vec<AggregateRow>]) -> Result<()> {
    let mut rows = stmt.query(rusqlite::params![sid, plan.min_time, plan.max_time]).map_err(sql_err)?;
    let mut accs: Vec<Acc> = plan.calls.iter().map(|_| Acc::new(0)).collect();
    // The current bucket `[start, end)`: rows ascend, so a bucket is found once, not per row.
    let mut cur: Option<(i64, i128)> = None;
    while let Some(row) = rows.next().map_err(sql_err)? {
        let t: i64 = row.get(0).map_err(sql_err)?;
        if !cur.is_some_and(|(_, end)| (t as i128) < end) {
            let b = bucket_of(t, plan.every, plan.offset, plan.min_time);
            finish_buckets(plan, &mut accs, b, out);
            cur = Some((b, if plan.every > 0 { b as i128 + plan.every as i128 } else { i128::MAX }));
        }
        for (k, (call, acc)) in plan.calls.iter().zip(accs.iter_mut()).enumerate() {
            let v = row.get_ref(k + 1).map_err(sql_err)?;
            if call.func == AggregateFn::Count {
                // count needs no value (a string would be copied for nothing)
                acc.count += u64::from(!matches!(v, ValueRef::Null));
            } else if let Some(v) = value_of(v, call.ty) {
                acc.add(call.func, t, v);
            }
        }
    }
    finish_buckets(plan, &mut accs, 0, out);
    Ok(())
}

/// Ends each call's bucket (a call without points in it adds no row) and starts the next at `next`.
fn finish_buckets(plan: &AggPlan, accs: &mut [Acc], next: i64, out: &mut [Vec<AggregateRow>]) {
    for ((call, acc), rows) in plan.calls.iter().zip(accs.iter_mut()).zip(out.iter_mut()) {
        if let Some(done) = std::mem::replace(acc, Acc::new(next)).finish(call.func, call.ty) {
            rows.push(done);
        }
    }
}

/// The plan's calls over `series` (a part of the matching series, sorted): per call, the series
/// with points in the range, in the order given.
pub(crate) fn run_aggregate(conn: &Connection, plan: &AggPlan, series: &[(Tags, i64)]) -> Result<Vec<Vec<AggregateSeries>>> {
    if let [call] = plan.calls[..] {
        if matches!(call.func, AggregateFn::First | AggregateFn::Last) {
            return Ok(vec![run_first_last(conn, plan, call, series)?]);
        }
    }
    let cols: Vec<i64> = plan.calls.iter().map(|c| c.col).collect();
    let mut stmt = match conn.prepare_cached(&select_sql(plan.mid, &cols, false)) {
        Ok(s) => s,
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.starts_with("no such") => {
            return Ok(plan.calls.iter().map(|_| Vec::new()).collect())
        }
        Err(e) => return Err(sql_err(e)),
    };
    let mut out: Vec<Vec<AggregateSeries>> = plan.calls.iter().map(|_| Vec::new()).collect();
    let mut per_call: Vec<Vec<AggregateRow>> = plan.calls.iter().map(|_| Vec::new()).collect();
    for (tags, sid) in series {
        scan_series(&mut stmt, plan, *sid, &mut per_call)?;
        for (rows, o) in per_call.iter_mut().zip(out.iter_mut()) {
            if !rows.is_empty() {
                o.push(AggregateSeries { tags: owned(tags), rows: std::mem::take(rows) });
            }
        }
    }
    Ok(out)
}
