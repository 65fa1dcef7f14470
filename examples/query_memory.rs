//! Peak memory of the main query shapes, against what each query's governor charged.
//!
//! Writes a dataset once (`one`: one series of `--points` float points a second apart; `many`:
//! `--series` series sharing `--points` points; `sparse`: ten series of two points `--buckets`
//! seconds apart), then runs each shape on a fresh server over that data: after a warm-up query
//! the server's peak RSS is reset (`/proc/PID/clear_refs`), the shape runs, and the peak RSS growth
//! (`VmHWM` − `VmRSS` before) is set against the governor's peak (the `query memory` debug line of
//! `src/query/govern.rs`), both per point read (per bucket made for `fill`).
//!
//! ```text
//! cargo build --release && cargo run --example query_memory -- --bin target/release/influxgate
//! ```
//!
//! The server gets no memory limit, no timeout and `streaming = false` (the raw shape is read
//! buffered); it listens on loopback only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "peak RSS per point read against the query governor's account")]
struct Args {
    /// The influxgate binary.
    #[arg(long, default_value = "target/debug/influxgate")]
    bin: PathBuf,
    /// Points in `one`, and in `many`.
    #[arg(long, default_value_t = 500_000)]
    points: usize,
    /// Series of `many`.
    #[arg(long, default_value_t = 2_000)]
    series: usize,
    /// Seconds between the two points of each `sparse` series (buckets of a fill per series).
    #[arg(long, default_value_t = 500_000)]
    buckets: usize,
    /// Only these shapes (comma-separated names).
    #[arg(long)]
    shapes: Option<String>,
    /// Keep the data here (written when missing) instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

const TOKEN: &str = "query-memory-bench-token";
const DB: &str = "qm";
/// 2020-01-01T00:00:00Z, in seconds.
const T0: i64 = 1_577_836_800;

struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, dir: &Path) -> Result<Server, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let config = dir.join("config.toml");
    let log = dir.join(format!("server-{port}.log"));
    std::fs::write(
        &config,
        "[log]\nlevel = \"warn,influxgate::query::govern=debug\"\n\n[query]\nstreaming = false\n\
         max_memory_bytes = 0\ntimeout = \"0s\"\n",
    )
    .map_err(|e| e.to_string())?;
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--admin-token", TOKEN])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let srv = Server { child, url: format!("http://127.0.0.1:{port}"), log };
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        if client().get(format!("{}/ping", srv.url)).send().is_ok_and(|r| r.status().as_u16() == 204) {
            return Ok(srv);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("the server did not answer /ping within 60 s".into())
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(3600)).build().expect("client")
}

fn write(srv: &Server, body: String) -> Result<(), String> {
    let r = client()
        .post(format!("{}/write?db={DB}&precision=s", srv.url))
        .header("Authorization", format!("Token {TOKEN}"))
        .body(body)
        .send()
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() != 204 {
        return Err(format!("write: {} {}", r.status(), r.text().unwrap_or_default()));
    }
    Ok(())
}

/// The dataset, written in bodies of about 4 MB.
fn load(srv: &Server, a: &Args) -> Result<(), String> {
    let mut body = String::new();
    let flush = |body: &mut String, force: bool| -> Result<(), String> {
        if body.len() > 4_000_000 || (force && !body.is_empty()) {
            write(srv, std::mem::take(body))?;
        }
        Ok(())
    };
    for k in 0..a.points {
        body.push_str(&format!("one v={} {}\n", (k % 1000) as f64 * 0.25 + 0.1, T0 + k as i64));
        flush(&mut body, false)?;
    }
    let per = a.points.div_ceil(a.series.max(1));
    for k in 0..per {
        for h in 0..a.series {
            if k * a.series + h < a.points {
                body.push_str(&format!("many,host=h{h} v={} {}\n", ((k + h) % 997) as f64 * 0.5 + 0.3, T0 + 10 * k as i64));
            }
        }
        flush(&mut body, false)?;
    }
    for h in 0..10 {
        body.push_str(&format!("sparse,host=h{h} v=1 {T0}\nsparse,host=h{h} v=2 {}\n", T0 + a.buckets as i64 - 1));
    }
    flush(&mut body, true)
}

fn query(srv: &Server, q: &str) -> Result<String, String> {
    let r = client()
        .post(format!("{}/query", srv.url))
        .header("Authorization", format!("Token {TOKEN}"))
        .form(&[("q", q), ("db", DB)])
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let text = r.text().map_err(|e| e.to_string())?;
    if status != 200 || text.contains("\"error\"") {
        return Err(format!("{q}: {status} {}", &text[..text.len().min(300)]));
    }
    Ok(text)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The governor peaks the server logged so far.
fn governor_peaks(log: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("query memory"))
        .filter_map(|l| l.split("peak_bytes=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

/// (name, query, what is counted: points read or buckets made).
fn shapes(a: &Args) -> Vec<(&'static str, String, usize)> {
    let n = a.points;
    let one_end = format!("time >= {T0}s AND time < {}s", T0 + n as i64);
    let many_end = format!("time >= {T0}s AND time < {}s", T0 + 10 * n.div_ceil(a.series.max(1)) as i64);
    let fill = format!("time >= {T0}s AND time < {}s", T0 + a.buckets as i64);
    vec![
        ("raw_many", "SELECT v FROM many".into(), n),
        ("raw_many_host", "SELECT v FROM many GROUP BY host".into(), n),
        ("mean_one", "SELECT mean(v) FROM one".into(), n),
        ("mean_many", "SELECT mean(v) FROM many".into(), n),
        ("sum_one_1m", format!("SELECT sum(v) FROM one WHERE {one_end} GROUP BY time(1m)"), n),
        ("mean_many_1m", format!("SELECT mean(v) FROM many WHERE {many_end} GROUP BY time(1m)"), n),
        ("mean_many_1m_host", format!("SELECT mean(v) FROM many WHERE {many_end} GROUP BY time(1m), host"), n),
        ("count_one", "SELECT count(v) FROM one".into(), n),
        ("count_many_10s_host", format!("SELECT count(v) FROM many WHERE {many_end} GROUP BY time(10s), host"), n),
        ("max_many", "SELECT max(v) FROM many".into(), n),
        ("max_one_10s", format!("SELECT max(v) FROM one WHERE {one_end} GROUP BY time(10s)"), n),
        ("percentile_one", "SELECT percentile(v, 90) FROM one".into(), n),
        ("median_many", "SELECT median(v) FROM many".into(), n),
        ("top_many", "SELECT top(v, 10) FROM many".into(), n),
        ("top_host_many", "SELECT top(v, host, 5) FROM many".into(), n),
        ("derivative_many", format!("SELECT derivative(mean(v), 1s) FROM many WHERE {many_end} GROUP BY time(10s)"), n),
        ("derivative_raw_one", format!("SELECT derivative(v, 1s) FROM one WHERE {one_end}"), n),
        ("fill_sparse", format!("SELECT mean(v) FROM sparse WHERE {fill} GROUP BY time(1s), host fill(0)"), 10 * a.buckets),
        ("sub_raw", "SELECT mean(x) FROM (SELECT v AS x FROM many)".into(), n),
        ("sub_mean", format!("SELECT max(x) FROM (SELECT mean(v) AS x FROM one WHERE {one_end} GROUP BY time(1s))"), n),
    ]
}

fn measure(a: &Args, dir: &Path, name: &str, q: &str, count: usize) -> Result<(), String> {
    let srv = start(&a.bin, dir)?;
    let pid = srv.child.id();
    // Warm-up: threads, store connections, caches.
    query(&srv, &format!("SELECT count(v) FROM one WHERE time < {}s", T0 + 10))?;
    query(&srv, &format!("SELECT v FROM many WHERE time < {}s", T0 + 10))?;
    std::thread::sleep(Duration::from_millis(300));
    let logged = governor_peaks(&srv.log).len();
    let before = status_kib(pid, "VmRSS");
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").map_err(|e| format!("reset VmHWM: {e}"))?;
    let t = Instant::now();
    let answer = query(&srv, q)?;
    let took = t.elapsed();
    let grown = status_kib(pid, "VmHWM").saturating_sub(before) * 1024;
    let end = Instant::now() + Duration::from_secs(10);
    let peak = loop {
        let p = governor_peaks(&srv.log);
        if p.len() > logged || Instant::now() > end {
            break p.get(logged).copied().unwrap_or(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let per = |b: u64| b as f64 / count.max(1) as f64;
    println!(
        "{name:<20} {count:>9} {:>9.1} {:>9.1} {:>10.1} {:>10.1} {:>6.2} {:>7.1}s {:>9}",
        (grown as f64) / 1048576.0,
        (peak as f64) / 1048576.0,
        per(grown),
        per(peak),
        grown as f64 / peak.max(1) as f64,
        took.as_secs_f64(),
        answer.len(),
    );
    std::io::stdout().flush().ok();
    Ok(())
}

fn main() {
    let a = Args::parse();
    let tmp;
    let dir = match &a.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new().prefix("query-memory-").tempdir().expect("temp dir");
            tmp.path().to_path_buf()
        }
    };
    let run = || -> Result<(), String> {
        if !dir.join("data").exists() {
            std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
            let srv = start(&a.bin, &dir)?;
            let t = Instant::now();
            load(&srv, &a)?;
            eprintln!("data written in {:.1}s", t.elapsed().as_secs_f64());
        }
        let only: Option<Vec<&str>> = a.shapes.as_deref().map(|s| s.split(',').collect());
        println!(
            "{:<20} {:>9} {:>9} {:>9} {:>10} {:>10} {:>6} {:>8} {:>9}",
            "shape", "units", "RSS MiB", "gov MiB", "RSS B/unit", "gov B/unit", "ratio", "time", "answer B"
        );
        for (name, q, count) in shapes(&a) {
            if only.as_ref().is_some_and(|o| !o.contains(&name)) {
                continue;
            }
            if let Err(e) = measure(&a, &dir, name, &q, count) {
                println!("{name:<20} failed: {e}");
            }
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("query_memory: {e}");
        std::process::exit(1);
    }
}
