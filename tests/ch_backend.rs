//! The ClickHouse backend end to end, each test against Debian's clickhouse-server 18.16 and
//! against a current ClickHouse (PyPI's chdb behind tests/chdb_http.py), so every statement the
//! backend generates is run by both dialects:
//!
//! * hostile names (quotes, backquotes, backslashes, dots, NUL, unicode, influxgate's own column
//!   names, a tag and a field of one name) in measurements, tags, fields, values, databases and
//!   retention policies: written, queried, filtered, shown and deleted exactly as the embedded
//!   store answers (the reference implementation of the Backend trait);
//! * every field type keeps its type and value, and the tables read with plain SQL as the README
//!   documents them;
//! * a retention policy's duration drops expired shard groups (partitions), and only those;
//! * names too long for ClickHouse's files are refused with 400 before anything is made;
//! * a store that is down answers 503 with `Retry-After` (without the write spool; with it,
//!   tests/spool.rs), and the next write after it is back works.
//! * concurrent writes to one table, sharing inserts, lose nothing.

mod common;

use common::clickhouse::{ClickHouse, Chdb};
use common::*;
use serde_json::Value;

/// Debian's 18.16 or a current release.
enum Target {
    Old(ClickHouse),
    New(Chdb),
}

impl Target {
    fn all() -> Vec<Target> {
        vec![Target::Old(ClickHouse::single()), Target::New(Chdb::start())]
    }

    fn url(&self) -> &str {
        match self {
            Target::Old(c) => c.url(),
            Target::New(c) => &c.url,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Old(_) => "clickhouse 18.16",
            Target::New(_) => "clickhouse (chdb, current)",
        }
    }

    fn gate(&self, extra_backend: &[&str]) -> Gate {
        self.gate_with(extra_backend, "")
    }

    /// A gate with `clickhouse` lines in `[backend.clickhouse]`.
    fn gate_with(&self, extra_backend: &[&str], clickhouse: &str) -> Gate {
        let mut cfg = GateConfig::new().raw(&format!("[backend.clickhouse]\n{clickhouse}\n"));
        cfg.backend = vec!["kind = \"clickhouse\"".into(), format!("url = {:?}", self.url())];
        cfg.backend.extend(extra_backend.iter().map(|s| s.to_string()));
        Gate::start_with(cfg)
    }

    fn sql(&self, q: &str) -> String {
        common::clickhouse::query(self.url(), q).unwrap_or_else(|e| panic!("{}: {q}: {e}", self.name()))
    }
}

/// An InfluxQL identifier: double quotes, `\` and `"` escaped.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An InfluxQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Line-protocol escapes for a measurement (`,` and space) and for keys and tag values (also `=`).
fn lp(s: &str, key: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c == ',' || c == ' ' || (key && c == '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const MEASUREMENT: &str = "we,ird m'e`a\"s\\u.re_séries";
/// InfluxQL cannot write a NUL (1.x's scanner reads it as the end): the NUL is in a tag not
/// named in conditions.
const TAGS: [(&str, &str); 4] = [("_series", "x\0"), ("t'a`g\\k.ey", "v'a`l\"u\\e z"), ("value", "tag side"), ("ünï", "✓ 東京")];

fn hostile_body() -> String {
    let mut lines = Vec::new();
    for i in 0..6i64 {
        let mut tags: Vec<String> = TAGS.iter().map(|(k, v)| format!("{}={}", lp(k, true), lp(&format!("{v}{}", i % 2), true))).collect();
        tags.sort();
        lines.push(format!(
            "{},{} value={i},_seq={i}i,time_={},s=\"q\\\"uo'te`\\\\ {i}\\0\",{}=true {}",
            lp(MEASUREMENT, false),
            tags.join(","),
            i as f64 * 0.5,
            lp("f.i'e`l\"d\\x", true),
            1_704_067_200_000_000_000 + i * 1_000_000_000
        ));
    }
    lines.join("\n")
}

fn statements() -> Vec<String> {
    let m = ident(MEASUREMENT);
    let (k, v) = (TAGS[1].0, format!("{}1", TAGS[1].1));
    vec![
        format!("SELECT * FROM {m}"),
        format!("SELECT * FROM {m} WHERE {} = {}", ident(k), lit(&v)),
        format!("SELECT * FROM {m} WHERE {} != {} AND {} =~ /^x/", ident(k), lit(&v), ident("_series")),
        format!("SELECT \"value\"::tag, \"value\"::field, {} FROM {m} WHERE {} =~ /東/", ident("_seq"), ident("ünï")),
        format!("SELECT count(\"value\") FROM {m} GROUP BY {}", ident(k)),
        // Field conditions reach ClickHouse as a pre-filter (clickhouse/fieldcond.rs): hostile
        // literals and field names stay values and names.
        format!("SELECT * FROM {m} WHERE s != {} AND {} = true", lit("x' OR 1=1 --\\'\"`"), ident("f.i'e`l\"d\\x")),
        format!("SELECT * FROM {m} WHERE s = {} OR \"value\" >= 1.5", lit("q\"uo'te`\\ 1")),
        format!("SELECT max(\"value\") FROM {m} WHERE {} = false OR s != '' GROUP BY {}", ident("f.i'e`l\"d\\x"), ident(k)),
        "SHOW MEASUREMENTS".into(),
        format!("SHOW SERIES FROM {m}"),
        format!("SHOW TAG KEYS FROM {m}"),
        format!("SHOW TAG VALUES FROM {m} WITH KEY = {}", ident(k)),
        format!("SHOW FIELD KEYS FROM {m}"),
    ]
}

/// The same writes and statements on influxgate over ClickHouse and over the embedded store.
fn compare(ours: &Api, reference: &Api, db: &str, what: &str) {
    for st in statements() {
        let (a, b) = (reference.query(&st, db), ours.query(&st, db));
        assert_eq!((a.status, a.json()), (b.status, b.json()), "{what}: {st}");
        assert!(!b.text().contains("\"error\""), "{what}: {st}: {}", b.text());
    }
}

#[test]
fn hostile_names_round_trip_as_on_the_embedded_store() {
    let reference = Gate::start();
    let r = reference.admin();
    let db = "d'b`.x\\y \"z\" ✓";
    let rp = "r.p'o`l\\";
    for t in Target::all() {
        let gate = t.gate(&[]);
        let api = gate.admin();
        for a in [&api, &r] {
            let created = a.query_with(&[("q", &format!("CREATE DATABASE {}", ident(db)))]);
            assert_eq!(created.status, 200, "{}", created.describe());
            let q = format!("CREATE RETENTION POLICY {} ON {} DURATION INF REPLICATION 1", ident(rp), ident(db));
            assert!(!a.query_with(&[("q", &q)]).text().contains("error"));
            for p in [vec![("db", db)], vec![("db", db), ("rp", rp)]] {
                let w = a.write_with(&p, &[], hostile_body().into_bytes());
                assert_eq!(w.status, 204, "{}: {}", t.name(), w.describe());
            }
        }
        compare(&api, &r, db, t.name());
        // A tag and a field named alike, and keys named as influxgate's own columns, are marked.
        let cols = t.sql("SELECT DISTINCT name FROM system.columns WHERE startsWith(database, 'influx_d') ORDER BY name FORMAT TSVRaw");
        for want in ["_series\\tag", "_seq\\field", "_series", "_seq", "value", "value\\field", "time", "time_"] {
            assert!(cols.lines().any(|c| c == want), "{}: no column {want:?} in {cols:?}", t.name());
        }
        for st in ["SHOW DATABASES".to_string(), format!("SHOW RETENTION POLICIES ON {}", ident(db))] {
            assert_eq!(api.query_ok(&st, "").to_string(), r.query_ok(&st, "").to_string(), "{}: {st}", t.name());
        }
        // Deletes with hostile conditions, then the same reads.
        let (k, v) = (TAGS[1].0, format!("{}0", TAGS[1].1));
        for del in [format!("DROP SERIES FROM {} WHERE {} = {}", ident(MEASUREMENT), ident(k), lit(&v)), format!("DELETE FROM {} WHERE time < '2024-01-01T00:00:03Z'", ident(MEASUREMENT))] {
            for a in [&api, &r] {
                let d = a.query(&del, db);
                assert_eq!(d.status, 200, "{}: {del}: {}", t.name(), d.describe());
                assert!(!d.text().contains("error"), "{}: {del}: {}", t.name(), d.text());
            }
            compare(&api, &r, db, &format!("{} after {del}", t.name()));
        }
        for a in [&api, &r] {
            assert_eq!(a.query_with(&[("q", &format!("DROP DATABASE {}", ident(db)))]).status, 200);
        }
        let left = t.sql("SELECT name FROM system.databases WHERE startsWith(name, 'influx_') FORMAT TSV");
        assert_eq!(left.trim(), "", "{}: DROP DATABASE leaves nothing", t.name());
    }
}

#[test]
fn every_field_type_is_kept_and_reads_with_plain_sql() {
    let body = "t,host=a f=-0.0,g=1.7976931348623157e308,h=5e-324,i=-9223372036854775808i,j=9223372036854775807i,s=\"ünï \\\"q\\\" \\\\ ✓\",b=true,c=F 1\n\
                t,host=b f=2.5,s=\"\",b=false -1500000000";
    let reference = Gate::start();
    for t in Target::all() {
        let gate = t.gate(&[]);
        let api = gate.admin();
        for a in [&api, &reference.admin()] {
            assert_eq!(a.write("types", body).status, 204);
        }
        for st in ["SELECT * FROM t", "SHOW FIELD KEYS", "SELECT max(i), min(i), sum(j) FROM t"] {
            let (a, b) = (reference.admin().query(st, "types"), api.query(st, "types"));
            assert_eq!(a.json(), b.json(), "{}: {st}", t.name());
        }
        // The schema a ClickHouse user sees (README: "In front of ClickHouse").
        let cols = t.sql("SELECT name, type FROM system.columns WHERE database = 'influx_types.autogen' AND table = 't' ORDER BY name FORMAT TSV");
        let want = "_seq\tUInt64\n_series\tString\n_sid\tUInt64\nb\tNullable(UInt8)\nc\tNullable(UInt8)\nf\tNullable(Float64)\ng\tNullable(Float64)\n\
                    h\tNullable(Float64)\nhost\tString\ni\tNullable(Int64)\nj\tNullable(Int64)\ns\tNullable(String)\ntime\tInt64\n";
        assert_eq!(cols, want, "{}", t.name());
        let rows = t.sql("SELECT time, host, f, i, b FROM `influx_types.autogen`.t ORDER BY time FORMAT TSV");
        assert_eq!(rows, "-1500000000\tb\t2.5\t\\N\t0\n1\ta\t-0\t-9223372036854775808\t1\n", "{}", t.name());
    }
}

#[test]
fn retention_drops_expired_shard_groups_only() {
    const DAY: i64 = 86_400_000_000_000;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    for t in Target::all() {
        let gate = t.gate(&["retention_check_interval = \"1s\""]);
        let api = gate.admin();
        let mut body: Vec<String> = [now - 40 * DAY, now - 20 * DAY, now - 60_000_000_000].iter().map(|ts| format!("r,h=a v=1 {ts}")).collect();
        body.push(format!("r,h=b v=1 {}", now - 40 * DAY));
        assert_eq!(api.write("ret", &body.join("\n")).status, 204);
        // Weekly shard groups (autogen's, infinite); now the policy keeps 8 days.
        api.query_ok("ALTER RETENTION POLICY autogen ON ret DURATION 8d", "");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let count = || rows(&api.query_ok("SELECT count(v) FROM r", "ret")).first().map(|r| r[1].clone());
        while count() != Some(Value::from(1)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert_eq!(count(), Some(Value::from(1)), "{}: only the recent point's shard group is kept", t.name());
        let parts = t.sql("SELECT count() FROM system.parts WHERE database = 'influx_ret.autogen' AND table = 'r' AND active FORMAT TSV");
        assert_eq!(parts.trim(), "1", "{}", t.name());
        // A series whose shard groups all expired is gone, as in 1.x (its series table's too).
        // The count above drops to 1 with the last group's data; the enforcement pass then drops
        // that group's series rows and forgets the kept series lists: looked at until it has.
        let series = || rows(&api.query_ok("SHOW SERIES FROM r", "ret"));
        let gone = common::eventually(std::time::Duration::from_secs(20), || series() == vec![vec![Value::from("r,h=a")]]);
        assert!(gone, "{}: {:?}", t.name(), series());
        // A write the policy no longer keeps: 1.x's partial write, the rest stored.
        let w = api.write("ret", &format!("r,h=a v=2 {}\nr,h=a v=3 {}", now - 10 * DAY, now));
        assert_eq!(w.status, 400);
        assert!(w.error().contains("points beyond retention policy dropped=1"), "{}", w.describe());
    }
}

#[test]
fn names_too_long_for_clickhouse_are_refused_whole() {
    for t in Target::all() {
        let gate = t.gate(&[]);
        let api = gate.admin();
        let long = "é".repeat(100);
        for body in [format!("ok v=1 1\n{long} v=1 2"), format!("ok,{long}=x v=1 1"), format!("ok {long}=1 1")] {
            let w = api.write("long", &body);
            assert_eq!(w.status, 400, "{}: {}", t.name(), w.describe());
            assert!(w.error().contains("too long for ClickHouse"), "{}", w.describe());
        }
        let d = api.query_with(&[("q", &format!("CREATE DATABASE {}", ident(&"d".repeat(250))))]);
        assert!(d.text().contains("too long for ClickHouse"), "{}", d.describe());
        let tables = t.sql("SELECT count() FROM system.tables WHERE startsWith(database, 'influx_') FORMAT TSV");
        assert_eq!(tables.trim(), "0", "{}: nothing was made", t.name());
    }
}

#[test]
fn a_store_that_is_down_is_503_with_retry_after() {
    let mut ch = ClickHouse::single();
    let mut cfg = GateConfig::new().raw("[backend.clickhouse]\n").raw("[spool]\nenabled = false");
    cfg.backend = ch.gate_backend();
    let gate = Gate::start_with(cfg);
    let api = gate.admin();
    assert_eq!(api.write("down", "m v=1 1").status, 204);
    ch.nodes[0].stop();
    for r in [api.write("down", "m v=2 2"), api.query("SELECT * FROM m", "down")] {
        assert_eq!(r.status, 503, "{}", r.describe());
        assert!(r.header("Retry-After").is_some());
    }
    ch.nodes[0].start();
    assert_eq!(api.write("down", "m v=3 3").status, 204);
    assert_eq!(rows(&api.query_ok("SELECT v FROM m", "down")).len(), 2);
}

/// `SeriesChunk`'s contract on both dialects (`backend::ordered::check_store`): series sets,
/// ascending and descending order, per-series limits over points, with points written twice
/// (two rows that the scan merges, which `LIMIT n BY` must count as one point).
#[test]
fn scans_keep_the_chunk_contract() {
    use influxgate::backend::clickhouse::{ClickHouseBackend, ClickHouseOptions};
    use influxgate::backend::{Backend, WriteBatch};
    let mut body = String::new();
    for h in 0..4 {
        for t in 0..(4 + h * 5) {
            let extra = if t % 3 == 0 { String::new() } else { format!(",a={t}.5") };
            body.push_str(&format!("m,host=h{h} b={t}i{extra} {}\n", t * 10 + h));
        }
        // Rewrites: a later write adds a field to an existing point, or replaces one.
        body.push_str(&format!("m,host=h{h} a=-1 {}\nm,host=h{h} b=-2i {}\n", h, 20 + h));
    }
    let points = influxgate::lineproto::parse_body_str(&body, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for t in Target::all() {
        rt.block_on(async {
            let b = ClickHouseBackend::new(t.url(), ClickHouseOptions::default()).unwrap();
            let (first, rewrites) = points.split_at(points.len() - 8);
            for part in [first, rewrites] {
                b.write(WriteBatch { db: "contract".into(), rp: None, points: part.iter().collect() }).await.unwrap();
            }
            for fields in [vec!["a".to_string(), "b".to_string()], vec!["a".to_string()], Vec::new()] {
                let n = influxgate::backend::ordered::check_store(&b, "contract", "m", &fields)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {fields:?}: {e}", t.name()));
                assert_eq!(n, 32, "{}: every variant checked", t.name());
            }
        });
    }
}

/// ClickHouse HTTP requests counted by `/metrics` so far.
fn ch_requests(api: &Api) -> u64 {
    let text = api.get("/metrics").text();
    text.lines().find_map(|l| l.strip_prefix("influxgate_clickhouse_requests_total ")?.parse().ok()).unwrap_or_else(|| panic!("no request counter in {text}"))
}

/// A raw select over 100 series reads them together: one statement per window of the
/// streaming merge (not one per series per window), and its sources' catalog once; answers as
/// on the embedded store, streamed (compact JSON) and buffered (pretty), ASC, DESC and LIMIT.
#[test]
fn multi_series_raw_select_is_one_statement_per_window() {
    let series = 100;
    let per_series = 300;
    let mut body = String::new();
    for t in 0..per_series {
        for h in 0..series {
            body.push_str(&format!("m,host=h{h:03},g={} v={},w={}i {}\n", h % 3, (t * 7 + h) % 11, t, t * 1000 + h % 7));
        }
    }
    // W = 12800: B = 128 points per series, so 300 points take three windows.
    let reference = Gate::start_with(GateConfig::new().raw("[query]\nstream_window_points = 12800\n"));
    assert_eq!(reference.admin().write("many", &body).status, 204);
    let ch = ClickHouse::single();
    let mut cfg = GateConfig::new().raw("[backend.clickhouse]\n[query]\nstream_window_points = 12800\n");
    cfg.backend = vec!["kind = \"clickhouse\"".into(), format!("url = {:?}", ch.url())];
    let gate = Gate::start_with(cfg);
    let api = gate.admin();
    assert_eq!(api.write("many", &body).status, 204);
    for (q, most) in [
        // Measured: 8, 4, 7, 4 (catalog reads included); one request per series would be 100+.
        ("SELECT * FROM m", 10),
        ("SELECT v FROM m WHERE g = '1' ORDER BY time DESC", 6),
        ("SELECT * FROM m GROUP BY g LIMIT 150", 10),
        ("SELECT w, host FROM m ORDER BY time DESC LIMIT 5", 6),
    ] {
        let before = ch_requests(&api);
        let got = api.query(q, "many");
        let used = ch_requests(&api) - before;
        assert_eq!(got.status, 200, "{q}: {}", got.describe());
        assert_eq!(got.json(), reference.admin().query(q, "many").json(), "{q}");
        assert!(used <= most, "{q}: {used} ClickHouse requests for {series} series, at most {most} expected");
        let pretty = api.query_with(&[("q", q), ("db", "many"), ("epoch", "ns"), ("pretty", "true")]);
        assert_eq!(pretty.json(), got.json(), "{q}: buffered");
    }
}

/// Writes to one table at the same time share inserts (`backend::clickhouse::group`): every
/// acknowledged point reads back once with its values, whatever group carried it, also when the
/// writes differ in their columns (a group is one table and one column list). Also with a linger
/// and a cap of a few writes' rows, so that groups gather during the linger and are split.
#[test]
fn concurrent_writes_share_inserts_and_lose_nothing() {
    let (writers, batches, lines) = (8, 6, 200);
    let settings = [("g", ""), ("g_split", "insert_linger = \"50ms\"\nmax_insert_bytes = 20000")];
    for (t, (db, settings)) in Target::all().iter().flat_map(|t| settings.map(|s| (t, s))) {
        let gate = t.gate_with(&[], settings);
        let api = gate.admin();
        std::thread::scope(|s| {
            for w in 0..writers {
                let api = gate.admin();
                s.spawn(move || {
                    for b in 0..batches {
                        let extra = if w % 2 == 0 { String::new() } else { format!(",x{w}={w}i") };
                        let body: String = (0..lines)
                            .map(|l| format!("m,w=w{w} v={}{extra} {}\n", w * 1_000_000 + b * 1000 + l, (b * lines + l + 1) * 1000))
                            .collect();
                        assert_eq!(api.write(db, &body).status, 204, "writer {w} batch {b}");
                    }
                });
            }
        });
        let r = api.query("SELECT count(v), sum(v) FROM m GROUP BY w", db).json();
        let series = r["results"][0]["series"].as_array().unwrap_or_else(|| panic!("{}: {r}", t.name())).clone();
        // Said on failure: what ClickHouse holds (not read through influxgate) and whether writes
        // went through the spool, to tell a store loss from a read that undercounts.
        let diagnosis = || stored_rows_and_spool(t, &gate, db);
        assert_eq!(series.len(), writers, "{}: {r}\n{}", t.name(), diagnosis());
        for s in &series {
            let w: usize = s["tags"]["w"].as_str().unwrap()[1..].parse().unwrap();
            let n = batches * lines;
            let want: usize = (0..batches).flat_map(|b| (0..lines).map(move |l| w * 1_000_000 + b * 1000 + l)).sum();
            assert_eq!(s["values"][0][1], Value::from(n), "{}: {db}: writer {w}\n{}", t.name(), diagnosis());
            assert_eq!(s["values"][0][2].as_f64(), Some(want as f64), "{}: {db}: writer {w}\n{}", t.name(), diagnosis());
        }
    }
}

/// Writers that come to a measurement table while another write is making it wait until it is
/// whole (`schema::get`): none inserts before the table's series view exists, which 18.16 refused
/// while the view was being made (code 60, `…series`.`m\\view` doesn't exist: the write was
/// spooled, acknowledged, and missing from a read right after), or took without listing its series
/// (rows before the view never reach the series table). Writers start a few milliseconds apart on
/// each new measurement, so that later ones find the table half made; nothing may be spooled (the
/// store was up throughout), every series is in the series table, and every point reads back.
#[test]
fn writes_to_a_table_being_made_wait_for_its_series_view() {
    let (measurements, writers, lines) = (12, 8, 50);
    for t in Target::all() {
        let (gate, name) = (t.gate(&[]), t.name());
        let api = gate.admin();
        for m in 0..measurements {
            std::thread::scope(|s| {
                for w in 0..writers {
                    let api = gate.admin();
                    s.spawn(move || {
                        std::thread::sleep(std::time::Duration::from_millis(6 * w as u64));
                        let body: String = (0..lines).map(|l| format!("m{m},w=w{w} v={l}i {}\n", (l + 1) * 1000)).collect();
                        assert_eq!(api.write("made", &body).status, 204, "{name}: m{m} writer {w}");
                    });
                }
            });
        }
        let spooled = api.get("/metrics").text().lines().find_map(|l| l.strip_prefix("influxgate_spool_writes_total ")?.parse::<f64>().ok());
        assert_eq!(spooled, Some(0.0), "{}: nothing spooled while the store is up\n{}", t.name(), gate.output());
        for m in 0..measurements {
            let listed = t.sql(&format!("SELECT uniqExact(_series) FROM `influx_made.autogen.series`.`m{m}` FORMAT TSV"));
            assert_eq!(listed.trim(), writers.to_string(), "{}: m{m}: series in the series table", t.name());
            let r = api.query(&format!("SELECT count(v) FROM m{m} GROUP BY w"), "made").json();
            let counts: Vec<Value> = r["results"][0]["series"].as_array().map(|a| a.iter().map(|s| s["values"][0][1].clone()).collect()).unwrap_or_default();
            assert_eq!(counts, vec![Value::from(lines); writers], "{}: m{m}: {r}", t.name());
        }
    }
}

/// Rows of every `m` table in ClickHouse by `_series` (rows, distinct times, the batches they
/// came from), read with SQL, and
/// the gate's spool counters and logged store failures: a failure message of
/// [`concurrent_writes_share_inserts_and_lose_nothing`].
fn stored_rows_and_spool(t: &Target, gate: &Gate, db: &str) -> String {
    let dbs = t.sql(&format!("SELECT database FROM system.tables WHERE name = 'm' AND endsWith(database, '{db}.autogen') FORMAT TSV"));
    let mut out = String::from("stored in ClickHouse (_series, rows, distinct times, batches):\n");
    for d in dbs.lines().filter(|d| !d.ends_with(".series")) {
        let q = format!("SELECT _series, count(), uniqExact(time), arraySort(groupUniqArray(intDiv(time - 1000, 200000))) FROM `{d}`.m GROUP BY _series ORDER BY _series FORMAT TSV");
        out.push_str(&format!("{d}:\n{}", t.sql(&q)));
    }
    let metrics = gate.admin().get("/metrics").text();
    out.extend(metrics.lines().filter(|l| l.starts_with("influxgate_spool_") && !l.starts_with("influxgate_spool_dead")).map(|l| format!("{l}\n")));
    out.extend(gate.output().lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).take(20).map(|l| format!("{l}\n")));
    out
}

/// Series tables (src/backend/clickhouse/series_table.rs): a new measurement table gets one; a
/// table made before them (here: its series objects dropped, then a new influxgate, as after an
/// upgrade) is read the old way and answers as before; and a series whose rows are all deleted
/// leaves both lists.
#[test]
fn tables_without_series_table_answer_as_before() {
    let reference = Gate::start();
    let r = reference.admin();
    let body = |hosts: std::ops::Range<i64>, t0: i64| -> String {
        let mut lines = Vec::new();
        for h in hosts {
            for k in 0..20i64 {
                lines.push(format!("cpu,host=h{h},dc=d{} v={},i={}i {}", h % 2, (h * 7 + k) as f64 * 0.5, k - h, t0 + k * 60_000_000_000));
            }
        }
        lines.join("\n")
    };
    const T0: i64 = 1_704_067_200_000_000_000;
    let statements = [
        "SHOW SERIES FROM cpu",
        "SHOW TAG VALUES FROM cpu WITH KEY = host",
        "SELECT max(v), count(i) FROM cpu WHERE host = 'h1' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(5m)",
        "SELECT mean(v) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T01:00:00Z' GROUP BY time(10m), host",
        "SELECT last(v) FROM cpu WHERE dc = 'd0' GROUP BY host",
        "SELECT v, i FROM cpu WHERE host = 'h3' OR host = 'h4' ORDER BY time DESC LIMIT 3",
    ];
    for t in Target::all() {
        let views = || t.sql("SELECT count() FROM system.tables WHERE database = 'influx_up.autogen.series' FORMAT TSV");
        {
            let gate = t.gate(&[]);
            assert_eq!(gate.admin().write("up", &body(0..3, T0)).status, 204);
        }
        assert_eq!(views().trim(), "2", "{}: a new table gets a series table and its view", t.name());
        // The table as an earlier influxgate made it.
        t.sql("DROP DATABASE `influx_up.autogen.series`");
        let gate = t.gate(&[]);
        let api = gate.admin();
        assert_eq!(api.write("up", &body(2..6, T0 + 1_000_000_000)).status, 204);
        assert_eq!(r.write("up", &body(0..3, T0)).status, 204);
        assert_eq!(r.write("up", &body(2..6, T0 + 1_000_000_000)).status, 204);
        for st in statements {
            let (a, b) = (r.query(st, "up"), api.query(st, "up"));
            assert_eq!((a.status, a.json()), (b.status, b.json()), "{}: {st}", t.name());
        }
        assert_eq!(views().trim(), "0", "{}: no series table is added to a table with rows", t.name());
        // A measurement made now has one; a deleted series leaves its list.
        for a in [&api, &r] {
            assert_eq!(a.write("up", &body(0..4, T0).replace("cpu,", "mem,")).status, 204);
            a.query_ok("DROP SERIES FROM mem WHERE host = 'h1'", "up");
            a.query_ok("DELETE FROM mem WHERE host = 'h2' AND time < '2024-01-01T00:10:00Z'", "up");
        }
        assert_eq!(views().trim(), "2", "{}", t.name());
        for st in statements.map(|s| s.replace("cpu", "mem")) {
            let (a, b) = (r.query(&st, "up"), api.query(&st, "up"));
            assert_eq!((a.status, a.json()), (b.status, b.json()), "{}: {st}", t.name());
        }
        for a in [&api, &r] {
            a.query_ok("DROP DATABASE up", "");
        }
    }
}
