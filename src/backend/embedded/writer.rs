//! The writer thread: owns the only read-write connection and the authoritative catalog copy.
//!
//! Jobs arrive through a bounded channel. Write batches that queue up are group-committed: one
//! transaction for all of them, every caller answered after the commit. DDL, deletes and retention
//! run one per transaction. Catalog changes reach the shared (reader-visible) copy after commit;
//! new series enter the shared series index at once, hidden from readers until the commit
//! (`series.rs`), and the cardinality limits are checked against it before a batch stores
//! anything (`cardinality.rs`).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use rusqlite::{params, Connection};
use tokio::sync::{mpsc, oneshot};

use super::cardinality::{self, NewSeries};
use super::catalog::{encode_tags, Catalog, Change, Rp, Shared};
use super::checkpoint::Checkpointer;
use super::series::Tags;
use super::EmbeddedOptions;
use crate::backend::{BackendError, Result, WriteBatch, WriteOutcome};
use crate::model::{series_key_of, FieldRef, FieldType, PointRef, Tags as PointTags};

pub(crate) type DdlFn = Box<dyn FnOnce(&mut Writer) -> Result<()> + Send>;

pub(crate) type WriteReply = oneshot::Sender<(Result<WriteOutcome>, WriteBatch)>;

pub(crate) enum Job {
    Write(WriteBatch, WriteReply),
    Ddl(DdlFn, oneshot::Sender<Result<()>>),
    Retention,
}

/// Stop adding batches to a group past this many points (keeps transactions and latency bounded).
const MAX_GROUP_POINTS: usize = 200_000;
/// SQLite's default column limit is 2000; keep room for series_id and time.
pub(crate) const MAX_FIELDS_PER_MEASUREMENT: i64 = 1990;

pub(crate) fn sql_err(e: rusqlite::Error) -> BackendError {
    BackendError::Internal(e.to_string())
}

pub(crate) struct Writer {
    pub conn: Connection,
    pub local: Catalog,
    pub shared: Arc<RwLock<Shared>>,
    pub delta: Vec<Change>,
    /// The open transaction's series changes.
    txn: TxnSeries,
    pub opts: EmbeddedOptions,
    /// Measurement id → its INSERT .. ON CONFLICT statements.
    insert_sql: HashMap<i64, InsertSql>,
    /// Keeps the WAL bounded; runs after each commit.
    checkpoints: Checkpointer,
}

/// A measurement's series set, or one series, in the series index.
enum SeriesOp {
    Meas(i64),
    Series(i64, Tags),
}

/// Series changes of the open transaction. Additions are in the shared index already (marked
/// uncommitted) and are taken out again on rollback; drops are applied at commit.
#[derive(Default)]
struct TxnSeries {
    added: Vec<SeriesOp>,
    dropped: Vec<SeriesOp>,
}

impl TxnSeries {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.dropped.is_empty()
    }
}

struct InsertSql {
    /// Field columns the SQL covers.
    ncols: i64,
    /// Points per `multi` statement.
    rows: usize,
    one: String,
    multi: String,
}

/// Points per multi-row INSERT, and the bound-parameter budget (SQLite's limit is 32766).
/// Measured with benches/embedded.rs: 16-row statements cost ~10% more CPU per point than
/// single-row ones (SQLite materialises multi-row VALUES), so multi-row is off; the code stays
/// so the trade-off can be re-measured.
const ROWS_PER_INSERT: usize = 1;
const MAX_PARAMS: usize = 32000;

/// Why a batch failed: the batch's own fault (nothing done) or a store failure (roll back the group).
enum Fail {
    Batch(BackendError),
    Fatal(BackendError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Fatal(sql_err(e))
    }
}

impl Writer {
    pub fn new(
        conn: Connection,
        local: Catalog,
        shared: Arc<RwLock<Shared>>,
        opts: EmbeddedOptions,
        checkpoints: Checkpointer,
    ) -> Writer {
        let txn = TxnSeries::default();
        Writer { conn, local, shared, delta: Vec::new(), txn, opts, insert_sql: HashMap::new(), checkpoints }
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut held: Option<Job> = None;
        loop {
            let job = match held.take() {
                Some(j) => j,
                None => match rx.blocking_recv() {
                    Some(j) => j,
                    None => break,
                },
            };
            match job {
                Job::Write(batch, reply) => {
                    // The batch goes back to the caller with the answer, so its (many small)
                    // deallocations happen on the caller's thread, not on this one.
                    // (answer, reply, batch, whether it changed anything that a rollback undoes)
                    let mut group: Vec<(Result<WriteOutcome>, WriteReply, WriteBatch, bool)> = Vec::new();
                    let mut fatal: Option<BackendError> = None;
                    if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
                        let _ = reply.send((Err(sql_err(e)), batch));
                        continue;
                    }
                    let mut points = 0usize;
                    let mut next = Some((batch, reply));
                    while let Some((batch, reply)) = next.take() {
                        points += batch.points.len();
                        match self.write_batch(&batch) {
                            Ok((_, beyond)) if beyond > 0 => group.push((
                                Err(BackendError::Invalid(format!(
                                    "partial write: points beyond retention policy dropped={beyond}"
                                ))),
                                reply,
                                batch,
                                true,
                            )),
                            Ok((n, _)) => group.push((Ok(WriteOutcome { points_written: n }), reply, batch, true)),
                            Err(Fail::Batch(e)) => group.push((Err(e), reply, batch, false)),
                            Err(Fail::Fatal(e)) => {
                                fatal = Some(e.clone());
                                group.push((Err(e), reply, batch, true));
                            }
                        }
                        if fatal.is_some() || points >= MAX_GROUP_POINTS {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(Job::Write(b, r)) => next = Some((b, r)),
                            Ok(other) => held = Some(other),
                            Err(_) => {}
                        }
                    }
                    if fatal.is_none() {
                        if let Err(e) = self.conn.execute_batch("COMMIT") {
                            fatal = Some(sql_err(e));
                        }
                    }
                    match fatal {
                        None => {
                            self.publish();
                            for (r, reply, batch, _) in group {
                                let _ = reply.send((r, batch));
                            }
                            self.checkpoints.after_commit(&self.conn);
                        }
                        Some(e) => {
                            let _ = self.conn.execute_batch("ROLLBACK");
                            self.restore();
                            for (r, reply, batch, applied) in group {
                                let r = if applied { Err(e.clone()) } else { r };
                                let _ = reply.send((r, batch));
                            }
                        }
                    }
                }
                Job::Ddl(f, reply) => {
                    let r = self.in_txn(f);
                    let _ = reply.send(r);
                    self.checkpoints.after_commit(&self.conn);
                }
                Job::Retention => {
                    let r = self.in_txn(Box::new(|w: &mut Writer| w.enforce_retention()));
                    if let Err(e) = r {
                        tracing::warn!("retention enforcement failed: {e}");
                    }
                    self.checkpoints.after_commit(&self.conn);
                }
            }
        }
    }

    fn in_txn(&mut self, f: DdlFn) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
        match f(self) {
            Ok(()) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => {
                    self.publish();
                    Ok(())
                }
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.restore();
                    Err(sql_err(e))
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.restore();
                Err(e)
            }
        }
    }

    fn shared_mut(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.shared.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the committed changes visible to readers.
    fn publish(&mut self) {
        if self.delta.is_empty() && self.txn.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let mut g = shared.write().unwrap_or_else(|e| e.into_inner());
        for c in self.delta.drain(..) {
            g.cat.apply(&c);
        }
        for op in self.txn.dropped.drain(..) {
            match op {
                SeriesOp::Meas(mid) => g.series.drop_meas(mid),
                SeriesOp::Series(mid, tags) => g.series.remove(mid, &tags),
            }
        }
        g.series.commit();
        self.txn.added.clear();
        self.txn.added.shrink_to(1024);
    }

    /// After a rollback: the working copy and the series index go back to the committed state.
    fn restore(&mut self) {
        if self.delta.is_empty() && self.txn.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let mut g = shared.write().unwrap_or_else(|e| e.into_inner());
        for op in self.txn.added.drain(..).rev() {
            match op {
                SeriesOp::Meas(mid) => g.series.drop_meas(mid),
                SeriesOp::Series(mid, tags) => g.series.remove(mid, &tags),
            }
        }
        g.series.commit();
        self.txn.dropped.clear();
        self.delta.clear();
        self.local = g.cat.clone();
        self.insert_sql.clear();
    }

    pub fn change(&mut self, c: Change) {
        self.local.apply(&c);
        self.delta.push(c);
    }

    // ---- catalog creation (SQL + change) ----

    pub fn create_db(&mut self, name: &str) -> Result<()> {
        if self.local.dbs.contains_key(name) {
            return Ok(());
        }
        self.conn
            .execute("INSERT INTO databases(name, default_rp) VALUES (?1, ?2)", params![name, "autogen"])
            .map_err(sql_err)?;
        let id = self.conn.last_insert_rowid();
        self.change(Change::CreateDb { id, name: name.to_string(), default_rp: "autogen".into() });
        let d = self.opts.default_retention;
        self.create_rp(name, "autogen", d, crate::rules::shards::default_duration(d), 1, true)
    }

    pub fn create_rp(&mut self, db: &str, name: &str, duration: i64, sgd: i64, replication: u32, make_default: bool) -> Result<()> {
        let db_id = match self.local.dbs.get(db) {
            Some(d) => d.id,
            None => return Err(BackendError::DatabaseNotFound(db.to_string())),
        };
        self.conn
            .execute(
                "INSERT INTO retention_policies(db_id, name, duration, shard_group_duration, replication) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![db_id, name, duration, sgd, replication as i64],
            )
            .map_err(sql_err)?;
        let id = self.conn.last_insert_rowid();
        if make_default {
            self.conn.execute("UPDATE databases SET default_rp = ?1 WHERE id = ?2", params![name, db_id]).map_err(sql_err)?;
        }
        self.change(Change::CreateRp {
            db: db.to_string(),
            id,
            name: name.to_string(),
            duration,
            sgd,
            replication,
            make_default,
        });
        Ok(())
    }

    fn create_meas(&mut self, db: &str, rp: &str, name: &str) -> Result<i64> {
        let rp_id = match self.local.dbs.get(db).and_then(|d| d.rps.get(rp)) {
            Some(r) => r.id,
            None => return Err(BackendError::RetentionPolicyNotFound(rp.to_string())),
        };
        self.conn
            .execute("INSERT INTO measurements(rp_id, name) VALUES (?1, ?2)", params![rp_id, name])
            .map_err(sql_err)?;
        let id = self.conn.last_insert_rowid();
        // Only the numeric id reaches the SQL text.
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE p_{id} (series_id INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (series_id, time)) WITHOUT ROWID"
            ))
            .map_err(sql_err)?;
        self.change(Change::CreateMeas { id, db: db.to_string(), rp: rp.to_string(), name: name.to_string() });
        if let Some(db_id) = self.local.dbs.get(db).map(|d| d.id) {
            self.shared_mut().series.create_meas(id, db_id, name);
            self.txn.added.push(SeriesOp::Meas(id));
        }
        Ok(id)
    }

    /// The SQL row of a new series; [`Writer::index_series`] adds it to the series index.
    fn create_series(&mut self, mid: i64, measurement: &str, tags: PointTags<'_>) -> Result<i64> {
        let key = series_key_of(measurement, tags.iter());
        self.conn
            .execute(
                "INSERT INTO series(measurement_id, series_key, tags) VALUES (?1, ?2, ?3)",
                params![mid, key, encode_tags(tags)],
            )
            .map_err(sql_err)?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Adds new series (their rows inserted) to the series index, hidden until the commit.
    fn index_series(&mut self, new: &[(i64, i64, PointTags<'_>)]) {
        if new.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        let mut g = shared.write().unwrap_or_else(|e| e.into_inner());
        for (mid, sid, tags) in new {
            if let Some(t) = g.series.insert(*mid, *sid, tags, true) {
                self.txn.added.push(SeriesOp::Series(*mid, t));
            }
        }
    }

    fn create_field(&mut self, mid: i64, name: &str, ty: FieldType) -> Result<()> {
        let col = match self.local.meas.get(&mid) {
            Some(m) => m.next_col,
            None => return Err(BackendError::Internal("measurement vanished".into())),
        };
        self.conn
            .execute(
                "INSERT INTO fields(measurement_id, name, type, column_id) VALUES (?1, ?2, ?3, ?4)",
                params![mid, name, ty.as_str(), col],
            )
            .map_err(sql_err)?;
        let decl = match ty {
            // No declared type: a REAL-affinity column stores integral floats as integers, which
            // turns -0.0 into 0; without affinity the 8-byte float is kept as written.
            FieldType::Float => "",
            FieldType::String => "TEXT",
            FieldType::Integer | FieldType::Unsigned | FieldType::Boolean => "INTEGER",
        };
        self.conn.execute_batch(&format!("ALTER TABLE p_{mid} ADD COLUMN f_{col} {decl}")).map_err(sql_err)?;
        self.change(Change::CreateField { mid, name: name.to_string(), ty, col });
        Ok(())
    }

    pub fn drop_meas(&mut self, mid: i64) -> Result<()> {
        self.conn.execute_batch(&format!("DROP TABLE IF EXISTS p_{mid}")).map_err(sql_err)?;
        self.conn.execute("DELETE FROM fields WHERE measurement_id = ?1", [mid]).map_err(sql_err)?;
        self.conn.execute("DELETE FROM series WHERE measurement_id = ?1", [mid]).map_err(sql_err)?;
        self.conn.execute("DELETE FROM measurements WHERE id = ?1", [mid]).map_err(sql_err)?;
        self.insert_sql.remove(&mid);
        self.change(Change::DropMeas { id: mid });
        self.txn.dropped.push(SeriesOp::Meas(mid));
        Ok(())
    }

    pub fn drop_series(&mut self, mid: i64, sid: i64, tags: Tags) -> Result<()> {
        self.conn
            .prepare_cached(&format!("DELETE FROM p_{mid} WHERE series_id = ?1"))
            .and_then(|mut s| s.execute([sid]))
            .map_err(sql_err)?;
        self.conn.execute("DELETE FROM series WHERE id = ?1", [sid]).map_err(sql_err)?;
        self.txn.dropped.push(SeriesOp::Series(mid, tags));
        Ok(())
    }

    // ---- writes ----

    /// Validates a batch against the catalog without changing anything, then applies it.
    /// Returns (points written, points dropped for being older than the RP keeps).
    fn write_batch(&mut self, batch: &WriteBatch) -> std::result::Result<(usize, usize), Fail> {
        if batch.points.is_empty() {
            return Ok((0, 0));
        }
        // Resolve the target RP.
        let db = self.local.dbs.get(&batch.db);
        let db_exists = db.is_some();
        // An empty RP name means the default, as 1.x's `rp=` query parameter does.
        let rp_name: String = match (batch.rp.as_ref().filter(|r| !r.is_empty()), db) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.default_rp.clone(),
            (None, None) => "autogen".to_string(),
        };
        let rp = match db {
            Some(d) => match d.rps.get(&rp_name) {
                Some(r) => Some(r),
                None => return Err(Fail::Batch(BackendError::RetentionPolicyNotFound(rp_name))),
            },
            None => {
                if rp_name != "autogen" {
                    return Err(Fail::Batch(BackendError::RetentionPolicyNotFound(rp_name)));
                }
                None
            }
        };
        // As 1.x: points older than now - duration are dropped, the others written, and the
        // write answers `partial write: points beyond retention policy dropped=N`.
        let duration = rp.map(|r| r.duration).unwrap_or(self.opts.default_retention);
        let cutoff = if duration > 0 { now_ns().saturating_sub(duration) } else { i64::MIN };
        let pts: Vec<PointRef<'_>> = batch.points.iter().filter(|p| p.time >= cutoff).collect();
        let beyond = batch.points.len() - pts.len();
        if pts.is_empty() {
            return Ok((0, beyond));
        }

        // Cardinality first, as 1.x checks its index before field types.
        let db_id = db.map(|d| d.id);
        let known = self.known_series(batch, db_id, rp, &pts)?;

        // Validation: field types against the catalog and against earlier points of the batch.
        let mut new_fields: HashMap<(&str, &str), FieldType> = HashMap::new();
        let mut new_order: Vec<(&str, &str, FieldType)> = Vec::new();
        let mut new_per_meas: HashMap<&str, i64> = HashMap::new();
        // Whether a point has the measurement and field names and types of the one before it.
        let mut same_prev = vec![false; pts.len()];
        {
            let mut last: Option<(&str, Option<&super::catalog::Meas>)> = None;
            let mut prev: Option<PointRef<'_>> = None;
            for (idx, p) in pts.iter().copied().enumerate() {
                // Consecutive points usually carry the same fields: nothing new to check.
                if let Some(q) = prev {
                    if q.measurement == p.measurement && q.fields.same_shape(&p.fields) {
                        same_prev[idx] = true;
                        continue;
                    }
                }
                prev = Some(p);
                let m = match last {
                    Some((name, m)) if name == p.measurement => m,
                    _ => {
                        let m = rp.and_then(|r| r.meas.get(p.measurement)).and_then(|id| self.local.meas.get(id));
                        last = Some((p.measurement, m));
                        m
                    }
                };
                for (k, v) in p.fields.iter() {
                    let t = v.field_type();
                    let stored = m.and_then(|m| m.fields.get(k)).map(|f| f.ty);
                    let existing = stored.or_else(|| new_fields.get(&(p.measurement, k)).copied());
                    match existing {
                        // Two points of the batch disagree on a field not stored yet: 1.x's
                        // answer is the bare text, without the partial-write details.
                        Some(e) if e != t && stored.is_none() => {
                            return Err(Fail::Batch(BackendError::Invalid("field type conflict".into())))
                        }
                        Some(e) if e != t => {
                            return Err(Fail::Batch(BackendError::FieldTypeConflict {
                                measurement: p.measurement.to_string(),
                                field: k.to_string(),
                                input: t,
                                existing: e,
                                dropped: batch.points.len(),
                            }))
                        }
                        Some(_) => {}
                        None => {
                            new_fields.insert((p.measurement, k), t);
                            new_order.push((p.measurement, k, t));
                            let n = new_per_meas.entry(p.measurement).or_insert(0);
                            *n += 1;
                            let have = m.map(|m| m.next_col - 1).unwrap_or(0);
                            if have + *n > MAX_FIELDS_PER_MEASUREMENT {
                                return Err(Fail::Batch(BackendError::Invalid(format!(
                                    "too many fields on measurement \"{}\" (max {MAX_FIELDS_PER_MEASUREMENT})",
                                    p.measurement
                                ))));
                            }
                        }
                    }
                }
            }
        }

        // Apply: create the database, measurements, series and fields the batch needs.
        if !db_exists {
            self.create_db(&batch.db).map_err(Fail::Fatal)?;
        }
        let ids = self.resolve_ids(&batch.db, &rp_name, &pts, &known).map_err(Fail::Fatal)?;
        if !new_order.is_empty() {
            let mut meas_ids: HashMap<&str, i64> = HashMap::new();
            for (p, (mid, _)) in pts.iter().zip(&ids) {
                meas_ids.entry(p.measurement).or_insert(*mid);
            }
            for (mname, fname, ty) in new_order {
                if let Some(mid) = meas_ids.get(mname) {
                    self.create_field(*mid, fname, ty).map_err(Fail::Fatal)?;
                }
            }
        }

        // Insert: per run of points of one measurement, multi-row statements of `rows` points,
        // then single-row ones for the rest. Rows of one statement are applied in order, so a
        // later row with the same (series, time) merges into an earlier one as across statements.
        let Writer { conn, local, insert_sql, .. } = self;
        let mut slots: Vec<Option<FieldRef<'_>>> = Vec::new();
        let mut map: Vec<usize> = Vec::new();
        let mut i = 0;
        while i < pts.len() {
            let mid = ids[i].0;
            let meas = match local.meas.get(&mid) {
                Some(m) => m,
                None => return Err(Fail::Fatal(BackendError::Internal("measurement vanished".into()))),
            };
            let ncols = meas.next_col - 1;
            let sqls = match insert_sql.get(&mid) {
                Some(x) if x.ncols == ncols => x,
                _ => {
                    let rows = (MAX_PARAMS / (ncols as usize + 2)).clamp(1, ROWS_PER_INSERT);
                    insert_sql.insert(
                        mid,
                        InsertSql {
                            ncols,
                            rows,
                            one: build_insert_sql(mid, ncols, 1),
                            multi: build_insert_sql(mid, ncols, rows),
                        },
                    );
                    &insert_sql[&mid]
                }
            };
            let mut end = i;
            while end < pts.len() && ids[end].0 == mid {
                end += 1;
            }
            let width = ncols as usize + 2;
            slots.clear();
            slots.resize(ncols as usize, None);
            let mut map_of = false;
            let mut multi = if sqls.rows > 1 && end - i >= sqls.rows { Some(conn.prepare_cached(&sqls.multi)?) } else { None };
            let mut one = conn.prepare_cached(&sqls.one)?;
            while i < end {
                let (stmt, rows) = match multi.as_mut() {
                    Some(m) if end - i >= sqls.rows => (m, sqls.rows),
                    _ => (&mut one, 1),
                };
                for r in 0..rows {
                    let p = pts[i + r];
                    for s in slots.iter_mut() {
                        *s = None;
                    }
                    // Field position → slot, reused while points carry the same field names.
                    if !(map_of && same_prev[i + r]) {
                        map.clear();
                        for k in p.fields.keys() {
                            map.push(meas.fields.get(k).map(|f| (f.col - 1) as usize).unwrap_or(usize::MAX));
                        }
                        map_of = true;
                    }
                    for (j, (_, v)) in p.fields.iter().enumerate() {
                        if let Some(s) = map.get(j).and_then(|c| slots.get_mut(*c)) {
                            *s = Some(v);
                        }
                    }
                    let base = r * width;
                    stmt.raw_bind_parameter(base + 1, ids[i + r].1)?;
                    stmt.raw_bind_parameter(base + 2, p.time)?;
                    for (j, s) in slots.iter().enumerate() {
                        let idx = base + j + 3;
                        match s {
                            None => stmt.raw_bind_parameter(idx, rusqlite::types::Null)?,
                            Some(FieldRef::Float(x)) => stmt.raw_bind_parameter(idx, *x)?,
                            Some(FieldRef::Integer(x)) => stmt.raw_bind_parameter(idx, *x)?,
                            Some(FieldRef::Unsigned(x)) => stmt.raw_bind_parameter(idx, *x as i64)?,
                            Some(FieldRef::Boolean(x)) => stmt.raw_bind_parameter(idx, *x as i64)?,
                            Some(FieldRef::String(x)) => stmt.raw_bind_parameter(idx, *x)?,
                        }
                    }
                }
                stmt.raw_execute()?;
                i += rows;
            }
        }
        Ok((pts.len(), beyond))
    }

    /// Each point's series id where the series exists (committed or created by an earlier batch
    /// of the open group commit); refuses the batch when its new series would pass a
    /// cardinality limit.
    fn known_series(
        &self,
        batch: &WriteBatch,
        db_id: Option<i64>,
        rp: Option<&Rp>,
        pts: &[PointRef<'_>],
    ) -> std::result::Result<Vec<Option<i64>>, Fail> {
        let g = self.shared.read().unwrap_or_else(|e| e.into_inner());
        let mut known = Vec::with_capacity(pts.len());
        let mut new: Vec<NewSeries<'_>> = Vec::new();
        let mut seen: HashSet<(&str, PointTags<'_>)> = HashSet::new();
        let mut last: Option<(&str, Option<i64>)> = None;
        for p in pts.iter().copied() {
            let mid = match last {
                Some((name, mid)) if name == p.measurement => mid,
                _ => {
                    let mid = rp.and_then(|r| r.meas.get(p.measurement)).copied();
                    last = Some((p.measurement, mid));
                    mid
                }
            };
            let sid = mid.and_then(|m| g.series.sid(m, &p.tags));
            if sid.is_none() && seen.insert((p.measurement, p.tags)) {
                new.push(NewSeries { mid, name: p.measurement, tags: p.tags });
            }
            known.push(sid);
        }
        if !new.is_empty() {
            if let Some(reason) = cardinality::check(&g.series, db_id, &new, self.opts.cardinality) {
                return Err(Fail::Batch(BackendError::CardinalityLimit { reason, dropped: batch.points.len() }));
            }
        }
        Ok(known)
    }

    /// Each point's (measurement id, series id), creating the measurements and series missing.
    fn resolve_ids<'p>(&mut self, db: &str, rp: &str, pts: &[PointRef<'p>], known: &[Option<i64>]) -> Result<Vec<(i64, i64)>> {
        let mut ids: Vec<(i64, i64)> = Vec::with_capacity(pts.len());
        let mut fresh: HashMap<(i64, PointTags<'p>), i64> = HashMap::new();
        let mut new: Vec<(i64, i64, PointTags<'p>)> = Vec::new();
        let mut last_meas: Option<(&str, i64)> = None;
        for (p, known) in pts.iter().copied().zip(known) {
            let mid = match last_meas {
                Some((name, id)) if name == p.measurement => id,
                _ => {
                    let found =
                        self.local.dbs.get(db).and_then(|d| d.rps.get(rp)).and_then(|r| r.meas.get(p.measurement)).copied();
                    let id = match found {
                        Some(id) => id,
                        None => self.create_meas(db, rp, p.measurement)?,
                    };
                    last_meas = Some((p.measurement, id));
                    id
                }
            };
            let sid = match known.or_else(|| fresh.get(&(mid, p.tags)).copied()) {
                Some(s) => s,
                None => {
                    let s = self.create_series(mid, p.measurement, p.tags)?;
                    fresh.insert((mid, p.tags), s);
                    new.push((mid, s, p.tags));
                    s
                }
            };
            ids.push((mid, sid));
        }
        self.index_series(&new);
        Ok(ids)
    }

    // ---- retention ----

    pub fn enforce_retention(&mut self) -> Result<()> {
        let now = now_ns();
        let mut work: Vec<(i64, i64)> = Vec::new();
        for d in self.local.dbs.values() {
            for r in d.rps.values() {
                if r.duration > 0 {
                    let cutoff = now.saturating_sub(r.duration);
                    for mid in r.meas.values() {
                        work.push((*mid, cutoff));
                    }
                }
            }
        }
        for (mid, cutoff) in work {
            self.delete_in_meas(mid, None, i64::MIN, cutoff.saturating_sub(1), false)?;
        }
        Ok(())
    }

    /// Deletes points with `min <= time <= max` of the series of `mid` (all, or those in `only`),
    /// then drops series left without points (all of them when `drop_all`), and the measurement
    /// when it has no series left.
    pub fn delete_in_meas(
        &mut self,
        mid: i64,
        only: Option<Vec<(Tags, i64)>>,
        min: i64,
        max: i64,
        drop_all: bool,
    ) -> Result<()> {
        let (series, total) = {
            let g = self.shared.read().unwrap_or_else(|e| e.into_inner());
            let total = g.series.visible_count(mid);
            (only.unwrap_or_else(|| g.series.visible(mid).map(|(t, sid)| (t.clone(), sid)).collect()), total)
        };
        if drop_all && series.len() == total {
            return self.drop_meas(mid);
        }
        let mut to_drop = Vec::new();
        if !drop_all {
            let mut del = self
                .conn
                .prepare_cached(&format!("DELETE FROM p_{mid} WHERE series_id = ?1 AND time >= ?2 AND time <= ?3"))
                .map_err(sql_err)?;
            let mut any = self
                .conn
                .prepare_cached(&format!("SELECT 1 FROM p_{mid} WHERE series_id = ?1 LIMIT 1"))
                .map_err(sql_err)?;
            for (tags, sid) in series {
                del.execute(params![sid, min, max]).map_err(sql_err)?;
                if !any.exists([sid]).map_err(sql_err)? {
                    to_drop.push((tags, sid));
                }
            }
        } else {
            to_drop = series;
        }
        // Also a measurement without series (none was ever committed) goes.
        if to_drop.len() == total {
            return self.drop_meas(mid);
        }
        for (tags, sid) in to_drop {
            self.drop_series(mid, sid, tags)?;
        }
        Ok(())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Same field names and types in the same order.
fn build_insert_sql(mid: i64, ncols: i64, rows: usize) -> String {
    let mut s = format!("INSERT INTO p_{mid} (series_id, time");
    for c in 1..=ncols {
        let _ = write!(s, ", f_{c}");
    }
    s.push_str(") VALUES ");
    let width = ncols as usize + 2;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..width {
            if c > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "?{}", r * width + c + 1);
        }
        s.push(')');
    }
    s.push_str(" ON CONFLICT (series_id, time) DO ");
    if ncols == 0 {
        s.push_str("NOTHING");
    } else {
        s.push_str("UPDATE SET ");
        for c in 1..=ncols {
            if c > 1 {
                s.push_str(", ");
            }
            let _ = write!(s, "f_{c} = coalesce(excluded.f_{c}, f_{c})");
        }
    }
    s
}
