//! The series table of a measurement table: which series it has, per shard group, kept by
//! ClickHouse itself, so a series list or a tag condition reads a few rows instead of the whole
//! measurement table.
//!
//! Measured before it (issue 12, `system.query_log`): every read of a measurement read its whole
//! table twice, once for the planner's series list (`SELECT DISTINCT _series`) and once for the
//! statement itself, whose `hostname = '…'` the order key `(_series, time)` cannot serve.
//!
//! # The objects (database `<policy>.series`, [`DbNames::series`](super::names::DbNames::series))
//!
//! ```text
//! <m>         _series String, _start Int64       -- a series that has rows in the shard group
//!             ENGINE ReplacingMergeTree             --   starting at _start
//!             PARTITION BY (_start, _start + <shard group duration>)   -- the measurement's
//!             ORDER BY (_series, _start)
//! <m>\view    MATERIALIZED VIEW TO <m> AS SELECT _series, <shard group start of time> AS _start
//!             FROM <policy>.<m> GROUP BY _series, _start
//! ```
//!
//! (`<m>` with `\` doubled, so `\view` and `\local` name nothing else.) ClickHouse runs the view
//! on every block inserted into the measurement table, in the same INSERT, so a series is in the
//! series table before the write is acknowledged. One insert block adds a row per series and
//! shard group; merges fold them, and readers take `DISTINCT`. On a cluster each shard has
//! `<m>\local` (a ReplicatedReplacingMergeTree) and its view over its own shard table, and `<m>`
//! is a Distributed table over them, sharded by `cityHash64(_series)` as the measurement is.
//!
//! # Kept exact
//!
//! 1.x lists a series while a shard group holds a point of it. The series table's partitions are
//! the measurement's shard groups (same `(start, end)` values), so a retention drop drops the same
//! partition here ([`drop_partition`]); a delete makes the deleted series' rows again from the
//! rows left ([`refresh`]); dropping the table drops these objects first.
//!
//! # Tables made before it
//!
//! A measurement table without the view (made by an earlier influxgate, or a view that could not
//! be made) is read the old way, by scanning it ([`TableSchema::series_table`] false): the view is
//! made only with a new table, before its first insert, never added to a table with rows.
//!
//! # What reads use it for
//!
//! [`narrow`]: the series of the table that the tag predicate matches (`TagPredicate::matches`
//! decides, in Rust, as before) become `_series IN (...)`, which the measurement's order key
//! serves together with the time range; and when the listed series' `cityHash64(_series)` are
//! distinct, aggregates group by that number instead of by the string (hashing and comparing a
//! 100-byte key per row was most of `double-groupby-1`'s time). A table with more than
//! [`MAX_LISTED`] series, or a list longer than [`MAX_SERIES_LIST_BYTES`] of SQL, is read the
//! old way.

use std::collections::{HashMap, HashSet};

use super::client::{error_code, UNKNOWN_OBJECT};
use super::dialect::{bytes, ident, int, string, table};
use super::names::{SERIES, SID};
use super::rowbinary::Cursor;
use super::scan::{Rows, MAX_SERIES_LIST_BYTES};
use super::schema::{self, TableSchema};
use super::Inner;
use crate::backend::{Result, TagPredicate};

/// Most series read from a series table to narrow one read (past it: the old way).
pub const MAX_LISTED: usize = 100_000;

const START: &str = "_start";

/// The series tables' database of a policy's ClickHouse database.
fn series_db(policy: &str) -> String {
    format!("{policy}.series")
}

/// The names of a measurement's series table, its view and (cluster) its shard table.
fn names(m: &str) -> (String, String, String) {
    let base = m.replace('\\', "\\\\");
    (base.clone(), format!("{base}\\view"), format!("{base}\\local"))
}

/// Whether the measurement table `m` of policy database `chdb` has its series view; on a
/// cluster, on every node (a view made on some nodes only, by an `ON CLUSTER` that failed half
/// way, would leave the others' series out).
pub async fn exists(inner: &Inner, chdb: &str, m: &str) -> Result<bool> {
    let cond = format!("database = {} AND name = {}", string(&series_db(chdb)), string(&names(m).1));
    let sql = match &inner.opts.cluster {
        None => format!("SELECT count() > 0 FROM system.tables WHERE {cond} FORMAT RowBinary"),
        Some(c) => format!(
            "SELECT (SELECT count() FROM {} WHERE {cond}) = (SELECT count() FROM system.clusters WHERE cluster = {}) FORMAT RowBinary",
            inner.system_table("tables").await?,
            string(c)
        ),
    };
    let body = inner.run(&sql).await?;
    Ok(Cursor::new(&body).u8().unwrap_or(0) == 1)
}

/// Makes the series table and its view of a new measurement table (module docs).
pub async fn create(inner: &Inner, db: &str, rp: &str, m: &str, sgd: i64) -> Result<()> {
    let sdb = inner.names.series(db, rp);
    let on = inner.on_cluster();
    let (tbl, view, local) = names(m);
    inner.run_ddl(&format!("CREATE DATABASE IF NOT EXISTS {}{on}", ident(&sdb))).await?;
    let cols = format!("({} String, {} Int64)", ident(SERIES), ident(START));
    let d = int(sgd.max(1));
    let layout = format!(
        "PARTITION BY ({s}, {s} + {d}) ORDER BY ({}, {s})",
        ident(SERIES),
        s = ident(START)
    );
    let (storage, source) = if inner.clustered() {
        let zk = format!("{}/series/{{shard}}/{:016x}{:016x}", inner.opts.zookeeper_path.trim_end_matches('/'), rand::random::<u64>(), Inner::now());
        inner
            .run_ddl(&format!(
                "CREATE TABLE IF NOT EXISTS {}{on} {cols} ENGINE = ReplicatedReplacingMergeTree({}, '{{replica}}') {layout}",
                table(&sdb, &local),
                string(&zk)
            ))
            .await?;
        (local.as_str(), table(&inner.names.local(db, rp), m))
    } else {
        inner.run_ddl(&format!("CREATE TABLE IF NOT EXISTS {}{on} {cols} ENGINE = ReplacingMergeTree {layout}", table(&sdb, &tbl))).await?;
        (tbl.as_str(), table(&inner.names.policy(db, rp), m))
    };
    inner
        .run_ddl(&format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {}{on} TO {} AS {}",
            table(&sdb, &view),
            table(&sdb, storage),
            rows_sql(&source, sgd, None)
        ))
        .await?;
    if inner.clustered() {
        let cluster = inner.opts.cluster.clone().unwrap_or_default();
        inner
            .run_ddl(&format!(
                "CREATE TABLE IF NOT EXISTS {}{on} AS {} ENGINE = Distributed({}, {}, {}, cityHash64({}))",
                table(&sdb, &tbl),
                table(&sdb, &local),
                ident(&cluster),
                string(&sdb),
                string(&local),
                ident(SERIES)
            ))
            .await?;
    }
    Ok(())
}

/// The series table's rows of `source`'s rows (those of the series `only`, a SQL list).
fn rows_sql(source: &str, sgd: i64, only: Option<&str>) -> String {
    let filter = only.map(|l| format!(" WHERE {} IN ({l})", ident(SERIES))).unwrap_or_default();
    format!(
        "SELECT {series}, {} AS {start} FROM {source}{filter} GROUP BY {series}, {start}",
        schema::group_start(sgd),
        series = ident(SERIES),
        start = ident(START)
    )
}

/// Drops a measurement's series objects (the view first).
pub async fn drop(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<()> {
    let sdb = inner.names.series(db, rp);
    let on = inner.on_cluster();
    let (tbl, view, local) = names(m);
    let mut all = vec![view, tbl];
    if inner.clustered() {
        all.push(local);
    }
    for t in all {
        match inner.run_ddl(&format!("DROP TABLE IF EXISTS {}{on}", table(&sdb, &t))).await {
            // No series database: a table made before series tables.
            Err(e) if error_code(&e).is_some_and(|c| UNKNOWN_OBJECT.contains(&c)) => return Ok(()),
            r => r?,
        }
    }
    Ok(())
}

/// The name of the table that holds the series rows (the shards' table on a cluster).
fn storage_name(inner: &Inner, m: &str) -> String {
    let (tbl, _, local) = names(m);
    if inner.clustered() {
        local
    } else {
        tbl
    }
}

fn storage(inner: &Inner, db: &str, rp: &str, m: &str) -> String {
    table(&inner.names.series(db, rp), &storage_name(inner, m))
}

/// Drops a shard group of the series table, as retention drops it from the measurement's.
pub async fn drop_partition(inner: &Inner, db: &str, rp: &str, m: &str, start: i64, end: i64) -> Result<()> {
    let sql = format!("ALTER TABLE {}{} DROP PARTITION ({start}, {end})", storage(inner, db, rp, m), inner.on_cluster());
    inner.run_ddl(&sql).await
}

/// Makes the series rows of the series in `list` (SQL literals) again from the measurement's
/// rows, after a delete removed some of them (module docs). The measurement table's mutations
/// are done.
pub async fn refresh(inner: &Inner, db: &str, rp: &str, m: &str, sgd: i64, list: &str) -> Result<()> {
    let sql = format!("ALTER TABLE {}{} DELETE WHERE {} IN ({list})", storage(inner, db, rp, m), inner.on_cluster(), ident(SERIES));
    inner.run_ddl(&sql).await?;
    let sdb = inner.names.series(db, rp);
    let source = if inner.clustered() { inner.system_table("mutations").await? } else { "system.mutations".to_string() };
    super::delete::wait_mutations_of(inner, &source, &sdb, &storage_name(inner, m), m).await?;
    let policy = inner.names.policy(db, rp);
    let target = table(&sdb, &names(m).0);
    let sql = format!("INSERT INTO {target} {}", rows_sql(&table(&policy, m), sgd, Some(list)));
    inner.client.run(&sql, &inner.insert_settings().await?).await.map(|_| ())
}

/// Every series of the table, with its `cityHash64`; `None` past `limit` series.
pub async fn list(inner: &Inner, chdb: &str, m: &str, limit: Option<usize>) -> Result<Option<Vec<(Vec<u8>, u64)>>> {
    let lim = limit.map(|n| format!(" LIMIT {}", n + 1)).unwrap_or_default();
    let sql = format!(
        "SELECT {s}, cityHash64({s}) FROM {} GROUP BY {s}{lim} FORMAT RowBinary",
        table(&series_db(chdb), &names(m).0),
        s = ident(SERIES)
    );
    let settings = inner.select_settings();
    let mut rows = Rows::new(inner.retry_missing(|| inner.client.stream(&sql, &settings)).await?);
    let mut out = Vec::new();
    while let Some(row) = rows.next(|c| Ok(c.bytes()?.map(<[u8]>::to_vec).and_then(|id| c.u64().map(|h| (id, h))))).await? {
        out.push(row);
        if limit.is_some_and(|n| out.len() > n) {
            return Ok(None);
        }
    }
    Ok(Some(out))
}

/// What a read of a measurement table adds to its statement (module docs, "What reads use it for").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Narrowing {
    /// `_series IN (...)`: the series the predicate matches (`0` for none).
    pub cond: Option<String>,
    /// Whether grouping by `cityHash64(_series)` groups exactly as by `_series`.
    pub numeric: bool,
    /// Where `numeric` and the table has `_sid`: every listed series by its `_sid`, so a
    /// statement grouping by `_sid` need not read `_series` at all.
    pub ids: Option<HashMap<u64, Vec<u8>>>,
    /// Where `ids` and `cond` lists series: `_sid IN (...)`, their numbers. Implied by `cond`
    /// (`_sid` is `cityHash64(_series)`), and read from an 8-byte column instead of `_series`'
    /// 100–200 bytes a row: aggregates put it in `PREWHERE` (see `aggregate`'s module docs).
    pub sids: Option<String>,
    /// How many series `sids` lists (0 where it is `None`).
    pub listed: usize,
}

/// The [`Narrowing`] of a read of `m` with predicate `pred` (nothing for a table without series table).
pub async fn narrow(inner: &Inner, chdb: &str, m: &str, s: &TableSchema, pred: &TagPredicate) -> Result<Narrowing> {
    if !s.series_table {
        return Ok(Narrowing::default());
    }
    let listing = super::listing::listed(inner, chdb, m).await?;
    let Some(all) = listing.series() else { return Ok(Narrowing::default()) };
    let mut hashes = HashSet::with_capacity(all.len());
    let numeric = all.iter().all(|x| hashes.insert(x.hash));
    let ids = (numeric && s.sid).then(|| all.iter().map(|x| (x.hash, x.id.clone())).collect());
    if matches!(pred, TagPredicate::True) {
        return Ok(Narrowing { cond: None, numeric, ids, sids: None, listed: 0 });
    }
    let (mut list, mut nums, mut listed) = (String::new(), String::new(), 0);
    for x in all {
        if x.tags.as_ref().is_some_and(|t| pred.matches(t)) {
            if !list.is_empty() {
                list.push_str(", ");
                nums.push_str(", ");
            }
            list.push_str(&bytes(&x.id));
            listed += 1;
            nums.push_str(&x.hash.to_string());
            if list.len() > MAX_SERIES_LIST_BYTES {
                return Ok(Narrowing { cond: None, numeric, ids, sids: None, listed: 0 });
            }
        }
    }
    let cond = if list.is_empty() { "0".to_string() } else { format!("{} IN ({list})", ident(SERIES)) };
    let sids = (ids.is_some() && !list.is_empty()).then(|| format!("{} IN ({nums})", ident(SID)));
    let listed = if sids.is_some() { listed } else { 0 };
    Ok(Narrowing { cond: Some(cond), numeric, ids, sids, listed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_distinct() {
        let (t, v, l) = names("a\\view");
        assert_eq!(t, "a\\\\view");
        assert_ne!(t, names("a").1);
        assert_eq!(v, "a\\\\view\\view");
        assert_eq!(l, "a\\\\view\\local");
        assert_eq!(series_db("influx_d.autogen"), "influx_d.autogen.series");
        let sql = rows_sql("`x`.`m`", 3_600_000_000_000, Some("'a'"));
        assert!(sql.contains("WHERE `_series` IN ('a') GROUP BY `_series`, `_start`"), "{sql}");
    }
}
