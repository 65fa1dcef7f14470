//! A bounded soak of the embedded store: writer threads and query threads (raw selects,
//! aggregates `GROUP BY time`, SHOW statements) against one influxgate for `SOAK_SECS` seconds
//! (default 60). Queries always overlap, so some reader always holds a snapshot: before the
//! checkpoint fix SQLite's passive checkpoints could never restart the WAL and it grew without
//! bound. Asserted during and after the run:
//!
//! * the WAL file stays under `2 × wal_max_bytes + 8 MiB` (the writer's bound, stated in
//!   `src/backend/embedded/checkpoint.rs`: one group commit past twice the threshold; a commit of
//!   this test's writers is far below 8 MiB);
//! * the server's RSS (`VmRSS`) stays under `RSS_MAX`;
//! * every point of every write answered 204 is read back at the end (count).

mod common;
#[path = "support/procfs.rs"]
mod procfs;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

const WAL_MAX_BYTES: u64 = 8 << 20;
const WAL_BOUND: u64 = 2 * WAL_MAX_BYTES + (8 << 20);
/// What the server may hold: the writer's page cache (128 MiB at most), the readers' (2 MiB each,
/// 8 kept), the series index (150 series here) and the queries below, which read a few series
/// or have the store aggregate, plus the process itself (~30 MB). The debug binary stays near
/// 120 MB with this load; an aggregate the query engine computes from the raw points of every
/// series would not be bounded by the store (src/query buffers its points; `[query]
/// max_memory_bytes` is its bound), so the queries here leave it out.
const RSS_MAX: u64 = 300 << 20;
const WRITERS: usize = 3;
const QUERIERS: usize = 3;
const HOSTS: usize = 50;
const BATCH: usize = 500;
const DB: &str = "soak";

/// Largest WAL size and RSS seen, and a sample every few seconds for the failure message.
#[derive(Default)]
struct Seen {
    wal: u64,
    rss: u64,
    log: Vec<String>,
}

fn batch_body(w: usize, n: u64, t0: i64) -> String {
    let mut body = String::with_capacity(BATCH * 80);
    for j in 0..BATCH {
        // Each (writer, host) series gets one point per batch, 1 µs apart.
        let ts = t0 + (n as i64 * (BATCH / HOSTS) as i64 + (j / HOSTS) as i64) * 1000;
        body.push_str(&format!("soak,w={w},h={} v={}i,x={}.5,s=\"payload-{j}\" {ts}\n", j % HOSTS, n, j));
    }
    body
}

fn queries(t0: i64) -> Vec<String> {
    let t1 = t0 + 3_600_000_000_000;
    vec![
        format!("SELECT * FROM soak WHERE w = '0' AND h = '7' AND time >= {t0}"),
        format!("SELECT v, s FROM soak WHERE h = '3' AND time >= {t0} AND time < {t1}"),
        // Aggregates the store answers (integer count/max/sum/min: pushed down) over all series,
        // and a float mean the query engine computes from the raw points of three series.
        format!("SELECT count(v), max(v) FROM soak WHERE time >= {t0} AND time < {t1} GROUP BY time(1ms)"),
        format!("SELECT sum(v), min(v) FROM soak WHERE time >= {t0} AND time < {t1} GROUP BY time(100ms), w"),
        format!("SELECT mean(x) FROM soak WHERE h = '5' AND time >= {t0} AND time < {t1} GROUP BY time(1ms)"),
        "SHOW MEASUREMENTS".to_string(),
        "SHOW SERIES FROM soak".to_string(),
        "SHOW TAG VALUES FROM soak WITH KEY = \"h\"".to_string(),
        "SHOW FIELD KEYS FROM soak".to_string(),
    ]
}

#[test]
fn mixed_load_keeps_wal_and_rss_bounded() {
    let secs: u64 = std::env::var("SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut cfg = GateConfig::new();
    cfg.backend.push(format!("wal_max_bytes = {WAL_MAX_BYTES}"));
    let g = Gate::start_with(cfg);
    let pid = g.pid().expect("server pid");
    let wal = g.data_dir().join("influxgate.sqlite-wal");
    // An hour ago, so the time ranges below cover every point and none is in the future.
    let t0 = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64)
        - 3_600_000_000_000;
    let stop = AtomicBool::new(false);
    let acked = AtomicU64::new(0);
    let query_count = AtomicU64::new(0);
    let seen = Mutex::new(Seen::default());
    let deadline = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (api, stop, acked) = (g.admin(), &stop, &acked);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let r = api.write(DB, &batch_body(w, n, t0));
                    assert_eq!(r.status, 204, "writer {w} batch {n}: {}", r.describe());
                    acked.fetch_add(BATCH as u64, Ordering::Relaxed);
                    n += 1;
                }
            });
        }
        for q in 0..QUERIERS {
            let (api, stop, count) = (g.admin(), &stop, &query_count);
            let qs = queries(t0);
            s.spawn(move || {
                let mut i = q;
                while !stop.load(Ordering::Relaxed) {
                    let r = api.query(&qs[i % qs.len()], DB);
                    assert_eq!(r.status, 200, "{}: {}", qs[i % qs.len()], r.describe());
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        let (stop, seen, wal) = (&stop, &seen, &wal);
        s.spawn(move || {
            let start = Instant::now();
            let mut last_log = Instant::now();
            while Instant::now() < deadline {
                let (w, r) = (std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0), procfs::vm_rss(&pid.to_string()));
                let mut g = seen.lock().unwrap();
                g.wal = g.wal.max(w);
                g.rss = g.rss.max(r);
                if last_log.elapsed() >= Duration::from_secs(5) {
                    g.log.push(format!("t={:>3}s wal={} MB rss={} MB", start.elapsed().as_secs(), w >> 20, r >> 20));
                    last_log = Instant::now();
                }
                let over = g.wal > WAL_BOUND || g.rss > RSS_MAX;
                drop(g);
                if over {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    let seen = seen.into_inner().unwrap();
    let history = seen.log.join("\n");
    let acked = acked.into_inner();
    eprintln!(
        "soak: {secs}s, {acked} points acknowledged, {} queries, max WAL {} MB, max RSS {} MB\n{history}",
        query_count.load(Ordering::Relaxed),
        seen.wal >> 20,
        seen.rss >> 20
    );
    assert!(seen.wal <= WAL_BOUND, "WAL reached {} bytes > {WAL_BOUND}:\n{history}", seen.wal);
    assert!(seen.rss <= RSS_MAX, "RSS reached {} bytes > {RSS_MAX}:\n{history}", seen.rss);
    assert!(query_count.load(Ordering::Relaxed) > 0 && acked > 0);
    let v = g.admin().query_ok("SELECT count(v) FROM soak", DB);
    let counted = rows(&v).first().and_then(|r| r.get(1)).and_then(|c| c.as_u64()).unwrap_or(0);
    assert_eq!(counted, acked, "points acknowledged with 204 vs read back");
    let (w, r) = (std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), procfs::vm_rss(&pid.to_string()));
    assert!(w <= WAL_BOUND && r <= RSS_MAX, "after the run: WAL {w} bytes, RSS {r} bytes");
}
