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
    Gate::start_with(cfg)
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

    // Lines written straight to VictoriaMetrics (as Telegraf would) are readable too.
    let http = common::client();
    let resp = http
        .post(format!("{}/write?db=direct", vm.url))
        .body("disk,path=/ used_percent=42.5 1704067200000000000\n")
        .send()
        .unwrap();
    assert!(resp.status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().unwrap();
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

    // VictoriaMetrics down: 503s.
    vm.stop();
    let r = api.write("telegraf", "cpu,host=a usage_user=3 1704067202000000000\n");
    assert_eq!(r.status, 503, "{}", r.describe());
    println!("503 answer: {} retry-after={:?}", r.text(), r.header("retry-after"));
    assert!(r.header("retry-after").is_some());
    let r = api.get("/health");
    println!("/health: {}", r.describe());
    assert_ne!(r.status, 200, "{}", r.describe());
}
