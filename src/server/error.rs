//! Every error the HTTP layer can answer with, mapped to a status and a JSON body in one place.
//!
//! Bodies follow the v1 contract's `Error` shape (`code`, `message`) and also carry `error`, the
//! key InfluxDB 1.x clients (Telegraf, client libraries) read. Client mistakes are 4xx, failures of
//! the store are 503 (with `Retry-After`), only influxgate's own faults are 500.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::backend::{BackendError, Origin};

use super::{full, Body};

#[derive(Debug, Clone)]
pub enum ServerError {
    /// A malformed request: missing/invalid parameter, unreadable body. 400 `invalid`.
    BadRequest(String),
    /// Line protocol that does not parse. 400 with `op`, `err`, `line`.
    LineProtocol { message: String, line: usize },
    /// Body larger than the limit, compressed or decompressed. 413.
    PayloadTooLarge { max: u64 },
    /// A `Content-Encoding` other than gzip/identity. 415.
    UnsupportedEncoding(String),
    /// 405, with the methods allowed.
    MethodNotAllowed { allow: &'static str },
    /// No such endpoint. 404.
    NotFound,
    /// No credentials were sent. 403.
    Forbidden(String),
    /// Unknown token, or a token without the needed permission. 401.
    Unauthorized(String),
    /// Per-token quota exceeded. 429 + Retry-After.
    TooManyRequests { message: String, retry_after: Duration },
    /// influxgate is at capacity (in-flight requests or buffered bytes). 503 + Retry-After.
    Overloaded { message: String, retry_after: Duration },
    /// The request body did not arrive within `limits.body_timeout`. 408.
    BodyTimeout { after: Duration },
    /// Something influxgate does not do (yet). 501.
    NotImplemented(String),
    /// A store error; status by its origin and kind.
    Backend(BackendError),
    /// influxgate's own fault. 500.
    Internal(String),
}

impl From<BackendError> for ServerError {
    fn from(e: BackendError) -> Self {
        ServerError::Backend(e)
    }
}

/// Retry-After for store failures (unavailable / timeout).
const BACKEND_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `Retry-After` in whole seconds: rounded up, never below 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::BadRequest(_) | ServerError::LineProtocol { .. } => StatusCode::BAD_REQUEST,
            ServerError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServerError::NotFound => StatusCode::NOT_FOUND,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServerError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServerError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ServerError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ServerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServerError::Backend(e) => match e {
                // 1.x: writing to a database that does not exist is 404.
                BackendError::DatabaseNotFound(_) => StatusCode::NOT_FOUND,
                // 1.x answers 500 for an unknown `rp` on /write; it is the client's mistake, so 400.
                BackendError::RetentionPolicyNotFound(_) => StatusCode::BAD_REQUEST,
                BackendError::RetentionPolicyConflict(_) => StatusCode::CONFLICT,
                BackendError::Unsupported(_) => StatusCode::BAD_REQUEST,
                _ => match e.origin() {
                    Origin::Downstream => StatusCode::BAD_REQUEST,
                    Origin::Upstream => StatusCode::SERVICE_UNAVAILABLE,
                    Origin::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                },
            },
        }
    }

    /// The contract's `code` word.
    pub fn code(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::REQUEST_TIMEOUT => "invalid",
            StatusCode::NOT_FOUND => "not found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::TOO_MANY_REQUESTS => "too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal error",
        }
    }

    /// The human text, as 1.x words it where 1.x has the case.
    pub fn message(&self) -> String {
        match self {
            ServerError::BadRequest(m)
            | ServerError::Forbidden(m)
            | ServerError::Unauthorized(m)
            | ServerError::NotImplemented(m)
            | ServerError::Internal(m) => m.clone(),
            ServerError::LineProtocol { message, .. } => message.clone(),
            ServerError::PayloadTooLarge { max } => {
                format!("request body too large: the limit is {max} bytes (compressed and decompressed)")
            }
            ServerError::UnsupportedEncoding(enc) => {
                format!("unsupported Content-Encoding {enc:?}: use gzip or identity")
            }
            ServerError::MethodNotAllowed { .. } => "Method Not Allowed".into(),
            ServerError::BodyTimeout { after } => {
                format!("request body not received within {}s", after.as_secs_f64())
            }
            ServerError::NotFound => "404 page not found".into(),
            ServerError::TooManyRequests { message, .. } | ServerError::Overloaded { message, .. } => message.clone(),
            ServerError::Backend(e) => match e {
                // 1.x quotes the name here.
                BackendError::DatabaseNotFound(db) => format!("database not found: {db:?}"),
                other => other.to_string(),
            },
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ServerError::TooManyRequests { retry_after, .. } | ServerError::Overloaded { retry_after, .. } => {
                Some(*retry_after)
            }
            ServerError::Backend(e) if e.origin() == Origin::Upstream => Some(BACKEND_RETRY_AFTER),
            _ => None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let message = self.message();
        let mut m = Map::new();
        m.insert("code".into(), json!(self.code()));
        m.insert("message".into(), json!(message));
        match self {
            ServerError::LineProtocol { line, .. } => {
                m.insert("op".into(), json!("write"));
                m.insert("err".into(), json!(message));
                m.insert("line".into(), json!(line));
            }
            ServerError::PayloadTooLarge { max } => {
                m.insert("maxLength".into(), json!(max));
            }
            _ => {}
        }
        m.insert("error".into(), json!(message));
        Value::Object(m)
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let body = self.body();
        let text = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = Response::new(full(text));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(d) = self.retry_after() {
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        match &self {
            ServerError::Unauthorized(_) => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"InfluxDB\""));
            }
            ServerError::MethodNotAllowed { allow } => {
                h.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        // 1.x repeats the error text in a header (first 1024 bytes); keep only what a header may hold.
        let msg = self.message();
        let short: String = msg
            .chars()
            .filter(|c| (' '..='~').contains(c))
            .take(1024)
            .collect();
        if let Ok(v) = HeaderValue::from_str(&short) {
            h.insert("X-Influxdb-Error", v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldType;

    #[test]
    fn retry_after_rounds_up_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(999)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_secs(Duration::new(7, 1)), 8);
    }

    #[test]
    fn statuses() {
        use ServerError::*;
        assert_eq!(BadRequest("x".into()).status(), 400);
        assert_eq!(LineProtocol { message: "x".into(), line: 1 }.status(), 400);
        assert_eq!(PayloadTooLarge { max: 1 }.status(), 413);
        assert_eq!(UnsupportedEncoding("br".into()).status(), 415);
        assert_eq!(Forbidden("x".into()).status(), 403);
        assert_eq!(Unauthorized("x".into()).status(), 401);
        assert_eq!(TooManyRequests { message: "x".into(), retry_after: Duration::ZERO }.status(), 429);
        assert_eq!(Overloaded { message: "x".into(), retry_after: Duration::ZERO }.status(), 503);
        assert_eq!(Internal("x".into()).status(), 500);
        assert_eq!(BodyTimeout { after: Duration::from_secs(1) }.status(), 408);
        let conflict = BackendError::FieldTypeConflict {
            measurement: "cpu".into(),
            field: "v".into(),
            input: FieldType::Integer,
            existing: FieldType::Float,
            dropped: 1,
        };
        assert_eq!(Backend(conflict.clone()).status(), 400);
        assert!(Backend(conflict).message().starts_with("partial write: field type conflict: "));
        assert_eq!(Backend(BackendError::DatabaseNotFound("d".into())).status(), 404);
        assert_eq!(Backend(BackendError::DatabaseNotFound("d".into())).message(), "database not found: \"d\"");
        assert_eq!(Backend(BackendError::RetentionPolicyNotFound("r".into())).status(), 400);
        assert_eq!(Backend(BackendError::Invalid("x".into())).status(), 400);
        assert_eq!(Backend(BackendError::Unavailable("x".into())).status(), 503);
        assert_eq!(Backend(BackendError::Timeout("x".into())).status(), 503);
        assert_eq!(Backend(BackendError::Internal("x".into())).status(), 500);
    }

    #[test]
    fn bodies_and_headers() {
        let e = ServerError::LineProtocol { message: "unable to parse 'x': bad".into(), line: 3 };
        let b = e.body();
        assert_eq!(b["code"], "invalid");
        assert_eq!(b["op"], "write");
        assert_eq!(b["line"], 3);
        assert_eq!(b["err"], b["error"]);
        assert_eq!(b["message"], b["error"]);

        let b = ServerError::PayloadTooLarge { max: 10 }.body();
        assert_eq!(b["maxLength"], 10);
        assert_eq!(b["code"], "invalid");

        let r = ServerError::TooManyRequests { message: "slow down".into(), retry_after: Duration::from_millis(1500) }
            .into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        let r = ServerError::Backend(BackendError::Timeout("t".into())).into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        let r = ServerError::Unauthorized("authorization failed".into()).into_response();
        assert!(r.headers().contains_key("www-authenticate"));
        assert_eq!(ServerError::Forbidden("x".into()).body()["code"], "forbidden");
        assert_eq!(
            ServerError::TooManyRequests { message: "x".into(), retry_after: Duration::ZERO }.body()["code"],
            "too many requests"
        );
    }
}
