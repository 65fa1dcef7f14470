//! The ClickHouse backend: influxgate in front of one ClickHouse server or a cluster of them,
//! speaking ClickHouse's HTTP interface. Clustering is ClickHouse's own: with `cluster` set, every
//! table is made `ON CLUSTER` (coordinated by ZooKeeper) as a `ReplicatedMergeTree` on each shard
//! plus a `Distributed` table over them, and reads and writes go through the `Distributed` tables.
//!
//! # Schema (see also the README's "In front of ClickHouse")
//!
//! Names: [`names`](mod@names) (databases `<prefix><db>`, `<prefix><db>.<rp>`, tables named as
//! measurements, columns named as tag and field keys). One table per measurement and retention
//! policy:
//!
//! ```text
//! time     Int64              -- nanoseconds since the epoch, as 1.x keeps them (any i64)
//! _series  String             -- the tag set, order-preserving (names::series_id)
//! _seq     UInt64             -- write order: which of two rows for one point is newer
//! <tag>    String             -- one column per tag key; '' where a series has no such tag
//! <field>  Nullable(Float64 | Int64 | UInt64 | String | UInt8)   -- one per field key, typed
//! ENGINE MergeTree (ReplicatedMergeTree on a cluster)
//! PARTITION BY (shard group start, shard group end)   -- 1.x's shard groups, in ns
//! ORDER BY (_series, time)
//! ```
//!
//! Why: a point is one row with its fields side by side (one insert row, not one per field), in
//! columns a ClickHouse user reads with plain SQL (`SELECT time, host, usage_user FROM
//! "influx_telegraf.autogen".cpu WHERE host = 'a'`); the types are 1.x's (booleans `UInt8`); the
//! primary key keeps each series' points together in time order, so a scan of some series and a
//! time range is a range read, and `_series` orders series as the trait wants them; `time` is an
//! Int64 of nanoseconds because 18.16 has no DateTime64 and 1.x accepts times before 1970, which
//! DateTime cannot hold; partitions are 1.x's shard groups of the table's retention policy
//! (Go's `Truncate` alignment, so weekly groups start on Mondays), so a retention policy's
//! duration is enforced the way 1.x does it, by dropping whole shard groups
//! ([`retention`](mod@retention)), on 18.16 (no TTL) and current releases alike.
//!
//! Beside each table, in `<prefix><db>.<rp>.series`, a series table kept by a materialised view
//! lists its series per shard group ([`series_table`](mod@series_table)): series lists and tag
//! conditions read it instead of the measurement table. Tables made before it have none and are
//! read as before.
//!
//! New tags and fields are `ALTER TABLE ... ADD COLUMN` (on a cluster `ON CLUSTER`), once, when a
//! write first brings them ([`schema`](mod@schema)); field types are fixed per measurement and
//! retention policy, and conflicts answer 1.x's texts ([`write`](mod@write)).
//!
//! 1.x keeps one point per series and time, a later write replacing the fields it carries. A
//! MergeTree keeps every row, so reads merge: rows come ordered by `(_series, time, _seq)` and the
//! last non-NULL value of each field wins ([`scan`](mod@scan)). A write retried after an error
//! (a shard down half way) therefore cannot double a point.
//!
//! Databases and retention policies: each database's `catalog` table (a ReplacingMergeTree,
//! replicated to every node on a cluster) holds its policies, its default policy and creation
//! times ([`catalog`](mod@catalog)).
//!
//! # Durability and availability
//!
//! A write is one `INSERT ... FORMAT RowBinary` per table. On a cluster it runs with
//! `insert_distributed_sync=1`: ClickHouse answers only once every shard has stored its rows, not
//! from the Distributed engine's background queue; with `insert_quorum = N` every shard's rows are
//! on N replicas first. A shard or replica down (or ZooKeeper) is a 503 with `Retry-After`, and a
//! 204 is never given for rows a shard did not store. Reads never skip an unavailable shard
//! (`skip_unavailable_shards=0`): an incomplete answer is an error.

pub mod aggregate;
pub mod catalog;
pub mod cardinality;
pub mod client;
pub mod delete;
pub mod dialect;
pub mod durability;
pub mod fieldcond;
pub mod group;
pub mod listing;
pub mod names;
pub mod retention;
pub mod rowbinary;
pub mod scan;
pub mod schema;
pub mod series;
pub mod series_table;
pub mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use self::catalog::DbInfo;
use self::client::{Client, ClientOptions};
use self::names::DbNames;
use self::schema::TableSchema;
use super::{
    AggregateRequest, AggregateSeries, Backend, BackendError, Capabilities, CardinalityLimits, DeleteRequest, MeasurementFilter, Result, RetentionPolicy,
    RetentionPolicyUpdate, ScanRequest, SeriesChunk, SeriesInfo, TagPredicate, WriteBatch, WriteOutcome,
};
use crate::model::FieldType;

/// Rows per `SeriesChunk`.
pub const CHUNK_ROWS: usize = 1024;

/// Options of [`ClickHouseBackend::new`] (`[backend.clickhouse]` and `[backend]`).
#[derive(Debug, Clone)]
pub struct ClickHouseOptions {
    /// A cluster of the servers' `remote_servers`; `None`: one server.
    pub cluster: Option<String>,
    pub user: String,
    pub password: String,
    /// ClickHouse databases are `<prefix><db>`, `<prefix><db>.<rp>`.
    pub database_prefix: String,
    /// Per request; also the `distributed_ddl_task_timeout` of ON CLUSTER statements.
    pub timeout: Duration,
    /// How long a DELETE / DROP SERIES waits for ClickHouse's mutation to finish.
    pub mutation_timeout: Duration,
    /// `insert_quorum` of writes (0: ClickHouse's default, one replica acknowledges).
    pub insert_quorum: u32,
    /// Root of the ZooKeeper paths of replicated tables (on a cluster).
    pub zookeeper_path: String,
    /// Duration (ns, 0 = infinite) of the `autogen` policy of databases made by a write.
    pub default_retention: i64,
    /// How often expired shard groups are dropped (ns; 0 disables the background task).
    pub retention_check_interval: i64,
    pub cardinality: CardinalityLimits,
    /// CA and client certificate for an `https://` URL.
    pub tls: crate::backend::tls::StoreTls,
    /// How concurrent writes share inserts (linger, cap).
    pub groups: group::GroupOptions,
    /// How long a measurement's series list is kept (`listing_ttl_ms`; zero: not kept), see
    /// [`listing`](mod@listing).
    pub listing_ttl: Duration,
    /// Bytes of series lists kept (`listing_max_bytes`).
    pub listing_max_bytes: usize,
    /// Aggregates over at most this many listed series run on one ClickHouse thread
    /// (`single_thread_series`; 0: none), see [`aggregate`](mod@aggregate).
    pub single_thread_series: usize,
}

impl Default for ClickHouseOptions {
    fn default() -> Self {
        ClickHouseOptions {
            cluster: None,
            user: "default".into(),
            password: String::new(),
            database_prefix: "influx_".into(),
            timeout: Duration::from_secs(30),
            mutation_timeout: Duration::from_secs(300),
            insert_quorum: 0,
            zookeeper_path: "/clickhouse/influxgate".into(),
            default_retention: 0,
            retention_check_interval: 30 * 60 * 1_000_000_000,
            cardinality: CardinalityLimits::default(),
            tls: crate::backend::tls::StoreTls::default(),
            groups: group::GroupOptions::default(),
            listing_ttl: listing::DEFAULT_TTL,
            listing_max_bytes: listing::DEFAULT_MAX_BYTES,
            single_thread_series: aggregate::DEFAULT_SINGLE_THREAD_SERIES,
        }
    }
}

pub struct ClickHouseBackend {
    inner: Arc<Inner>,
    retention_task: Option<tokio::task::JoinHandle<()>>,
}

/// What the server is: its major version decides a few settings (see [`Inner::insert_settings`]).
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub major: u32,
}

pub struct Inner {
    pub client: Client,
    pub opts: ClickHouseOptions,
    pub names: DbNames,
    /// (ClickHouse database, table) → columns, for the tables written or read since start.
    tables: Mutex<HashMap<(String, String), Arc<TableSchema>>>,
    /// 1.x database → its policies (from its catalog table).
    dbs: Mutex<HashMap<String, Arc<DbInfo>>>,
    /// Serialises schema changes (DDL, catalog rows) made by this process.
    pub ddl: tokio::sync::Mutex<()>,
    /// Write order (`_seq`, catalog versions): starts at the clock, counts up.
    seq: AtomicU64,
    server: tokio::sync::OnceCell<Server>,
    pub tracker: cardinality::Tracker,
    /// Inserts under way, joined by the writes that arrive meanwhile ([`group`]).
    groups: group::Groups,
    /// Measurements' series lists kept between statements ([`listing`]).
    pub listings: listing::Listings,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

impl Inner {
    pub fn now() -> i64 {
        now_ns()
    }

    /// `n` consecutive write-order numbers; the first is returned.
    pub fn next_seq(&self, n: u64) -> u64 {
        self.seq.fetch_add(n.max(1), Ordering::Relaxed)
    }

    pub fn clustered(&self) -> bool {
        self.opts.cluster.is_some()
    }

    /// ` ON CLUSTER <name>` on a cluster, else nothing.
    pub fn on_cluster(&self) -> String {
        match &self.opts.cluster {
            Some(c) => format!(" ON CLUSTER {}", dialect::ident(c)),
            None => String::new(),
        }
    }

    pub async fn server(&self) -> Result<Server> {
        self.server
            .get_or_try_init(|| async {
                let v = self.client.run("SELECT version()", &[]).await?;
                let text = String::from_utf8_lossy(&v);
                let major = text.trim().split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
                Ok(Server { major })
            })
            .await
            .copied()
    }

    /// Settings of every reading statement: never an incomplete answer from a cluster.
    pub fn select_settings(&self) -> Vec<(&'static str, String)> {
        let mut s = vec![("max_query_size", (16u32 << 20).to_string())];
        if self.clustered() {
            s.push(("skip_unavailable_shards", "0".into()));
        }
        s
    }

    /// Settings of DDL statements.
    pub fn ddl_settings(&self) -> Vec<(&'static str, String)> {
        let mut s = vec![("max_query_size", (16u32 << 20).to_string())];
        if self.clustered() {
            s.push(("distributed_ddl_task_timeout", self.opts.timeout.as_secs().max(1).to_string()));
        }
        s
    }

    /// Settings of data inserts: synchronous on a cluster, with the configured quorum.
    pub async fn insert_settings(&self) -> Result<Vec<(&'static str, String)>> {
        let mut s = Vec::new();
        if self.clustered() {
            s.push(("insert_distributed_sync", "1".to_string()));
            s.push(("insert_distributed_timeout", self.opts.timeout.as_secs().max(1).to_string()));
        }
        if self.opts.insert_quorum > 0 {
            s.push(("insert_quorum", self.opts.insert_quorum.to_string()));
            s.push(("insert_quorum_timeout", self.opts.timeout.as_millis().max(1).to_string()));
        }
        // Current releases refuse an insert spanning more than 100 partitions (shard groups);
        // 18.16 has no such setting and no such limit, nor has 1.x.
        if self.server().await?.major >= 19 {
            s.push(("max_partitions_per_insert_block", "0".to_string()));
        }
        Ok(s)
    }

    /// Runs `f` again, up to 20 times 50 ms apart, while ClickHouse answers that a table or
    /// database does not exist, on a cluster: a Distributed table made again after new columns
    /// (`schema::add_columns`) is missing for a moment on each node.
    pub async fn retry_missing<T, Fut>(&self, mut f: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            match f().await {
                Err(e) if self.clustered() && tries < 20 && client::error_code(&e).is_some_and(|c| client::UNKNOWN_OBJECT.contains(&c)) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                r => return r,
            }
        }
    }

    /// A statement whose answer is read whole.
    pub async fn run(&self, sql: &str) -> Result<Vec<u8>> {
        self.client.run(sql, &self.select_settings()).await
    }

    pub async fn run_ddl(&self, sql: &str) -> Result<()> {
        self.client.run(sql, &self.ddl_settings()).await.map(|_| ())
    }

    /// `system.<name>` of every node of the cluster: `remote('<every replica>', system, <name>)`,
    /// the nodes read from `system.clusters`.
    pub async fn system_table(&self, name: &str) -> Result<String> {
        let cluster = self.opts.cluster.clone().unwrap_or_default();
        let sql = format!(
            "SELECT host_address, port FROM system.clusters WHERE cluster = {} FORMAT RowBinary",
            dialect::string(&cluster)
        );
        let body = self.run(&sql).await?;
        let mut c = rowbinary::Cursor::new(&body);
        let mut addrs = Vec::new();
        while c.pos < body.len() {
            match (c.string()?, c.u16()) {
                (Some(h), Some(p)) if h.contains(':') => addrs.push(format!("[{h}]:{p}")),
                (Some(h), Some(p)) => addrs.push(format!("{h}:{p}")),
                _ => return Err(BackendError::Internal("clickhouse: truncated system.clusters answer".into())),
            }
        }
        if addrs.is_empty() {
            return Err(BackendError::Internal(format!("clickhouse: cluster {cluster:?} unknown to the server")));
        }
        Ok(format!(
            "remote({}, system, {}, {}, {})",
            dialect::string(&addrs.join(",")),
            dialect::ident(name),
            dialect::string(&self.opts.user),
            dialect::string(&self.opts.password)
        ))
    }

    /// Where a policy's rows are (its shard tables' database on a cluster) and the `system.<name>`
    /// that lists them on every node.
    pub async fn system_source(&self, db: &str, rp: &str, name: &str) -> Result<(String, String)> {
        if self.clustered() {
            Ok((self.names.local(db, rp), self.system_table(name).await?))
        } else {
            Ok((self.names.policy(db, rp), format!("system.{}", dialect::ident(name))))
        }
    }

    pub fn cached_table(&self, chdb: &str, table: &str) -> Option<Arc<TableSchema>> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner()).get(&(chdb.to_string(), table.to_string())).cloned()
    }

    pub fn cache_table(&self, chdb: &str, table: &str, s: Option<Arc<TableSchema>>) {
        let mut t = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let key = (chdb.to_string(), table.to_string());
        match s {
            Some(s) => {
                t.insert(key, s);
            }
            None => {
                t.remove(&key);
            }
        }
    }

    /// Forgets every cached schema, catalog and series list of a database (after it or its
    /// parts were dropped).
    pub fn forget_db(&self, db: &str) {
        self.listings.forget_all();
        self.dbs.lock().unwrap_or_else(|p| p.into_inner()).remove(db);
        let base = self.names.base(db);
        self.tables.lock().unwrap_or_else(|p| p.into_inner()).retain(|(d, _), _| !d.starts_with(&base));
    }

    pub fn cached_db(&self, db: &str) -> Option<Arc<DbInfo>> {
        self.dbs.lock().unwrap_or_else(|p| p.into_inner()).get(db).cloned()
    }

    pub fn cache_db(&self, db: &str, info: Option<Arc<DbInfo>>) {
        let mut d = self.dbs.lock().unwrap_or_else(|p| p.into_inner());
        match info {
            Some(i) => {
                d.insert(db.to_string(), i);
            }
            None => {
                d.remove(db);
            }
        }
    }
}

impl ClickHouseBackend {
    /// `url`: one server's HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub fn new(url: &str, opts: ClickHouseOptions) -> Result<Self> {
        if opts.database_prefix.is_empty()
            || !opts.database_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(BackendError::Invalid(format!(
                "clickhouse database_prefix must be letters, digits and '_' (not empty), not {:?}",
                opts.database_prefix
            )));
        }
        if !opts.zookeeper_path.starts_with('/') {
            return Err(BackendError::Invalid("clickhouse zookeeper_path must start with '/'".into()));
        }
        let client = Client::new(
            url,
            ClientOptions {
                user: opts.user.clone(),
                password: opts.password.clone(),
                timeout: opts.timeout,
                tls: opts.tls.clone(),
            },
        )?;
        let inner = Arc::new(Inner {
            client,
            names: DbNames { prefix: opts.database_prefix.clone() },
            tables: Mutex::new(HashMap::new()),
            dbs: Mutex::new(HashMap::new()),
            ddl: tokio::sync::Mutex::new(()),
            seq: AtomicU64::new(now_ns().max(0) as u64),
            server: tokio::sync::OnceCell::new(),
            tracker: cardinality::Tracker::new(opts.cardinality),
            groups: group::Groups::new(opts.groups),
            listings: listing::Listings::new(opts.listing_ttl, opts.listing_max_bytes),
            opts,
        });
        let retention_task = retention::spawn(&inner);
        Ok(ClickHouseBackend { inner, retention_task })
    }

    /// Drops expired shard groups now (the background task does it every
    /// `retention_check_interval`).
    pub async fn enforce_retention(&self) -> Result<()> {
        retention::enforce(&self.inner).await
    }

    /// Passes `r` on; when it says ClickHouse could not be reached, the kept lists are dropped
    /// first ([`listing`]: a statement then asks, and fails, as without them).
    fn seen<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.inner.listings.forget_if_unreachable(e);
        }
        r
    }
}

impl Drop for ClickHouseBackend {
    fn drop(&mut self) {
        if let Some(t) = self.retention_task.take() {
            t.abort();
        }
    }
}

#[async_trait]
impl Backend for ClickHouseBackend {
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::ClickHouse
    }

    fn counters(&self) -> Vec<crate::backend::BackendCounter> {
        vec![crate::backend::BackendCounter {
            name: "influxgate_clickhouse_requests_total",
            help: "HTTP requests sent to ClickHouse (statements and inserts).",
            value: self.inner.client.requests(),
        }]
    }

    fn capabilities(&self) -> Capabilities {
        // Exact per function: see `aggregate`'s module docs.
        use super::AggregateFn as F;
        let aggregates = vec![F::Count, F::Sum, F::Mean, F::Min, F::Max, F::First, F::Last];
        Capabilities { aggregates }
    }

    async fn health(&self) -> Result<()> {
        self.inner.client.run("SELECT 1", &[]).await.map(|_| ())
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        self.seen(write::write(&self.inner, batch).await)
    }

    async fn create_database(&self, db: &str) -> Result<()> {
        catalog::create_database(&self.inner, db).await
    }

    async fn drop_database(&self, db: &str) -> Result<()> {
        catalog::drop_database(&self.inner, db).await
    }

    async fn databases(&self) -> Result<Vec<String>> {
        self.seen(catalog::databases(&self.inner).await)
    }

    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        self.seen(catalog::retention_policies(&self.inner, db).await)
    }

    async fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> Result<()> {
        catalog::create_retention_policy(&self.inner, db, rp).await
    }

    async fn alter_retention_policy(&self, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()> {
        catalog::alter_retention_policy(&self.inner, db, name, update).await
    }

    async fn drop_retention_policy(&self, db: &str, name: &str) -> Result<()> {
        catalog::drop_retention_policy(&self.inner, db, name).await
    }

    async fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        self.seen(scan::series(&self.inner, db, rp, measurements, tags).await)
    }

    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        self.seen(catalog::measurements(&self.inner, db, rp).await)
    }

    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        self.seen(catalog::field_keys(&self.inner, db, rp, measurement).await)
    }

    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        self.seen(scan::scan(&self.inner, req).await)
    }

    async fn aggregate(&self, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
        self.seen(aggregate::aggregate(&self.inner, req).await)
    }

    async fn aggregate_many(&self, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
        aggregate::aggregate_many(&self.inner, reqs).await.into_iter().map(|r| self.seen(r)).collect()
    }

    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        delete::delete(&self.inner, req).await
    }
}
