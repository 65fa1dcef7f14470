//! The HTTP server: a hyper service routing the InfluxDB 1.x endpoints, with auth, limits,
//! request ids, one log line per request and graceful shutdown. Connections (their cap, idle and
//! send timeouts) are kept by [`conn`], request limits by [`limits`], and what a request over its
//! token's rates gets by [`throttle`].
//!
//! Endpoints: `POST /write`, `GET|POST /query` (token required); `GET|HEAD /ping`,
//! `GET|HEAD /health`, `GET /metrics` (no token). Use from tests:
//! `Server::bind(config, backend, tokens).await?` then `local_addr()` and `serve(shutdown)`;
//! the binary uses [`run`].

pub mod access;
pub mod access_log;
pub mod auth;
pub mod body;
pub mod conn;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod ping;
pub mod query;
pub mod query_pool;
pub mod redact;
pub mod reload;
pub mod send_watch;
pub mod settle;
pub mod throttle;
pub mod tls;
pub mod write;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};
use hyper::body::Incoming;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::backend::SharedBackend;
use crate::config::Config;

use auth::{Identity, TokenStore};
use conn::Connections;
use error::ServerError;
use limits::{InflightGuard, Limits};
use metrics::Metrics;

/// The version reported in `X-Influxdb-Version`: a 1.x version clients accept, marked as ours.
pub const INFLUXDB_VERSION: &str = "1.6.7-influxgate";
pub const INFLUXDB_BUILD: &str = "OSS";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Response body: a boxed body so handlers may stream (chunked query results) or answer at once.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed_unsync()
}

pub fn empty() -> Body {
    Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let text = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(full(text));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Everything a handler needs, shared by all connections.
pub struct State {
    pub config: Config,
    pub backend: SharedBackend,
    /// The tokens and their limiters in effect (replaced by a configuration reload).
    pub access: access::Current,
    pub limits: Limits,
    pub metrics: Metrics,
    /// Where queries run, and the queries running.
    pub queries: query_pool::QueryPool,
    /// The engine's settings, from `[query]`.
    pub query_settings: crate::query::settings::Settings,
    /// The write spool in front of a remote store (`None`: embedded store, or `spool.enabled`
    /// off).
    pub spool: Option<Arc<crate::spool::Spool>>,
}

impl State {
    pub fn new(config: Config, backend: SharedBackend, tokens: TokenStore) -> std::io::Result<State> {
        let limits = Limits::new(&config.limits);
        let access = access::Current::new(access::Access::new(&config.limits, tokens, None));
        let queries = query_pool::QueryPool::new(&config.query)?;
        let query_settings = crate::query::settings::Settings::from_config(&config.query);
        Ok(State { config, backend, access, limits, metrics: Metrics::default(), queries, query_settings, spool: None })
    }

    /// The configured bound on a backend call.
    pub fn backend_timeout(&self) -> Option<Duration> {
        u64::try_from(self.config.backend.timeout).ok().filter(|n| *n > 0).map(Duration::from_nanos)
    }

    /// Runs a backend call under the configured timeout; a timeout becomes `BackendError::Timeout`,
    /// failures are counted.
    pub async fn backend_call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = crate::backend::Result<T>>,
    ) -> Result<T, ServerError> {
        let res = match self.backend_timeout() {
            Some(d) => match tokio::time::timeout(d, fut).await {
                Ok(r) => r,
                Err(_) => Err(crate::backend::BackendError::Timeout(format!(
                    "{what} did not finish within {}s",
                    d.as_secs_f64()
                ))),
            },
            None => fut.await,
        };
        res.map_err(|e| {
            if e.origin() != crate::backend::Origin::Downstream {
                Metrics::add(&self.metrics.backend_errors, 1);
            }
            ServerError::Backend(e)
        })
    }

    /// Counts a store failure (not the client's fault) in `/metrics`, passing the result on.
    pub fn count_backend_error<T>(&self, r: Result<T, ServerError>) -> Result<T, ServerError> {
        if let Err(ServerError::Backend(e)) = &r {
            if e.origin() != crate::backend::Origin::Downstream {
                Metrics::add(&self.metrics.backend_errors, 1);
            }
        }
        r
    }

    /// Authenticates a request (403 / 401) and applies its token's request rate at once (429 or
    /// 503, see [`throttle`]) unless the token holds requests over its rates (`on_limit =
    /// "delay"`: then [`State::hold`] applies it). A request is authorized once: later calls for
    /// it return the same identity.
    pub fn authorize(&self, headers: &HeaderMap, query: Option<&str>, ctx: &mut Ctx) -> Result<Identity, ServerError> {
        if let Some(who) = &ctx.identity {
            return Ok(who.clone());
        }
        let who = self.access.get().identify(headers, query)?;
        ctx.token_name = Some(who.name().to_string());
        let policy = self.limits.policy(&who, headers);
        if !policy.delays() {
            self.limits.check_request(&who, &policy).map_err(|e| self.count_refusal(e))?;
        }
        ctx.policy = policy;
        ctx.identity = Some(who.clone());
        Ok(who)
    }

    /// Authorizes a request and takes its in-flight slots (its token's, then the global one).
    fn admit<B>(&self, req: &Request<B>, ctx: &mut Ctx) -> Result<InflightGuard, ServerError> {
        let who = self.authorize(req.headers(), req.uri().query(), ctx)?;
        self.limits.enter(&who)
    }

    /// Applies the token's rates to a request whose token holds requests over them (`on_limit =
    /// "delay"`): reserves one request, and `bytes` body bytes for a write, and waits until they
    /// are due; refused (429 or 503, by sender) when that is more than `max_delay` away. A write
    /// is held once its body is read, a query once it has its in-flight slots: it keeps them
    /// while held (see [`throttle`] for the bounds).
    pub async fn hold(&self, who: &Identity, policy: &throttle::Policy, bytes: Option<u64>) -> Result<(), ServerError> {
        let wait = self.limits.reserve(who, bytes, policy).map_err(|e| self.count_refusal(e))?;
        if !wait.is_zero() {
            Metrics::add(&self.metrics.throttle_held, 1);
            Metrics::add(&self.metrics.throttle_held_ns, u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Applies the token's write byte rate to `n` decompressed body bytes: at once, or held with
    /// the request's own rate ([`State::hold`]).
    pub async fn write_rate(&self, who: &Identity, policy: &throttle::Policy, n: u64) -> Result<(), ServerError> {
        if policy.delays() {
            return self.hold(who, policy, Some(n)).await;
        }
        self.limits.check_write_bytes(who, n, policy).map_err(|e| self.count_refusal(e))
    }

    /// Counts a refusal for a token's rates answered 503 (a 429 is counted by its status).
    fn count_refusal(&self, e: ServerError) -> ServerError {
        if e.status() == StatusCode::SERVICE_UNAVAILABLE {
            Metrics::add(&self.metrics.throttle_unavailable, 1);
        }
        e
    }
}

/// Per-request facts gathered while handling it (for the log line and response headers).
#[derive(Debug, Default)]
pub struct Ctx {
    pub request_id: String,
    pub token_name: Option<String>,
    /// Set by /query: the `Trace-Id` to answer with.
    pub trace_id: Option<String>,
    /// The caller, once authorized.
    pub identity: Option<Identity>,
    /// What the request gets when over its token's rates, once authorized.
    pub policy: throttle::Policy,
    /// Points a /write wrote.
    pub points: u64,
    /// Statements of a /query.
    pub statements: usize,
    /// A /query's statements (passwords redacted, bounded) for the slow-query log.
    pub query_text: Option<String>,
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A new request id, shaped like a UUID (as 1.x's are).
pub fn new_request_id() -> String {
    let h = random_hex(16);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    ["request-id", "x-request-id"].iter().find_map(|name| {
        let v = headers.get(*name)?.to_str().ok()?.trim();
        let ok = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| v.to_string())
    })
}

fn endpoint_name(path: &str) -> &'static str {
    match path {
        "/write" => "write",
        "/query" => "query",
        "/ping" => "ping",
        "/health" => "health",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// Handles one request: routing, common headers, metrics, the log line (written when the answer
/// is sent whole, see [`access_log`]).
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let logged_path = redact::path_and_query(&path, req.uri().query(), access_log::PATH_MAX);
    let endpoint = endpoint_name(&path);
    let mut ctx = Ctx {
        request_id: incoming_request_id(req.headers()).unwrap_or_else(new_request_id),
        ..Ctx::default()
    };

    let result = route(&state, req, &mut ctx, endpoint).await;
    let mut resp = result.unwrap_or_else(ServerError::into_response);

    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_TYPE) {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    h.insert("X-Influxdb-Version", HeaderValue::from_static(INFLUXDB_VERSION));
    h.insert("X-Influxdb-Build", HeaderValue::from_static(INFLUXDB_BUILD));
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        h.insert("Request-Id", v.clone());
        h.insert("X-Request-Id", v);
    }
    if let Some(t) = ctx.trace_id.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
        h.insert("Trace-Id", t);
    }

    let status = resp.status();
    state.metrics.observe(endpoint, status.as_u16(), start.elapsed());
    let slow_after = limits::config_duration(state.config.log.slow_query_threshold);
    let record = access_log::Record {
        request_id: ctx.request_id,
        token: ctx.token_name,
        method: method.to_string(),
        path: logged_path,
        status: status.as_u16(),
        start,
        points: ctx.points,
        statements: ctx.statements,
        query_text: ctx.query_text,
        slow_after: Some(slow_after).filter(|d| !d.is_zero()),
    };
    resp.map(|body| access_log::Logged::wrap(body, record))
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    ctx: &mut Ctx,
    endpoint: &'static str,
) -> Result<Response<Body>, ServerError> {
    let m = req.method().clone();
    match endpoint {
        "ping" => match m {
            Method::GET | Method::HEAD => Ok(ping::ping(&req)),
            _ => Err(ServerError::MethodNotAllowed { allow: "GET, HEAD" }),
        },
        "health" => match m {
            Method::GET | Method::HEAD => Ok(ping::health(state).await),
            _ => Err(ServerError::MethodNotAllowed { allow: "GET, HEAD" }),
        },
        "metrics" => match m {
            Method::GET => {
                let mut text = state.metrics.render(state.limits.inflight(), state.limits.buffered(), &state.backend.counters());
                if let Some(spool) = &state.spool {
                    spool.render_metrics(&mut text);
                }
                let mut r = Response::new(full(text));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
                Ok(r)
            }
            _ => Err(ServerError::MethodNotAllowed { allow: "GET" }),
        },
        "write" => match m {
            Method::POST => {
                let _guard = state.admit(&req, ctx)?;
                write::handle(state, req, ctx).await
            }
            Method::OPTIONS => Ok(no_content()),
            _ => Err(ServerError::MethodNotAllowed { allow: "OPTIONS, POST" }),
        },
        "query" => match m {
            Method::GET | Method::POST => {
                ctx.trace_id = Some(query::trace_id(req.headers()));
                let guard = state.admit(&req, ctx)?;
                if let Some(who) = ctx.identity.clone().filter(|_| ctx.policy.delays()) {
                    state.hold(&who, &ctx.policy, None).await?;
                }
                query::handle(state, req, ctx, guard).await
            }
            Method::OPTIONS => Ok(no_content()),
            _ => Err(ServerError::MethodNotAllowed { allow: "OPTIONS, GET, POST" }),
        },
        _ => Err(ServerError::NotFound),
    }
}

pub fn no_content() -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// A bound, not yet serving, server.
pub struct Server {
    listener: TcpListener,
    state: Arc<State>,
    conns: Arc<Connections>,
    tls: Option<Arc<tls::Tls>>,
}

impl Server {
    pub async fn bind(config: Config, backend: SharedBackend, tokens: TokenStore) -> std::io::Result<Server> {
        Server::bind_with_spool(config, backend, tokens, None).await
    }

    /// [`Server::bind`] with a write spool in front of the store.
    pub async fn bind_with_spool(
        config: Config,
        backend: SharedBackend,
        tokens: TokenStore,
        spool: Option<Arc<crate::spool::Spool>>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(config.listen).await?;
        let open_files = conn::open_file_limit();
        let conns = Connections::new(&config.limits, open_files);
        tracing::info!(
            cap = conns.cap(),
            max_connections = config.limits.max_connections,
            open_file_limit = open_files.map_or_else(|| "unknown".to_string(), |n| n.to_string()),
            "open connections capped at {}",
            conns.cap()
        );
        let state = State { spool, ..State::new(config, backend, tokens)? };
        Ok(Server { listener, state: Arc::new(state), conns, tls: None })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves HTTPS with `tls` (see [`tls::Tls::from_config`]), reloading its certificate while
    /// serving.
    pub fn with_tls(self, tls: Option<Arc<tls::Tls>>) -> Server {
        Server { tls, ..self }
    }

    /// Serves until `shutdown` completes, then closes the listener (a new connection is refused),
    /// lets requests in progress finish for up to `server.shutdown_timeout` and returns; requests
    /// still running then are cut when the caller drops the runtime.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let Server { listener, state, conns, tls } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let mut shutdown = std::pin::pin!(shutdown);
        let reloader = tls.as_ref().map(|t| t.spawn_reloader(state.clone()));
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Some(slot) = conns.admit() else {
                // A plain-text 503 would be garbage to a TLS client: over TLS it is just closed.
                if tls.is_none() {
                    conns.reject(stream);
                }
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (state, conns, stop_rx, done) = (state.clone(), conns.clone(), stop_rx.clone(), done_tx.clone());
            let tls = tls.clone();
            tokio::spawn(async move {
                conns.serve(stream, peer, state, slot, stop_rx, tls).await;
                drop(done);
            });
        }
        if let Some(r) = reloader {
            r.abort();
        }
        drop(listener);
        let deadline = limits::config_duration(state.config.server.shutdown_timeout);
        tracing::info!("shutting down: no new connections; finishing requests in progress (up to {deadline:?})");
        let _ = stop_tx.send(true);
        drop(done_tx);
        if tokio::time::timeout(deadline, done_rx.recv()).await.is_err() {
            tracing::warn!("requests still in progress after {deadline:?} (server.shutdown_timeout); cutting them");
        } else {
            tracing::info!("all connections closed");
        }
        Ok(())
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Backend(String),
    #[error("{0}")]
    Tokens(#[from] auth::TokenSetupError),
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the backend named by the config.
pub fn open_backend(config: &Config) -> Result<SharedBackend, StartError> {
    Ok(open_store(config)?.0)
}

/// The backend named by the config, and what the write spool needs of it when it is remote.
fn open_store(config: &Config) -> Result<(SharedBackend, Option<Arc<dyn crate::spool::Remote>>), StartError> {
    use crate::backend::BackendKind;
    match config.backend.kind {
        BackendKind::Embedded => Ok((open_embedded(config)?, None)),
        BackendKind::VictoriaMetrics => {
            let vm = open_victoriametrics(config)?;
            Ok((vm.clone(), Some(vm)))
        }
        BackendKind::ClickHouse => {
            let ch = open_clickhouse(config)?;
            Ok((ch.clone(), Some(ch)))
        }
        // Not spooled: a failing upstream answers 503 with Retry-After (`backend::influxdb`).
        BackendKind::InfluxDb => Ok((open_influxdb(config)?, None)),
    }
}

/// The write spool, in front of a remote store when `spool.enabled` (see `crate::spool`).
fn open_spool(
    config: &Config,
    backend: &SharedBackend,
    remote: Option<Arc<dyn crate::spool::Remote>>,
) -> Result<Option<Arc<crate::spool::Spool>>, StartError> {
    let Some(remote) = remote.filter(|_| config.spool.enabled) else { return Ok(None) };
    let settings = crate::spool::Settings::from_config(config);
    let dir = settings.dir.clone();
    crate::spool::Spool::open(settings, backend.clone(), Some(remote))
        .map(Some)
        .map_err(|e| StartError::Backend(format!("cannot open the write spool in {}: {e}", dir.display())))
}

fn cardinality_limits(config: &Config) -> crate::backend::CardinalityLimits {
    crate::backend::CardinalityLimits {
        max_series_per_database: config.limits.max_series_per_database,
        max_values_per_tag: config.limits.max_values_per_tag,
    }
}

/// `backend.url` (or `--backend-url`), which every remote store needs.
fn store_url<'a>(config: &'a Config, store: &str) -> Result<&'a str, StartError> {
    config.backend.url.as_deref().ok_or_else(|| StartError::Backend(format!("backend {store} needs --backend-url (or backend.url)")))
}

/// `backend.timeout` when set (> 0); `None` leaves each store its own default.
fn store_timeout(config: &Config) -> Option<Duration> {
    u64::try_from(config.backend.timeout).ok().filter(|n| *n > 0).map(Duration::from_nanos)
}

fn open_victoriametrics(config: &Config) -> Result<Arc<crate::backend::victoriametrics::VictoriaMetricsBackend>, StartError> {
    use crate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
    let url = store_url(config, "victoriametrics")?;
    let vm = &config.backend.victoriametrics;
    let timeout = store_timeout(config);
    let opts = VmOptions {
        timeout: timeout.unwrap_or(VmOptions::default().timeout),
        separator: vm.measurement_field_separator.clone(),
        drop_string_fields: vm.drop_string_fields,
        db_label: vm.db_label.clone(),
        catalog_file: Some(config.data_dir.join("victoriametrics-catalog.json")),
        flush_after_write: vm.flush_after_write,
        compress_answers: vm.compress_answers,
        catalog_ttl: Duration::from_millis(vm.catalog_ttl_ms),
        catalog_max_bytes: vm.catalog_max_bytes,
        statement_memo_bytes: vm.statement_memo_bytes,
        last_window_ms: vm.last_window_ms,
        cardinality: cardinality_limits(config),
        tls: crate::backend::tls::StoreTls::from_config(&config.backend),
        ..VmOptions::default()
    };
    if let Err(e) = std::fs::create_dir_all(&config.data_dir) {
        return Err(StartError::Backend(format!("cannot create {}: {e}", config.data_dir.display())));
    }
    let b = VictoriaMetricsBackend::new(url, opts)
        .map_err(|e| StartError::Backend(format!("cannot use VictoriaMetrics at {url}: {e}")))?;
    Ok(Arc::new(b))
}

fn open_clickhouse(config: &Config) -> Result<Arc<crate::backend::clickhouse::ClickHouseBackend>, StartError> {
    use crate::backend::clickhouse::{ClickHouseBackend, ClickHouseOptions};
    let url = store_url(config, "clickhouse")?;
    let ch = &config.backend.clickhouse;
    let defaults = ClickHouseOptions::default();
    let timeout = store_timeout(config);
    let opts = ClickHouseOptions {
        cluster: Some(ch.cluster.clone()).filter(|c| !c.is_empty()),
        user: ch.user.clone(),
        password: ch.password.clone(),
        database_prefix: ch.database_prefix.clone(),
        timeout: timeout.unwrap_or(defaults.timeout),
        mutation_timeout: Duration::from_nanos(ch.mutation_timeout.max(1) as u64),
        insert_quorum: ch.insert_quorum,
        zookeeper_path: ch.zookeeper_path.clone(),
        default_retention: config.backend.default_retention,
        retention_check_interval: config.backend.retention_check_interval,
        cardinality: cardinality_limits(config),
        tls: crate::backend::tls::StoreTls::from_config(&config.backend),
        groups: crate::backend::clickhouse::group::GroupOptions {
            linger: Duration::from_nanos(ch.insert_linger.max(0) as u64),
            max_bytes: ch.max_insert_bytes,
        },
        listing_ttl: Duration::from_millis(ch.listing_ttl_ms),
        listing_max_bytes: ch.listing_max_bytes,
        single_thread_series: ch.single_thread_series,
    };
    let b = ClickHouseBackend::new(url, opts)
        .map_err(|e| StartError::Backend(format!("cannot use ClickHouse at {url}: {e}")))?;
    Ok(Arc::new(b))
}

fn open_influxdb(config: &Config) -> Result<SharedBackend, StartError> {
    use crate::backend::influxdb::{InfluxDbBackend, InfluxDbOptions};
    let url = store_url(config, "influxdb")?;
    let ix = &config.backend.influxdb;
    let nanos = |ns: i64| Duration::from_nanos(u64::try_from(ns).unwrap_or(0).max(1));
    let opts = InfluxDbOptions {
        user: ix.user.clone(),
        password: ix.password.clone(),
        connect_timeout: nanos(ix.connect_timeout),
        timeout: store_timeout(config).unwrap_or(Duration::from_secs(30)),
        default_retention: config.backend.default_retention,
        max_answer_bytes: usize::try_from(ix.max_answer_bytes).unwrap_or(usize::MAX),
        tls: crate::backend::tls::StoreTls::from_config(&config.backend),
    };
    let b = InfluxDbBackend::new(url, opts).map_err(|e| StartError::Backend(format!("cannot use InfluxDB at {url}: {e}")))?;
    Ok(Arc::new(b))
}

fn open_embedded(config: &Config) -> Result<SharedBackend, StartError> {
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    let opts = EmbeddedOptions {
        default_retention: config.backend.default_retention,
        sync_full: config.backend.sync == "full",
        retention_check_interval: config.backend.retention_check_interval,
        cardinality: cardinality_limits(config),
        wal_max_bytes: config.backend.wal_max_bytes,
    };
    let b = EmbeddedBackend::open(&config.data_dir, opts)
        .map_err(|e| StartError::Backend(format!("cannot open the embedded store in {}: {e}", config.data_dir.display())))?;
    Ok(Arc::new(b))
}

/// Runs the server until SIGINT/SIGTERM: opens the backend, sets up tokens (generating and
/// printing an admin token on first start when none is configured), binds, prints
/// `listening on ADDR` to stdout, serves.
pub async fn run(config: Config, source: reload::Source) -> Result<(), StartError> {
    conn::raise_open_file_limit();
    let (tokens, generated) = TokenStore::setup(&config, source.admin_token.as_deref())?;
    if let Some(token) = generated {
        eprintln!(
            "\n=====================================================================\n\
             No tokens are configured, so an admin token was generated.\n\
             It is shown only this once; only its SHA-256 hash was stored in\n\
             {}\n\n    {token}\n\n\
             Use it as `Authorization: Token <token>`. Create more tokens with\n\
             `influxgate token create`; delete that file to generate a new one.\n\
             =====================================================================\n",
            auth::admin_hash_path(&config.data_dir).display()
        );
    }
    let tls = tls::Tls::from_config(&config.tls)?;
    let (backend, remote) = open_store(&config)?;
    let spool = open_spool(&config, &backend, remote)?;
    let addr = config.listen;
    let server = Server::bind_with_spool(config, backend, tokens, spool)
        .await
        .map_err(|source| StartError::Listen { addr, source })?
        .with_tls(tls);
    let local = server.local_addr()?;
    let state = server.state();
    let reloader = reload::spawn(state.clone(), source);
    println!("listening on {local}");
    tracing::info!(%local, https = server.tls.is_some(), "influxgate listening");
    server.serve(shutdown_signal()).await?;
    reloader.abort();
    if let Some(spool) = &state.spool {
        spool.close().await;
    }
    // Close the store (flush, stop its threads) before returning, unless a request cut at the
    // deadline still holds it: then it closes when the runtime drops that request.
    drop(state);
    tracing::info!("stopped");
    Ok(())
}
