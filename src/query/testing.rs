//! A second, tiny store for the query engine's tests: points in memory, every trait method written
//! the obvious way. It is not a model of the embedded store; it is an independent implementation of
//! the `Backend` contract that the evaluator can be checked against.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::backend::*;
use crate::model::{FieldType, FieldValue, Point};

#[derive(Default)]
struct Db {
    rps: Vec<RetentionPolicy>,
    points: Vec<Point>,
    /// Field types by measurement; like 1.x, deleting points does not forget them.
    fields: BTreeMap<String, BTreeMap<String, FieldType>>,
}

/// Points in memory. `chunk_rows` splits series into several chunks, to exercise chunk handling.
pub struct MemBackend {
    dbs: Mutex<BTreeMap<String, Db>>,
    pub chunk_rows: usize,
    pub pushdown: bool,
    /// Catalog calls answered (databases, policies, series, measurements, field keys).
    catalog_calls: std::sync::atomic::AtomicUsize,
    /// The time range of every scan asked.
    scans: Mutex<Vec<(i64, i64)>>,
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend { dbs: Mutex::new(BTreeMap::new()), chunk_rows: 3, pushdown: false, catalog_calls: Default::default(), scans: Default::default() }
    }
}

fn autogen() -> RetentionPolicy {
    RetentionPolicy {
        name: "autogen".into(),
        duration: 0,
        shard_group_duration: 168 * 3600 * 1_000_000_000,
        replication: 1,
        default: true,
    }
}

impl MemBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// The time ranges of the scans asked so far (and forgets them).
    pub fn take_scans(&self) -> Vec<(i64, i64)> {
        self.scans.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }

    /// Catalog calls answered so far.
    pub fn catalog_calls(&self) -> usize {
        self.catalog_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_catalog_call(&self) {
        self.catalog_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Parses a tiny line protocol (no escapes except none needed by tests):
    /// `m,t=v f=1,g=2i,s="x",b=true 10`.
    pub fn write_lp(&self, db: &str, lp: &str) {
        let mut points = Vec::new();
        for line in lp.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, ' ');
            let key = parts.next().unwrap_or("");
            let fields = parts.next().unwrap_or("");
            let time: i64 = parts.next().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
            let mut kp = key.split(',');
            let measurement = kp.next().unwrap_or("").to_string();
            let mut tags: Vec<(String, String)> = kp
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            tags.sort();
            let mut fv = Vec::new();
            for f in split_fields(fields) {
                if let Some((k, v)) = f.split_once('=') {
                    let val = if let Some(s) = v.strip_prefix('"') {
                        FieldValue::String(s.trim_end_matches('"').to_string())
                    } else if let Some(i) = v.strip_suffix('i') {
                        FieldValue::Integer(i.parse().unwrap_or(0))
                    } else if let Some(u) = v.strip_suffix('u') {
                        FieldValue::Unsigned(u.parse().unwrap_or(0))
                    } else if v == "true" || v == "t" {
                        FieldValue::Boolean(true)
                    } else if v == "false" || v == "f" {
                        FieldValue::Boolean(false)
                    } else {
                        FieldValue::Float(v.parse().unwrap_or(0.0))
                    };
                    fv.push((k.to_string(), val));
                }
            }
            points.push(Point { measurement, tags, fields: fv, time });
        }
        self.insert(db, points);
    }

    fn insert(&self, db: &str, points: Vec<Point>) {
        let mut dbs = self.dbs.lock().unwrap();
        let d = dbs.entry(db.to_string()).or_insert_with(|| Db { rps: vec![autogen()], ..Default::default() });
        for p in points {
            let fm = d.fields.entry(p.measurement.clone()).or_default();
            for (k, v) in &p.fields {
                fm.entry(k.clone()).or_insert(v.field_type());
            }
            if let Some(existing) = d
                .points
                .iter_mut()
                .find(|e| e.measurement == p.measurement && e.tags == p.tags && e.time == p.time)
            {
                for (k, v) in p.fields {
                    if let Some(slot) = existing.fields.iter_mut().find(|(ek, _)| *ek == k) {
                        slot.1 = v;
                    } else {
                        existing.fields.push((k, v));
                    }
                }
            } else {
                d.points.push(p);
            }
        }
    }

    fn with_db<T>(&self, db: &str, f: impl FnOnce(&Db) -> T) -> Result<T> {
        let dbs = self.dbs.lock().unwrap();
        dbs.get(db).map(f).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))
    }
}

fn split_fields(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_str = false;
    for c in s.chars() {
        if c == '"' {
            in_str = !in_str;
        }
        if c == ',' && !in_str {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn bucket_of(t: i64, every: i64, offset: i64) -> i64 {
    if every <= 0 {
        return 0;
    }
    let o = offset.rem_euclid(every);
    (t - o).div_euclid(every) * every + o
}

#[async_trait]
impl Backend for MemBackend {
    /// The in-memory reference store stands in for the embedded one (typed fields, policies).
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::Embedded
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            aggregates: if self.pushdown {
                vec![AggregateFn::Count, AggregateFn::Sum, AggregateFn::Min, AggregateFn::Max, AggregateFn::First, AggregateFn::Last]
            } else {
                vec![]
            },
        }
    }
    async fn health(&self) -> Result<()> {
        Ok(())
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        let n = batch.points.len();
        self.insert(&batch.db, batch.points.to_vec());
        Ok(WriteOutcome { points_written: n })
    }
    async fn create_database(&self, db: &str) -> Result<()> {
        let mut dbs = self.dbs.lock().unwrap();
        dbs.entry(db.to_string()).or_insert_with(|| Db { rps: vec![autogen()], ..Default::default() });
        Ok(())
    }
    async fn drop_database(&self, db: &str) -> Result<()> {
        self.dbs.lock().unwrap().remove(db);
        Ok(())
    }
    async fn databases(&self) -> Result<Vec<String>> {
        self.count_catalog_call();
        Ok(self.dbs.lock().unwrap().keys().cloned().collect())
    }
    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        self.count_catalog_call();
        self.with_db(db, |d| d.rps.clone())
    }
    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        let mut dbs = self.dbs.lock().unwrap();
        let d = dbs.get_mut(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        if let Some(e) = d.rps.iter().find(|r| r.name == rp.name) {
            if *e == rp {
                return Ok(());
            }
            return Err(BackendError::RetentionPolicyConflict(rp.name));
        }
        if rp.default {
            for r in d.rps.iter_mut() {
                r.default = false;
            }
        }
        d.rps.push(rp);
        d.rps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }
    async fn alter_retention_policy(&self, db: &str, name: &str, u: RetentionPolicyUpdate) -> Result<()> {
        let mut dbs = self.dbs.lock().unwrap();
        let d = dbs.get_mut(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        if !d.rps.iter().any(|r| r.name == name) {
            return Err(BackendError::RetentionPolicyNotFound(name.to_string()));
        }
        for r in d.rps.iter_mut() {
            if r.name == name {
                if let Some(x) = u.duration {
                    r.duration = x;
                }
                if let Some(x) = u.shard_group_duration {
                    r.shard_group_duration = x;
                }
                if let Some(x) = u.replication {
                    r.replication = x;
                }
                if u.make_default {
                    r.default = true;
                }
            } else if u.make_default {
                r.default = false;
            }
        }
        Ok(())
    }
    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        let mut dbs = self.dbs.lock().unwrap();
        let d = dbs.get_mut(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        d.rps.retain(|r| r.name != name);
        Ok(())
    }
    async fn series(
        &self,
        db: &str,
        _rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        self.count_catalog_call();
        self.with_db(db, |d| {
            let set: BTreeSet<SeriesInfo> = d
                .points
                .iter()
                .filter(|p| measurements.matches(&p.measurement) && tags.matches(&p.tags))
                .map(|p| SeriesInfo { measurement: p.measurement.clone(), tags: p.tags.clone() })
                .collect();
            set.into_iter().collect()
        })
    }
    async fn measurements(&self, db: &str, _rp: Option<&str>) -> Result<Vec<String>> {
        self.count_catalog_call();
        self.with_db(db, |d| {
            let set: BTreeSet<String> = d.points.iter().map(|p| p.measurement.clone()).collect();
            set.into_iter().collect()
        })
    }
    async fn field_keys(&self, db: &str, _rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        self.count_catalog_call();
        self.with_db(db, |d| d.fields.get(measurement).map(|m| m.clone().into_iter().collect()).unwrap_or_default())
    }
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        let chunk_rows = self.chunk_rows.max(1);
        if let Ok(mut s) = self.scans.lock() {
            s.push((req.min_time, req.max_time));
        }
        let chunks = self.with_db(&req.db, |d| {
            let mut by_series: BTreeMap<Vec<(String, String)>, Vec<&Point>> = BTreeMap::new();
            for p in d.points.iter().filter(|p| {
                p.measurement == req.measurement
                    && p.time >= req.min_time
                    && p.time <= req.max_time
                    && req.tags.matches(&p.tags)
                    // The field pre-filter applied, so every engine test runs with a store that does.
                    && req.where_fields.holds(&|f: &str| p.fields.iter().find(|(k, _)| k == f).map(|(_, v)| v))
            }) {
                by_series.entry(p.tags.clone()).or_default().push(p);
            }
            let mut chunks = Vec::new();
            for (tags, mut pts) in by_series {
                pts.sort_by_key(|p| p.time);
                let mut cur = SeriesChunk { tags: tags.clone(), times: vec![], columns: vec![vec![]; req.fields.len()] };
                for p in pts {
                    let vals: Vec<Option<FieldValue>> = req
                        .fields
                        .iter()
                        .map(|f| p.fields.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone()))
                        .collect();
                    if !req.fields.is_empty() && vals.iter().all(|v| v.is_none()) {
                        continue;
                    }
                    cur.times.push(p.time);
                    for (c, v) in cur.columns.iter_mut().zip(vals) {
                        c.push(v);
                    }
                    if cur.times.len() >= chunk_rows {
                        chunks.push(std::mem::replace(
                            &mut cur,
                            SeriesChunk { tags: tags.clone(), times: vec![], columns: vec![vec![]; req.fields.len()] },
                        ));
                    }
                }
                if !cur.times.is_empty() {
                    chunks.push(cur);
                }
            }
            chunks
        })?;
        crate::backend::ordered::emulate(stream::iter(chunks.into_iter().map(Ok)).boxed(), &req)
    }
    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        let mut s = self.scan(ScanRequest { fields: vec![req.scan.fields[0].clone()], ..req.scan.clone() }.limited(None).ordered(crate::backend::ScanOrder::Asc)).await?;
        let mut out: Vec<AggregateSeries> = Vec::new();
        while let Some(c) = s.next().await {
            let c = c?;
            if out.last().map(|l| l.tags != c.tags).unwrap_or(true) {
                out.push(AggregateSeries { tags: c.tags.clone(), rows: vec![] });
            }
            let Some(series) = out.last_mut() else { continue };
            for (t, v) in c.times.iter().zip(c.columns[0].iter()) {
                let Some(v) = v else { continue };
                let b = bucket_of(*t, req.every, req.offset);
                let b = if req.every == 0 { 0 } else { b };
                let new_bucket = series.rows.last().map(|r| r.bucket_start != b).unwrap_or(true);
                if new_bucket {
                    let value = match req.func {
                        AggregateFn::Count => FieldValue::Integer(1),
                        _ => v.clone(),
                    };
                    series.rows.push(AggregateRow { bucket_start: b, point_time: Some(*t), value, count: 1 });
                    continue;
                }
                let Some(r) = series.rows.last_mut() else { continue };
                r.count += 1;
                let num = |x: &FieldValue| match x {
                    FieldValue::Float(f) => *f,
                    FieldValue::Integer(i) => *i as f64,
                    FieldValue::Unsigned(u) => *u as f64,
                    _ => 0.0,
                };
                match req.func {
                    AggregateFn::Count => r.value = FieldValue::Integer(r.count as i64),
                    AggregateFn::Sum => {
                        r.value = match (&r.value, v) {
                            (FieldValue::Integer(a), FieldValue::Integer(b)) => FieldValue::Integer(a.wrapping_add(*b)),
                            (a, b) => FieldValue::Float(num(a) + num(b)),
                        }
                    }
                    AggregateFn::Max => {
                        if num(v) > num(&r.value) {
                            r.value = v.clone();
                            r.point_time = Some(*t);
                        }
                    }
                    AggregateFn::Min => {
                        if num(v) < num(&r.value) {
                            r.value = v.clone();
                            r.point_time = Some(*t);
                        }
                    }
                    AggregateFn::First => {}
                    AggregateFn::Last => {
                        r.value = v.clone();
                        r.point_time = Some(*t);
                    }
                    AggregateFn::Mean => {}
                }
            }
        }
        Ok(out)
    }
    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        let mut dbs = self.dbs.lock().unwrap();
        let d = dbs.get_mut(&req.db).ok_or_else(|| BackendError::DatabaseNotFound(req.db.clone()))?;
        d.points.retain(|p| {
            !(req.measurements.matches(&p.measurement)
                && req.tags.matches(&p.tags)
                && p.time >= req.min_time
                && p.time <= req.max_time)
        });
        if req.drop_series {
            // A measurement left without series is gone, fields included.
            let live: BTreeSet<String> = d.points.iter().map(|p| p.measurement.clone()).collect();
            d.fields.retain(|m, _| live.contains(m));
        }
        Ok(())
    }
}

/// A store seen without its aggregate pushdown: every aggregate goes through the evaluator.
pub struct NoPushdown(pub std::sync::Arc<dyn Backend>);

#[async_trait]
impl Backend for NoPushdown {
    fn kind(&self) -> crate::backend::BackendKind {
        self.0.kind()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { aggregates: vec![] }
    }
    async fn health(&self) -> Result<()> {
        self.0.health().await
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        self.0.write(batch).await
    }
    async fn create_database(&self, db: &str) -> Result<()> {
        self.0.create_database(db).await
    }
    async fn drop_database(&self, db: &str) -> Result<()> {
        self.0.drop_database(db).await
    }
    async fn databases(&self) -> Result<Vec<String>> {
        self.0.databases().await
    }
    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        self.0.retention_policies(db).await
    }
    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        self.0.create_retention_policy(db, rp).await
    }
    async fn alter_retention_policy(&self, db: &str, name: &str, u: RetentionPolicyUpdate) -> Result<()> {
        self.0.alter_retention_policy(db, name, u).await
    }
    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        self.0.drop_retention_policy(db, name).await
    }
    async fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        self.0.series(db, rp, measurements, tags).await
    }
    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        self.0.measurements(db, rp).await
    }
    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        self.0.field_keys(db, rp, measurement).await
    }
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        self.0.scan(req).await
    }
    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        self.0.delete(req).await
    }
}
