//! The embedded store: one SQLite file (`<data_dir>/influxgate.sqlite`, WAL mode).
//!
//! # Layout
//!
//! Catalog tables, all loaded into memory at open and kept there (so tag predicates, measurement
//! lists and field types are answered without SQL; series in the series index, `series.rs`):
//!
//! * `databases (id, name, default_rp)` — the default RP is a name, as in 1.x: dropping that RP
//!   leaves the name set, and writes without an RP then fail with `retention policy not found`.
//! * `retention_policies (id, db_id, name, duration, shard_group_duration, replication)`; the
//!   "default" flag of `SHOW RETENTION POLICIES` is `name = databases.default_rp`.
//! * `measurements (id, rp_id, name)` — measurements live in one database + RP, as 1.x shards do.
//! * `series (id, measurement_id, series_key, tags)` — `series_key` is 1.x's canonical key (for
//!   humans and tools); `tags` is a length-prefixed blob, so any bytes round-trip unchanged.
//! * `fields (measurement_id, name, type, column_id)` — a field's type is fixed per measurement.
//!
//! Points: one table per measurement, named by its numeric id only:
//! `p_<measurement id> (series_id INTEGER, time INTEGER, f_<column id> ..., PRIMARY KEY (series_id, time)) WITHOUT ROWID`.
//! A field becomes a typed column (`REAL` float, `INTEGER` integer/unsigned (bit-cast)/boolean,
//! `TEXT` string) added by `ALTER TABLE` when it first appears. Why this shape:
//!
//! * A point is one row, fields side by side: a 10-field point is one B-tree insert, not ten.
//! * `WITHOUT ROWID` + `(series_id, time)` primary key clusters each series' points in time order:
//!   a scan of one series over a time range is one index range read, already in the order 1.x
//!   returns, and "same series + same time" is exactly a primary-key conflict, which
//!   `INSERT .. ON CONFLICT DO UPDATE SET f = coalesce(excluded.f, f)` turns into 1.x's merge.
//! * Only numeric ids ever appear in SQL text (`p_17`, `f_3`); every name and value from a request
//!   is a bound parameter, so hostile measurement, tag or field names cannot reach the SQL parser.
//! * Per-measurement tables keep DROP MEASUREMENT / DROP DATABASE a `DROP TABLE`, and keep column
//!   lists (and SQLite's 2000-column limit) per measurement.
//!
//! # Aggregates
//!
//! `aggregate()` reads each matching series' non-null values of the field in time order through
//! the primary key (one range read, `f IS NOT NULL` evaluated inside SQLite) and folds them into
//! buckets in Rust, on reader threads (a statement's calls over the same series share one read
//! of the rows, its series split among the cores: `passes.rs`), with no per-row channel traffic or allocation beyond
//! strings. It does not use SQL `GROUP BY`: SQLite leaves the row a bare column comes from
//! unspecified on `min`/`max` ties (1.x wants the earliest), raises an error where 1.x's integer
//! `sum` wraps, and turns overflowing bucket arithmetic into REAL — each would break exactness.
//!
//! # Concurrency
//!
//! One writer thread owns the read-write connection and receives jobs through a bounded channel.
//! Write batches that queue up are group-committed (one transaction, every caller answered after
//! `COMMIT`, so `write` returning `Ok` means durable). Readers use read-only connections on blocking
//! threads; WAL lets them run beside the writer. The writer keeps a working copy of the catalog and
//! publishes its changes to the shared copy readers use only after the commit that made them;
//! series are held once, new ones hidden from readers until their commit (`series.rs`).
//!
//! # Bounds
//!
//! * Series and tag values: `[limits] max_series_per_database` and `max_values_per_tag`, checked
//!   exactly before a batch stores anything (`cardinality.rs`, which states what 1.x counts); the
//!   memory a series costs is in `series.rs`.
//! * The WAL: under `2 × [backend] wal_max_bytes` plus one transaction whatever the read load
//!   (`checkpoint.rs`).
//! * Page caches: the writer's 128 MB (`cache_size`), 2 MB for each reader connection (at most 8
//!   kept idle).

mod cardinality;
mod catalog;
mod checkpoint;
mod passes;
mod read;
mod series;
mod writer;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod cardinality_tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures::stream::BoxStream;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use self::catalog::{decode_tags, Catalog, Change, Field, Shared};
use crate::rules::shards;
use self::series::{owned, SeriesStore, Tags};
use self::read::{Pool, ScanPlan};
use self::writer::{sql_err, Job, Writer};
use crate::backend::{
    AggregateFn, AggregateRequest, AggregateSeries, Backend, BackendError, Capabilities, DeleteRequest,
    MeasurementFilter, Result, RetentionPolicy, RetentionPolicyUpdate, ScanRequest, SeriesChunk, SeriesInfo,
    TagPredicate, WriteBatch, WriteOutcome,
};
use crate::model::FieldType;

pub use self::read::CHUNK_ROWS;

/// Options of the embedded store.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Duration (ns, 0 = infinite) of the `autogen` RP created with a database.
    pub default_retention: i64,
    /// `synchronous = FULL` (fsync every commit) when true, else `NORMAL` (fsync at checkpoints).
    pub sync_full: bool,
    /// How often expired points are deleted (ns; 0 disables the background task).
    pub retention_check_interval: i64,
    /// Refuse writes that would pass these (before anything is stored).
    pub cardinality: crate::backend::CardinalityLimits,
    /// The WAL size past which the writer checkpoints and truncates the WAL (`checkpoint.rs`).
    pub wal_max_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            default_retention: 0,
            sync_full: true,
            retention_check_interval: 30 * 60 * 1_000_000_000,
            cardinality: crate::backend::CardinalityLimits::default(),
            wal_max_bytes: 64 << 20,
        }
    }
}

pub struct EmbeddedBackend {
    shared: Arc<RwLock<Shared>>,
    jobs: Option<mpsc::Sender<Job>>,
    pool: Arc<Pool>,
    /// Parts a pass of aggregate calls is cut into (`passes.rs`): the core count, read once at
    /// open (`available_parallelism` reads cgroup files on every call).
    agg_parts: usize,
    writer: Option<std::thread::JoinHandle<()>>,
    retention_stop: Option<std::sync::mpsc::Sender<()>>,
    retention: Option<std::thread::JoinHandle<()>>,
    #[allow(dead_code)]
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS databases (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, default_rp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retention_policies (
    id INTEGER PRIMARY KEY, db_id INTEGER NOT NULL, name TEXT NOT NULL, duration INTEGER NOT NULL,
    shard_group_duration INTEGER NOT NULL, replication INTEGER NOT NULL, UNIQUE (db_id, name));
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY, rp_id INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (rp_id, name));
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, measurement_id INTEGER NOT NULL, series_key TEXT NOT NULL, tags BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS series_by_measurement ON series (measurement_id);
CREATE TABLE IF NOT EXISTS fields (
    measurement_id INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, column_id INTEGER NOT NULL,
    PRIMARY KEY (measurement_id, name));
";

fn load_catalog(conn: &Connection) -> rusqlite::Result<Shared> {
    let mut cat = Catalog::default();
    let mut db_names = std::collections::HashMap::new();
    {
        let mut st = conn.prepare("SELECT id, name, default_rp FROM databases")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, default_rp): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            db_names.insert(id, name.clone());
            cat.apply(&Change::CreateDb { id, name, default_rp });
        }
    }
    // rp id → (db id, db name, rp name)
    let mut rp_names = std::collections::HashMap::new();
    {
        let mut st =
            conn.prepare("SELECT id, db_id, name, duration, shard_group_duration, replication FROM retention_policies")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let db_id: i64 = r.get(1)?;
            let Some(db) = db_names.get(&db_id) else { continue };
            let name: String = r.get(2)?;
            rp_names.insert(id, (db_id, db.clone(), name.clone()));
            cat.apply(&Change::CreateRp {
                db: db.clone(),
                id,
                name,
                duration: r.get(3)?,
                sgd: r.get(4)?,
                replication: r.get::<_, i64>(5)?.clamp(0, u32::MAX as i64) as u32,
                make_default: false,
            });
        }
    }
    let mut series = SeriesStore::default();
    {
        let mut st = conn.prepare("SELECT id, rp_id, name FROM measurements")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let rp_id: i64 = r.get(1)?;
            let Some((db_id, db, rp)) = rp_names.get(&rp_id) else { continue };
            let name: String = r.get(2)?;
            series.create_meas(id, *db_id, &name);
            cat.apply(&Change::CreateMeas { id, db: db.clone(), rp: rp.clone(), name });
        }
    }
    {
        let mut st = conn.prepare("SELECT id, measurement_id, tags FROM series")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let sid: i64 = r.get(0)?;
            let mid: i64 = r.get(1)?;
            if let rusqlite::types::ValueRef::Blob(b) = r.get_ref(2)? {
                if let Some(tags) = decode_tags(b) {
                    series.insert(mid, sid, &tags, false);
                }
            }
        }
    }
    {
        let mut st = conn.prepare("SELECT measurement_id, name, type, column_id FROM fields")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let ty: String = r.get(2)?;
            if let Some(ty) = FieldType::parse(&ty) {
                cat.apply(&Change::CreateField { mid: r.get(0)?, name: r.get(1)?, ty, col: r.get(3)? });
            }
        }
    }
    Ok(Shared { cat, series })
}

impl EmbeddedBackend {
    pub fn open(data_dir: &Path, opts: EmbeddedOptions) -> Result<Self, BackendError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| BackendError::Unavailable(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join("influxgate.sqlite");
        let conn = Connection::open(&path).map_err(|e| BackendError::Unavailable(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(checkpoint::BUSY).map_err(sql_err)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BackendError::Unavailable(format!("cannot enable WAL mode (got {mode})")));
        }
        let sync = if opts.sync_full { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA temp_store = MEMORY;"
        ))
        .map_err(sql_err)?;
        let checkpoints = checkpoint::Checkpointer::new(&conn, &path, opts.wal_max_bytes).map_err(sql_err)?;
        conn.execute_batch(SCHEMA).map_err(sql_err)?;
        conn.set_prepared_statement_cache_capacity(256);
        // Read with SQLite's default 2 MB page cache: the writer's 128 MB cache is for its B-tree
        // inserts, and would otherwise keep the whole series table in memory after the load.
        let loaded = load_catalog(&conn).map_err(sql_err)?;
        conn.execute_batch("PRAGMA cache_size = -131072;").map_err(sql_err)?;
        let cat = loaded.cat.clone();
        let shared = Arc::new(RwLock::new(loaded));
        let (tx, rx) = mpsc::channel::<Job>(256);
        let w = Writer::new(conn, cat, shared.clone(), opts.clone(), checkpoints);
        let writer = std::thread::Builder::new()
            .name("influxgate-sqlite-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| BackendError::Internal(e.to_string()))?;

        let (mut retention_stop, mut retention) = (None, None);
        if opts.retention_check_interval > 0 {
            let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
            let jobs = tx.clone();
            let every = std::time::Duration::from_nanos(opts.retention_check_interval as u64);
            let h = std::thread::Builder::new()
                .name("influxgate-retention".into())
                .spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop_rx.recv_timeout(every) {
                        if jobs.blocking_send(Job::Retention).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| BackendError::Internal(e.to_string()))?;
            retention_stop = Some(stop_tx);
            retention = Some(h);
        }
        Ok(EmbeddedBackend {
            shared,
            jobs: Some(tx),
            pool: Arc::new(Pool::new(path.clone())),
            agg_parts: passes::parts(),
            writer: Some(writer),
            retention_stop,
            retention,
            path,
        })
    }

    fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.shared.read().unwrap_or_else(|e| e.into_inner())
    }

    async fn send(&self, job: Job) -> Result<()> {
        match &self.jobs {
            Some(j) => j.send(job).await.map_err(|_| BackendError::Unavailable("embedded store is shut down".into())),
            None => Err(BackendError::Unavailable("embedded store is shut down".into())),
        }
    }

    async fn ddl(&self, f: impl FnOnce(&mut Writer) -> Result<()> + Send + 'static) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Ddl(Box::new(f), tx)).await?;
        rx.await.map_err(|_| BackendError::Internal("embedded writer stopped".into()))?
    }

    /// Deletes expired points now (the background task does this every `retention_check_interval`).
    pub async fn enforce_retention(&self) -> Result<()> {
        self.ddl(|w| w.enforce_retention()).await
    }

    /// Series of one measurement matching `pred`, sorted by tags.
    fn matching_series(series: &SeriesStore, mid: i64, pred: &TagPredicate) -> Vec<(Tags, i64)> {
        let mut v: Vec<(Tags, i64)> =
            series.visible(mid).filter(|(t, _)| pred.matches_pairs(t)).map(|(t, sid)| (t.clone(), sid)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            let r = f(&conn);
            pool.put(conn);
            r
        })
        .await
        .map_err(|e| BackendError::Internal(e.to_string()))?
    }
}

impl Drop for EmbeddedBackend {
    fn drop(&mut self) {
        self.retention_stop.take();
        if let Some(h) = self.retention.take() {
            let _ = h.join();
        }
        self.jobs.take();
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::Embedded
    }

    /// Aggregates: `count`, `first`, `last` for every type; `min`, `max`, `sum`, `mean` for float,
    /// integer and unsigned (a float sum adds a series' values in ascending time, as 1.x's
    /// per-series reducer does). Other combinations return `BackendError::Unsupported` so the
    /// caller falls back. `mean`'s value is this series' bucket mean (sum of values as f64 in time
    /// order, divided by `count`); `sum` wraps on overflow as 1.x does.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            aggregates: vec![
                AggregateFn::Count,
                AggregateFn::Sum,
                AggregateFn::Mean,
                AggregateFn::Min,
                AggregateFn::Max,
                AggregateFn::First,
                AggregateFn::Last,
            ],
        }
    }

    async fn health(&self) -> Result<()> {
        if self.jobs.is_none() || self.writer.as_ref().map(|h| h.is_finished()).unwrap_or(true) {
            return Err(BackendError::Unavailable("embedded writer is not running".into()));
        }
        self.blocking(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(|e| BackendError::Unavailable(e.to_string())))
            .await
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Write(batch, tx)).await?;
        let (r, batch) = rx.await.map_err(|_| BackendError::Internal("embedded writer stopped".into()))?;
        drop(batch);
        r
    }

    async fn create_database(&self, db: &str) -> Result<()> {
        if db.is_empty() {
            return Err(BackendError::Invalid("database name required".into()));
        }
        let db = db.to_string();
        self.ddl(move |w| w.create_db(&db)).await
    }

    async fn drop_database(&self, db: &str) -> Result<()> {
        let db = db.to_string();
        self.ddl(move |w| {
            let Some(d) = w.local.dbs.get(&db) else { return Ok(()) };
            let id = d.id;
            let mids: Vec<i64> = d.rps.values().flat_map(|r| r.meas.values().copied()).collect();
            for mid in mids {
                w.drop_meas(mid)?;
            }
            w.conn.execute("DELETE FROM retention_policies WHERE db_id = ?1", [id]).map_err(sql_err)?;
            w.conn.execute("DELETE FROM databases WHERE id = ?1", [id]).map_err(sql_err)?;
            w.change(Change::DropDb { name: db });
            Ok(())
        })
        .await
    }

    /// In creation order, as 1.x lists them (`SHOW DATABASES`): database ids are SQLite rowids,
    /// each new one above every id still in use.
    async fn databases(&self) -> Result<Vec<String>> {
        let g = self.catalog();
        let c = &g.cat;
        let mut v: Vec<(i64, String)> = c.dbs.iter().map(|(name, d)| (d.id, name.clone())).collect();
        v.sort();
        Ok(v.into_iter().map(|(_, n)| n).collect())
    }

    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        let g = self.catalog();
        let d = g.cat.dbs.get(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        let mut v: Vec<(i64, RetentionPolicy)> = d
            .rps
            .iter()
            .map(|(name, r)| {
                (
                    r.id,
                    RetentionPolicy {
                        name: name.clone(),
                        duration: r.duration,
                        shard_group_duration: r.sgd,
                        replication: r.replication,
                        default: *name == d.default_rp,
                    },
                )
            })
            .collect();
        // 1.x lists policies in creation order.
        v.sort_by_key(|(id, _)| *id);
        Ok(v.into_iter().map(|(_, r)| r).collect())
    }

    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        let sgd = shards::check_new_policy(&rp.name, rp.replication, rp.duration, rp.shard_group_duration)
            .map_err(BackendError::Invalid)?;
        let db = db.to_string();
        self.ddl(move |w| {
            let d = w.local.dbs.get(&db).ok_or_else(|| BackendError::DatabaseNotFound(db.clone()))?;
            if let Some(existing) = d.rps.get(&rp.name) {
                if existing.replication != rp.replication || existing.duration != rp.duration || existing.sgd != sgd {
                    return Err(BackendError::RetentionPolicyConflict(rp.name.clone()));
                }
                if rp.default && d.default_rp != rp.name {
                    return Err(BackendError::Invalid("retention policy conflicts with an existing policy".into()));
                }
                return Ok(());
            }
            w.create_rp(&db, &rp.name, rp.duration, sgd, rp.replication, rp.default)
        })
        .await
    }

    async fn alter_retention_policy(&self, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.ddl(move |w| {
            let d = w.local.dbs.get(&db).ok_or_else(|| BackendError::DatabaseNotFound(db.clone()))?;
            let db_id = d.id;
            let r = d.rps.get(&name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.clone()))?;
            if let Some(du) = update.duration {
                shards::check_duration(du).map_err(BackendError::Invalid)?;
            }
            let (du, sgd) = (update.duration.unwrap_or(r.duration), update.shard_group_duration.unwrap_or(r.sgd));
            shards::check_fits(du, sgd).map_err(BackendError::Invalid)?;
            let duration = update.duration.unwrap_or(r.duration);
            let replication = update.replication.unwrap_or(r.replication);
            let sgd = match update.shard_group_duration {
                Some(s) => shards::normalize(s, duration),
                None => r.sgd,
            };
            let rp_id = r.id;
            w.conn
                .execute(
                    "UPDATE retention_policies SET duration = ?1, shard_group_duration = ?2, replication = ?3 WHERE id = ?4",
                    rusqlite::params![duration, sgd, replication as i64, rp_id],
                )
                .map_err(sql_err)?;
            if update.make_default {
                w.conn
                    .execute("UPDATE databases SET default_rp = ?1 WHERE id = ?2", rusqlite::params![name, db_id])
                    .map_err(sql_err)?;
            }
            w.change(Change::UpdateRp { db, name, duration, sgd, replication, make_default: update.make_default });
            Ok(())
        })
        .await
    }

    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        let (db, name) = (db.to_string(), name.to_string());
        self.ddl(move |w| {
            // 1.x: dropping an RP of a missing database, or a missing RP, is not an error.
            let Some(r) = w.local.dbs.get(&db).and_then(|d| d.rps.get(&name)) else { return Ok(()) };
            let rp_id = r.id;
            let mids: Vec<i64> = r.meas.values().copied().collect();
            for mid in mids {
                w.drop_meas(mid)?;
            }
            w.conn.execute("DELETE FROM retention_policies WHERE id = ?1", [rp_id]).map_err(sql_err)?;
            w.change(Change::DropRp { db, name });
            Ok(())
        })
        .await
    }

    /// `rp = None` (or `""`): series of every RP of the database, as 1.x's `SHOW SERIES` (its
    /// index spans all shards). A SELECT's tag set should pass its RP (the default's name).
    async fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        let rp = rp.filter(|r| !r.is_empty());
        let g = self.catalog();
        let d = g.cat.dbs.get(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        let rps: Vec<&catalog::Rp> = match rp {
            Some(name) => vec![d.rps.get(name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.to_string()))?],
            None => d.rps.values().collect(),
        };
        let mut out = Vec::new();
        for r in rps {
            for (name, mid) in &r.meas {
                if !measurements.matches(name) {
                    continue;
                }
                for (t, _) in g.series.visible(*mid) {
                    if tags.matches_pairs(t) {
                        out.push(SeriesInfo { measurement: name.clone(), tags: owned(t) });
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `rp = None` (or `""`): measurements of every RP of the database, as 1.x's
    /// `SHOW MEASUREMENTS`.
    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        let rp = rp.filter(|r| !r.is_empty());
        let g = self.catalog();
        let d = g.cat.dbs.get(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        let mut out: Vec<String> = Vec::new();
        for (rname, r) in &d.rps {
            if rp.is_some_and(|x| x != rname) {
                continue;
            }
            for (name, mid) in &r.meas {
                if g.series.has_visible(*mid) {
                    out.push(name.clone());
                }
            }
        }
        if let Some(x) = rp {
            if !d.rps.contains_key(x) {
                return Err(BackendError::RetentionPolicyNotFound(x.to_string()));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `rp = None` (or `""`): the database's default RP, as 1.x's `SHOW FIELD KEYS`.
    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        let g = self.catalog();
        let (_, _, r) = g.cat.resolve_rp(db, rp)?;
        let Some(m) = r.meas.get(measurement).and_then(|mid| g.cat.meas.get(mid)) else { return Ok(Vec::new()) };
        let mut v: Vec<(String, FieldType)> = m.fields.iter().map(|(k, f)| (k.clone(), f.ty)).collect();
        v.sort();
        Ok(v)
    }

    /// An empty `fields` list reads every row's time (no row is skipped).
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        let plan = {
            let g = self.catalog();
            let (_, _, r) = g.cat.resolve_rp(&req.db, req.rp.as_deref())?;
            match r.meas.get(&req.measurement).and_then(|mid| g.cat.meas.get(mid)) {
                None => None,
                Some(m) => Some(ScanPlan {
                    mid: m.id,
                    series: Self::matching_series(&g.series, m.id, &req.tags)
                        .into_iter()
                        .filter(|(t, _)| req.wants(t))
                        .collect(),
                    cols: req.fields.iter().map(|f| m.fields.get(f).map(|x: &Field| (x.col, x.ty))).collect(),
                    min_time: req.min_time,
                    max_time: req.max_time,
                    desc: req.order == crate::backend::ScanOrder::Desc,
                    limit: req.limit,
                    filter: req.where_fields.clone(),
                    fields: req.fields.clone(),
                }),
            }
        };
        let Some(plan) = plan.filter(|p| !p.series.is_empty() && p.min_time <= p.max_time) else {
            return Ok(Box::pin(futures::stream::empty()));
        };
        let (tx, rx) = mpsc::channel::<Result<SeriesChunk>>(4);
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.get() {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            if let Err(e) = read::run_scan(&conn, plan, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
            pool.put(conn);
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })))
    }

    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        self.aggregate_many(vec![req]).await.pop().unwrap_or_else(|| Ok(Vec::new()))
    }

    /// Calls over the same series, range and buckets share one read of the rows, and the series
    /// are split among the cores (`passes.rs`).
    async fn aggregate_many(&self, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
        passes::answer(&self.pool, &self.shared, self.agg_parts, reqs).await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        self.ddl(move |w| {
            let d = w.local.dbs.get(&req.db).ok_or_else(|| BackendError::DatabaseNotFound(req.db.clone()))?;
            let mut work: Vec<(i64, Vec<(Tags, i64)>)> = Vec::new();
            {
                let g = w.shared.read().unwrap_or_else(|e| e.into_inner());
                for r in d.rps.values() {
                    for (name, mid) in &r.meas {
                        if !req.measurements.matches(name) {
                            continue;
                        }
                        let series = Self::matching_series(&g.series, *mid, &req.tags);
                        if !series.is_empty() {
                            work.push((*mid, series));
                        }
                    }
                }
            }
            for (mid, series) in work {
                w.delete_in_meas(mid, Some(series), req.min_time, req.max_time, req.drop_series)?;
            }
            Ok(())
        })
        .await
    }
}
