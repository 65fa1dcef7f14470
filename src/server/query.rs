//! `GET|POST /query`: request parsing (parameters, auth, `Accept`, trace id). Execution is one
//! function, [`execute`], where the query engine and encoders plug in.
//!
//! Per-statement authorization (read permission on the database, admin for management
//! statements) belongs to the engine: it gets the caller's [`Identity`] in [`QueryRequest`].

use std::sync::Arc;

use std::collections::HashMap;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::auth::Identity;
use super::body::read_limited;
use super::error::ServerError;
use super::limits::InflightGuard;
use super::query_pool::{HangupGuard, Running};
use super::{full, Body, Ctx, State};
use crate::encode;
use crate::influxql::{self, ParamValue};
use crate::query::{self, result::QueryResponse};

/// 1.x's default `chunk_size`.
pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

/// Response format from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Msgpack,
}

/// Everything a /query request asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParams {
    /// The InfluxQL text (trimmed), never empty.
    pub q: String,
    pub db: Option<String>,
    pub rp: Option<String>,
    /// `epoch` as given (`ns`, `u`, `µ`, `ms`, `s`, `m`, `h`); `None` = RFC3339 times.
    pub epoch: Option<String>,
    pub chunked: bool,
    /// Rows per chunk; `DEFAULT_CHUNK_SIZE` unless a positive `chunk_size` was given.
    pub chunk_size: usize,
    pub pretty: bool,
    /// `params` as given: a JSON object text of bind parameters, parsed by the engine (1.x's
    /// error text: `error parsing query parameters: ...`).
    pub params: Option<String>,
    pub format: Format,
    /// The client accepts a gzip-compressed response.
    pub gzip: bool,
    /// GET requests may only read (1.x refuses writing statements over GET).
    pub read_only: bool,
}

/// A parsed, authenticated /query request, handed to [`execute`].
pub struct QueryRequest {
    pub params: QueryParams,
    pub identity: Identity,
    pub request_id: String,
    pub trace_id: String,
    /// Held until the response is finished; a streaming body should keep it alive.
    pub inflight: InflightGuard,
    /// The engine's settings (`[query]`).
    pub settings: crate::query::settings::Settings,
}

impl QueryRequest {
    /// The engine's context for this request: `db`/`rp`, `now()`, and the token's rights (read
    /// per database, admin). A refusal by `crate::query::authorize` should be answered with
    /// `ServerError::Unauthorized(text)` (401, as for writes).
    pub fn context(&self) -> crate::query::QueryContext {
        let perms = self.identity.perms().clone();
        crate::query::QueryContext {
            db: self.params.db.clone(),
            rp: self.params.rp.clone(),
            now: crate::query::now_ns(),
            is_admin: perms.admin,
            can_read: Box::new(move |db: &str| perms.can_read(db)),
            chunk_size: if self.params.chunked { self.params.chunk_size } else { 0 },
            governor: Default::default(),
            registry: None,
            query_id: 0,
            settings: self.settings,
        }
    }
}

pub fn parse_format(headers: &HeaderMap) -> Format {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Format::Json;
    };
    for part in accept.split(',') {
        let mime = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/csv" | "text/csv" => return Format::Csv,
            "application/x-msgpack" => return Format::Msgpack,
            "application/json" => return Format::Json,
            _ => {}
        }
    }
    Format::Json
}

pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| {
            let mut it = p.split(';');
            let enc = it.next().unwrap_or("").trim();
            let q_zero = it.any(|a| matches!(a.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            enc.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// The trace id of a request: the `trace_id` of a `Zap-Trace-Span` header (JSON, as 1.x/2.x
/// clients send it), else a new one.
pub fn trace_id(headers: &HeaderMap) -> String {
    headers
        .get("zap-trace-span")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| match v.get("trace_id")? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| super::random_hex(8))
}

/// Builds the parameters from the URL query and, for POST, the body: a form body
/// (`application/x-www-form-urlencoded`, whose values win as with 1.x's `FormValue`) or a raw
/// InfluxQL body (`application/vnd.influxql`, `text/plain`, ...) used as `q` when no `q` is given.
pub fn parse_params(
    method: &Method,
    headers: &HeaderMap,
    url_query: Option<&str>,
    body: &[u8],
) -> Result<QueryParams, ServerError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_form = content_type == "application/x-www-form-urlencoded";
    if *method == Method::POST && is_form {
        pairs.extend(form_urlencoded::parse(body).into_owned());
    }
    if let Some(q) = url_query {
        pairs.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let nonempty = |name: &str| get(name).filter(|v| !v.is_empty());

    let mut q = get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    if q.is_empty() && *method == Method::POST && !is_form && !body.is_empty() {
        q = String::from_utf8_lossy(body).trim().to_string();
    }
    if q.is_empty() {
        return Err(ServerError::BadRequest("missing required parameter \"q\"".into()));
    }
    let chunk_size = get("chunk_size")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_CHUNK_SIZE);
    Ok(QueryParams {
        q,
        db: nonempty("db"),
        rp: nonempty("rp"),
        epoch: get("epoch").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
        chunked: get("chunked").as_deref() == Some("true"),
        chunk_size,
        pretty: get("pretty").as_deref() == Some("true"),
        params: nonempty("params"),
        format: parse_format(headers),
        gzip: accepts_gzip(headers),
        read_only: *method == Method::GET,
    })
}

pub async fn handle(
    state: &Arc<State>,
    req: Request<Incoming>,
    ctx: &mut Ctx,
    inflight: InflightGuard,
) -> Result<Response<Body>, ServerError> {
    let (parts, body) = req.into_parts();
    ctx.trace_id = Some(trace_id(&parts.headers));
    let identity = state.authorize(&parts.headers, parts.uri.query(), ctx)?;
    let mut budget = state.limits.buffer_reservation();
    let body = if parts.method == Method::POST {
        read_limited(body, &parts.headers, state.config.limits.max_body_bytes, &mut budget).await?
    } else {
        bytes::Bytes::new()
    };
    let params = parse_params(&parts.method, &parts.headers, parts.uri.query(), &body)?;
    drop(budget);
    if state.config.log.slow_query_threshold > 0 {
        let text = super::redact::statements(&params.q);
        ctx.query_text = Some(super::redact::truncate(&text, super::access_log::STATEMENT_MAX).into_owned());
    }
    let req = QueryRequest {
        params,
        identity,
        request_id: ctx.request_id.clone(),
        trace_id: ctx.trace_id.clone().unwrap_or_default(),
        inflight,
        settings: state.query_settings,
    };
    execute(state, req, &mut ctx.statements).await
}

/// Runs a query and encodes its answer as 1.x does: parse (with bound parameters), authorize the
/// whole query, register it (`query.max_concurrent_queries`, deadline, memory budget: see
/// [`super::query_pool`]), execute statement by statement on the query threads, encode per
/// `Accept` / `epoch` / `pretty`, chunk when asked, gzip when accepted.
/// `statements` is set to the number of statements once the query is parsed (for the log line).
pub async fn execute(state: &Arc<State>, req: QueryRequest, statements: &mut usize) -> Result<Response<Body>, ServerError> {
    let p = &req.params;
    let format = match p.format {
        Format::Json => encode::Format::Json,
        Format::Csv => encode::Format::Csv,
        Format::Msgpack => encode::Format::Msgpack,
    };
    let epoch = encode::Epoch::parse(p.epoch.as_deref());
    let bound = match p.params.as_deref() {
        Some(text) => match bind_params(text) {
            Ok(m) => m,
            Err(e) => return Ok(query_error(StatusCode::BAD_REQUEST, format, p.pretty, &format!("error parsing query parameters: {e}"))),
        },
        None => HashMap::new(),
    };
    let query = match influxql::parse_query_with_params(&p.q, &bound) {
        Ok(q) => q,
        Err(e) => {
            return Ok(query_error(StatusCode::BAD_REQUEST, format, p.pretty, &format!("error parsing query: {e}")))
        }
    };
    *statements = query.statements.len();
    let mut ctx = req.context();
    if let Err(msg) = query::authorize(&ctx, req.identity.name(), &query) {
        return Err(ServerError::Unauthorized(msg));
    }
    // 1.x answers a query over max-concurrent-queries with 200 and the error as its only result.
    let running = match state.queries.begin(query.to_string(), ctx.db.clone().unwrap_or_default()) {
        Ok(r) => r,
        Err(msg) => {
            let only = query::result::StatementResult { statement_id: 0, error: Some(msg), ..Default::default() };
            return Ok(buffered_answer(vec![only], &[], &req.params, format, epoch)?.into_response());
        }
    };
    ctx.governor = running.governor.clone();
    ctx.registry = Some(state.queries.registry().clone());
    ctx.query_id = running.ticket.id();
    // Statements reading points still in the write spool carry a warning (answered buffered).
    let spooled = crate::spool::warn::query_warnings(state.spool.as_deref(), &ctx, &query);
    // A single raw SELECT streams (bounded memory, see `query::stream`) when its encoding can be
    // produced piece by piece: chunked (every format), or non-chunked compact JSON.
    let ctx = if spooled.is_empty() && query.statements.len() == 1 && (p.chunked || (format == encode::Format::Json && !p.pretty)) {
        match query::stream::open_for(state.backend.clone(), ctx, &query.statements[0], true) {
            Ok(stream) => return stream_response(state, req, stream, format, epoch, running).await,
            Err(ctx) => *ctx,
        }
    } else {
        ctx
    };
    // Evaluated and encoded on the query threads; a client hanging up stops the query.
    let hangup = HangupGuard::new(&running.governor);
    let backend = state.backend.clone();
    let task = state.queries.spawn(async move {
        let running = running;
        let mut results = query::execute(backend.as_ref(), &ctx, &query).await.map_err(ServerError::Backend)?;
        crate::spool::warn::add_warnings(&mut results, &spooled);
        let styles: Vec<encode::ChunkStyle> = query.statements.iter().map(chunk_style).collect();
        let answer = buffered_answer(results, &styles, &req.params, format, epoch)?;
        // The encoded answer is held too: it counts against the query's memory budget.
        if let Err(msg) = running.governor.charge(answer.body.len() as u64) {
            let only = query::result::StatementResult { statement_id: 0, error: Some(msg), ..Default::default() };
            return buffered_answer(vec![only], &[], &req.params, format, epoch);
        }
        drop(req.inflight);
        Ok(answer)
    });
    let answer = task.await.map_err(|e| ServerError::Internal(format!("query task failed: {e}")))?;
    hangup.disarm();
    Ok(state.count_backend_error(answer)?.into_response())
}

/// An encoded, complete answer.
struct Answer {
    body: Vec<u8>,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
}

impl Answer {
    fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(full(self.body));
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(enc) = self.content_encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        resp
    }
}

/// Encodes statement results as one answer: chunked pieces one after another, or one document.
/// `styles[i]`: how statement `i`'s answer is cut ([`chunk_style`]; missing = whole).
fn buffered_answer(
    mut results: Vec<query::result::StatementResult>,
    styles: &[encode::ChunkStyle],
    p: &QueryParams,
    format: encode::Format,
    epoch: encode::Epoch,
) -> Result<Answer, ServerError> {
    let mut w = encode::BodyWriter::new(format, epoch, p.pretty, p.gzip);
    let io_err = |e: std::io::Error| ServerError::Internal(format!("encoding the answer: {e}"));
    let style = |id: usize| styles.get(id).copied().unwrap_or(encode::ChunkStyle::Whole);
    let mut body = Vec::new();
    if p.chunked {
        for r in results {
            let st = style(r.statement_id);
            for piece in encode::pieces(r, st, p.chunk_size) {
                body.extend(w.chunk(&piece).map_err(io_err)?);
            }
        }
    } else {
        for r in results.iter_mut() {
            encode::buffered(r, style(r.statement_id));
        }
        body.extend(w.response(&QueryResponse { results, error: None }).map_err(io_err)?);
    }
    let content_type = w.content_type();
    let content_encoding = w.content_encoding();
    body.extend(w.finish().map_err(io_err)?);
    Ok(Answer { body, content_type, content_encoding })
}

/// Sends a streaming raw SELECT's answer as it is produced, through a bounded channel (the
/// producer waits for the client). The in-flight guard lives until the body ends. The backend
/// timeout applies to each window. Chunked: the same pieces `encode::chunk` would cut, via
/// `encode::RowChunker`. Non-chunked (compact JSON only): 1.x's single document, written
/// incrementally series after series, byte-identical to the buffered encoding (including
/// `"partial":true` on a series over 10000 rows). An error after rows were sent can't be put into the document any more: the
/// body is then cut off (the client sees a broken response, not a wrong complete one).
async fn stream_response(
    state: &Arc<State>,
    req: QueryRequest,
    stream: query::stream::RawSelect,
    format: encode::Format,
    epoch: encode::Epoch,
    running: Running,
) -> Result<Response<Body>, ServerError> {
    use http_body_util::{BodyExt, StreamBody};
    type Piece = Result<hyper::body::Frame<bytes::Bytes>, super::BoxError>;
    let timeout = state.backend_timeout();
    let governor = running.governor.clone();
    let hangup = HangupGuard::new(&governor);
    // The first rows are read before answering: a store failing then is answered 503 (later, the
    // answer is under way and the error can only go into it).
    let primed = state.queries.spawn(async move {
        let mut stream = stream;
        let first = next_batch(&mut stream, timeout).await;
        (stream, first)
    });
    let (mut stream, first) = primed.await.map_err(|e| ServerError::Internal(format!("query task failed: {e}")))?;
    let mut first = match first {
        Err(query::error::QueryError::Store(e)) => return state.count_backend_error(Err(ServerError::Backend(e))),
        other => Some(other),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(4);
    let p = req.params;
    let inflight = req.inflight;
    let chunked = p.chunked;
    let chunk_size = p.chunk_size;
    let gzip = p.gzip;
    let mut w = encode::BodyWriter::new(format, epoch, p.pretty, gzip);
    let content_type = w.content_type();
    let content_encoding = w.content_encoding();
    state.queries.spawn(async move {
        let _inflight = inflight;
        let _running = running;
        let tz = stream.time_zone;
        let send = |tx: &tokio::sync::mpsc::Sender<Piece>, b: Vec<u8>| {
            let tx = tx.clone();
            async move {
                if b.is_empty() {
                    return true;
                }
                tx.send(Ok(hyper::body::Frame::data(bytes::Bytes::from(b)))).await.is_ok()
            }
        };
        let fail = |tx: &tokio::sync::mpsc::Sender<Piece>, msg: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Err(msg.into())).await;
            }
        };
        if chunked {
            let mut chunker: Option<encode::RowChunker> = None;
            let mut errored = false;
            loop {
                match next_or_first(&mut first, &mut stream, timeout).await {
                    Ok(Some(series)) => {
                        let ch = chunker.get_or_insert_with(|| encode::RowChunker::new(0, series.columns.clone(), chunk_size));
                        for row in series.values {
                            if let Some(mut piece) = ch.push(&series.name, &series.tags, row) {
                                piece.time_zone = tz;
                                match w.chunk(&piece) {
                                    Ok(b) => {
                                        if !send(&tx, b).await {
                                            return;
                                        }
                                    }
                                    Err(e) => return fail(&tx, e.to_string()).await,
                                }
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // As the buffered path: the statement's error as its (last) result.
                        let piece = query::result::StatementResult { statement_id: 0, error: Some(e.message()), ..Default::default() };
                        chunker = None;
                        errored = true;
                        match w.chunk(&piece) {
                            Ok(b) => {
                                if !send(&tx, b).await {
                                    return;
                                }
                            }
                            Err(e) => return fail(&tx, e.to_string()).await,
                        }
                        break;
                    }
                }
            }
            let last = match chunker {
                Some(ch) => ch.finish(),
                None if errored => None,
                // No rows: the bare `{"statement_id":0}` result.
                None => encode::RowChunker::new(0, Vec::new(), chunk_size).finish(),
            };
            let mut tail = Vec::new();
            if let Some(mut piece) = last {
                piece.time_zone = tz;
                match w.chunk(&piece) {
                    Ok(b) => tail.extend(b),
                    Err(e) => return fail(&tx, e.to_string()).await,
                }
            }
            match w.finish() {
                Ok(b) => tail.extend(b),
                Err(e) => return fail(&tx, e.to_string()).await,
            }
            let _ = send(&tx, tail).await;
        } else {
            let mut gz = gzip.then(encode::GzipStream::new);
            // The series being written: its (name, tags) and rows so far (1.x marks a series of
            // over 10000 rows `partial` in a non-chunked answer).
            let mut current: Option<(String, Vec<(String, String)>)> = None;
            let mut total = 0usize;
            let doc = |r: query::result::StatementResult| {
                let mut out = Vec::new();
                encode::Encoder::new(format, epoch, false)
                    .write_response(&QueryResponse { results: vec![r], error: None }, &mut out);
                out
            };
            const SUFFIX: &[u8] = b"]}]}]}\n";
            const VALUES: &[u8] = b"\"values\":[";
            const SERIES: &[u8] = b"\"series\":[";
            let close_series = |piece: &mut Vec<u8>, total: usize| {
                piece.push(b']');
                if total > encode::DEFAULT_CHUNK_SIZE {
                    piece.extend_from_slice(b",\"partial\":true");
                }
                piece.push(b'}');
            };
            loop {
                let mut piece = Vec::new();
                let end = match next_or_first(&mut first, &mut stream, timeout).await {
                    Ok(Some(series)) => {
                        let n = series.values.len();
                        let same = current.as_ref().is_some_and(|(name, tags)| *name == series.name && *tags == series.tags);
                        if !same && current.is_some() {
                            close_series(&mut piece, total);
                            total = 0;
                        }
                        let key = (!same).then(|| (series.name.clone(), series.tags.clone()));
                        let d = doc(query::result::StatementResult {
                            statement_id: 0,
                            series: vec![series],
                            time_zone: tz,
                            ..Default::default()
                        });
                        let at = d.windows(VALUES.len()).position(|x| x == VALUES).map(|i| i + VALUES.len());
                        let Some(at) = at.filter(|_| d.ends_with(SUFFIX)) else {
                            // A value JSON can't hold (1.x writes an error text instead of the
                            // document): too late to do that; cut the body off.
                            return fail(&tx, "unencodable value in a streamed answer".to_string()).await;
                        };
                        if same {
                            piece.push(b',');
                        } else if current.is_some() {
                            // The next series object: what the one-series document holds between
                            // `"series":[` and its rows.
                            let Some(from) = d.windows(SERIES.len()).position(|x| x == SERIES).map(|i| i + SERIES.len()) else {
                                return fail(&tx, "unencodable series in a streamed answer".to_string()).await;
                            };
                            piece.push(b',');
                            piece.extend_from_slice(&d[from..at]);
                        } else {
                            piece.extend_from_slice(&d[..at]);
                        }
                        if let Some(k) = key {
                            current = Some(k);
                        }
                        piece.extend_from_slice(&d[at..d.len() - SUFFIX.len()]);
                        total += n;
                        false
                    }
                    Ok(None) => {
                        if current.is_some() {
                            close_series(&mut piece, total);
                            piece.extend_from_slice(&SUFFIX[2..]);
                        } else {
                            piece = doc(query::result::StatementResult { statement_id: 0, ..Default::default() });
                        }
                        true
                    }
                    Err(e) => {
                        if current.is_some() {
                            return fail(&tx, e.message()).await;
                        }
                        piece = doc(query::result::StatementResult { statement_id: 0, error: Some(e.message()), ..Default::default() });
                        true
                    }
                };
                let mut bytes = match gz.as_mut() {
                    Some(g) => match g.push(&piece, false) {
                        Ok(b) => b,
                        Err(e) => return fail(&tx, e.to_string()).await,
                    },
                    None => piece,
                };
                if end {
                    if let Some(g) = gz.take() {
                        match g.finish() {
                            Ok(b) => bytes.extend(b),
                            Err(e) => return fail(&tx, e.to_string()).await,
                        }
                    }
                }
                if !send(&tx, bytes).await {
                    return;
                }
                if end {
                    return;
                }
            }
        }
    });
    // The body owns the hang-up guard: dropped unfinished (the client left), it stops the query.
    let frames = futures::stream::unfold((rx, hangup), |(mut rx, hangup)| async move {
        rx.recv().await.map(|x| (x, (rx, hangup)))
    });
    let mut resp = Response::new(StreamBody::new(frames).boxed_unsync());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(enc) = content_encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Ok(resp)
}

/// The rows read before the answer started, else the stream's next rows.
async fn next_or_first(
    first: &mut Option<query::error::QResult<Option<query::result::Series>>>,
    stream: &mut query::stream::RawSelect,
    timeout: Option<std::time::Duration>,
) -> query::error::QResult<Option<query::result::Series>> {
    match first.take() {
        Some(r) => r,
        None => next_batch(stream, timeout).await,
    }
}

/// The stream's next rows, the backend timeout applying to each window; a stopped query (its
/// deadline, KILL QUERY, the client gone) ends with its error.
async fn next_batch(
    stream: &mut query::stream::RawSelect,
    timeout: Option<std::time::Duration>,
) -> query::error::QResult<Option<query::result::Series>> {
    let governor = stream.governor().clone();
    governor.check()?;
    let batch = async {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, stream.next_batch())
                .await
                .unwrap_or_else(|_| Err(format!("backend timeout: query did not finish within {}s", limit.as_secs()).into())),
            None => stream.next_batch().await,
        }
    };
    tokio::select! {
        biased;
        why = governor.stopped() => Err(why.message().into()),
        r = batch => r,
    }
}

/// How 1.x splits each kind of statement's answer when chunked.
fn chunk_style(s: &influxql::Statement) -> encode::ChunkStyle {
    use influxql::Statement as S;
    match s {
        S::Select(_) | S::ShowFieldKeys(_) | S::ShowSeries(_) | S::ShowCardinality(_) => encode::ChunkStyle::Rows,
        S::ShowTagKeys(_) | S::ShowTagValues(_) => encode::ChunkStyle::PerSeries,
        _ => encode::ChunkStyle::Whole,
    }
}

/// A request-level query error, written as 1.x writes it: in the format `Accept` asked for.
fn query_error(status: StatusCode, format: encode::Format, pretty: bool, msg: &str) -> Response<Body> {
    let mut enc = encode::Encoder::new(format, encode::Epoch::Rfc3339, pretty);
    let mut out = Vec::new();
    enc.write_error(msg, &mut out);
    let mut resp = Response::new(full(out));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(v) = HeaderValue::from_str(&msg.chars().filter(|c| (' '..='~').contains(c)).take(1024).collect::<String>()) {
        resp.headers_mut().insert("X-Influxdb-Error", v);
    }
    resp
}

/// The `params` request parameter (a JSON object) as bind values, typed by 1.x's rules
/// (`influxql::param_value_from_json`).
fn bind_params(text: &str) -> Result<HashMap<String, ParamValue>, String> {
    if let Some(e) = go_json_syntax_error(text) {
        return Err(e);
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(map) = v else {
        return Err("json: cannot unmarshal parameters: not an object".into());
    };
    let mut out = HashMap::with_capacity(map.len());
    for (k, v) in &map {
        let numbers = collect_numbers(v);
        out.insert(k.clone(), influxql::param_value_from_json(&json_param(v, &numbers))?);
    }
    Ok(out)
}

/// The JSON texts of the numbers in `v`, in visiting order, so `JsonParam` can borrow them.
fn collect_numbers(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(n) => out.push(n.to_string()),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

fn json_param<'a>(v: &'a serde_json::Value, numbers: &'a [String]) -> influxql::JsonParam<'a> {
    fn conv<'a>(v: &'a serde_json::Value, numbers: &'a [String], next: &mut usize) -> influxql::JsonParam<'a> {
        use influxql::JsonParam as P;
        use serde_json::Value as J;
        match v {
            J::Null => P::Null,
            J::Bool(b) => P::Bool(*b),
            J::Number(_) => {
                let text = numbers.get(*next).map(String::as_str).unwrap_or("0");
                *next += 1;
                P::Number(text)
            }
            J::String(s) => P::String(s),
            J::Array(_) => P::Array,
            J::Object(o) => P::Object(o.iter().map(|(k, x)| (k.as_str(), conv(x, numbers, next))).collect()),
        }
    }
    conv(v, numbers, &mut 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn get_params() {
        let p = parse_params(
            &Method::GET,
            &HeaderMap::new(),
            Some("db=mydb&q=SELECT+*+FROM+cpu&epoch=ms&chunked=true&chunk_size=2&pretty=true"),
            b"",
        )
        .unwrap();
        assert_eq!(p.q, "SELECT * FROM cpu");
        assert_eq!(p.db.as_deref(), Some("mydb"));
        assert_eq!(p.epoch.as_deref(), Some("ms"));
        assert!(p.chunked && p.pretty && p.read_only);
        assert_eq!(p.chunk_size, 2);
        assert_eq!(p.format, Format::Json);
    }

    #[test]
    fn post_form_and_raw() {
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let p = parse_params(&Method::POST, &h, Some("db=a&q=url"), b"q=SHOW+DATABASES&db=b").unwrap();
        assert_eq!(p.q, "SHOW DATABASES");
        assert_eq!(p.db.as_deref(), Some("b"));
        assert!(!p.read_only);
        let h = headers(&[("content-type", "application/vnd.influxql")]);
        let p = parse_params(&Method::POST, &h, Some("db=a"), b"  SHOW MEASUREMENTS \n").unwrap();
        assert_eq!(p.q, "SHOW MEASUREMENTS");
        assert_eq!(p.chunk_size, DEFAULT_CHUNK_SIZE);
        let e = parse_params(&Method::GET, &HeaderMap::new(), Some("db=a&q=+"), b"").unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.message(), "missing required parameter \"q\"");
        let p = parse_params(&Method::GET, &HeaderMap::new(), Some("q=x&chunk_size=-3"), b"").unwrap();
        assert_eq!(p.chunk_size, DEFAULT_CHUNK_SIZE);
    }

    #[test]
    fn accept_and_encoding() {
        assert_eq!(parse_format(&headers(&[("accept", "application/csv")])), Format::Csv);
        assert_eq!(parse_format(&headers(&[("accept", "text/csv; charset=utf-8")])), Format::Csv);
        assert_eq!(parse_format(&headers(&[("accept", "application/x-msgpack")])), Format::Msgpack);
        assert_eq!(parse_format(&headers(&[("accept", "*/*")])), Format::Json);
        assert_eq!(parse_format(&HeaderMap::new()), Format::Json);
        assert!(accepts_gzip(&headers(&[("accept-encoding", "deflate, gzip")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn bind_parameters_typed_as_1x() {
        let m = bind_params(r#"{"h":"host_1","n":5,"f":1.5,"b":true,"d":{"duration":"10m"},"i":{"identifier":"cpu"}}"#).unwrap();
        assert_eq!(m["h"], ParamValue::String("host_1".into()));
        assert_eq!(m["n"], ParamValue::Integer(5));
        assert_eq!(m["f"], ParamValue::Float(1.5));
        assert_eq!(m["b"], ParamValue::Boolean(true));
        assert_eq!(m["i"], ParamValue::Identifier("cpu".into()));
        assert!(matches!(m["d"], ParamValue::Duration(_)));
        assert!(matches!(bind_params(r#"{"x":null}"#).unwrap()["x"], ParamValue::Error(_)));
        assert!(bind_params("[1]").is_err());
        assert!(bind_params("{").is_err());
    }

    #[test]
    fn trace_ids() {
        let h = headers(&[("zap-trace-span", r#"{"trace_id":"2b6fd3e1","span_id":"1","baggage":{}}"#)]);
        assert_eq!(trace_id(&h), "2b6fd3e1");
        let generated = trace_id(&headers(&[("zap-trace-span", "garbage")]));
        assert_eq!(generated.len(), 16);
    }
}

/// Go's `encoding/json` syntax error for `text` (1.x checks a whole `params` document before
/// decoding it, so its texts are Go's: `invalid character 'b' looking for beginning of object
/// key string`, `unexpected end of JSON input`), or `None` when the syntax is valid.
fn go_json_syntax_error(text: &str) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        ObjKey,
        ObjValue,
        ArrValue,
    }
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        BeginValue,
        BeginValueOrEmpty,
        BeginStringOrEmpty,
        BeginString,
        EndValue,
        EndTop,
        InString,
        InStringEsc,
        InStringEscU(u8),
        Neg,
        One,
        Zero,
        Dot,
        Dot0,
        E,
        ESign,
        E0,
        Lit(&'static [u8], &'static str, usize),
    }
    fn quote(c: u8) -> String {
        match c {
            b'\'' => "'\\''".to_string(),
            b'"' => "'\"'".to_string(),
            _ => {
                let q = format!("{:?}", (c as char).to_string());
                format!("'{}'", &q[1..q.len() - 1])
            }
        }
    }
    let err = |c: u8, ctx: &str| Some(format!("invalid character {} {}", quote(c), ctx));
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut stack: Vec<P> = Vec::new();
    let mut s = S::BeginValue;
    for &c in text.as_bytes() {
        // a state may hand the byte on (the end of a number is seen at the next byte)
        let mut redo = true;
        while redo {
            redo = false;
            s = match s {
                S::BeginValueOrEmpty if space(c) => s,
                S::BeginValueOrEmpty if c == b']' => {
                    stack.pop();
                    S::EndValue
                }
                S::BeginValue | S::BeginValueOrEmpty => match c {
                    _ if space(c) => S::BeginValue,
                    b'{' => {
                        stack.push(P::ObjKey);
                        S::BeginStringOrEmpty
                    }
                    b'[' => {
                        stack.push(P::ArrValue);
                        S::BeginValueOrEmpty
                    }
                    b'"' => S::InString,
                    b'-' => S::Neg,
                    b'0' => S::Zero,
                    b'1'..=b'9' => S::One,
                    b't' => S::Lit(b"true", "true", 1),
                    b'f' => S::Lit(b"false", "false", 1),
                    b'n' => S::Lit(b"null", "null", 1),
                    _ => return err(c, "looking for beginning of value"),
                },
                S::BeginStringOrEmpty if space(c) => s,
                S::BeginStringOrEmpty if c == b'}' => {
                    stack.pop();
                    S::EndValue
                }
                S::BeginStringOrEmpty | S::BeginString => match c {
                    _ if space(c) => S::BeginString,
                    b'"' => S::InString,
                    _ => return err(c, "looking for beginning of object key string"),
                },
                S::EndValue => match stack.last().copied() {
                    None => {
                        redo = true;
                        S::EndTop
                    }
                    Some(_) if space(c) => S::EndValue,
                    Some(P::ObjKey) => {
                        if c != b':' {
                            return err(c, "after object key");
                        }
                        if let Some(top) = stack.last_mut() {
                            *top = P::ObjValue;
                        }
                        S::BeginValue
                    }
                    Some(P::ObjValue) => match c {
                        b',' => {
                            if let Some(top) = stack.last_mut() {
                                *top = P::ObjKey;
                            }
                            S::BeginString
                        }
                        b'}' => {
                            stack.pop();
                            S::EndValue
                        }
                        _ => return err(c, "after object key:value pair"),
                    },
                    Some(P::ArrValue) => match c {
                        b',' => S::BeginValue,
                        b']' => {
                            stack.pop();
                            S::EndValue
                        }
                        _ => return err(c, "after array element"),
                    },
                },
                S::EndTop => {
                    if !space(c) {
                        return err(c, "after top-level value");
                    }
                    S::EndTop
                }
                S::InString => match c {
                    b'"' => S::EndValue,
                    b'\\' => S::InStringEsc,
                    _ if c < 0x20 => return err(c, "in string literal"),
                    _ => S::InString,
                },
                S::InStringEsc => match c {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => S::InString,
                    b'u' => S::InStringEscU(0),
                    _ => return err(c, "in string escape code"),
                },
                S::InStringEscU(n) => {
                    if !c.is_ascii_hexdigit() {
                        return err(c, "in \\u hexadecimal character escape");
                    }
                    if n == 3 {
                        S::InString
                    } else {
                        S::InStringEscU(n + 1)
                    }
                }
                S::Neg => match c {
                    b'0' => S::Zero,
                    b'1'..=b'9' => S::One,
                    _ => return err(c, "in numeric literal"),
                },
                S::One if c.is_ascii_digit() => S::One,
                S::One | S::Zero => match c {
                    b'.' => S::Dot,
                    b'e' | b'E' => S::E,
                    _ => {
                        redo = true;
                        S::EndValue
                    }
                },
                S::Dot => {
                    if !c.is_ascii_digit() {
                        return err(c, "after decimal point in numeric literal");
                    }
                    S::Dot0
                }
                S::Dot0 => match c {
                    _ if c.is_ascii_digit() => S::Dot0,
                    b'e' | b'E' => S::E,
                    _ => {
                        redo = true;
                        S::EndValue
                    }
                },
                S::E if c == b'+' || c == b'-' => S::ESign,
                S::E | S::ESign => {
                    if !c.is_ascii_digit() {
                        return err(c, "in exponent of numeric literal");
                    }
                    S::E0
                }
                S::E0 => {
                    if c.is_ascii_digit() {
                        S::E0
                    } else {
                        redo = true;
                        S::EndValue
                    }
                }
                S::Lit(word, name, i) => {
                    let want = word.get(i).copied().unwrap_or(b' ');
                    if c != want {
                        return err(c, &format!("in literal {name} (expecting {})", quote(want)));
                    }
                    if i + 1 == word.len() {
                        S::EndValue
                    } else {
                        S::Lit(word, name, i + 1)
                    }
                }
            };
        }
    }
    // at the end: complete only after a whole top-level value (a number may end here)
    let done = match s {
        S::EndTop => true,
        S::EndValue | S::One | S::Zero | S::Dot0 | S::E0 => stack.is_empty(),
        _ => false,
    };
    if done {
        None
    } else {
        Some("unexpected end of JSON input".into())
    }
}

#[cfg(test)]
mod go_json_tests {
    use super::go_json_syntax_error as e;

    #[test]
    fn go_json_syntax_texts() {
        // texts of Go's encoding/json (1.6.7: `params={bad,json}`)
        assert_eq!(e("{bad,json}").as_deref(), Some("invalid character 'b' looking for beginning of object key string"));
        assert_eq!(e("{\"a\":1,}").as_deref(), Some("invalid character '}' looking for beginning of object key string"));
        assert_eq!(e("{\"a\" 1}").as_deref(), Some("invalid character '1' after object key"));
        assert_eq!(e("{\"a\":1 2}").as_deref(), Some("invalid character '2' after object key:value pair"));
        assert_eq!(e("{\"a\":tru}").as_deref(), Some("invalid character '}' in literal true (expecting 'e')"));
        assert_eq!(e("{\"a\":1.}").as_deref(), Some("invalid character '}' after decimal point in numeric literal"));
        assert_eq!(e("{\"a\":").as_deref(), Some("unexpected end of JSON input"));
        assert_eq!(e("").as_deref(), Some("unexpected end of JSON input"));
        assert_eq!(e("{} x").as_deref(), Some("invalid character 'x' after top-level value"));
        assert_eq!(e(" { \"a\" : [ 1 , -2.5e+3 , \"x\\u00e9\" ] , \"b\" : { } } "), None);
        assert_eq!(e("12"), None);
        assert_eq!(e("[ ]"), None);
    }
}
