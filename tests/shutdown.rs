//! Graceful shutdown: on SIGTERM the listener closes (a new connection is refused), a request in
//! progress finishes and is answered, the process exits 0, and every point acknowledged before is
//! there after a restart (embedded store). Past `server.shutdown_timeout`, requests still in
//! progress are cut and the process exits all the same.

mod common;
use common::raw::RawConn;
use common::*;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `n` lines of points `m,w=<tag> v=<i> <i>`.
fn lines(tag: &str, n: usize) -> String {
    (0..n).map(|i| format!("m,w={tag} v={i} {}\n", i + 1)).collect()
}

/// Waits until the server serves `n` requests (`influxgate_inflight_requests`, which does not count
/// the `/metrics` request itself): a request whose head and part of its body were sent is in
/// progress only once the server has accepted its connection and read its head, which a fixed
/// pause does not make sure of on a loaded machine.
fn wait_inflight(g: &Gate, n: f64) {
    let gauge = || {
        let text = g.admin().get("/metrics").text();
        text.lines().find_map(|l| l.strip_prefix("influxgate_inflight_requests ")?.trim().parse::<f64>().ok())
    };
    assert!(eventually(Duration::from_secs(20), || gauge() == Some(n)), "{n} requests never in progress: {:?}", gauge());
}

fn count(g: &Gate) -> i64 {
    let v = g.admin().query_ok("SELECT count(v) FROM m", "sd");
    rows(&v).first().and_then(|r| r.get(1)).and_then(|c| c.as_i64()).unwrap_or(0)
}

#[test]
fn in_flight_write_finishes_after_sigterm_new_connections_refused_exit_0_points_kept() {
    let mut g = Gate::start_with(GateConfig::new().log("level = \"info\""));
    for k in 0..5 {
        assert_eq!(g.admin().write("sd", &lines(&format!("fast{k}"), 200)).status, 204);
    }
    // A write whose body is half sent when SIGTERM arrives.
    let body = lines("slow", 2000);
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut conn = RawConn::connect(g.port).unwrap();
    let auth = format!("Token {ADMIN_TOKEN}");
    conn.start("POST", "/write?db=sd", &[("Authorization", &auth)], body.len()).unwrap();
    conn.send(first).unwrap();
    wait_inflight(&g, 1.0);

    g.signal(libc::SIGTERM);
    assert!(g.wait_output("shutting down", Duration::from_secs(10)), "{}", g.output());
    let refused = TcpStream::connect(("127.0.0.1", g.port));
    assert!(refused.is_err(), "a new connection was accepted after SIGTERM");

    std::thread::sleep(Duration::from_millis(300));
    conn.send(rest).unwrap();
    let r = conn.read_response().expect("the in-flight write is answered");
    assert_eq!(r.status, 204, "{}", r.body);
    let status = g.wait_exit(Duration::from_secs(20)).expect("the server exits after its last request");
    assert!(status.success(), "exit status {status}: {}", g.output());

    g.restart();
    assert_eq!(count(&g), 5 * 200 + 2000, "acknowledged points missing after restart");
}

#[test]
fn chunked_query_being_read_finishes_after_sigterm() {
    let mut g = Gate::start_with(GateConfig::new().log("level = \"info\""));
    const N: usize = 100_000;
    assert_eq!(g.admin().write("sd", &lines("big", N)).status, 204);
    let url = format!("{}/query?db=sd&chunked=true&chunk_size=100&q=SELECT+v+FROM+m", g.url);
    let mut resp = client().get(url).header("Authorization", format!("Token {ADMIN_TOKEN}")).send().expect("query");
    assert_eq!(resp.status().as_u16(), 200);
    let mut answer = vec![0u8; 4096];
    std::io::Read::read_exact(&mut resp, &mut answer).expect("the answer's first bytes");

    g.signal(libc::SIGTERM);
    assert!(g.wait_output("shutting down", Duration::from_secs(10)), "{}", g.output());
    std::thread::sleep(Duration::from_millis(300));
    std::io::Read::read_to_end(&mut resp, &mut answer).expect("the rest of the answer");
    let text = String::from_utf8_lossy(&answer);
    let values: usize = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|chunk| rows(&chunk).len())
        .sum();
    assert_eq!(values, N, "rows of the chunked answer read after SIGTERM");
    let status = g.wait_exit(Duration::from_secs(20)).expect("the server exits after the answer");
    assert!(status.success(), "exit status {status}");
}

#[test]
fn past_the_deadline_in_flight_requests_are_cut_and_the_process_exits() {
    let mut g = Gate::start_with(GateConfig::new().log("level = \"info\"").server("shutdown_timeout = \"1s\""));
    let mut conn = RawConn::connect(g.port).unwrap();
    let auth = format!("Token {ADMIN_TOKEN}");
    conn.start("POST", "/write?db=sd", &[("Authorization", &auth)], 1_000_000).unwrap();
    conn.send(lines("never", 100).as_bytes()).unwrap();
    wait_inflight(&g, 1.0);

    let t0 = Instant::now();
    g.signal(libc::SIGTERM);
    let status = g.wait_exit(Duration::from_secs(15)).expect("the server hangs on a request that never ends");
    let took = t0.elapsed();
    assert!(status.success(), "exit status {status}: {}", g.output());
    assert!(took >= Duration::from_millis(900), "exited before the deadline: {took:?}");
    assert!(g.output().contains("shutdown_timeout"), "{}", g.output());
    assert!(conn.read_response().is_err(), "the cut request got an answer");
}
