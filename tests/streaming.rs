//! Streaming raw SELECTs (src/query/stream.rs):
//!
//! * `streamed_equals_buffered`: every case of tests/cases/queries*.txt (and chunked /
//!   non-chunked variants of it) answered by an influxgate that streams (with tiny windows, so
//!   that answers are cut into many windows) and by one that does not
//!   (`[query] streaming = false`), on the same data: status, headers that matter and body bytes
//!   must be identical.
//! * `bounded_memory_*`: many points written, read back by a raw SELECT, chunked and not; the
//!   server's peak RSS (`VmHWM`, reset after the writes via `/proc/<pid>/clear_refs`) while
//!   answering must stay under a fixed bound far below the answer's size. No timing assertions.

mod common;
#[path = "support/dataset.rs"]
mod dataset;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// An influxgate with its own `[query]` settings; killed on drop.
struct Server {
    child: Child,
    api: Api,
    /// Flags naming a store other than the embedded one.
    backend: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `query`: lines of the `[query]` section, e.g. `streaming = false`.
    fn start(query: &[&str]) -> Server {
        Server::start_on(query, Vec::new())
    }

    /// `backend`: flags such as `--backend victoriametrics --backend-url URL`.
    fn start_on(query: &[&str], backend: Vec<String>) -> Server {
        let dir = tempfile::Builder::new().prefix("influxgate-stream-").tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let config = format!("[log]\nlevel = \"warn\"\n[query]\n{}\n", query.join("\n"));
        std::fs::write(dir.path().join("config.toml"), config).expect("config");
        let (child, api) = Server::launch(dir.path(), &backend);
        Server { child, api, backend, _dir: dir }
    }

    /// Stops the process and starts a fresh one on the same data (a new process: its memory
    /// holds nothing from earlier requests).
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, api) = Server::launch(self._dir.path(), &self.backend);
        self.child = child;
        self.api = api;
    }

    fn launch(dir: &std::path::Path, backend: &[String]) -> (Child, Api) {
        let data = dir.join("data");
        let config = dir.join("config.toml");
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.join(format!("log-{port}"))).expect("log");
            let mut cmd = Command::new(Gate::binary());
            cmd.arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(&data)
                .arg("--admin-token")
                .arg(ADMIN_TOKEN)
                .arg("--config")
                .arg(&config)
                .args(backend)
                .env_remove("RUST_LOG")
                .env_remove("INFLUXGATE_ADMIN_TOKEN")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log);
            let mut child = cmd.spawn().expect("start influxgate");
            let url = format!("http://127.0.0.1:{port}");
            let api = Api::new(&url).auth(Auth::Token(ADMIN_TOKEN.into()));
            for _ in 0..400 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                let pinged = reqwest::blocking::get(format!("{url}/ping")).map(|r| r.status().as_u16() == 204).unwrap_or(false);
                if pinged && owns_listener(child.id(), port) {
                    return (child, api);
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("influxgate did not start");
    }

    fn status_field(&self, key: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let line = s.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("kB value")
    }

    /// Peak RSS in bytes since start or the last [`Server::reset_peak`].
    fn peak_rss(&self) -> u64 {
        self.status_field("VmHWM:") * 1024
    }

    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("reset VmHWM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_db(api: &Api, db: &str) {
    let r = api.query_with(&[("q", &format!("CREATE DATABASE \"{db}\""))]);
    assert_eq!(r.status, 200, "{}", r.describe());
}

struct Case {
    text: String,
    opts: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases");
    let text = std::fs::read_to_string(dir.join("queries.txt")).expect("queries.txt");
    let mut out = Vec::new();
    for raw in text.lines() {
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let mut body = raw;
        let mut opts = Vec::new();
        if let Some(rest) = raw.strip_prefix('[') {
            let Some(end) = rest.find("] ").or_else(|| rest.rfind(']')) else { continue };
            let o = &rest[..end];
            let o = o.find("known=").map_or(o, |k| &o[..k]);
            for opt in o.split_whitespace() {
                let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
                opts.push((k.to_string(), v.to_string()));
            }
            body = rest[end + 1..].trim_start();
        }
        // Cases that write or mutate run in their own databases: not here. SHOW QUERIES answers
        // how long it has been running, which differs from one run to the next.
        if opts.iter().any(|(k, _)| k == "fresh") || body.starts_with("SHOW QUERIES") {
            continue;
        }
        out.push(Case { text: body.to_string(), opts });
    }
    out
}

fn run(api: &Api, c: &Case, extra: &[(&str, &str)]) -> Resp {
    let mut params: Vec<(&str, &str)> = vec![("q", &c.text)];
    let mut db = "diffq";
    let mut headers: Vec<(&str, &str)> = Vec::new();
    let mut method = "POST";
    for (k, v) in &c.opts {
        match k.as_str() {
            "db" => db = v,
            "accept" => match v.as_str() {
                "csv" => headers.push(("Accept", "application/csv")),
                "msgpack" => headers.push(("Accept", "application/x-msgpack")),
                _ => {}
            },
            "method" => method = v,
            "epoch" | "chunked" | "chunk_size" | "pretty" | "params" if !extra.iter().any(|(e, _)| e == k) => {
                params.push((k, v))
            }
            _ => {}
        }
    }
    params.extend_from_slice(extra);
    if !db.is_empty() {
        params.push(("db", db));
    }
    if method == "GET" {
        api.send("GET", "/query", &params, &headers, None)
    } else {
        api.send("POST", "/query", &params, &headers, None)
    }
}

#[test]
fn streamed_equals_buffered() {
    let streaming = Server::start(&["stream_window_points = 40"]);
    let buffered = Server::start(&["streaming = false"]);
    let data = dataset::generate(20240101);
    let lines: Vec<&str> = data.split('\n').collect();
    for s in [&streaming, &buffered] {
        create_db(&s.api, "diffq");
        for chunk in lines.chunks(20000) {
            let r = s.api.write("diffq", &chunk.join("\n"));
            assert_eq!(r.status, 204, "{}", r.describe());
        }
    }
    // Over 10000 rows in one series of the answer (1.x's "partial":true quirk when not chunked),
    // with ties across series at every timestamp.
    let mut lp = String::new();
    for t in 0..4000i64 {
        for s in ["a", "b", "c"] {
            let extra = if t % 7 == 0 { format!(",note=\"n{t}\"") } else { String::new() };
            lp.push_str(&format!("w,s={s} v={}{extra} {}\n", (t * 31) % 97, 1_700_000_000_000_000_000 + t * 1000));
        }
    }
    // Series that a tag equality alone does not tell apart (`s=a` and `s=a,x=1`), series
    // starting late and ending early, and ties at every timestamp (`u`, 12 series).
    for t in 0..3000i64 {
        let ts = 1_700_000_000_000_000_000 + t * 1000;
        if t % 3 == 0 {
            lp.push_str(&format!("w,s=a,x=1 v={},note=\"x{t}\" {ts}\n", (t * 17) % 89));
        }
        if (1000..2000).contains(&t) {
            lp.push_str(&format!("w,s=d v={} {ts}\n", t % 11));
        }
        for h in 0..12 {
            let note = if (t + h) % 4 == 0 { format!(",note=\"{}\"", (t * 7 + h) % 5) } else { String::new() };
            lp.push_str(&format!("u,h=h{h:02},g={} v={}{note} {ts}\n", h % 3, (t + h) % 13));
        }
    }
    for t in 0..12000i64 {
        let extra = if t % 5 == 0 { format!(",note=\"n{t}\"") } else { String::new() };
        lp.push_str(&format!("one,s=a v={}{extra} {}\n", (t * 31) % 97, 1_700_000_000_000_000_000 + t * 1000));
    }
    for s in [&streaming, &buffered] {
        create_db(&s.api, "big");
        let r = s.api.write("big", &lp);
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    let variants: [&[(&str, &str)]; 4] = [
        &[],
        &[("chunked", "true"), ("chunk_size", "7")],
        &[("chunked", "false"), ("epoch", "ns")],
        &[("chunked", "true"), ("chunk_size", "10000"), ("epoch", "ms")],
    ];
    let mut compared = 0;
    let mut failures = Vec::new();
    for c in cases() {
        for v in variants {
            let (a, b) = (run(&streaming.api, &c, v), run(&buffered.api, &c, v));
            compared += 1;
            let same = a.status == b.status
                && a.header("content-type") == b.header("content-type")
                && a.header("content-encoding") == b.header("content-encoding")
                && a.body == b.body;
            if !same {
                failures.push(format!(
                    "{} {v:?}\n  streamed: {} {}\n  buffered: {} {}",
                    c.text,
                    a.status,
                    String::from_utf8_lossy(&a.body[..a.body.len().min(400)]),
                    b.status,
                    String::from_utf8_lossy(&b.body[..b.body.len().min(400)])
                ));
            }
        }
    }
    // Long answers (over 10000 rows: 1.x's "partial":true quirk); LIMIT/OFFSET; many series.
    for q in [
        "SELECT * FROM cpu",
        "SELECT * FROM cpu ORDER BY time DESC",
        "SELECT usage_user FROM cpu LIMIT 10500 OFFSET 33",
        "SELECT usage_user, hostname FROM cpu WHERE usage_user > 20 ORDER BY time DESC LIMIT 12000 OFFSET 7",
        "[db=big] SELECT * FROM w",
        "[db=big] SELECT * FROM w ORDER BY time DESC",
        "[db=big] SELECT v, note, s FROM w WHERE v > 10",
        "[db=big] SELECT note FROM w WHERE time > 1700000000000100000",
        "[db=big] SELECT * FROM w WHERE s = 'b'",
        "[db=big] SELECT s, v, note FROM w",
        "[db=big] SELECT s, note FROM w ORDER BY time DESC",
        "[db=big] SELECT s::tag, v * 2 FROM w WHERE v > 3",
        "[db=big] SELECT v, s FROM w WHERE v > 3 AND time < 1700000000003000000",
        "SELECT hostname, usage_user FROM cpu",
        "SELECT hostname, usage_user, region FROM cpu WHERE usage_user > 10 ORDER BY time DESC",
        "SELECT arch, usage_user FROM cpu",
        "[db=big] SELECT * FROM one",
        "[db=big] SELECT * FROM one ORDER BY time DESC",
        "[db=big] SELECT v, note FROM one WHERE v > 10 AND time < 1700000000011000000",
        "[db=big] SELECT note FROM one WHERE s = 'a' AND time > 1700000000000100000",
        "[db=big] SELECT note, v * 2 FROM one WHERE note =~ /1/ ORDER BY time DESC",
        // Many series merged into one by time, ties everywhere (the incremental merge heap).
        "[db=big] SELECT * FROM u",
        "[db=big] SELECT * FROM u ORDER BY time DESC",
        "[db=big] SELECT v FROM u",
        "[db=big] SELECT note, v FROM u WHERE v > 3",
        "[db=big] SELECT v, note FROM u WHERE g = '1' OR h = 'h04' ORDER BY time DESC",
        "[db=big] SELECT * FROM u LIMIT 5000 OFFSET 17",
        "[db=big] SELECT * FROM u ORDER BY time DESC LIMIT 3000 OFFSET 2",
        "[db=big] SELECT v FROM u OFFSET 100",
        "[db=big] SELECT * FROM u GROUP BY g",
        "[db=big] SELECT * FROM u GROUP BY g ORDER BY time DESC",
        "[db=big] SELECT note, h FROM u GROUP BY g LIMIT 2000 OFFSET 5",
        "[db=big] SELECT v FROM u GROUP BY * ORDER BY time DESC LIMIT 100",
        "[db=big] SELECT v, h FROM u WHERE time >= 1700000000000500000 AND time < 1700000000002000000 GROUP BY g",
        "[db=big] SELECT * FROM u, w",
        "[db=big] SELECT v, note FROM u, w ORDER BY time DESC LIMIT 4000",
        "[db=big] SELECT v FROM /^(u|w|one)$/ GROUP BY s",
        "[db=big] SELECT v FROM u GROUP BY g SLIMIT 2",
        "[db=big] SELECT * FROM w WHERE s = 'a'",
        "[db=big] SELECT * FROM w WHERE s = 'a' ORDER BY time DESC",
        "[db=big] SELECT * FROM w GROUP BY s",
        "[db=big] SELECT note, v FROM w GROUP BY x ORDER BY time DESC",
        "[db=big] SELECT v FROM w WHERE x = '' AND v > 40",
    ] {
        let (q, opts) = match q.strip_prefix("[db=big] ") {
            Some(q) => (q, vec![("db".to_string(), "big".to_string())]),
            None => (q, vec![]),
        };
        let c = Case { text: q.into(), opts };
        for v in variants {
            let (a, b) = (run(&streaming.api, &c, v), run(&buffered.api, &c, v));
            compared += 1;
            if a.status != b.status || a.body != b.body {
                let at = a.body.iter().zip(&b.body).position(|(x, y)| x != y).unwrap_or(a.body.len().min(b.body.len()));
                let around = |x: &[u8]| String::from_utf8_lossy(&x[at.saturating_sub(150)..(at + 80).min(x.len())]).into_owned();
                failures.push(format!(
                    "{q} {v:?}: streamed {} bytes, buffered {} bytes, first difference at {at}:\n  streamed …{}\n  buffered …{}",
                    a.body.len(),
                    b.body.len(),
                    around(&a.body),
                    around(&b.body)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {compared} differ:\n{}", failures.len(), failures.join("\n"));
}

/// Writes `points` points in one series `m` (two fields each), one a second, plus a few points of
/// another series `other` (which a query on `m` must not read); gzip bodies of 100k lines.
fn load(api: &Api, points: usize) {
    create_db(api, "big");
    let start: i64 = 1_600_000_000_000_000_000;
    let mut n = 0usize;
    while n < points {
        let mut body = String::new();
        for _ in 0..100_000.min(points - n) {
            let t = start + n as i64 * 1_000_000_000;
            body.push_str(&format!("m,host=h00,dc=dc1 v={}.25,i={}i {t}\n", n % 1000, n));
            if n % 100_000 == 0 {
                body.push_str(&format!("m,host=other,dc=dc1 v=1 {t}\n"));
            }
            n += 1;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let r = api.write_with(&[("db", "big")], &[("Content-Encoding", "gzip")], gz);
        assert_eq!(r.status, 204, "{}", r.describe());
    }
}

/// Rows in a non-chunked JSON answer (`epoch=ns`: every row is `[<int>,...]`, and no other `[`
/// is followed by a digit in these answers), read as a stream.
fn count_rows_plain(mut r: reqwest::blocking::Response) -> usize {
    let mut rows = 0usize;
    let mut prev = 0u8;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).expect("read body");
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if prev == b'[' && (b.is_ascii_digit() || b == b'-') {
                rows += 1;
            }
            prev = b;
        }
    }
    rows
}

/// Rows in a chunked JSON answer (one document a line), read as a stream.
fn count_rows_chunked(r: reqwest::blocking::Response) -> (usize, usize) {
    use std::io::BufRead;
    let (mut rows, mut docs) = (0usize, 0usize);
    for line in std::io::BufReader::new(r).lines() {
        let line = line.expect("read body");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json document");
        docs += 1;
        for s in v["results"][0]["series"].as_array().into_iter().flatten() {
            rows += s["values"].as_array().map_or(0, |a| a.len());
        }
    }
    (rows, docs)
}

fn bounded_memory(points: usize, bound: u64) {
    let off = std::env::var("STREAMING_TEST_OFF").is_ok();
    let mut server = Server::start(if off { &["streaming = false"] } else { &[] });
    load(&server.api, points);
    // A fresh process, so that what the writes left in its heap does not count.
    server.restart();
    let client = reqwest::blocking::Client::builder().timeout(None).build().expect("client");
    let url = format!("{}/query", server.api.base);
    let q = |params: &[(&str, &str)]| {
        let r = client
            .post(&url)
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .form(params)
            .send()
            .expect("query");
        assert_eq!(r.status().as_u16(), 200);
        r
    };
    let base = [("db", "big"), ("q", "SELECT * FROM m WHERE host = 'h00'"), ("epoch", "ns")];

    let rss_before = server.status_field("VmRSS:") * 1024;
    server.reset_peak();
    let (rows, docs) = count_rows_chunked(q(&[base[0], base[1], base[2], ("chunked", "true"), ("chunk_size", "5000")]));
    let peak_chunked = server.peak_rss();
    assert_eq!(rows, points);
    assert_eq!(docs, points.div_ceil(5000));

    server.reset_peak();
    let rows = count_rows_plain(q(&base));
    let peak_plain = server.peak_rss();
    assert_eq!(rows, points);

    server.reset_peak();
    let r = q(&[base[0], ("q", "SELECT i, host FROM m WHERE i % 2 = 0 AND dc = 'dc1' AND host = 'h00' ORDER BY time DESC"), base[2]]);
    let rows = count_rows_plain(r);
    let peak_desc = server.peak_rss();
    assert_eq!(rows, points / 2 + points % 2);

    // Two series, ties decided by the first selected variable (the tag `host`): streamed too.
    server.reset_peak();
    let rows = count_rows_plain(q(&[base[0], ("q", "SELECT host, v FROM m"), base[2]]));
    let peak_two = server.peak_rss();
    assert_eq!(rows, points + points.div_ceil(100_000));

    // The answers are ~60 bytes a row as JSON, more as evaluated rows: far above the bound.
    println!(
        "{points} points: RSS before the queries {} MiB; peak RSS chunked {} MiB, non-chunked {} MiB, DESC with a field condition {} MiB, two series {} MiB (bound {} MiB)",
        rss_before >> 20,
        peak_chunked >> 20,
        peak_plain >> 20,
        peak_desc >> 20,
        peak_two >> 20,
        bound >> 20
    );
    for p in [peak_chunked, peak_plain, peak_desc, peak_two] {
        assert!(p < bound, "peak RSS {} MiB over the bound {} MiB", p >> 20, bound >> 20);
    }
}

/// 1M points: the buffered path would hold ~1M evaluated rows (well over 100 MiB) and a ~60 MiB
/// document; streaming stays under 64 MiB in all.
#[test]
fn bounded_memory_1m_points() {
    bounded_memory(1_000_000, 64 << 20);
}

/// 5M points (a few minutes on a busy machine): same bound as for 1M — memory does not grow with
/// the number of points.
#[test]
#[ignore]
fn bounded_memory_5m_points() {
    bounded_memory(5_000_000, 64 << 20);
}

/// Writes `points` points of measurement `mm` over `hosts` series, every timestamp shared by all
/// of them (ties across series everywhere), one timestamp a second.
fn load_many(api: &Api, points: usize, hosts: usize) {
    create_db(api, "many");
    let start: i64 = 1_600_000_000_000_000_000;
    let mut n = 0usize;
    while n < points {
        let mut body = String::new();
        for _ in 0..100_000.min(points - n) {
            let t = start + (n / hosts) as i64 * 1_000_000_000;
            body.push_str(&format!("mm,host=h{:03},dc=dc{} v={}.5,i={}i {t}\n", n % hosts, n % hosts % 3, n % 1000, n));
            n += 1;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(body.as_bytes()).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let r = api.write_with(&[("db", "many")], &[("Content-Encoding", "gzip")], gz);
        assert_eq!(r.status, 204, "{}", r.describe());
    }
}

/// Many series merged by time (1.x's merge heap, run incrementally): `SELECT *` over all of them,
/// DESC, GROUP BY a tag (chunked and not), LIMIT/OFFSET with a field condition. Each query runs in a
/// fresh process, so that its peak is its own.
/// `query`: the server's `[query]` lines; `backend`: its store flags (none: the embedded store).
fn bounded_memory_many(points: usize, hosts: usize, query: &[&str], backend: Vec<String>, bound: u64) {
    let off = std::env::var("STREAMING_TEST_OFF").is_ok();
    let mut server = Server::start_on(if off { &["streaming = false"] } else { query }, backend);
    load_many(&server.api, points, hosts);
    let client = reqwest::blocking::Client::builder().timeout(None).build().expect("client");
    let limit = format!("SELECT i, dc FROM mm WHERE i % 2 = 0 LIMIT {} OFFSET 10", points / 4);
    let cases: [(&str, &str, bool, usize); 6] = [
        ("SELECT * chunked", "SELECT * FROM mm", true, points),
        ("SELECT * non-chunked", "SELECT * FROM mm", false, points),
        ("SELECT v, host DESC non-chunked", "SELECT v, host FROM mm ORDER BY time DESC", false, points),
        ("SELECT v GROUP BY dc chunked", "SELECT v FROM mm GROUP BY dc", true, points),
        ("SELECT v GROUP BY dc non-chunked", "SELECT v FROM mm GROUP BY dc", false, points),
        ("SELECT i, dc WHERE i % 2 = 0 LIMIT/OFFSET", &limit, false, points / 4),
    ];
    let mut peaks = Vec::new();
    for (what, text, chunked, want) in cases {
        server.restart();
        let url = format!("{}/query", server.api.base);
        let mut params = vec![("db", "many"), ("q", text), ("epoch", "ns")];
        if chunked {
            params.extend([("chunked", "true"), ("chunk_size", "5000")]);
        }
        let before = server.status_field("VmRSS:") * 1024;
        server.reset_peak();
        let started = std::time::Instant::now();
        let r = client
            .post(&url)
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .form(&params)
            .send()
            .expect("query");
        assert_eq!(r.status().as_u16(), 200);
        let rows = if chunked { count_rows_chunked(r).0 } else { count_rows_plain(r) };
        let peak = server.peak_rss();
        assert_eq!(rows, want, "{what}");
        println!(
            "{what}: {rows} rows over {hosts} series in {:.1}s, RSS before {} MiB, peak RSS {} MiB (bound {} MiB)",
            started.elapsed().as_secs_f64(),
            before >> 20,
            peak >> 20,
            bound >> 20
        );
        peaks.push((what, peak));
    }
    for (what, p) in peaks {
        assert!(p < bound, "{what}: peak RSS {} MiB over the bound {} MiB", p >> 20, bound >> 20);
    }
}

/// 1M points over 100 series, ties at every timestamp: the buffered path would hold ~1M rows;
/// streaming stays under 64 MiB.
#[test]
fn bounded_memory_1m_points_100_series() {
    bounded_memory_many(1_000_000, 100, &[], Vec::new(), 64 << 20);
}

/// 5M points over 500 series (a few minutes): the same bound — memory grows neither with the
/// number of points nor (up to `W / 4` series) with the number of series.
#[test]
#[ignore]
fn bounded_memory_5m_points_500_series() {
    bounded_memory_many(5_000_000, 500, &[], Vec::new(), 64 << 20);
}

/// The bound src/query/stream.rs derives for `W` and `S` series, `3/2 × max(W, 4 × S)` rows plus
/// what every series costs (heap head, input, tags, catalog entry), on top of a process answering
/// a query at all and of what the store's scan holds (`store`).
fn many_series_bound(w: usize, series: usize, store: u64) -> u64 {
    /// A fresh debug server with a query under way holding no points (threads, the store's read
    /// connection and page cache or HTTP client, a scan chunk in flight, the encoder's piece).
    const BASE: u64 = 32 << 20;
    /// Generous per row held (five values); per series (~3 KiB measured, release build).
    const ROW: u64 = 512;
    const PER_SERIES: u64 = 4 << 10;
    let rows = 3 * w.max(4 * series) as u64 / 2;
    BASE + rows * ROW + series as u64 * PER_SERIES + store
}

/// 3,000 series, past the 1024 up to which the merge used to stream (over them a statement was
/// answered buffered: every point held, ~250 bytes a point here), with a small `W`: under
/// [`many_series_bound`], on the embedded store.
#[test]
fn bounded_memory_3000_series_small_window() {
    bounded_memory_many(300_000, 3000, &["stream_window_points = 1024"], Vec::new(), many_series_bound(1024, 3000, 0));
}

/// The same on VictoriaMetrics (Debian package `victoria-metrics`), whose export reads ascending
/// and whole: `backend::ordered` applies the order and the per-series limit to its stream. Its
/// scan holds one export window of up to `max_window_samples` (200,000) samples, ~128 bytes each
/// as read (`backend::victoriametrics`), and the catalog answers, kept for the statement up to
/// `victoriametrics::memo::MAX_BYTES` and between statements up to `memo::SHARED_MAX_BYTES` (here
/// the series listing of 3,000 series, one body shared by both): that is the store's term of the
/// bound.
#[test]
fn bounded_memory_3000_series_small_window_victoriametrics() {
    let vm = common::vm::Vm::start(&["-search.latencyOffset=0s"]);
    let backend = vec!["--backend".to_string(), "victoriametrics".to_string(), "--backend-url".to_string(), vm.url.clone()];
    let window = influxgate::backend::victoriametrics::MAX_WINDOW_SAMPLES as u64 * 128
        + influxgate::backend::victoriametrics::memo::MAX_BYTES as u64
        + influxgate::backend::victoriametrics::memo::SHARED_MAX_BYTES as u64;
    bounded_memory_many(300_000, 3000, &["stream_window_points = 1024"], backend, many_series_bound(1024, 3000, window));
}

/// The same on ClickHouse (Debian package `clickhouse-server`), whose scan reads one statement's
/// answer as it arrives (`backend::clickhouse::scan`): the store's term is the chunk of
/// `CHUNK_ROWS` rows being filled and one handed on, plus the HTTP client's piece of the answer
/// (a few hundred KiB), ~128 bytes a row as decoded.
#[test]
fn bounded_memory_3000_series_small_window_clickhouse() {
    let ch = common::clickhouse::ClickHouse::single();
    let backend = vec!["--backend".to_string(), "clickhouse".to_string(), "--backend-url".to_string(), ch.url().to_string()];
    let store = 2 * influxgate::backend::clickhouse::CHUNK_ROWS as u64 * 128 + (1 << 20);
    bounded_memory_many(300_000, 3000, &["stream_window_points = 1024"], backend, many_series_bound(1024, 3000, store));
}
