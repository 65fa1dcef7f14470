//! The VictoriaMetrics backend: influxgate in front of a (single-node) VictoriaMetrics over HTTP.
//!
//! Data model (the same as VictoriaMetrics' own InfluxDB line protocol ingestion, so data written
//! through influxgate equals what Telegraf writing straight to VictoriaMetrics' `/write` stores):
//!
//! * field `f` of measurement `m` → metric `m<sep>f` (`sep` = `-influxMeasurementFieldSeparator`,
//!   default `_`); tags → labels; the database → label `db` (`-influxDBLabel`). A tag named like
//!   the db label, `__name__` or another name VictoriaMetrics reserves is stored under an escaped
//!   label and read back as itself, so a point stays in the database `?db=` named (see
//!   [`labels`](mod@labels), which also says which label sets VictoriaMetrics would cut and are
//!   refused). Names that would read back as another measurement's field are refused (see
//!   [`checks`](mod@checks)).
//! * every value is a float: integers and unsigned integers are converted (`as f64`), booleans
//!   become 1/0. Strings would be stored as 0 by VictoriaMetrics: here they are refused
//!   (`BackendError::Invalid`, naming the field), or dropped and counted with
//!   `drop_string_fields` (see [`VictoriaMetricsBackend::dropped_string_fields`]).
//! * VictoriaMetrics keeps milliseconds: a timestamp is truncated to the millisecond (toward zero,
//!   as VictoriaMetrics' `/write` does); points before 1970 are refused. VictoriaMetrics silently
//!   drops samples older than its `-retentionPeriod` or more than 2 days ahead of its clock: such
//!   points are left out and the write answers `partial write: ... dropped=N` (the rest is
//!   written), as 1.x does for points beyond a retention policy.
//! * Writes go to VictoriaMetrics' own line-protocol endpoint, `/write?db=<db>&precision=ms`,
//!   as line protocol written from the parsed points (sent in pieces of ~4 MiB); what line
//!   protocol cannot carry exactly, and every point when VictoriaMetrics' `-influx*` flags
//!   disagree with the options, goes to `/api/v1/import` as JSON lines (see [`write`](mod@write)).
//!   A read that follows writes first asks VictoriaMetrics to make them searchable
//!   (`/internal/force_flush`, once for all the writes before it; option `flush_after_write`,
//!   see [`flush`](mod@flush)), so a query sees every write acknowledged before it.
//!   VictoriaMetrics acknowledges once the samples are in its memory and writes them to disk
//!   seconds later (see [`durability`](mod@durability)); the write spool keeps acknowledged
//!   writes until then and writes them again if VictoriaMetrics restarted (`crate::spool`).
//! * Reading a metric name back as measurement + field: see [`names`](mod@names) for the rule.
//! * Databases: values of the db label, plus databases made with `CREATE DATABASE` or written to
//!   through influxgate (kept in the catalog until `DROP DATABASE`, as a 1.x database outlives its
//!   series). Retention policies: one, `autogen`, whose duration is VictoriaMetrics'
//!   `-retentionPeriod`; policy DDL is `Unsupported`.
//! * Scans: `/api/v1/series` lists the series (tag predicate pushed down as label matchers where
//!   exactly expressible, see [`selector`](mod@selector); in a statement, of any time, so that the
//!   listing answers the statement's other questions and is kept, see [`memo`](mod@memo)),
//!   `TagPredicate::matches` decides, then every series is
//!   read in order with `/api/v1/export` and an exact selector, the response read line by line
//!   (each line parsed in place, see [`export`](mod@export)), its per-field metrics merged by
//!   timestamp. Memory per scan is bounded: a time window holding more
//!   than `MAX_WINDOW_SAMPLES` samples is split in halves and read again.
//! * Deletes: `DROP SERIES`/`DROP MEASUREMENT`/`DELETE` without a time range →
//!   `/api/v1/admin/tsdb/delete_series` with exact selectors; a time-bounded `DELETE` is
//!   `Unsupported`. `DROP DATABASE` deletes every series with the db label.
//! * Overwriting a point is not a thing in VictoriaMetrics: samples of one series at the same
//!   millisecond are all kept (unless it runs with `-dedup.minScrapeInterval`), and a scan returns
//!   the last one VictoriaMetrics exports for that millisecond, which need not be the last written.
//!
//! Cardinality: 1.x's `max-series-per-database` and `max-values-per-tag`, counted over what
//! VictoriaMetrics holds, see [`cardinality`](mod@cardinality).
//!
//! Limits (VictoriaMetrics flags to raise when they bite): a scan or `SHOW SERIES` lists the
//! series of one measurement with `/api/v1/series`, at most `-search.maxSeries` (30000 by default);
//! a write request is at most `-maxInsertRequestSize` (requests are sent in 4 MiB pieces), a line
//! at most `-influx.maxLineSize` (wider points are split into several lines).
//! Aggregates (count, sum, mean, min, max, first, last per time bucket) are pushed down as MetricsQL
//! rollups where provably identical to the evaluator's answer, see [`rollup`](mod@rollup).

pub mod cardinality;
pub mod checks;
pub mod durability;
pub mod export;
mod flush;
mod forward;
pub mod labels;
pub mod latest;
pub mod listing;
pub mod memo;
pub mod names;
pub mod rollup;
pub mod selector;
pub mod stream;
pub mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{
    Backend, BackendError, Capabilities, DeleteRequest, MeasurementFilter, Result, RetentionPolicy,
    RetentionPolicyUpdate, ScanRequest, SeriesChunk, SeriesInfo, TagPredicate, WriteBatch, WriteOutcome,
};
use crate::model::{FieldType, FieldValue};
use labels::LabelMap;
use names::Catalog;
use selector::{selector, selectors, to_dnf, Matcher};

const NS_PER_MS: i64 = 1_000_000;
/// The last millisecond a scan asks for (i64::MAX ns).
const MAX_MS: i64 = i64::MAX / NS_PER_MS;
/// Rows per `SeriesChunk`.
pub const CHUNK_ROWS: usize = 1024;
/// Default samples one export window may hold before it is split.
pub const MAX_WINDOW_SAMPLES: usize = 200_000;
/// `max_rows_per_line` for exports: bounds one JSON line.
const EXPORT_LINE_ROWS: usize = 10_000;
/// The longest export line accepted (bytes).
const MAX_LINE_BYTES: usize = 16 << 20;
/// Series read with one export request (when their samples fit in one window).
const GROUP_SERIES: usize = 64;
/// The largest catalog answer (label values, series lists) read, in bytes.
const MAX_API_ANSWER: usize = 256 << 20;
/// How far ahead of its clock VictoriaMetrics accepts samples (ms).
const MAX_FUTURE_MS: i64 = 2 * 24 * 3600 * 1000;
/// Import requests are sent in pieces of about this size (VictoriaMetrics refuses requests
/// over `-maxInsertRequestSize`, 32 MiB by default).
const WRITE_CHUNK_BYTES: usize = 4 << 20;
/// Selectors per delete_series request.
const DELETE_BATCH: usize = 64;

/// A series found by `list_series`: its tags and the metric names it has.
type FoundSeries = (Vec<(String, String)>, BTreeSet<String>);

/// Options of [`VictoriaMetricsBackend::new`].
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Per HTTP call (for a streamed export: per read of the response).
    pub timeout: Duration,
    /// VictoriaMetrics' `-influxMeasurementFieldSeparator`.
    pub separator: String,
    /// Drop string fields (counted) instead of refusing the write.
    pub drop_string_fields: bool,
    /// VictoriaMetrics' `-influxDBLabel`.
    pub db_label: String,
    /// Where the catalog (created databases, measurements written through influxgate) is kept;
    /// `None` = memory only.
    pub catalog_file: Option<PathBuf>,
    /// Read-your-writes: a read that follows writes flushes them first (`/internal/force_flush`,
    /// once for all of them; see [`flush`](mod@flush)). `false`: writes become searchable when
    /// VictoriaMetrics flushes by itself, within about a second.
    pub flush_after_write: bool,
    /// Samples one export window may hold before it is split in halves (bounds scan memory).
    pub max_window_samples: usize,
    /// Let VictoriaMetrics gzip its answers; otherwise they are asked uncompressed
    /// (`Accept-Encoding: identity`).
    pub compress_answers: bool,
    /// Refuse writes that would pass these (before anything is stored).
    pub cardinality: crate::backend::CardinalityLimits,
    /// CA and client certificate for an `https://` URL.
    pub tls: crate::backend::tls::StoreTls,
    /// How long catalog answers are kept between statements (`catalog_ttl_ms`; zero: for one
    /// statement only), see [`memo`](mod@memo).
    pub catalog_ttl: Duration,
    /// Bytes of catalog answers kept between statements (`catalog_max_bytes`).
    pub catalog_max_bytes: usize,
    /// Bytes of catalog answers one statement keeps (`statement_memo_bytes`).
    pub statement_memo_bytes: usize,
    /// The recent window of `last()` without `GROUP BY time`, in ms (`last_window_ms`; 0: the
    /// whole range at once), see [`latest`](mod@latest).
    pub last_window_ms: u64,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            timeout: Duration::from_secs(30),
            separator: "_".into(),
            drop_string_fields: false,
            db_label: "db".into(),
            catalog_file: None,
            flush_after_write: true,
            max_window_samples: MAX_WINDOW_SAMPLES,
            compress_answers: false,
            cardinality: crate::backend::CardinalityLimits::default(),
            tls: crate::backend::tls::StoreTls::default(),
            catalog_ttl: memo::DEFAULT_TTL,
            catalog_max_bytes: memo::SHARED_MAX_BYTES,
            statement_memo_bytes: memo::MAX_BYTES,
            last_window_ms: latest::DEFAULT_WINDOW_MS,
        }
    }
}

pub struct VictoriaMetricsBackend {
    inner: Arc<Inner>,
    /// In a statement's view (`Backend::statement_view`): what its catalog requests were
    /// answered (see [`memo`](mod@memo)).
    memo: Option<memo::Memo>,
}

struct Inner {
    client: reqwest::Client,
    /// The runtime serving influxgate's connections, where every request to VictoriaMetrics is
    /// sent (see [`Inner::request`]); `None` when built outside a runtime.
    io: Option<tokio::runtime::Handle>,
    base: String,
    opts: VmOptions,
    catalog: Mutex<Catalog>,
    strings_dropped: Arc<AtomicU64>,
    window_splits: AtomicU64,
    /// `last()` requests answered from a recent window, and those of them that also asked the
    /// older part (see [`latest`](mod@latest)).
    latest_windows: AtomicU64,
    latest_older: AtomicU64,
    /// Write bodies sent as the client sent them (see [`forward`](mod@forward)).
    forwarded: AtomicU64,
    retention: Mutex<Option<i64>>,
    /// How writes are sent and what VictoriaMetrics keeps of labels, decided once from its flags
    /// (see [`write`](mod@write)).
    write_setup: Mutex<Option<write::Setup>>,
    /// Tag keys ↔ label names.
    labels: LabelMap,
    /// Per database: writes adding a measurement hold it exclusively, others shared (see
    /// [`checks`](mod@checks)).
    names_locks: Mutex<HashMap<String, Arc<tokio::sync::RwLock<()>>>>,
    /// Series and tag values per database, for the cardinality limits.
    tracker: cardinality::Tracker,
    /// What the last instance check saw, and when VictoriaMetrics last could not be reached
    /// (Unix ms), see [`durability`](mod@durability).
    instance_seen: tokio::sync::Mutex<Option<durability::Seen>>,
    unreachable_ms: std::sync::atomic::AtomicI64,
    /// Writes not flushed yet, flushed before the next read (see [`flush`](mod@flush)).
    flushes: flush::Flushes,
    /// Catalog answers kept between statements (`None`: `catalog_ttl` is zero), see
    /// [`memo`](mod@memo).
    shared: Option<Arc<memo::Shared>>,
    /// Catalog requests sent (names, series, labels; not queries or exports), a diagnostic.
    catalog_requests: AtomicU64,
}

#[derive(Deserialize)]
struct ApiAnswer<T> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

/// Parses one export line (see [`export`]); a line that cannot be read is the store's fault.
fn export_line<'a>(line: &'a [u8], samples: &mut export::Samples) -> Result<export::Labels<'a>> {
    export::parse_line(line, samples)
        .map_err(|e| BackendError::Internal(format!("victoriametrics /api/v1/export: bad line: {e}")))
}

/// The `data` of a VictoriaMetrics API answer (`{"status":"success","data":...}`), which may borrow
/// from `bytes`.
fn api_data<'a, T: Deserialize<'a>>(path: &str, bytes: &'a [u8]) -> Result<T> {
    let a: ApiAnswer<T> = serde_json::from_slice(bytes)
        .map_err(|e| BackendError::Internal(format!("victoriametrics {path}: bad answer: {e}")))?;
    if a.status != "success" {
        return Err(BackendError::Internal(format!(
            "victoriametrics {path}: {}",
            a.error.unwrap_or_else(|| a.status.clone())
        )));
    }
    a.data.ok_or_else(|| BackendError::Internal(format!("victoriametrics {path}: answer without data")))
}

fn net_err(e: reqwest::Error, what: &str) -> BackendError {
    crate::backend::net_error(&format!("victoriametrics {what}"), e)
}

/// Reads a response body of at most `max` bytes; a longer one is cut there (`cut`, for error
/// texts) or refused.
async fn read_bounded(mut resp: reqwest::Response, max: usize, cut: bool, path: &str, timeout: Duration) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(timeout, resp.chunk()).await {
            Err(_) => return Err(BackendError::Timeout(format!("victoriametrics {path}: timed out"))),
            Ok(Err(e)) => return Err(net_err(e, path)),
            Ok(Ok(None)) => return Ok(out),
            Ok(Ok(Some(c))) => {
                if out.len() + c.len() > max {
                    if cut {
                        out.extend_from_slice(&c[..max - out.len()]);
                        return Ok(out);
                    }
                    return Err(BackendError::Internal(format!(
                        "victoriametrics {path}: answer larger than {max} bytes"
                    )));
                }
                out.extend_from_slice(&c);
            }
        }
    }
}

/// `ms` as the `start`/`end` argument (seconds with a fraction; VictoriaMetrics reads integers as
/// seconds). Callers pass `ms >= 0`.
fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn ceil_div(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) != 0 {
        q + 1
    } else {
        q
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `100y`, `4w`, `30d`, `12h`, or a number of months (31 days each), as VictoriaMetrics reads
/// `-retentionPeriod`; in ns.
fn parse_retention(v: &str) -> Option<i64> {
    const H: f64 = 3600e9;
    let v = v.trim();
    let (num, unit) = match v.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&v[..i], &v[i..]),
        None => (v, "M"),
    };
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "h" => H,
        "d" => 24.0 * H,
        "w" => 7.0 * 24.0 * H,
        "y" => 365.0 * 24.0 * H,
        "M" => 31.0 * 24.0 * H,
        _ => return None,
    };
    let ns = n * mult;
    (ns.is_finite() && ns >= 0.0 && ns < i64::MAX as f64).then_some(ns as i64)
}

impl VictoriaMetricsBackend {
    /// `url`: VictoriaMetrics' base URL, e.g. `http://127.0.0.1:8428`.
    pub fn new(url: &str, opts: VmOptions) -> Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        if opts.separator.is_empty() {
            return Err(BackendError::Invalid("the victoriametrics measurement/field separator must not be empty".into()));
        }
        if !LabelMap::valid_db_label(&opts.db_label) {
            return Err(BackendError::Invalid(format!("invalid victoriametrics db label {:?}", opts.db_label)));
        }
        let client = crate::backend::http_client("victoriametrics", &base, &opts.tls, opts.timeout, Duration::from_secs(90))?;
        let catalog = match &opts.catalog_file {
            Some(p) => Catalog::load(p).map_err(BackendError::Internal)?,
            None => Catalog::default(),
        };
        let labels = LabelMap::new(&opts.db_label);
        let tracker = cardinality::Tracker::new(opts.cardinality);
        let shared = memo::Shared::new(opts.catalog_ttl, opts.catalog_max_bytes);
        Ok(VictoriaMetricsBackend {
            inner: Arc::new(Inner {
                client,
                io: tokio::runtime::Handle::try_current().ok(),
                base,
                opts,
                catalog: Mutex::new(catalog),
                strings_dropped: Arc::new(AtomicU64::new(0)),
                window_splits: AtomicU64::new(0),
                latest_windows: AtomicU64::new(0),
                latest_older: AtomicU64::new(0),
                forwarded: AtomicU64::new(0),
                retention: Mutex::new(None),
                write_setup: Mutex::new(None),
                labels,
                names_locks: Mutex::new(HashMap::new()),
                tracker,
                instance_seen: tokio::sync::Mutex::new(None),
                unreachable_ms: std::sync::atomic::AtomicI64::new(0),
                flushes: flush::Flushes::default(),
                shared,
                catalog_requests: AtomicU64::new(0),
            }),
            memo: None,
        })
    }

    /// String field values dropped so far (with `drop_string_fields`), for `/metrics`.
    pub fn dropped_string_fields(&self) -> Arc<AtomicU64> {
        self.inner.strings_dropped.clone()
    }

    /// `last()` requests answered from a recent window, and those that also asked the older
    /// part (see [`latest`](mod@latest)).
    pub fn latest_windows(&self) -> (u64, u64) {
        (self.inner.latest_windows.load(Ordering::Relaxed), self.inner.latest_older.load(Ordering::Relaxed))
    }

    /// Export windows split because they held too many samples (a diagnostic).
    pub fn window_splits(&self) -> u64 {
        self.inner.window_splits.load(Ordering::Relaxed)
    }

}

impl Inner {
    /// Notes that VictoriaMetrics could not be reached (see [`durability`](mod@durability)).
    /// The catalog answers kept between statements are dropped too: while VictoriaMetrics is
    /// away a statement fails at its first request (503), as without them.
    fn note_unreachable(&self) {
        self.unreachable_ms.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        if let Some(s) = &self.shared {
            s.forget_all();
        }
    }

    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_catalog(&self, f: impl FnOnce(&mut Catalog) -> bool) -> Result<()> {
        let mut c = self.catalog();
        if f(&mut c) {
            if let Some(p) = &self.opts.catalog_file {
                c.save(p).map_err(BackendError::Internal)?;
            }
        }
        Ok(())
    }

    /// POSTs to VictoriaMetrics; a request that reads (anything but a write or a flush) is sent
    /// once the writes acknowledged before it are searchable (see [`flush`](mod@flush)).
    async fn send(&self, path: &str, body: impl Into<reqwest::Body>, content_type: &str, timeout: Option<Duration>) -> Result<reqwest::Response> {
        if self.opts.flush_after_write && !flush::is_write(path) {
            let flush = || async { self.post(flush::FORCE_FLUSH, String::new(), "text/plain", Some(self.opts.timeout)).await.map(drop) };
            self.flushes.before_read(flush).await?;
        }
        self.post(path, body, content_type, timeout).await
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>, content_type: &str, timeout: Option<Duration>) -> Result<reqwest::Response> {
        let mut rb = self
            .client
            .post(format!("{}{}", self.base, path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if !self.opts.compress_answers {
            // Set by hand, the header keeps reqwest from asking for gzip.
            rb = rb.header(reqwest::header::ACCEPT_ENCODING, "identity");
        }
        if let Some(t) = timeout {
            rb = rb.timeout(t);
        }
        let resp = self.request(rb, path).await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = read_bounded(resp, 4096, true, path, self.opts.timeout).await.unwrap_or_default();
        let mut text = String::from_utf8_lossy(&body).into_owned();
        if text.len() > 512 {
            let mut cut = 512;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let msg = format!("victoriametrics {path}: {status}: {}", text.trim());
        // The store failing (5xx) is worth retrying (a write is spooled, see `crate::spool`); 422 is a request past one of its limits
        // (`-search.maxSeries` and the like), answered as the statement's error; any other 4xx is
        // a request influxgate should not have made.
        Err(match status.as_u16() {
            500..=599 => BackendError::Unavailable(msg),
            422 => BackendError::Invalid(msg),
            _ => BackendError::Internal(msg),
        })
    }

    /// Sends a request on the connection runtime. Queries run on a runtime of their own
    /// (`server::query_pool`) whose threads may be busy evaluating for seconds; a pooled
    /// connection's driver task lives on the runtime that opened it, so a connection opened from
    /// a query thread could leave a write waiting for that thread. Sending every request from the
    /// connection runtime keeps the drivers there.
    async fn request(&self, rb: reqwest::RequestBuilder, path: &str) -> Result<reqwest::Response> {
        let sent = match &self.io {
            Some(h) => h
                .spawn(rb.send())
                .await
                .map_err(|e| BackendError::Internal(format!("victoriametrics {path}: request task: {e}")))?,
            None => rb.send().await,
        };
        sent.map_err(|e| {
            self.note_unreachable();
            net_err(e, path)
        })
    }

    /// Forgets the catalog answers about `db` kept between statements (influxgate wrote, deleted
    /// or made DDL there; see [`memo`](mod@memo)). Called before the client is answered.
    fn forget_shared(&self, db: &str) {
        if let Some(s) = &self.shared {
            s.forget(db);
        }
    }

    /// Notes an acknowledged write, for the flush before the next read (with `flush_after_write`).
    fn note_written(&self) {
        if self.opts.flush_after_write {
            self.flushes.note_written();
        }
    }

    async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Result<reqwest::Response> {
        self.send(path, form(pairs), "application/x-www-form-urlencoded", Some(self.opts.timeout)).await
    }

    async fn api<T: serde::de::DeserializeOwned>(&self, path: &str, pairs: &[(&str, &str)]) -> Result<T> {
        let bytes = self.api_body(path, pairs).await?;
        api_data(path, &bytes)
    }

    /// [`Inner::api`] for a catalog request about database `db` ("" when about none): answered
    /// from the memo when it holds the same request's answer (see [`memo`](mod@memo)).
    async fn catalog_api<T: serde::de::DeserializeOwned>(&self, memo: Option<&memo::Memo>, db: &str, path: &str, pairs: &[(&str, &str)]) -> Result<T> {
        let Some(memo) = memo else { return self.api(path, pairs).await };
        let key = format!("{path}?{}", form(pairs));
        let bytes = match memo.raw(db, &key) {
            Some(b) => b,
            None => {
                let t = memo.ticket();
                let b = Arc::new(self.api_body(path, pairs).await?);
                memo.keep_raw(db, key, b.clone(), t);
                b
            }
        };
        api_data(path, &bytes)
    }

    /// An API answer's body (at most `MAX_API_ANSWER` bytes), for [`api_data`] to read borrowing
    /// from it.
    async fn api_body(&self, path: &str, pairs: &[(&str, &str)]) -> Result<Vec<u8>> {
        if !path.starts_with("/api/v1/query") {
            self.catalog_requests.fetch_add(1, Ordering::Relaxed);
        }
        let resp = self.post_form(path, pairs).await?;
        read_bounded(resp, MAX_API_ANSWER, false, path, self.opts.timeout).await
    }


    fn db_matcher(&self, db: &str) -> Matcher {
        Matcher::Eq(self.opts.db_label.clone(), db.to_string())
    }

    /// Metric names of a database, optionally only those that may belong to `measurement`
    /// (`m` or `m<sep>...`). In a statement's view every name of the database is asked once and
    /// a measurement's are picked from them.
    async fn metric_names(&self, memo: Option<&memo::Memo>, db: &str, measurement: Option<&str>) -> Result<Vec<String>> {
        let sep = &self.opts.separator;
        // Names deleted through influxgate are checked one by one (see `metric_names_re`): only
        // a measurement's, not the database's.
        let memo = memo.filter(|_| !self.catalog().deleted.contains_key(db));
        let Some(memo) = memo else {
            let re = measurement.map(|m| format!("{}(?:{}.+)?", regex::escape(m), regex::escape(sep)));
            return self.metric_names_re(db, re).await;
        };
        let all = match memo.names(db) {
            Some(n) => n,
            None => {
                let t = memo.ticket();
                let n = self.metric_names_re(db, None).await?;
                memo.keep_names(db, &n, t);
                Arc::new(n)
            }
        };
        let Some(m) = measurement else { return Ok(all.to_vec()) };
        // As VictoriaMetrics matches the regex above (anchored; `.` is not a newline).
        let of_m = |n: &&String| {
            n.as_str() == m
                || n.strip_prefix(m).and_then(|r| r.strip_prefix(sep.as_str())).is_some_and(|f| !f.is_empty() && !f.contains('\n'))
        };
        Ok(all.iter().filter(of_m).cloned().collect())
    }

    /// Metric names of a database, optionally only those matching a (VictoriaMetrics-anchored)
    /// regex.
    async fn metric_names_re(&self, db: &str, re: Option<String>) -> Result<Vec<String>> {
        let mut ms = vec![self.db_matcher(db)];
        if let Some(re) = re {
            ms.push(Matcher::Re("__name__".into(), re));
        }
        let sel = selector(&ms);
        let end = secs(MAX_MS);
        let mut names: Vec<String> =
            self.api("/api/v1/label/__name__/values", &[("match[]", &sel), ("start", "1"), ("end", &end)]).await?;
        // VictoriaMetrics 1.79 keeps listing the names of deleted series in label values filtered
        // by match[]; names deleted through influxgate are checked with /api/v1/series, which
        // honours deletes.
        let suspects: Vec<String> = {
            let c = self.catalog();
            match c.deleted.get(db) {
                Some(d) => names.iter().filter(|n| d.contains(*n)).cloned().collect(),
                None => Vec::new(),
            }
        };
        let mut gone = BTreeSet::new();
        let mut alive = BTreeSet::new();
        for n in suspects {
            let sel = selector(&[Matcher::Eq("__name__".into(), n.clone()), self.db_matcher(db)]);
            let found: Vec<serde_json::Value> = self
                .api("/api/v1/series", &[("match[]", &sel), ("start", "1"), ("end", &end), ("limit", "1")])
                .await?;
            if found.is_empty() {
                gone.insert(n);
            } else {
                alive.insert(n);
            }
        }
        if !alive.is_empty() {
            self.update_catalog(|c| {
                let Some(d) = c.deleted.get_mut(db) else { return false };
                d.retain(|n| !alive.contains(n));
                if d.is_empty() {
                    c.deleted.remove(db);
                }
                true
            })?;
        }
        names.retain(|n| !gone.contains(n));
        Ok(names)
    }

    /// Notes metric names whose series (some or all) were deleted, see `metric_names`.
    fn note_deleted(&self, db: &str, names: impl IntoIterator<Item = String>) -> Result<()> {
        let names: Vec<String> = names.into_iter().collect();
        if names.is_empty() {
            return Ok(());
        }
        self.update_catalog(|c| {
            let d = c.deleted.entry(db.to_string()).or_default();
            let before = d.len();
            d.extend(names);
            d.len() != before
        })
    }

    /// field → metric name for one measurement, sorted by field.
    async fn field_metrics(&self, memo: Option<&memo::Memo>, db: &str, measurement: &str) -> Result<BTreeMap<String, String>> {
        let names = self.metric_names(memo, db, Some(measurement)).await?;
        let cat = self.catalog();
        let mut out = BTreeMap::new();
        for n in names {
            let (m, f) = cat.split(db, &n, &self.opts.separator);
            if m == measurement {
                out.insert(f, n);
            }
        }
        Ok(out)
    }

    fn check_rp(&self, rp: Option<&str>) -> Result<()> {
        match rp {
            None | Some("") | Some("autogen") => Ok(()),
            Some(x) => Err(BackendError::RetentionPolicyNotFound(x.to_string())),
        }
    }

    /// Series (label sets minus `__name__` and the db label, sorted) of these metrics matching the
    /// predicate, plus every label name seen on them.
    async fn list_series(
        &self,
        memo: Option<&memo::Memo>,
        db: &str,
        metrics: &[String],
        tags: &TagPredicate,
        lo_ms: i64,
        hi_ms: i64,
    ) -> Result<(Vec<FoundSeries>, BTreeSet<String>)> {
        // In a statement's view the series of any time are asked (a superset: a series without
        // samples in the window reads none), so that the statement's listings of one measurement
        // and predicate (the snapshot's and the scan's), and the next statements', are one
        // request; the metrics sorted for the same reason.
        let (lo_ms, hi_ms) = if memo.is_some() { (0, MAX_MS) } else { (lo_ms, hi_ms) };
        let mut metrics = metrics.to_vec();
        metrics.sort();
        metrics.dedup();
        let metrics = metrics.as_slice();
        // In a statement's view the whole listing, kept parsed, answers any predicate (also none:
        // no parse of a kept answer per statement).
        if let Some(w) = self.listing_for(memo, db, metrics).await? {
            return Ok(self.filter_whole(memo, db, metrics, &w, tags));
        }
        // Past the whole listing (no statement view, or a measurement of more series than it
        // holds) the predicate's own request, tag regexes left to `TagPredicate::matches` below
        // (VictoriaMetrics misjudges values holding 0x00–0x02 or a newline, see `selector`). When
        // VictoriaMetrics refuses that wider request (422: past `-search.maxSeries`), it is sent
        // again with the regexes, as they may select few enough: there a value holding such a
        // byte may be missed.
        let (raw, label_names) = match self.series_request(memo, db, metrics, &to_dnf(tags, &self.labels, false), lo_ms, hi_ms).await {
            Err(BackendError::Invalid(_)) if selector::has_regex(tags) => {
                self.series_request(memo, db, metrics, &to_dnf(tags, &self.labels, true), lo_ms, hi_ms).await?
            }
            r => r?,
        };
        let mut label_names: BTreeSet<String> =
            label_names.into_iter().filter(|l| l != "__name__" && *l != self.opts.db_label).collect();
        let mut by_tags: BTreeMap<Vec<(String, String)>, BTreeSet<String>> = BTreeMap::new();
        for mut labels in raw {
            let Some(name) = labels.remove("__name__") else { continue };
            label_names.extend(labels.keys().filter(|l| **l != self.opts.db_label).cloned());
            let Some(t) = self.labels.tags_in_db(labels, db) else { continue };
            if tags.matches(&t) {
                by_tags.entry(t).or_default().insert(name);
            }
        }
        Ok((by_tags.into_iter().collect(), label_names))
    }

    /// `/api/v1/series` for these metrics and matchers (`conjs`, united) in `db` and the time
    /// range, and every label name the metrics use.
    async fn series_request(
        &self,
        memo: Option<&memo::Memo>,
        db: &str,
        metrics: &[String],
        conjs: &[Vec<Matcher>],
        lo_ms: i64,
        hi_ms: i64,
    ) -> Result<(Vec<BTreeMap<String, String>>, Vec<String>)> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        // Every series of these metrics at any time: their label names are those
        // `metric_labels` would ask for.
        let every = conjs.iter().all(Vec::is_empty) && lo_ms <= 1000 && hi_ms >= MAX_MS - 1;
        for conj in conjs.iter() {
            let mut ms = vec![self.db_matcher(db)];
            ms.extend(conj.iter().cloned());
            pairs.extend(selectors(metrics, &ms).into_iter().map(|s| ("match[]", s)));
        }
        pairs.push(("start", secs(lo_ms.max(1000))));
        pairs.push(("end", secs(hi_ms.saturating_add(1).min(MAX_MS))));
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Every label name these metrics use, also on series the pushed-down matchers left out,
        // so that `exact_selector` can pin the absent ones to "" (a superset is harmless). Label
        // names, not tag keys (see `labels`). Asked beside the series list (two round trips in
        // the time of one).
        if every {
            let raw: Vec<BTreeMap<String, String>> = self.catalog_api(memo, db, "/api/v1/series", &p).await?;
            let names: BTreeSet<&String> = raw.iter().flat_map(|l| l.keys()).collect();
            let names: Vec<String> = names.into_iter().cloned().collect();
            self.keep_labels_answer(memo, db, metrics, &names);
            Ok((raw, names))
        } else {
            futures::try_join!(self.catalog_api(memo, db, "/api/v1/series", &p), self.metric_labels(memo, db, metrics))
        }
    }

    /// In a statement's view, keeps the label names of a whole listing of these metrics (every
    /// series at any time) as `metric_labels`' answer, for the statement only (derived again
    /// when the listing is kept).
    fn keep_labels_answer(&self, memo: Option<&memo::Memo>, db: &str, metrics: &[String], names: &[String]) {
        if let Some(m) = memo {
            let answer = serde_json::json!({"status": "success", "data": names});
            m.keep_statement_raw(db, self.labels_request(db, metrics).0, Arc::new(answer.to_string().into_bytes()));
        }
    }

    /// In a statement's view, the whole listing of these metrics when it is complete (see
    /// [`listing`](mod@listing)).
    async fn listing_for(&self, memo: Option<&memo::Memo>, db: &str, metrics: &[String]) -> Result<Option<Arc<listing::Whole>>> {
        let Some(memo) = memo else { return Ok(None) };
        Ok(Some(self.whole_listing(memo, db, metrics).await?).filter(|w| w.complete()))
    }

    /// Whether a tag regex of `tags` may be pushed down to VictoriaMetrics for these metrics: the
    /// predicate has none, or a statement's complete whole listing of them holds no label value
    /// VictoriaMetrics' regexes misjudge (see [`selector`](mod@selector)).
    pub(super) async fn regex_pushable(&self, memo: Option<&memo::Memo>, db: &str, metrics: &[String], tags: &TagPredicate) -> Result<bool> {
        if !selector::has_regex(tags) {
            return Ok(true);
        }
        let Some(memo) = memo else { return Ok(false) };
        let mut sorted = metrics.to_vec();
        sorted.sort();
        sorted.dedup();
        Ok(self.whole_listing(memo, db, &sorted).await?.regex_exact())
    }

    /// `list_series`' answer from a whole listing: its series the predicate matches.
    fn filter_whole(&self, memo: Option<&memo::Memo>, db: &str, metrics: &[String], w: &listing::Whole, tags: &TagPredicate) -> (Vec<FoundSeries>, BTreeSet<String>) {
        self.keep_labels_answer(memo, db, metrics, &w.label_names);
        let label_names = w.label_names.iter().filter(|l| *l != "__name__" && **l != self.opts.db_label).cloned().collect();
        let mut by_tags: BTreeMap<Vec<(String, String)>, BTreeSet<String>> = BTreeMap::new();
        for (t, name) in &w.series {
            if tags.matches(t) {
                by_tags.entry(t.clone()).or_default().insert(name.clone());
            }
        }
        (by_tags.into_iter().collect(), label_names)
    }

    /// Every label name of these metrics' series in `db` (`__name__` and the db label included),
    /// at any time. The request is the same for the same set of metrics in any order, so that a
    /// statement's memo answers it once.
    async fn metric_labels(&self, memo: Option<&memo::Memo>, db: &str, metrics: &[String]) -> Result<Vec<String>> {
        let (_, sels) = self.labels_request(db, metrics);
        let end = secs(MAX_MS);
        self.catalog_api(memo, db, LABELS, &labels_pairs(&sels, &end)).await
    }

    /// `metric_labels`' memo key (as `catalog_api` makes it) and selectors.
    fn labels_request(&self, db: &str, metrics: &[String]) -> (String, Vec<String>) {
        let mut sorted = metrics.to_vec();
        sorted.sort();
        sorted.dedup();
        let sels = selectors(&sorted, &[self.db_matcher(db)]);
        let key = format!("{LABELS}?{}", form(&labels_pairs(&sels, &secs(MAX_MS))));
        (key, sels)
    }

    /// Selectors (united) matching exactly one series of `db` (given every label name the
    /// measurement uses) for these metrics.
    fn exact_selector(&self, db: &str, metrics: &[String], tags: &[(String, String)], all_labels: &BTreeSet<String>) -> Vec<String> {
        let mut ms = vec![self.db_matcher(db)];
        let mut named = BTreeSet::new();
        for (k, v) in tags {
            let label = self.labels.label_of(k).into_owned();
            named.insert(label.clone());
            ms.push(Matcher::Eq(label, v.clone()));
        }
        for l in all_labels.difference(&named) {
            ms.push(Matcher::Eq(l.clone(), String::new()));
        }
        selectors(metrics, &ms)
    }

    /// VictoriaMetrics' `-retentionPeriod` in ns (0 when unknown), read once from its `/metrics`.
    async fn retention(&self) -> i64 {
        if let Some(r) = *self.retention.lock().unwrap_or_else(|p| p.into_inner()) {
            return r;
        }
        match self.fetch_retention().await {
            Some(r) => {
                *self.retention.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                r
            }
            None => 0,
        }
    }

    /// `None` when VictoriaMetrics could not be asked (asked again next time); `Some(0)` when it
    /// answered without a readable flag.
    async fn fetch_retention(&self) -> Option<i64> {
        let rb = self.client.get(format!("{}/metrics", self.base)).timeout(self.opts.timeout);
        let resp = self.request(rb, "/metrics").await.ok()?;
        if !resp.status().is_success() {
            return Some(0);
        }
        let body = read_bounded(resp, 16 << 20, true, "/metrics", self.opts.timeout).await.ok()?;
        let text = String::from_utf8_lossy(&body);
        let flag = text.lines().find(|l| l.starts_with("flag{name=\"retentionPeriod\""));
        let v = flag.and_then(|l| l.split("value=\"").nth(1)).and_then(|v| v.split('"').next());
        Some(v.and_then(parse_retention).unwrap_or(0))
    }

    async fn delete_selectors(&self, sels: Vec<String>) -> Result<()> {
        for batch in sels.chunks(DELETE_BATCH) {
            let p: Vec<(&str, &str)> = batch.iter().map(|s| ("match[]", s.as_str())).collect();
            self.post_form("/api/v1/admin/tsdb/delete_series", &p).await?;
        }
        Ok(())
    }
}

const LABELS: &str = "/api/v1/labels";

/// The arguments of a `/api/v1/labels` request over these selectors, at any time up to `end`.
pub(super) fn labels_pairs<'a>(sels: &'a [String], end: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut p: Vec<(&str, &str)> = sels.iter().map(|s| ("match[]", s.as_str())).collect();
    p.extend([("start", "1"), ("end", end)]);
    p
}

/// Scan state shared by the streaming task.
struct ScanJob {
    inner: Arc<Inner>,
    db: String,
    metrics: Vec<String>,
    /// metric name → column (None: time only).
    col_of: HashMap<String, Option<usize>>,
    ncols: usize,
    series: Vec<FoundSeries>,
    all_labels: BTreeSet<String>,
    lo: i64,
    hi: i64,
}

/// One series' samples of a window in the order read: (time in ms, column (`None`: the time
/// only), value). Made into rows when sent (`ScanJob::emit`): a flat list costs no allocation
/// per sample, where a map of rows cost a node and a row per time.
type WindowRows = Vec<(i64, Option<u32>, f64)>;

impl ScanJob {
    /// Reads series in groups of `GROUP_SERIES` with one export each; a group (or window) holding
    /// too many samples is read again series by series, and a series' window split in halves.
    async fn run(self, tx: mpsc::Sender<Result<SeriesChunk>>) {
        let mut grouping = true;
        for group in self.series.chunks(GROUP_SERIES) {
            if grouping && group.len() > 1 {
                match self.window(group, self.lo, self.hi).await {
                    Ok(Some(all)) => {
                        for ((tags, _), rows) in group.iter().zip(all) {
                            if !self.emit(&tx, tags, rows).await {
                                return;
                            }
                        }
                        continue;
                    }
                    Ok(None) => {
                        self.inner.window_splits.fetch_add(1, Ordering::Relaxed);
                        grouping = false;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            for one in group.chunks(1) {
                let mut windows: VecDeque<(i64, i64)> = VecDeque::from([(self.lo, self.hi)]);
                while let Some((lo, hi)) = windows.pop_front() {
                    let rows = match self.window(one, lo, hi).await {
                        Ok(Some(mut all)) => all.pop().unwrap_or_default(),
                        Ok(None) => {
                            self.inner.window_splits.fetch_add(1, Ordering::Relaxed);
                            let mid = lo + (hi - lo) / 2;
                            windows.push_front((mid + 1, hi));
                            windows.push_front((lo, mid));
                            continue;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    };
                    if !self.emit(&tx, &one[0].0, rows).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends a series' samples as rows in time order, in chunks; false when the receiver is gone.
    /// Of samples of one column at one time, the last read is kept.
    async fn emit(&self, tx: &mpsc::Sender<Result<SeriesChunk>>, tags: &[(String, String)], mut rows: WindowRows) -> bool {
        // Stable: samples of one time keep the order read. Each metric's samples come sorted,
        // so this merges a few sorted runs.
        rows.sort_by_key(|s| s.0);
        let mut chunk = self.empty_chunk(tags);
        let mut i = 0;
        while i < rows.len() {
            let t = rows[i].0;
            chunk.times.push(t.saturating_mul(NS_PER_MS));
            for c in chunk.columns.iter_mut() {
                c.push(None);
            }
            while let Some(&(_, col, v)) = rows.get(i).filter(|s| s.0 == t) {
                if let Some(cell) = col.and_then(|c| chunk.columns.get_mut(c as usize)).and_then(|c| c.last_mut()) {
                    *cell = Some(FieldValue::Float(v));
                }
                i += 1;
            }
            if chunk.times.len() >= CHUNK_ROWS {
                let full = std::mem::replace(&mut chunk, self.empty_chunk(tags));
                if tx.send(Ok(full)).await.is_err() {
                    return false;
                }
            }
        }
        chunk.times.is_empty() || tx.send(Ok(chunk)).await.is_ok()
    }

    fn empty_chunk(&self, tags: &[(String, String)]) -> SeriesChunk {
        SeriesChunk { tags: tags.to_vec(), times: Vec::new(), columns: vec![Vec::new(); self.ncols] }
    }

    /// The rows of these series in `[lo, hi]` (ms), one export; `None` when they hold more than
    /// `max_window_samples` samples (and the window can still be narrowed or the group split).
    async fn window(&self, group: &[FoundSeries], lo: i64, hi: i64) -> Result<Option<Vec<WindowRows>>> {
        let start = secs((lo - 1).max(0));
        let end = secs(hi.saturating_add(1).min(MAX_MS));
        let rows_per_line = EXPORT_LINE_ROWS.to_string();
        let mut index: HashMap<&[(String, String)], usize> = HashMap::new();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (i, (tags, present)) in group.iter().enumerate() {
            let metrics: Vec<String> = self.metrics.iter().filter(|m| present.contains(*m)).cloned().collect();
            if metrics.is_empty() {
                continue;
            }
            index.insert(tags.as_slice(), i);
            pairs.extend(self.inner.exact_selector(&self.db, &metrics, tags, &self.all_labels).into_iter().map(|s| ("match[]", s)));
        }
        let mut out: Vec<WindowRows> = vec![Vec::new(); group.len()];
        if pairs.is_empty() {
            return Ok(Some(out));
        }
        pairs.push(("start", start));
        pairs.push(("end", end));
        pairs.push(("max_rows_per_line", rows_per_line));
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = self.inner.send("/api/v1/export", form(&p), "application/x-www-form-urlencoded", None).await?;
        let may_split = group.len() > 1 || lo < hi;
        let (mut samples, mut scratch) = (0usize, export::Samples::default());
        let whole = stream::each_line(resp, self.inner.opts.timeout, "/api/v1/export", |line| {
            samples += self.line(line, &index, (lo, hi), &mut out, &mut scratch)?;
            Ok(samples <= self.inner.opts.max_window_samples || !may_split)
        })
        .await?;
        Ok(whole.then_some(out))
    }

    /// Merges one export line into the rows of its series; returns the samples taken. `samples`
    /// is scratch kept between lines.
    fn line(
        &self,
        line: &[u8],
        index: &HashMap<&[(String, String)], usize>,
        (lo, hi): (i64, i64),
        out: &mut [WindowRows],
        samples: &mut export::Samples,
    ) -> Result<usize> {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(0);
        }
        let mut labels = export_line(line, samples)?;
        let Some(at) = labels.iter().position(|(k, _)| k == "__name__") else { return Ok(0) };
        let name = labels.swap_remove(at).1;
        let Some(col) = self.col_of.get(name.as_ref()).copied() else { return Ok(0) };
        let Some(tags) = self.inner.labels.tags_in_db(labels, &self.db) else { return Ok(0) };
        // Exactly one of the series asked for: same label set.
        let Some(&i) = index.get(tags.as_slice()) else { return Ok(0) };
        let rows = &mut out[i];
        let before = rows.len();
        let col = col.and_then(|c| u32::try_from(c).ok());
        let in_window = samples.timestamps.iter().zip(&samples.values).filter(|(t, _)| **t >= lo && **t <= hi);
        rows.extend(in_window.map(|(t, v)| (*t, col, *v)));
        Ok(rows.len() - before)
    }
}

#[async_trait]
impl Backend for VictoriaMetricsBackend {
    fn kind(&self) -> crate::backend::BackendKind {
        crate::backend::BackendKind::VictoriaMetrics
    }

    fn counters(&self) -> Vec<crate::backend::BackendCounter> {
        let c = |name, help, value| crate::backend::BackendCounter { name, help, value };
        let i = &self.inner;
        vec![
            c(
                "influxgate_vm_string_fields_dropped_total",
                "String field values dropped because VictoriaMetrics cannot store them (drop_string_fields).",
                i.strings_dropped.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_export_window_splits_total",
                "Export windows re-read in halves because they held too many samples.",
                i.window_splits.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_latest_windows_total",
                "last() requests without GROUP BY time answered from a recent window (VictoriaMetrics reads the series' last blocks).",
                i.latest_windows.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_latest_older_total",
                "Of those, the requests that also asked the older part for series without a sample in the window.",
                i.latest_older.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_flushes_total",
                "Flushes (/internal/force_flush) sent before a read that followed unflushed writes.",
                i.flushes.sent.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_catalog_requests_total",
                "Catalog requests (metric names, series, label names) sent to VictoriaMetrics.",
                i.catalog_requests.load(Ordering::Relaxed),
            ),
            c(
                "influxgate_vm_catalog_answers_reused_total",
                "Catalog answers (metric names, series, label names) taken from those kept between statements (catalog_ttl_ms).",
                i.shared.as_ref().map_or(0, |s| s.hits()),
            ),
            c(
                "influxgate_vm_forwarded_writes_total",
                "Write bodies sent to VictoriaMetrics as the client sent them (the others are re-encoded).",
                i.forwarded.load(Ordering::Relaxed),
            ),
        ]
    }

    fn capabilities(&self) -> Capabilities {
        use crate::backend::AggregateFn as F;
        Capabilities {
            // See `rollup`: each is exact or answers Unsupported (then the planner scans).
            aggregates: vec![F::Count, F::Sum, F::Mean, F::Min, F::Max, F::First, F::Last],
        }
    }

    async fn aggregate(&self, req: crate::backend::AggregateRequest) -> Result<Vec<crate::backend::AggregateSeries>> {
        rollup::aggregate(self, req).await
    }

    async fn aggregate_many(&self, reqs: Vec<crate::backend::AggregateRequest>) -> Vec<Result<Vec<crate::backend::AggregateSeries>>> {
        rollup::aggregate_many(self, reqs).await
    }

    async fn health(&self) -> Result<()> {
        let rb = self.inner.client.get(format!("{}/health", self.inner.base)).timeout(self.inner.opts.timeout);
        let resp = self.inner.request(rb, "/health").await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(BackendError::Unavailable(format!("victoriametrics /health: {}", resp.status())))
        }
    }

    async fn write(&self, batch: WriteBatch) -> Result<WriteOutcome> {
        self.forget();
        let db = batch.db.clone();
        let r = write::write(self, batch, None).await;
        self.inner.forget_shared(&db);
        r
    }

    async fn write_body(&self, batch: WriteBatch, body: super::RawBody) -> Result<WriteOutcome> {
        self.forget();
        let db = batch.db.clone();
        let r = write::write(self, batch, Some(body)).await;
        self.inner.forget_shared(&db);
        r
    }

    fn statement_view(&self) -> Option<Box<dyn Backend>> {
        if self.memo.is_some() {
            return None;
        }
        let memo = memo::Memo::new(self.inner.opts.statement_memo_bytes, self.inner.shared.clone());
        Some(Box::new(VictoriaMetricsBackend { inner: self.inner.clone(), memo: Some(memo) }))
    }

    async fn create_database(&self, db: &str) -> Result<()> {
        if db.is_empty() {
            return Err(BackendError::Invalid("database name required".into()));
        }
        self.forget();
        let r = self.inner.update_catalog(|c| c.databases.insert(db.to_string()));
        self.inner.forget_shared(db);
        r
    }

    async fn drop_database(&self, db: &str) -> Result<()> {
        if db.is_empty() {
            return Err(BackendError::Invalid("database name required".into()));
        }
        self.forget();
        let r = self.drop_database_series(db).await;
        self.inner.forget_shared(db);
        r
    }

    async fn databases(&self) -> Result<Vec<String>> {
        let end = secs(MAX_MS);
        let path = format!("/api/v1/label/{}/values", self.inner.opts.db_label);
        let mut v: BTreeSet<String> = self
            .inner
            .catalog_api::<Vec<String>>(self.memo(), "", &path, &[("start", "1"), ("end", &end)])
            .await?
            .into_iter()
            .collect();
        v.extend(self.inner.catalog().databases.iter().cloned());
        v.remove("");
        Ok(v.into_iter().collect())
    }

    async fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>> {
        // A database in the catalog is one `databases` lists: no need to ask VictoriaMetrics.
        let known = self.inner.catalog().databases.contains(db);
        if !known && !self.databases().await?.iter().any(|d| d == db) {
            return Err(BackendError::DatabaseNotFound(db.to_string()));
        }
        let d = self.inner.retention().await;
        Ok(vec![RetentionPolicy {
            name: "autogen".into(),
            duration: d,
            shard_group_duration: crate::rules::shards::default_duration(d),
            replication: 1,
            default: true,
        }])
    }

    async fn create_retention_policy(&self, _db: &str, _rp: RetentionPolicy) -> Result<()> {
        Err(rp_unsupported())
    }

    async fn alter_retention_policy(&self, _db: &str, _name: &str, _update: RetentionPolicyUpdate) -> Result<()> {
        Err(rp_unsupported())
    }

    async fn drop_retention_policy(&self, _db: &str, _name: &str) -> Result<()> {
        Err(rp_unsupported())
    }

    async fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurements: &MeasurementFilter,
        tags: &TagPredicate,
    ) -> Result<Vec<SeriesInfo>> {
        self.inner.check_rp(rp)?;
        let groups = self.measurement_groups(db, measurements).await?;
        let mut out = Vec::new();
        for (m, metrics) in groups {
            let (series, _) = self.inner.list_series(self.memo(), db, &metrics, tags, 0, MAX_MS).await?;
            out.extend(series.into_iter().map(|(t, _)| SeriesInfo { measurement: m.clone(), tags: t }));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn measurements(&self, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
        self.inner.check_rp(rp)?;
        let names = self.inner.metric_names(self.memo(), db, None).await?;
        if names.is_empty() && !self.inner.catalog().databases.contains(db) {
            return Err(BackendError::DatabaseNotFound(db.to_string()));
        }
        let cat = self.inner.catalog();
        let set: BTreeSet<String> =
            names.iter().map(|n| cat.split(db, n, &self.inner.opts.separator).0).collect();
        Ok(set.into_iter().collect())
    }

    async fn field_keys(&self, db: &str, rp: Option<&str>, measurement: &str) -> Result<Vec<(String, FieldType)>> {
        self.inner.check_rp(rp)?;
        Ok(self.inner.field_metrics(self.memo(), db, measurement).await?.into_keys().map(|f| (f, FieldType::Float)).collect())
    }

    /// An empty `fields` list reads the times of every row of the measurement.
    async fn scan(&self, req: ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
        let inner = &self.inner;
        inner.check_rp(req.rp.as_deref())?;
        let lo = ceil_div(req.min_time, NS_PER_MS).max(0);
        let hi = req.max_time.div_euclid(NS_PER_MS).min(MAX_MS);
        if lo > hi {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let fmap = inner.field_metrics(self.memo(), &req.db, &req.measurement).await?;
        let mut metrics = Vec::new();
        let mut col_of: HashMap<String, Option<usize>> = HashMap::new();
        if req.fields.is_empty() {
            for m in fmap.values() {
                metrics.push(m.clone());
                col_of.insert(m.clone(), None);
            }
        } else {
            for (i, f) in req.fields.iter().enumerate() {
                if let Some(m) = fmap.get(f) {
                    if !col_of.contains_key(m) {
                        metrics.push(m.clone());
                    }
                    col_of.insert(m.clone(), Some(i));
                }
            }
        }
        if metrics.is_empty() {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let (series, all_labels) = inner.list_series(self.memo(), &req.db, &metrics, &req.tags, lo, hi).await?;
        if series.is_empty() {
            return Ok(Box::pin(futures::stream::empty()));
        }
        // A field listed twice gets the column of its last mention from col_of; fill the others too.
        let dup_fields = req.fields.len() != col_of.len() && !req.fields.is_empty();
        let job = ScanJob {
            inner: inner.clone(),
            db: req.db.clone(),
            metrics,
            col_of,
            ncols: req.fields.len(),
            series,
            all_labels,
            lo,
            hi,
        };
        let (tx, rx) = mpsc::channel::<Result<SeriesChunk>>(4);
        tokio::spawn(job.run(tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
        // The export API reads ascending and whole: order and limit are applied here
        // (`backend::ordered`; descending keeps the last `limit` points of each series).
        if dup_fields {
            let fields = req.fields.clone();
            let filled = futures::StreamExt::map(stream, move |r| r.map(|c| fill_duplicates(c, &fields)));
            return crate::backend::ordered::emulate(Box::pin(filled), &req);
        }
        crate::backend::ordered::emulate(Box::pin(stream), &req)
    }

    async fn delete(&self, req: DeleteRequest) -> Result<()> {
        if req.min_time != i64::MIN || req.max_time != i64::MAX {
            return Err(BackendError::Unsupported(
                "DELETE with a time range is not supported by the victoriametrics backend".into(),
            ));
        }
        self.forget();
        let db = req.db.clone();
        // What is deleted is read from VictoriaMetrics, not from answers kept before.
        self.inner.forget_shared(&db);
        let r = self.delete_series(req).await;
        self.inner.forget_shared(&db);
        r
    }
}

impl VictoriaMetricsBackend {
    /// `delete` once its request is known to be one VictoriaMetrics can do.
    async fn delete_series(&self, req: DeleteRequest) -> Result<()> {
        if !self.databases().await?.iter().any(|d| d == &req.db) {
            return Err(BackendError::DatabaseNotFound(req.db.clone()));
        }
        let groups = self.measurement_groups(&req.db, &req.measurements).await?;
        let mut sels = Vec::new();
        let mut touched = BTreeSet::new();
        for (_, metrics) in groups {
            let (series, all_labels) = self.inner.list_series(None, &req.db, &metrics, &req.tags, 0, MAX_MS).await?;
            for (tags, present) in series {
                let ms: Vec<String> = present.into_iter().collect();
                sels.extend(self.inner.exact_selector(&req.db, &ms, &tags, &all_labels));
                touched.extend(ms);
            }
        }
        self.inner.delete_selectors(sels).await?;
        self.inner.tracker.forget(&req.db);
        self.inner.note_deleted(&req.db, touched)
    }
}

fn rp_unsupported() -> BackendError {
    BackendError::Unsupported("retention policies are not supported by the victoriametrics backend".into())
}

/// Columns of fields asked for more than once: copy the filled column to the empty ones.
fn fill_duplicates(mut c: SeriesChunk, fields: &[String]) -> SeriesChunk {
    for i in 0..fields.len() {
        if let Some(j) = (0..fields.len()).find(|&j| j != i && fields[j] == fields[i] && c.columns[j].iter().any(|v| v.is_some())) {
            if c.columns[i].iter().all(|v| v.is_none()) {
                c.columns[i] = c.columns[j].clone();
            }
        }
    }
    c
}

impl VictoriaMetricsBackend {
    /// The statement's memo, in a statement's view.
    fn memo(&self) -> Option<&memo::Memo> {
        self.memo.as_ref()
    }

    /// `drop_database` once the name is checked.
    async fn drop_database_series(&self, db: &str) -> Result<()> {
        let names = self.inner.metric_names(None, db, None).await?;
        let sel = selector(&[self.inner.db_matcher(db)]);
        self.inner.delete_selectors(vec![sel]).await?;
        self.inner.tracker.forget(db);
        self.inner.note_deleted(db, names)?;
        self.inner.update_catalog(|c| {
            let a = c.databases.remove(db);
            let b = c.measurements.remove(db).is_some();
            a || b
        })
    }

    /// Empties the statement's memo (a write, delete or DDL).
    fn forget(&self) {
        if let Some(m) = &self.memo {
            m.clear();
        }
    }

    fn check_write_rp(&self, rp: Option<&str>) -> Result<()> {
        self.inner.check_rp(rp)
    }

    /// Measurement → its metric names, for the measurements a filter selects, sorted.
    async fn measurement_groups(&self, db: &str, filter: &MeasurementFilter) -> Result<Vec<(String, Vec<String>)>> {
        let names = match filter {
            MeasurementFilter::Names(ns) if ns.len() == 1 => self.inner.metric_names(self.memo(), db, Some(&ns[0])).await?,
            _ => self.inner.metric_names(self.memo(), db, None).await?,
        };
        let cat = self.inner.catalog();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for n in names {
            let (m, _) = cat.split(db, &n, &self.inner.opts.separator);
            if filter.matches(&m) {
                groups.entry(m).or_default().push(n);
            }
        }
        Ok(groups.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_args() {
        assert_eq!(secs(1704067201123), "1704067201.123");
        assert_eq!(secs(5), "0.005");
        assert_eq!(ceil_div(1_500_000, NS_PER_MS), 2);
        assert_eq!(ceil_div(-1_500_000, NS_PER_MS), -1);
        assert_eq!(ceil_div(2_000_000, NS_PER_MS), 2);
    }

    #[test]
    fn retention_flag() {
        assert_eq!(parse_retention("1"), Some(31 * 24 * 3_600_000_000_000));
        assert_eq!(parse_retention("100y"), Some(100 * 365 * 24 * 3_600_000_000_000));
        assert_eq!(parse_retention("2w"), Some(14 * 24 * 3_600_000_000_000));
        assert_eq!(parse_retention("x"), None);
    }

    #[test]
    fn bad_export_line_is_the_stores_fault() {
        let mut samples = export::Samples::default();
        let labels = export_line(br#"{"metric":{"__name__":"m_v"},"values":[+Inf],"timestamps":[1]}"#, &mut samples).unwrap();
        assert_eq!((labels.len(), samples.values[0]), (1, f64::INFINITY));
        match export_line(b"{\"metric\":{", &mut samples) {
            Err(BackendError::Internal(m)) => assert!(m.starts_with("victoriametrics /api/v1/export: bad line: "), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_url() {
        assert!(VictoriaMetricsBackend::new("localhost:8428", VmOptions::default()).is_err());
        assert!(VictoriaMetricsBackend::new("ftp://127.0.0.1:8428", VmOptions::default()).is_err());
        // https:// is a store behind TLS (backend::tls).
        assert!(VictoriaMetricsBackend::new("https://127.0.0.1:8428", VmOptions::default()).is_ok());
        let no_sep = VmOptions { separator: String::new(), ..VmOptions::default() };
        assert!(VictoriaMetricsBackend::new("http://127.0.0.1:8428", no_sep).is_err());
        assert!(VictoriaMetricsBackend::new("http://127.0.0.1:8428/", VmOptions::default()).is_ok());
    }
}
