//! `/ping`, `/health`, `/metrics`, and the `X-Request-Id` header on every answer.

mod common;
use common::*;

#[test]
fn ping_answers_204_with_version_headers_without_auth() {
    let g = Gate::start();
    let anon = Api::new(&g.url);
    for method in ["GET", "HEAD"] {
        let r = anon.send(method, "/ping", &[], &[], None);
        assert_eq!(r.status, 204, "{method} /ping: {}", r.describe());
        let v = r.header("X-Influxdb-Version").unwrap_or_default();
        assert!(!v.is_empty(), "{method} /ping: no X-Influxdb-Version header: {:?}", r.headers);
        assert!(r.body.is_empty(), "{method} /ping: 204 with a body");
    }
}

#[test]
fn health_answers_200() {
    let g = Gate::start();
    let r = Api::new(&g.url).get("/health");
    assert_eq!(r.status, 200, "/health: {}", r.describe());
    let v = r.json();
    assert!(v.get("status").is_some(), "/health body has no status: {v}");
}

#[test]
fn metrics_count_requests() {
    let g = Gate::start();
    let admin = g.admin();
    for _ in 0..3 {
        assert_eq!(admin.write("metricsdb", "m v=1 1").status, 204);
        assert_eq!(Api::new(&g.url).get("/ping").status, 204);
    }
    let r = admin.get("/metrics");
    assert_eq!(r.status, 200, "/metrics: {}", r.describe());
    let text = r.text();
    assert!(text.to_ascii_lowercase().contains("request"), "/metrics has no request counter:\n{text}");
    // Prometheus text format: every non-comment line is `name{labels} value`.
    let samples: Vec<&str> = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(!samples.is_empty(), "/metrics has no samples:\n{text}");
    for l in &samples {
        let value = l.rsplit(' ').next().unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "/metrics line without a numeric value: {l:?}");
    }
}

#[test]
fn every_answer_has_a_request_id() {
    let g = Gate::start();
    let admin = g.admin();
    let answers = [
        ("ping", Api::new(&g.url).get("/ping")),
        ("write ok", admin.write("ridb", "m v=1 1")),
        ("write bad", admin.write("ridb", "m v=")),
        ("write no auth", Api::new(&g.url).write("ridb", "m v=1 1")),
        ("query", admin.query("SHOW DATABASES", "")),
        ("not found", admin.get("/no/such/path")),
    ];
    let mut ids = Vec::new();
    for (what, r) in &answers {
        let id = r.header("X-Request-Id").unwrap_or_default();
        assert!(!id.is_empty(), "{what}: no X-Request-Id header ({}): {:?}", r.status, r.headers);
        ids.push(id);
    }
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len(), "request ids repeat: {ids:?}");
}

#[test]
fn unknown_path_is_404() {
    let g = Gate::start();
    let r = g.admin().get("/no/such/path");
    assert_eq!(r.status, 404, "{}", r.describe());
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let g = Gate::start();
    let admin = g.admin();
    for (method, path) in [("GET", "/write?db=x"), ("PUT", "/write?db=x"), ("DELETE", "/query?q=SHOW+DATABASES")] {
        let r = admin.send(method, path, &[], &[], None);
        assert_eq!(r.status, 405, "{method} {path}: {}", r.describe());
        let allow = r.header("Allow").unwrap_or_default();
        assert!(allow.contains("POST"), "{method} {path}: Allow {allow:?}");
    }
}
