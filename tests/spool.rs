//! The write spool in front of VictoriaMetrics (`src/spool`), with real processes: a store killed
//! (`kill -9`) under a writer, influxgate killed while replaying, a full spool, a damaged segment,
//! points the store refuses on replay, reads while points are spooled, a store crash right after
//! a burst of acknowledged writes (also after influxgate stopped on SIGTERM), and a durability window over its memory bound. Every
//! acknowledged point is counted in VictoriaMetrics itself (its `/api/v1/export`), not through
//! influxgate. ClickHouse killed under a writer, counted in ClickHouse. The embedded store has no
//! spool; its kill test is here too.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::clickhouse::ClickHouse;
use common::vm::Vm;
use common::{eventually, Gate, GateConfig};

/// Points of one write.
const BATCH: u64 = 100;

/// A VictoriaMetrics-backed influxgate with `[spool]` lines `spool` (and a short store timeout).
fn gate_on(vm: &Vm, spool: &str) -> Gate {
    let mut cfg = GateConfig::new();
    cfg.backend = vec!["kind = \"victoriametrics\"".into(), format!("url = {:?}", vm.url), "timeout = \"5s\"".into()];
    if !spool.is_empty() {
        cfg = cfg.raw(&format!("[spool]\n{spool}"));
    }
    Gate::start_with(cfg)
}

/// Milliseconds of the first point: an hour ago (inside VictoriaMetrics' accepted range).
fn base_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    now.as_millis() as u64 - 3_600_000
}

/// Points `from..from+n` of measurement `m`: value = number, time = base + number (ms).
fn body(base: u64, from: u64, n: u64) -> Vec<u8> {
    let mut s = String::new();
    for i in from..from + n {
        s.push_str(&format!("m,w=a v={i} {}\n", base + i));
    }
    s.into_bytes()
}

fn write(gate: &Gate, db: &str, data: Vec<u8>) -> common::Resp {
    gate.admin().write_with(&[("db", db), ("precision", "ms")], &[], data)
}

/// How many samples VictoriaMetrics holds of each point number of database `db`.
fn vm_counts(vm: &Vm, db: &str) -> HashMap<u64, u32> {
    let sel = format!("{{__name__=\"m_v\",db=\"{db}\"}}");
    // influxgate flushes its writes before its own reads only; this one goes straight to VM.
    common::Api::new(&vm.url).send("GET", "/internal/force_flush", &[], &[], None);
    let r = common::Api::new(&vm.url).send(
        "POST",
        "/api/v1/export",
        &[],
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(form_urlencoded::Serializer::new(String::new()).extend_pairs([("match[]", sel.as_str()), ("start", "0")]).finish().into_bytes()),
    );
    assert_eq!(r.status, 200, "export: {}", r.describe());
    let mut counts = HashMap::new();
    for line in r.text().lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("export line");
        for x in v["values"].as_array().expect("values") {
            *counts.entry(x.as_f64().expect("value") as u64).or_insert(0) += 1;
        }
    }
    counts
}

/// A metric's value in influxgate's `/metrics` (0 when absent).
fn metric(gate: &Gate, name: &str) -> f64 {
    let text = gate.admin().get("/metrics").text();
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

/// Waits until the spool has written everything to the store.
fn wait_replayed(gate: &Gate, limit: Duration) {
    let done = eventually(limit, || metric(gate, "influxgate_spool_pending_points") == 0.0 && metric(gate, "influxgate_spool_store_down") == 0.0);
    assert!(done, "the spool was not replayed within {limit:?}; /metrics:\n{}\nlog:\n{}", gate.admin().get("/metrics").text(), gate.output());
}

/// Checks every acknowledged number is in VictoriaMetrics; returns the numbers stored twice or more.
fn assert_all_stored(gate: &Gate, vm: &Vm, db: &str, acked: &[u64]) -> Vec<u64> {
    let counts = vm_counts(vm, db);
    let missing: Vec<u64> = acked.iter().copied().filter(|i| !counts.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged points are missing, e.g. {:?}; /metrics:\n{}\nlog:\n{}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)],
        gate.admin().get("/metrics").text(),
        gate.output()
    );
    let mut dup: Vec<u64> = counts.iter().filter(|(_, &c)| c > 1).map(|(&i, _)| i).collect();
    dup.sort_unstable();
    dup
}

/// 40 writes of 500 points each, all acknowledged; their point numbers.
fn burst(gate: &Gate, db: &str, base: u64) -> Vec<u64> {
    let mut acked = Vec::new();
    for k in 0..40 {
        let r = write(gate, db, body(base, k * 500, 500));
        assert_eq!(r.status, 204, "{}", r.describe());
        acked.extend(k * 500..(k + 1) * 500);
    }
    acked
}

/// Writes of 20 points (write `k`: points `20k..20k+20`) until one is answered 503, at most
/// `max`: the acknowledged point numbers, `k` of the refused write and its answer.
fn until_refused(gate: &Gate, db: &str, base: u64, max: u64) -> Option<(Vec<u64>, u64, common::Resp)> {
    let mut acked = Vec::new();
    for k in 0..max {
        let r = write(gate, db, body(base, k * 20, 20));
        if r.status != 204 {
            assert_eq!(r.status, 503, "{}", r.describe());
            return Some((acked, k, r));
        }
        acked.extend(k * 20..(k + 1) * 20);
    }
    None
}

/// A thread writing numbered points, 100 per request, noting every 204 and every other answer.
struct Writer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(Vec<u64>, Vec<String>)>,
}

impl Writer {
    fn start(gate: &Gate, db: &str, base: u64) -> Writer {
        let api = gate.admin();
        let (db, stop) = (db.to_string(), Arc::new(AtomicBool::new(false)));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut acked, mut errors) = (Vec::new(), Vec::new());
            let mut next = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let r = api.write_with(&[("db", &db), ("precision", "ms")], &[], body(base, next, BATCH));
                if r.status == 204 {
                    acked.extend(next..next + BATCH);
                } else {
                    errors.push(r.describe());
                }
                next += BATCH;
                std::thread::sleep(Duration::from_millis(5));
            }
            (acked, errors)
        });
        Writer { stop, handle }
    }

    fn finish(self) -> (Vec<u64>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("writer thread")
    }
}

#[test]
fn store_killed_for_ten_seconds_under_a_writer_loses_nothing() {
    let mut vm = Vm::start(&[]);
    let gate = gate_on(&vm, "");
    let (db, base) = ("outage", base_ms());
    let writer = Writer::start(&gate, db, base);
    std::thread::sleep(Duration::from_secs(2));
    vm.stop();
    std::thread::sleep(Duration::from_secs(10));
    vm.restart(&[]);
    std::thread::sleep(Duration::from_secs(2));
    let (acked, errors) = writer.finish();
    wait_replayed(&gate, Duration::from_secs(60));
    assert!(errors.is_empty(), "the writer saw {} errors, first: {}", errors.len(), errors[0]);
    assert!(acked.len() > 10 * BATCH as usize, "too few writes: {}", acked.len());
    let dup = assert_all_stored(&gate, &vm, db, &acked);
    // influxgate's reads see each point once, duplicates or not.
    let q = gate.admin().query_ok("SELECT count(v) FROM m", db);
    assert_eq!(common::rows(&q)[0][1], vm_counts(&vm, db).len(), "{q}");
    let spooled = metric(&gate, "influxgate_spool_points_total");
    assert!(spooled > 0.0 && metric(&gate, "influxgate_spool_replayed_points_total") >= spooled, "nothing went through the spool");
    println!("acknowledged {} points, {} spooled, {} stored twice (written again after the restart)", acked.len(), spooled, dup.len());
}

/// ClickHouse acknowledges an insert once it is on disk: while it is down writes are spooled
/// and answered 204, and replayed when it is back; no durability window is kept for it.
#[test]
fn clickhouse_killed_under_a_writer_loses_nothing() {
    let mut ch = ClickHouse::single();
    let mut cfg = GateConfig::new();
    cfg.backend = ch.gate_backend();
    cfg.backend.push("timeout = \"5s\"".into());
    let gate = Gate::start_with(cfg.raw(&ch.gate_section()).raw("[spool]\nretry_backoff_max = \"1s\""));
    let (db, base) = ("chout", base_ms());
    let writer = Writer::start(&gate, db, base);
    std::thread::sleep(Duration::from_secs(2));
    ch.nodes[0].stop();
    std::thread::sleep(Duration::from_secs(5));
    ch.nodes[0].start();
    std::thread::sleep(Duration::from_secs(2));
    let (acked, errors) = writer.finish();
    wait_replayed(&gate, Duration::from_secs(60));
    assert!(errors.is_empty(), "the writer saw {} errors, first: {}", errors.len(), errors[0]);
    let spooled = metric(&gate, "influxgate_spool_points_total");
    assert!(spooled > 0.0, "nothing went through the spool; log:\n{}", gate.output());
    assert_eq!(metric(&gate, "influxgate_spool_window_bytes"), 0.0, "a durability window was kept");
    let text = ch.nodes[0].query(&format!("SELECT toUInt64(v), count() FROM \"influx_{db}.autogen\".m GROUP BY v FORMAT TabSeparated"));
    let counts: HashMap<u64, u32> = text
        .lines()
        .map(|l| {
            let (v, n) = l.split_once('\t').expect("two columns");
            (v.parse().expect("number"), n.parse().expect("count"))
        })
        .collect();
    let missing: Vec<u64> = acked.iter().copied().filter(|i| !counts.contains_key(i)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged points missing, e.g. {:?}; log:\n{}", missing.len(), acked.len(), &missing[..missing.len().min(10)], gate.output());
    // influxgate's reads see each point once whatever ClickHouse holds twice (a batch in flight).
    let q = gate.admin().query_ok("SELECT count(v) FROM m", db);
    assert_eq!(common::rows(&q)[0][1], counts.len(), "{q}");
    println!("acknowledged {} points, {} spooled, {} stored twice", acked.len(), spooled, counts.values().filter(|&&n| n > 1).count());
}

#[test]
fn store_crash_right_after_a_burst_loses_nothing() {
    let mut vm = Vm::start(&[]);
    // Default [spool]: the 15 s durability window.
    let gate = gate_on(&vm, "");
    let (db, base) = ("burst", base_ms());
    let acked = burst(&gate, db, base);
    // VictoriaMetrics has them in memory (searchable): it has not written them to disk yet.
    assert_eq!(vm_counts(&vm, db).len(), acked.len());
    vm.stop();
    vm.restart(&[]);
    // influxgate notices the restart and writes the window again.
    let resent = eventually(Duration::from_secs(30), || {
        metric(&gate, "influxgate_spool_resent_points_total") > 0.0 && metric(&gate, "influxgate_spool_pending_points") == 0.0
    });
    let dup = assert_all_stored(&gate, &vm, db, &acked);
    assert!(resent, "nothing written again; log:\n{}", gate.output());
    assert_eq!(metric(&gate, "influxgate_spool_store_restarts_total"), 1.0);
    println!("{} points acknowledged in the burst, {} stored twice", acked.len(), dup.len());
}

/// SIGTERM moves the acknowledged writes still in the durability window to the spool on disk:
/// the store crashing after influxgate stopped loses nothing, the next start replays them.
#[test]
fn sigterm_moves_the_window_to_disk_and_a_store_crash_after_loses_nothing() {
    let mut vm = Vm::start(&[]);
    let mut gate = gate_on(&vm, "durability_window = \"60s\"");
    let (db, base) = ("term", base_ms());
    let acked = burst(&gate, db, base);
    gate.signal(libc::SIGTERM);
    let status = gate.wait_exit(Duration::from_secs(30)).expect("influxgate exits on SIGTERM");
    assert!(status.success(), "exit status {status}: {}", gate.output());
    vm.stop();
    vm.restart(&[]);
    gate.restart();
    // The spool on disk holds them as acknowledged by the old instance: written again.
    eventually(Duration::from_secs(30), || vm_counts(&vm, db).len() == acked.len());
    let dup = assert_all_stored(&gate, &vm, db, &acked);
    println!("{} points acknowledged before SIGTERM, {} stored twice", acked.len(), dup.len());
}

#[test]
fn window_over_its_memory_bound_goes_to_disk_and_survives_a_store_crash() {
    let mut vm = Vm::start(&[]);
    let gate = gate_on(&vm, "window_max_bytes = 100000");
    let (db, base) = ("overflow", base_ms());
    let acked = burst(&gate, db, base);
    // The older part of the window is on disk, the writes themselves went to the store.
    assert!(metric(&gate, "influxgate_spool_bytes") > 100_000.0, "{}", gate.admin().get("/metrics").text());
    assert_eq!(metric(&gate, "influxgate_spool_writes_total"), 0.0);
    assert_eq!(metric(&gate, "influxgate_spool_pending_points"), 0.0, "acknowledged points are not pending");
    vm.stop();
    vm.restart(&[]);
    let done = eventually(Duration::from_secs(30), || {
        metric(&gate, "influxgate_spool_store_restarts_total") >= 1.0 && metric(&gate, "influxgate_spool_pending_points") == 0.0
    });
    assert!(done, "log:\n{}", gate.output());
    assert_all_stored(&gate, &vm, db, &acked);
}

#[test]
fn window_over_its_bound_with_a_full_spool_refuses_writes_before_the_store() {
    // The window is never confirmed during the test (60 s), so it spills its older half to the
    // spool on every ~4 KB past its 8 KB bound, until the 16 KB spool is full.
    let vm = Vm::start(&[]);
    let gate = gate_on(&vm, "segment_bytes = 4096\nmax_bytes = 16384\nwindow_max_bytes = 8000\ndurability_window = \"60s\"");
    let (db, base) = ("windowfull", base_ms());
    let (acked, k, r) = until_refused(&gate, db, base, 200).expect("the window never filled the spool");
    assert!(r.header("Retry-After").is_some(), "{:?}", r.headers);
    assert!(r.error().contains("acknowledged writes cannot be kept"), "{}", r.describe());
    assert!(k > 12, "refused after {k} writes, before the window was over its bound");
    assert!(metric(&gate, "influxgate_spool_bytes") > 8000.0);
    assert_eq!(metric(&gate, "influxgate_spool_writes_total"), 0.0, "nothing was spooled as a new write");
    // Every acknowledged write is in the store; the refused one never reached it.
    let counts = vm_counts(&vm, db);
    assert!(assert_all_stored(&gate, &vm, db, &acked).is_empty());
    let reached: Vec<u64> = (k * 20..(k + 1) * 20).filter(|i| counts.contains_key(i)).collect();
    assert!(reached.is_empty(), "points of the refused write reached the store: {reached:?}");
}

#[test]
fn influxgate_killed_while_replaying_loses_and_repeats_nothing() {
    let mut vm = Vm::start(&[]);
    let mut gate = gate_on(&vm, "replay_batch_points = 500\nretry_backoff_max = \"1s\"");
    let (db, base) = ("replaykill", base_ms());
    vm.stop();
    let mut acked = Vec::new();
    for k in 0..400 {
        let r = write(&gate, db, body(base, k * 250, 250));
        assert_eq!(r.status, 204, "{}", r.describe());
        acked.extend(k * 250..(k + 1) * 250);
    }
    assert_eq!(metric(&gate, "influxgate_spool_pending_points"), acked.len() as f64);
    vm.restart(&[]);
    let mid = eventually(Duration::from_secs(30), || metric(&gate, "influxgate_spool_replayed_points_total") > 0.0);
    let left = metric(&gate, "influxgate_spool_pending_points");
    gate.stop(); // SIGKILL, in the middle of the replay
    assert!(mid && left > 0.0, "the replay was not caught in the middle (pending {left})");
    gate.restart();
    wait_replayed(&gate, Duration::from_secs(60));
    let dup = assert_all_stored(&gate, &vm, db, &acked);
    // The batch in flight at the kill may be written twice (VictoriaMetrics keeps both samples),
    // nothing else.
    assert!(dup.len() <= 500, "{} points written twice, more than the one batch in flight", dup.len());
    println!("{} points spooled; {left} left at the kill; {} written twice", acked.len(), dup.len());
}

#[test]
fn full_spool_answers_503_with_retry_after_and_drops_nothing() {
    let mut vm = Vm::start(&[]);
    let gate = gate_on(&vm, "segment_bytes = 4096\nmax_bytes = 16384\nretry_backoff_max = \"1s\"");
    let (db, base) = ("full", base_ms());
    vm.stop();
    let (mut acked, k, r) = until_refused(&gate, db, base, 100).expect("the spool never filled up");
    assert!(r.header("Retry-After").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)), "{:?}", r.headers);
    assert!(r.error().contains("spool is full"), "{}", r.describe());
    assert!(k > 5, "refused after {k} writes");
    assert_eq!(metric(&gate, "influxgate_spool_full_total"), 1.0);
    let h = gate.admin().get("/health");
    assert_eq!(h.status, 503, "full and the store down: fail ({})", h.describe());
    vm.restart(&[]);
    wait_replayed(&gate, Duration::from_secs(60));
    // The refused write, sent again as a client told to come back does, is taken once the
    // replayed segments are confirmed durable and deleted (within the 15 s durability window).
    let taken = eventually(Duration::from_secs(40), || write(&gate, db, body(base, k * 20, 20)).status == 204);
    assert!(taken, "the spool stayed full: {}", gate.admin().get("/metrics").text());
    acked.extend(k * 20..(k + 1) * 20);
    wait_replayed(&gate, Duration::from_secs(60));
    assert!(assert_all_stored(&gate, &vm, db, &acked).is_empty());
}

/// The segment file holding the spool's last record.
fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .expect("spool dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn torn_last_record_is_reported_and_the_rest_replayed() {
    let mut vm = Vm::start(&[]);
    let mut gate = gate_on(&vm, "");
    let (db, base) = ("torn", base_ms());
    vm.stop();
    for k in 0..10 {
        let r = write(&gate, db, body(base, k * BATCH, BATCH));
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    gate.stop();
    // Cut the last record short, as a crash in the middle of its append would.
    let seg = last_segment(&gate.data_dir().join("spool"));
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 7).unwrap();
    vm.restart(&[]);
    gate.restart();
    wait_replayed(&gate, Duration::from_secs(60));
    assert_eq!(metric(&gate, "influxgate_spool_torn_records_total"), 1.0);
    assert!(gate.output().contains("torn record at the end of a segment"), "{}", gate.output());
    let first_nine: Vec<u64> = (0..9 * BATCH).collect();
    assert!(assert_all_stored(&gate, &vm, db, &first_nine).is_empty());
    let counts = vm_counts(&vm, db);
    assert_eq!(counts.len(), first_nine.len(), "only the torn record is missing");
}

#[test]
fn points_refused_on_replay_go_to_dead_letters() {
    let mut vm = Vm::start(&[]);
    let mut cfg = GateConfig::new().limit("max_series_per_database = 5");
    cfg.backend = vec!["kind = \"victoriametrics\"".into(), format!("url = {:?}", vm.url), "timeout = \"5s\"".into()];
    let gate = Gate::start_with(cfg.raw("[spool]\nretry_backoff_max = \"1s\""));
    let db = "dead";
    vm.stop();
    let writes = [
        "m,w=a v=1 1000\nm,w=b v=2 1000\n",
        // Ten new series: past max_series_per_database once the store counts them.
        &(0..10).map(|i| format!("m,w=x{i} v={i} 2000\n")).collect::<String>(),
        "m,w=a v=3 3000\n",
    ];
    for w in writes {
        let r = gate.admin().write_with(&[("db", db), ("precision", "s")], &[], w.as_bytes().to_vec());
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    vm.restart(&[]);
    wait_replayed(&gate, Duration::from_secs(60));
    assert_eq!(metric(&gate, "influxgate_spool_dead_letter_points_total"), 10.0);
    let text = std::fs::read_to_string(gate.data_dir().join("spool").join("dead-letters.jsonl")).expect("dead letters");
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["points"], 10);
    assert_eq!(lines[0]["db"], db);
    assert!(lines[0]["reason"].as_str().unwrap().contains("max-series-per-database limit exceeded"), "{text}");
    assert!(lines[0]["lines"].as_str().unwrap().starts_with("m,w=x0 v=0 2000000000000\n"), "{text}");
    // The writes before and after it were replayed.
    let mut got: Vec<u64> = vm_counts(&vm, db).into_keys().collect();
    got.sort_unstable();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn reads_warn_while_points_of_their_database_are_spooled() {
    let mut vm = Vm::start(&[]);
    let gate = gate_on(&vm, "replay_batch_points = 1\nretry_backoff_min = \"3s\"\nretry_backoff_max = \"3s\"");
    let (db, base) = ("warned", base_ms());
    let r = write(&gate, db, body(base, 0, 1));
    assert_eq!(r.status, 204, "{}", r.describe());
    vm.stop();
    for k in 1..=200 {
        let r = write(&gate, db, body(base, k, 1));
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    let h = gate.admin().get("/health");
    assert_eq!(h.status, 200, "{}", h.describe());
    assert_eq!(h.json()["status"], "degraded", "{}", h.describe());
    vm.restart(&[]);
    // The replay waits out its backoff (3 s) and then writes one point per batch.
    let before = metric(&gate, "influxgate_spool_pending_points");
    let q = gate.admin().query_ok("SELECT count(v) FROM m", db);
    let after = metric(&gate, "influxgate_spool_pending_points");
    assert!(after > 0.0, "replayed before the query could see it");
    let text = q.pointer("/results/0/messages/0/text").and_then(|t| t.as_str()).unwrap_or_else(|| panic!("no warning: {q}"));
    let n: f64 = text.split(' ').next().unwrap().parse().unwrap();
    assert!(after <= n && n <= before, "{text} (pending {before} before, {after} after)");
    assert!(text.contains("are still spooled"), "{text}");
    assert_eq!(q.pointer("/results/0/messages/0/level").unwrap(), "warning");
    let other = gate.admin().query_ok("SHOW DATABASES", "");
    assert!(other.pointer("/results/0/messages").is_none(), "a statement reading no database: {other}");
    let h = gate.admin().get("/health");
    assert_eq!((h.status, h.json()["status"].as_str().unwrap().to_string()), (200, "degraded".to_string()), "{}", h.describe());
    wait_replayed(&gate, Duration::from_secs(60));
    let q = gate.admin().query_ok("SELECT count(v) FROM m", db);
    assert!(q.pointer("/results/0/messages").is_none(), "{q}");
    assert_eq!(common::rows(&q)[0][1], 201);
    assert_eq!(gate.admin().get("/health").json()["status"], "pass");
}

#[test]
fn embedded_store_killed_under_a_writer_loses_nothing() {
    let mut gate = Gate::start();
    let (db, base) = ("embedded", base_ms());
    let url = format!("{}/write?db={db}&precision=ms", gate.url);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let writer = std::thread::spawn(move || {
        let client = common::client();
        let mut acked = Vec::new();
        let mut next = 0u64;
        // Until influxgate is killed under it (its first failed request).
        while !flag.load(Ordering::Relaxed) {
            let r = client.post(&url).header("Authorization", format!("Token {}", common::ADMIN_TOKEN)).body(body(base, next, BATCH)).send();
            match r {
                Ok(r) if r.status().as_u16() == 204 => acked.extend(next..next + BATCH),
                _ => break,
            }
            next += BATCH;
        }
        acked
    });
    std::thread::sleep(Duration::from_secs(2));
    gate.stop(); // SIGKILL
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    assert!(acked.len() > 10 * BATCH as usize, "too few writes: {}", acked.len());
    gate.restart();
    let q = gate.admin().query_ok("SELECT v FROM m", db);
    let mut got: HashMap<u64, u32> = HashMap::new();
    for row in common::rows(&q) {
        *got.entry(row[1].as_f64().unwrap() as u64).or_insert(0) += 1;
    }
    let missing = acked.iter().filter(|i| !got.contains_key(i)).count();
    assert_eq!(missing, 0, "{missing} of {} acknowledged points lost", acked.len());
    assert!(got.values().all(|&c| c == 1));
}
