//! influxgate in front of a ClickHouse cluster (Debian's clickhouse-server 18.16 and zookeeper,
//! started by tests/common/clickhouse.rs) when nodes go down:
//!
//! * a shard killed while writers write: writes answer 503 with `Retry-After` while it is down,
//!   reads answer an error (never a partial answer), and every point that got a 204 reads back
//!   once it is up again;
//! * a replica of a shard down: writes and reads go on through the other replica, and the replica
//!   has every row once it is back;
//! * `insert_quorum = 2`: a write a replica cannot confirm is a 503, not a 204.
//!
//! * with the write spool: a shard killed while writers write: every write is answered 204 and
//!   every point reads back once the spool is replayed.
//!
//! The other gates run without the write spool, so that what ClickHouse's failures mean to a write
//! shows as 503s (with the spool such writes are spooled and replayed: tests/spool.rs).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::clickhouse::ClickHouse;
use common::*;

const DB: &str = "clu";

fn gate_for(ch: &ClickHouse, node: usize, extra: &str) -> Gate {
    gate_spooling(ch, node, extra, false)
}

fn gate_spooling(ch: &ClickHouse, node: usize, extra: &str, spool: bool) -> Gate {
    let spool = format!("[spool]\nenabled = {spool}\nretry_backoff_max = \"1s\"");
    let mut cfg = GateConfig::new().raw(&format!("{}{extra}", ch.gate_section())).raw(&spool);
    cfg.backend = vec!["kind = \"clickhouse\"".into(), format!("url = {:?}", ch.nodes[node].url), "timeout = \"10s\"".into()];
    Gate::start_with(cfg)
}

/// Batch `n`: 50 points of 5 series, times unique to the batch.
fn batch(n: u64) -> String {
    (0..50u64)
        .map(|i| format!("m,host=h{},w=w{} v={},n={n}i {}", i % 5, n % 7, n * 50 + i, 1_704_067_200_000_000_000 + (n * 50 + i) as i64 * 1_000_000))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `v` stored.
fn stored(api: &Api) -> std::collections::BTreeSet<u64> {
    let v = api.query_ok("SELECT v FROM m", DB);
    rows(&v).iter().map(|r| r[1].as_f64().expect("v") as u64).collect()
}

/// One write: batch, status, whether `Retry-After` came, when it was sent.
type Answer = (u64, u16, bool, Instant);

/// Writers sending numbered batches until `stop`.
fn writers(api: &Api, stop: &Arc<AtomicBool>, threads: u64) -> Vec<std::thread::JoinHandle<Vec<Answer>>> {
    (0..threads)
        .map(|t| {
            let (api, stop) = (api.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let r = api.write(DB, &batch(n));
                    out.push((n, r.status, r.header("Retry-After").is_some(), sent));
                    n += threads;
                    std::thread::sleep(Duration::from_millis(20));
                }
                out
            })
        })
        .collect()
}

/// A two-shard cluster and a gate on its first node (with or without the write spool); writers
/// write while the second shard is killed for `down`, after which `while_down` runs before it
/// starts again. Every write's answer.
fn writes_across_a_shard_outage(spool: bool, down: Duration, while_down: impl FnOnce(&Api)) -> (ClickHouse, Gate, Vec<Answer>) {
    let mut ch = ClickHouse::cluster(&[1, 1]);
    let gate = gate_spooling(&ch, 0, "", spool);
    let api = gate.admin();
    assert_eq!(api.write(DB, &batch(1_000_000)).status, 204, "the measurement exists before the shard goes");
    let stop = Arc::new(AtomicBool::new(false));
    let hs = writers(&api, &stop, 3);
    std::thread::sleep(Duration::from_millis(700));
    ch.nodes[1].stop();
    std::thread::sleep(down);
    while_down(&api);
    ch.nodes[1].start();
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    let answers = hs.into_iter().flat_map(|h| h.join().expect("writer")).collect();
    (ch, gate, answers)
}

#[test]
fn shard_killed_during_writes_loses_no_acknowledged_point() {
    let (_ch, gate, answers) = writes_across_a_shard_outage(false, Duration::from_millis(1500), |api| {
        // A read while a shard is down is an error, never the other shard's half.
        let r = api.query("SELECT count(v) FROM m", DB);
        assert!(r.status == 503 || r.text().contains("error"), "a read with a shard down: {}", r.describe());
    });
    let api = gate.admin();
    let acked: Vec<u64> = answers.iter().filter(|a| a.1 == 204).map(|a| a.0).collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.1 != 204).collect();
    assert!(!refused.is_empty(), "no write met the dead shard ({} writes)", answers.len());
    for (n, status, retry_after, _) in &refused {
        assert!(*status == 503 && *retry_after, "batch {n}: {status} (want 503 with Retry-After)");
    }
    assert!(acked.len() > 10, "too few writes succeeded: {}", acked.len());
    let have = stored(&api);
    let missing: Vec<u64> = acked.iter().flat_map(|n| (0..50).map(move |i| n * 50 + i)).filter(|v| !have.contains(v)).collect();
    assert!(missing.is_empty(), "{} acknowledged points lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    println!("{} writes acknowledged, {} refused with 503 while the shard was down", acked.len(), refused.len());
}

#[test]
fn shard_killed_during_writes_with_the_spool_refuses_and_loses_nothing() {
    let (_ch, gate, answers) = writes_across_a_shard_outage(true, Duration::from_millis(2000), |_| {});
    let api = gate.admin();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.1 != 204).collect();
    assert!(refused.is_empty(), "{} of {} writes refused, first: {:?}", refused.len(), answers.len(), refused[0]);
    let pending = || {
        let text = api.get("/metrics").text();
        let value = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok()).unwrap_or(-1.0);
        (value("influxgate_spool_points_total"), value("influxgate_spool_pending_points"))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while pending().1 != 0.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (spooled, left) = pending();
    assert_eq!(left, 0.0, "the spool was not replayed in 60 s; log:\n{}", gate.output());
    assert!(spooled > 0.0, "no write went through the spool ({} writes)", answers.len());
    let have = stored(&api);
    let missing: Vec<u64> = answers.iter().flat_map(|a| (0..50).map(move |i| a.0 * 50 + i)).filter(|v| !have.contains(v)).collect();
    assert!(missing.is_empty(), "{} acknowledged points lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    println!("{} writes acknowledged, {spooled} points spooled while the shard was down", answers.len());
}

#[test]
fn replica_down_writes_and_reads_go_on_and_it_catches_up() {
    // Shard 1 has replicas nodes[0] and nodes[1]; influxgate talks to shard 2 (nodes[2]), so
    // shard 1's rows go to whichever of its replicas is up.
    let mut ch = ClickHouse::cluster(&[2, 1]);
    let gate = gate_for(&ch, 2, "");
    let api = gate.admin();
    let first = api.write(DB, &batch(1_000_000));
    assert_eq!(first.status, 204, "{}", first.describe());
    let stop = Arc::new(AtomicBool::new(false));
    let hs = writers(&api, &stop, 2);
    std::thread::sleep(Duration::from_millis(500));
    ch.nodes[0].stop();
    let killed = Instant::now();
    let reads = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let r = api.query("SELECT count(v) FROM m", DB);
        reads.lock().unwrap().push(r.status);
        assert_eq!(r.status, 200, "a read with one replica of shard 1 down: {}", r.describe());
        assert!(!r.text().contains("\"error\""), "{}", r.describe());
    }
    ch.nodes[0].start();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let answers: Vec<Answer> = hs.into_iter().flat_map(|h| h.join().expect("writer")).collect();
    // A write on its way to the replica when it died fails (503); every write sent once the
    // replica was gone is served by the other one.
    for (n, status, retry_after, sent) in &answers {
        if *status != 204 {
            assert!(*status == 503 && *retry_after, "batch {n}: {status}");
            assert!(sent.saturating_duration_since(killed) < Duration::from_millis(300), "batch {n} sent after the replica was down: {status}");
        }
    }
    let after: Vec<&Answer> = answers.iter().filter(|a| a.3 > killed + Duration::from_millis(300)).collect();
    assert!(after.len() > 5, "too few writes while the replica was down: {}", after.len());
    let have = stored(&api);
    for (n, _, _, _) in answers.iter().filter(|a| a.1 == 204) {
        assert!((0..50).all(|i| have.contains(&(n * 50 + i))), "batch {n} lost");
    }
    // The replica that was down has every row of its shard once it caught up.
    let local = "`influx_clu.autogen.local`.m";
    ch.nodes[0].query(&format!("SYSTEM SYNC REPLICA {local}"));
    let (a, b) = (ch.nodes[0].query(&format!("SELECT count() FROM {local}")), ch.nodes[1].query(&format!("SELECT count() FROM {local}")));
    assert_eq!(a, b, "replicas of shard 1 differ");
    println!("{} writes with a replica down, {} reads, shard 1 holds {} rows on both replicas", answers.len(), reads.lock().unwrap().len(), a.trim());
}

#[test]
fn insert_quorum_refuses_writes_a_replica_cannot_confirm() {
    let mut ch = ClickHouse::cluster(&[2]);
    let gate = gate_for(&ch, 0, "insert_quorum = 2\n");
    let api = gate.admin();
    let first = api.write(DB, &batch(1));
    assert_eq!(first.status, 204, "{}", first.describe());
    ch.nodes[1].stop();
    let r = api.write(DB, &batch(2));
    assert_eq!(r.status, 503, "a write one of two replicas cannot confirm: {}", r.describe());
    assert!(r.header("Retry-After").is_some());
    ch.nodes[1].start();
    // The replica reconnects to ZooKeeper and is counted alive again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = api.write(DB, &batch(3));
    while last.status != 204 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        last = api.write(DB, &batch(3));
    }
    assert_eq!(last.status, 204, "{}", last.describe());
    let have = stored(&api);
    assert!((0..50).all(|i| have.contains(&(50 + i)) && have.contains(&(150 + i))));
    let local = "`influx_clu.autogen.local`.m";
    assert_eq!(ch.nodes[1].query(&format!("SELECT count() FROM {local} WHERE n = 3")).trim(), "50", "the quorum write is on both replicas");
}
