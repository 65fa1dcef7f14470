//! `/ping` and `/health`: no token needed.

use http::{Request, Response, StatusCode};
use serde_json::json;

use crate::backend::BackendError;

use super::error::ServerError;
use super::limits::config_duration;
use super::metrics::Metrics;
use super::{json_response, no_content, Body, State, INFLUXDB_VERSION};

/// `GET|HEAD /ping` → 204; `?verbose=true` (anything but empty, `0`, `false`) → 200 `{"version":..}`.
pub fn ping<B>(req: &Request<B>) -> Response<Body> {
    let verbose = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "verbose").map(|(_, v)| v.into_owned()))
        .is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    if verbose {
        json_response(StatusCode::OK, &json!({ "version": INFLUXDB_VERSION }))
    } else {
        no_content()
    }
}

/// `GET /health`: 200 `pass` when the backend answers within `backend.health_timeout`, else 503
/// `fail` with the reason (load balancers give up after a few seconds, long before the backend
/// timeout of other calls).
pub async fn health(state: &State) -> Response<Body> {
    let within = config_duration(state.config.backend.health_timeout);
    let checked = match tokio::time::timeout(within, state.backend_call("health check", state.backend.health())).await {
        Ok(r) => r,
        Err(_) => {
            Metrics::add(&state.metrics.backend_errors, 1);
            let after = within.as_secs_f64();
            Err(ServerError::Backend(BackendError::Timeout(format!("health check did not finish within {after}s"))))
        }
    };
    match checked {
        Ok(()) => json_response(
            StatusCode::OK,
            &json!({
                "name": "influxgate",
                "message": "ready for queries and writes",
                "status": "pass",
                "checks": [],
                "version": INFLUXDB_VERSION,
            }),
        ),
        Err(e) => {
            let mut r = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({
                    "name": "influxgate",
                    "message": e.message(),
                    "status": "fail",
                    "checks": [],
                    "version": INFLUXDB_VERSION,
                }),
            );
            r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_verbose() {
        let r = ping(&Request::get("/ping").body(()).unwrap());
        assert_eq!(r.status(), 204);
        let r = ping(&Request::get("/ping?verbose=true").body(()).unwrap());
        assert_eq!(r.status(), 200);
        let r = ping(&Request::get("/ping?verbose=false").body(()).unwrap());
        assert_eq!(r.status(), 204);
    }
}
