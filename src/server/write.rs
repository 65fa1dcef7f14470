//! `POST /write`: line protocol into the backend.
//!
//! Order of checks: token (403/401) and its request rate (429 or 503, see `throttle`), in-flight
//! slots (the token's, then the global ones: 503), `db` (400), write permission (401), `precision`
//! (400), `Content-Encoding` (415), body size before and after decompression (413; buffered-bytes
//! budgets, global and the token's: 503), the token's write byte rate (429 or 503; a token with
//! `on_limit = "delay"` is held here for both its rates, body read), the parse's memory bound
//! against the same budgets (503), parse (400: the whole body is rejected; a bad line is quoted at
//! most `limits.error_line_max_bytes`), backend write (bounded by `backend.timeout`). 204 only once
//! the backend has answered `Ok`, or, in front of a remote store, once the write is synced to the
//! spool (`crate::spool`: the store failed, or older writes are still spooled).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::backend::{BackendError, RawBody, WriteBatch, WriteOutcome};
use crate::lineproto::{self, ParseCost, ParseOptions};
use crate::model::Points;
use crate::spool;

use super::body::{content_encoding, decode, read_limited};
use super::error::ServerError;
use super::limits::BufferReservation;
use super::metrics::Metrics;
use super::{no_content, Body, Ctx, State};

/// Bodies larger than this are parsed on a blocking thread.
const PARSE_INLINE_MAX: usize = 256 * 1024;

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let q = query?;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The write precision. The values 1.x recognises (`u`, `ms`, `s`, `m`, `h`) and explicit
/// nanoseconds (absent, empty, `n`, `ns`) are accepted; anything else is a 400 naming it. (1.6.7
/// silently takes unknown values, `us` included, as nanoseconds, which stores wrong times; refusing
/// them never changes the meaning of a value 1.x accepts.)
pub fn parse_precision(p: Option<&str>) -> Result<lineproto::Precision, ServerError> {
    let p = p.unwrap_or("");
    if p == "µ" {
        // The v1 API's name for microseconds; 1.6.7 itself would take it as nanoseconds.
        return Ok(lineproto::Precision::Microsecond);
    }
    let known = matches!(p, "" | "n" | "ns" | "u" | "ms" | "s" | "m" | "h");
    known.then(|| lineproto::Precision::parse(p)).flatten().ok_or_else(|| {
        ServerError::BadRequest(format!("invalid precision {p:?}: use one of ns, n, u, µ, ms, s, m, h"))
    })
}

pub async fn handle(state: &Arc<State>, req: Request<Incoming>, ctx: &mut Ctx) -> Result<Response<Body>, ServerError> {
    let (parts, body) = req.into_parts();
    let query = parts.uri.query();
    let who = state.authorize(&parts.headers, query, ctx)?;

    let db = query_param(query, "db").unwrap_or_default();
    if db.is_empty() {
        return Err(ServerError::BadRequest("database is required".into()));
    }
    if !who.perms().can_write(&db) {
        return Err(ServerError::Unauthorized(format!(
            "token {:?} is not authorized to write to database {db:?}",
            who.name()
        )));
    }
    let rp = query_param(query, "rp").filter(|s| !s.is_empty());
    let precision = parse_precision(query_param(query, "precision").as_deref())?;
    let encoding = content_encoding(&parts.headers)?;

    let limit = state.config.limits.max_body_bytes;
    let mut budget = state.limits.write_reservation(&who);
    let raw = read_limited(body, &parts.headers, limit, &mut budget).await?;
    let data = decode(raw, encoding, limit, &mut budget).await?;
    state.write_rate(&who, &ctx.policy, data.len() as u64).await?;
    Metrics::add(&state.metrics.write_bytes, data.len() as u64);

    let now = now_ns();
    let opts = ParseOptions { quote_max: state.config.limits.error_line_max_bytes, ..ParseOptions::new(precision, now) };
    let points = parse(data.clone(), opts, &mut budget).await?;
    if points.is_empty() {
        // 1.x answers an empty body with success too.
        return Ok(no_content());
    }
    let n = points.len();
    let entry = spool::Entry { db: db.clone(), rp: rp.clone(), precision, now_ns: now, body: data.clone(), points: u32::try_from(n).unwrap_or(u32::MAX) };
    let batch = WriteBatch { db, rp, points };
    let written = match &state.spool {
        Some(spool) => spool_write(state, spool, entry, batch).await,
        None => {
            let body = RawBody { bytes: data.clone(), precision };
            state.backend_call("write", state.backend.write_body(batch, body)).await.map(Some)
        }
    };
    let outcome = match written {
        Ok(o) => o,
        // Name the line of the point the store refused, as a parse error would.
        Err(ServerError::Backend(BackendError::InvalidPoint { index, message })) => {
            let line = lineproto::line_of_point(&data, precision, index).unwrap_or(1);
            return Err(ServerError::LineProtocol { message: format!("line {line}: {message}"), line });
        }
        Err(e) => return Err(e),
    };
    // None: spooled, not written yet (its points are logged as accepted).
    ctx.points = n as u64;
    if let Some(outcome) = outcome {
        let written = if outcome.points_written == 0 { n } else { outcome.points_written };
        Metrics::add(&state.metrics.points_written, written as u64);
        ctx.points = written as u64;
    }
    Ok(no_content())
}

/// A write through the spool (see `crate::spool`): stored, or spooled (`None`: a 204 too); a
/// full spool is 503 with `Retry-After`.
async fn spool_write(state: &State, spool: &Arc<spool::Spool>, entry: spool::Entry, batch: WriteBatch) -> Result<Option<WriteOutcome>, ServerError> {
    match spool.write(entry, batch).await {
        Ok(spool::Written::Stored(o)) => Ok(Some(o)),
        Ok(spool::Written::Spooled { cause }) => {
            if cause.is_some() {
                Metrics::add(&state.metrics.backend_errors, 1);
            }
            Ok(None)
        }
        Err(spool::SpoolError::Store(e)) => state.count_backend_error(Err(ServerError::Backend(e))),
        Err(spool::SpoolError::Full { message, retry_after }) => Err(ServerError::Overloaded { message, retry_after }),
        Err(spool::SpoolError::Io(m)) => Err(ServerError::Backend(BackendError::Unavailable(m))),
    }
}

/// Reserves the parse's memory bound ([`ParseCost`]) in the write budgets, then parses; large
/// bodies are counted and parsed on a blocking thread.
async fn parse(data: Bytes, opts: ParseOptions, budget: &mut BufferReservation) -> Result<Points, ServerError> {
    async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ServerError> {
        tokio::task::spawn_blocking(f).await.map_err(|e| ServerError::Internal(format!("parse task failed: {e}")))
    }
    let large = data.len() > PARSE_INLINE_MAX;
    let cost = if large {
        let d = data.clone();
        off_thread(move || ParseCost::of(&d, opts.quote_max)).await?
    } else {
        ParseCost::of(&data, opts.quote_max)
    };
    budget.grow_alone_if_needed(cost.bytes)?;
    let opts = ParseOptions { capacity: Some(cost), ..opts };
    let parsed = if large {
        off_thread(move || lineproto::parse_batch_with(&data, &opts)).await?
    } else {
        lineproto::parse_batch_with(&data, &opts)
    };
    parsed.map_err(|e| ServerError::LineProtocol { message: e.message, line: e.line })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_param() {
        assert!(parse_precision(None).is_ok());
        assert!(parse_precision(Some("")).is_ok());
        for p in ["ns", "u", "ms", "s", "m", "h"] {
            assert!(parse_precision(Some(p)).is_ok(), "{p}");
        }
        assert_eq!(parse_precision(Some("n")).unwrap(), lineproto::Precision::Nanosecond);
        assert_eq!(parse_precision(Some("s")).unwrap(), lineproto::Precision::Second);
        assert_eq!(parse_precision(Some("u")).unwrap(), lineproto::Precision::Microsecond);
        assert_eq!(parse_precision(Some("µ")).unwrap(), lineproto::Precision::Microsecond);
        for bad in ["xx", "us", "S", "sec", "nanoseconds"] {
            let e = parse_precision(Some(bad)).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.message().contains(&format!("{bad:?}")), "{}", e.message());
        }
    }

    #[test]
    fn params() {
        assert_eq!(query_param(Some("db=a%20b&rp=x"), "db").as_deref(), Some("a b"));
        assert_eq!(query_param(Some("rp=x"), "db"), None);
        assert_eq!(query_param(None, "db"), None);
    }
}
