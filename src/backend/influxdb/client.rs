//! HTTP to the upstream InfluxDB 1.x: `/ping`, `/write` and `/query`, and what its answers mean.
//!
//! * Every parameter (`db`, `rp`, `q`, ...) is form-encoded by the HTTP client, never spliced
//!   into the URL, so any database name reaches 1.x as written.
//! * Credentials (`[backend.influxdb]` user/password) travel as HTTP Basic auth, which 1.x reads
//!   when its `auth-enabled` is on and ignores otherwise.
//! * `/write` answers as 1.x does: 204 stored; 400 with 1.x's text (`partial write: field type
//!   conflict: ...`, `partial write: points beyond retention policy dropped=N`, `unable to
//!   parse ...`) goes to the client as [`BackendError::Invalid`] with that text; 404 `database
//!   not found` as `DatabaseNotFound`; `retention policy not found` (a 500 in 1.6.7) as
//!   `RetentionPolicyNotFound`; 401/403 (influxgate's credentials refused) as `Internal`; any
//!   other 5xx, an unreachable upstream or a timeout as `Unavailable`/`Timeout` (503 with
//!   `Retry-After`).
//! * `/query` bodies are read piece by piece, each piece charged to the query first.
//! * Requests are sent from the runtime serving connections (as the other remote stores do): a
//!   connection's driver task lives on the runtime that opened it.

use std::time::Duration;

use crate::backend::{BackendError, Result};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub user: String,
    pub password: String,
    /// Connecting to the upstream (an unreachable one answers 503 within this).
    pub connect_timeout: Duration,
    /// A write, ping or catalog request as a whole; a query's body is bounded by the query's own
    /// deadline instead (`query.timeout`), which the engine races against it.
    pub timeout: Duration,
    /// CA file and client certificate for an `https://` upstream.
    pub tls: crate::backend::tls::StoreTls,
}

pub struct Client {
    http: reqwest::Client,
    io: Option<tokio::runtime::Handle>,
    base: String,
    opts: ClientOptions,
}

/// An error text longer than this is cut (1.x quotes whole lines in some).
const MAX_ERROR_BYTES: usize = 64 << 10;

fn net_err(e: reqwest::Error) -> BackendError {
    crate::backend::net_error("influxdb", e)
}

/// 1.x's error text of a failed request: the `error` of its JSON body, else the body itself.
fn error_text(body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    text
}

/// What a failed write means (see the module doc).
pub fn write_error(status: u16, text: String, db: &str, rp: Option<&str>) -> BackendError {
    if text.starts_with("retention policy not found") {
        return BackendError::RetentionPolicyNotFound(rp.unwrap_or_default().to_string());
    }
    match status {
        404 if text.starts_with("database not found") => BackendError::DatabaseNotFound(db.to_string()),
        401 | 403 => BackendError::Internal(format!("influxdb refused influxgate's credentials ([backend.influxdb] user/password): {text}")),
        400..=499 => BackendError::Invalid(text),
        _ => BackendError::Unavailable(format!("influxdb: {status}: {text}")),
    }
}

impl Client {
    pub fn new(url: &str, opts: ClientOptions) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        let http = crate::backend::http_client("influxdb", &base, &opts.tls, opts.connect_timeout, Duration::from_secs(30))?;
        Ok(Client { http, io: tokio::runtime::Handle::try_current().ok(), base, opts })
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let rb = if self.opts.user.is_empty() { rb } else { rb.basic_auth(&self.opts.user, Some(&self.opts.password)) };
        let sent = match &self.io {
            Some(h) => h.spawn(rb.send()).await.map_err(|e| BackendError::Internal(format!("influxdb: request task: {e}")))?,
            None => rb.send().await,
        };
        sent.map_err(net_err)
    }

    /// The body, at most `max` bytes, each piece first passed to `charge` (whose `Err` stops).
    async fn body(resp: reqwest::Response, max: usize, charge: &(dyn Fn(u64) -> std::result::Result<(), String> + Send + Sync)) -> Result<std::result::Result<Vec<u8>, String>> {
        let mut resp = resp;
        let mut out = Vec::new();
        while let Some(piece) = resp.chunk().await.map_err(net_err)? {
            if let Err(e) = charge(piece.len() as u64) {
                return Ok(Err(e));
            }
            if out.len() + piece.len() > max {
                return Ok(Err(format!("influxdb answer larger than {max} bytes")));
            }
            out.extend_from_slice(&piece);
        }
        Ok(Ok(out))
    }

    /// `GET /ping`.
    pub async fn ping(&self) -> Result<()> {
        let resp = self.send(self.http.get(format!("{}/ping", self.base)).timeout(self.opts.timeout)).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            s => Err(BackendError::Unavailable(format!("influxdb: /ping answered {s}"))),
        }
    }

    /// `POST /write?db=..&rp=..&precision=ns` with `body`.
    pub async fn write(&self, db: &str, rp: Option<&str>, body: String) -> Result<()> {
        let mut params = vec![("db", db), ("precision", "ns")];
        if let Some(rp) = rp {
            params.push(("rp", rp));
        }
        let rb = self.http.post(format!("{}/write", self.base)).query(&params).body(body).timeout(self.opts.timeout);
        let resp = self.send(rb).await?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = Self::body(resp, MAX_ERROR_BYTES, &|_| Ok(())).await?.unwrap_or_default();
        Err(write_error(status, error_text(&body), db, rp))
    }

    /// `POST /query` with one statement, asking for MessagePack and nanosecond epochs; the raw
    /// answer of a 2xx or 4xx (1.x words statement and request errors in it), or the charge's
    /// refusal. Answers larger than `max` bytes are refused.
    pub async fn query(
        &self,
        db: Option<&str>,
        rp: Option<&str>,
        text: &str,
        max: usize,
        charge: &(dyn Fn(u64) -> std::result::Result<(), String> + Send + Sync),
    ) -> Result<std::result::Result<(u16, Vec<u8>), String>> {
        let mut form = vec![("q", text), ("epoch", "ns")];
        if let Some(db) = db {
            form.push(("db", db));
        }
        if let Some(rp) = rp {
            form.push(("rp", rp));
        }
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let rb = self
            .http
            .post(format!("{}/query", self.base))
            .header(http::header::ACCEPT, "application/x-msgpack")
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let resp = self.send(rb).await?;
        let status = resp.status().as_u16();
        match status {
            401 | 403 => {
                let body = Self::body(resp, MAX_ERROR_BYTES, &|_| Ok(())).await?.unwrap_or_default();
                Err(write_error(status, error_text(&body), "", None))
            }
            200..=499 => Ok(Self::body(resp, max, charge).await?.map(|b| (status, b))),
            _ => {
                let body = Self::body(resp, MAX_ERROR_BYTES, &|_| Ok(())).await?.unwrap_or_default();
                Err(BackendError::Unavailable(format!("influxdb: {status}: {}", error_text(&body))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_mean_what_1x_means() {
        let conflict = "partial write: field type conflict: input field \"v\" on measurement \"m\" is type integer, already exists as type float dropped=1";
        assert!(matches!(write_error(400, conflict.into(), "d", None), BackendError::Invalid(t) if t == conflict));
        assert!(matches!(write_error(404, "database not found: \"d\"".into(), "d", None), BackendError::DatabaseNotFound(d) if d == "d"));
        assert!(matches!(write_error(500, "retention policy not found: r".into(), "d", Some("r")), BackendError::RetentionPolicyNotFound(r) if r == "r"));
        assert!(matches!(write_error(500, "timeout".into(), "d", None), BackendError::Unavailable(_)));
        assert!(matches!(write_error(401, "authorization failed".into(), "d", None), BackendError::Internal(_)));
        assert_eq!(error_text(br#"{"error":"x y"}"#), "x y");
        assert_eq!(error_text(b" plain \n"), "plain");
    }
}
