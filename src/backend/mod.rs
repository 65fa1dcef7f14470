//! The `Backend` trait: what influxgate needs from a time-series store.
//!
//! It is written for two very different families at once (see ARCHITECTURE.md):
//! SQL stores (the embedded SQLite store, ClickHouse) and Prometheus-family stores (VictoriaMetrics).
//! Hence the shape: series are identified by measurement + tag set (a label set), data is read per
//! series as time-ordered columns, tag predicates are a tiny expression type of their own (which maps
//! onto both a SQL `WHERE` and label matchers), and anything beyond a plain scan is an optional,
//! capability-flagged pushdown that must give exactly the reference evaluator's answer.

pub mod clickhouse;
pub mod embedded;
pub mod influxdb;
pub mod kept;
pub mod ordered;
pub mod tls;
pub mod victoriametrics;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::model::{FieldType, FieldValue, Points};

/// Who caused a failure: decides the HTTP status and whether a client should retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The request was wrong (4xx).
    Downstream,
    /// The store failed or is unreachable (503/502).
    Upstream,
    /// influxgate itself failed (500).
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BackendError {
    /// 1.x's `partial write: field type conflict: ...` text is built from this; Telegraf reads it.
    #[error("partial write: field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {input}, already exists as type {existing} dropped={dropped}")]
    FieldTypeConflict {
        measurement: String,
        field: String,
        input: FieldType,
        existing: FieldType,
        dropped: usize,
    },
    /// A write would pass a cardinality limit (`limits.max_series_per_database`,
    /// `limits.max_values_per_tag`); checked before anything is stored, so nothing of the batch is
    /// written. `reason` is 1.x's (`max-series-per-database limit exceeded: (N)`, ...), `dropped` the
    /// points refused; the text is 1.x's partial-write error, which Telegraf reads as final.
    #[error("partial write: {reason} dropped={dropped}")]
    CardinalityLimit { reason: String, dropped: usize },
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    #[error("retention policy already exists")]
    RetentionPolicyConflict(String),
    /// The store cannot do this at all (e.g. DDL VictoriaMetrics has no notion of).
    #[error("{0}")]
    Unsupported(String),
    /// The request is invalid for this store (e.g. a string field on VictoriaMetrics).
    #[error("{0}")]
    Invalid(String),
    /// One point of a write batch cannot be stored; `index` is its position in `WriteBatch::points`
    /// (the HTTP layer turns it into the body's line number).
    #[error("{message}")]
    InvalidPoint { index: usize, message: String },
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    #[error("backend timeout: {0}")]
    Timeout(String),
    #[error("backend error: {0}")]
    Internal(String),
}

impl BackendError {
    pub fn origin(&self) -> Origin {
        match self {
            BackendError::FieldTypeConflict { .. }
            | BackendError::CardinalityLimit { .. }
            | BackendError::DatabaseNotFound(_)
            | BackendError::RetentionPolicyNotFound(_)
            | BackendError::RetentionPolicyConflict(_)
            | BackendError::Unsupported(_)
            | BackendError::Invalid(_)
            | BackendError::InvalidPoint { .. } => Origin::Downstream,
            BackendError::Unavailable(_) | BackendError::Timeout(_) => Origin::Upstream,
            BackendError::Internal(_) => Origin::Internal,
        }
    }
}

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// The HTTP client of a remote store at `url` (`http://` or `https://`, see `tls`): connections
/// kept alive and reused (idle ones closed after `idle`), an unreachable store failing within
/// `connect_timeout`.
pub(crate) fn http_client(store: &str, url: &str, tls: &tls::StoreTls, connect_timeout: std::time::Duration, idle: std::time::Duration) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(idle)
        .pool_max_idle_per_host(32)
        .tcp_keepalive(std::time::Duration::from_secs(60));
    tls::http_client(store, url, tls, builder)
}

/// A remote store's HTTP request that got no answer: `Timeout`, else `Unavailable` with the
/// innermost cause ("Connection refused (os error 111)"), both prefixed by `what`.
pub(crate) fn net_error(what: &str, e: reqwest::Error) -> BackendError {
    let mut cause: &dyn std::error::Error = &e;
    while let Some(c) = cause.source() {
        cause = c;
    }
    if e.is_timeout() {
        BackendError::Timeout(format!("{what}: timed out"))
    } else {
        BackendError::Unavailable(format!("{what}: {cause}"))
    }
}

/// A retention policy as `SHOW RETENTION POLICIES` reports it. Durations in nanoseconds, 0 = infinite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub name: String,
    pub duration: i64,
    pub shard_group_duration: i64,
    pub replication: u32,
    pub default: bool,
}

/// What `ALTER RETENTION POLICY` may change; `None` leaves a property as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicyUpdate {
    pub duration: Option<i64>,
    pub shard_group_duration: Option<i64>,
    pub replication: Option<u32>,
    pub make_default: bool,
}

/// Cardinality limits a store applies to writes (1.x's `max-series-per-database` and
/// `max-values-per-tag`, from `[limits]`); 0 = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardinalityLimits {
    pub max_series_per_database: u64,
    pub max_values_per_tag: u64,
}

impl Default for CardinalityLimits {
    fn default() -> Self {
        CardinalityLimits { max_series_per_database: 1_000_000, max_values_per_tag: 100_000 }
    }
}

/// A write: points for one database and retention policy (`None` = the database's default RP).
/// The database is created on first write if it does not exist.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    pub db: String,
    pub rp: Option<String>,
    /// Flat: a store reads each point as a borrowed [`crate::model::PointRef`].
    pub points: Points,
}

/// The `/write` body a [`WriteBatch`] was parsed from, as checked (decompressed), and its
/// precision: a store that reads line protocol may send it on as it is
/// ([`Backend::write_body`]).
#[derive(Debug, Clone)]
pub struct RawBody {
    pub bytes: bytes::Bytes,
    pub precision: crate::lineproto::Precision,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub points_written: usize,
}

/// A predicate over a series' tags. A missing tag compares as the empty string, as in 1.x
/// (`host = ''` matches series without `host`; `host != ''` matches series with it).
#[derive(Debug, Clone)]
pub enum TagPredicate {
    True,
    Eq(String, String),
    Ne(String, String),
    /// Unanchored match, as InfluxQL regexes are.
    Match(String, regex::Regex),
    NotMatch(String, regex::Regex),
    And(Box<TagPredicate>, Box<TagPredicate>),
    Or(Box<TagPredicate>, Box<TagPredicate>),
}

impl TagPredicate {
    /// Evaluates against a sorted tag set; the reference semantics every pushdown must equal.
    pub fn matches(&self, tags: &[(String, String)]) -> bool {
        self.matches_pairs(tags)
    }

    /// [`TagPredicate::matches`] for pairs of any string type (the embedded store's are shared
    /// `Arc<str>`s).
    pub fn matches_pairs<K: AsRef<str>, V: AsRef<str>>(&self, tags: &[(K, V)]) -> bool {
        let get = |k: &str| -> &str {
            tags.iter().find(|(tk, _)| tk.as_ref() == k).map(|(_, v)| v.as_ref()).unwrap_or("")
        };
        match self {
            TagPredicate::True => true,
            TagPredicate::Eq(k, v) => get(k) == v,
            TagPredicate::Ne(k, v) => get(k) != v,
            TagPredicate::Match(k, re) => re.is_match(get(k)),
            TagPredicate::NotMatch(k, re) => !re.is_match(get(k)),
            TagPredicate::And(a, b) => a.matches_pairs(tags) && b.matches_pairs(tags),
            TagPredicate::Or(a, b) => a.matches_pairs(tags) || b.matches_pairs(tags),
        }
    }
}

/// Which measurements a catalog call or scan concerns.
#[derive(Debug, Clone)]
pub enum MeasurementFilter {
    All,
    Names(Vec<String>),
    Regex(regex::Regex),
}

impl MeasurementFilter {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            MeasurementFilter::All => true,
            MeasurementFilter::Names(n) => n.iter().any(|x| x == name),
            MeasurementFilter::Regex(re) => re.is_match(name),
        }
    }
}

/// One series in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesInfo {
    pub measurement: String,
    /// Sorted by key.
    pub tags: Vec<(String, String)>,
}

/// The order of points within each series of a scan (series always come in ascending order
/// of their sorted tag sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanOrder {
    #[default]
    Asc,
    Desc,
}

/// A raw read of one measurement: every series matching `tags` (and, when `series` is set, only
/// those of that set), points with `min_time <= t <= max_time`, in `order` within a series, at
/// most `limit` points per series. Build one with [`ScanRequest::new`] and the builders, so a
/// field added later has its default everywhere.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub db: String,
    pub rp: Option<String>,
    pub measurement: String,
    pub tags: TagPredicate,
    pub min_time: i64,
    pub max_time: i64,
    /// Fields to read, in this order; the chunk columns follow it. Empty means none (time only).
    pub fields: Vec<String>,
    /// Only these series (tag sets sorted by key; the set sorted), the ones the planner resolved;
    /// `None`: every series `tags` matches. A series of the set must still match `tags`.
    pub series: Option<Vec<Vec<(String, String)>>>,
    /// Ascending or descending time within each series.
    pub order: ScanOrder,
    /// At most this many points per series: the first ones in `order`. A point is one time of a
    /// series (rows a store keeps for one time count once). A series answered with fewer points
    /// than the limit has no more in the range. `None`: every point.
    pub limit: Option<usize>,
    /// A pre-filter on field values a store MAY apply (see [`FieldCondition`]): the points it
    /// answers must include every point of the range for which the condition holds; points for
    /// which it does not may be left out, and the limit then counts only the points answered.
    /// `FieldCondition::True` (the default): no filter.
    pub where_fields: FieldCondition,
}

impl ScanRequest {
    /// Every point of the series `tags` matches in `[min_time, max_time]`, ascending.
    pub fn new(db: &str, rp: Option<&str>, measurement: &str, tags: TagPredicate, min_time: i64, max_time: i64, fields: Vec<String>) -> Self {
        ScanRequest {
            db: db.to_string(),
            rp: rp.map(str::to_string),
            measurement: measurement.to_string(),
            tags,
            min_time,
            max_time,
            fields,
            series: None,
            order: ScanOrder::Asc,
            limit: None,
            where_fields: FieldCondition::True,
        }
    }

    /// Points for which `cond` does not hold may be left out (see [`ScanRequest::where_fields`]).
    pub fn filtered(mut self, cond: FieldCondition) -> Self {
        self.where_fields = cond;
        self
    }

    /// Only the series of `set` (each tag set sorted by key); the set is sorted here.
    pub fn only(mut self, mut set: Vec<Vec<(String, String)>>) -> Self {
        set.sort();
        set.dedup();
        self.series = Some(set);
        self
    }

    pub fn ordered(mut self, order: ScanOrder) -> Self {
        self.order = order;
        self
    }

    pub fn limited(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }

    /// Whether the series `tags` is one the request reads (its predicate and series set).
    pub fn wants<K: AsRef<str> + Ord, V: AsRef<str> + Ord>(&self, tags: &[(K, V)]) -> bool {
        let in_set = match &self.series {
            None => true,
            Some(set) => set
                .binary_search_by(|s| {
                    let a = s.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    a.cmp(tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
                })
                .is_ok(),
        };
        in_set && self.tags.matches_pairs(tags)
    }
}

/// The comparisons of [`FieldCondition`]: `field <op> literal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The literal side of a [`FieldCondition`] comparison, typed as the planner compares it: a
/// `Float` literal compares the field's value converted to a float (1.x compares an integer
/// field with a float, or an integer with an unsigned, as float64s); `Integer`/`Unsigned` only
/// meet fields of their own type and compare exactly; `String` and `Boolean` only with `Eq`/`Ne`.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldLiteral {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

/// A condition on a point's field values that a scan's store may use to read less
/// (`query::fieldcond` derives it from the WHERE clause and documents why it is safe). It is
/// monotone (AND/OR of comparisons, no negation): a comparison holds when the point has the
/// field and the comparison of its value with the literal is true; a point without the field
/// fails it, as a null fails a comparison in 1.x. A store keeping several rows for one point
/// decides per point, over the point as 1.x merges it; it may keep more points than the
/// condition holds for, never fewer.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum FieldCondition {
    /// Every point (no filter).
    #[default]
    True,
    Cmp(String, CmpOp, FieldLiteral),
    And(Box<FieldCondition>, Box<FieldCondition>),
    Or(Box<FieldCondition>, Box<FieldCondition>),
}

impl FieldCondition {
    /// Whether the condition holds for a point whose field values `value` answers (`None`: the
    /// point lacks the field): the reference semantics a store's pushdown must not undercut.
    pub fn holds<'a>(&self, value: &impl Fn(&str) -> Option<&'a FieldValue>) -> bool {
        match self {
            FieldCondition::True => true,
            FieldCondition::Cmp(f, op, lit) => value(f).is_some_and(|v| compare(v, *op, lit)),
            FieldCondition::And(a, b) => a.holds(value) && b.holds(value),
            FieldCondition::Or(a, b) => a.holds(value) || b.holds(value),
        }
    }

    /// Every field the condition names (once each, in order of appearance).
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.walk(&mut |f| {
            if !out.contains(&f) {
                out.push(f)
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            FieldCondition::True => {}
            FieldCondition::Cmp(name, ..) => f(name),
            FieldCondition::And(a, b) | FieldCondition::Or(a, b) => {
                a.walk(f);
                b.walk(f);
            }
        }
    }
}

/// `v <op> lit` as [`FieldLiteral`] describes; a value of another kind fails.
fn compare(v: &FieldValue, op: CmpOp, lit: &FieldLiteral) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (FieldValue::Float(x), FieldLiteral::Float(y)) => x.partial_cmp(y),
        (FieldValue::Integer(x), FieldLiteral::Float(y)) => (*x as f64).partial_cmp(y),
        (FieldValue::Unsigned(x), FieldLiteral::Float(y)) => (*x as f64).partial_cmp(y),
        (FieldValue::Integer(x), FieldLiteral::Integer(y)) => Some(x.cmp(y)),
        (FieldValue::Unsigned(x), FieldLiteral::Unsigned(y)) => Some(x.cmp(y)),
        (FieldValue::String(x), FieldLiteral::String(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Some(x.as_str().cmp(y)),
        (FieldValue::Boolean(x), FieldLiteral::Boolean(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(ord) = ord else { return false };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

/// Part of one series' data. The chunk contract every store keeps:
///
/// * series arrive one after another, in ascending order of their sorted tag sets, whatever the
///   request's order; a series may arrive in several chunks, one right after the other;
/// * within a series, times ascend (`ScanOrder::Asc`) or descend (`ScanOrder::Desc`); a store
///   that keeps several rows for one time (only the engine's in-memory test store) sends them
///   next to each other;
/// * with a `limit`, each series stops after that many distinct times.
///
/// `backend::ordered` checks a stream against it (the stores' tests use it).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesChunk {
    pub tags: Vec<(String, String)>,
    pub times: Vec<i64>,
    /// `columns[i][j]`: field `fields[i]` at `times[j]`; `None` where the point lacks the field.
    /// Rows where every requested field is `None` are not sent.
    pub columns: Vec<Vec<Option<FieldValue>>>,
}

/// Aggregate requests of one statement in flight at once by default (`Backend::aggregate_many`).
pub const AGGREGATE_CONCURRENCY: usize = 4;

/// A group's answer in [`aggregate_grouped`]: per request of the group, its series.
pub type GroupAnswer = Result<Vec<Vec<AggregateSeries>>>;

/// `Backend::aggregate_many` for a store that answers alike requests together: requests with the
/// same `key` are one group, `answer` answers a group (a result per request, in the group's
/// order), `parallel` groups at once; the answers come in the order asked, a group's error being
/// each of its requests'.
pub async fn aggregate_grouped<'a, Fut>(
    reqs: &'a [AggregateRequest],
    key: impl Fn(&AggregateRequest) -> String,
    parallel: usize,
    answer: impl Fn(Vec<&'a AggregateRequest>) -> Fut,
) -> Vec<Result<Vec<AggregateSeries>>>
where
    Fut: std::future::Future<Output = GroupAnswer>,
{
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let k = key(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    let answers: Vec<(Vec<usize>, GroupAnswer)> = futures::stream::iter(groups.into_iter().map(|(_, idx)| {
        let fut = answer(idx.iter().map(|&i| &reqs[i]).collect());
        async move { (idx, fut.await) }
    }))
    .buffered(parallel.max(1))
    .collect()
    .await;
    let mut out: Vec<Option<Result<Vec<AggregateSeries>>>> = (0..reqs.len()).map(|_| None).collect();
    for (idx, a) in answers {
        match a {
            Ok(per_req) => {
                for (i, v) in idx.into_iter().zip(per_req) {
                    out[i] = Some(Ok(v));
                }
            }
            Err(e) => {
                for i in idx {
                    out[i] = Some(Err(e.clone()));
                }
            }
        }
    }
    out.into_iter().map(|a| a.unwrap_or_else(|| Err(BackendError::Internal("aggregate: request left unanswered".into())))).collect()
}

/// Aggregates a store may compute itself, when its answer is identical to the evaluator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    First,
    Last,
}

/// `fn(field)` per series per time bucket `[start, start + every)`, buckets aligned to
/// `offset` modulo `every` (both ns). `every == 0`: one bucket over the whole range.
#[derive(Debug, Clone)]
pub struct AggregateRequest {
    pub scan: ScanRequest,
    pub func: AggregateFn,
    pub every: i64,
    pub offset: i64,
    /// Whether the caller shows the selected point's own time for `min`/`max` (a single selector
    /// without `GROUP BY time`). When false a store may answer any time in the bucket for them,
    /// which spares a Prometheus-family store finding the earliest of tied extremes. `first`/`last`
    /// always need it: partials of several series are combined by it.
    pub point_time: bool,
    /// Set only for `last` without `GROUP BY time`: the caller keeps, of a series' partials, the
    /// one with the latest point (across shard groups 1.x's last() takes the latest point, and a
    /// series' earlier buckets hold only older points, which never win: `select::partials`), so
    /// a store may answer each series' latest bucket with points alone. A store that answers
    /// every bucket is right too. Read by VictoriaMetrics (`victoriametrics::latest`) and
    /// ClickHouse (`clickhouse::aggregate::edge`) to read only near each series' end.
    pub latest_only: bool,
}

/// One bucket's answer; buckets without points are not sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub bucket_start: i64,
    /// The selected point's own time, for `first`/`last`/`min`/`max`.
    pub point_time: Option<i64>,
    pub value: FieldValue,
    /// Points in the bucket; `mean` and `count` combine with it. For `first`/`last` it is 1 (the
    /// store finds the selected point by index without counting the bucket).
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSeries {
    pub tags: Vec<(String, String)>,
    pub rows: Vec<AggregateRow>,
}

/// What the planner may ask of a store beyond a scan.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// Aggregates `aggregate()` answers exactly; empty means no aggregate pushdown.
    pub aggregates: Vec<AggregateFn>,
}

/// Which store a backend is: chosen by `[backend] kind` in config.toml (`embedded`,
/// `victoriametrics`, `clickhouse`, `influxdb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Embedded,
    VictoriaMetrics,
    ClickHouse,
    /// An InfluxDB 1.x upstream (it executes InfluxQL itself, `backend::influxdb`).
    InfluxDb,
}

impl BackendKind {
    /// The name config.toml and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::VictoriaMetrics => "victoriametrics",
            BackendKind::ClickHouse => "clickhouse",
            BackendKind::InfluxDb => "influxdb",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [BackendKind::Embedded, BackendKind::VictoriaMetrics, BackendKind::ClickHouse, BackendKind::InfluxDb]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown backend {s:?}: expected \"embedded\", \"victoriametrics\", \"clickhouse\" or \"influxdb\""))
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a `DELETE` / `DROP SERIES` / `DROP MEASUREMENT` removes.
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    pub db: String,
    pub measurements: MeasurementFilter,
    pub tags: TagPredicate,
    pub min_time: i64,
    pub max_time: i64,
    /// Drop the series from the catalog too (DROP SERIES / DROP MEASUREMENT), not only points.
    pub drop_series: bool,
}

#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;
    fn name(&self) -> &'static str {
        self.kind().name()
    }
    fn capabilities(&self) -> Capabilities;

    /// Reachable and able to serve; `Err` says why not.
    async fn health(&self) -> Result<()>;

    /// Durable once this returns `Ok`. All points or none on a field type conflict.
    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome>;

    /// [`Backend::write`] of a batch parsed from `body` (every point of it, in order). A store
    /// may send the body itself when that stores exactly the same; by default it writes the batch.
    async fn write_body(&self, batch: WriteBatch, body: RawBody) -> Result<WriteOutcome> {
        let _ = body;
        self.write(batch).await
    }

    async fn create_database(&self, db: &str) -> Result<()>;
    async fn drop_database(&self, db: &str) -> Result<()>;
    async fn databases(&self) -> Result<Vec<String>>;

    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>>;
    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()>;
    async fn alter_retention_policy(&self, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()>;
    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()>;

    /// Series of the matching measurements whose tags satisfy `tags`, sorted.
    async fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>>;

    /// Measurement names, sorted.
    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>>;

    /// Field keys and types of one measurement, sorted by key.
    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>>;

    /// A stream of series chunks in the order, and with the limit, `req` asks: see
    /// `SeriesChunk` for the contract. A store that reads only ascending and whole applies
    /// order and limit with `backend::ordered::emulate`.
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>>;

    /// Aggregate pushdown; only called for functions listed in `capabilities().aggregates`.
    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        let _ = req;
        Err(BackendError::Unsupported("aggregate pushdown not supported".into()))
    }

    /// The aggregate requests of one statement, answered in the order given. The default asks
    /// [`Backend::aggregate`] for each, [`AGGREGATE_CONCURRENCY`] at once (a remote store answers
    /// each after a round trip). A store may answer several with less work: the embedded store
    /// computes the calls over the same series, range and buckets from one read of the points;
    /// VictoriaMetrics answers requests that differ only in their field with one query, and then a
    /// request it would refuse alone (`Unsupported`) may have the others refused too, as the
    /// planner scans the whole statement when any call is refused.
    async fn aggregate_many(&self, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
        futures::stream::iter(reqs.into_iter().map(|r| self.aggregate(r))).buffered(AGGREGATE_CONCURRENCY).collect().await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<()>;

    /// Counters the store keeps of its own, shown at `/metrics`.
    fn counters(&self) -> Vec<BackendCounter> {
        Vec::new()
    }

    /// A store that executes InfluxQL itself (an InfluxDB 1.x upstream) answers the statements
    /// `query::upstream` hands it here, above the evaluator; `None` (every other store): the
    /// evaluator answers them from `scan`.
    fn statements(&self) -> Option<&dyn StatementStore> {
        None
    }

    /// A view of the store for one statement (`query::snapshot` asks for it), which may keep
    /// what the store answered to the statement's catalog requests until it is dropped; `None`
    /// (the default): the statement uses the store itself.
    fn statement_view(&self) -> Option<Box<dyn Backend>> {
        None
    }
}

/// One statement for a store that executes InfluxQL itself. influxgate has parsed it, bound its
/// parameters and checked the caller's rights; `text` is its canonical InfluxQL (the AST's
/// `Display`, which parses back to the same statement).
pub struct StatementRequest<'a> {
    /// The request's `db` and `rp` parameters.
    pub db: Option<&'a str>,
    pub rp: Option<&'a str>,
    pub text: &'a str,
    /// Charged with the answer's bytes as they arrive (the query's memory account); an `Err`
    /// stops reading, and its text is the statement's error.
    pub charge: &'a (dyn Fn(u64) -> std::result::Result<(), String> + Send + Sync),
}

/// What the store answered to one statement: its series (times as integer nanoseconds in the
/// first column of a SELECT's rows, as 1.x answers with `epoch=ns`) and messages, or the
/// statement's error in 1.x's words.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementOutcome {
    Series { series: Vec<crate::query::result::Series>, messages: Vec<crate::query::result::Message> },
    Error(String),
}

/// The seam above the evaluator (see [`Backend::statements`]).
#[async_trait]
pub trait StatementStore: Send + Sync {
    /// Runs one statement. `Err` is the store's failure (unreachable, timeout: 503), never the
    /// statement's.
    async fn execute(&self, req: StatementRequest<'_>) -> Result<StatementOutcome>;
}

/// One store-specific counter for `/metrics`: a Prometheus metric name, its help text, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCounter {
    pub name: &'static str,
    pub help: &'static str,
    pub value: u64,
}

pub type SharedBackend = Arc<dyn Backend>;
