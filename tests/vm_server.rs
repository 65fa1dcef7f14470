//! `influxgate serve` with the VictoriaMetrics backend, end to end over HTTP, against a real
//! `victoria-metrics` (Debian package `victoria-metrics`).

mod common;


use common::vm::Vm;
use common::{Gate, GateConfig};


fn gate(vm: &Vm) -> Gate {
    let mut cfg = GateConfig::new();
    cfg.backend.push("kind = \"victoriametrics\"".into());
    cfg.backend.push(format!("url = {:?}", vm.url));
    cfg.backend.push("timeout = \"2s\"".into());
    // Without the write spool, so that a store outage shows as 503s (with it, writes are kept and
    // answered 204: tests/spool.rs).
    Gate::start_with(cfg.raw("[spool]\nenabled = false"))
}

#[test]
fn write_query_errors_and_restart() {
    let mut vm = Vm::start(&["-search.latencyOffset=0s"]);
    let mut g = gate(&vm);
    let api = g.admin();

    let r = api.write(
        "telegraf",
        "cpu,host=a,cpu=cpu0 usage_user=1.5,usage_idle=90i 1704067200000000000\n\
         net_response,server=x response_time=0.25,result_code=0i 1704067200000000000\n",
    );
    assert_eq!(r.status, 204, "{}", r.describe());

    let r = api.query("SELECT * FROM cpu", "telegraf");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(
        r.json()["results"][0]["series"][0],
        serde_json::json!({"name": "cpu", "columns": ["time", "cpu", "host", "usage_idle", "usage_user"],
            "values": [[1704067200000000000i64, "cpu0", "a", 90, 1.5]]})
    );
    let r = api.query("SHOW MEASUREMENTS", "telegraf");
    assert_eq!(r.json()["results"][0]["series"][0]["values"], serde_json::json!([["cpu"], ["net_response"]]));

    // Strings are refused with 400 naming the field; nothing of the batch is stored.
    // The line is named: line 3 (after a comment line) holds the string.
    let r = api.write(
        "telegraf",
        "cpu,host=b usage_user=2 1704067201000000000\n# a comment\ncpu,host=b msg=\"hi\" 1704067201000000000\n",
    );
    assert_eq!(r.status, 400, "{}", r.describe());
    let e = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(e.contains("field \"msg\" on measurement \"cpu\" is a string"), "{e}");
    assert!(e.starts_with("line 3: "), "{e}");
    assert_eq!(r.json()["line"], serde_json::json!(3));
    let r = api.query("SELECT count(usage_user) FROM cpu", "telegraf");
    assert_eq!(r.json()["results"][0]["series"][0]["values"][0][1], serde_json::json!(1));

    // Lines written straight to VictoriaMetrics (as Telegraf would) are readable too, once the
    // catalog answers influxgate keeps between statements (`catalog_ttl_ms`, 1 s by default) are
    // past: the database list the SELECT above read does not hold `direct` yet.
    let http = common::client();
    let resp = http
        .post(format!("{}/write?db=direct", vm.url))
        .body("disk,path=/ used_percent=42.5 1704067200000000000\n")
        .send()
        .unwrap();
    assert!(resp.status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = api.query("SELECT used_percent FROM disk", "direct");
    assert_eq!(r.json()["results"][0]["series"][0]["values"], serde_json::json!([[1704067200000000000i64, 42.5]]));

    // The measurement/field split survives a restart (catalog file in the data directory).
    g.restart();
    let api = g.admin();
    let r = api.query("SHOW FIELD KEYS FROM net_response", "telegraf");
    assert_eq!(
        r.json()["results"][0]["series"][0]["values"],
        serde_json::json!([["response_time", "float"], ["result_code", "float"]])
    );

    // VictoriaMetrics down, no spool: 503s.
    vm.stop();
    let r = api.write("telegraf", "cpu,host=a usage_user=3 1704067202000000000\n");
    assert_eq!(r.status, 503, "{}", r.describe());
    println!("503 answer: {} retry-after={:?}", r.text(), r.header("retry-after"));
    assert!(r.header("retry-after").is_some());
    let r = api.get("/health");
    println!("/health: {}", r.describe());
    assert_ne!(r.status, 200, "{}", r.describe());
}

/// The `influxgate_backend_errors_total` counter of `/metrics`.
fn backend_errors(g: &Gate) -> f64 {
    common::Api::new(&g.url)
        .get("/metrics")
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("influxgate_backend_errors_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A store failing is not a statement's error: every kind of query answers 503 with `Retry-After`
/// and the JSON error body (as a write does), counted in /metrics; once an answer is streaming,
/// the failure goes into the stream as 1.x puts a statement's error there.
#[test]
fn store_outage_during_queries_answers_503() {
    let mut vm = Vm::start(&["-search.latencyOffset=0s"]);
    let mut cfg = GateConfig::new().raw("[query]\nstream_window_points = 200");
    cfg.backend.push("kind = \"victoriametrics\"".into());
    cfg.backend.push(format!("url = {:?}", vm.url));
    cfg.backend.push("timeout = \"2s\"".into());
    let g = Gate::start_with(cfg);
    let api = g.admin();
    let t0 = 1_704_067_200_000_000_000i64;
    for part in 0..4 {
        let mut body = String::new();
        for i in 0..50_000i64 {
            let n = part * 50_000 + i;
            body.push_str(&format!("cpu,host=h{} usage_user={} {}\n", n % 4, n % 100, t0 + n * 1_000_000_000));
        }
        assert_eq!(api.write("db", &body).status, 204);
    }
    // During: a chunked answer is streaming when the store goes away; it ends with the error.
    let client = common::client();
    let mut resp = client
        .get(format!("{}/query", g.url))
        .header("Authorization", format!("Token {}", common::ADMIN_TOKEN))
        .query(&[("db", "db"), ("q", "SELECT * FROM cpu"), ("chunked", "true"), ("chunk_size", "100")])
        .send()
        .expect("query");
    assert_eq!(resp.status(), 200);
    let mut first = [0u8; 4096];
    let n = std::io::Read::read(&mut resp, &mut first).expect("first bytes");
    assert!(n > 0);
    vm.stop();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut resp, &mut rest);
    let tail = String::from_utf8_lossy(&rest[rest.len().saturating_sub(600)..]).into_owned();
    assert!(tail.contains("\"error\""), "the stream did not end with the store's error: …{tail}");
    // Before: every query shape answers 503.
    let before = backend_errors(&g);
    let shapes: [&[(&str, &str)]; 5] = [
        &[("q", "SELECT * FROM cpu")],
        &[("q", "SELECT * FROM cpu"), ("chunked", "true")],
        &[("q", "SELECT mean(usage_user) FROM cpu WHERE time >= 0 GROUP BY time(1h), host")],
        &[("q", "SHOW MEASUREMENTS")],
        &[("q", "SHOW TAG VALUES WITH KEY = \"host\"")],
    ];
    for params in shapes {
        let mut all = params.to_vec();
        all.push(("db", "db"));
        let r = api.send("GET", "/query", &all, &[], None);
        assert_eq!(r.status, 503, "{params:?}: {}", r.describe());
        assert!(r.header("retry-after").is_some(), "{params:?}");
        assert!(r.json().get("error").and_then(|e| e.as_str()).is_some_and(|e| !e.is_empty()), "{params:?}: {}", r.describe());
    }
    assert!(backend_errors(&g) >= before + 5.0, "store errors not counted: {} -> {}", before, backend_errors(&g));
}

/// A store failing in the statement's first request to it — here the aggregate itself, its
/// catalog answers kept from the statement before (`catalog_ttl_ms`) — is still a store error:
/// 503 with `Retry-After`, not a 200 carrying the error as the statement's.
#[test]
fn store_failing_first_at_the_aggregate_answers_503() {
    let mut vm = Vm::start(&["-search.latencyOffset=0s"]);
    let mut cfg = GateConfig::new();
    cfg.backend.push("kind = \"victoriametrics\"".into());
    cfg.backend.push(format!("url = {:?}", vm.url));
    cfg.backend.push("timeout = \"2s\"".into());
    cfg.backend.push("victoriametrics.catalog_ttl_ms = 600000".into());
    let g = Gate::start_with(cfg);
    let api = g.admin();
    let t0 = 1_704_067_200_000_000_000i64;
    let body: String = (0..600i64).map(|n| format!("cpu,host=h{} usage_user={} {}\n", n % 4, n % 100, t0 + n * 1_000_000_000)).collect();
    assert_eq!(api.write("db", &body).status, 204);
    let shapes = ["SELECT mean(usage_user) FROM cpu WHERE time >= 0 GROUP BY time(1h), host", "SELECT max(usage_user) FROM cpu"];
    for q in shapes {
        let r = api.send("GET", "/query", &[("db", "db"), ("q", q)], &[], None);
        assert_eq!(r.status, 200, "{q}: {}", r.describe());
        assert!(!r.text().contains("\"error\""), "{q}: {}", r.describe());
    }
    vm.stop();
    for q in shapes {
        let r = api.send("GET", "/query", &[("db", "db"), ("q", q)], &[], None);
        assert_eq!(r.status, 503, "{q}: {}", r.describe());
        assert!(r.header("retry-after").is_some(), "{q}");
    }
}
