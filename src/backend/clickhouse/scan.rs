//! Reads: series lists and scans, streamed out of RowBinary answers.
//!
//! A scan is one statement, whatever the number of series:
//!
//! ```text
//! SELECT _series, time, <fields> FROM <table>
//! WHERE <cond> := time >= lo AND time <= hi AND <tags pushed down> [AND _series IN (<set>)]
//!                 AND (<a field> IS NOT NULL OR ...)
//!  [AND (_series, time) GLOBAL IN (SELECT _series, time FROM <table> WHERE <cond> [AND <fields>]
//!                           [GROUP BY _series, time ORDER BY _series, time [DESC] LIMIT n BY _series])]
//! ORDER BY _series, time [DESC], _seq
//! ```
//!
//! The request's series set becomes `_series IN (...)` (up to [`MAX_SERIES_LIST_BYTES`] of
//! text), and where the table has `_sid`, also `_sid IN (cityHash64(...), ...)`, as the series
//! the series table lists for the predicate add their numbers ([`Narrowing::sids`]): implied by
//! the list, and what the order key `(_sid, time)` of tables made since serves (see `schema`).
//! Its order is the `ORDER BY` (rows of one point stay adjacent and in `_seq` order either
//! way); its per-series limit is `LIMIT n BY _series` over the distinct `(_series, time)` pairs
//! (`LIMIT BY` exists since ClickHouse 1.1; over rows it could cut a rewritten point's rows in
//! two), so every point answered is whole; `<fields>` is the request's field pre-filter as
//! `fieldcond` writes it (which keeps whole points too).
//!
//! read as it arrives: memory is one piece of the answer, one row being decoded and one chunk of
//! [`CHUNK_ROWS`] rows, whatever the number of points. Rows of one series and time (a point
//! written more than once) are adjacent and merged as 1.x merges writes: each field takes its
//! value from the latest row (`_seq`) that has one. Series arrive in `_series` order, which is
//! the order of tag sets (see [`names`](mod@super::names)).
//!
//! Tag conditions: `=` and `!=` become conditions on tag columns (a tag key the table has no
//! column for is `''` in every row, as 1.x reads a missing tag); regular expressions are not
//! pushed down (ClickHouse's re2 and Go's regexp differ at the edges). Either way
//! `TagPredicate::matches` decides for every series, so the answer is exact; the SQL only narrows
//! what is read. A predicate nested deeper than [`MAX_PUSHDOWN_DEPTH`] is not pushed down at all
//! (current ClickHouse refuses statements nested past `max_parser_depth`).

use std::sync::Arc;

use futures::stream::BoxStream;
use tokio::sync::mpsc;

use super::catalog::{self, policies};
use super::client::Answer;
use super::dialect::{bytes, ident, int, string, table};
use super::names::{parse_series_id, series_id, SERIES, SEQ, SID, TIME};
use super::rowbinary::Cursor;
use super::schema::{self, TableSchema};
use super::series_table::Narrowing;
use super::{Inner, CHUNK_ROWS};
use crate::backend::{BackendError, MeasurementFilter, Result, ScanOrder, ScanRequest, SeriesChunk, SeriesInfo, TagPredicate};
use crate::model::{FieldType, FieldValue};

/// Deepest tag predicate turned into SQL.
pub const MAX_PUSHDOWN_DEPTH: usize = 64;

/// Longest list of series ids put into a statement (ClickHouse parses at most `max_query_size`,
/// 256 KiB by default, of a statement's text); a longer set is filtered here, not in SQL.
pub const MAX_SERIES_LIST_BYTES: usize = 64 * 1024;

fn depth(p: &TagPredicate) -> usize {
    match p {
        TagPredicate::And(a, b) | TagPredicate::Or(a, b) => 1 + depth(a).max(depth(b)),
        _ => 1,
    }
}

/// A condition selecting at least the rows of the series `pred` matches (module docs).
pub fn predicate_sql(pred: &TagPredicate, s: &TableSchema) -> String {
    if depth(pred) > MAX_PUSHDOWN_DEPTH {
        return "1".into();
    }
    sql_of(pred, s)
}

fn sql_of(pred: &TagPredicate, s: &TableSchema) -> String {
    let cmp = |k: &str, v: &str, op: &str, missing_eq: bool| match s.tags.get(k) {
        Some(c) => format!("{} {op} {}", ident(c), string(v)),
        None => if missing_eq == v.is_empty() { "1" } else { "0" }.to_string(),
    };
    match pred {
        TagPredicate::True | TagPredicate::Match(..) | TagPredicate::NotMatch(..) => "1".into(),
        TagPredicate::Eq(k, v) => cmp(k, v, "=", true),
        TagPredicate::Ne(k, v) => cmp(k, v, "!=", false),
        TagPredicate::And(a, b) => format!("({} AND {})", sql_of(a, s), sql_of(b, s)),
        TagPredicate::Or(a, b) => format!("({} OR {})", sql_of(a, s), sql_of(b, s)),
    }
}

/// An answer read row by row.
pub struct Rows {
    ans: Answer,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Rows {
    pub fn new(ans: Answer) -> Rows {
        Rows { ans, buf: Vec::new(), pos: 0, done: false }
    }

    /// Decodes the next row with `f` (which answers `None` when the bytes end inside the row);
    /// `None` at the end of the answer.
    pub async fn next<T>(&mut self, mut f: impl FnMut(&mut Cursor<'_>) -> Result<Option<T>>) -> Result<Option<T>> {
        loop {
            if self.pos < self.buf.len() {
                let mut c = Cursor::new(&self.buf[self.pos..]);
                if let Some(v) = f(&mut c)? {
                    self.pos += c.pos;
                    return Ok(Some(v));
                }
            }
            if self.done {
                if self.pos < self.buf.len() {
                    return Err(BackendError::Internal("clickhouse: answer ends inside a row".into()));
                }
                return Ok(None);
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            match self.ans.chunk().await? {
                Some(b) => self.buf.extend_from_slice(&b),
                None => self.done = true,
            }
        }
    }
}

/// The series of one table matching `pred`, as tag sets: from its series table, or for a table
/// made before those, `SELECT DISTINCT _series` of the table.
async fn table_series(inner: &Inner, chdb: &str, m: &str, s: &TableSchema, pred: &TagPredicate) -> Result<Vec<Vec<(String, String)>>> {
    if s.series_table {
        let listing = super::listing::listed(inner, chdb, m).await?;
        if let Some(all) = listing.series() {
            return Ok(all.iter().filter_map(|x| x.tags.as_ref().filter(|t| pred.matches(t)).cloned()).collect());
        }
        if let Some(all) = super::series_table::list(inner, chdb, m, None).await? {
            return Ok(all.into_iter().filter_map(|(id, _)| parse_series_id(&id).filter(|t| pred.matches(t))).collect());
        }
    }
    let sql = format!(
        "SELECT DISTINCT {} FROM {} WHERE {} FORMAT RowBinary",
        ident(SERIES),
        table(chdb, m),
        predicate_sql(pred, s)
    );
    let settings = inner.select_settings();
    let mut rows = Rows::new(inner.retry_missing(|| inner.client.stream(&sql, &settings)).await?);
    let mut out = Vec::new();
    while let Some(id) = rows.next(|c| Ok(c.bytes()?.map(<[u8]>::to_vec))).await? {
        if let Some(tags) = parse_series_id(&id).filter(|t| pred.matches(t)) {
            out.push(tags);
        }
    }
    Ok(out)
}

/// `rp = None`: series of every policy, as 1.x's `SHOW SERIES`.
pub async fn series(
    inner: &Inner,
    db: &str,
    rp: Option<&str>,
    measurements: &MeasurementFilter,
    pred: &TagPredicate,
) -> Result<Vec<SeriesInfo>> {
    let info = catalog::need(inner, db).await?;
    let mut out = Vec::new();
    for r in policies(&info, rp)? {
        let chdb = inner.names.policy(db, &r.name);
        let names = match measurements {
            MeasurementFilter::Names(n) => n.clone(),
            other => schema::tables(inner, &chdb).await?.into_iter().filter(|m| other.matches(m)).collect(),
        };
        for m in names {
            let Some(s) = schema::get(inner, &chdb, &m).await? else { continue };
            for tags in table_series(inner, &chdb, &m, &s, pred).await? {
                out.push(SeriesInfo { measurement: m.clone(), tags });
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What a scan reads and how its columns map to the request's fields.
struct ScanPlan {
    /// Distinct columns selected after `_series` and `time`, with their types.
    cols: Vec<FieldType>,
    /// Request field i → selected column.
    pos: Vec<Option<usize>>,
    /// Decides which series are sent (the SQL only narrows what is read).
    req: ScanRequest,
}

/// An empty `fields` list reads the times of every row.
pub async fn scan(inner: &Arc<Inner>, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
    let info = catalog::need(inner, &req.db).await?;
    let r = info.resolve(req.rp.as_deref())?;
    let chdb = inner.names.policy(&req.db, &r.name);
    let empty = || -> Result<BoxStream<'static, Result<SeriesChunk>>> { Ok(Box::pin(futures::stream::empty())) };
    let Some(s) = schema::get(inner, &chdb, &req.measurement).await? else { return empty() };
    let mut names: Vec<&str> = Vec::new();
    let mut cols: Vec<FieldType> = Vec::new();
    let mut pos = Vec::with_capacity(req.fields.len());
    for f in &req.fields {
        pos.push(s.fields.get(f).map(|(c, t)| match names.iter().position(|n| n == c) {
            Some(i) => i,
            None => {
                names.push(c);
                cols.push(*t);
                names.len() - 1
            }
        }));
    }
    if req.min_time > req.max_time || (!req.fields.is_empty() && names.is_empty()) || req.series.as_ref().is_some_and(Vec::is_empty) {
        return empty();
    }
    let narrow = match &req.series {
        None if !matches!(req.tags, TagPredicate::True) => super::series_table::narrow(inner, &chdb, &req.measurement, &s, &req.tags).await?,
        _ => Narrowing::default(),
    };
    let sql = scan_sql(&req, &chdb, &s, &names, &narrow);
    let settings = inner.select_settings();
    let ans = inner.retry_missing(|| inner.client.stream(&sql, &settings)).await?;
    let plan = ScanPlan { cols, pos, req };
    let (tx, rx) = mpsc::channel::<Result<SeriesChunk>>(4);
    tokio::spawn(async move {
        if let Err(e) = run(Rows::new(ans), plan, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })))
}

/// The scan's statement (module docs): `names` are the field columns read; `narrow`, the series
/// the series table lists for the predicate ([`series_table::narrow`](super::series_table::narrow)).
fn scan_sql(req: &ScanRequest, chdb: &str, s: &TableSchema, names: &[&str], narrow: &Narrowing) -> String {
    // The series the series table listed pass the tag conditions by construction: the list
    // alone (a tag condition is read and evaluated on every row the list selects).
    let pred = narrow.cond.clone().unwrap_or_else(|| predicate_sql(&req.tags, s));
    let mut cond = format!("{} >= {} AND {} <= {} AND {pred}", ident(TIME), int(req.min_time), ident(TIME), int(req.max_time));
    // The same series by number (implied by the list): what the order key `(_sid, time)` serves.
    if let Some(sids) = &narrow.sids {
        cond.push_str(&format!(" AND {sids}"));
    }
    if let Some(set) = &req.series {
        let ids: Vec<String> = set.iter().map(|t| bytes(&series_id(t))).collect();
        let list = ids.join(", ");
        if list.len() <= MAX_SERIES_LIST_BYTES {
            cond.push_str(&format!(" AND {} IN ({list})", ident(SERIES)));
            if s.sid {
                let sids: Vec<String> = ids.iter().map(|id| format!("cityHash64({id})")).collect();
                cond.push_str(&format!(" AND {} IN ({})", ident(SID), sids.join(", ")));
            }
        }
    }
    if !names.is_empty() {
        let any: Vec<String> = names.iter().map(|n| format!("{} IS NOT NULL", ident(n))).collect();
        cond.push_str(&format!(" AND ({})", any.join(" OR ")));
    }
    let dir = if req.order == ScanOrder::Desc { " DESC" } else { "" };
    let from = table(chdb, &req.measurement);
    let (series, time) = (ident(SERIES), ident(TIME));
    let mut sql = format!("SELECT {series}, {time}");
    for n in names {
        sql.push_str(", ");
        sql.push_str(&ident(n));
    }
    sql.push_str(&format!(" FROM {from} WHERE {cond}"));
    // Whole points passing the field pre-filter (`fieldcond`), and of them the first `n` (not
    // rows: a rewritten point has several) of each series. GLOBAL: on a cluster `from` is a
    // Distributed table, and ClickHouse refuses a plain IN over one inside a query over another
    // (distributed_product_mode = 'deny'); GLOBAL runs the subquery once, over every shard, and
    // ships its answer to them. On one server it is IN.
    let rows = super::fieldcond::row_sql(&req.where_fields, s);
    if req.limit.is_some() || rows.is_some() {
        let inner = rows.map_or_else(|| cond.clone(), |r| format!("{cond} AND {r}"));
        let limit = req.limit.map_or_else(String::new, |n| {
            format!(" GROUP BY {series}, {time} ORDER BY {series}, {time}{dir} LIMIT {n} BY {series}")
        });
        sql.push_str(&format!(" AND ({series}, {time}) GLOBAL IN (SELECT {series}, {time} FROM {from} WHERE {inner}{limit})"));
    }
    sql.push_str(&format!(" ORDER BY {series}, {time}{dir}, {} FORMAT RowBinary", ident(SEQ)));
    sql
}

/// One decoded row: `_series` when it differs from the previous row's, the time, the columns.
struct Row {
    series: Option<Vec<u8>>,
    time: i64,
    vals: Vec<Option<FieldValue>>,
}

fn decode(c: &mut Cursor<'_>, current: &[u8], cols: &[FieldType]) -> Result<Option<Row>> {
    let Some(id) = c.bytes()? else { return Ok(None) };
    let series = (id != current).then(|| id.to_vec());
    let Some(time) = c.i64() else { return Ok(None) };
    let mut vals = Vec::with_capacity(cols.len());
    for t in cols {
        match c.field(*t)? {
            Some(v) => vals.push(v),
            None => return Ok(None),
        }
    }
    Ok(Some(Row { series, time, vals }))
}

/// The series being read: its tags (`None`: the predicate does not match it), its chunk, and
/// the point being merged.
struct Current {
    id: Vec<u8>,
    tags: Option<Vec<(String, String)>>,
    chunk: Option<SeriesChunk>,
    pending: Option<(i64, Vec<Option<FieldValue>>)>,
}

async fn run(mut rows: Rows, plan: ScanPlan, tx: &mpsc::Sender<Result<SeriesChunk>>) -> Result<()> {
    let mut cur = Current { id: Vec::new(), tags: None, chunk: None, pending: None };
    let mut first = true;
    loop {
        let row = rows.next(|c| decode(c, &cur.id, &plan.cols)).await?;
        let Some(row) = row else { break };
        if row.series.is_some() || first {
            first = false;
            if !flush(&mut cur, &plan, tx, true).await {
                return Ok(());
            }
            cur.id = row.series.unwrap_or_default();
            cur.tags = parse_series_id(&cur.id).filter(|t| plan.req.wants(t));
        }
        if cur.tags.is_none() {
            continue;
        }
        match cur.pending.as_mut() {
            Some((t, vals)) if *t == row.time => {
                for (v, new) in vals.iter_mut().zip(row.vals) {
                    if new.is_some() {
                        *v = new;
                    }
                }
            }
            _ => {
                if !flush(&mut cur, &plan, tx, false).await {
                    return Ok(());
                }
                cur.pending = Some((row.time, row.vals));
            }
        }
    }
    flush(&mut cur, &plan, tx, true).await;
    Ok(())
}

/// Moves the pending point into the chunk, and sends the chunk when it is full or (`end`) the
/// series ends; false when the receiver is gone.
async fn flush(cur: &mut Current, plan: &ScanPlan, tx: &mpsc::Sender<Result<SeriesChunk>>, end: bool) -> bool {
    if let (Some((t, vals)), Some(tags)) = (cur.pending.take(), cur.tags.as_ref()) {
        let chunk = cur.chunk.get_or_insert_with(|| SeriesChunk {
            tags: tags.clone(),
            times: Vec::with_capacity(CHUNK_ROWS),
            columns: vec![Vec::with_capacity(CHUNK_ROWS); plan.pos.len()],
        });
        if plan.pos.is_empty() || vals.iter().any(Option::is_some) {
            chunk.times.push(t);
            for (col, p) in chunk.columns.iter_mut().zip(&plan.pos) {
                col.push(p.and_then(|i| vals[i].clone()));
            }
        }
    }
    let full = cur.chunk.as_ref().is_some_and(|c| c.times.len() >= CHUNK_ROWS);
    if end || full {
        if let Some(c) = cur.chunk.take().filter(|c| !c.times.is_empty()) {
            return tx.send(Ok(c)).await.is_ok();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushdown() {
        let mut s = TableSchema::default();
        s.tags.insert("host".into(), "host".into());
        let eq = |k: &str, v: &str| TagPredicate::Eq(k.into(), v.into());
        assert_eq!(predicate_sql(&eq("host", "a'b"), &s), "`host` = 'a\\'b'");
        assert_eq!(predicate_sql(&eq("dc", ""), &s), "1");
        assert_eq!(predicate_sql(&eq("dc", "x"), &s), "0");
        assert_eq!(predicate_sql(&TagPredicate::Ne("dc".into(), "".into()), &s), "0");
        assert_eq!(predicate_sql(&TagPredicate::Ne("dc".into(), "x".into()), &s), "1");
        let re = TagPredicate::Match("host".into(), regex::Regex::new("a").unwrap());
        let or = TagPredicate::Or(Box::new(re), Box::new(eq("host", "b")));
        assert_eq!(predicate_sql(&or, &s), "(1 OR `host` = 'b')");
        let mut deep = eq("host", "a");
        for _ in 0..100 {
            deep = TagPredicate::Or(Box::new(deep), Box::new(eq("host", "b")));
        }
        assert_eq!(predicate_sql(&deep, &s), "1");
    }
}
