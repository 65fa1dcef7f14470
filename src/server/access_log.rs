//! The request log: one line per request, written when its answer's last byte is sent (or the
//! answer is dropped: client gone, shutdown deadline), so `bytes` and `duration_ms` cover a
//! streamed answer whole. Fields: `request_id`, `token` (the token's configured name, never the
//! token), `method`, `path` (query string with `u`/`p` removed and passwords in `q` redacted, at
//! most [`PATH_MAX`] bytes: see [`super::redact`]), `status`, `bytes` (answer body bytes as sent,
//! compressed when gzip), `duration_ms`, `points` (points written by a /write), `statements`
//! (statements of a /query). Target `influxgate::access`, level info.
//!
//! A /query taking longer than `log.slow_query_threshold` is logged once more at warn level
//! (target `influxgate::slow_query`) with its statements, passwords redacted, at most
//! [`STATEMENT_MAX`] bytes, as 1.x's `log-queries-after` logs a long-running query. Headers and
//! bodies are never logged.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

use super::{Body, BoxError};

/// Longest path and query string logged.
pub const PATH_MAX: usize = 4096;
/// Longest statement text in a slow-query line.
pub const STATEMENT_MAX: usize = 65536;

/// What the line of one request says, gathered while it is handled.
#[derive(Debug)]
pub struct Record {
    pub request_id: String,
    pub token: Option<String>,
    pub method: String,
    /// Already stripped of credentials.
    pub path: String,
    pub status: u16,
    pub start: Instant,
    pub points: u64,
    pub statements: usize,
    /// The statements of a /query, redacted and bounded, when slow queries are logged.
    pub query_text: Option<String>,
    /// `log.slow_query_threshold` (`None`: off).
    pub slow_after: Option<Duration>,
}

impl Record {
    fn emit(&self, bytes: u64) {
        let elapsed = self.start.elapsed();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let token = self.token.as_deref().unwrap_or("-");
        tracing::info!(
            target: "influxgate::access",
            request_id = self.request_id.as_str(),
            token,
            method = self.method.as_str(),
            path = self.path.as_str(),
            status = self.status,
            bytes,
            duration_ms,
            points = self.points,
            statements = self.statements as u64,
            "request"
        );
        let slow = self.slow_after.is_some_and(|t| elapsed > t);
        if let (true, Some(text)) = (slow, self.query_text.as_deref()) {
            tracing::warn!(
                target: "influxgate::slow_query",
                request_id = self.request_id.as_str(),
                token,
                duration_ms,
                statements = self.statements as u64,
                query = text,
                "slow query"
            );
        }
    }
}

/// An answer body that counts the bytes sent and writes the request's line when done.
pub struct Logged {
    inner: Body,
    bytes: u64,
    record: Option<Record>,
}

impl Logged {
    pub fn wrap(inner: Body, record: Record) -> Body {
        Logged { inner, bytes: 0, record: Some(record) }.boxed_unsync()
    }
}

impl hyper::body::Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes += d.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(r) = self.record.take() {
                    r.emit(self.bytes);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(r) = self.record.take() {
            r.emit(self.bytes);
        }
    }
}
