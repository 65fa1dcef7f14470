//! A real `victoria-metrics` (Debian package `victoria-metrics`) on a free loopback port with a
//! throw-away data directory, killed when dropped. Usable from blocking and async tests alike: its
//! health is polled over a plain TCP request, not through an HTTP client tied to a runtime.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VM_BIN: &str = "/usr/bin/victoria-metrics";

pub struct Vm {
    child: Option<Child>,
    pub url: String,
    _dir: tempfile::TempDir,
    /// When the running process was first seen healthy, Unix seconds (it started then or before).
    healthy_at: u64,
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether `GET /health` on `port` answers 200.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Starts a VictoriaMetrics process on `port` with its data under `dir`, keeping 100 years.
fn spawn(port: u16, dir: &Path, extra: &[&str]) -> Child {
    Command::new(VM_BIN)
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", dir.join("vm").display()))
        .arg("-retentionPeriod=100y")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start victoria-metrics")
}

/// Whether `GET /health` over HTTPS on `port` answers 200 (any certificate accepted; blocking
/// tests only).
fn healthy_tls(port: u16) -> bool {
    let client = super::client_for("https://");
    client.get(format!("https://127.0.0.1:{port}/health")).send().is_ok_and(|r| r.status().as_u16() == 200)
}

impl Vm {
    /// Starts VictoriaMetrics keeping 100 years (its default month would drop the test data's
    /// 2024 timestamps), with `extra` flags (e.g. `-search.latencyOffset=0s`).
    pub fn start(extra: &[&str]) -> Vm {
        Vm::start_on("http", healthy, extra)
    }

    /// Starts it serving HTTPS only (`-tls`) with this certificate and key. Blocking tests only.
    pub fn start_tls(cert: &Path, key: &Path) -> Vm {
        let flags = [format!("-tlsCertFile={}", cert.display()), format!("-tlsKeyFile={}", key.display())];
        Vm::start_on("https", healthy_tls, &["-tls", &flags[0], &flags[1]])
    }

    fn start_on(scheme: &str, healthy: fn(u16) -> bool, extra: &[&str]) -> Vm {
        if !Path::new(VM_BIN).exists() {
            panic!("{VM_BIN} not found: install the Debian package `victoria-metrics` (apt-get install victoria-metrics)");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        for _ in 0..5 {
            let port = super::free_port();
            let mut child = spawn(port, dir.path(), extra);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken, probably: retry with another
                }
                if healthy(port) && super::owns_listener(child.id(), port) {
                    return Vm { child: Some(child), url: format!("{scheme}://127.0.0.1:{port}"), _dir: dir, healthy_at: unix_secs() };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("victoria-metrics did not become healthy");
    }

    /// Kills it (a store going down under influxgate).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Vm {
    /// Starts it again (after [`Vm::stop`]) on the same port and data directory, with `extra`
    /// flags (give the same as to [`Vm::start`] to restart it as it was); waits until healthy.
    /// Plain HTTP only (not for a [`Vm::start_tls`] store).
    ///
    /// The new process starts in a later wall-clock second than the one it replaces: influxgate
    /// tells VictoriaMetrics processes apart by their start time, in whole seconds, and cannot
    /// see a replacement started in the same second unless it saw the store unreachable in
    /// between (a documented limit, `backend::victoriametrics::durability`; tests restart a store
    /// a second or two after starting it, a real crash-and-restart takes longer).
    pub fn restart(&mut self, extra: &[&str]) {
        self.stop();
        while unix_secs() <= self.healthy_at {
            std::thread::sleep(Duration::from_millis(20));
        }
        let port: u16 = self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in url");
        self.child = Some(spawn(port, self._dir.path(), extra));
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid = self.child.as_ref().map_or(0, Child::id);
        while !(healthy(port) && super::owns_listener(pid, port)) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("victoria-metrics exited at restart on port {port}: {status}");
            }
            assert!(Instant::now() < deadline, "victoria-metrics did not become healthy again on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.healthy_at = unix_secs();
    }
}
