//! Aggregate pushdown both ways: a store wrapped so that its pushdown can be switched off (its
//! capabilities then list no aggregates, and its scans get no field pre-filter), and queries run
//! with it on and off and compared.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use influxgate::backend::{
    AggregateFn, AggregateRequest, AggregateSeries, Backend, BackendError, Capabilities, DeleteRequest, FieldCondition, MeasurementFilter, Result, RetentionPolicy,
    RetentionPolicyUpdate, ScanRequest, SeriesChunk, SeriesInfo, TagPredicate, WriteBatch, WriteOutcome,
};
use influxgate::model::FieldType;
use influxgate::query::{execute, QueryContext};

/// A store with pushdown on or off; counts aggregate() calls answered and refused (the planner
/// sends a statement's calls together and scans if any is refused).
pub struct Switch<B: Backend> {
    pub inner: Arc<B>,
    pub push: bool,
    pub pushed: Arc<AtomicUsize>,
    pub refused: Arc<AtomicUsize>,
    /// Scans asked with a field pre-filter (`ScanRequest::where_fields`), with pushdown on.
    pub filtered: Arc<AtomicUsize>,
}

impl<B: Backend> Switch<B> {
    /// The store with pushdown on and off.
    pub fn pair(b: Arc<B>) -> (Switch<B>, Switch<B>) {
        let counter = || Arc::new(AtomicUsize::new(0));
        (
            Switch { inner: b.clone(), push: true, pushed: counter(), refused: counter(), filtered: counter() },
            Switch { inner: b, push: false, pushed: counter(), refused: counter(), filtered: counter() },
        )
    }
}

#[async_trait]
impl<B: Backend> Backend for Switch<B> {
    fn kind(&self) -> influxgate::backend::BackendKind {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = self.inner.capabilities();
        if !self.push {
            c.aggregates.clear();
        }
        c
    }
    async fn health(&self) -> Result<()> {
        self.inner.health().await
    }
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        self.inner.write(batch).await
    }
    async fn create_database(&self, db: &str) -> Result<()> {
        self.inner.create_database(db).await
    }
    async fn drop_database(&self, db: &str) -> Result<()> {
        self.inner.drop_database(db).await
    }
    async fn databases(&self) -> Result<Vec<String>> {
        self.inner.databases().await
    }
    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        self.inner.retention_policies(db).await
    }
    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        self.inner.create_retention_policy(db, rp).await
    }
    async fn alter_retention_policy(&self, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()> {
        self.inner.alter_retention_policy(db, name, update).await
    }
    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        self.inner.drop_retention_policy(db, name).await
    }
    async fn series(&self, db: &str, rp: Option<&str>, m: &MeasurementFilter, tags: &TagPredicate) -> Result<Vec<SeriesInfo>> {
        self.inner.series(db, rp, m, tags).await
    }
    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        self.inner.measurements(db, rp).await
    }
    async fn field_keys(&self, db: &str, rp: Option<&str>, m: &str) -> Result<Vec<(String, FieldType)>> {
        self.inner.field_keys(db, rp, m).await
    }
    /// With pushdown off the store gets no field pre-filter: the evaluator alone filters.
    async fn scan(&self, mut req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        if !self.push {
            req.where_fields = FieldCondition::True;
        } else if req.where_fields != FieldCondition::True {
            self.filtered.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.scan(req).await
    }
    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        let r = self.inner.aggregate(req).await;
        match &r {
            Ok(_) => self.pushed.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.refused.fetch_add(1, Ordering::Relaxed),
        };
        r
    }
    /// The store's own `aggregate_many` (which may answer several calls together), counted.
    async fn aggregate_many(&self, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
        let rs = self.inner.aggregate_many(reqs).await;
        for r in &rs {
            match r {
                Ok(_) => self.pushed.fetch_add(1, Ordering::Relaxed),
                Err(_) => self.refused.fetch_add(1, Ordering::Relaxed),
            };
        }
        rs
    }
    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        self.inner.delete(req).await
    }
}

/// Runs each query (on database `db`, at `now`) with pushdown on and off: the queries whose
/// answers differ (with both answers), and how many were answered by pushdown (some call
/// answered, none refused).
pub async fn compare<B: Backend>(on: &Switch<B>, off: &Switch<B>, db: &str, queries: &[String], now: i64) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut pushed_queries = 0;
    for q in queries {
        let parsed = influxgate::influxql::parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let mut ctx = QueryContext::admin(Some(db));
        ctx.now = now;
        let before = (on.pushed.load(Ordering::Relaxed), on.refused.load(Ordering::Relaxed));
        let a = execute(on, &ctx, &parsed).await.expect("store");
        let after = (on.pushed.load(Ordering::Relaxed), on.refused.load(Ordering::Relaxed));
        if after.0 > before.0 && after.1 == before.1 {
            pushed_queries += 1;
        }
        let b = execute(off, &ctx, &parsed).await.expect("store");
        if a != b {
            failures.push(format!("{q}\n  pushdown: {a:?}\n  raw:      {b:?}"));
        }
    }
    (failures, pushed_queries)
}

/// `func(field)` of measurement `m` in database `db`, all series, `[min, max]` in buckets of
/// `every` (offset 0).
pub fn request(m: &str, field: &str, func: AggregateFn, (min, max): (i64, i64), every: i64, point_time: bool) -> AggregateRequest {
    AggregateRequest {
        scan: ScanRequest::new("db", None, m, TagPredicate::True, min, max, vec![field.into()]),
        func,
        every,
        offset: 0,
        point_time,
        latest_only: false,
    }
}

/// Panics (naming `label`) unless the store refuses `req` as `Unsupported`.
pub async fn assert_refused<B: Backend>(b: &B, req: AggregateRequest, label: &str) {
    match b.aggregate(req).await {
        Err(BackendError::Unsupported(_)) => {}
        other => panic!("{label}: {other:?}"),
    }
}

/// The time of the `k`-th point of a test series from `t0`: every 10 s, but some points one
/// millisecond before or after a 10-second edge, or one before the next point.
pub fn edge_time(t0: i64, k: i64) -> i64 {
    const S: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;
    t0 + k * 10 * S
        + match k % 9 {
            3 => -MS,
            5 => MS,
            7 => 9 * S + 999 * MS,
            _ => 0,
        }
}
