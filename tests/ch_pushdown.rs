//! Aggregate pushdown on the ClickHouse backend gives exactly the evaluator's answers over the
//! scanned points: every query runs twice, once with pushdown and once with it switched off (a
//! wrapper whose capabilities list no aggregates), on Debian's clickhouse-server 18.16 and on a
//! current ClickHouse (PyPI's chdb behind tests/chdb_http.py), so the generated SQL runs in both
//! dialects; and on a 2-shard cluster for the TSBS shapes (GROUP BY time and a tag over many
//! hosts), aggregated on the shards through the Distributed table.
//! Needs `clickhouse-server`, `zookeeper` (Debian packages) and `chdb` (PyPI).

mod common;

use std::sync::Arc;

use common::clickhouse::{Chdb, ClickHouse};
use common::pushdown::{self, compare, Switch};
use influxgate::backend::clickhouse::{ClickHouseBackend, ClickHouseOptions};
use influxgate::backend::{Backend, WriteBatch};

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z, a Monday
const S: i64 = 1_000_000_000;
const DAY: i64 = 24 * 3600 * S;

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

/// Hosts (one with a hostile value, one without `region`, a tag named `x` as the SQL's lambda
/// parameter is): an hour of points every 10 s, some on minute edges ± 1 ms, with gaps; a point
/// every 6 hours over 20 days (several 7-day shard groups) and some before 1970; and `solo`, a
/// series without tags. Fields: `v`
/// distinct floats, `w` integer-valued floats full of ties, `x` floats with -0 and 0, `i`
/// integers (ties, and sums that wrap), `z` on some points only.
fn data() -> String {
    let hosts = ["h0,region=us,x=1", "h1,region=us", "h2,region=eu", "h3", r#"a"}\,\ x\="y,region=eu"#];
    let mut g = Lcg(7);
    let mut s = String::new();
    let line = |s: &mut String, t: i64, h: usize, g: &mut Lcg| {
        let v = (g.next() % 1_000_000) as f64 / 1000.0 + 0.000_1;
        let w = (g.next() % 5) as f64;
        let x = match g.next() % 4 {
            0 => "-0".to_string(),
            1 => "0".to_string(),
            k => format!("{}.1", k as i64 - 3),
        };
        let i = match g.next() % 7 {
            0 => i64::MAX - 3,
            k => k as i64 - 3,
        };
        let mut l = format!("cpu,host={} v={v},w={w},x={x},i={i}i", hosts[h]);
        if g.next() % 4 == 0 {
            l.push_str(&format!(",z={}", (g.next() % 100) as f64 * 0.1));
        }
        s.push_str(&format!("{l} {t}\n"));
    };
    for k in 0..360i64 {
        let t = pushdown::edge_time(T0, k);
        for h in 0..hosts.len() {
            if (k + h as i64) % 11 == 0 || (h == 3 && (120..180).contains(&k)) {
                continue;
            }
            line(&mut s, t, h, &mut g);
        }
    }
    for k in 0..80i64 {
        line(&mut s, T0 - 10 * DAY + k * 6 * 3600 * S + 7 * S, (k % 5) as usize, &mut g);
    }
    for k in 0..6i64 {
        line(&mut s, -3 * DAY + k * 11 * 3600 * S, (k % 2) as usize, &mut g);
    }
    // a series without tags (its `_series` is empty)
    for k in 0..40i64 {
        s.push_str(&format!("solo v={} {}\n", (k * 7 % 13) as f64 * 0.3, T0 + k * 61 * S));
    }
    s
}

/// Points written twice: `rw` rewrites some points' `v` (1.x keeps the later value), `rw2`
/// rewrites only another field of a point (its `v` stays), `rw3` writes some points again with
/// the same values (a retried write; its integer sums wrap).
fn rewrites() -> [&'static str; 2] {
    [
        "rw,host=a v=1 1704067200000000000\nrw,host=a v=5 1704067210000000000\nrw,host=b v=2 1704067200000000000\n\
         rw2,host=a v=1,k=1 1704067200000000000\nrw2,host=a v=3 1704067260000000000\n\
         rw3,host=a v=1.5,i=3i 1704067200000000000\nrw3,host=a v=0.1,i=-4i 1704067210000000000\n\
         rw3,host=b v=0.2,i=9223372036854775807i 1704067200000000000\nrw3,host=b v=0.7,i=5i 1704067260000000000\n",
        "rw,host=a v=9 1704067200000000000\nrw,host=a v=0.5 1704067210000000000\n\
         rw2,host=a k=2 1704067200000000000\n\
         rw3,host=a v=1.5,i=3i 1704067200000000000\nrw3,host=b v=0.2,i=9223372036854775807i 1704067200000000000\n\
         rw3,host=b v=0.7,i=5i 1704067260000000000\n",
    ]
}

fn ts(rfc: &str) -> String {
    format!("'{rfc}'")
}

fn queries() -> Vec<String> {
    let aggs = [
        "count(v)", "sum(v)", "mean(v)", "first(v)", "last(v)", "max(v)", "min(v)", "max(w)", "min(w)", "sum(x)",
        "mean(x)", "min(x)", "max(x)", "sum(i)", "mean(i)", "max(i)", "min(i)", "count(z)", "sum(z)",
    ];
    let ranges = [
        format!("time >= {} AND time < {}", ts("2024-01-01T00:00:00Z"), ts("2024-01-01T01:00:00Z")),
        format!("time >= {} AND time <= {}", ts("2024-01-01T00:00:29.999Z"), ts("2024-01-01T00:47:00.001Z")),
        // several 7-day shard groups
        format!("time >= {} AND time < {}", ts("2023-12-20T00:00:00Z"), ts("2024-01-12T00:00:00Z")),
    ];
    // (windows the planner pushes down: dividing the 7-day shard groups, aligned with them)
    let groups = ["time(1m)", "time(10m), *", "time(2h), host", "time(1d) fill(none)"];
    let mut q = Vec::new();
    for agg in aggs {
        for r in &ranges {
            for g in &groups {
                q.push(format!("SELECT {agg} FROM cpu WHERE {r} GROUP BY {g}"));
            }
        }
        q.push(format!("SELECT {agg} FROM cpu"));
        // before 1970
        q.push(format!("SELECT {agg} FROM cpu WHERE time >= '1969-12-20T00:00:00Z' AND time < '1970-01-03T00:00:00Z' GROUP BY time(1d)"));
        q.push(format!("SELECT {agg} FROM cpu GROUP BY host"));
    }
    for w in ["host =~ /h[12]/", "region = ''", "host = 'a\"}, x=\"y' OR host = 'h3'", "x = '1'", "host = 'nosuch'"] {
        for agg in ["count(v)", "mean(v)", "max(v)", "last(v)", "sum(i)"] {
            q.push(format!("SELECT {agg} FROM cpu WHERE {} AND ({w}) GROUP BY time(5m), host", ranges[0]));
        }
    }
    for nq in [
        "SELECT last(*) FROM cpu GROUP BY *",
        "SELECT count(v), sum(v), mean(v), min(v), max(v), first(v), last(v) FROM solo",
        "SELECT count(v), sum(v), max(v) FROM solo WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(10m)",
        "SELECT first(*) FROM cpu GROUP BY *",
        // last() without GROUP BY time over several shard groups: read near each series' end
        // (`latest_only`), `z` on some points only (a series' last `z` may be far back).
        "SELECT last(z) FROM cpu GROUP BY host",
        "SELECT last(z), last(v) FROM cpu GROUP BY *",
        "SELECT last(v), last(i) FROM cpu WHERE time >= '2023-12-20T00:00:00Z' AND time < '2024-01-01T00:30:00Z' GROUP BY host",
        "SELECT last(v) FROM rw GROUP BY host",
        "SELECT count(v), sum(v), mean(v), min(v), max(v), first(v), last(v) FROM cpu",
        "SELECT max(v), min(i), mean(i) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' GROUP BY time(1h), region",
        "SELECT count(v) FROM cpu WHERE time >= '2023-12-31T00:00:00Z' AND time < '2024-01-02T00:00:00Z' GROUP BY time(1d, 5h)",
        "SELECT max(v) FROM cpu WHERE time < '2024-01-01T00:50:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
    ] {
        q.push(nq.to_string());
    }
    q
}

struct Setup {
    on: Switch<ClickHouseBackend>,
    off: Switch<ClickHouseBackend>,
}

async fn setup(url: &str, cluster: Option<&str>, body: &str) -> Setup {
    let opts = ClickHouseOptions { cluster: cluster.map(str::to_string), ..ClickHouseOptions::default() };
    let b = Arc::new(ClickHouseBackend::new(url, opts).unwrap());
    b.create_database("db").await.unwrap();
    let mut bodies = vec![body.to_string()];
    bodies.extend(rewrites().iter().map(|r| r.to_string()));
    for body in bodies {
        let points = influxgate::lineproto::parse_body_str(&body, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
        // Small inserts, latest first: a series' points are in many parts, not in time order, so
        // a sum in the order ClickHouse reads rows would differ from the evaluator's.
        let chunks: Vec<_> = points.chunks(97).collect();
        for chunk in chunks.into_iter().rev() {
            b.write(WriteBatch { db: "db".into(), rp: None, points: chunk.iter().collect() }).await.unwrap();
        }
    }
    let (on, off) = Switch::pair(b);
    Setup { on, off }
}

fn strings(qs: &[&str]) -> Vec<String> {
    qs.iter().map(|q| q.to_string()).collect()
}

/// Every shape both ways; rewritten points pushed down and exact: `count`/`first`/`last` in the
/// careful statement, the others there where the rewrites repeat the values, else in the merged one.
async fn both_ways(url: &str, label: &str) {
    let s = setup(url, None, &data()).await;
    let now = T0 + 2 * 3600 * S;
    let qs = queries();
    let (failures, pushed) = compare(&s.on, &s.off, "db", &qs, now).await;
    eprintln!("{label}: {pushed} of {} queries pushed down", qs.len());
    assert!(failures.is_empty(), "{label}: {} of {} differ:\n{}", failures.len(), qs.len(), failures.join("\n"));
    // Nearly all are pushed down (not: series that match nothing, asked nothing).
    assert!(pushed * 20 > qs.len() * 19, "{label}: only {pushed} of {} pushed down", qs.len());

    let exact = strings(&[
        "SELECT count(v), first(v), last(v) FROM rw GROUP BY host",
        "SELECT count(v), first(v), last(v) FROM rw WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:01:00Z' GROUP BY time(10s)",
        "SELECT count(v), first(v), last(v), sum(v), max(v), min(v), mean(v) FROM rw2",
        "SELECT sum(v), max(v), min(v), mean(v), sum(i), mean(i), max(i), min(i), count(v) FROM rw3 GROUP BY host",
        "SELECT sum(v), mean(i), max(i), min(v) FROM rw3 WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:02:00Z' GROUP BY time(20s)",
        "SELECT sum(i), mean(v) FROM rw3",
    ]);
    let (failures, pushed) = compare(&s.on, &s.off, "db", &exact, now).await;
    assert!(failures.is_empty(), "{label}: {}", failures.join("\n"));
    assert_eq!(pushed, exact.len(), "{label}");
    // Rewritten with another value: the merged statement, pushed down and exact too.
    let merged = strings(&[
        "SELECT sum(v) FROM rw",
        "SELECT max(v) FROM rw GROUP BY host",
        "SELECT mean(v), min(v) FROM rw",
        "SELECT sum(v), max(v), min(v), mean(v), count(v) FROM rw WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:01:00Z' GROUP BY time(10s), host",
        "SELECT max(v), sum(v) FROM rw2 GROUP BY host",
    ]);
    let (failures, pushed) = compare(&s.on, &s.off, "db", &merged, now).await;
    assert!(failures.is_empty(), "{label}: {}", failures.join("\n"));
    assert_eq!(pushed, merged.len(), "{label}");
    field_conditions(&s, now, label).await;
}

/// Field conditions the store pre-filters (`backend::clickhouse::fieldcond`) give the answers of
/// the evaluator filtering alone; rewritten points (`rw*`) are decided as merged: `rw2`'s point at
/// T0 has `v` from its first row and `k = 2` from its second, so no single row passes
/// `k = 2 AND v = 1` although the point does.
async fn field_conditions(s: &Setup, now: i64, label: &str) {
    let qs = strings(&[
        "SELECT * FROM rw2 WHERE k = 2 AND v = 1",
        "SELECT * FROM rw2 WHERE k = 1",
        "SELECT v FROM rw WHERE v > 4",
        "SELECT v FROM rw WHERE v < 2 OR v = 5",
        "SELECT * FROM rw3 WHERE i >= 5 AND v > 0.5",
        "SELECT * FROM rw3 WHERE i > 3.5 OR v = 1.5",
        "SELECT * FROM rw3 WHERE i = 9223372036854775807",
        "SELECT v, z FROM cpu WHERE z > 5 AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' LIMIT 20",
        "SELECT * FROM cpu WHERE (v > 900 OR i = -3) AND host = 'h1' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z'",
        "SELECT * FROM cpu WHERE x = 0 AND w != 2 ORDER BY time DESC LIMIT 7",
        "SELECT v FROM cpu WHERE v > 999 OR x = -0 LIMIT 5 OFFSET 3",
        "SELECT max(v), count(z) FROM cpu WHERE z >= 9 AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(10m)",
    ]);
    let before = s.on.filtered.load(std::sync::atomic::Ordering::Relaxed);
    let (failures, _) = compare(&s.on, &s.off, "db", &qs, now).await;
    assert!(failures.is_empty(), "{label}: field conditions: {}", failures.join("\n"));
    let filtered = s.on.filtered.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert!(filtered >= qs.len(), "{label}: only {filtered} scans of {} queries had a field condition", qs.len());
}

/// A runtime for the async part (the harness starts servers with blocking calls, outside it).
/// A ClickHouse statement through the harness's blocking client, also from inside [`rt`]'s
/// runtime (where a blocking client may not start its own).
fn ch_sql(url: &str, sql: &str) -> Result<String, String> {
    tokio::task::block_in_place(|| common::clickhouse::query(url, sql))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn pushdown_equals_scan_clickhouse_18() {
    let ch = ClickHouse::single();
    rt().block_on(both_ways(ch.url(), "clickhouse 18.16"));
}

#[test]
fn pushdown_equals_scan_chdb() {
    let ch = Chdb::start();
    rt().block_on(both_ways(&ch.url, "chdb"));
}

/// Tables made with the order key `(_series, time)` (before `(_sid, time)`, see
/// `clickhouse::schema`) answer as the new ones do: the same data is read through each key, the
/// answers (aggregates pushed down, scans ordered and limited per series, field pre-filters)
/// compared, and on the old key pushdown compared with the evaluator over the scan again.
#[test]
fn both_order_keys_answer_alike() {
    let ch = ClickHouse::single();
    rt().block_on(async {
        let s = setup(ch.url(), None, &data()).await;
        let now = T0 + 2 * 3600 * S;
        let chdb = "influx_db.autogen";
        let tables = ch_sql(ch.url(), &format!("SELECT name FROM system.tables WHERE database = '{chdb}' ORDER BY name FORMAT TSVRaw")).unwrap();
        let tables: Vec<&str> = tables.lines().collect();
        assert!(tables.len() >= 5, "{tables:?}");
        let mut qs = queries();
        qs.extend(strings(&[
            "SELECT v, i FROM cpu WHERE host = 'h1' OR host = 'h3' ORDER BY time DESC LIMIT 7",
            "SELECT v FROM cpu WHERE time >= '2024-01-01T00:10:00Z' GROUP BY host LIMIT 3",
            "SELECT * FROM cpu WHERE host = 'h2' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:05:00Z'",
            "SELECT * FROM cpu WHERE host = 'nosuch'",
            "SELECT * FROM rw2 WHERE k = 2 AND v = 1",
            "SELECT * FROM rw3 WHERE i >= 5 AND v > 0.5 ORDER BY time DESC LIMIT 1",
            "SELECT * FROM solo ORDER BY time DESC LIMIT 2",
        ]));
        let answers = |qs: Vec<String>| {
            let on = &s.on;
            async move {
                let mut out = Vec::new();
                for q in &qs {
                    let mut ctx = influxgate::query::QueryContext::admin(Some("db"));
                    ctx.now = now;
                    let parsed = influxgate::influxql::parse_query(q).unwrap();
                    out.push(format!("{:?}", influxgate::query::execute(on, &ctx, &parsed).await.expect("store")));
                }
                out
            }
        };
        let new_key = answers(qs.clone()).await;
        for t in &tables {
            let create = ch_sql(ch.url(), &format!("SHOW CREATE TABLE `{chdb}`.`{t}` FORMAT TSVRaw")).unwrap();
            assert!(create.contains("ORDER BY (_sid, time)"), "{create}");
            remake_with_series_key(ch.url(), chdb, t, &create);
        }
        let old_key = answers(qs.clone()).await;
        let differ: Vec<String> =
            qs.iter().zip(new_key.iter().zip(&old_key)).filter(|(_, (a, b))| a != b).map(|(q, (a, b))| format!("{q}\n  (_sid, time): {a}\n  (_series, time): {b}")).collect();
        assert!(differ.is_empty(), "{} of {} differ:\n{}", differ.len(), qs.len(), differ.join("\n"));
        let (failures, pushed) = compare(&s.on, &s.off, "db", &qs, now).await;
        assert!(failures.is_empty(), "(_series, time): {} differ:\n{}", failures.len(), failures.join("\n"));
        assert!(pushed * 20 > queries().len() * 19, "only {pushed} pushed down");
    });
}

/// `single_thread_series`: an aggregate over at most that many listed series runs with
/// `max_threads = 1` (read back from `system.query_log`), one over more without, and 0 never;
/// the answers equal the evaluator's over the scan either way.
#[test]
fn few_series_run_on_one_thread() {
    let ch = ClickHouse::single();
    rt().block_on(async {
        let mut body = String::new();
        for m in ["one", "two", "three", "zero"] {
            for k in 0..120i64 {
                for h in 0..3 {
                    body.push_str(&format!("{m},host=h{h} v={} {}\n", (k * 7 + h) % 11, T0 + k * 10 * S));
                }
            }
        }
        let queries = |m: &str, cond: &str| {
            strings(&[
                &format!("SELECT max(v), sum(v) FROM {m} WHERE {cond} AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:20:00Z' GROUP BY time(1m), host"),
                &format!("SELECT last(v) FROM {m} WHERE {cond} GROUP BY host"),
            ])
        };
        for (bound, cases) in [(2, vec![("one", "host = 'h0'", true), ("two", "(host = 'h0' OR host = 'h1')", true), ("three", "host != 'x'", false)]), (0, vec![("zero", "host = 'h0'", false)])] {
            let opts = ClickHouseOptions { single_thread_series: bound, ..ClickHouseOptions::default() };
            let b = Arc::new(ClickHouseBackend::new(ch.url(), opts).unwrap());
            b.create_database("db").await.unwrap();
            if bound == 2 {
                let points = influxgate::lineproto::parse_body_str(&body, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
                b.write(WriteBatch { db: "db".into(), rp: None, points: points.iter().collect() }).await.unwrap();
            }
            let (on, off) = Switch::pair(b);
            for (m, cond, one) in cases {
                let qs = queries(m, cond);
                let (failures, pushed) = compare(&on, &off, "db", &qs, T0 + 3600 * S).await;
                assert!(failures.is_empty(), "{m}: {}", failures.join("\n"));
                assert_eq!(pushed, qs.len(), "{m}");
                ch_sql(ch.url(), "SYSTEM FLUSH LOGS").unwrap();
                let logged = ch_sql(
                    ch.url(),
                    &format!(
                        "SELECT has(Settings.Names, 'max_threads') AND Settings.Values[indexOf(Settings.Names, 'max_threads')] = '1' \
                         FROM system.query_log WHERE type = 2 AND query LIKE '%PREWHERE%' AND query LIKE '%.`{m}` %' FORMAT TSV"
                    ),
                )
                .unwrap();
                let logged: Vec<&str> = logged.lines().collect();
                assert!(logged.len() >= qs.len(), "{m}: {logged:?}");
                let want = if one { "1" } else { "0" };
                assert!(logged.iter().all(|l| *l == want), "{m} (bound {bound}): max_threads = 1 expected {one}, logged {logged:?}");
            }
        }
    });
}

/// Makes table `t` again with the earlier order key `(_series, time)` and the same rows: a copy
/// under another name (its `CREATE` with the key replaced) filled from `t` (the MATERIALIZED
/// `_sid` computed again), swapped in by `RENAME`.
fn remake_with_series_key(url: &str, chdb: &str, t: &str, create: &str) {
    let run = |sql: &str| ch_sql(url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let (name, old, gone) = (format!("`{chdb}`.`{t}`"), format!("`{chdb}`.`{t}\\\\old`"), format!("`{chdb}`.`{t}\\\\gone`"));
    let body = &create[create.find(" (").expect("columns")..];
    run(&format!("CREATE TABLE {old}{}", body.replace("ORDER BY (_sid, time)", "ORDER BY (_series, time)")));
    run(&format!("INSERT INTO {old} SELECT * FROM {name}"));
    let rows = |tbl: &str| run(&format!("SELECT count(), sum(_sid) FROM {tbl} FORMAT TSV"));
    assert_eq!(rows(&name), rows(&old), "{t}");
    run(&format!("RENAME TABLE {name} TO {gone}, {old} TO {name}"));
    run(&format!("DROP TABLE {gone}"));
    let again = run(&format!("SHOW CREATE TABLE {name} FORMAT TSVRaw"));
    assert!(again.contains("ORDER BY (_series, time)") && again.contains("_sid UInt64 MATERIALIZED"), "{again}");
}

/// The TSBS shapes on 2 shards (through the Distributed tables): 40 hosts, a point every 10 s
/// for an hour.
#[test]
fn tsbs_shapes_on_a_cluster() {
    let ch = ClickHouse::cluster(&[1, 1]);
    rt().block_on(tsbs_shapes(&ch));
}

async fn tsbs_shapes(ch: &ClickHouse) {
    let mut g = Lcg(11);
    let mut body = String::new();
    for k in 0..360i64 {
        for h in 0..40 {
            let (a, b) = ((g.next() % 10_000) as f64 / 100.0, (g.next() % 10_000) as f64 / 100.0);
            body.push_str(&format!("cpu,hostname=host_{h},region=r{} usage_user={a},usage_system={b} {}\n", h % 3, T0 + k * 10 * S));
        }
    }
    let s = setup(ch.url(), Some(common::clickhouse::CLUSTER), &body).await;
    let r = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z'";
    let qs: Vec<String> = [
        format!("SELECT max(usage_user) FROM cpu WHERE {r} GROUP BY time(1m), hostname"),
        format!("SELECT max(usage_user) FROM cpu WHERE {r} AND hostname =~ /host_(1|7|9)$/ GROUP BY time(1m)"),
        format!("SELECT mean(usage_user), mean(usage_system) FROM cpu WHERE {r} GROUP BY time(1h), hostname"),
        format!("SELECT max(usage_user), max(usage_system) FROM cpu WHERE {r} GROUP BY time(5m)"),
        format!("SELECT count(usage_user), sum(usage_system), min(usage_user) FROM cpu WHERE {r} GROUP BY time(10m), region"),
        "SELECT last(*) FROM cpu GROUP BY hostname".to_string(),
        "SELECT first(usage_user), mean(usage_user) FROM cpu".to_string(),
    ]
    .into();
    let (failures, pushed) = compare(&s.on, &s.off, "db", &qs, T0 + 2 * 3600 * S).await;
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), qs.len(), failures.join("\n"));
    assert_eq!(pushed, qs.len());
}
