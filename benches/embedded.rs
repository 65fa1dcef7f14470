//! Write/scan throughput of the embedded store with TSBS-like `cpu` points (10 tags, 10 float
//! fields, 1000 hosts, 10 s apart). Prints points/s; not a criterion bench (one long run says more
//! than many tiny ones for a group-committing writer).
//!
//!     cargo bench --bench embedded            # defaults: 1000 hosts x 100 rounds, batches of 5000
//!     EMB_HOSTS=1000 EMB_ROUNDS=300 EMB_BATCH=10000 EMB_WRITERS=4 EMB_SYNC=full cargo bench --bench embedded
//!
//! With `EMB_CATALOG_SERIES=N` it measures the in-memory catalog instead: it writes N series of
//! one point each (`mem,host=h<i>,dc=dc<i % 10> v=1i`; `EMB_TAGS=k` gives k tags, the first
//! unique per series, the others 10 values each), reports the process's RSS growth, then reopens
//! the store in a fresh process (this binary again) and reports the open time and RSS growth there:
//!
//!     EMB_CATALOG_SERIES=1000000 cargo bench --bench embedded

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use influxgate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use influxgate::backend::{Backend, ScanRequest, TagPredicate, WriteBatch};
use influxgate::model::{FieldValue, Point};
use rand::{Rng, SeedableRng};

#[path = "../tests/support/procfs.rs"]
mod procfs;

/// CPU seconds (user + system) this process has used so far, from /proc (0 where unavailable).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let Some(rest) = stat.rsplit(')').next() else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const FIELDS: [&str; 10] = [
    "usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
    "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
];

fn host_tags(i: usize) -> Vec<(String, String)> {
    let regions = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"];
    let mut t = vec![
        ("arch".to_string(), ["x64", "x86"][i % 2].to_string()),
        ("datacenter".to_string(), format!("{}{}", regions[i % regions.len()], ["a", "b", "c"][i % 3])),
        ("hostname".to_string(), format!("host_{i}")),
        ("os".to_string(), ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"][i % 3].to_string()),
        ("rack".to_string(), (i % 100).to_string()),
        ("region".to_string(), regions[i % regions.len()].to_string()),
        ("service".to_string(), (i % 20).to_string()),
        ("service_environment".to_string(), ["production", "staging", "test"][i % 3].to_string()),
        ("service_version".to_string(), (i % 2).to_string()),
        ("team".to_string(), ["SF", "NYC", "LON", "CHI"][i % 4].to_string()),
    ];
    t.sort();
    t
}

fn catalog_options() -> EmbeddedOptions {
    EmbeddedOptions {
        retention_check_interval: 0,
        cardinality: influxgate::backend::CardinalityLimits { max_series_per_database: 0, max_values_per_tag: 0 },
        ..EmbeddedOptions::default()
    }
}

/// Writes `n` one-point series, then reopens the store in a child process (see the module doc).
fn catalog_memory(n: usize) {
    let ntags = env("EMB_TAGS", 2).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let base = procfs::vm_rss("self");
    rt.block_on(async {
        let b = EmbeddedBackend::open(dir.path(), catalog_options()).expect("open");
        let start = Instant::now();
        let mut i = 0;
        while i < n {
            let points: Vec<Point> = (i..(i + 10_000).min(n))
                .map(|s| {
                    let mut tags = vec![("host".to_string(), format!("h{s}"))];
                    for k in 1..ntags {
                        tags.push((format!("t{k}"), format!("v{}", s % 10)));
                    }
                    tags.sort();
                    Point { measurement: "mem".into(), tags, fields: vec![("v".into(), FieldValue::Integer(1))], time: 1 }
                })
                .collect();
            i += points.len();
            b.write(WriteBatch { db: "catalog".into(), rp: None, points: points.into() }).await.expect("write");
        }
        let grown = procfs::vm_rss("self").saturating_sub(base);
        println!(
            "catalog: wrote {n} series ({ntags} tags) in {:.2}s; RSS grew {:.1} MB = {:.0} bytes/series (writing process)",
            start.elapsed().as_secs_f64(),
            grown as f64 / 1e6,
            grown as f64 / n as f64
        );
    });
    drop(rt);
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .env("EMB_REOPEN", dir.path())
        .env("EMB_CATALOG_SERIES", n.to_string())
        .output()
        .expect("reopen");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

/// The child of `catalog_memory`: opens the store in `dir` and reports time and RSS growth.
fn catalog_reopen(dir: &str, n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let base = procfs::vm_rss("self");
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let b = EmbeddedBackend::open(std::path::Path::new(dir), catalog_options()).expect("open");
    let (took, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let grown = procfs::vm_rss("self").saturating_sub(base);
    println!(
        "catalog: reopened with {n} series in {took:.2}s, {cpu:.2} CPU-s ({:.2} CPU-s per million); RSS grew {:.1} MB = {:.0} bytes/series",
        cpu * 1e6 / n as f64,
        grown as f64 / 1e6,
        grown as f64 / n as f64
    );
    drop(b);
    drop(rt);
}

fn main() {
    if let Some(n) = std::env::var("EMB_CATALOG_SERIES").ok().and_then(|v| v.parse::<usize>().ok()) {
        match std::env::var("EMB_REOPEN") {
            Ok(dir) => catalog_reopen(&dir, n),
            Err(_) => catalog_memory(n),
        }
        return;
    }
    let hosts = env("EMB_HOSTS", 1000);
    let rounds = env("EMB_ROUNDS", 100);
    let batch_size = env("EMB_BATCH", 5000);
    let writers = env("EMB_WRITERS", 2).max(1);
    let sync_full = std::env::var("EMB_SYNC").map(|s| s != "normal").unwrap_or(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let b = Arc::new(
            EmbeddedBackend::open(
                dir.path(),
                EmbeddedOptions { default_retention: 0, sync_full, retention_check_interval: 0, ..EmbeddedOptions::default() },
            )
            .expect("open"),
        );
        let tags: Vec<Vec<(String, String)>> = (0..hosts).map(host_tags).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let t0: i64 = 1_451_606_400_000_000_000;
        // Pre-build the batches so the bench measures the store, not point construction.
        let mut batches: Vec<Vec<Point>> = Vec::new();
        let mut cur = Vec::with_capacity(batch_size);
        for r in 0..rounds {
            for tg in tags.iter() {
                cur.push(Point {
                    measurement: "cpu".to_string(),
                    tags: tg.clone(),
                    fields: FIELDS.iter().map(|f| (f.to_string(), FieldValue::Float(rng.gen_range(0.0..100.0)))).collect(),
                    time: t0 + r as i64 * 10_000_000_000,
                });
                if cur.len() == batch_size {
                    batches.push(std::mem::replace(&mut cur, Vec::with_capacity(batch_size)));
                }
            }
        }
        if !cur.is_empty() {
            batches.push(cur);
        }
        let total: usize = batches.iter().map(|b| b.len()).sum();
        let mut per_writer: Vec<Vec<Vec<Point>>> = (0..writers).map(|_| Vec::new()).collect();
        for (i, bt) in batches.into_iter().enumerate() {
            per_writer[i % writers].push(bt);
        }
        let start = Instant::now();
        let cpu0 = cpu_seconds();
        let mut hs = Vec::new();
        for mine in per_writer {
            let b = b.clone();
            hs.push(tokio::spawn(async move {
                for points in mine {
                    b.write(WriteBatch { db: "benchmark".into(), rp: None, points: points.into() }).await.expect("write");
                }
            }));
        }
        for h in hs {
            h.await.expect("join");
        }
        let el = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        println!(
            "write: {total} points ({} values) in {el:.2}s = {:.0} points/s, {:.0} values/s; {:.2} CPU-µs/point  (hosts={hosts}, batch={batch_size}, writers={writers}, sync_full={sync_full})",
            total * 10,
            total as f64 / el,
            total as f64 * 10.0 / el,
            cpu * 1e6 / total as f64
        );

        let start = Instant::now();
        let mut s = b
            .scan(ScanRequest::new("benchmark", None, "cpu", TagPredicate::True, i64::MIN, i64::MAX, FIELDS.iter().map(|s| s.to_string()).collect()))
            .await
            .expect("scan");
        let mut n = 0usize;
        while let Some(c) = s.next().await {
            n += c.expect("chunk").times.len();
        }
        let el = start.elapsed().as_secs_f64();
        println!("scan: {n} rows x 10 fields in {el:.2}s = {:.0} rows/s", n as f64 / el);
    });
}
