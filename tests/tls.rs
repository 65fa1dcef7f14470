//! HTTPS (`[tls]`, `server::tls`) with certificates made at test time by the `openssl` CLI
//! (Debian package `openssl`): the `influx` CLI and the Python client over HTTPS, HTTP/2 and
//! HTTP/1.1 over TLS, the certificate swapped on disk (polled and on SIGHUP) while an open
//! connection keeps working, a bad new certificate refused, plain HTTP to the HTTPS port (the
//! same bytes as `influxd` 1.6.7 with `https-enabled`), the
//! handshake timeout and connection slots, and VictoriaMetrics and ClickHouse behind TLS
//! (`[backend] ca_file`).

mod common;
use common::*;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Certificates under one temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

/// A CA or a server certificate: its PEM certificate and key files.
#[derive(Clone)]
struct Pair {
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        Pki { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn openssl(&self, args: &[&str]) {
        let exe = require_program("openssl", "openssl");
        let out = Command::new(exe).args(args).current_dir(self.dir.path()).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn paths(&self, name: &str) -> Pair {
        Pair { cert: self.dir.path().join(format!("{name}.pem")), key: self.dir.path().join(format!("{name}.key")) }
    }

    /// A self-signed CA (P-256).
    fn ca(&self, name: &str) -> Pair {
        let p = self.paths(name);
        let (cert, key) = (p.cert.to_str().unwrap(), p.key.to_str().unwrap());
        self.openssl(&[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
            "-days", "2", "-subj", &format!("/CN={name}"), "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        p
    }

    /// A certificate for 127.0.0.1 and localhost signed by `ca`.
    fn server(&self, ca: &Pair, name: &str) -> Pair {
        let p = self.paths(name);
        let (cert, key) = (p.cert.to_str().unwrap(), p.key.to_str().unwrap());
        let csr = format!("{name}.csr");
        let ext = self.dir.path().join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        self.openssl(&[
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", &csr, "-subj",
            &format!("/CN={name}"),
        ]);
        self.openssl(&[
            "x509", "-req", "-in", &csr, "-CA", ca.cert.to_str().unwrap(), "-CAkey", ca.key.to_str().unwrap(), "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext.to_str().unwrap(),
        ]);
        p
    }
}

/// A client that trusts only `ca`.
fn client_trusting(ca: &Pair, http1_only: bool) -> reqwest::blocking::Client {
    let pem = std::fs::read(&ca.cert).unwrap();
    let mut b = reqwest::blocking::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30));
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

/// Whether `GET /ping` over a client trusting only `ca` answers 204.
fn pings(c: &reqwest::blocking::Client, g: &Gate) -> bool {
    c.get(format!("{}/ping", g.url)).send().is_ok_and(|r| r.status().as_u16() == 204)
}

/// Replaces `dst`'s certificate and key with `src`'s (written whole, then renamed over them).
fn install(src: &Pair, dst: &Pair) {
    for (from, to) in [(&src.key, &dst.key), (&src.cert, &dst.cert)] {
        let tmp = to.with_extension("tmp");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
}

/// A gate serving HTTPS with `served` (copied, so the test can change the files), `tls` lines.
fn https_gate(pki: &Pki, served: &Pair, tls: &[&str], cfg: GateConfig) -> (Gate, Pair) {
    let live = pki.paths("live");
    install(served, &live);
    (Gate::start_with(cfg.tls(&live.cert, &live.key, tls)), live)
}

#[test]
fn influx_cli_over_https() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let tok = TokenSpec::new("cli").read(&["clidb"]).write(&["clidb"]);
    let (g, _) = https_gate(&pki, &pki.server(&ca, "srv"), &[], GateConfig::new().token(tok.clone()));
    let (ok, out, err) = influx_cli(&g, &tok.token, "clidb", "INSERT cpu,host=a value=1 1000000000", &[]);
    assert!(ok && !err.contains("ERR"), "{out}{err}\n--- influxgate:\n{}", g.output());
    let (ok, out, err) = influx_cli(&g, &tok.token, "clidb", "SELECT * FROM cpu", &["-format", "json", "-precision", "ns"]);
    assert!(ok, "select: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([[1000000000, "a", 1]]), "{v}");
    // Without -ssl the CLI speaks plain HTTP to the HTTPS port, and fails.
    let plain = Command::new(require_program("influx", "influxdb-client"))
        .args(["-host", "127.0.0.1", "-port", &g.port.to_string(), "-execute", "SHOW DATABASES"])
        .env("NO_PROXY", "*")
        .output()
        .unwrap();
    assert!(!plain.status.success() || String::from_utf8_lossy(&plain.stderr).contains("ERR"), "{plain:?}");
}

#[test]
fn tls_flags_serve_https() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let srv = pki.server(&ca, "srv");
    let mut cfg = GateConfig { https: true, ..GateConfig::new() };
    cfg.args = ["--tls-cert", srv.cert.to_str().unwrap(), "--tls-key", srv.key.to_str().unwrap()].map(String::from).to_vec();
    let g = Gate::start_with(cfg);
    assert!(pings(&client_trusting(&ca, false), &g), "{}", g.output());
}

#[test]
fn python_client_over_https() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let tok = TokenSpec::new("py").read(&["pydb"]).write(&["pydb"]);
    let (g, _) = https_gate(&pki, &pki.server(&ca, "srv"), &[], GateConfig::new().token(tok.clone()));
    python::assert_roundtrip(&g, &tok.token, "pydb");
}

#[test]
fn http2_and_http1_over_tls() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let (g, _) = https_gate(&pki, &pki.server(&ca, "srv"), &[], GateConfig::new());
    for (http1_only, version) in [(false, reqwest::Version::HTTP_2), (true, reqwest::Version::HTTP_11)] {
        let c = client_trusting(&ca, http1_only);
        let auth = ("Authorization", format!("Token {ADMIN_TOKEN}"));
        let w = c.post(format!("{}/write?db=h2db", g.url)).header(auth.0, &auth.1).body("m v=1 1000000000").send().unwrap();
        assert_eq!((w.status().as_u16(), w.version()), (204, version));
        let q = c.get(format!("{}/query?db=h2db&q=SELECT+v+FROM+m", g.url)).header(auth.0, &auth.1).send().unwrap();
        assert_eq!(q.version(), version);
        let v: serde_json::Value = q.json().unwrap();
        assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["1970-01-01T00:00:01Z", 1]]), "{v}");
    }
}

#[test]
fn certificate_swapped_on_disk_keeps_open_connections_and_refuses_bad_ones() {
    let pki = Pki::new();
    let (ca1, ca2) = (pki.ca("ca1"), pki.ca("ca2"));
    let (g, live) = https_gate(&pki, &pki.server(&ca1, "one"), &["reload_interval = \"100ms\""], GateConfig::new());
    let open = client_trusting(&ca1, true);
    assert!(pings(&open, &g), "{}", g.output());
    install(&pki.server(&ca2, "two"), &live);
    assert!(eventually(Duration::from_secs(10), || pings(&client_trusting(&ca2, true), &g)), "new connections get the new certificate");
    assert!(!pings(&client_trusting(&ca1, true), &g), "a new connection still gets the old certificate");
    // The connection opened before the swap is still served (a new one would fail to verify).
    for _ in 0..3 {
        assert!(pings(&open, &g), "the open connection broke");
    }
    // A broken certificate, then a key that is not the certificate's: the current one stays.
    let refused = metric(&g, "influxgate_tls_reload_failures_total");
    std::fs::write(&live.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n").unwrap();
    let counted = eventually(Duration::from_secs(10), || metric(&g, "influxgate_tls_reload_failures_total") > refused);
    assert!(counted, "the bad certificate is not refused");
    let named = eventually(Duration::from_secs(10), || g.output().contains("no PEM certificate"));
    assert!(named, "{}", g.output());
    assert!(pings(&client_trusting(&ca2, true), &g));
    let other = pki.server(&ca2, "three");
    // The good pair again: reloaded (a change is loaded once it held for an interval, so waited
    // for, not slept on: the mismatched key below must not arrive before it).
    let reloads = metric(&g, "influxgate_tls_reloads_total");
    std::fs::copy(&pki.paths("two").cert, &live.cert).unwrap();
    let reloaded = eventually(Duration::from_secs(10), || metric(&g, "influxgate_tls_reloads_total") > reloads);
    assert!(reloaded, "the good pair was not loaded again: {}", g.output());
    let refused = metric(&g, "influxgate_tls_reload_failures_total");
    std::fs::copy(&other.key, &live.key).unwrap();
    let counted = eventually(Duration::from_secs(10), || metric(&g, "influxgate_tls_reload_failures_total") > refused);
    assert!(counted, "the mismatched key is not refused");
    // `fs::copy` truncates, then writes: a poll may see the empty file first.
    let named = eventually(Duration::from_secs(10), || g.output().contains("is not the private key"));
    assert!(named, "{}", g.output());
    assert!(pings(&client_trusting(&ca2, true), &g), "{}", g.output());
    assert!(!pings(&client_trusting(&ca1, true), &g));
    assert!(metric(&g, "influxgate_tls_reloads_total") >= 2, "the swap, then the good pair again");
}

/// A counter of `/metrics`.
fn metric(g: &Gate, name: &str) -> u64 {
    let text = g.admin().get("/metrics").text();
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("no {name}:\n{text}"));
    line[name.len() + 1..].parse().unwrap()
}

#[test]
fn sighup_reloads_the_certificate() {
    let pki = Pki::new();
    let (ca1, ca2) = (pki.ca("ca1"), pki.ca("ca2"));
    let (g, live) = https_gate(&pki, &pki.server(&ca1, "one"), &["reload_interval = \"0s\""], GateConfig::new());
    install(&pki.server(&ca2, "two"), &live);
    std::thread::sleep(Duration::from_millis(300));
    assert!(pings(&client_trusting(&ca1, true), &g), "reloaded without SIGHUP with reload_interval = 0s");
    g.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || pings(&client_trusting(&ca2, true), &g)), "SIGHUP reloads");
}

/// What a server on 127.0.0.1:`port` answers a plain-HTTP request, whole.
fn plain_http_answer(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn plain_http_to_the_https_port_gets_1x_answer_and_the_server_goes_on() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let srv = pki.server(&ca, "srv");
    let (g, _) = https_gate(&pki, &srv, &[], GateConfig::new());
    let (cert, key) = (srv.cert.to_str().unwrap(), srv.key.to_str().unwrap());
    let influxd = Influxd::start_with_env(&[
        ("INFLUXDB_HTTP_HTTPS_ENABLED", "true"),
        ("INFLUXDB_HTTP_HTTPS_CERTIFICATE", cert),
        ("INFLUXDB_HTTP_HTTPS_PRIVATE_KEY", key),
    ]);
    let port: u16 = influxd.url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
    let ours = plain_http_answer(g.port);
    assert_eq!(ours, plain_http_answer(port), "1.x answers differently");
    assert!(ours.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{ours}");
    let r = reqwest::blocking::Client::builder().no_proxy().build().unwrap().get(format!("http://127.0.0.1:{}/ping", g.port)).send();
    assert!(r.is_ok_and(|r| r.status().as_u16() == 400));
    assert!(pings(&client_trusting(&ca, false), &g));
}

/// How long after `since` the server closed `s` (a read gives EOF or an error); `None` when it
/// is still open at `until`.
fn closed_at(s: &mut TcpStream, since: Instant, until: Instant) -> Option<Duration> {
    s.set_read_timeout(Some(until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)))).unwrap();
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        _ => Some(since.elapsed()),
    }
}

#[test]
fn a_silent_client_is_closed_at_the_handshake_timeout() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let (g, _) = https_gate(&pki, &pki.server(&ca, "srv"), &["handshake_timeout = \"500ms\""], GateConfig::new());
    let t0 = Instant::now();
    let mut silent = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    // Half a handshake: a TLS record header promising more than is ever sent.
    let mut half = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    for s in [&mut silent, &mut half] {
        let after = closed_at(s, t0, t0 + Duration::from_secs(5)).expect("still open 5 s after connecting");
        assert!(after >= Duration::from_millis(450), "closed after {after:?}, before the handshake timeout");
    }
    // Counted just after the socket is closed: looked at until it shows (and must not pass 2).
    let counted = eventually(Duration::from_secs(10), || metric(&g, "influxgate_tls_handshake_failures_total") >= 2);
    assert!(counted && metric(&g, "influxgate_tls_handshake_failures_total") == 2, "{}", metric(&g, "influxgate_tls_handshake_failures_total"));
    assert!(pings(&client_trusting(&ca, false), &g));
}

#[test]
fn handshaking_connections_take_slots_and_make_room_at_the_cap() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let cfg = GateConfig::new().limit("max_connections = 2");
    let (g, _) = https_gate(&pki, &pki.server(&ca, "srv"), &["handshake_timeout = \"60s\""], cfg);
    std::thread::sleep(Duration::from_millis(200)); // the harness's /ping connection is gone
    let mut first = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut second = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // Both slots are held by sockets that never handshake; a real client makes room by closing
    // the one waiting the longest, long before the handshake timeout.
    assert!(pings(&client_trusting(&ca, true), &g), "{}", g.output());
    let now = Instant::now();
    assert!(closed_at(&mut first, now, now + Duration::from_secs(5)).is_some(), "the oldest handshake kept its slot");
    assert!(closed_at(&mut second, now, now + Duration::from_millis(300)).is_none(), "the newer handshake was closed too");
}

#[test]
fn victoriametrics_behind_tls_with_a_ca_file() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let vm_pair = pki.server(&ca, "vm");
    let vm = vm::Vm::start_tls(&vm_pair.cert, &vm_pair.key);
    assert!(vm.url.starts_with("https://"));
    let client_pair = pki.server(&ca, "client");
    let mut cfg = GateConfig::new();
    cfg.backend.extend([
        "kind = \"victoriametrics\"".to_string(),
        format!("url = {:?}", vm.url),
        "timeout = \"5s\"".into(),
        format!("ca_file = {:?}", ca.cert.to_str().unwrap()),
        format!("client_cert = {:?}", client_pair.cert.to_str().unwrap()),
        format!("client_key = {:?}", client_pair.key.to_str().unwrap()),
    ]);
    let g = Gate::start_with(cfg);
    let w = g.admin().write("vmdb", "cpu,host=a usage=1.5 1700000000000000000\ncpu,host=b usage=2.5 1700000000000000000");
    assert_eq!(w.status, 204, "{}\n{}", w.describe(), g.output());
    let q = g.admin().query_ok("SELECT usage FROM cpu GROUP BY host", "vmdb");
    let series = q["results"][0]["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 2, "{q}");
    assert_eq!(g.admin().get("/health").json()["status"], "pass", "{}", g.output());
    // Without the CA the store's certificate is not trusted: the store is unreachable.
    let mut untrusting = GateConfig::new();
    untrusting.backend.extend(["kind = \"victoriametrics\"".to_string(), format!("url = {:?}", vm.url), "timeout = \"5s\"".into()]);
    let g2 = Gate::start_with(untrusting);
    let h = g2.admin().get("/health").json();
    assert_ne!(h["status"], "pass", "{h}");
    assert!(h["message"].as_str().unwrap_or("").contains("certificate"), "{h}");
}

#[test]
fn clickhouse_behind_tls_with_a_ca_file() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let ch_pair = pki.server(&ca, "ch");
    let ch = clickhouse::ClickHouse::single_tls(&ch_pair.cert, &ch_pair.key);
    assert!(ch.url().starts_with("https://"));
    let mut cfg = GateConfig::new().raw(&ch.gate_section());
    cfg.backend.extend(ch.gate_backend());
    cfg.backend.push(format!("ca_file = {:?}", ca.cert.to_str().unwrap()));
    let g = Gate::start_with(cfg);
    let w = g.admin().write("chdb", "cpu,host=a usage=1.5 1700000000000000000\ncpu,host=b usage=2.5 1700000000000000000");
    assert_eq!(w.status, 204, "{}\n{}", w.describe(), g.output());
    let q = g.admin().query_ok("SELECT sum(usage) FROM cpu", "chdb");
    assert_eq!(rows(&q), vec![vec![serde_json::json!(0), serde_json::json!(4)]], "{q}");
}
