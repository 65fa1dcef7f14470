//! InfluxQL through the query engine on the VictoriaMetrics backend gives the same answers as on
//! the embedded store, for data both can hold exactly (float fields, millisecond timestamps).
//! Needs `/usr/bin/victoria-metrics` (Debian package `victoria-metrics`).

mod common;

use common::vm::Vm;

use influxgate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
use influxgate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
use influxgate::backend::{Backend, WriteBatch};
use influxgate::query::{execute, QueryContext};

async fn start_vm() -> Vm {
    Vm::start(&["-search.latencyOffset=0s"])
}

const T0: i64 = 1_704_067_200_000_000_000;

/// Float fields only, millisecond timestamps, some series without `region`, some gaps.
fn data() -> String {
    let mut s = String::new();
    let mut x: u64 = 12345;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 33) % 10000) as f64 / 100.0
    };
    for i in 0..360i64 {
        let t = T0 + i * 10_000_000_000 + (i % 7) * 1_000_000;
        for h in 0..4 {
            let region = match h {
                0 | 1 => ",region=us",
                2 => ",region=eu",
                _ => "",
            };
            if (i + h) % 5 != 0 {
                s.push_str(&format!("cpu,host=h{h}{region} usage_user={},usage_system={} {t}\n", next(), next()));
            } else {
                s.push_str(&format!("cpu,host=h{h}{region} usage_user={} {t}\n", next()));
            }
            if h < 2 {
                s.push_str(&format!("net_response,host=h{h},server=s.{h} response_time={} {t}\n", next()));
            }
        }
        if i % 3 == 0 {
            s.push_str(&format!("mem,host=h0 free={} {t}\n", next()));
        }
    }
    s
}

const QUERIES: &[&str] = &[
    "SHOW MEASUREMENTS",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /net/",
    "SHOW FIELD KEYS",
    "SHOW FIELD KEYS FROM cpu",
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM cpu",
    "SHOW TAG VALUES WITH KEY = host",
    "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region) WHERE region != ''",
    "SHOW SERIES",
    "SHOW SERIES FROM cpu WHERE host =~ /h[12]/",
    "SELECT * FROM cpu LIMIT 20",
    "SELECT * FROM cpu WHERE host = 'h3' ORDER BY time DESC LIMIT 5",
    "SELECT usage_user FROM cpu WHERE region = '' LIMIT 3",
    "SELECT usage_user FROM cpu WHERE region != 'us' AND time >= '2024-01-01T00:10:00Z' AND time < '2024-01-01T00:12:00Z'",
    "SELECT usage_user, usage_system FROM cpu WHERE host = 'h0' OR host = 'h2' LIMIT 10",
    "SELECT usage_system FROM cpu WHERE host !~ /0/ AND time > '2024-01-01T00:59:00Z' GROUP BY host",
    "SELECT * FROM cpu, mem WHERE time <= '2024-01-01T00:01:00Z'",
    "SELECT * FROM /net|mem/ WHERE time <= '2024-01-01T00:02:00Z' GROUP BY *",
    "SELECT response_time FROM net_response WHERE server = 's.1' LIMIT 4",
    "SELECT count(usage_user), sum(usage_user), mean(usage_user), min(usage_user), max(usage_user) FROM cpu",
    "SELECT count(usage_system) FROM cpu GROUP BY host",
    "SELECT first(usage_user), last(usage_user) FROM cpu GROUP BY region",
    "SELECT mean(usage_user) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(10m), host",
    "SELECT max(usage_user), stddev(usage_user), median(usage_user) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(7m) fill(0)",
    "SELECT sum(response_time) FROM net_response WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:30:00Z' GROUP BY time(5m, 1m) fill(previous)",
    "SELECT derivative(usage_user, 1s) FROM cpu WHERE host = 'h1' LIMIT 5",
    "SELECT top(usage_user, 3), host FROM cpu",
    "SELECT count(*) FROM /.*/",
    "SELECT usage_user FROM cpu WHERE usage_user > 99 ",
    "SELECT usage_user FROM cpu WHERE time = '2024-01-01T00:00:10.001Z'",
    "SELECT * FROM cpu GROUP BY * SLIMIT 2 SOFFSET 1",
    "SELECT * FROM nosuch",
];

#[tokio::test]
async fn same_answers_as_embedded() {
    let vm = start_vm().await;
    let dir = tempfile::tempdir().unwrap();
    let emb = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let vmb = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let lp = data();
    let points = influxgate::lineproto::parse_body_str(&lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
        b.create_database("db").await.unwrap();
        for chunk in points.chunks(2000) {
            b.write(WriteBatch { db: "db".into(), rp: None, points: chunk.iter().collect() }).await.unwrap();
        }
    }
    let mut failures = Vec::new();
    let mut empty = Vec::new();
    for q in QUERIES {
        let parsed = influxgate::influxql::parse_query(q).unwrap();
        let mut answers = Vec::new();
        for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
            let mut ctx = QueryContext::admin(Some("db"));
            ctx.now = T0 + 2 * 3_600_000_000_000;
            answers.push(execute(b, &ctx, &parsed).await.expect("store"));
        }
        assert!(answers[0].iter().all(|r| r.error.is_none()) || q.contains("nosuch"), "{q}: {:?}", answers[0]);
        if answers[0].iter().all(|r| r.series.iter().all(|s| s.values.is_empty())) {
            empty.push(*q);
        }
        if answers[0] != answers[1] {
            failures.push(format!("{q}\n  embedded: {:?}\n  vm:       {:?}", answers[0], answers[1]));
        }
    }
    assert_eq!(empty, vec!["SELECT * FROM nosuch"], "queries answering nothing");
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), QUERIES.len(), failures.join("\n"));
}

async fn run(b: &dyn Backend, q: &str) -> String {
    let parsed = influxgate::influxql::parse_query(q).unwrap();
    let mut ctx = QueryContext::admin(Some("db"));
    ctx.now = T0 + 2 * 3_600_000_000_000;
    let r = execute(b, &ctx, &parsed).await.expect("store");
    r.iter()
        .map(|r| match &r.error {
            Some(e) => format!("error: {e}"),
            None => r.series.iter().map(|s| format!("{}{:?}{:?}", s.name, s.tags, s.values)).collect::<Vec<_>>().join(";"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Management statements on the VictoriaMetrics backend.
#[tokio::test]
async fn ddl_statements() {
    let vm = start_vm().await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let lp = "cpu,host=a v=1 1704067200000000000\ncpu,host=b v=2 1704067200000000000\nmem,host=a v=3 1704067200000000000\n";
    let points = influxgate::lineproto::parse_body_str(lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    b.write(WriteBatch { db: "db".into(), rp: None, points: points.into() }).await.unwrap();
    let b: &dyn Backend = &b;
    let cases: &[(&str, &str)] = &[
        ("SHOW DATABASES", r#"databases[][[String("db")]]"#),
        ("SHOW RETENTION POLICIES", r#"[][[String("autogen"), String("876000h0m0s"), String("168h0m0s"), Integer(1), Boolean(true)]]"#),
        ("CREATE RETENTION POLICY r ON db DURATION 1h REPLICATION 1", "error: retention policies are not supported by the victoriametrics backend"),
        ("CREATE DATABASE x", ""),
        ("SHOW DATABASES", r#"databases[][[String("db")], [String("x")]]"#),
        ("DELETE FROM cpu WHERE time < now()", "error: DELETE with a time range is not supported by the victoriametrics backend"),
        ("DELETE FROM cpu WHERE host = 'a'", ""),
        ("SHOW SERIES", r#"[][[String("cpu,host=b")], [String("mem,host=a")]]"#),
        ("DROP SERIES FROM cpu WHERE host = 'b'", ""),
        ("SHOW SERIES", r#"[][[String("mem,host=a")]]"#),
        ("DROP MEASUREMENT mem", ""),
        ("SHOW MEASUREMENTS", ""),
        ("DROP DATABASE db", ""),
        ("SHOW DATABASES", r#"databases[][[String("x")]]"#),
        ("SELECT * FROM db..cpu", "error: database not found: db"),
    ];
    for (q, want) in cases {
        assert_eq!(run(b, q).await, *want, "{q}");
    }
}

/// Hostile measurement, tag and field names through InfluxQL: same answers as the embedded store.
/// (Names that collide in VictoriaMetrics, like measurement `m` field `x_v` and measurement `m_x`
/// field `v`, both metric `m_x_v`, cannot be told apart; they are not used here.)
#[tokio::test]
async fn hostile_names_same_answers() {
    let vm = start_vm().await;
    let dir = tempfile::tempdir().unwrap();
    let emb = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let vmb = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let lp = r#"we"ird\,m\ x,t\ k=v"}\,1,host=a.* f\ 1=1,f_2=2 1704067200000000000
we"ird\,m\ x,t\ k=v"}\,1,host=abc f\ 1=3 1704067201000000000
we"ird\,m\ x,host=a f\ 1=4 1704067202000000000
m_x,host=x"} v=5 1704067200000000000
m,host=(|) y=6 1704067200000000000
"#;
    let points = influxgate::lineproto::parse_body_str(lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
        b.create_database("d\"b").await.unwrap();
        b.write(WriteBatch { db: "d\"b".into(), rp: None, points: points.clone().into() }).await.unwrap();
    }
    let queries = [
        "SHOW MEASUREMENTS",
        "SHOW FIELD KEYS",
        "SHOW SERIES",
        "SHOW TAG VALUES WITH KEY =~ /.*/",
        r#"SELECT * FROM "we\"ird,m x""#,
        r#"SELECT * FROM "we\"ird,m x" WHERE "t k" = 'v"},1'"#,
        r#"SELECT * FROM "we\"ird,m x" WHERE host = 'a.*'"#,
        r#"SELECT * FROM "we\"ird,m x" WHERE host =~ /a.*/"#,
        r#"SELECT * FROM "we\"ird,m x" WHERE host !~ /^a$/ AND "t k" != ''"#,
        r#"SELECT "f 1" FROM "we\"ird,m x" WHERE host = 'a' OR "t k" =~ /"}/"#,
        "SELECT * FROM m_x",
        "SELECT * FROM m WHERE host = '(|)'",
        "SELECT * FROM /m/ GROUP BY *",
    ];
    let mut failures = Vec::new();
    for q in queries {
        let parsed = influxgate::influxql::parse_query(q).unwrap();
        let mut answers = Vec::new();
        for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
            let ctx = QueryContext::admin(Some("d\"b"));
            answers.push(execute(b, &ctx, &parsed).await.expect("store"));
        }
        assert!(answers[0].iter().all(|r| r.error.is_none() && !r.series.is_empty()), "{q}: {:?}", answers[0]);
        if answers[0] != answers[1] {
            failures.push(format!("{q}\n  embedded: {:?}\n  vm:       {:?}", answers[0], answers[1]));
        }
    }
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
}

/// A tag value holding a newline, which a regex pushed down to VictoriaMetrics would miss (the
/// `.*` around it does not cross a newline in VictoriaMetrics): rollups and listings with a tag
/// regex give the embedded store's answers.
#[tokio::test]
async fn newline_values_same_answers() {
    let vm = start_vm().await;
    let dir = tempfile::tempdir().unwrap();
    let emb = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let vmb = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let mut lp = String::new();
    for i in 0..40i64 {
        for v in ["aNLb", "b", "zz"] {
            lp.push_str(&format!("c,t={v} v={} {}\n", i + v.len() as i64, T0 + i * 15_000_000_000));
        }
    }
    let mut points = influxgate::lineproto::parse_body_str(&lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    for p in &mut points {
        for (_, v) in &mut p.tags {
            *v = v.replace("NL", "\n");
        }
    }
    for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
        b.create_database("nl").await.unwrap();
        b.write(WriteBatch { db: "nl".into(), rp: None, points: points.clone().into() }).await.unwrap();
    }
    let range = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-30T00:00:00Z'";
    let queries = [
        format!("SELECT count(v), max(v) FROM c WHERE {range} AND t =~ /b+/ GROUP BY time(1d), t"),
        format!("SELECT count(v) FROM c WHERE {range} AND t =~ /^a/ GROUP BY time(1d), t"),
        format!("SELECT count(v) FROM c WHERE {range} AND t !~ /z/ GROUP BY time(1d), t"),
        "SELECT v FROM c WHERE t =~ /b$/ GROUP BY t".to_string(),
        "SHOW SERIES FROM c WHERE t =~ /b/".to_string(),
    ];
    for q in &queries {
        let parsed = influxgate::influxql::parse_query(q).unwrap();
        let mut answers = Vec::new();
        for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
            let mut ctx = QueryContext::admin(Some("nl"));
            ctx.now = T0 + 40 * 24 * 3_600_000_000_000;
            answers.push(execute(b, &ctx, &parsed).await.expect("store"));
        }
        // The newline value is among the answer (the statement can tell the stores apart).
        assert!(format!("{:?}", answers[0]).contains("a\\nb"), "{q}: {:?}", answers[0]);
        assert_eq!(answers[0], answers[1], "{q}");
    }
}

/// Tag values and field names holding the bytes 0x00–0x02, which VictoriaMetrics 1.79's regex
/// matchers misjudge (it matches regexes against its escaped index form): raw reads, aggregates
/// (pushed down where exact), tag regexes and merged equalities give the embedded store's answers.
/// (A NUL ends an InfluxQL statement, as in 1.x, so names holding it are read with `*` only.)
/// The first database holds such bytes (a tag regex is decided here); the second holds the same
/// data with `_` in their place (a tag regex may be pushed down there), read with the same
/// statements.
#[tokio::test]
async fn control_bytes_same_answers() {
    let vm = start_vm().await;
    let dir = tempfile::tempdir().unwrap();
    let emb = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let vmb = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let week = 7 * 24 * 3_600_000_000_000i64;
    let mut lp = String::new();
    let values = ["a\u{1}b", "a\u{0}b", "a\u{2}b", "a\u{3}b", "azb", "\u{1}", "plain"];
    for i in 0..40i64 {
        // several shard groups: every fourth point a week later
        let t = T0 + i * 15_000_000_000 + (i % 4) * week;
        for (h, v) in values.iter().enumerate() {
            if (i + h as i64) % 6 == 0 {
                continue;
            }
            let other = if h % 3 == 0 { String::new() } else { format!(",o=x{}", h % 2) }; // `o` missing on some
            lp.push_str(&format!("c,t={v}{other} f\u{1}x={},v={},g\u{2}={},h\u{0}={} {t}\n", i * 3 + h as i64, (i * 7 + h as i64) % 5, i as f64 + 0.5, -i));
        }
    }
    let clean = lp.replace(['\u{0}', '\u{1}', '\u{2}'], "_");
    let points = influxgate::lineproto::parse_body_str(&lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    let clean_points = influxgate::lineproto::parse_body_str(&clean, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
        for (db, pts) in [("db", &points), ("clean", &clean_points)] {
            b.create_database(db).await.unwrap();
            b.write(WriteBatch { db: db.into(), rp: None, points: pts.clone().into() }).await.unwrap();
        }
    }
    let range = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-30T00:00:00Z'";
    let queries = [
        "SELECT * FROM c".to_string(),
        "SELECT \"f\u{1}x\", \"g\u{2}\" FROM c WHERE t = 'a\u{1}b'".to_string(),
        "SELECT \"f_x\", \"g_\" FROM c WHERE t = 'a_b'".to_string(),
        "SELECT \"f\u{1}x\" FROM c GROUP BY *".to_string(),
        "SELECT v FROM c WHERE t = 'a\u{1}b' OR t = 'a\u{2}b' OR t = 'azb'".to_string(),
        "SELECT v FROM c WHERE t =~ /a.b/ GROUP BY t".to_string(),
        "SELECT v FROM c WHERE t =~ /^.$/ GROUP BY t".to_string(),
        "SELECT v FROM c WHERE t !~ /a.b/ GROUP BY t".to_string(),
        "SELECT v FROM c WHERE t =~ /a.b/ AND o = 'x1' GROUP BY t".to_string(),
        "SELECT v FROM c WHERE t =~ /nosuch/".to_string(),
        format!("SELECT max(\"f\u{1}x\"), count(v), sum(\"g\u{2}\") FROM c WHERE {range} GROUP BY time(1d), t"),
        format!("SELECT max(\"f_x\"), count(v), sum(\"g_\") FROM c WHERE {range} GROUP BY time(1d), t"),
        format!("SELECT count(v), last(v) FROM c WHERE {range} AND t =~ /a.b/ GROUP BY time(1d), t fill(none)"),
        format!("SELECT mean(v), min(v) FROM c WHERE {range} AND t !~ /z/ GROUP BY time(7d), *"),
        format!("SELECT first(\"f\u{1}x\") FROM c WHERE {range} AND (t = 'a\u{1}b' OR t = '\u{1}') GROUP BY t"),
        "SELECT last(*) FROM c GROUP BY *".to_string(),
        "SHOW SERIES FROM c WHERE t =~ /a.b/".to_string(),
        "SHOW TAG VALUES FROM c WITH KEY = t WHERE t =~ /b$/".to_string(),
    ];
    let mut failures = Vec::new();
    let mut empty = Vec::new();
    for db in ["db", "clean"] {
        for q in &queries {
            let parsed = influxgate::influxql::parse_query(q).unwrap();
            let mut answers = Vec::new();
            for b in [&emb as &dyn Backend, &vmb as &dyn Backend] {
                let mut ctx = QueryContext::admin(Some(db));
                ctx.now = T0 + 40 * 24 * 3_600_000_000_000;
                answers.push(execute(b, &ctx, &parsed).await.expect("store"));
            }
            assert!(answers[0].iter().all(|r| r.error.is_none()), "{db}: {q:?}: {:?}", answers[0]);
            if answers[0].iter().all(|r| r.series.iter().all(|s| s.values.is_empty())) {
                empty.push(format!("{db}: {q:?}"));
            }
            if answers[0] != answers[1] {
                failures.push(format!("{db}: {q:?}\n  embedded: {:?}\n  vm:       {:?}", answers[0], answers[1]));
            }
        }
    }
    // Each database answers the statements naming its own names (the others, and `nosuch`, answer
    // nothing): at most 5 of each database's statements are empty.
    for db in ["db", "clean"] {
        let n = empty.iter().filter(|e| e.starts_with(&format!("{db}:"))).count();
        assert!(n <= 5, "{n} empty answers in {db}: {empty:#?}");
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), 2 * queries.len(), failures.join("\n"));
}
