//! Queries that would freeze the server or fill its memory: CPU-bound evaluation (a
//! `holt_winters_with_fit` with a long season), a client that hangs up, more queries than
//! `query.max_concurrent_queries`, a statement that fills millions of buckets across series, and
//! `SHOW QUERIES` / `KILL QUERY`.
//!
//! Seen failing before the query pool and governor: `/ping` waited for the CPU-bound queries
//! (57 s in the release build), the work went on after the client left and past every timeout,
//! and the bucket-filling statement grew the server to gigabytes.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// Ten years of daily points of one series (the holt_winters repro's data).
fn ten_years_daily(api: &Api, db: &str) {
    let mut body = String::new();
    for d in 0..3650i64 {
        body.push_str(&format!("hw v={} {}\n", (d % 97) as f64 + (d as f64 / 10.0).sin(), d * 86_400));
    }
    let r = api.write_with(&[("db", db), ("precision", "s")], &[], body.into_bytes());
    assert_eq!(r.status, 204, "{}", r.describe());
}

const HEAVY: &str = "SELECT holt_winters_with_fit(mean(v), 1000, 1024) FROM hw \
                     WHERE time >= 0 AND time < 3650d GROUP BY time(1d)";

/// Sends `q` with a client that gives up after `patience` (closing the connection); the answer,
/// or `None` when the client gave up.
fn query_patient(g: &Gate, q: &str, db: &str, patience: Duration) -> Option<(u16, Value)> {
    let client = reqwest::blocking::Client::builder().no_proxy().timeout(patience).build().expect("client");
    let r = client
        .post(format!("{}/query", g.url))
        .header("Authorization", format!("Token {ADMIN_TOKEN}"))
        .form(&[("q", q), ("db", db)])
        .send()
        .ok()?;
    let status = r.status().as_u16();
    let v: Value = serde_json::from_slice(&r.bytes().ok()?).expect("JSON answer");
    Some((status, v))
}

/// The server's CPU time (user + system) in clock ticks, from /proc.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The fields after the command name (which may hold spaces) are space-separated.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

/// Share of one core the server used over `d` (1.0 = one core busy).
fn cpu_share(pid: u32, d: Duration) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let a = cpu_ticks(pid);
    std::thread::sleep(d);
    (cpu_ticks(pid) - a) as f64 / tick / d.as_secs_f64()
}

fn vm_rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn first_error(v: &Value) -> String {
    v.pointer("/results/0/error").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Waits until `cond` holds (polling), or fails naming `what`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether SHOW QUERIES is answered (a slot is free).
fn running_queries_or_refused(g: &Gate) -> bool {
    first_error(&g.admin().query("SHOW QUERIES", "").json()).is_empty()
}

fn running_queries(g: &Gate) -> Vec<Vec<Value>> {
    rows(&g.admin().query_ok("SHOW QUERIES", ""))
}

#[test]
fn cpu_bound_queries_leave_ping_and_writes_alone_and_stop_when_clients_leave() {
    let g = Gate::start();
    let pid = g.pid().expect("pid");
    ten_years_daily(&g.admin(), "hw");
    // Two clients that give up after 12 s, as the repro's two holt_winters queries.
    let heavy: Vec<_> = (0..2)
        .map(|_| {
            let g_url = g.url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(12)).build().unwrap();
                let _ = client
                    .post(format!("{g_url}/query"))
                    .header("Authorization", format!("Token {ADMIN_TOKEN}"))
                    .form(&[("q", HEAVY), ("db", "hw")])
                    .send();
            })
        })
        .collect();
    wait_until("both heavy queries running", Duration::from_secs(10), || running_queries(&g).len() >= 3);
    let api = Api::new(&g.url);
    let mut took = Vec::new();
    let mut i = 0;
    while heavy.iter().any(|h| !h.is_finished()) && took.len() < 40 {
        let t = Instant::now();
        assert_eq!(api.get("/ping").status, 204);
        assert_eq!(g.admin().write("other", &format!("m v={i} {i}")).status, 204);
        took.push(t.elapsed());
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let n = took.len();
    assert!(n >= 10, "the heavy queries ended early ({n} pings): they are not heavy enough to test anything");
    // Served beside the queries, not after them. Were the queries evaluated where requests are
    // served, every /ping + write would wait for a heavy query to end: seconds each (they run
    // until their clients leave after 12 s, and on). A loaded machine instead delays a few of
    // them (one took 750 ms at load 9): so most must be quick, and none may take seconds.
    took.sort();
    let (median, worst) = (took[n / 2], took[n - 1]);
    println!("{n} /ping + write while the queries ran: median {median:?}, worst {worst:?}");
    assert!(median < Duration::from_millis(250), "half the /ping + writes took {median:?} or more while queries ran: {took:?}");
    assert!(worst < Duration::from_secs(4), "a /ping + write took {worst:?} while queries ran: {took:?}");
    for h in heavy {
        h.join().unwrap();
    }
    // The clients hung up: the queries stop (they would run for minutes) and so does the CPU.
    wait_until("queries gone after their clients left", Duration::from_secs(20), || running_queries(&g).len() == 1);
    let share = cpu_share(pid, Duration::from_secs(2));
    assert!(share < 0.3, "server still busy after its clients left: {share:.2} cores");
}

#[test]
fn query_timeout_stops_cpu_bound_work() {
    let g = Gate::start_with(GateConfig::new().raw("[query]\ntimeout = \"2s\""));
    let pid = g.pid().expect("pid");
    ten_years_daily(&g.admin(), "hw");
    let t = Instant::now();
    let (status, v) = query_patient(&g, HEAVY, "hw", Duration::from_secs(60)).expect("an answer within 60s");
    let took = t.elapsed();
    assert_eq!(status, 200, "{v}");
    assert_eq!(first_error(&v), "query-timeout limit exceeded", "{v}");
    assert!(took < Duration::from_secs(15), "answered after {took:?} (the deadline is 2 s)");
    let share = cpu_share(pid, Duration::from_secs(1));
    assert!(share < 0.3, "server still busy after the timeout: {share:.2} cores");
}

#[test]
fn max_concurrent_queries_show_queries_and_kill_query() {
    let reader = TokenSpec::new("reader").read(&["other"]);
    let g = Gate::start_with(GateConfig::new().token(reader.clone()).raw("[query]\nmax_concurrent_queries = 2"));
    ten_years_daily(&g.admin(), "hw");
    let g_url = g.url.clone();
    let heavy = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let r = client
            .post(format!("{g_url}/query"))
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .form(&[("q", HEAVY), ("db", "hw")])
            .send()
            .expect("answer");
        serde_json::from_slice::<Value>(&r.bytes().unwrap()).unwrap()
    });
    let mut listed = Vec::new();
    wait_until("the heavy query in SHOW QUERIES", Duration::from_secs(20), || {
        listed = running_queries(&g);
        listed.len() == 2
    });
    // 1.x's columns; the heavy query on its database, running; SHOW QUERIES lists itself too.
    let heavy_row = listed.iter().find(|r| r[1].as_str().is_some_and(|q| q.contains("holt_winters"))).expect("listed");
    assert_eq!(heavy_row[2], "hw");
    assert_eq!(heavy_row[4], "running");
    let qid = heavy_row[0].as_i64().expect("qid");
    // A second heavy query (its client gives up after 4 s) takes the other slot: while both run,
    // a third query (here SHOW QUERIES) is refused with 1.x's text. The second one is sent again
    // if it came while a SHOW QUERIES of this test held the slot.
    let g_url = g.url.clone();
    let second = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(4)).build().unwrap();
        for _ in 0..20 {
            let r = client
                .post(format!("{g_url}/query"))
                .header("Authorization", format!("Token {ADMIN_TOKEN}"))
                .form(&[("q", HEAVY), ("db", "hw")])
                .send();
            match r.and_then(|r| r.text()) {
                Ok(t) if t.contains("max-concurrent-queries") => std::thread::sleep(Duration::from_millis(20)),
                _ => return,
            }
        }
    });
    let mut refused = String::new();
    wait_until("a third query refused", Duration::from_secs(20), || {
        let r = g.admin().query("SHOW QUERIES", "");
        assert_eq!(r.status, 200, "{}", r.text());
        refused = first_error(&r.json());
        !refused.is_empty()
    });
    assert_eq!(refused, "max-concurrent-queries limit exceeded(2, 2)");
    second.join().unwrap();
    wait_until("the slot freed when the second client left", Duration::from_secs(20), || running_queries_or_refused(&g));
    // A token that cannot read hw sees neither heavy query, and may not kill.
    let theirs = rows(&g.api(Auth::Token(reader.token.clone())).query_ok("SHOW QUERIES", "other"));
    assert!(theirs.iter().all(|r| r[2] != "hw"), "{theirs:?}");
    let denied = g.api(Auth::Token(reader.token.clone())).query(&format!("KILL QUERY {qid}"), "other");
    assert_eq!(denied.status, 401, "{}", denied.text());
    // KILL QUERY stops it at once, with 1.x's answers.
    let t = Instant::now();
    let killed = g.admin().query_ok(&format!("KILL QUERY {qid}"), "");
    assert_eq!(killed.pointer("/results/0/statement_id"), Some(&Value::from(0)), "{killed}");
    let v = heavy.join().unwrap();
    assert_eq!(first_error(&v), "query interrupted", "{v}");
    assert!(t.elapsed() < Duration::from_secs(10), "the killed query answered after {:?}", t.elapsed());
    assert_eq!(first_error(&g.admin().query("KILL QUERY 99999", "").json()), "no such query id: 99999");
}

#[test]
fn buckets_across_series_are_bounded_by_the_query_memory_budget() {
    // The repro: mean(v) GROUP BY time(6m), host fill(0) over ten years and 20 series needs
    // 876,000 buckets per series (under the per-series bucket limit), 17.5M in all.
    let g = Gate::start();
    let pid = g.pid().expect("pid");
    let mut body = String::new();
    for h in 0..20 {
        body.push_str(&format!("cpu,host=h{h} v=1 0\ncpu,host=h{h} v=2 {}\n", 3650 * 86_400 - 1));
    }
    let r = g.admin().write_with(&[("db", "mem"), ("precision", "s")], &[], body.into_bytes());
    assert_eq!(r.status, 204, "{}", r.describe());
    let before = vm_rss_kib(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(vm_rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let q = "SELECT mean(v) FROM cpu WHERE time >= 0 AND time < 3650d GROUP BY time(6m), host fill(0)";
    let answer = query_patient(&g, q, "mem", Duration::from_secs(120));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    let peak_mib = peak.load(std::sync::atomic::Ordering::Relaxed) / 1024;
    let (status, v) = answer.expect("an answer within 120 s");
    assert_eq!(status, 200);
    let err = first_error(&v);
    assert!(err.starts_with("max-memory-bytes limit exceeded: ("), "{}", &v.to_string()[..v.to_string().len().min(300)]);
    // 512 MiB budget (the default) plus what one group builds beyond its charge, and the rest
    // of the process.
    assert!(peak_mib < 1024, "peak RSS {peak_mib} MiB");
    // The memory goes back to the OS after such a query.
    wait_until("RSS back down", Duration::from_secs(10), || vm_rss_kib(pid) / 1024 < 256);
    // And a query within the budget still works.
    let ok = g.admin().query_ok("SELECT mean(v) FROM cpu WHERE time >= 0 AND time < 3650d GROUP BY time(365d), host", "mem");
    assert_eq!(rows(&ok).len(), 20 * 10);
}

#[test]
fn show_statements_list_only_what_the_token_may_read() {
    let reader = TokenSpec::new("reader").read(&["mine"]);
    let g = Gate::start_with(GateConfig::new().token(reader.clone()));
    for db in ["mine", "theirs"] {
        assert_eq!(g.admin().write(db, "m v=1 1").status, 204);
    }
    let api = g.api(Auth::Token(reader.token.clone()));
    let names = |v: &Value| -> Vec<String> {
        v.pointer("/results/0/series")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(|x| x["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    assert_eq!(names(&api.query_ok("SHOW CONTINUOUS QUERIES", "mine")), vec!["mine"]);
    let dbs: Vec<Vec<Value>> = rows(&api.query_ok("SHOW DATABASES", ""));
    assert_eq!(dbs, vec![vec![Value::from("mine")]]);
    // An admin sees every database.
    assert_eq!(names(&g.admin().query_ok("SHOW CONTINUOUS QUERIES", "")), vec!["mine", "theirs"]);
}
