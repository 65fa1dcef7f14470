//! Test harness shared by the integration tests: starts the real `influxgate` binary (and, for the
//! differential tests, a real InfluxDB 1.x `influxd`) on free loopback ports with throw-away data
//! directories, and gives small blocking HTTP helpers for `/write` and `/query`.
//!
//! Every process started here is killed when its handle is dropped, also when a test panics.
//! A missing external program (influxd, influx, python3-influxdb) makes the test FAIL with a message
//! naming the Debian package; `scripts/test.sh` installs them.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod python;
pub mod raw;
pub mod vm;

/// The admin token every influxgate started here accepts (given with `--admin-token`).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// How long a server may take to answer its first `/ping`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Ports, hashes, external programs
// ---------------------------------------------------------------------------------------------

/// Waits (at most `within`, looking every 50 ms) until `f` holds; whether it did.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A loopback port nobody listens on right now (the OS picks it; we release it immediately).
/// Another process (a server of a test running alongside) may take it before ours binds it:
/// whoever waits for a server on it also checks [`owns_listener`].
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Whether process `pid` holds the socket listening on `port` (read from /proc): what answers on
/// a port picked by [`free_port`] is the server just started, not another test's process that
/// took the port in between while ours failed to bind it (a /ping or /health answer alone looks
/// the same; a CI run once drove a test against another test's influxgate so). True when /proc
/// cannot tell (not Linux).
pub fn owns_listener(pid: u32, port: u16) -> bool {
    let tables: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"].iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    if tables.is_empty() {
        return true;
    }
    // `sl local_address rem_address st ... inode`: the port in hex after the colon, 0A = LISTEN.
    let inodes: Vec<String> = tables
        .iter()
        .flat_map(|t| t.lines().skip(1))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local == port && *f.get(3)? == "0A").then(|| format!("socket:[{}]", f.get(9).copied().unwrap_or_default()))
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str())))
}

/// The port of a `scheme://host:port` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).expect("a port in the URL")
}

/// The admin token a first start printed in its banner (64 hex digits on a line of their own),
/// if `log` holds one; the last one when it holds several.
pub fn printed_admin_token(log: &str) -> Option<String> {
    let banners = log.split("admin token was generated").skip(1);
    let tokens = banners.filter_map(|b| {
        let mut lines = b.lines().map(str::trim);
        lines.find(|l| l.len() == 64 && l.bytes().all(|c| c.is_ascii_hexdigit())).map(str::to_owned)
    });
    tokens.last()
}

/// `sha256:<hex>` of a token, as `[[tokens]] hash` wants it.
pub fn token_hash(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// Finds an executable on PATH (and in the Debian locations), or fails the test naming the package.
pub fn require_program(name: &str, debian_package: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` not found: install the Debian package `{debian_package}` \
         (apt-get install -y --no-install-recommends {debian_package}; scripts/test.sh does this)"
    );
}

/// Runs the `influx` CLI 1.6 (Debian's influxdb-client) against `g` with `token` as password:
/// `-execute` one statement in `db` (over HTTPS with `-ssl -unsafeSsl` when `g` serves it).
/// Success, stdout, stderr.
pub fn influx_cli(g: &Gate, token: &str, db: &str, execute: &str, extra: &[&str]) -> (bool, String, String) {
    let exe = require_program("influx", "influxdb-client");
    let ssl: &[&str] = if g.url.starts_with("https://") { &["-ssl", "-unsafeSsl"] } else { &[] };
    let out = Command::new(exe)
        .args(["-host", "127.0.0.1", "-port", &g.port.to_string(), "-username", "someone", "-password", token])
        .args(["-database", db, "-execute", execute])
        .args(ssl)
        .args(extra)
        .env("NO_PROXY", "*")
        .env_remove("INFLUX_USERNAME")
        .env_remove("INFLUX_PASSWORD")
        .output()
        .expect("run influx");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn tail_of(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

fn wait_for_ping(child: &mut Child, url: &str, log: &Path, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let client = client_for(url);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited before answering /ping ({status}); its output:\n{}", tail_of(log, 4000)));
        }
        if let Ok(r) = client.get(format!("{url}/ping")).send() {
            if (r.status().as_u16() == 204 || r.status().is_success()) && owns_listener(child.id(), port_of(url)) {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what} did not answer /ping within {START_TIMEOUT:?}; its output:\n{}", tail_of(log, 4000)));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

// ---------------------------------------------------------------------------------------------
// influxgate
// ---------------------------------------------------------------------------------------------

/// A token to put into the config file.
#[derive(Clone, Debug, Default)]
pub struct TokenSpec {
    pub name: String,
    pub token: String,
    pub admin: bool,
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub requests_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub write_bytes_per_second: Option<u64>,
}

impl TokenSpec {
    /// A token named `name` whose secret is derived from the name.
    pub fn new(name: &str) -> TokenSpec {
        TokenSpec { name: name.into(), token: format!("tok-{name}-{}", hex::encode(Sha256::digest(name.as_bytes()))[..16].to_owned()), ..Default::default() }
    }
    pub fn read(mut self, dbs: &[&str]) -> Self {
        self.read = dbs.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn write(mut self, dbs: &[&str]) -> Self {
        self.write = dbs.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
    pub fn rate(mut self, requests_per_second: u32, burst: u32) -> Self {
        self.requests_per_second = Some(requests_per_second);
        self.burst = Some(burst);
        self
    }
    pub fn write_bytes_per_second(mut self, n: u64) -> Self {
        self.write_bytes_per_second = Some(n);
        self
    }

    fn toml(&self) -> String {
        let list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let mut s = String::from("\n[[tokens]]\n");
        let _ = writeln!(s, "name = {}", toml_str(&self.name));
        let _ = writeln!(s, "hash = {}", toml_str(&token_hash(&self.token)));
        if self.admin {
            s.push_str("admin = true\n");
        }
        let _ = writeln!(s, "read = {}", list(&self.read));
        let _ = writeln!(s, "write = {}", list(&self.write));
        if let Some(n) = self.requests_per_second {
            let _ = writeln!(s, "requests_per_second = {n}");
        }
        if let Some(n) = self.burst {
            let _ = writeln!(s, "burst = {n}");
        }
        if let Some(n) = self.write_bytes_per_second {
            let _ = writeln!(s, "write_bytes_per_second = {n}");
        }
        s
    }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string to json")
}

/// How to start an influxgate: tokens and `[limits]` lines for its config file.
#[derive(Clone, Debug, Default)]
pub struct GateConfig {
    pub tokens: Vec<TokenSpec>,
    /// Lines under `[limits]`, e.g. `max_body_bytes = 1000`.
    pub limits: Vec<String>,
    /// Lines under `[backend]`.
    pub backend: Vec<String>,
    /// TOML appended as is (e.g. a `[[tokens]]` entry printed by `influxgate token create`).
    pub raw: String,
    /// The server speaks HTTPS (a `[tls]` section in `raw`): its URL is `https://`, and the
    /// harness's clients accept any certificate.
    pub https: bool,
    /// Command-line flags after the harness's own.
    pub args: Vec<String>,
    /// Lines under `[log]` (`level = "warn"` unless one sets `level`).
    pub log: Vec<String>,
    /// Lines under `[server]`.
    pub server: Vec<String>,
}

impl GateConfig {
    pub fn new() -> GateConfig {
        GateConfig::default()
    }
    pub fn token(mut self, t: TokenSpec) -> Self {
        self.tokens.push(t);
        self
    }
    pub fn limit(mut self, line: &str) -> Self {
        self.limits.push(line.into());
        self
    }
    /// Serve HTTPS with this certificate and key; `tls_lines` go under `[tls]` too.
    pub fn tls(mut self, cert: &Path, key: &Path, tls_lines: &[&str]) -> Self {
        self.https = true;
        let mut t = format!("[tls]\ncert = {}\nkey = {}\n", toml_str(&cert.to_string_lossy()), toml_str(&key.to_string_lossy()));
        for l in tls_lines {
            t.push_str(l);
            t.push('\n');
        }
        self.raw(&t)
    }
    pub fn log(mut self, line: &str) -> Self {
        self.log.push(line.into());
        self
    }
    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.into());
        self
    }
    pub fn raw(mut self, toml: &str) -> Self {
        self.raw.push('\n');
        self.raw.push_str(toml);
        self.raw.push('\n');
        self
    }

    fn toml(&self) -> String {
        let mut s = String::from("[log]\n");
        if !self.log.iter().any(|l| l.trim_start().starts_with("level")) {
            s.push_str("level = \"warn\"\n");
        }
        for l in &self.log {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("\n[server]\n");
        for l in &self.server {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("\n[backend]\n");
        for l in &self.backend {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("\n[limits]\n");
        for l in &self.limits {
            s.push_str(l);
            s.push('\n');
        }
        for t in &self.tokens {
            s.push_str(&t.toml());
        }
        s.push_str(&self.raw);
        s
    }
}

/// A running influxgate (the binary this crate builds). Killed on drop.
pub struct Gate {
    child: Option<Child>,
    pub url: String,
    pub port: u16,
    dir: tempfile::TempDir,
    config: GateConfig,
    starts: u32,
}

impl Gate {
    /// An influxgate with only the admin token ([`ADMIN_TOKEN`]).
    pub fn start() -> Gate {
        Gate::start_with(GateConfig::new())
    }

    pub fn start_with(config: GateConfig) -> Gate {
        let dir = tempfile::Builder::new().prefix("influxgate-test-").tempdir().expect("temp dir");
        let mut g = Gate { child: None, url: String::new(), port: 0, dir, config, starts: 0 };
        g.launch();
        g
    }

    pub fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_influxgate")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn launch(&mut self) {
        std::fs::create_dir_all(self.data_dir()).expect("create data dir");
        std::fs::write(self.config_path(), self.config.toml()).expect("write config");
        let mut last_err = String::new();
        // A port picked by free_port() can be taken by someone else before we bind it: retry.
        for _ in 0..3 {
            self.starts += 1;
            let port = free_port();
            let log = self.dir.path().join(format!("influxgate-{}.log", self.starts));
            let out = std::fs::File::create(&log).expect("log file");
            let err = out.try_clone().expect("log file");
            let mut child = Command::new(Gate::binary())
                .arg("serve")
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(self.data_dir())
                .arg("--admin-token")
                .arg(ADMIN_TOKEN)
                .arg("--config")
                .arg(self.config_path())
                .args(&self.config.args)
                .env_remove("RUST_LOG")
                .env_remove("INFLUXGATE_ADMIN_TOKEN")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", Gate::binary()));
            let url = format!("{}://127.0.0.1:{port}", if self.config.https { "https" } else { "http" });
            match wait_for_ping(&mut child, &url, &log, "influxgate") {
                Ok(()) => {
                    self.child = Some(child);
                    self.url = url;
                    self.port = port;
                    return;
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = e;
                    if !last_err.contains("in use") {
                        break;
                    }
                }
            }
        }
        panic!("{last_err}");
    }

    /// Kills the server (SIGKILL: a 204 must already be durable) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts again on the same data directory and config (on a new port).
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends a signal (`libc::SIGTERM`, `libc::SIGHUP`, ...) to the server process.
    pub fn signal(&self, sig: i32) {
        let pid = self.pid().expect("the server is running");
        // SAFETY: kill(2) on our own child's pid; no memory is shared.
        let rc = unsafe { libc::kill(pid as i32, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Waits up to `within` for the process to exit; its status, or `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `within` for a line containing `needle` in the server's output.
    pub fn wait_output(&self, needle: &str, within: Duration) -> bool {
        eventually(within, || self.output().contains(needle))
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Everything the server printed so far (all starts).
    pub fn output(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.starts {
            s.push_str(&tail_of(&self.dir.path().join(format!("influxgate-{i}.log")), 20_000));
        }
        s
    }

    /// Everything the server printed so far (all starts), whole.
    pub fn full_output(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.starts {
            let text = std::fs::read(self.dir.path().join(format!("influxgate-{i}.log"))).unwrap_or_default();
            s.push_str(&String::from_utf8_lossy(&text));
        }
        s
    }

    /// A client that sends the admin token as `Authorization: Token ...`.
    pub fn admin(&self) -> Api {
        Api::new(&self.url).auth(Auth::Token(ADMIN_TOKEN.into()))
    }

    /// A client with the given auth.
    pub fn api(&self, auth: Auth) -> Api {
        Api::new(&self.url).auth(auth)
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// influxd (InfluxDB 1.x, the oracle)
// ---------------------------------------------------------------------------------------------

/// A running real InfluxDB 1.x (`influxd` from Debian's `influxdb` package). Killed on drop.
pub struct Influxd {
    child: Option<Child>,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Influxd {
    pub fn start() -> Influxd {
        Influxd::start_with_env(&[])
    }

    /// With extra environment variables (e.g. `GOMAXPROCS`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Influxd {
        let exe = require_program("influxd", "influxdb");
        let dir = tempfile::Builder::new().prefix("influxd-test-").tempdir().expect("temp dir");
        let mut last_err = String::new();
        for attempt in 0..4 {
            let (port, bind_port) = (free_port(), free_port());
            if port == bind_port {
                continue;
            }
            let d = dir.path().display();
            let conf = dir.path().join("influxdb.conf");
            std::fs::write(
                &conf,
                format!(
                    "reporting-disabled = true\n\
                     bind-address = \"127.0.0.1:{bind_port}\"\n\
                     [meta]\n  dir = \"{d}/meta\"\n\
                     [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                     [monitor]\n  store-enabled = false\n\
                     [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n"
                ),
            )
            .expect("write influxd config");
            let log = dir.path().join(format!("influxd-{attempt}.log"));
            let out = std::fs::File::create(&log).expect("log file");
            let err = out.try_clone().expect("log file");
            let mut child = Command::new(&exe)
                .arg("-config")
                .arg(&conf)
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
            let https = env.iter().any(|(k, v)| *k == "INFLUXDB_HTTP_HTTPS_ENABLED" && *v == "true");
            let url = format!("{}://127.0.0.1:{port}", if https { "https" } else { "http" });
            match wait_for_ping(&mut child, &url, &log, "influxd") {
                Ok(()) => return Influxd { child: Some(child), url, dir },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = e;
                }
            }
        }
        panic!("{last_err}");
    }

    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = &self.dir;
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// [`client`] for `url`; for `https://` one that accepts any certificate (tests/tls.rs checks
/// certificates with clients of its own).
pub fn client_for(url: &str) -> reqwest::blocking::Client {
    if !url.starts_with("https://") {
        return client();
    }
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .danger_accept_invalid_certs(true)
        .build()
        .expect("http client")
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    /// `Authorization: Token <t>`
    Token(String),
    /// `Authorization: Bearer <t>`
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`, the token as password
    Basic(String, String),
    /// `?u=<user>&p=<password>`
    Query(String, String),
    /// A raw `Authorization` header value.
    Header(String),
}

/// An answer, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; fails the test (showing the body) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("answer {} is not JSON ({e}): {:?}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// `code` of an error body.
    pub fn code(&self) -> String {
        self.json().get("code").and_then(Value::as_str).unwrap_or("<no code>").to_owned()
    }

    /// `error` of an error body (the key 1.x clients read).
    pub fn error(&self) -> String {
        self.json().get("error").and_then(Value::as_str).unwrap_or("<no error>").to_owned()
    }

    pub fn describe(&self) -> String {
        format!("{} {}", self.status, self.text())
    }
}

/// A blocking client for one server with one way of authenticating.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub auth: Auth,
    client: reqwest::blocking::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api { base: base.trim_end_matches('/').to_owned(), auth: Auth::None, client: client_for(base) }
    }

    pub fn auth(mut self, auth: Auth) -> Api {
        self.auth = auth;
        self
    }

    /// Any request. `params` go into the query string; `headers` are added after the auth header.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut all: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        match &self.auth {
            Auth::None => {}
            Auth::Token(t) => req = req.header("Authorization", format!("Token {t}")),
            Auth::Bearer(t) => req = req.header("Authorization", format!("Bearer {t}")),
            Auth::Basic(u, p) => req = req.basic_auth(u, Some(p)),
            Auth::Query(u, p) => {
                all.push(("u".into(), u.clone()));
                all.push(("p".into(), p.clone()));
            }
            Auth::Header(h) => req = req.header("Authorization", h.as_str()),
        }
        if !all.is_empty() {
            req = req.query(&all);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = req.send().unwrap_or_else(|e| panic!("{} {path}: request failed: {e}", self.base));
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().map(|b| b.to_vec()).unwrap_or_else(|e| panic!("{path}: reading the answer failed: {e}"));
        Resp { status, headers, body }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], &[], None)
    }

    /// `POST /write?db=<db>` with a line-protocol body.
    pub fn write(&self, db: &str, body: &str) -> Resp {
        self.send("POST", "/write", &[("db", db)], &[], Some(body.as_bytes().to_vec()))
    }

    /// `POST /write` with extra query parameters (e.g. `precision`), raw body bytes and headers.
    pub fn write_with(&self, params: &[(&str, &str)], headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
        self.send("POST", "/write", params, headers, Some(body))
    }

    /// `POST /query` with a form body (`q`, `db` when non-empty, `epoch=ns`).
    pub fn query(&self, q: &str, db: &str) -> Resp {
        let mut params = vec![("q", q), ("epoch", "ns")];
        if !db.is_empty() {
            params.push(("db", db));
        }
        self.query_with(&params)
    }

    /// `POST /query` with the given form parameters.
    pub fn query_with(&self, params: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
        self.send(
            "POST",
            "/query",
            &[],
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(body.into_bytes()),
        )
    }

    /// A query that must succeed (200 without any statement error); its JSON.
    pub fn query_ok(&self, q: &str, db: &str) -> Value {
        let r = self.query(q, db);
        assert_eq!(r.status, 200, "{q}: {}", r.describe());
        let v = r.json();
        if let Some(results) = v.get("results").and_then(Value::as_array) {
            for res in results {
                assert!(res.get("error").is_none(), "{q}: statement error: {}", r.text());
            }
        }
        v
    }
}

/// All `values` rows of all series of the first statement of a query answer.
pub fn rows(v: &Value) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    if let Some(series) = v.pointer("/results/0/series").and_then(Value::as_array) {
        for s in series {
            if let Some(vals) = s.get("values").and_then(Value::as_array) {
                for row in vals {
                    out.push(row.as_array().cloned().unwrap_or_default());
                }
            }
        }
    }
    out
}

/// Column names of the first series of the first statement.
pub fn columns(v: &Value) -> Vec<String> {
    v.pointer("/results/0/series/0/columns")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(|x| x.as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Whether something answers on a TCP port (used to check a server is still up).
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&format!("127.0.0.1:{port}").parse().expect("addr"), Duration::from_secs(2)).is_ok()
}

/// Reads a file under tests/ (the project's own test data; never /work/shared).
pub fn test_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(rel);
    let mut s = String::new();
    std::fs::File::open(&p)
        .and_then(|mut f| f.read_to_string(&mut s))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    s
}

/// A database name unique within this test process.
pub fn unique_db(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}


/// ClickHouse servers, clusters (with ZooKeeper) and the chdb adapter for the ClickHouse backend tests.
pub mod clickhouse;
pub mod pushdown;
