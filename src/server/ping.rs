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
    let spool = state.spool.as_ref().map(|s| s.health());
    if let Some(message) = spool.and_then(|h| degraded(&checked, h)) {
        return json_response(
            StatusCode::OK,
            &json!({ "name": "influxgate", "message": message, "status": "degraded", "checks": [], "version": INFLUXDB_VERSION }),
        );
    }
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

/// `degraded` (answered 200): writes are spooled, not yet in the store — the store is down but the
/// spool takes writes, or it is back and the spool is being replayed. 200, because influxgate still
/// takes every write durably: a load balancer (which takes any 2xx as healthy and a 5xx as a reason
/// to stop sending) or an orchestrator's readiness probe should keep sending writes to it rather
/// than to nowhere. `None`: `pass` or `fail` as without a spool (`fail` when the spool is full too).
fn degraded(checked: &Result<(), ServerError>, h: crate::spool::Health) -> Option<String> {
    let spooled = h.pending_points;
    match checked {
        Err(e) if !h.full => Some(format!(
            "the store is unavailable ({}): writes are spooled ({spooled} points, {} of {} bytes), reads fail",
            e.message(),
            h.bytes,
            h.max_bytes
        )),
        Err(_) => None,
        Ok(()) if spooled > 0 || h.store_down => {
            Some(format!("{spooled} spooled points are being written to the store; reads may miss them"))
        }
        Ok(()) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degraded_while_spooling() {
        let h = crate::spool::Health { pending_points: 5, bytes: 100, max_bytes: 1000, store_down: true, full: false };
        let down: Result<(), ServerError> = Err(ServerError::Backend(BackendError::Unavailable("refused".into())));
        assert!(degraded(&down, h).unwrap().contains("(backend unavailable: refused): writes are spooled (5 points"));
        assert_eq!(degraded(&down, crate::spool::Health { full: true, ..h }), None, "full: fail");
        assert!(degraded(&Ok(()), h).unwrap().starts_with("5 spooled points"));
        let idle = crate::spool::Health { pending_points: 0, store_down: false, ..h };
        assert_eq!(degraded(&Ok(()), idle), None);
    }

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
