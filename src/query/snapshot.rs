//! The catalog as one statement sees it: every catalog read (databases, retention policies,
//! measurements, field keys and types, a measurement's series) goes to the store once per
//! statement, however often validation, source resolution, typing, pushdown and the streaming
//! merge ask for it.
//!
//! Resolving `SELECT ... FROM a, b, c` used to cost `1 + 3N` catalog calls and more again for a
//! streamed answer (its validation pass and its plan each resolved the sources); through a
//! snapshot it costs one call per kind of fact and measurement. A measurement's series list is
//! kept when read whole (`TagPredicate::True`, which resolving `*` does), and a later call with a
//! predicate filters it here with [`TagPredicate::matches`], the reference semantics every store
//! pushes down exactly. Writes, DDL and deletes go through to the store and empty the snapshot
//! (`SELECT ... INTO` writes, then reads nothing of the catalog, but a later read would see the
//! change). Scans and aggregates are not cached.
//!
//! Memory: the facts of the measurements the statement reads (the series lists are those the
//! statement would hold anyway while it plans).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::backend::{
    AggregateRequest, AggregateSeries, Backend, BackendCounter, BackendKind, Capabilities, DeleteRequest, MeasurementFilter,
    Result, RetentionPolicy, RetentionPolicyUpdate, ScanRequest, SeriesChunk, SeriesInfo, SharedBackend, TagPredicate,
    WriteBatch, WriteOutcome,
};
use crate::model::FieldType;

/// `(database, retention policy)`.
type DbRp = (String, Option<String>);

#[derive(Default)]
struct Facts {
    databases: Option<Vec<String>>,
    policies: HashMap<String, Vec<RetentionPolicy>>,
    measurements: HashMap<DbRp, Vec<String>>,
    fields: HashMap<(DbRp, String), Vec<(String, FieldType)>>,
    series: HashMap<(DbRp, String), Vec<SeriesInfo>>,
}

enum Store<'a> {
    Borrowed(&'a dyn Backend),
    Shared(SharedBackend),
    /// The store's view for this statement (`Backend::statement_view`).
    View(Box<dyn Backend>),
}

/// A store seen through one statement's catalog snapshot (module docs).
pub struct CatalogSnapshot<'a> {
    store: Store<'a>,
    facts: Mutex<Facts>,
}

impl<'a> CatalogSnapshot<'a> {
    pub fn new(store: &'a dyn Backend) -> Self {
        let store = match store.statement_view() {
            Some(v) => Store::View(v),
            None => Store::Borrowed(store),
        };
        CatalogSnapshot { store, facts: Mutex::default() }
    }

    fn store(&self) -> &dyn Backend {
        match &self.store {
            Store::Borrowed(b) => *b,
            Store::Shared(b) => b.as_ref(),
            Store::View(b) => b.as_ref(),
        }
    }

    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        // A panic while the lock was held cannot leave the maps half-updated in a way that
        // matters: each update is one insert.
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self) {
        *self.facts() = Facts::default();
    }
}

impl CatalogSnapshot<'static> {
    /// A snapshot owning its store, for a statement that outlives the caller's borrow (a
    /// streamed answer).
    pub fn shared(store: SharedBackend) -> SharedBackend {
        let store = match store.statement_view() {
            Some(v) => Store::View(v),
            None => Store::Shared(store),
        };
        Arc::new(CatalogSnapshot { store, facts: Mutex::default() })
    }
}

fn key(db: &str, rp: Option<&str>) -> DbRp {
    (db.to_string(), rp.map(str::to_string))
}

#[async_trait]
impl Backend for CatalogSnapshot<'_> {
    fn kind(&self) -> BackendKind {
        self.store().kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.store().capabilities()
    }
    async fn health(&self) -> Result<()> {
        self.store().health().await
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        self.forget();
        self.store().write(batch).await
    }
    async fn create_database(&self, db: &str) -> Result<()> {
        self.forget();
        self.store().create_database(db).await
    }
    async fn drop_database(&self, db: &str) -> Result<()> {
        self.forget();
        self.store().drop_database(db).await
    }
    async fn databases(&self) -> Result<Vec<String>> {
        if let Some(d) = &self.facts().databases {
            return Ok(d.clone());
        }
        let d = self.store().databases().await?;
        self.facts().databases = Some(d.clone());
        Ok(d)
    }
    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        if let Some(p) = self.facts().policies.get(db) {
            return Ok(p.clone());
        }
        let p = self.store().retention_policies(db).await?;
        self.facts().policies.insert(db.to_string(), p.clone());
        Ok(p)
    }
    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        self.forget();
        self.store().create_retention_policy(db, rp).await
    }
    async fn alter_retention_policy(&self, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()> {
        self.forget();
        self.store().alter_retention_policy(db, name, update).await
    }
    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        self.forget();
        self.store().drop_retention_policy(db, name).await
    }
    async fn series(&self, db: &str, rp: Option<&str>, measurements: &MeasurementFilter, tags: &TagPredicate) -> Result<Vec<SeriesInfo>> {
        let MeasurementFilter::Names(names) = measurements else {
            return self.store().series(db, rp, measurements, tags).await;
        };
        let [m] = names.as_slice() else { return self.store().series(db, rp, measurements, tags).await };
        let k = (key(db, rp), m.clone());
        if let Some(all) = self.facts().series.get(&k) {
            return Ok(all.iter().filter(|s| tags.matches(&s.tags)).cloned().collect());
        }
        let got = self.store().series(db, rp, measurements, tags).await?;
        if matches!(tags, TagPredicate::True) {
            self.facts().series.insert(k, got.clone());
        }
        Ok(got)
    }
    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        if let Some(m) = self.facts().measurements.get(&key(db, rp)) {
            return Ok(m.clone());
        }
        let m = self.store().measurements(db, rp).await?;
        self.facts().measurements.insert(key(db, rp), m.clone());
        Ok(m)
    }
    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        let k = (key(db, rp), measurement.to_string());
        if let Some(f) = self.facts().fields.get(&k) {
            return Ok(f.clone());
        }
        let f = self.store().field_keys(db, rp, measurement).await?;
        self.facts().fields.insert(k, f.clone());
        Ok(f)
    }
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        self.store().scan(req).await
    }
    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        self.store().aggregate(req).await
    }
    async fn aggregate_many(&self, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
        self.store().aggregate_many(reqs).await
    }
    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        self.forget();
        self.store().delete(req).await
    }
    fn counters(&self) -> Vec<BackendCounter> {
        self.store().counters()
    }
    fn statements(&self) -> Option<&dyn crate::backend::StatementStore> {
        self.store().statements()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::MemBackend;

    /// Counts the catalog calls that reach the store.
    #[test]
    fn each_fact_is_read_once() {
        let mem = MemBackend::new();
        mem.write_lp("d", "m,h=a v=1 1\nm,h=b v=2 1\nn,h=a w=1 1\n");
        let snap = CatalogSnapshot::new(&mem);
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            let eq = TagPredicate::Eq("h".into(), "b".into());
            let names = MeasurementFilter::Names(vec!["m".into()]);
            for _ in 0..3 {
                assert_eq!(snap.databases().await.expect("dbs"), vec!["d".to_string()]);
                assert_eq!(snap.measurements("d", None).await.expect("ms"), vec!["m".to_string(), "n".to_string()]);
                assert_eq!(snap.field_keys("d", None, "m").await.expect("fields").len(), 1);
                assert_eq!(snap.series("d", None, &names, &TagPredicate::True).await.expect("series").len(), 2);
                let b = snap.series("d", None, &names, &eq).await.expect("series h=b");
                assert_eq!(b.len(), 1);
                assert_eq!(b[0].tags, vec![("h".to_string(), "b".to_string())]);
            }
            assert_eq!(mem.catalog_calls(), 4, "one call per fact");
            snap.write(WriteBatch { db: "d".into(), rp: None, points: Default::default() }).await.expect("write");
            snap.databases().await.expect("dbs");
            assert_eq!(mem.catalog_calls(), 5, "a write empties the snapshot");
        });
    }
}
