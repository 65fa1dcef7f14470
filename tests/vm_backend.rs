//! The VictoriaMetrics backend against a real `victoria-metrics` (Debian package
//! `victoria-metrics`), started per test on a free loopback port with a throw-away data directory.
//! Everything goes through the `Backend` trait, plus raw HTTP to VictoriaMetrics where a test
//! compares with what Telegraf writing straight to it would store.

mod common;

use common::vm::Vm;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use influxgate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
use influxgate::backend::{
    Backend, BackendError, DeleteRequest, MeasurementFilter, RetentionPolicy, ScanRequest, SeriesChunk, SeriesInfo,
    TagPredicate, WriteBatch,
};
use influxgate::model::{FieldType, FieldValue, Point};

async fn start_vm() -> Vm {
    start_vm_with(&[]).await
}

async fn start_vm_with(extra: &[&str]) -> Vm {
    let mut flags = vec!["-search.latencyOffset=0s"];
    flags.extend_from_slice(extra);
    Vm::start(&flags)
}

fn backend(vm: &Vm) -> VictoriaMetricsBackend {
    VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).expect("backend")
}

fn tags(t: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

fn point(m: &str, t: &[(&str, &str)], f: Vec<(&str, FieldValue)>, time: i64) -> Point {
    Point {
        measurement: m.into(),
        tags: tags(t),
        fields: f.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        time,
    }
}

fn batch(db: &str, points: Vec<Point>) -> WriteBatch {
    WriteBatch { db: db.into(), rp: None, points: points.into() }
}

fn scan_req(db: &str, m: &str, pred: TagPredicate, fields: &[&str]) -> ScanRequest {
    ScanRequest::new(db, None, m, pred, i64::MIN, i64::MAX, fields.iter().map(|s| s.to_string()).collect())
}

async fn scan_all(b: &VictoriaMetricsBackend, req: ScanRequest) -> Vec<SeriesChunk> {
    let mut s = b.scan(req).await.expect("scan");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.push(c.expect("chunk"));
    }
    out
}

/// Chunks merged per series: tags → rows (time, values).
type Rows = BTreeMap<Vec<(String, String)>, Vec<(i64, Vec<Option<f64>>)>>;

fn rows(chunks: &[SeriesChunk]) -> Rows {
    let mut out = Rows::new();
    let mut last_tags: Option<Vec<(String, String)>> = None;
    for c in chunks {
        // Series arrive in ascending tag order, each contiguous, times ascending.
        if let Some(l) = &last_tags {
            assert!(l <= &c.tags, "series out of order: {l:?} then {:?}", c.tags);
            if l != &c.tags {
                assert!(!out.contains_key(&c.tags), "series {:?} not contiguous", c.tags);
            }
        }
        last_tags = Some(c.tags.clone());
        let r = out.entry(c.tags.clone()).or_default();
        for (j, t) in c.times.iter().enumerate() {
            if let Some((lt, _)) = r.last() {
                assert!(lt < t, "times not ascending in {:?}", c.tags);
            }
            let vals = c
                .columns
                .iter()
                .map(|col| {
                    col[j].as_ref().map(|v| match v {
                        FieldValue::Float(x) => *x,
                        other => panic!("non-float {other:?}"),
                    })
                })
                .collect();
            r.push((*t, vals));
        }
    }
    out
}

/// An exported series: labels (minus db), values, timestamps.
type Exported = (BTreeMap<String, String>, Vec<f64>, Vec<i64>);

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
const S: i64 = 1_000_000_000;

#[tokio::test]
async fn write_scan_round_trip() {
    let vm = start_vm().await;
    let b = backend(&vm);
    b.health().await.expect("health");
    let w = b
        .write(batch(
            "db0",
            vec![
                point("cpu", &[("host", "a"), ("region", "us")], vec![("usage", FieldValue::Float(1.5)), ("n", FieldValue::Integer(-3))], T0),
                point("cpu", &[("host", "a"), ("region", "us")], vec![("usage", FieldValue::Float(2.5))], T0 + S),
                point("cpu", &[("host", "b")], vec![("n", FieldValue::Unsigned(7)), ("up", FieldValue::Boolean(true))], T0 + 999_999),
                point("cpu", &[("host", "b")], vec![("up", FieldValue::Boolean(false))], T0 + 2 * S + 123_456_789),
                point("mem", &[("host", "a")], vec![("free", FieldValue::Float(0.1))], T0),
            ],
        ))
        .await
        .expect("write");
    assert_eq!(w.points_written, 5);

    assert_eq!(b.databases().await.unwrap(), vec!["db0".to_string()]);
    assert_eq!(b.measurements("db0", None).await.unwrap(), vec!["cpu".to_string(), "mem".to_string()]);
    assert_eq!(
        b.field_keys("db0", None, "cpu").await.unwrap(),
        vec![("n".to_string(), FieldType::Float), ("up".to_string(), FieldType::Float), ("usage".to_string(), FieldType::Float)]
    );
    assert_eq!(
        b.series("db0", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap(),
        vec![
            SeriesInfo { measurement: "cpu".into(), tags: tags(&[("host", "a"), ("region", "us")]) },
            SeriesInfo { measurement: "cpu".into(), tags: tags(&[("host", "b")]) },
            SeriesInfo { measurement: "mem".into(), tags: tags(&[("host", "a")]) },
        ]
    );

    let got = rows(&scan_all(&b, scan_req("db0", "cpu", TagPredicate::True, &["usage", "n", "up", "missing"])).await);
    let mut want = Rows::new();
    want.insert(
        tags(&[("host", "a"), ("region", "us")]),
        vec![(T0, vec![Some(1.5), Some(-3.0), None, None]), (T0 + S, vec![Some(2.5), None, None, None])],
    );
    // Sub-millisecond parts are truncated: VictoriaMetrics keeps milliseconds.
    want.insert(
        tags(&[("host", "b")]),
        vec![(T0, vec![None, Some(7.0), Some(1.0), None]), (T0 + 2 * S + 123_000_000, vec![None, None, Some(0.0), None])],
    );
    assert_eq!(got, want);

    // Time range: inclusive at both ends, in ns (a point at T0+1s is inside [T0+1s, T0+1s]).
    let mut r = scan_req("db0", "cpu", TagPredicate::True, &["usage"]);
    r.min_time = T0 + S;
    r.max_time = T0 + S;
    let got = rows(&scan_all(&b, r).await);
    assert_eq!(got.len(), 1);
    assert_eq!(got.values().next().unwrap(), &vec![(T0 + S, vec![Some(2.5)])]);
    let mut r = scan_req("db0", "cpu", TagPredicate::True, &["usage"]);
    r.min_time = T0 + 1;
    r.max_time = T0 + S - 1;
    assert!(scan_all(&b, r).await.is_empty());

    // Only "up": rows without it are not sent.
    let got = rows(&scan_all(&b, scan_req("db0", "cpu", TagPredicate::True, &["up"])).await);
    assert_eq!(got.len(), 1);
    // No fields: every row's time.
    let got = rows(&scan_all(&b, scan_req("db0", "cpu", TagPredicate::True, &[])).await);
    assert_eq!(got[&tags(&[("host", "b")])].iter().map(|r| r.0).collect::<Vec<_>>(), vec![T0, T0 + 2 * S + 123_000_000]);
    // Same field twice.
    let got = rows(&scan_all(&b, scan_req("db0", "mem", TagPredicate::True, &["free", "free"])).await);
    assert_eq!(got[&tags(&[("host", "a")])], vec![(T0, vec![Some(0.1), Some(0.1)])]);
    // Unknown measurement / database: nothing.
    assert!(scan_all(&b, scan_req("db0", "nope", TagPredicate::True, &["x"])).await.is_empty());
    assert!(scan_all(&b, scan_req("nodb", "cpu", TagPredicate::True, &["usage"])).await.is_empty());
    // Retention policies.
    let mut r = scan_req("db0", "cpu", TagPredicate::True, &["usage"]);
    r.rp = Some("autogen".into());
    assert_eq!(scan_all(&b, r).await.len(), 1);
    let mut r = scan_req("db0", "cpu", TagPredicate::True, &["usage"]);
    r.rp = Some("other".into());
    assert!(matches!(b.scan(r).await.err(), Some(BackendError::RetentionPolicyNotFound(_))));
}

/// Lines written straight to VictoriaMetrics' `/write` (as Telegraf does) and the same points
/// written through the backend are stored identically (apart from the db label), and the direct
/// ones read back through scan.
#[tokio::test]
async fn same_as_telegraf_writing_to_vm() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let lines = "\
cpu,cpu=cpu0,host=h1 usage_user=1.25,usage_system=3i,idle=true 1704067200000000000
cpu,cpu=cpu1,host=h1 usage_user=-0.5,usage_system=9007199254740993i,idle=false 1704067200123456789
net_response,server=x,port=80 response_time=0.003,result_code=0i 1704067201000000000
weird\\ m\\,x,t\\ k=v\\,1\\=2 f=1e300 1704067202000000000
";
    let http = reqwest::Client::new();
    let r = http.post(format!("{}/write?db=direct", vm.url)).body(lines).send().await.unwrap();
    assert!(r.status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();

    let parse = |s: &str| -> Vec<Point> {
        let mut out = Vec::new();
        for l in influxdb_line_protocol::parse_lines(s) {
            let l = l.expect("line");
            let mut t: Vec<(String, String)> = l
                .series
                .tag_set
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            t.sort();
            let fields = l
                .field_set
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        influxdb_line_protocol::FieldValue::F64(x) => FieldValue::Float(x),
                        influxdb_line_protocol::FieldValue::I64(x) => FieldValue::Integer(x),
                        influxdb_line_protocol::FieldValue::U64(x) => FieldValue::Unsigned(x),
                        influxdb_line_protocol::FieldValue::Boolean(x) => FieldValue::Boolean(x),
                        influxdb_line_protocol::FieldValue::String(x) => FieldValue::String(x.to_string()),
                    };
                    (k.to_string(), v)
                })
                .collect();
            out.push(Point { measurement: l.series.measurement.to_string(), tags: t, fields, time: l.timestamp.unwrap() });
        }
        out
    };
    b.write(batch("via", parse(lines))).await.expect("write");

    let export = |db: &'static str| {
        let http = http.clone();
        let url = vm.url.clone();
        async move {
            // influxgate flushes its writes before its own reads only; this one goes straight to VM.
            http.get(format!("{url}/internal/force_flush")).send().await.unwrap();
            let text = http
                .post(format!("{url}/api/v1/export"))
                .form(&[("match[]", format!("{{db=\"{db}\"}}")), ("start", "0".into())])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let mut v: Vec<Exported> = text
                .lines()
                .map(|l| {
                    let j: serde_json::Value = serde_json::from_str(l).unwrap();
                    let mut m: BTreeMap<String, String> = serde_json::from_value(j["metric"].clone()).unwrap();
                    m.remove("db");
                    (m, serde_json::from_value(j["values"].clone()).unwrap(), serde_json::from_value(j["timestamps"].clone()).unwrap())
                })
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
    };
    let direct = export("direct").await;
    let via = export("via").await;
    assert_eq!(direct.len(), 9);
    assert_eq!(direct, via);

    // The direct data reads back through the backend; net_response splits at the first "_"
    // (measurement "net") in the direct db, but is known as "net_response" in the db written
    // through influxgate.
    assert_eq!(b.measurements("direct", None).await.unwrap(), vec!["cpu", "net", "weird m,x"]);
    assert_eq!(b.measurements("via", None).await.unwrap(), vec!["cpu", "net_response", "weird m,x"]);
    assert_eq!(
        b.field_keys("via", None, "net_response").await.unwrap().into_iter().map(|f| f.0).collect::<Vec<_>>(),
        vec!["response_time", "result_code"]
    );
    let got = rows(&scan_all(&b, scan_req("direct", "cpu", TagPredicate::True, &["usage_user", "usage_system", "idle"])).await);
    let mut want = Rows::new();
    want.insert(tags(&[("cpu", "cpu0"), ("host", "h1")]), vec![(T0, vec![Some(1.25), Some(3.0), Some(1.0)])]);
    want.insert(
        tags(&[("cpu", "cpu1"), ("host", "h1")]),
        vec![(T0 + 123_000_000, vec![Some(-0.5), Some(9007199254740993i64 as f64), Some(0.0)])],
    );
    assert_eq!(got, want);
    let got = rows(&scan_all(&b, scan_req("direct", "weird m,x", TagPredicate::True, &["f"])).await);
    assert_eq!(got[&tags(&[("t k", "v,1=2")])], vec![(T0 + 2 * S, vec![Some(1e300)])]);
}

#[tokio::test]
async fn hostile_names_cannot_alter_matchers() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let hostile = [
        "a\"}", "a.*", "a", "x\", host=~\".*", "sp ace,comma=eq", "back\\slash\\", "new\nline", "(?:|)", "ü\u{1}",
        "{__name__=~\".+\"}", "'q'", "$^[]",
    ];
    let ms = ["m\"}", "m.*", "m", "m(x)|y", "m\nn"];
    let mut pts = Vec::new();
    for (i, m) in ms.iter().enumerate() {
        for (j, v) in hostile.iter().enumerate() {
            pts.push(point(m, &[("t\"}k", v), ("host", v)], vec![("f.*", FieldValue::Float((i * 100 + j) as f64))], T0 + j as i64 * S));
        }
    }
    b.write(batch("d\"}b", pts)).await.expect("write");
    b.write(batch("d.*", vec![point("m", &[("host", "a")], vec![("f.*", FieldValue::Float(-1.0))], T0)])).await.unwrap();

    assert_eq!(b.databases().await.unwrap(), vec!["d\"}b".to_string(), "d.*".to_string()]);
    let mut want_ms: Vec<String> = ms.iter().map(|s| s.to_string()).collect();
    want_ms.sort();
    assert_eq!(b.measurements("d\"}b", None).await.unwrap(), want_ms);
    assert_eq!(b.measurements("d.*", None).await.unwrap(), vec!["m".to_string()]);

    for (i, m) in ms.iter().enumerate() {
        assert_eq!(
            b.field_keys("d\"}b", None, m).await.unwrap(),
            vec![("f.*".to_string(), FieldType::Float)],
            "field keys of {m:?}"
        );
        for (j, v) in hostile.iter().enumerate() {
            let pred = TagPredicate::And(
                Box::new(TagPredicate::Eq("host".into(), v.to_string())),
                Box::new(TagPredicate::Eq("t\"}k".into(), v.to_string())),
            );
            let got = rows(&scan_all(&b, scan_req("d\"}b", m, pred, &["f.*"])).await);
            let t = tags(&[("t\"}k", v), ("host", v)]);
            assert_eq!(got.len(), 1, "{m:?} {v:?}: {got:?}");
            assert_eq!(got[&t], vec![(T0 + j as i64 * S, vec![Some((i * 100 + j) as f64)])], "{m:?} {v:?}");
            // Ne selects all the others.
            let got = rows(&scan_all(&b, scan_req("d\"}b", m, TagPredicate::Ne("host".into(), v.to_string()), &["f.*"])).await);
            assert_eq!(got.len(), hostile.len() - 1);
            // A literal regex of the value selects values containing it.
            let re = regex::Regex::new(&regex::escape(v)).unwrap();
            let want = hostile.iter().filter(|h| h.contains(v)).count();
            let got = rows(&scan_all(&b, scan_req("d\"}b", m, TagPredicate::Match("host".into(), re.clone()), &["f.*"])).await);
            assert_eq!(got.len(), want, "=~ /{}/", re.as_str());
            let got = rows(&scan_all(&b, scan_req("d\"}b", m, TagPredicate::NotMatch("host".into(), re), &["f.*"])).await);
            assert_eq!(got.len(), hostile.len() - want);
        }
    }
    // The other database is untouched by all this.
    let got = rows(&scan_all(&b, scan_req("d.*", "m", TagPredicate::True, &["f.*"])).await);
    assert_eq!(got[&tags(&[("host", "a")])], vec![(T0, vec![Some(-1.0)])]);
    // Dropping a series with a hostile tag drops only it.
    b.delete(DeleteRequest {
        db: "d\"}b".into(),
        measurements: MeasurementFilter::Names(vec!["m.*".into()]),
        tags: TagPredicate::Eq("host".into(), "a.*".into()),
        min_time: i64::MIN,
        max_time: i64::MAX,
        drop_series: true,
    })
    .await
    .unwrap();
    assert_eq!(b.series("d\"}b", None, &MeasurementFilter::Names(vec!["m.*".into()]), &TagPredicate::True).await.unwrap().len(), hostile.len() - 1);
    assert_eq!(b.series("d\"}b", None, &MeasurementFilter::Names(vec!["m".into()]), &TagPredicate::True).await.unwrap().len(), hostile.len());
    assert_eq!(b.series("d.*", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().len(), 1);
}

/// Tag predicates select exactly what `TagPredicate::matches` selects, a missing tag being ''.
#[tokio::test]
async fn tag_predicates_match_reference() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let sets: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("host", "a")],
        vec![("host", "ab")],
        vec![("host", "b"), ("dc", "x")],
        vec![("dc", "x")],
        vec![("dc", "y"), ("host", "")],
        vec![("host", "A.b")],
    ];
    let pts: Vec<Point> = sets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t: Vec<(&str, &str)> = t.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
            point("m", &t, vec![("v", FieldValue::Float(i as f64))], T0)
        })
        .collect();
    b.write(batch("p", pts)).await.unwrap();
    let all: Vec<Vec<(String, String)>> =
        b.series("p", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().into_iter().map(|s| s.tags).collect();
    assert_eq!(all.len(), 7);
    let re = |s: &str| regex::Regex::new(s).unwrap();
    let eq = |k: &str, v: &str| TagPredicate::Eq(k.into(), v.into());
    let ne = |k: &str, v: &str| TagPredicate::Ne(k.into(), v.into());
    let and = |a, b| TagPredicate::And(Box::new(a), Box::new(b));
    let or = |a, b| TagPredicate::Or(Box::new(a), Box::new(b));
    let preds = vec![
        eq("host", ""),
        ne("host", ""),
        eq("host", "a"),
        ne("host", "a"),
        eq("nosuch", ""),
        ne("nosuch", ""),
        TagPredicate::Match("host".into(), re("a")),
        TagPredicate::Match("host".into(), re("^a$")),
        TagPredicate::Match("host".into(), re("")),
        TagPredicate::Match("host".into(), re("^$")),
        TagPredicate::NotMatch("host".into(), re("^$")),
        TagPredicate::NotMatch("host".into(), re("b")),
        TagPredicate::Match("host".into(), re(r"\.")),
        TagPredicate::Match("host".into(), re("(?i)^a")),
        TagPredicate::Match("host".into(), re("a.b")),
        and(eq("dc", "x"), ne("host", "")),
        or(eq("host", "a"), eq("dc", "y")),
        or(TagPredicate::Match("host".into(), re(r"\w{2}")), eq("dc", "x")),
        and(or(eq("host", "a"), eq("host", "b")), or(eq("dc", ""), eq("dc", "x"))),
    ];
    for p in preds {
        let want: Vec<_> = all.iter().filter(|t| p.matches(t)).cloned().collect();
        let got: Vec<_> =
            b.series("p", None, &MeasurementFilter::All, &p).await.unwrap().into_iter().map(|s| s.tags).collect();
        assert_eq!(got, want, "series {p:?}");
        let got: Vec<_> = rows(&scan_all(&b, scan_req("p", "m", p.clone(), &["v"])).await).into_keys().collect();
        assert_eq!(got, want, "scan {p:?}");
    }
}

#[tokio::test]
async fn strings_refused_or_dropped() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let e = b
        .write(batch(
            "s",
            vec![
                point("m", &[], vec![("ok", FieldValue::Float(1.0))], T0),
                point("m", &[], vec![("x", FieldValue::Float(1.0)), ("msg", FieldValue::String("hi".into()))], T0),
            ],
        ))
        .await
        .unwrap_err();
    match &e {
        BackendError::InvalidPoint { index, message: m } => {
            assert_eq!(*index, 1, "the second point carries the string");
            assert!(m.contains("\"msg\"") && m.contains("\"m\""), "{m}")
        }
        other => panic!("{other:?}"),
    }
    // Nothing was written (all or none).
    assert!(b.databases().await.unwrap().is_empty());

    let b2 = VictoriaMetricsBackend::new(&vm.url, VmOptions { drop_string_fields: true, ..VmOptions::default() }).unwrap();
    let w = b2
        .write(batch(
            "s",
            vec![
                point("m", &[], vec![("x", FieldValue::Float(1.0)), ("msg", FieldValue::String("hi".into()))], T0),
                point("m", &[], vec![("msg", FieldValue::String("only".into()))], T0 + S),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(w.points_written, 1);
    assert_eq!(b2.dropped_string_fields().load(Ordering::Relaxed), 2);
    assert_eq!(b2.field_keys("s", None, "m").await.unwrap(), vec![("x".to_string(), FieldType::Float)]);

    // Times before 1970 are refused.
    assert!(matches!(
        b.write(batch("s", vec![point("m", &[], vec![("x", FieldValue::Float(1.0))], -1)])).await,
        Err(BackendError::InvalidPoint { index: 0, .. })
    ));
    // A tag named like VictoriaMetrics' metric-name label is kept under another label and reads
    // back as itself.
    b.write(batch("s", vec![point("m", &[("__name__", "y")], vec![("x", FieldValue::Float(1.0))], T0)])).await.unwrap();
    let pred = TagPredicate::Eq("__name__".into(), "y".into());
    assert_eq!(
        b.series("s", None, &MeasurementFilter::Names(vec!["m".into()]), &pred).await.unwrap(),
        vec![SeriesInfo { measurement: "m".into(), tags: tags(&[("__name__", "y")]) }]
    );
}

#[tokio::test]
async fn catalog_ddl_and_deletes() {
    let vm = start_vm().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = VmOptions { catalog_file: Some(dir.path().join("vm-catalog.json")), ..VmOptions::default() };
    let b = VictoriaMetricsBackend::new(&vm.url, opts.clone()).unwrap();
    b.create_database("empty").await.unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["empty".to_string()]);
    assert_eq!(b.measurements("empty", None).await.unwrap(), Vec::<String>::new());
    assert!(matches!(b.measurements("nodb", None).await, Err(BackendError::DatabaseNotFound(_))));
    let rps = b.retention_policies("empty").await.unwrap();
    assert_eq!(rps.len(), 1);
    assert_eq!(rps[0].name, "autogen");
    assert!(rps[0].default);
    assert_eq!(rps[0].duration, 100 * 365 * 24 * 3600 * S);
    assert!(matches!(b.retention_policies("nodb").await, Err(BackendError::DatabaseNotFound(_))));
    let rp = RetentionPolicy { name: "x".into(), duration: 0, shard_group_duration: 0, replication: 1, default: false };
    match b.create_retention_policy("empty", rp).await {
        Err(BackendError::Unsupported(m)) => assert!(m.contains("not supported by the victoriametrics backend")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(b.drop_retention_policy("empty", "autogen").await, Err(BackendError::Unsupported(_))));

    b.write(batch(
        "d",
        vec![
            point("net_response", &[("h", "1")], vec![("response_time", FieldValue::Float(1.0))], T0),
            point("net_response", &[("h", "2")], vec![("response_time", FieldValue::Float(2.0))], T0),
            point("net", &[("h", "1")], vec![("bytes", FieldValue::Float(3.0))], T0),
        ],
    ))
    .await
    .unwrap();
    // A second backend on the same catalog file splits names the same way.
    let b2 = VictoriaMetricsBackend::new(&vm.url, opts).unwrap();
    assert_eq!(b2.measurements("d", None).await.unwrap(), vec!["net", "net_response"]);
    assert_eq!(b2.databases().await.unwrap(), vec!["d", "empty"]);

    // Point-range deletes are not possible.
    let del = |tags: TagPredicate, min_time: i64, max_time: i64| DeleteRequest {
        db: "d".into(),
        measurements: MeasurementFilter::Names(vec!["net_response".into()]),
        tags,
        min_time,
        max_time,
        drop_series: false,
    };
    assert!(matches!(b.delete(del(TagPredicate::True, i64::MIN, T0)).await, Err(BackendError::Unsupported(_))));
    b.delete(del(TagPredicate::Eq("h".into(), "1".into()), i64::MIN, i64::MAX)).await.unwrap();
    let s = b.series("d", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap();
    assert_eq!(
        s,
        vec![
            SeriesInfo { measurement: "net".into(), tags: tags(&[("h", "1")]) },
            SeriesInfo { measurement: "net_response".into(), tags: tags(&[("h", "2")]) },
        ]
    );
    // Deleted series' names are no longer listed (VictoriaMetrics 1.79's label values still show
    // them); a database written to outlives its series, as in 1.x.
    b.delete(del(TagPredicate::True, i64::MIN, i64::MAX)).await.unwrap();
    assert_eq!(b.measurements("d", None).await.unwrap(), vec!["net"]);
    assert!(b.field_keys("d", None, "net_response").await.unwrap().is_empty());
    b.delete(DeleteRequest { measurements: MeasurementFilter::All, ..del(TagPredicate::True, i64::MIN, i64::MAX) }).await.unwrap();
    assert!(b.measurements("d", None).await.unwrap().is_empty());
    assert_eq!(b.databases().await.unwrap(), vec!["d", "empty"]);
    b.write(batch("d", vec![point("net_response", &[("h", "3")], vec![("result_code", FieldValue::Integer(1))], T0)]))
        .await
        .unwrap();
    assert_eq!(b.measurements("d", None).await.unwrap(), vec!["net_response"]);
    assert_eq!(
        b.field_keys("d", None, "net_response").await.unwrap(),
        vec![("result_code".to_string(), FieldType::Float)]
    );
    b.drop_database("d").await.unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["empty".to_string()]);
    b.write(batch("d", vec![point("other", &[], vec![("x", FieldValue::Float(1.0))], T0)])).await.unwrap();
    assert_eq!(b.measurements("d", None).await.unwrap(), vec!["other"]);
    // The same through a second backend reading the catalog file.
    let b3 = VictoriaMetricsBackend::new(&vm.url, VmOptions { catalog_file: Some(dir.path().join("vm-catalog.json")), ..VmOptions::default() }).unwrap();
    assert_eq!(b3.measurements("d", None).await.unwrap(), vec!["other"]);
    b.drop_database("d").await.unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["empty".to_string()]);
    b.drop_database("empty").await.unwrap();
    assert!(b.databases().await.unwrap().is_empty());
}

/// A scan whose windows hold more samples than allowed is split and still exact.
#[tokio::test]
async fn big_scans_are_split_into_windows() {
    let vm = start_vm().await;
    let opts = VmOptions { max_window_samples: 100, ..VmOptions::default() };
    let b = VictoriaMetricsBackend::new(&vm.url, opts).unwrap();
    let mut pts = Vec::new();
    for i in 0..3000i64 {
        pts.push(point("m", &[("s", if i % 3 == 0 { "x" } else { "y" })], vec![("a", FieldValue::Integer(i)), ("b", FieldValue::Float(i as f64 / 2.0))], T0 + i * 1_000_000));
    }
    b.write(batch("big", pts)).await.unwrap();
    let chunks = scan_all(&b, scan_req("big", "m", TagPredicate::True, &["b", "a"])).await;
    assert!(chunks.iter().all(|c| c.times.len() <= 1024));
    let got = rows(&chunks);
    assert_eq!(got[&tags(&[("s", "x")])].len(), 1000);
    assert_eq!(got[&tags(&[("s", "y")])].len(), 2000);
    for (t, r) in got.values().flatten() {
        let i = (t - T0) / 1_000_000;
        assert_eq!(r, &vec![Some(i as f64 / 2.0), Some(i as f64)]);
    }
    assert!(b.window_splits() > 0);
}

#[tokio::test]
async fn unreachable_store_is_unavailable() {
    let port = common::free_port();
    let b = VictoriaMetricsBackend::new(&format!("http://127.0.0.1:{port}"), VmOptions::default()).unwrap();
    assert!(matches!(b.health().await, Err(BackendError::Unavailable(_))));
    let e = b.write(batch("d", vec![point("m", &[], vec![("x", FieldValue::Float(1.0))], T0)])).await.unwrap_err();
    assert!(matches!(e, BackendError::Unavailable(_)), "{e:?}");
    assert!(matches!(b.databases().await, Err(BackendError::Unavailable(_))));
}

/// Many series: read in groups with one export each (and series by series when a group is too
/// big), still in series order and exact.
#[tokio::test]
async fn many_series_grouped_and_ungrouped() {
    let vm = start_vm().await;
    let mut pts = Vec::new();
    for s in 0..150i64 {
        for i in 0..10i64 {
            let host = format!("h{s}");
            let mut fields = vec![("a", FieldValue::Float((s * 10 + i) as f64))];
            if i % 2 == 0 {
                fields.push(("b", FieldValue::Integer(i)));
            }
            pts.push(point("m", &[("host", &host)], fields, T0 + i * S));
        }
    }
    let check = |got: Rows| {
        assert_eq!(got.len(), 150);
        for (t, r) in &got {
            let s: i64 = t[0].1[1..].parse().unwrap();
            assert_eq!(r.len(), 10);
            for (i, (time, vals)) in r.iter().enumerate() {
                let i = i as i64;
                assert_eq!(*time, T0 + i * S);
                assert_eq!(vals, &vec![Some((s * 10 + i) as f64), (i % 2 == 0).then_some(i as f64)]);
            }
        }
    };
    let b = backend(&vm);
    b.write(batch("many", pts)).await.unwrap();
    check(rows(&scan_all(&b, scan_req("many", "m", TagPredicate::True, &["a", "b"])).await));
    assert_eq!(b.window_splits(), 0);
    let small = VictoriaMetricsBackend::new(&vm.url, VmOptions { max_window_samples: 50, ..VmOptions::default() }).unwrap();
    check(rows(&scan_all(&small, scan_req("many", "m", TagPredicate::True, &["a", "b"])).await));
    assert!(small.window_splits() > 0);
}

/// Infinities written straight to VictoriaMetrics (which exports them as bare `+Inf`) read back.
#[tokio::test]
async fn infinities_written_directly_read_back() {
    let vm = start_vm().await;
    let http = reqwest::Client::new();
    let lines = "inf v=+Inf 1704067200000000000\ninf v=-Inf 1704067201000000000\ninf v=2 1704067202000000000\n";
    assert!(http.post(format!("{}/write?db=i", vm.url)).body(lines).send().await.unwrap().status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();
    let b = backend(&vm);
    let got = rows(&scan_all(&b, scan_req("i", "inf", TagPredicate::True, &["v"])).await);
    assert_eq!(
        got[&Vec::new()],
        vec![(T0, vec![Some(f64::INFINITY)]), (T0 + S, vec![Some(f64::NEG_INFINITY)]), (T0 + 2 * S, vec![Some(2.0)])]
    );
}

/// Rough throughput figures (run with `--ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn perf_smoke() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let t = Instant::now();
    let mut n = 0;
    for k in 0..40i64 {
        let mut pts = Vec::new();
        for i in 0..5000i64 {
            let j = k * 5000 + i;
            let host = format!("h{}", j % 100);
            pts.push(point(
                "cpu",
                &[("host", &host), ("region", "us")],
                vec![
                    ("a", FieldValue::Float(j as f64)),
                    ("b", FieldValue::Integer(j)),
                    ("c", FieldValue::Float(0.5)),
                    ("d", FieldValue::Boolean(j % 2 == 0)),
                ],
                T0 + (j / 100) * S,
            ));
        }
        n += b.write(batch("perf", pts)).await.unwrap().points_written;
    }
    let w = t.elapsed();
    println!("write: {n} points x 4 fields in {w:?} ({:.0} points/s)", n as f64 / w.as_secs_f64());
    let t = Instant::now();
    let chunks = scan_all(&b, scan_req("perf", "cpu", TagPredicate::True, &["a", "b", "c", "d"])).await;
    let rows: usize = chunks.iter().map(|c| c.times.len()).sum();
    let s = t.elapsed();
    println!("scan: {rows} rows x 4 fields in {s:?} ({:.0} rows/s)", rows as f64 / s.as_secs_f64());
    assert_eq!(rows, n);
}

/// A store that accepts connections but never answers: calls time out (→ 503 upstream).
#[tokio::test]
async fn silent_store_times_out() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    let b = VictoriaMetricsBackend::new(&url, VmOptions { timeout: Duration::from_millis(300), ..VmOptions::default() }).unwrap();
    let t = Instant::now();
    assert!(matches!(b.health().await, Err(BackendError::Timeout(_))));
    let e = b.write(batch("d", vec![point("m", &[], vec![("x", FieldValue::Float(1.0))], T0)])).await.unwrap_err();
    assert!(matches!(e, BackendError::Timeout(_)), "{e:?}");
    assert!(matches!(b.databases().await, Err(BackendError::Timeout(_))));
    assert!(t.elapsed() < Duration::from_secs(5));
    holder.abort();
}

/// A series dropped and written again is readable again (VictoriaMetrics makes a new series).
#[tokio::test]
async fn dropped_series_written_again() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let p = |v: f64, t: i64| point("cpu", &[("host", "a")], vec![("v", FieldValue::Float(v))], t);
    b.write(batch("d", vec![p(1.0, T0), p(2.0, T0 + S)])).await.unwrap();
    b.delete(DeleteRequest {
        db: "d".into(),
        measurements: MeasurementFilter::All,
        tags: TagPredicate::True,
        min_time: i64::MIN,
        max_time: i64::MAX,
        drop_series: true,
    })
    .await
    .unwrap();
    assert!(scan_all(&b, scan_req("d", "cpu", TagPredicate::True, &["v"])).await.is_empty());
    assert!(b.measurements("d", None).await.unwrap().is_empty());
    b.write(batch("d", vec![p(3.0, T0 + 2 * S)])).await.unwrap();
    assert_eq!(b.measurements("d", None).await.unwrap(), vec!["cpu"]);
    let got = rows(&scan_all(&b, scan_req("d", "cpu", TagPredicate::True, &["v"])).await);
    assert_eq!(got[&tags(&[("host", "a")])], vec![(T0 + 2 * S, vec![Some(3.0)])]);
}

/// Deleting the series without a tag leaves the series that have it (the exact selectors pin
/// every label the measurement uses, not only those of the matched series).
#[tokio::test]
async fn delete_is_exact_with_missing_tags() {
    let vm = start_vm().await;
    let b = backend(&vm);
    b.write(batch(
        "d",
        vec![
            point("m", &[("host", "a")], vec![("v", FieldValue::Float(1.0))], T0),
            point("m", &[("host", "a"), ("dc", "x")], vec![("v", FieldValue::Float(2.0))], T0),
            point("m", &[("host", "b"), ("rack", "r")], vec![("v", FieldValue::Float(3.0))], T0),
        ],
    ))
    .await
    .unwrap();
    b.delete(DeleteRequest {
        db: "d".into(),
        measurements: MeasurementFilter::All,
        tags: TagPredicate::And(Box::new(TagPredicate::Eq("dc".into(), "".into())), Box::new(TagPredicate::Eq("host".into(), "a".into()))),
        min_time: i64::MIN,
        max_time: i64::MAX,
        drop_series: true,
    })
    .await
    .unwrap();
    let left: Vec<_> = b.series("d", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().into_iter().map(|s| s.tags).collect();
    assert_eq!(left, vec![tags(&[("dc", "x"), ("host", "a")]), tags(&[("host", "b"), ("rack", "r")])]);
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

/// Points VictoriaMetrics would drop silently (older than its retention, more than 2 days ahead)
/// are left out and counted in a partial-write answer; the others are written.
#[tokio::test]
async fn points_out_of_range_are_a_partial_write() {
    let vm = start_vm_with(&["-retentionPeriod=1"]).await; // one month
    let b = backend(&vm);
    let now = now_ns();
    let p = |v: f64, t: i64| point("m", &[], vec![("v", FieldValue::Float(v))], t);
    let e = b.write(batch("d", vec![p(1.0, T0), p(2.0, now - 3600 * S)])).await.unwrap_err();
    assert_eq!(e.to_string(), "partial write: points beyond retention policy dropped=1");
    let e = b.write(batch("d", vec![p(3.0, now + 3 * 24 * 3600 * S), p(4.0, now - 1800 * S)])).await.unwrap_err();
    assert!(e.to_string().starts_with("partial write: ") && e.to_string().ends_with(" dropped=1"), "{e}");
    let got = rows(&scan_all(&b, scan_req("d", "m", TagPredicate::True, &["v"])).await);
    let vals: Vec<Option<f64>> = got[&Vec::new()].iter().map(|r| r.1[0]).collect();
    assert_eq!(vals, vec![Some(2.0), Some(4.0)]);
    assert_eq!(b.retention_policies("d").await.unwrap()[0].duration, 31 * 24 * 3600 * S);
}

/// A write bigger than one import request (~4 MiB of JSON) is sent in pieces, all stored.
#[tokio::test]
async fn big_write_is_sent_in_pieces() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let long = "x".repeat(200);
    let mut pts = Vec::new();
    for i in 0..30_000i64 {
        pts.push(point("m", &[("k", &long), ("n", &(i % 10).to_string())], vec![("v", FieldValue::Integer(i))], T0 + i * 1_000_000));
    }
    assert_eq!(b.write(batch("big", pts)).await.unwrap().points_written, 30_000);
    let got = rows(&scan_all(&b, scan_req("big", "m", TagPredicate::True, &["v"])).await);
    assert_eq!(got.values().map(|r| r.len()).sum::<usize>(), 30_000);
}

/// Fields whose metric name would read back as another measurement's are refused.
#[tokio::test]
async fn colliding_names_are_refused() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let p = |m: &str, f: &str| point(m, &[], vec![(f, FieldValue::Float(1.0))], T0);
    b.write(batch("d", vec![p("m_x", "v"), p("m", "y")])).await.unwrap();
    match b.write(batch("d", vec![p("m", "y"), p("m", "x_v")])).await {
        Err(BackendError::InvalidPoint { index: 1, message: e }) => assert_eq!(
            e,
            "field \"x_v\" on measurement \"m\" would be stored as metric \"m_x_v\", which reads back as field \"v\" on measurement \"m_x\" in victoriametrics"
        ),
        other => panic!("{other:?}"),
    }
    // Within one batch too.
    assert!(matches!(b.write(batch("e", vec![p("a", "b_c"), p("a_b", "c")])).await, Err(BackendError::InvalidPoint { index: 0, .. })));
    // Telegraf's usual names are fine.
    b.write(batch("t", vec![p("net", "bytes_recv"), p("net_response", "response_time"), p("cpu", "usage_user")])).await.unwrap();
    assert_eq!(b.measurements("t", None).await.unwrap(), vec!["cpu", "net", "net_response"]);
}

/// A retention of exactly 180 days gets 7-day shard groups, as in 1.x (its rule compares with
/// `>=`; a copy of it here once used `>` and gave 1-day groups).
#[tokio::test]
async fn retention_of_180_days_gets_week_long_shard_groups() {
    let vm = start_vm_with(&["-retentionPeriod=180d"]).await;
    let b = backend(&vm);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    let p = point("m", &[], vec![("v", FieldValue::Float(1.0))], now - 3_600_000_000_000);
    b.write(WriteBatch { db: "d".into(), rp: None, points: vec![p].into() }).await.expect("write");
    let rps = b.retention_policies("d").await.expect("rps");
    assert_eq!(rps[0].duration, 180 * 86_400 * 1_000_000_000);
    assert_eq!(rps[0].shard_group_duration, 7 * 86_400 * 1_000_000_000);
}

/// `SeriesChunk`'s contract (`backend::ordered::check_store`): the export API reads ascending
/// and whole, so order and limit come from `backend::ordered::emulate`.
#[tokio::test]
async fn scans_keep_the_chunk_contract() {
    let vm = start_vm().await;
    let b = backend(&vm);
    let mut points = Vec::new();
    for h in 0..4i64 {
        for t in 0..(4 + h * 5) {
            let mut f = vec![("b", FieldValue::Float(t as f64))];
            if t % 3 != 0 {
                f.push(("a", FieldValue::Float(t as f64 + 0.5)));
            }
            points.push(point("m", &[("host", &format!("h{h}"))], f, T0 + t * S + h * 1_000_000));
        }
    }
    b.write(batch("contract", points)).await.expect("write");
    for fields in [vec!["a".to_string(), "b".to_string()], vec!["a".to_string()], Vec::new()] {
        let n = influxgate::backend::ordered::check_store(&b, "contract", "m", &fields).await.unwrap_or_else(|e| panic!("{fields:?}: {e}"));
        // Descending without a limit is refused by the emulation: 4 of the 32 variants.
        assert_eq!(n, 28, "every variant checked");
    }
}
