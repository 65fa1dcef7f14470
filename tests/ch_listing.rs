//! Lists kept between statements on ClickHouse (`src/backend/clickhouse/listing.rs`), on Debian's
//! clickhouse-server 18.16 with the real binary:
//!
//! * statements repeated within `listing_ttl_ms` send only their aggregate or scan (ClickHouse's
//!   request counter in `/metrics`), and answer as influxgate over the embedded store does;
//! * read-your-writes through influxgate: a write bringing a new series or measurement, `DROP
//!   SERIES`, `DELETE`, `DROP MEASUREMENT`, `CREATE`/`DROP DATABASE` show in the next statement;
//! * a series written by another influxgate in front of the same server is seen once
//!   `listing_ttl_ms` has passed (and, the lists being kept, not before);
//! * `listing_ttl_ms = 0` keeps nothing, and a list larger than `listing_max_bytes` is not kept
//!   (asked again by every statement) while the answers stay the same.

mod common;

use std::time::{Duration, Instant};

use common::clickhouse::ClickHouse;
use common::*;
use serde_json::Value;

const T0: i64 = 1_704_067_200_000_000_000;
const RANGE: &str = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z'";

fn start_gate(ch: &ClickHouse, clickhouse: &str) -> Gate {
    let mut cfg = GateConfig::new().raw(&format!("[backend.clickhouse]\n{clickhouse}\n"));
    cfg.backend = ch.gate_backend();
    Gate::start_with(cfg)
}

/// ClickHouse HTTP requests counted by `/metrics` so far.
fn ch_requests(api: &Api) -> u64 {
    let text = api.get("/metrics").text();
    text.lines().find_map(|l| l.strip_prefix("influxgate_clickhouse_requests_total ")?.parse().ok()).unwrap_or_else(|| panic!("no request counter in {text}"))
}

/// Lines of `hosts`, 10 points each a minute apart.
fn body(m: &str, hosts: &[&str]) -> String {
    let mut out = String::new();
    for (i, h) in hosts.iter().enumerate() {
        for k in 0..10i64 {
            out.push_str(&format!("{m},host={h},dc=d{} v={},n={k}i {}\n", i % 2, (i as i64 * 3 + k) as f64 * 0.5, T0 + k * 60_000_000_000));
        }
    }
    out
}

/// The same statement on both, answers equal; the ClickHouse requests it cost.
fn same(ours: &Api, reference: &Api, q: &str, db: &str) -> u64 {
    let before = ch_requests(ours);
    let b = ours.query(q, db);
    let used = ch_requests(ours) - before;
    let a = reference.query(q, db);
    assert_eq!(b.status, 200, "{q}: {}", b.describe());
    assert!(!b.text().contains("\"error\""), "{q}: {}", b.text());
    assert_eq!(a.json(), b.json(), "{q}");
    used
}

fn series_of(api: &Api, db: &str) -> Vec<String> {
    rows(&api.query_ok("SHOW SERIES", db)).into_iter().map(|r| r[0].as_str().unwrap_or_default().to_string()).collect()
}

/// Read-your-writes through influxgate with the lists kept, and what a repeated statement costs.
#[test]
fn kept_lists_cost_nothing_and_forget_on_influxgates_own_changes() {
    let ch = ClickHouse::single();
    // A TTL no step of this test reaches: whatever shows at once shows because it was forgotten.
    let gate = start_gate(&ch, "listing_ttl_ms = 600000");
    let reference = Gate::start();
    let (api, r) = (gate.admin(), reference.admin());
    let both = |f: &dyn Fn(&Api)| {
        f(&api);
        f(&r);
    };
    both(&|a| assert_eq!(a.write("k", &body("cpu", &["a", "b"])).status, 204));
    let agg = format!("SELECT max(v), count(n) FROM cpu WHERE host = 'a' AND {RANGE} GROUP BY time(5m)");
    let grouped = format!("SELECT mean(v) FROM cpu WHERE {RANGE} GROUP BY time(10m), host");
    let raw = "SELECT v, n FROM cpu WHERE host = 'b' OR dc = 'd0' ORDER BY time DESC LIMIT 3";
    for q in [agg.as_str(), &grouped, raw, "SHOW SERIES", "SHOW MEASUREMENTS", "SHOW DATABASES"] {
        same(&api, &r, q, "k");
        let used = same(&api, &r, q, "k");
        // The statement's own reads only: the aggregate, or the raw select's window scans.
        let most = if q.starts_with("SHOW") { 0 } else if q == raw { 3 } else { 1 };
        assert!(used <= most, "{q} again: {used} ClickHouse requests, at most {most} expected (the lists are kept)");
    }
    // A write of known series keeps the lists; one of a new series is seen by the next statement.
    both(&|a| assert_eq!(a.write("k", "cpu,host=a,dc=d0 v=100 1704067260000000000").status, 204));
    assert_eq!(same(&api, &r, "SHOW SERIES", "k"), 0, "a write of known series forgot nothing");
    both(&|a| assert_eq!(a.write("k", &body("cpu", &["c"])).status, 204));
    let checks = |what: &str| {
        for q in [agg.replace("'a'", "'c'"), grouped.clone(), raw.replace("'b'", "'c'"), "SHOW SERIES".into(), "SHOW MEASUREMENTS".into()] {
            same(&api, &r, &q, "k");
        }
        assert_eq!(series_of(&api, "k"), series_of(&r, "k"), "{what}");
    };
    checks("a new series");
    both(&|a| assert_eq!(a.write("k", &body("mem", &["a"])).status, 204));
    checks("a new measurement");
    both(&|a| {
        a.query_ok("DROP SERIES FROM cpu WHERE host = 'b'", "k");
    });
    checks("DROP SERIES");
    both(&|a| {
        a.query_ok("DELETE FROM cpu WHERE host = 'c'", "k");
    });
    checks("DELETE");
    both(&|a| {
        a.query_ok("DROP MEASUREMENT mem", "k");
    });
    checks("DROP MEASUREMENT");
    both(&|a| {
        a.query_ok("CREATE DATABASE k2", "");
    });
    same(&api, &r, "SHOW DATABASES", "");
    both(&|a| {
        a.query_ok("DROP DATABASE k2", "");
    });
    same(&api, &r, "SHOW DATABASES", "");
    both(&|a| assert_eq!(a.write("k3", &body("cpu", &["z"])).status, 204));
    same(&api, &r, "SHOW DATABASES", "");
    same(&api, &r, "SHOW SERIES", "k3");
}

/// A series another influxgate writes to the same ClickHouse: kept lists do not show it, and
/// once `listing_ttl_ms` has passed since they were asked, every statement does.
#[test]
fn a_write_by_another_influxgate_shows_once_the_ttl_passed() {
    let ch = ClickHouse::single();
    let ttl = Duration::from_millis(4000);
    let gate = start_gate(&ch, &format!("listing_ttl_ms = {}", ttl.as_millis()));
    let other = start_gate(&ch, "");
    let (api, o) = (gate.admin(), other.admin());
    assert_eq!(api.write("x", &body("cpu", &["a"])).status, 204);
    let count_c = format!("SELECT count(v) FROM cpu WHERE host = 'c' AND {RANGE}");
    let asked = Instant::now();
    assert_eq!(series_of(&api, "x"), ["cpu,dc=d0,host=a"]);
    assert!(rows(&api.query_ok(&count_c, "x")).is_empty());
    // Every list kept from here on was asked before this instant (`asked` is before the first):
    // waiting the TTL from here, not from `asked`, lets those two requests take as long as a
    // loaded machine makes them.
    let kept_by = Instant::now();
    assert_eq!(o.write("x", &body("cpu", &["b", "c"])).status, 204);
    assert_eq!(series_of(&o, "x").len(), 3, "the other influxgate sees its write");
    let seen = series_of(&api, "x");
    if asked.elapsed() < ttl / 2 {
        assert_eq!(seen, ["cpu,dc=d0,host=a"], "the kept list answers within the TTL");
    }
    std::thread::sleep(ttl.saturating_sub(kept_by.elapsed()) + Duration::from_millis(100));
    assert_eq!(series_of(&api, "x"), series_of(&o, "x"), "after the TTL");
    assert_eq!(rows(&api.query_ok(&count_c, "x")), vec![vec![Value::from(T0), Value::from(10)]]);
}

/// `listing_ttl_ms = 0` keeps nothing; `listing_max_bytes` smaller than a measurement's list
/// keeps the small lists only; the answers are the same either way.
#[test]
fn nothing_kept_at_zero_and_past_the_byte_bound() {
    let ch = ClickHouse::single();
    let reference = Gate::start();
    let r = reference.admin();
    let many: Vec<String> = (0..200).map(|h| format!("h{h:03}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(r.write("b", &body("big", &many)).status, 204);
    assert_eq!(r.write("b", &body("small", &["a"])).status, 204);
    // 200 series of ~40 bytes each are more than 4 KiB of list; one is not.
    for (settings, big_kept, small_kept) in [("listing_ttl_ms = 0", false, false), ("listing_ttl_ms = 600000\nlisting_max_bytes = 4096", false, true)] {
        let gate = start_gate(&ch, settings);
        let api = gate.admin();
        assert_eq!(api.write("b", &body("big", &many)).status, 204);
        assert_eq!(api.write("b", &body("small", &["a"])).status, 204);
        for (m, kept) in [("big", big_kept), ("small", small_kept)] {
            let q = format!("SELECT max(v) FROM {m} WHERE (host = 'h007' OR host = 'a') AND {RANGE} GROUP BY time(5m)");
            same(&api, &r, &q, "b");
            let used = same(&api, &r, &q, "b");
            if kept {
                assert!(used <= 1, "{settings}: {m}: {used} requests");
            } else {
                assert!(used >= 2, "{settings}: {m}: {used} requests: the series list is asked again");
            }
            let show = format!("SHOW SERIES FROM {m}");
            same(&api, &r, &show, "b");
            assert_eq!(same(&api, &r, &show, "b") == 0, kept, "{settings}: {show}");
        }
        api.query_ok("DROP DATABASE b", "");
    }
}
