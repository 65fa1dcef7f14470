//! Configuration: the TOML file (`config.toml`), overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub backend: BackendConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    pub query: QueryConfig,
    pub spool: SpoolConfig,
    pub tls: TlsConfig,
    pub server: ServerConfig,
    pub tokens: Vec<TokenConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8086".parse().unwrap(),
            data_dir: PathBuf::from("./data"),
            backend: BackendConfig::default(),
            limits: LimitsConfig::default(),
            log: LogConfig::default(),
            query: QueryConfig::default(),
            spool: SpoolConfig::default(),
            tls: TlsConfig::default(),
            server: ServerConfig::default(),
            tokens: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    /// `embedded`, `victoriametrics`, `clickhouse` or `influxdb`.
    pub kind: crate::backend::BackendKind,
    pub url: Option<String>,
    /// Retention of the `autogen` policy made when a write creates a database. `0s` = infinite.
    #[serde(with = "duration_str")]
    pub default_retention: i64,
    /// How long a backend call may take before the request fails with 503.
    #[serde(with = "duration_str")]
    pub timeout: i64,
    /// How long `/health` waits for the store before answering 503 (load balancers give up early).
    #[serde(with = "duration_str")]
    pub health_timeout: i64,
    /// How often expired data is removed.
    #[serde(with = "duration_str")]
    pub retention_check_interval: i64,
    /// Embedded store: fsync every commit (`full`) or only at checkpoints (`normal`).
    pub sync: String,
    /// Embedded store: past this WAL size the writer checkpoints and truncates the WAL, waiting
    /// for readers of older snapshots; the WAL stays under twice this plus one group commit.
    pub wal_max_bytes: u64,
    pub victoriametrics: VictoriaMetricsConfig,
    pub clickhouse: ClickHouseConfig,
    pub influxdb: InfluxDbConfig,
    /// PEM file of the CAs trusted for an `https://` store, besides the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) and its key, presented to an `https://` store.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// Settings of the `influxdb` backend (an InfluxDB 1.x upstream, see `backend::influxdb`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxDbConfig {
    /// The upstream's credentials (HTTP Basic auth), when its `auth-enabled` is on.
    pub user: String,
    pub password: String,
    /// An upstream that cannot be connected to within this answers 503.
    #[serde(with = "duration_str")]
    pub connect_timeout: i64,
    /// The largest answer read from the upstream for one statement (the query's
    /// `query.max_memory_bytes` bounds it too).
    pub max_answer_bytes: u64,
}

impl Default for InfluxDbConfig {
    fn default() -> Self {
        InfluxDbConfig { user: String::new(), password: String::new(), connect_timeout: 2 * NS_PER_S, max_answer_bytes: 1 << 30 }
    }
}

/// Settings of the `clickhouse` backend (see `backend::clickhouse`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseConfig {
    /// A cluster of the servers' `remote_servers`: tables are made `ON CLUSTER`, replicated, with
    /// a Distributed table over them. Empty: one server.
    pub cluster: String,
    pub user: String,
    pub password: String,
    /// ClickHouse databases are named `<prefix><db>` and `<prefix><db>.<rp>`.
    pub database_prefix: String,
    /// How long a DELETE / DROP SERIES waits for ClickHouse's mutation to finish.
    #[serde(with = "duration_str")]
    pub mutation_timeout: i64,
    /// `insert_quorum` of every write (0: ClickHouse's default, one replica acknowledges).
    pub insert_quorum: u32,
    /// Root of the ZooKeeper paths of the replicated tables influxgate makes (on a cluster).
    pub zookeeper_path: String,
    /// The longest an insert waits for concurrent writers' rows to share it (ns; 0: never).
    #[serde(with = "duration_str")]
    pub insert_linger: i64,
    /// The most bytes of rows one grouped insert joins.
    pub max_insert_bytes: usize,
    /// How long series, table and database lists are kept (ms; 0: not kept), see
    /// `backend::clickhouse::listing`.
    pub listing_ttl_ms: u64,
    /// The most bytes of those lists kept.
    pub listing_max_bytes: usize,
    /// Aggregates over at most this many series run with ClickHouse's `max_threads = 1` (0: none),
    /// see `backend::clickhouse::aggregate`.
    pub single_thread_series: usize,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            cluster: String::new(),
            user: "default".into(),
            password: String::new(),
            database_prefix: "influx_".into(),
            mutation_timeout: 300 * NS_PER_S,
            insert_quorum: 0,
            zookeeper_path: "/clickhouse/influxgate".into(),
            insert_linger: crate::backend::clickhouse::group::DEFAULT_LINGER_MS as i64 * 1_000_000,
            max_insert_bytes: crate::backend::clickhouse::group::DEFAULT_MAX_BYTES,
            listing_ttl_ms: crate::backend::clickhouse::listing::DEFAULT_TTL.as_millis() as u64,
            listing_max_bytes: crate::backend::clickhouse::listing::DEFAULT_MAX_BYTES,
            single_thread_series: crate::backend::clickhouse::aggregate::DEFAULT_SINGLE_THREAD_SERIES,
        }
    }
}

/// Settings of the `victoriametrics` backend; they must match the VictoriaMetrics server's flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VictoriaMetricsConfig {
    /// VictoriaMetrics' `-influxMeasurementFieldSeparator`: metric = measurement + this + field.
    pub measurement_field_separator: String,
    /// VictoriaMetrics' `-influxDBLabel`: the label holding the database name.
    pub db_label: String,
    /// VictoriaMetrics stores a string field as 0. By default such writes are refused (400);
    /// `true` drops string fields instead (counted in /metrics and logged).
    pub drop_string_fields: bool,
    /// Read-your-writes, as with InfluxDB 1.x: a read that follows writes first asks VictoriaMetrics
    /// to make them searchable (`/internal/force_flush`, once for all of them), so a query sees
    /// every write acknowledged before it started. `false`: no flush (searchable within ~1 s).
    pub flush_after_write: bool,
    /// Let VictoriaMetrics gzip its answers (`Accept-Encoding: gzip`). Off by default: on the
    /// same host or LAN compressing and inflating every answer costs both processes more CPU
    /// than the bytes it saves; worth it over a slow link.
    pub compress_answers: bool,
    /// Milliseconds catalog answers (metric names, series listings, label names) are kept
    /// between statements; influxgate's own writes and deletes forget them at once, so this is
    /// the most a measurement or series written straight to VictoriaMetrics shows late.
    /// 0: kept for one statement only.
    pub catalog_ttl_ms: u64,
    /// Bytes of catalog answers kept between statements.
    pub catalog_max_bytes: usize,
    /// Bytes of catalog answers one statement keeps (for its own later requests).
    pub statement_memo_bytes: usize,
    /// `last()` without `GROUP BY time` asks every series over this many milliseconds before one
    /// series' last sample first, and the series without a sample there over the older part
    /// (`backend::victoriametrics::latest`). 0: over the whole range at once.
    pub last_window_ms: u64,
}

impl Default for VictoriaMetricsConfig {
    fn default() -> Self {
        VictoriaMetricsConfig {
            measurement_field_separator: "_".into(),
            db_label: "db".into(),
            drop_string_fields: false,
            flush_after_write: true,
            compress_answers: false,
            catalog_ttl_ms: crate::backend::victoriametrics::memo::DEFAULT_TTL.as_millis() as u64,
            catalog_max_bytes: crate::backend::victoriametrics::memo::SHARED_MAX_BYTES,
            statement_memo_bytes: crate::backend::victoriametrics::memo::MAX_BYTES,
            last_window_ms: crate::backend::victoriametrics::latest::DEFAULT_WINDOW_MS,
        }
    }
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            kind: crate::backend::BackendKind::Embedded,
            url: None,
            default_retention: 0,
            timeout: 30 * NS_PER_S,
            health_timeout: 2 * NS_PER_S,
            retention_check_interval: 30 * 60 * NS_PER_S,
            sync: "full".into(),
            wal_max_bytes: 64 << 20,
            victoriametrics: VictoriaMetricsConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            influxdb: InfluxDbConfig::default(),
            ca_file: None,
            client_cert: None,
            client_key: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest `/write` body, compressed and decompressed alike (InfluxDB 1.x's `max-body-size`).
    pub max_body_bytes: u64,
    /// Requests being served at once, all tokens together; past it → 503.
    pub max_inflight_requests: usize,
    /// Write bodies held in memory at once, all tokens together; past it → 503.
    pub max_buffered_write_bytes: u64,
    /// Per-token defaults; a token may set its own.
    pub requests_per_second: u32,
    pub burst: u32,
    pub write_bytes_per_second: u64,
    /// Requests one token may have in flight at once, and write bytes (bodies and their parse)
    /// one token may hold at once; past either → 503 + Retry-After. A token may set its own.
    pub token_max_inflight_requests: usize,
    pub token_max_buffered_write_bytes: u64,
    /// Open client connections; the effective cap is also kept below the open-file limit.
    pub max_connections: usize,
    /// A connection serving no request is closed this long after it was accepted or answered its
    /// last request (counted from accept, not from the first byte).
    #[serde(with = "duration_str")]
    pub idle_timeout: i64,
    /// How long a client may take to send a request's headers once it started sending them.
    #[serde(with = "duration_str")]
    pub header_timeout: i64,
    /// How long a client may take to send a request body (a slow sender holds an in-flight slot).
    #[serde(with = "duration_str")]
    pub body_timeout: i64,
    /// The longest prefix of a malformed line quoted back in a 400 answer.
    pub error_line_max_bytes: usize,
    /// Series one database may hold (1.x's `max-series-per-database`); 0 = no limit.
    pub max_series_per_database: u64,
    /// Distinct values one tag key may have in a measurement (1.x's `max-values-per-tag`); 0 = no limit.
    pub max_values_per_tag: u64,
    /// What a request over its token's rates gets (see `server::throttle`); a token may set its own.
    pub on_limit: OnLimit,
    /// With `on_limit = "delay"`: the longest a request is held for its token's rates; a token
    /// may set its own.
    #[serde(with = "duration_str")]
    pub max_delay: i64,
    /// An answer its client reads nothing of for this long has its connection closed.
    #[serde(with = "duration_str")]
    pub send_timeout: i64,
}

/// What a request over its token's rate limits gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum OnLimit {
    /// 503 for Telegraf (which drops a batch on any 4xx), 429 for everyone else.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    /// 429 with `Retry-After`, the v1 spec's answer.
    #[serde(rename = "429")]
    TooManyRequests,
    /// 503 with `Retry-After`, InfluxDB 1.x's answer when it throttles.
    #[serde(rename = "503")]
    Unavailable,
    /// Held until the token's rates allow it, up to `max_delay`; past that, as `auto`.
    #[serde(rename = "delay")]
    Delay,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 25_000_000,
            max_inflight_requests: 1024,
            max_buffered_write_bytes: 512 * 1024 * 1024,
            requests_per_second: 1000,
            burst: 2000,
            write_bytes_per_second: 256 * 1024 * 1024,
            token_max_inflight_requests: 256,
            token_max_buffered_write_bytes: 128 * 1024 * 1024,
            max_connections: 4096,
            idle_timeout: 60 * NS_PER_S,
            header_timeout: 30 * NS_PER_S,
            body_timeout: 120 * NS_PER_S,
            error_line_max_bytes: 65_536,
            max_series_per_database: 1_000_000,
            max_values_per_tag: 100_000,
            on_limit: OnLimit::Auto,
            max_delay: 2 * NS_PER_S,
            send_timeout: 60 * NS_PER_S,
        }
    }
}

/// How queries run (see `query::settings`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// Raw SELECTs stream out in time windows instead of being read whole.
    pub streaming: bool,
    /// Most points one streaming window holds; memory of a streamed SELECT is about this many
    /// points times the row width.
    pub stream_window_points: usize,
    /// GOMAXPROCS of the InfluxDB 1.x whose float sum/mean bits are reproduced; 0 = this machine's
    /// CPU count (1.x's default).
    pub float_merge_parallelism: usize,
    /// A query running longer is stopped, CPU-bound work included (1.x's `query-timeout`); 0 = none.
    #[serde(with = "duration_str")]
    pub timeout: i64,
    /// Queries running at once (1.x's `max-concurrent-queries`); 0 = no limit.
    pub max_concurrent_queries: usize,
    /// Memory one query may hold (points read, buckets, rows and the encoded answer, across all
    /// its series); past it the query fails. 0 = no limit.
    pub max_memory_bytes: u64,
    /// Threads evaluating queries, apart from the threads serving connections; 0 = one per query
    /// allowed at once (see `server::query_pool`).
    pub workers: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            streaming: true,
            stream_window_points: 16_384,
            float_merge_parallelism: 0,
            timeout: 60 * NS_PER_S,
            max_concurrent_queries: 32,
            max_memory_bytes: 512 * 1024 * 1024,
            workers: 0,
        }
    }
}

/// The write spool in front of a remote store (see `spool`): writes the store cannot take are
/// kept on disk and replayed; acknowledged writes are kept until the store made them durable.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Spool writes while a remote store (VictoriaMetrics) is unavailable. The embedded store
    /// writes locally and never spools.
    pub enabled: bool,
    /// Where the spool's files live; default `<data_dir>/spool`.
    pub dir: Option<PathBuf>,
    /// Bytes of spooled writes kept at most; past it writes are answered 503 with Retry-After.
    pub max_bytes: u64,
    /// Size of one segment file (replayed data is given back a segment at a time).
    pub segment_bytes: u64,
    /// Points written to the store per replayed batch.
    pub replay_batch_points: usize,
    /// Wait after a failed replay, doubled per failure up to `retry_backoff_max`.
    #[serde(with = "duration_str")]
    pub retry_backoff_min: i64,
    #[serde(with = "duration_str")]
    pub retry_backoff_max: i64,
    /// How long the store may take to make an acknowledged write durable; such writes are kept
    /// (in memory, then the spool) that long, and written again if the store restarted. 0s: an
    /// acknowledgement means durable.
    #[serde(with = "duration_str")]
    pub durability_window: i64,
    /// Body bytes the durability window keeps in memory; past it they go to the spool.
    pub window_max_bytes: u64,
    /// How often the store is checked for a restart while the window holds writes.
    #[serde(with = "duration_str")]
    pub check_interval: i64,
    /// Bound of the dead-letter file (points the store refused on replay).
    pub dead_letter_max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            enabled: true,
            dir: None,
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            replay_batch_points: 50_000,
            retry_backoff_min: NS_PER_S / 10,
            retry_backoff_max: 10 * NS_PER_S,
            durability_window: 15 * NS_PER_S,
            window_max_bytes: 256 << 20,
            check_interval: NS_PER_S,
            dead_letter_max_bytes: 256 << 20,
        }
    }
}

/// HTTPS for the API (`server::tls`): 1.x's `https-enabled`, `https-certificate`,
/// `https-private-key`. On when `cert` and `key` are set.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's certificate first.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// How often the two files' modification times and sizes are looked at; a change reloads
    /// them once it has held for one interval (SIGHUP reloads at once). 0 = only on SIGHUP.
    #[serde(with = "duration_str")]
    pub reload_interval: i64,
    /// A connection must finish its TLS handshake within this, or it is closed.
    #[serde(with = "duration_str")]
    pub handshake_timeout: i64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { cert: None, key: None, reload_interval: 10 * NS_PER_S, handshake_timeout: 10 * NS_PER_S }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `influxgate=debug`. `RUST_LOG` overrides it.
    pub level: String,
    /// `text` (key=value) or `json` (one object a line).
    pub format: LogFormat,
    /// A /query request taking longer is logged again with its statements (passwords redacted);
    /// 0 = never.
    #[serde(with = "duration_str")]
    pub slow_query_threshold: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Text, slow_query_threshold: 10 * NS_PER_S }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The running server's lifecycle: configuration reloads and shutdown.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// On SIGTERM/SIGINT, how long requests in progress may take to finish before they are cut.
    #[serde(with = "duration_str")]
    pub shutdown_timeout: i64,
    /// How often the config file's modification time and size are looked at; a change reloads
    /// it as SIGHUP does, once it has held for one interval. 0 = only on SIGHUP.
    #[serde(with = "duration_str")]
    pub config_check_interval: i64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { shutdown_timeout: 30 * NS_PER_S, config_check_interval: 5 * NS_PER_S }
    }
}

/// What the command line sets over the file (`--listen`, `--backend`, `--backend-url`,
/// `--data-dir`); applied again to a reloaded file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub backend: Option<crate::backend::BackendKind>,
    pub backend_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `--tls-cert` and `--tls-key`, given together.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Overrides {
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(b) = self.backend {
            cfg.backend.kind = b;
        }
        if let Some(u) = &self.backend_url {
            cfg.backend.url = Some(u.clone());
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some((c, k)) = &self.tls {
            (cfg.tls.cert, cfg.tls.key) = (Some(c.clone()), Some(k.clone()));
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    /// `sha256:<hex>` of the token; the token itself is never stored.
    pub hash: String,
    #[serde(default)]
    pub admin: bool,
    /// Databases this token may read; `*` for all.
    #[serde(default)]
    pub read: Vec<String>,
    /// Databases this token may write; `*` for all.
    #[serde(default)]
    pub write: Vec<String>,
    pub requests_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub write_bytes_per_second: Option<u64>,
    /// Overrides `limits.token_max_inflight_requests` for this token.
    pub max_inflight_requests: Option<usize>,
    /// Overrides `limits.token_max_buffered_write_bytes` for this token.
    pub max_buffered_write_bytes: Option<u64>,
    /// Overrides `limits.on_limit` for this token.
    pub on_limit: Option<OnLimit>,
    /// Overrides `limits.max_delay` for this token.
    #[serde(default, with = "duration_str_opt")]
    pub max_delay: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse { path: path.to_owned(), message },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: PathBuf::new(), message: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        use crate::backend::BackendKind;
        match self.backend.kind {
            BackendKind::Embedded => {}
            BackendKind::VictoriaMetrics => {
                if self.backend.url.is_none() {
                    return Err(ConfigError::Invalid("backend.url is required for backend victoriametrics".into()));
                }
                let vm = &self.backend.victoriametrics;
                if vm.measurement_field_separator.is_empty() || vm.db_label.is_empty() {
                    return Err(ConfigError::Invalid(
                        "backend.victoriametrics: measurement_field_separator and db_label must not be empty".into(),
                    ));
                }
            }
            BackendKind::ClickHouse => {
                if self.backend.url.is_none() {
                    return Err(ConfigError::Invalid("backend.url is required for backend clickhouse".into()));
                }
                let ch = &self.backend.clickhouse;
                if ch.database_prefix.is_empty() || !ch.database_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(ConfigError::Invalid(
                        "backend.clickhouse.database_prefix must be letters, digits and '_', not empty".into(),
                    ));
                }
                if !ch.zookeeper_path.starts_with('/') || ch.mutation_timeout <= 0 {
                    return Err(ConfigError::Invalid(
                        "backend.clickhouse: zookeeper_path must start with '/' and mutation_timeout be positive".into(),
                    ));
                }
                if !(0..=NS_PER_S).contains(&ch.insert_linger) || ch.max_insert_bytes == 0 {
                    return Err(ConfigError::Invalid(
                        "backend.clickhouse: insert_linger must be at most 1s and max_insert_bytes positive".into(),
                    ));
                }
            }
            BackendKind::InfluxDb => {
                if self.backend.url.is_none() {
                    return Err(ConfigError::Invalid("backend.url is required for backend influxdb".into()));
                }
                if self.backend.influxdb.connect_timeout <= 0 || self.backend.influxdb.max_answer_bytes == 0 {
                    return Err(ConfigError::Invalid(
                        "backend.influxdb: connect_timeout and max_answer_bytes must be positive".into(),
                    ));
                }
            }
        }
        if !matches!(self.backend.sync.as_str(), "full" | "normal") {
            return Err(ConfigError::Invalid(format!(
                "backend.sync must be \"full\" or \"normal\", not {:?}",
                self.backend.sync
            )));
        }
        if self.backend.wal_max_bytes < 1 << 20 {
            return Err(ConfigError::Invalid("backend.wal_max_bytes must be at least 1048576 (1 MiB)".into()));
        }
        if self.backend.default_retention != 0 && self.backend.default_retention < 3600 * NS_PER_S {
            return Err(ConfigError::Invalid(
                "backend.default_retention must be 0s (infinite) or at least 1h, as in InfluxDB 1.x".into(),
            ));
        }
        if self.query.stream_window_points == 0 {
            return Err(ConfigError::Invalid("query.stream_window_points must be positive".into()));
        }
        let l = &self.limits;
        if l.max_connections == 0 || l.token_max_inflight_requests == 0 || l.token_max_buffered_write_bytes == 0 {
            return Err(ConfigError::Invalid(
                "limits: max_connections, token_max_inflight_requests and token_max_buffered_write_bytes must be positive".into(),
            ));
        }
        let timeouts = [l.idle_timeout, l.header_timeout, l.body_timeout, l.send_timeout, self.backend.health_timeout];
        if timeouts.iter().any(|t| *t <= 0) {
            return Err(ConfigError::Invalid(
                "limits.idle_timeout, limits.header_timeout, limits.body_timeout, limits.send_timeout and \
                 backend.health_timeout must be positive"
                    .into(),
            ));
        }
        if self.limits.requests_per_second == 0 || self.limits.burst == 0 || self.limits.write_bytes_per_second == 0 {
            return Err(ConfigError::Invalid("limits: rates and burst must be positive".into()));
        }
        let sp = &self.spool;
        if sp.segment_bytes < 4096 || sp.max_bytes < sp.segment_bytes || sp.replay_batch_points == 0 {
            return Err(ConfigError::Invalid(
                "spool: segment_bytes must be at least 4096, max_bytes at least segment_bytes, replay_batch_points positive".into(),
            ));
        }
        if sp.retry_backoff_min <= 0 || sp.retry_backoff_max < sp.retry_backoff_min || sp.check_interval <= 0 {
            return Err(ConfigError::Invalid(
                "spool: retry_backoff_min and check_interval must be positive, retry_backoff_max at least retry_backoff_min".into(),
            ));
        }
        self.validate_tls()?;
        let mut names = std::collections::HashSet::new();
        for t in &self.tokens {
            if !names.insert(t.name.as_str()) {
                return Err(ConfigError::Invalid(format!("token name {:?} appears twice", t.name)));
            }
            let hex = t.hash.strip_prefix("sha256:").ok_or_else(|| {
                ConfigError::Invalid(format!("token {:?}: hash must look like sha256:<64 hex digits>", t.name))
            })?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::Invalid(format!(
                    "token {:?}: hash must look like sha256:<64 hex digits>",
                    t.name
                )));
            }
            if t.requests_per_second == Some(0) || t.burst == Some(0) || t.write_bytes_per_second == Some(0) {
                return Err(ConfigError::Invalid(format!("token {:?}: rates and burst must be positive", t.name)));
            }
        }
        Ok(())
    }
}

impl Config {
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let t = &self.tls;
        if t.cert.is_some() != t.key.is_some() {
            return Err(ConfigError::Invalid("tls: cert and key must be set together".into()));
        }
        if t.reload_interval < 0 || t.handshake_timeout <= 0 {
            return Err(ConfigError::Invalid(
                "tls: handshake_timeout must be positive, reload_interval positive or 0s".into(),
            ));
        }
        if self.backend.client_cert.is_some() != self.backend.client_key.is_some() {
            return Err(ConfigError::Invalid("backend: client_cert and client_key must be set together".into()));
        }
        Ok(())
    }
}

pub const NS_PER_S: i64 = 1_000_000_000;

/// Parses `0`, `90s`, `15m`, `72h`, `3d`, `2w` (and combinations like `1h30m`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" || s.eq_ignore_ascii_case("inf") {
        return Some(0);
    }
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "u" => 1_000,
            "ms" => 1_000_000,
            "s" => NS_PER_S,
            "m" => 60 * NS_PER_S,
            "h" => 3600 * NS_PER_S,
            "d" => 86400 * NS_PER_S,
            "w" => 7 * 86400 * NS_PER_S,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

mod duration_str_opt {
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        super::duration_str::deserialize(d).map(Some)
    }
}

mod duration_str {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {s:?}: use e.g. 0s, 90s, 15m, 72h, 3d")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("3d"), Some(3 * 86400 * NS_PER_S));
        assert_eq!(parse_duration("1h30m"), Some(5400 * NS_PER_S));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn shipped_config_is_valid() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(cfg.backend.kind, crate::backend::BackendKind::Embedded);
        assert_eq!(cfg.limits.max_body_bytes, 25_000_000);
        assert_eq!(cfg.query, QueryConfig::default(), "config.toml states the defaults of [query]");
        assert_eq!(cfg.spool, SpoolConfig::default(), "config.toml states the defaults of [spool]");
        assert_eq!(cfg.tls, TlsConfig::default(), "config.toml states the defaults of [tls]");
    }

    #[test]
    fn tls_settings_come_in_pairs() {
        let cfg = Config::parse("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\nreload_interval = \"0s\"\n").unwrap();
        assert!(cfg.tls.enabled() && cfg.tls.reload_interval == 0);
        for bad in [
            "[tls]\ncert = \"c.pem\"\n",
            "[tls]\nhandshake_timeout = \"0s\"\n",
            "[backend]\nclient_key = \"k.pem\"\n",
        ] {
            let err = Config::parse(bad).unwrap_err().to_string();
            assert!(err.contains("tls") || err.contains("client_cert"), "{bad}: {err}");
        }
    }

    #[test]
    fn query_section() {
        let cfg = Config::parse("[query]\nstreaming = false\nstream_window_points = 4096\nfloat_merge_parallelism = 8\n").unwrap();
        assert_eq!(
            cfg.query,
            QueryConfig { streaming: false, stream_window_points: 4096, float_merge_parallelism: 8, ..QueryConfig::default() }
        );
        let err = Config::parse("[query]\nstream_window_points = 0\n").unwrap_err();
        assert!(err.to_string().contains("stream_window_points"), "{err}");
    }

    #[test]
    fn on_limit_and_max_delay() {
        assert_eq!(LimitsConfig::default().on_limit, OnLimit::Auto);
        let hash = format!("sha256:{}", "0".repeat(64));
        let text = format!(
            "[limits]\non_limit = \"503\"\nmax_delay = \"500ms\"\n\
             [[tokens]]\nname = 'a'\nhash = '{hash}'\non_limit = 'delay'\nmax_delay = '3s'\n\
             [[tokens]]\nname = 'b'\nhash = '{hash}'\n"
        );
        let cfg = Config::parse(&text).unwrap();
        assert_eq!((cfg.limits.on_limit, cfg.limits.max_delay), (OnLimit::Unavailable, 500_000_000));
        assert_eq!((cfg.tokens[0].on_limit, cfg.tokens[0].max_delay), (Some(OnLimit::Delay), Some(3 * NS_PER_S)));
        assert_eq!((cfg.tokens[1].on_limit, cfg.tokens[1].max_delay), (None, None));
        for v in ["'auto'", "'429'"] {
            assert!(Config::parse(&format!("[limits]\non_limit = {v}\n")).is_ok(), "{v}");
        }
        for bad in ["'drop'", "429", "'Delay'"] {
            assert!(Config::parse(&format!("[limits]\non_limit = {bad}\n")).is_err(), "{bad}");
        }
        let err = Config::parse("[limits]\nsend_timeout = '0s'\n").unwrap_err();
        assert!(err.to_string().contains("send_timeout"), "{err}");
    }

    #[test]
    fn influxdb_section() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
        assert_eq!(Config::parse(&text).unwrap().backend.influxdb, InfluxDbConfig::default(), "config.toml states the defaults");
        let cfg = Config::parse("[backend]\nkind = 'influxdb'\nurl = 'http://127.0.0.1:8086'\n[backend.influxdb]\nuser = 'u'\nconnect_timeout = '5s'\n").unwrap();
        assert_eq!((cfg.backend.influxdb.user.as_str(), cfg.backend.influxdb.connect_timeout), ("u", 5 * NS_PER_S));
        assert!(Config::parse("[backend]\nkind = 'influxdb'\n").is_err(), "url required");
        assert!(Config::parse("[backend]\nkind = 'influxdb'\nurl = 'http://x:1'\n[backend.influxdb]\nmax_answer_bytes = 0\n").is_err());
    }

    #[test]
    fn clickhouse_section() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml")).unwrap();
        assert_eq!(Config::parse(&text).unwrap().backend.clickhouse, ClickHouseConfig::default(), "config.toml states the defaults");
        let cfg = Config::parse(
            "[backend]\nkind = 'clickhouse'\nurl = 'http://127.0.0.1:8123'\n[backend.clickhouse]\ncluster = 'c'\ninsert_quorum = 2\n",
        )
        .unwrap();
        assert_eq!((cfg.backend.clickhouse.cluster.as_str(), cfg.backend.clickhouse.insert_quorum), ("c", 2));
        assert!(Config::parse("[backend]\nkind = 'clickhouse'\n").is_err(), "url required");
        let bad = "[backend]\nkind = 'clickhouse'\nurl = 'http://x:1'\n[backend.clickhouse]\ndatabase_prefix = 'a.b'\n";
        assert!(Config::parse(bad).unwrap_err().to_string().contains("database_prefix"));
        let head = "[backend]\nkind = 'clickhouse'\nurl = 'http://x:1'\n[backend.clickhouse]\n";
        let cfg = Config::parse(&format!("{head}insert_linger = '20ms'\nmax_insert_bytes = 1000\n")).unwrap();
        assert_eq!((cfg.backend.clickhouse.insert_linger, cfg.backend.clickhouse.max_insert_bytes), (20_000_000, 1000));
        for bad in ["insert_linger = '2s'", "max_insert_bytes = 0"] {
            assert!(Config::parse(&format!("{head}{bad}\n")).unwrap_err().to_string().contains("insert_linger"), "{bad}");
        }
        let cfg = Config::parse(&format!("{head}listing_ttl_ms = 0\nlisting_max_bytes = 4096\nsingle_thread_series = 3\n")).unwrap();
        assert_eq!((cfg.backend.clickhouse.listing_ttl_ms, cfg.backend.clickhouse.listing_max_bytes), (0, 4096));
        assert_eq!(cfg.backend.clickhouse.single_thread_series, 3);
    }

    #[test]
    fn rejects_bad_token_hash() {
        let err = Config::parse("[[tokens]]\nname='a'\nhash='plain'\n").unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys() {
        assert!(Config::parse("lisen = '127.0.0.1:1'\n").is_err());
    }
}
