//! ClickHouse for the tests: a single `clickhouse-server` (Debian package `clickhouse-server`, 18.16),
//! a cluster of them coordinated by a standalone ZooKeeper (Debian package `zookeeper`), and a
//! current ClickHouse engine served over ClickHouse's HTTP interface by `tests/chdb_http.py` (PyPI
//! package `chdb`). Every process runs on free loopback ports with a throw-away directory and is
//! killed when its handle is dropped.
//!
//! The cluster is named [`CLUSTER`] in every node's `remote_servers`; each node has the macros
//! `shard` (1-based) and `replica` (`r1`, `r2`, ...), and `internal_replication` is on, as a
//! replicated deployment needs. A missing program fails the test naming the package to install.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster name every node's `remote_servers` defines.
pub const CLUSTER: &str = "gate";

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A blocking `POST /` of `sql` to a ClickHouse HTTP endpoint: `Ok(body)` on 200, `Err(text)` otherwise.
pub fn query(url: &str, sql: &str) -> Result<String, String> {
    let r = super::client_for(url)
        .post(format!("{url}/"))
        .body(sql.to_owned())
        .send()
        .map_err(|e| format!("{url}: {e}"))?;
    let ok = r.status().is_success();
    let text = r.text().map_err(|e| format!("{url}: {e}"))?;
    if ok {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Whether `GET /ping` answers `Ok.` (a raw request: usable from async tests too).
fn pings(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.") && buf.windows(3).any(|w| w == b"Ok.")
}

/// Whether ZooKeeper serves: its `srvr` command answers with its mode. (It accepts connections a
/// moment before it serves them; a clickhouse-server 18.16 whose first ZooKeeper handshake fails
/// that way crashes on its next ON CLUSTER statement.)
fn zookeeper_serves(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"srvr").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).contains("Mode:")
}

/// Waits until `ready` holds (true) or the process exits or takes too long (false; it is killed).
fn wait_until(child: &mut Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn tail(path: &Path) -> String {
    let t = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&t[t.len().saturating_sub(3000)..]).into_owned()
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// Ports of one ClickHouse node.
#[derive(Clone, Copy, Debug)]
struct Ports {
    http: u16,
    tcp: u16,
    interserver: u16,
    /// Served only with a certificate ([`ClickHouse::single_tls`]).
    https: u16,
}

impl Ports {
    fn pick() -> Ports {
        loop {
            let p = Ports { http: super::free_port(), tcp: super::free_port(), interserver: super::free_port(), https: super::free_port() };
            let all = [p.http, p.tcp, p.interserver, p.https];
            if all.iter().collect::<std::collections::HashSet<_>>().len() == all.len() {
                return p;
            }
        }
    }
}

/// One `clickhouse-server` process.
pub struct Node {
    child: Option<Child>,
    dir: PathBuf,
    ports: Ports,
    pub url: String,
    /// 1-based shard number and replica name in the cluster (1, "r1" for a single server).
    pub shard: usize,
    pub replica: String,
    /// PEM certificate and key of its HTTPS port, when it has one.
    tls: Option<(PathBuf, PathBuf)>,
}

impl Node {
    fn config(&self, cluster: &str, zk_port: Option<u16>) -> String {
        let d = self.dir.display();
        let p = self.ports;
        let mut s = format!(
            "<?xml version=\"1.0\"?>\n<yandex>\n\
             <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog>\
             <size>50M</size><count>1</count></logger>\n\
             <http_port>{}</http_port><tcp_port>{}</tcp_port><interserver_http_port>{}</interserver_http_port>\n\
             <interserver_http_host>127.0.0.1</interserver_http_host><listen_host>127.0.0.1</listen_host>\n\
             <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/user_files/</user_files_path>\n\
             <format_schema_path>{d}/format_schemas/</format_schema_path>\n\
             <users_config>{d}/users.xml</users_config>\n\
             <default_profile>default</default_profile><default_database>default</default_database>\n\
             <mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>0</uncompressed_cache_size>\n\
             <max_concurrent_queries>100</max_concurrent_queries>\n",
            p.http, p.tcp, p.interserver
        );
        s.push_str(cluster);
        if let Some((cert, key)) = &self.tls {
            s.push_str(&format!(
                "<https_port>{}</https_port><openSSL><server><certificateFile>{}</certificateFile>\
                 <privateKeyFile>{}</privateKeyFile><verificationMode>none</verificationMode>\
                 <loadDefaultCAFile>false</loadDefaultCAFile></server></openSSL>\n",
                p.https,
                cert.display(),
                key.display()
            ));
        }
        if let Some(zk) = zk_port {
            s.push_str(&format!(
                "<zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>\n\
                 <macros><shard>{}</shard><replica>{}</replica></macros>\n\
                 <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n",
                self.shard, self.replica
            ));
        }
        s.push_str("</yandex>\n");
        s
    }

    /// Users: `default` without a password (the tests' own queries) and `gate` / `gate-secret`;
    /// statements are logged in `system.query_log` (tests read the settings they ran with).
    fn users() -> &'static str {
        "<?xml version=\"1.0\"?>\n<yandex>\n\
         <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>in_order</load_balancing><log_queries>1</log_queries></default></profiles>\n\
         <users>\n\
           <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>\n\
           <gate><password>gate-secret</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></gate>\n\
         </users>\n\
         <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>\
         <read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>\n\
         </yandex>\n"
    }

    fn launch(&mut self) {
        let exe = super::require_program("clickhouse-server", "clickhouse-server");
        let out = std::fs::File::create(self.dir.join("stdout.log")).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(exe)
            .arg(format!("--config-file={}", self.dir.join("config.xml").display()))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
    }

    /// Waits for `/ping`; `false` when the process exited first (its port was taken, probably).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if pings(self.ports.http) && self.child.as_ref().is_some_and(|c| super::owns_listener(c.id(), self.ports.http)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("clickhouse-server in {} did not answer /ping in time:\n{}", self.dir.display(), tail(&self.dir.join("log/error.log")));
    }

    /// Kills the server (SIGKILL).
    pub fn stop(&mut self) {
        kill(&mut self.child);
    }

    /// Starts it again on the same ports and data.
    pub fn start(&mut self) {
        self.launch();
        assert!(self.wait_ready(), "clickhouse-server did not restart:\n{}", tail(&self.dir.join("log/error.log")));
    }

    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `sql` on this node; panics on an error.
    pub fn query(&self, sql: &str) -> String {
        query(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn tcp_port(&self) -> u16 {
        self.ports.tcp
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A standalone ZooKeeper.
pub struct ZooKeeper {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl ZooKeeper {
    fn start(dir: &Path) -> ZooKeeper {
        let jars = Path::new("/usr/share/zookeeper");
        let java = super::require_program("java", "zookeeper");
        if !jars.join("bin").exists() && !jars.exists() {
            panic!("ZooKeeper not found in /usr/share/zookeeper: install the Debian package `zookeeper`");
        }
        let dir = dir.join("zookeeper");
        std::fs::create_dir_all(dir.join("data")).expect("zk dir");
        for _ in 0..4 {
            let port = super::free_port();
            let cfg = format!(
                "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}/data\nclientPort={port}\n\
                 clientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=60000\n\
                 4lw.commands.whitelist=srvr\n",
                dir.display()
            );
            std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
            let out = std::fs::File::create(dir.join("zookeeper.log")).expect("log");
            let err = out.try_clone().expect("log");
            let mut child = Command::new(&java)
                .args(["-Xmx256m", "-XX:+UseSerialGC", "-cp", "/usr/share/java/*:/usr/share/zookeeper/*"])
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(dir.join("zoo.cfg"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("start zookeeper");
            let pid = child.id();
            if wait_until(&mut child, || zookeeper_serves(port) && super::owns_listener(pid, port)) {
                return ZooKeeper { child: Some(child), port, dir };
            }
        }
        panic!("zookeeper did not start:\n{}", tail(&dir.join("zookeeper.log")));
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        kill(&mut self.child);
        let _ = &self.dir;
    }
}

/// A single server or a cluster. `nodes[0]` is the node influxgate talks to.
pub struct ClickHouse {
    pub nodes: Vec<Node>,
    /// `Some(CLUSTER)` for a cluster.
    pub cluster: Option<String>,
    zk: Option<ZooKeeper>,
    _dir: tempfile::TempDir,
}

impl ClickHouse {
    /// One server, no ZooKeeper.
    pub fn single() -> ClickHouse {
        ClickHouse::start(&[1], false, None)
    }

    /// One server whose [`ClickHouse::url`] is its HTTPS port, with this PEM certificate and key.
    pub fn single_tls(cert: &Path, key: &Path) -> ClickHouse {
        ClickHouse::start(&[1], false, Some((cert.to_owned(), key.to_owned())))
    }

    /// A cluster: `replicas[i]` servers for shard `i + 1`, with ZooKeeper.
    pub fn cluster(replicas: &[usize]) -> ClickHouse {
        ClickHouse::start(replicas, true, None)
    }

    fn start(replicas: &[usize], with_zk: bool, tls: Option<(PathBuf, PathBuf)>) -> ClickHouse {
        let dir = tempfile::Builder::new().prefix("clickhouse-test-").tempdir().expect("temp dir");
        let zk = with_zk.then(|| ZooKeeper::start(dir.path()));
        for _ in 0..3 {
            let mut nodes = Vec::new();
            for (s, n) in replicas.iter().enumerate() {
                for r in 0..*n {
                    let ndir = dir.path().join(format!("s{}r{}", s + 1, r + 1));
                    std::fs::create_dir_all(ndir.join("log")).expect("node dir");
                    let ports = Ports::pick();
                    nodes.push(Node {
                        child: None,
                        dir: ndir,
                        ports,
                        url: match tls {
                            Some(_) => format!("https://127.0.0.1:{}", ports.https),
                            None => format!("http://127.0.0.1:{}", ports.http),
                        },
                        shard: s + 1,
                        replica: format!("r{}", r + 1),
                        tls: tls.clone(),
                    });
                }
            }
            let remote = if with_zk { remote_servers(&nodes) } else { String::new() };
            for n in nodes.iter_mut() {
                std::fs::write(n.dir.join("config.xml"), n.config(&remote, zk.as_ref().map(|z| z.port))).expect("config");
                std::fs::write(n.dir.join("users.xml"), Node::users()).expect("users");
                n.launch();
            }
            if nodes.iter_mut().all(|n| n.wait_ready()) {
                let ch = ClickHouse { nodes, cluster: with_zk.then(|| CLUSTER.to_string()), zk, _dir: dir };
                if with_zk {
                    ch.wait_for_zookeeper();
                }
                return ch;
            }
            // A port was taken between picking and binding: start again with new ones.
        }
        panic!("clickhouse-server did not start (ports taken?)");
    }

    /// Each node can reach ZooKeeper (ON CLUSTER statements need every node's DDL worker).
    fn wait_for_zookeeper(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for n in &self.nodes {
            loop {
                match query(&n.url, "SELECT count() FROM system.zookeeper WHERE path = '/'") {
                    Ok(_) => break,
                    Err(e) if Instant::now() > deadline => panic!("{} cannot reach zookeeper: {e}", n.url),
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
    }

    /// The URL influxgate is given.
    pub fn url(&self) -> &str {
        &self.nodes[0].url
    }

    /// `[backend]` config lines for an influxgate in front of this server or cluster.
    pub fn gate_backend(&self) -> Vec<String> {
        vec!["kind = \"clickhouse\"".into(), format!("url = {:?}", self.url())]
    }

    /// The `[backend.clickhouse]` section for it (the cluster name when there is one).
    pub fn gate_section(&self) -> String {
        match &self.cluster {
            Some(c) => format!("[backend.clickhouse]\ncluster = {c:?}\n"),
            None => "[backend.clickhouse]\n".into(),
        }
    }

    pub fn zookeeper_port(&self) -> Option<u16> {
        self.zk.as_ref().map(|z| z.port)
    }
}

fn remote_servers(nodes: &[Node]) -> String {
    let mut s = format!("<remote_servers><{CLUSTER}>\n");
    let shards = nodes.iter().map(|n| n.shard).max().unwrap_or(0);
    for shard in 1..=shards {
        s.push_str("<shard><internal_replication>true</internal_replication>");
        for n in nodes.iter().filter(|n| n.shard == shard) {
            s.push_str(&format!("<replica><host>127.0.0.1</host><port>{}</port></replica>", n.ports.tcp));
        }
        s.push_str("</shard>\n");
    }
    s.push_str(&format!("</{CLUSTER}></remote_servers>\n"));
    s
}

/// A current ClickHouse (PyPI's `chdb`, in process) behind ClickHouse's HTTP interface, served by
/// `tests/chdb_http.py`.
pub struct Chdb {
    child: Option<Child>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Chdb {
    pub fn start() -> Chdb {
        let python = super::require_program("python3", "python3");
        let probe = Command::new(&python).args(["-c", "import chdb"]).output().expect("run python3");
        if !probe.status.success() {
            panic!(
                "python3 cannot import chdb: install it with `python3 -m pip install chdb` (scripts/test.sh does this):\n{}",
                String::from_utf8_lossy(&probe.stderr)
            );
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("chdb_http.py");
        let dir = tempfile::Builder::new().prefix("chdb-test-").tempdir().expect("temp dir");
        for _ in 0..3 {
            let port = super::free_port();
            let log = dir.path().join("chdb.log");
            let out = std::fs::File::create(&log).expect("log");
            let err = out.try_clone().expect("log");
            let mut child = Command::new(&python)
                .arg(&script)
                .arg("--port")
                .arg(port.to_string())
                .arg("--path")
                .arg(dir.path().join("data"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("start chdb_http.py");
            let pid = child.id();
            if wait_until(&mut child, || pings(port) && super::owns_listener(pid, port)) {
                return Chdb { child: Some(child), url: format!("http://127.0.0.1:{port}"), _dir: dir };
            }
            if !tail(&log).contains("in use") {
                panic!("chdb_http.py did not start:\n{}", tail(&log));
            }
        }
        panic!("chdb_http.py did not start");
    }

    pub fn gate_backend(&self) -> Vec<String> {
        vec!["kind = \"clickhouse\"".into(), format!("url = {:?}", self.url)]
    }
}

impl Drop for Chdb {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}
