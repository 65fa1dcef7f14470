//! ClickHouse's HTTP interface: one statement per request, and what its failures mean.
//!
//! * A statement is the body of `POST /`; an `INSERT`'s rows are the body and the statement goes
//!   in `query=`. Settings travel as URL parameters, credentials as HTTP Basic auth (18.16 and
//!   current releases read both).
//! * Every `SELECT` runs with `wait_end_of_query=1`: ClickHouse then keeps the answer (in memory,
//!   then in a temporary file) until the statement has finished, so a failure is a 500 with the
//!   exception, never an exception text appended to a `200` answer already half sent (which is what
//!   happens without it: 18.16 appends `Code: ...` to the RowBinary rows, unreadable as an error).
//! * Failures: a store that cannot be reached, a shard or replica down, ZooKeeper gone, too many
//!   parts or queries at once → [`BackendError::Unavailable`] (503 with `Retry-After`); a request
//!   that took longer than the backend timeout → `Timeout`; anything else → `Internal` with
//!   ClickHouse's code and text (a statement influxgate should not have sent).
//! * Requests are sent from the runtime serving connections, as the VictoriaMetrics backend does
//!   (a query thread evaluating for seconds must not hold up the connection driving a write).

use std::time::Duration;

use bytes::Bytes;

use crate::backend::{BackendError, Result};

/// ClickHouse error codes that mean "not now": the store, a shard, a replica or ZooKeeper is
/// unreachable or overloaded, so a client should retry (503).
const UNAVAILABLE: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE (a connection to a shard cut)
    23,  // CANNOT_READ_FROM_ISTREAM
    24,  // CANNOT_WRITE_TO_OSTREAM
    32,  // ATTEMPT_TO_READ_AFTER_EOF
    159, // TIMEOUT_EXCEEDED (an ON CLUSTER statement waiting for a host that is down)
    198, // DNS_ERROR
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    225, // NO_ZOOKEEPER
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY (a replicated table without ZooKeeper)
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    285, // TOO_FEW_LIVE_REPLICAS
    286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    999, // KEEPER_EXCEPTION
    1000, // POCO_EXCEPTION (18.16: "Connection refused" to a shard)
];

/// `UNKNOWN_TABLE` and `UNKNOWN_DATABASE`: the schema changed under the statement (retried once
/// after the cached schema is dropped).
pub const UNKNOWN_OBJECT: &[u32] = &[60, 81];

/// A failure ClickHouse answered, with its code.
pub fn error_code(e: &BackendError) -> Option<u32> {
    let text = match e {
        BackendError::Internal(t) | BackendError::Unavailable(t) => t,
        _ => return None,
    };
    let i = text.find("Code: ")?;
    let digits: String = text[i + 6..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn classify(status: u16, text: &str) -> BackendError {
    let mut text = text.trim().to_string();
    if text.len() > 1024 {
        let mut cut = 1024;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let msg = format!("clickhouse: {text}");
    let code = error_code(&BackendError::Internal(msg.clone()));
    match code {
        Some(c) if UNAVAILABLE.contains(&c) => BackendError::Unavailable(msg),
        None if status >= 500 => BackendError::Unavailable(msg),
        _ => BackendError::Internal(msg),
    }
}

fn net_err(e: reqwest::Error) -> BackendError {
    crate::backend::net_error("clickhouse", e)
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub user: String,
    pub password: String,
    /// Per request (for a streamed answer: per piece read).
    pub timeout: Duration,
    /// CA and client certificate for an `https://` URL.
    pub tls: crate::backend::tls::StoreTls,
}

pub struct Client {
    http: reqwest::Client,
    io: Option<tokio::runtime::Handle>,
    base: String,
    opts: ClientOptions,
    /// HTTP requests sent (statements and inserts), for `/metrics`.
    requests: std::sync::atomic::AtomicU64,
}

/// The body of an answer, read piece by piece.
pub struct Answer {
    resp: reqwest::Response,
    timeout: Duration,
}

impl Answer {
    /// The next piece; `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        match tokio::time::timeout(self.timeout, self.resp.chunk()).await {
            Err(_) => Err(BackendError::Timeout("clickhouse: answer timed out".into())),
            Ok(Err(e)) => Err(net_err(e)),
            Ok(Ok(c)) => Ok(c),
        }
    }

    /// The whole body, at most `max` bytes.
    pub async fn all(mut self, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            if out.len() + c.len() > max {
                return Err(BackendError::Internal(format!("clickhouse: answer larger than {max} bytes")));
            }
            out.extend_from_slice(&c);
        }
        Ok(out)
    }
}

/// The largest answer read whole (catalog lists, DDL answers).
pub const MAX_SMALL_ANSWER: usize = 256 << 20;

impl Client {
    pub fn new(url: &str, opts: ClientOptions) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        let http = crate::backend::http_client("clickhouse", &base, &opts.tls, opts.timeout, Duration::from_secs(30))?;
        Ok(Client { http, io: tokio::runtime::Handle::try_current().ok(), base, opts, requests: Default::default() })
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn send(&self, params: &[(&str, &str)], body: Bytes, whole: bool) -> Result<reqwest::Response> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut rb = self
            .http
            .post(format!("{}/", self.base))
            .query(params)
            .basic_auth(&self.opts.user, Some(&self.opts.password))
            .body(body);
        if whole {
            rb = rb.timeout(self.opts.timeout);
        }
        let sent = match &self.io {
            Some(h) => h.spawn(rb.send()).await.map_err(|e| BackendError::Internal(format!("clickhouse: request task: {e}")))?,
            None => rb.send().await,
        };
        let resp = sent.map_err(net_err)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body = Answer { resp, timeout: self.opts.timeout }.all(64 << 10).await.unwrap_or_default();
        Err(classify(status, &String::from_utf8_lossy(&body)))
    }

    /// A statement whose answer is read whole (DDL, catalog lists).
    pub async fn run(&self, sql: &str, settings: &[(&str, String)]) -> Result<Vec<u8>> {
        let resp = self.stream(sql, settings).await?;
        resp.all(MAX_SMALL_ANSWER).await
    }

    /// A statement whose answer is read piece by piece.
    pub async fn stream(&self, sql: &str, settings: &[(&str, String)]) -> Result<Answer> {
        let mut params: Vec<(&str, &str)> = vec![("wait_end_of_query", "1")];
        params.extend(settings.iter().map(|(k, v)| (*k, v.as_str())));
        let resp = self.send(&params, Bytes::copy_from_slice(sql.as_bytes()), false).await?;
        Ok(Answer { resp, timeout: self.opts.timeout })
    }

    /// `INSERT INTO <target> FORMAT RowBinary` with `rows` as its data (shared: a retry sends the
    /// same buffer).
    pub async fn insert(&self, target: &str, rows: impl Into<Bytes>, settings: &[(&str, String)]) -> Result<()> {
        let sql = format!("INSERT INTO {target} FORMAT RowBinary");
        let mut params: Vec<(&str, &str)> = vec![("query", sql.as_str())];
        params.extend(settings.iter().map(|(k, v)| (*k, v.as_str())));
        let resp = self.send(&params, rows.into(), true).await?;
        Answer { resp, timeout: self.opts.timeout }.all(64 << 10).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let e = classify(500, "Code: 279, e.displayText() = DB::NetException: All connection tries failed");
        assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
        assert_eq!(error_code(&e), Some(279));
        let e = classify(500, "Code: 62. DB::Exception: Syntax error (SYNTAX_ERROR)");
        assert!(matches!(e, BackendError::Internal(_)), "{e:?}");
        assert_eq!(error_code(&e), Some(62));
        assert!(matches!(classify(502, "bad gateway"), BackendError::Unavailable(_)));
        assert!(matches!(classify(404, "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist"), BackendError::Internal(_)));
    }
}
