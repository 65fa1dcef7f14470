//! Measurement tables: their columns as influxgate sees them, and the DDL that makes and extends them.
//!
//! The columns of a table are read from `system.columns` once and cached; a write that brings new
//! tags or fields adds them with one `ALTER TABLE ... ADD COLUMN` per table (before any row is
//! inserted), under the process's DDL lock, after reading the columns again (another influxgate
//! may have added them). A table is read from the server under that lock too ([`get`]), so no
//! write of this process inserts into a table it is still making (its series view comes last).
//! On a cluster the shards' tables are altered `ON CLUSTER`, then the Distributed table; 18.16
//! refuses `ALTER ... ON CLUSTER` for a Distributed table when the cluster's shards have
//! `internal_replication` (code 371, "isn't replicated, but shard is replicated according to its
//! cluster definition"), so there the Distributed table is dropped and made again over the
//! altered tables, `ON CLUSTER` both.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::client::error_code;
use super::dialect::{ident, int, string, table};
use super::names::{self, key_of, SERIES, SEQ, SID, TIME};
use super::rowbinary::{field_type_of, Cursor};
use super::Inner;
use crate::backend::{BackendError, Result};
use crate::model::FieldType;

/// The columns of one measurement table.
#[derive(Debug, Clone, Default)]
pub struct TableSchema {
    /// Tag key → column.
    pub tags: BTreeMap<String, String>,
    /// Field key → column and type.
    pub fields: BTreeMap<String, (String, FieldType)>,
    /// Whether the table has its series table ([`series_table`](mod@super::series_table)); tables
    /// made before series tables have none and are read the old way.
    pub series_table: bool,
    /// Whether the table has the `_sid` column (`cityHash64(_series)`, MATERIALIZED).
    pub sid: bool,
}

impl TableSchema {
    /// Whether a column of this name exists.
    pub fn has_column(&self, col: &str) -> bool {
        names::internal(col) || self.tags.values().any(|c| c == col) || self.fields.values().any(|(c, _)| c == col)
    }
}

/// A column to add: its name and ClickHouse type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewColumn {
    pub name: String,
    pub sql_type: &'static str,
}

/// Reads a table's columns; `None` when it does not exist.
pub async fn load(inner: &Inner, chdb: &str, tbl: &str) -> Result<Option<TableSchema>> {
    let sql = format!(
        "SELECT name, type, default_kind FROM system.columns WHERE database = {} AND table = {} FORMAT RowBinary",
        string(chdb),
        string(tbl)
    );
    let body = inner.run(&sql).await?;
    let mut c = Cursor::new(&body);
    let mut s = TableSchema::default();
    let mut any = false;
    while c.pos < body.len() {
        let (Some(name), Some(ty), Some(kind)) = (c.string()?, c.string()?, c.string()?) else {
            return Err(BackendError::Internal("clickhouse: truncated system.columns answer".into()));
        };
        any = true;
        // `_sid` is influxgate's where it is MATERIALIZED; a plain one is a key of an older table.
        if name == SID && kind == "MATERIALIZED" {
            s.sid = true;
            continue;
        }
        if names::internal(&name) && name != SID {
            continue;
        }
        if ty == "String" {
            s.tags.insert(key_of(&name), name);
        } else if let Some(t) = field_type_of(&ty) {
            s.fields.insert(key_of(&name), (name, t));
        }
    }
    if !any {
        return Ok(None);
    }
    s.series_table = super::series_table::exists(inner, chdb, tbl).await?;
    Ok(Some(s))
}

/// A table's columns, from the cache or the server.
///
/// Read from the server under the DDL lock: a table this process is making is in
/// `system.columns` before its series view exists ([`create_table`] makes the table, then the
/// view), and a write that saw it then inserted while the view was missing: its rows never
/// reached the series table, or (while `CREATE MATERIALIZED VIEW` ran) 18.16 refused the insert
/// ("Table `….series`.`m\view` doesn't exist", code 60), which the spool took and acknowledged,
/// so a read right after the 204 missed those rows until the replay. Under the lock the table is
/// either not there yet (the write then makes it, under the lock too) or complete.
pub async fn get(inner: &Inner, chdb: &str, tbl: &str) -> Result<Option<Arc<TableSchema>>> {
    if let Some(s) = inner.cached_table(chdb, tbl) {
        return Ok(Some(s));
    }
    let _g = inner.ddl.lock().await;
    if let Some(s) = inner.cached_table(chdb, tbl) {
        return Ok(Some(s));
    }
    let s = load(inner, chdb, tbl).await?.map(Arc::new);
    if let Some(s) = &s {
        inner.cache_table(chdb, tbl, Some(s.clone()));
    }
    Ok(s)
}

/// Tables (measurements) of a ClickHouse database, sorted; the list is kept a while (see
/// [`listing`](mod@super::listing)).
pub async fn tables(inner: &Inner, chdb: &str) -> Result<Vec<String>> {
    Ok(super::listing::tables(inner, chdb, read_tables(inner, chdb)).await?.as_ref().clone())
}

async fn read_tables(inner: &Inner, chdb: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT name FROM system.tables WHERE database = {} ORDER BY name FORMAT RowBinary", string(chdb));
    let body = inner.run(&sql).await?;
    let mut c = Cursor::new(&body);
    let mut out = Vec::new();
    while c.pos < body.len() {
        match c.string()? {
            Some(n) => out.push(n),
            None => return Err(BackendError::Internal("clickhouse: truncated system.tables answer".into())),
        }
    }
    Ok(out)
}

/// 1.x's shard group of `time` as a ClickHouse expression: `(start, end)` in ns, start aligned as
/// Go's `Time.Truncate` aligns it (multiples of `d` since January 1 of year 1).
pub fn partition_key(d: i64) -> String {
    let start = group_start(d);
    format!("({start}, {start} + {})", int(d.max(1)))
}

/// The start of `time`'s shard group of duration `d` (the first half of [`partition_key`]).
pub fn group_start(d: i64) -> String {
    let d = d.max(1);
    let off = (crate::rules::shards::YEAR1_TO_EPOCH_NS % d as i128) as i64;
    // ((time mod d) + d + off) mod d is time's offset into its group, without overflow for d < 2^62.
    let (dd, shift) = (int(d), int(d.saturating_add(off)));
    format!("{TIME} - modulo(modulo({TIME}, {dd}) + {shift}, {dd})")
}

/// `sid`: with the `_sid` column. Not on a cluster: 18.16's Distributed table sends a
/// MATERIALIZED column with each insert and the shards refuse it ("Cannot insert column _sid,
/// because it is MATERIALIZED column"), so there aggregates group by `cityHash64(_series)`.
fn column_list(cols: &[NewColumn], sid: bool) -> String {
    let mut s = format!("{} Int64, {} String, {} UInt64", ident(TIME), ident(SERIES), ident(SEQ));
    if sid {
        let _ = write!(s, ", {} UInt64 MATERIALIZED cityHash64({})", ident(SID), ident(SERIES));
    }
    for c in cols {
        let _ = write!(s, ", {} {}", ident(&c.name), c.sql_type);
    }
    s
}

/// A name for ZooKeeper paths that no earlier table had.
fn token() -> String {
    format!("{:016x}{:016x}", rand::random::<u64>(), super::now_ns())
}

/// The order key of a new measurement table: `(_sid, time)` where it has `_sid` (one server),
/// else `(_series, time)`.
///
/// Why `_sid` first: a read finds a series' time range through the primary index, whose marks
/// hold the key's values every 8192 rows. With `_series` first they are 100–200-byte strings and
/// a read of few series selects its granules by comparing them; with the 8-byte `_sid` the
/// index is smaller and every read that lists its series (`_sid IN (...)`: aggregates'
/// `PREWHERE`, scans' `WHERE`) selects the same granules by number. Rows of one series stay
/// adjacent and in time order either way; no read relies on the order rows are stored in (every
/// statement says its `ORDER BY`). Tables made with `(_series, time)` keep it: the conditions
/// on `_sid` are implied by those on `_series`, so both give the same rows.
fn order_key(sid: bool) -> String {
    let first = if sid { SID } else { SERIES };
    format!("({}, {})", ident(first), ident(TIME))
}

/// Creates a measurement table with these first columns (if it does not exist yet).
pub async fn create_table(inner: &Inner, db: &str, rp: &str, m: &str, sgd: i64, cols: &[NewColumn]) -> Result<()> {
    let policy = inner.names.policy(db, rp);
    let sid = !inner.clustered();
    let layout = format!("PARTITION BY {} ORDER BY {}", partition_key(sgd), order_key(sid));
    if !inner.clustered() {
        let sql = format!("CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = MergeTree {layout}", table(&policy, m), column_list(cols, sid));
        inner.run_ddl(&sql).await?;
        inner.listings.forget_tables(&policy);
        return super::series_table::create(inner, db, rp, m, sgd).await;
    };
    let local = inner.names.local(db, rp);
    let zk = format!("{}/tables/{{shard}}/{}", inner.opts.zookeeper_path.trim_end_matches('/'), token());
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {}{} ({}) ENGINE = ReplicatedMergeTree({}, '{{replica}}') {layout}",
        table(&local, m),
        inner.on_cluster(),
        column_list(cols, sid),
        string(&zk)
    );
    inner.run_ddl(&sql).await?;
    super::series_table::create(inner, db, rp, m, sgd).await?;
    create_distributed(inner, &policy, &local, m).await
}

/// Adds columns to a measurement table.
pub async fn add_columns(inner: &Inner, db: &str, rp: &str, m: &str, cols: &[NewColumn]) -> Result<()> {
    if cols.is_empty() {
        return Ok(());
    }
    let adds: Vec<String> = cols.iter().map(|c| format!("ADD COLUMN {} {}", ident(&c.name), c.sql_type)).collect();
    let adds = adds.join(", ");
    let policy = inner.names.policy(db, rp);
    if !inner.clustered() {
        return inner.run_ddl(&format!("ALTER TABLE {} {adds}", table(&policy, m))).await;
    }
    let local = inner.names.local(db, rp);
    inner.run_ddl(&format!("ALTER TABLE {}{} {adds}", table(&local, m), inner.on_cluster())).await?;
    match inner.run_ddl(&format!("ALTER TABLE {}{} {adds}", table(&policy, m), inner.on_cluster())).await {
        Err(e) if error_code(&e) == Some(371) => remake_distributed(inner, db, rp, m).await,
        r => r,
    }
}

/// Makes the Distributed table of `m` again over its (altered) shard tables. (Made under another
/// name and renamed into place, 18.16 would leave the new table's directory behind in the old
/// place, and `DROP DATABASE` then fails on it: "Directory not empty".) Statements that meet the
/// short gap retry (see [`Inner::retry_missing`]).
async fn remake_distributed(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<()> {
    let (policy, local) = (inner.names.policy(db, rp), inner.names.local(db, rp));
    inner.run_ddl(&format!("DROP TABLE IF EXISTS {}{}", table(&policy, m), inner.on_cluster())).await?;
    create_distributed(inner, &policy, &local, m).await
}

/// Makes the Distributed table of `m` (and forgets the kept list of `policy`'s tables).
async fn create_distributed(inner: &Inner, policy: &str, local: &str, m: &str) -> Result<()> {
    let cluster = inner.opts.cluster.clone().unwrap_or_default();
    let done = inner
        .run_ddl(&format!(
            "CREATE TABLE IF NOT EXISTS {}{} AS {} ENGINE = Distributed({}, {}, {}, cityHash64({}))",
            table(policy, m),
            inner.on_cluster(),
            table(local, m),
            ident(&cluster),
            string(local),
            string(m),
            ident(SERIES)
        ))
        .await;
    inner.listings.forget_tables(policy);
    done
}

/// Drops a measurement table (and its shard tables on a cluster).
pub async fn drop_table(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<()> {
    super::series_table::drop(inner, db, rp, m).await?;
    let policy = inner.names.policy(db, rp);
    inner.run_ddl(&format!("DROP TABLE IF EXISTS {}{}", table(&policy, m), inner.on_cluster())).await?;
    if inner.clustered() {
        let local = inner.names.local(db, rp);
        inner.run_ddl(&format!("DROP TABLE IF EXISTS {}{}", table(&local, m), inner.on_cluster())).await?;
    }
    inner.cache_table(&policy, m, None);
    inner.listings.forget_series(&policy, m);
    inner.listings.forget_tables(&policy);
    Ok(())
}

/// The table that holds rows (the shards' table on a cluster): where mutations and partition
/// drops go.
pub fn storage_table(inner: &Inner, db: &str, rp: &str, m: &str) -> String {
    if inner.clustered() {
        table(&inner.names.local(db, rp), m)
    } else {
        table(&inner.names.policy(db, rp), m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `partition_key`'s start the way ClickHouse does (C remainders).
    fn start(t: i64, d: i64) -> i64 {
        let off = (crate::rules::shards::YEAR1_TO_EPOCH_NS % d as i128) as i64;
        let into = ((t % d) + d + off) % d;
        t - into
    }

    #[test]
    fn partitions_are_go_shard_groups() {
        const H: i64 = 3_600_000_000_000;
        for d in [H, 24 * H, 7 * 24 * H, 3 * H + 17] {
            for t in [0, 1, -1, 1_704_067_200_000_000_000, -630_720_000_000_000_000, i64::MAX / 2, i64::MIN / 2] {
                assert_eq!(start(t, d), crate::rules::shards::group_start(t, d), "t={t} d={d}");
            }
        }
        // 2024-01-01 was a Monday: a weekly group starts there.
        assert_eq!(start(1_704_067_200_000_000_000 + 5 * H, 7 * 24 * H), 1_704_067_200_000_000_000);
        assert!(partition_key(7 * 24 * H).starts_with("(time - modulo(modulo(time, toInt64('604800000000000')) + "));
    }
}
