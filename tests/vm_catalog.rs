//! Catalog answers kept between statements on the VictoriaMetrics backend (`catalog_ttl_ms`,
//! `catalog_max_bytes`, `statement_memo_bytes`; see `backend::victoriametrics::memo`): fewer
//! requests, the same answers; influxgate's own writes seen at once, writes straight to
//! VictoriaMetrics within the TTL; both memory bounds exceeded without changing an answer.
//! Needs `/usr/bin/victoria-metrics` (Debian package `victoria-metrics`).

mod common;

use std::time::Duration;

use common::vm::Vm;

use influxgate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
use influxgate::backend::{Backend, WriteBatch};
use influxgate::query::{execute, QueryContext};

const T0: i64 = 1_704_067_200_000_000_000;
const S: i64 = 1_000_000_000;

fn backend(vm: &Vm, ttl_ms: u64, shared_bytes: usize, statement_bytes: usize) -> VictoriaMetricsBackend {
    let opts = VmOptions {
        catalog_ttl: Duration::from_millis(ttl_ms),
        catalog_max_bytes: shared_bytes,
        statement_memo_bytes: statement_bytes,
        ..VmOptions::default()
    };
    VictoriaMetricsBackend::new(&vm.url, opts).expect("backend")
}

fn counter(b: &VictoriaMetricsBackend, name: &str) -> u64 {
    b.counters().into_iter().find(|c| c.name == name).map(|c| c.value).unwrap_or_else(|| panic!("no counter {name}"))
}

fn requests(b: &VictoriaMetricsBackend) -> u64 {
    counter(b, "influxgate_vm_catalog_requests_total")
}

fn reused(b: &VictoriaMetricsBackend) -> u64 {
    counter(b, "influxgate_vm_catalog_answers_reused_total")
}

async fn write(b: &dyn Backend, lines: &str) {
    let points = influxgate::lineproto::parse_body_str(lines, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    b.write(WriteBatch { db: "db".into(), rp: None, points: points.iter().collect() }).await.unwrap();
}

/// `cpu` of hosts `hosts`, two fields, a point every 10 s for 10 minutes.
fn cpu(hosts: std::ops::Range<usize>) -> String {
    let mut s = String::new();
    for i in 0..60i64 {
        for h in hosts.clone() {
            s.push_str(&format!("cpu,host=h{h} usage_user={},usage_system={} {}\n", i + h as i64, 60 - i, T0 + i * 10 * S));
        }
    }
    s
}

async fn run(b: &dyn Backend, q: &str) -> String {
    let parsed = influxgate::influxql::parse_query(q).unwrap();
    let ctx = QueryContext::admin(Some("db"));
    let r = execute(b, &ctx, &parsed).await.expect("store");
    assert!(r.iter().all(|r| r.error.is_none()), "{q}: {r:?}");
    format!("{:?}", r.iter().map(|r| (&r.error, &r.series)).collect::<Vec<_>>())
}

const QUERIES: &[&str] = &[
    "SELECT max(usage_user) FROM cpu WHERE host = 'h1' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z' GROUP BY time(1m)",
    "SELECT * FROM cpu WHERE usage_user > 30 AND host = 'h0' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z'",
    "SELECT last(*) FROM cpu GROUP BY *",
    "SHOW SERIES",
    "SHOW MEASUREMENTS",
];

/// Each query's answer, run twice in a row; the catalog requests the runs made.
async fn answers(b: &VictoriaMetricsBackend) -> (Vec<String>, u64) {
    let before = requests(b);
    let mut out = Vec::new();
    for _ in 0..2 {
        for q in QUERIES {
            out.push(run(b, q).await);
        }
    }
    (out, requests(b) - before)
}

/// Kept answers save requests and change no answer; the bounds exceeded change no answer either.
#[tokio::test]
async fn kept_answers_same_answers_fewer_requests() {
    let vm = Vm::start(&["-search.latencyOffset=0s"]);
    let per_statement = backend(&vm, 0, 16 << 20, 16 << 20);
    write(&per_statement, &cpu(0..3)).await;
    let (want, asked_per_statement) = answers(&per_statement).await;
    assert!(want.iter().all(|a| a.contains("values: [[")), "every query answers rows: {want:?}");

    let kept = backend(&vm, 60_000, 16 << 20, 16 << 20);
    let (got, asked_kept) = answers(&kept).await;
    assert_eq!(got, want);
    assert!(reused(&kept) > 0);
    assert!(asked_kept < asked_per_statement, "kept {asked_kept}, per statement {asked_per_statement}");

    // catalog_max_bytes exceeded by every answer: nothing kept between statements.
    let tiny_shared = backend(&vm, 60_000, 16, 16 << 20);
    let (got, asked) = answers(&tiny_shared).await;
    assert_eq!(got, want);
    assert_eq!(reused(&tiny_shared), 0);
    assert_eq!(asked, asked_per_statement);

    // statement_memo_bytes exceeded: each statement asks again what it asked already.
    let tiny_statement = backend(&vm, 0, 16 << 20, 16);
    let (got, asked) = answers(&tiny_statement).await;
    assert_eq!(got, want);
    assert!(asked > asked_per_statement, "{asked} requests without the statement memo, {asked_per_statement} with it");
}

/// influxgate's own writes and deletes are seen by the next statement, whatever the TTL; a
/// series written straight to VictoriaMetrics within the TTL.
#[tokio::test]
async fn own_writes_at_once_direct_writes_within_ttl() {
    let vm = Vm::start(&["-search.latencyOffset=0s"]);
    let b = backend(&vm, 600_000, 16 << 20, 16 << 20);
    write(&b, &cpu(0..2)).await;
    let show = "SHOW SERIES FROM cpu";
    let q = "SELECT count(usage_user) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z' GROUP BY host";
    assert!(!run(&b, show).await.contains("h2"));
    run(&b, q).await;
    let seen = reused(&b);
    assert!(!run(&b, q).await.contains("h2"));
    assert!(reused(&b) > seen, "the second statement reused answers");

    // Through influxgate: at once.
    write(&b, &cpu(2..3)).await;
    assert!(run(&b, show).await.contains("cpu,host=h2"));
    assert!(run(&b, q).await.contains("\"h2\""));
    write(&b, "mem,host=h0 free=1 1704067200000000000\n").await;
    assert!(run(&b, "SHOW MEASUREMENTS").await.contains("mem"));
    run(&b, "DROP SERIES FROM cpu WHERE host = 'h2'").await;
    assert!(!run(&b, show).await.contains("h2"));
    assert!(!run(&b, q).await.contains("\"h2\""));

    // Straight to VictoriaMetrics: within the TTL (here 300 ms).
    let short = backend(&vm, 300, 16 << 20, 16 << 20);
    assert!(!run(&short, q).await.contains("\"h3\""));
    let http = reqwest::Client::new();
    let r = http.post(format!("{}/write?db=db", vm.url)).body(cpu(3..4)).send().await.unwrap();
    assert!(r.status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(run(&short, q).await.contains("\"h3\""));
    assert!(run(&short, show).await.contains("cpu,host=h3"));
    // A database too.
    let r = http.post(format!("{}/write?db=db2", vm.url)).body(cpu(0..1)).send().await.unwrap();
    assert!(r.status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(run(&short, "SHOW DATABASES").await.contains("db2"));
}

/// Statements naming another host each (TSBS' `single-groupby-1-1-1`) are answered from the
/// measurement's whole series listing, asked once and filtered here: the same answers as the
/// predicate's own request (`statement_memo_bytes` too small for the whole listing forces that
/// request), and no series request after the first statement.
#[tokio::test]
async fn tag_predicates_answered_from_the_whole_listing() {
    let vm = Vm::start(&["-search.latencyOffset=0s"]);
    let kept = backend(&vm, 60_000, 16 << 20, 16 << 20);
    write(&kept, &cpu(0..6)).await;
    let range = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z'";
    let mut queries = Vec::new();
    for pred in ["host = 'h0'", "host = 'h1'", "host = 'h2' OR host = 'h5'", "host != 'h3'", "host =~ /h[14]/", "host = 'none'"] {
        queries.push(format!("SELECT max(usage_user) FROM cpu WHERE ({pred}) AND {range} GROUP BY time(1m), host"));
        queries.push(format!("SHOW SERIES FROM cpu WHERE {pred}"));
        queries.push(format!("SELECT usage_system FROM cpu WHERE ({pred}) AND {range} GROUP BY host LIMIT 2"));
    }
    let filtered = backend(&vm, 0, 16 << 20, 16);
    let (mut want, mut got) = (Vec::new(), Vec::new());
    run(&kept, &queries[0]).await;
    // SHOW SERIES reads the catalog outside a statement's view (no kept answers).
    let mut select_requests = 0;
    let before_filtered = requests(&filtered);
    for q in &queries {
        want.push(run(&filtered, q).await);
        let r0 = requests(&kept);
        got.push(run(&kept, q).await);
        if q.starts_with("SELECT") {
            select_requests += requests(&kept) - r0;
        }
    }
    assert_eq!(got, want);
    assert!(want[0].contains("\"h0\"") && !want[0].contains("\"h1\""), "{}", want[0]);
    assert!(want[3].contains("\"h1\"") && !want[3].contains("\"h0\""), "{}", want[3]);
    assert!(want[6].contains("\"h5\"") && !want[6].contains("\"h1\""), "{}", want[6]);
    assert!(!want[9].contains("h3") && want[9].contains("h4"), "{}", want[9]);
    assert!(!want[15].contains("values: [["), "no host 'none': {}", want[15]);
    // One: the whole listing of `usage_system` (the scans'); the others from the measurement's.
    assert_eq!(select_requests, 1, "every listing from a kept one");
    assert!(requests(&filtered) - before_filtered >= queries.len() as u64, "one request per statement at least");
}

/// A measurement with more series than VictoriaMetrics lists at once (`-search.maxSeries`):
/// its whole listing is refused, the predicate's own request answers.
#[tokio::test]
async fn whole_listing_past_max_series_asks_the_predicate() {
    let vm = Vm::start(&["-search.latencyOffset=0s", "-search.maxSeries=4"]);
    let b = backend(&vm, 60_000, 16 << 20, 16 << 20);
    write(&b, &cpu(0..4)).await;
    for h in 0..4 {
        let q = format!("SELECT max(usage_user) FROM cpu WHERE host = 'h{h}' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z' GROUP BY time(1m)");
        assert!(run(&b, &q).await.contains("values: [["), "{q}");
    }
    // A regex condition too: without it the request would list every series, and be refused.
    for h in 0..4 {
        let q = format!("SELECT max(usage_user) FROM cpu WHERE host =~ /^h{h}$/ AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z' GROUP BY time(1m)");
        assert!(run(&b, &q).await.contains("values: [["), "{q}");
    }
}
