//! Connections as the attack surface: sockets held open without a request (idle, or trickling a
//! request head), answers never read, and more sockets than the server has file descriptors.
//! Bounds: `limits.idle_timeout`, `limits.send_timeout` and `limits.max_connections` with the
//! open-file limit (src/server/conn.rs, src/server/send_watch.rs).

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::common::*;
use super::raw::{self, closed_within, connect, eventually, is_closed, read_answer, slow_write};

/// `GET <path>` on a connection of its own (closed after the answer); its answer within 5 s.
fn get(port: u16, path: &str) -> Option<raw::RawAnswer> {
    let mut s = connect(port);
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    read_answer(&mut s, Duration::from_secs(5))
}

/// When the server closes `s`, waiting at most `within` (on a thread, so several are timed at once).
fn close_time(mut s: TcpStream, within: Duration) -> thread::JoinHandle<Option<Instant>> {
    thread::spawn(move || closed_within(&mut s, within).map(|_| Instant::now()))
}

/// Writes `n` points of a measurement with a long name (so each row of a chunked answer is long).
fn write_long_rows(g: &Gate, db: &str, measurement: &str, n: usize) {
    let body: String = (0..n).map(|i| format!("{measurement} v={i}i {}\n", 1_700_000_000_000_000_000i64 + i as i64)).collect();
    let r = g.admin().write(db, &body);
    assert_eq!(r.status, 204, "{}", r.describe());
}

/// Reads a chunked answer slowly: some of it, a pause longer than the idle timeout, then the rest.
/// Returns the whole body as received (chunk framing included).
fn read_slowly(s: &mut TcpStream, pause: Duration) -> Vec<u8> {
    use std::io::Read;
    let mut got = vec![0u8; 64 * 1024];
    let n = s.read(&mut got).expect("first part of the answer");
    got.truncate(n);
    thread::sleep(pause);
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut chunk = [0u8; 65536];
    while !got.ends_with(b"\r\n0\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got
}

#[test]
fn idle_connections_are_closed_after_idle_timeout_but_requests_in_progress_are_not() {
    let idle = Duration::from_secs(1);
    let g = Gate::start_with(GateConfig::new().limit("idle_timeout = \"1s\"").limit("header_timeout = \"30s\""));
    let within = Duration::from_secs(4);
    let mut timed = Vec::new();

    // A socket that sends nothing.
    timed.push(("silent", Instant::now(), close_time(connect(g.port), within)));
    // Slowloris: a request head trickled a line at a time (hyper's header timeout is 30 s here).
    let mut head = connect(g.port);
    head.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n").expect("head");
    let mut trickle = head.try_clone().expect("clone");
    let trickler = thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) && trickle.write_all(b"X-Slow: y\r\n").is_ok() {
            thread::sleep(Duration::from_millis(200));
        }
    });
    timed.push(("trickling a request head", Instant::now(), close_time(head, within)));
    // HTTP/1.1 keep-alive: one request answered, then nothing.
    let mut kept = connect(g.port);
    kept.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
    let answer = read_answer(&mut kept, Duration::from_secs(5)).expect("an answer to /ping");
    assert_eq!(answer.status, 204, "{answer:?}");
    timed.push(("keep-alive after an answer", Instant::now(), close_time(kept, within)));
    // HTTP/2 (prior knowledge): the preface and an empty SETTINGS frame, then nothing.
    let mut h2 = connect(g.port);
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").expect("h2 preface");
    timed.push(("HTTP/2 without a stream", Instant::now(), close_time(h2, within)));

    // Meanwhile, a request whose body takes longer than the idle timeout is served whole...
    let mut body_slowly = slow_write(g.port, ADMIN_TOKEN, "slowbody", 5 * 8, 8);
    for _ in 0..4 {
        thread::sleep(Duration::from_millis(600));
        body_slowly.write_all(b"m v=1 1\n").expect("more of the body");
    }
    let answer = read_answer(&mut body_slowly, Duration::from_secs(10)).expect("an answer to the slow write");
    assert_eq!(answer.status, 204, "{answer:?}");

    // ...and an answer read slowly (streamed, chunked) is not cut by the idle timeout.
    let m = format!("m{}", "x".repeat(200));
    let rows = 30_000;
    write_long_rows(&g, "stream", &m, rows);
    let mut q = connect(g.port);
    let req = format!(
        "GET /query?db=stream&chunked=true&chunk_size=1&q=SELECT+v+FROM+{m} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {ADMIN_TOKEN}\r\n\r\n"
    );
    q.write_all(req.as_bytes()).expect("query");
    let body = read_slowly(&mut q, idle * 3);
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("HTTP/1.1 200"), "{}", &text[..text.len().min(300)]);
    assert!(body.ends_with(b"\r\n0\r\n\r\n"), "the streamed answer was cut after {} bytes", body.len());
    assert_eq!(text.matches("\"values\"").count(), rows, "rows in the streamed answer");

    for (what, opened, closed) in timed {
        let closed = closed.join().expect("timer thread").unwrap_or_else(|| panic!("{what}: still open after {within:?}"));
        let after = closed - opened;
        assert!(after >= idle - Duration::from_millis(200) && after < within, "{what}: closed after {after:?}");
    }
    let _ = trickler.join();
    assert_eq!(get(g.port, "/ping").map(|a| a.status), Some(204));
}

/// Sends a chunked query (one row per chunk) on a connection of its own.
fn chunked_query(port: u16, db: &str, select: &str) -> TcpStream {
    let mut q = connect(port);
    let req = format!(
        "GET /query?db={db}&chunked=true&chunk_size=1&q={select} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {ADMIN_TOKEN}\r\n\r\n"
    );
    q.write_all(req.as_bytes()).expect("query");
    q
}

#[test]
fn an_answer_nobody_reads_is_dropped_after_send_timeout_a_slow_reader_is_not() {
    let g = Gate::start_with(GateConfig::new().limit("send_timeout = \"1s\""));
    let inflight = || raw::gauge(&g.url, "influxgate_inflight_requests");
    // ~10 MB of chunked answer: far more than the socket buffers on both sides hold.
    let m = format!("m{}", "x".repeat(200));
    let rows = 30_000;
    write_long_rows(&g, "unread", &m, rows);
    let select = format!("SELECT+v+FROM+{m}");

    // A client that sends the query and never reads: its request is in flight until the socket
    // is full and nothing moves for send_timeout; then the connection and the query are dropped.
    let unread = chunked_query(g.port, "unread", &select);
    let start = Instant::now();
    assert!(eventually(Duration::from_secs(10), || inflight() == 1.0), "the query never started");
    assert!(eventually(Duration::from_secs(15), || inflight() == 0.0), "the unread answer still holds its slot");
    let freed = start.elapsed();
    assert!(freed >= Duration::from_secs(1), "freed after {freed:?}, before send_timeout");
    drop(unread);

    // A client that reads slowly (at most 128 KiB every 100 ms, so the server waits on it most of
    // the time, for several send_timeouts in all) gets the whole answer.
    let mut slow = chunked_query(g.port, "unread", &select);
    let start = Instant::now();
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 128 * 1024];
    slow.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    while !body.ends_with(b"\r\n0\r\n\r\n") {
        match std::io::Read::read(&mut slow, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
        thread::sleep(Duration::from_millis(100));
    }
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&body);
    assert!(body.ends_with(b"\r\n0\r\n\r\n"), "the slowly read answer was cut after {} bytes, {took:?}", body.len());
    assert_eq!(text.matches("\"values\"").count(), rows, "rows in the slowly read answer");
    assert!(took >= Duration::from_secs(3), "read in {took:?}: not slow enough to matter");
    assert_eq!(inflight(), 0.0);
}

/// An influxgate run through `prlimit --nofile=N:N` (soft and hard open-file limit); killed on drop.
struct Limited {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_limited(nofile: u64, config: &str) -> Limited {
    let prlimit = require_program("prlimit", "util-linux");
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("config.toml");
    std::fs::write(&conf, format!("[log]\nlevel = \"warn\"\n{config}\n")).expect("config");
    let mut said = String::new();
    // A port picked by free_port() can be taken by someone else before it is bound: retry.
    for _ in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let mut child = Command::new(&prlimit)
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg(Gate::binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--admin-token", ADMIN_TOKEN, "--config"])
            .arg(&conf)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start influxgate under prlimit");
        let pid = child.id();
        let up = eventually(Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(None)) && port_open(port) && get(port, "/ping").is_some_and(|a| a.status == 204) && owns_listener(pid, port)
        });
        if up {
            assert!(Path::new(&format!("/proc/{pid}")).exists());
            return Limited { child, port, _dir: dir };
        }
        let _ = child.kill();
        let _ = child.wait();
        said = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        if !said.contains("in use") {
            break;
        }
    }
    panic!("influxgate did not start: {said}");
}

#[test]
fn connections_are_capped_below_the_open_file_limit() {
    // 300 open files: the cap in effect is 300 - 256 = 44 (max_connections is the default 4096).
    let cap = 44;
    let g = start_limited(300, "");

    // An attacker opens many more idle sockets than the server has file descriptors.
    let mut idle: Vec<TcpStream> = (0..400).map(|_| connect(g.port)).collect();
    // Everyone else is still served: /ping, a write, a query.
    assert_eq!(get(g.port, "/ping").map(|a| a.status), Some(204), "/ping while 400 sockets are held");
    let mut w = connect(g.port);
    let req = format!(
        "POST /write?db=fd HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {ADMIN_TOKEN}\r\nContent-Length: 7\r\n\r\nm v=1 1"
    );
    w.write_all(req.as_bytes()).expect("write");
    assert_eq!(read_answer(&mut w, Duration::from_secs(5)).map(|a| a.status), Some(204), "a write while 400 sockets are held");
    let q = get(g.port, "/query?q=SELECT+v+FROM+m&db=fd").expect("an answer to the query");
    assert_eq!(q.status, 200, "{q:?}");
    // Only the attacker's newest sockets are left open: the oldest idle ones made room.
    let settled = eventually(Duration::from_secs(10), || idle.iter_mut().map(is_closed).filter(|c| !c).count() <= cap);
    let open: Vec<usize> = (0..idle.len()).filter(|&i| !is_closed(&mut idle[i])).collect();
    assert!(settled, "{} of the idle sockets are still open (cap {cap}): {open:?}", open.len());
    assert!(open.iter().all(|&i| i >= 400 - cap - 8), "an older idle socket was kept: {open:?}");
    drop(idle);

    // Every place taken by a request in progress: a new connection is answered 503 and closed.
    let mut busy: Vec<TcpStream> = Vec::new();
    let mut refused = None;
    let got = eventually(Duration::from_secs(20), || {
        busy.retain_mut(|s| !is_closed(s));
        while busy.len() < cap {
            busy.push(slow_write(g.port, ADMIN_TOKEN, "fd", 1000, 8));
        }
        let a = get(g.port, "/ping");
        let is_503 = a.as_ref().is_some_and(|a| a.status == 503);
        refused = a;
        is_503
    });
    let a = refused.expect("an answer at the cap");
    assert!(got, "never 503 with {cap} requests in progress: {a:?}");
    assert_eq!(a.header("retry-after").as_deref(), Some("1"), "{a:?}");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.text()));
    assert!(v["error"].as_str().is_some_and(|e| e.contains("connections")), "{v}");
    // The requests in progress are untouched; once they end, new connections are served again.
    assert!(busy.iter_mut().all(|s| !is_closed(s)), "a connection serving a request was closed");
    drop(busy);
    assert!(eventually(Duration::from_secs(10), || get(g.port, "/ping").is_some_and(|a| a.status == 204)));
}
