//! An InfluxDB 1.x server as the store (`--backend influxdb --backend-url http://host:8086`).
//!
//! 1.x executes InfluxQL itself, so this store answers through the seam above the evaluator
//! ([`Backend::statements`], see `query::upstream`): influxgate parses a query, binds its
//! parameters and checks the token's rights, then hands each statement's canonical text to
//! 1.x's `/query` and reads its MessagePack answer (`answer`) back into its result model, which
//! influxgate's encoders answer. Writes are parsed and checked by influxgate, then printed back
//! as line protocol (`lines`) and sent to 1.x's `/write`; 1.x's answers keep their meaning
//! (`client`). A write to a database that does not exist creates it first, as the other stores
//! do (with `backend.default_retention` for its `autogen` policy), where 1.x itself answers 404.
//!
//! The evaluator's calls (`scan`, catalog lists, retention policies, deletes) are never made on
//! this store: every statement that needs them goes to 1.x whole. They answer `Unsupported`.
//! Writes are not spooled: an upstream that fails answers 503 with `Retry-After`.

mod answer;
mod client;
mod lines;

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::{
    Backend, BackendError, Capabilities, DeleteRequest, MeasurementFilter, Result, RetentionPolicy, RetentionPolicyUpdate,
    ScanRequest, SeriesChunk, SeriesInfo, StatementOutcome, StatementRequest, StatementStore, TagPredicate, WriteBatch,
    WriteOutcome,
};
use crate::influxql::quote_ident;
use crate::model::FieldType;
use crate::query::result::Value;

/// Settings of the influxdb backend (`[backend.influxdb]`, `backend.timeout`).
#[derive(Debug, Clone)]
pub struct InfluxDbOptions {
    pub user: String,
    pub password: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Retention of `autogen` in a database a write creates (ns, 0 = infinite).
    pub default_retention: i64,
    /// The largest `/query` answer read (bytes); the query's memory account bounds it too.
    pub max_answer_bytes: usize,
    /// CA file and client certificate for an `https://` upstream.
    pub tls: crate::backend::tls::StoreTls,
}

pub struct InfluxDbBackend {
    client: client::Client,
    default_retention: i64,
    max_answer_bytes: usize,
}

/// The answer of the calls this store never gets (see the module doc).
fn not_here() -> BackendError {
    BackendError::Unsupported("the influxdb backend runs statements on the upstream InfluxDB".into())
}

impl InfluxDbBackend {
    pub fn new(url: &str, opts: InfluxDbOptions) -> Result<InfluxDbBackend> {
        let copts = client::ClientOptions {
            user: opts.user,
            password: opts.password,
            connect_timeout: opts.connect_timeout,
            timeout: opts.timeout,
            tls: opts.tls,
        };
        Ok(InfluxDbBackend {
            client: client::Client::new(url, copts)?,
            default_retention: opts.default_retention,
            max_answer_bytes: opts.max_answer_bytes,
        })
    }

    /// A statement of influxgate's own (catalog, DDL): its answer or its error as `Invalid`.
    async fn run(&self, text: &str) -> Result<answer::StatementAnswer> {
        let req = StatementRequest { db: None, rp: None, text, charge: &|_| Ok(()) };
        match self.execute(req).await? {
            StatementOutcome::Error(e) => Err(BackendError::Invalid(e)),
            StatementOutcome::Series { series, messages } => Ok(answer::StatementAnswer { series, messages, error: None }),
        }
    }

    /// `CREATE DATABASE` with `autogen`'s retention as `backend.default_retention` says.
    async fn create(&self, db: &str) -> Result<()> {
        let mut text = format!("CREATE DATABASE {}", quote_ident(db));
        if self.default_retention > 0 {
            let d = crate::rules::durations::influxql_literal(self.default_retention);
            text.push_str(&format!(" WITH DURATION {d} NAME autogen"));
        }
        self.run(&text).await.map(|_| ())
    }
}

#[async_trait]
impl StatementStore for InfluxDbBackend {
    async fn execute(&self, req: StatementRequest<'_>) -> Result<StatementOutcome> {
        let raw = match self.client.query(req.db, req.rp, req.text, self.max_answer_bytes, req.charge).await? {
            Ok(r) => r,
            Err(refused) => return Ok(StatementOutcome::Error(refused)),
        };
        let (status, body) = raw;
        let a = answer::first_statement(&body)
            .map_err(|e| BackendError::Internal(format!("influxdb answered {status} with an answer influxgate cannot read: {e}")))?;
        Ok(match a.error {
            Some(e) => StatementOutcome::Error(e),
            None => StatementOutcome::Series { series: a.series, messages: a.messages },
        })
    }
}

#[async_trait]
impl Backend for InfluxDbBackend {
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::InfluxDb
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { aggregates: Vec::new() }
    }

    async fn health(&self) -> Result<()> {
        self.client.ping().await
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        let n = batch.points.len();
        let body = lines::body(&batch.points);
        let rp = batch.rp.as_deref();
        match self.client.write(&batch.db, rp, body.clone()).await {
            Err(BackendError::DatabaseNotFound(_)) => {
                self.create(&batch.db).await?;
                self.client.write(&batch.db, rp, body).await?;
            }
            r => r?,
        }
        Ok(WriteOutcome { points_written: n })
    }

    async fn create_database(&self, db: &str) -> Result<()> {
        self.create(db).await
    }

    async fn drop_database(&self, db: &str) -> Result<()> {
        self.run(&format!("DROP DATABASE {}", quote_ident(db))).await.map(|_| ())
    }

    async fn databases(&self) -> Result<Vec<String>> {
        let a = self.run("SHOW DATABASES").await?;
        let names = a.series.into_iter().flat_map(|s| s.values).filter_map(|row| match row.into_iter().next() {
            Some(Value::String(s)) => Some(s),
            _ => None,
        });
        Ok(names.collect())
    }

    async fn retention_policies(&self, _db: &str) -> Result<Vec<RetentionPolicy>> {
        Err(not_here())
    }
    async fn create_retention_policy(&self, _db: &str, _rp: RetentionPolicy) -> Result<()> {
        Err(not_here())
    }
    async fn alter_retention_policy(&self, _db: &str, _name: &str, _u: RetentionPolicyUpdate) -> Result<()> {
        Err(not_here())
    }
    async fn drop_retention_policy(&self, _db: &str, _name: &str) -> Result<()> {
        Err(not_here())
    }
    async fn series(&self, _db: &str, _rp: Option<&str>, _m: &MeasurementFilter, _t: &TagPredicate) -> Result<Vec<SeriesInfo>> {
        Err(not_here())
    }
    async fn measurements(&self, _db: &str, _rp: Option<&str>) -> Result<Vec<String>> {
        Err(not_here())
    }
    async fn field_keys(&self, _db: &str, _rp: Option<&str>, _m: &str) -> Result<Vec<(String, FieldType)>> {
        Err(not_here())
    }
    async fn scan(&self, _req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        Err(not_here())
    }
    async fn delete(&self, _req: DeleteRequest) -> Result<()> {
        Err(not_here())
    }

    fn statements(&self) -> Option<&dyn StatementStore> {
        Some(self)
    }
}
