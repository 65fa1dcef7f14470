//! Writes of the VictoriaMetrics backend (line protocol on `/write`, JSON import for what line
//! protocol cannot carry) against a real `victoria-metrics` (Debian package `victoria-metrics`):
//! hostile names store the same series as VictoriaMetrics' own JSON import of the same labels,
//! the fallbacks work, and VictoriaMetrics' flags decide the mode.

mod common;

use common::vm::Vm;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use influxgate::backend::victoriametrics::labels::LabelMap;
use influxgate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
use influxgate::backend::{Backend, ScanRequest, TagPredicate, WriteBatch};
use influxgate::model::{FieldValue, Point};

const T0: i64 = 1_704_067_200_000_000_000;
const S: i64 = 1_000_000_000;

async fn start_vm(extra: &[&str]) -> Vm {
    let mut flags = vec!["-search.latencyOffset=0s"];
    flags.extend_from_slice(extra);
    Vm::start(&flags)
}

fn point(m: &str, t: &[(&str, &str)], f: Vec<(&str, FieldValue)>, time: i64) -> Point {
    let mut tags: Vec<(String, String)> = t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tags.sort();
    Point { measurement: m.into(), tags, fields: f.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), time }
}

fn batch(db: &str, points: Vec<Point>) -> WriteBatch {
    WriteBatch { db: db.into(), rp: None, points: points.into() }
}

/// Series of a database as VictoriaMetrics exports them: labels without `db` → (times, values).
type Exported = BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>>;

async fn export(vm: &Vm, db: &str) -> Exported {
    let sel = format!("{{db={}}}", serde_json::to_string(db).unwrap());
    // influxgate flushes its writes before its own reads only; this one goes straight to VM.
    reqwest::Client::new().get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();
    let text = reqwest::Client::new()
        .post(format!("{}/api/v1/export", vm.url))
        .form(&[("match[]", sel.as_str()), ("start", "0")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut out = Exported::new();
    for l in text.lines() {
        let j: serde_json::Value = serde_json::from_str(l).unwrap();
        let mut m: BTreeMap<String, String> = serde_json::from_value(j["metric"].clone()).unwrap();
        assert_eq!(m.remove("db").as_deref(), Some(db));
        let ts: Vec<i64> = serde_json::from_value(j["timestamps"].clone()).unwrap();
        let vs: Vec<f64> = serde_json::from_value(j["values"].clone()).unwrap();
        out.entry(m).or_default().extend(ts.into_iter().zip(vs));
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    out
}

/// `vm_rows_inserted_total{type="<ty>"}` of VictoriaMetrics (which caches its `/metrics` answer
/// for a second: waited out first).
async fn inserted(vm: &Vm, ty: &str) -> u64 {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = reqwest::get(format!("{}/metrics", vm.url)).await.unwrap().text().await.unwrap();
    let prefix = format!("vm_rows_inserted_total{{type=\"{ty}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
}

/// The series the points make, built as VictoriaMetrics' JSON import would store them (the
/// ground truth: labels given one by one, no escaping involved).
fn expected(points: &[Point]) -> Exported {
    let mut out = Exported::new();
    for p in points {
        for (f, v) in &p.fields {
            let x = match v {
                FieldValue::Float(x) => *x,
                FieldValue::Integer(i) => *i as f64,
                FieldValue::Unsigned(u) => *u as f64,
                FieldValue::Boolean(b) => f64::from(u8::from(*b)),
                FieldValue::String(_) => continue,
            };
            // Under the labels the backend stores tag keys under (the db label, `__` keys and
            // the escape prefix are moved).
            let map = LabelMap::new("db");
            let mut labels: BTreeMap<String, String> =
                p.tags.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (map.label_of(k).into_owned(), v.clone())).collect();
            labels.insert("__name__".into(), format!("{}_{f}", p.measurement));
            out.entry(labels).or_default().push((p.time / 1_000_000, x));
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    out
}

/// What VictoriaMetrics stores for `expected(points)` given to its JSON import (label by label,
/// no escaping involved) in database `truth_db`: the ground truth, VictoriaMetrics' own rounding
/// of values included.
async fn truth(vm: &Vm, truth_db: &str, points: &[Point]) -> Exported {
    let mut body = String::new();
    for (labels, samples) in expected(points) {
        let mut metric = serde_json::Map::new();
        for (k, v) in labels {
            metric.insert(k, v.into());
        }
        metric.insert("db".into(), truth_db.into());
        let line = serde_json::json!({
            "metric": metric,
            "values": samples.iter().map(|s| s.1).collect::<Vec<_>>(),
            "timestamps": samples.iter().map(|s| s.0).collect::<Vec<_>>(),
        });
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let http = reqwest::Client::new();
    assert!(http.post(format!("{}/api/v1/import", vm.url)).body(body).send().await.unwrap().status().is_success());
    http.get(format!("{}/internal/force_flush", vm.url)).send().await.unwrap();
    export(vm, truth_db).await
}

/// Names with every character line protocol escapes, or that VictoriaMetrics' parser treats
/// specially, store exactly the labels given; all of it goes as line protocol.
#[tokio::test]
async fn hostile_names_are_stored_exactly() {
    let vm = start_vm(&[]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let hostile = [
        "a b", "a,b", "a=b", "a\\b", "a\\", "\\", "\\\\ ", "a\\ b", "a\\,b", "a\\=b", "\"q\"", "a\"b", "#x", "x#",
        " lead", "trail ", "ü\u{1}\t\r", "=", ",", "{__name__=~\".+\"}", "'q'", "$^[]",
    ];
    let mut pts = Vec::new();
    for (i, h) in hostile.iter().enumerate() {
        let m = if h.starts_with('#') { format!("m{h}") } else { h.to_string() };
        let field = if h.contains('"') { "f".to_string() } else { format!("f{h}") };
        pts.push(point(
            &m,
            &[(h, h), ("host", h), ("empty", "")],
            vec![
                (field.as_str(), FieldValue::Float(i as f64 + 0.25)),
                ("i", FieldValue::Integer(-(i as i64))),
                ("u", FieldValue::Unsigned(u64::MAX - i as u64)),
                ("b", FieldValue::Boolean(i % 2 == 0)),
                ("value", FieldValue::Float(0.1 + 0.2)),
            ],
            T0 + i as i64 * S + 123_456_789,
        ));
    }
    b.write(batch("hostile", pts.clone())).await.expect("write");
    // Everything went as line protocol (5 fields a point), nothing as JSON.
    assert_eq!(inserted(&vm, "influx").await, 5 * hostile.len() as u64);
    assert_eq!(inserted(&vm, "vmimport").await, 0);
    let got = export(&vm, "hostile").await;
    assert_eq!(got.len(), 5 * hostile.len());
    assert_eq!(got, truth(&vm, "truth", &pts).await);
    // And it reads back through the backend (read-after-write: no wait).
    let m = "a,b";
    let mut s = b
        .scan(ScanRequest::new("hostile", None, m, TagPredicate::Eq("host".into(), m.into()), i64::MIN, i64::MAX, vec![format!("f{m}"), "i".into(), "value".into()]))
        .await
        .unwrap();
    let c = s.next().await.unwrap().unwrap();
    assert_eq!(c.times, vec![T0 + S + 123_000_000]);
    assert_eq!(c.columns[0][0], Some(FieldValue::Float(1.25)));
    assert_eq!(c.columns[1][0], Some(FieldValue::Float(-1.0)));
    // VictoriaMetrics keeps about 15 significant digits: 0.30000000000000004 comes back as 0.3.
    assert!(matches!(c.columns[2][0], Some(FieldValue::Float(x)) if (x - 0.3).abs() < 1e-15));
    // Every hostile name reads back exactly through the scan's export parser (labels with JSON
    // escapes: quotes, backslashes, control characters, unicode).
    for (i, (h, p)) in hostile.iter().zip(&pts).enumerate() {
        let field = p.fields[0].0.clone();
        let req = ScanRequest::new("hostile", None, &p.measurement, TagPredicate::Eq("host".into(), h.to_string()), i64::MIN, i64::MAX, vec![field, "i".into()]);
        let mut s = b.scan(req).await.unwrap();
        let c = s.next().await.unwrap().unwrap();
        let mut want = vec![(h.to_string(), h.to_string()), ("host".to_string(), h.to_string())];
        want.sort();
        want.dedup();
        assert_eq!(c.tags, want, "{h:?}");
        assert_eq!(c.times, vec![T0 + i as i64 * S + 123_000_000], "{h:?}");
        assert_eq!(c.columns[1][0], Some(FieldValue::Float(-(i as f64))), "{h:?}");
        // `fü\u{1}\t\r` included: its metric is selected with its own exact matcher (see
        // `selector`: VictoriaMetrics' regexes misjudge the byte 0x01).
        assert_eq!(c.columns[0][0], Some(FieldValue::Float(i as f64 + 0.25)), "{h:?}");
        assert!(s.next().await.is_none(), "{h:?}");
    }
    // A tag regex whose match is a value holding 0x01 (`.` stands for it), outside a statement's
    // view: decided by the evaluator's regex, as VictoriaMetrics' would miss it.
    let (i, h) = hostile.iter().enumerate().find(|(_, h)| h.contains('\u{1}')).unwrap();
    let m = h.to_string();
    let re = regex::Regex::new("ü.\t").unwrap();
    let req = ScanRequest::new("hostile", None, &m, TagPredicate::Match("host".into(), re), i64::MIN, i64::MAX, vec!["i".into()]);
    let mut s = b.scan(req).await.unwrap();
    let c = s.next().await.unwrap().unwrap();
    assert!(c.tags.contains(&("host".to_string(), m.clone())), "{:?}", c.tags);
    assert_eq!(c.columns[0], vec![Some(FieldValue::Float(-(i as f64)))]);
    assert!(s.next().await.is_none());
}

/// What line protocol cannot carry for VictoriaMetrics goes as JSON, point by point, in the same
/// write: newlines in names, a measurement starting with '#', a field key with '"', the
/// millisecond 0.
#[tokio::test]
async fn fallbacks_to_json_import() {
    let vm = start_vm(&[]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let f = |x: f64| vec![("v", FieldValue::Float(x))];
    let pts = vec![
        point("plain", &[("t", "x")], f(1.0), T0),
        point("new\nline", &[("t", "x")], f(2.0), T0),
        point("m", &[("t", "new\nline")], f(3.0), T0),
        point("#hash", &[], f(4.0), T0),
        point("q", &[], vec![("a\"b", FieldValue::Float(5.0))], T0),
        point("epoch", &[], f(6.0), 999_999),
        point("plain", &[("t", "x")], f(7.0), T0 + S),
    ];
    b.write(batch("fb", pts.clone())).await.expect("write");
    assert_eq!(inserted(&vm, "influx").await, 2);
    assert_eq!(inserted(&vm, "vmimport").await, 5);
    assert_eq!(export(&vm, "fb").await, expected(&pts));
}

/// A point wider than `-influx.maxLineSize` is written as several lines; a series key that
/// alone exceeds it goes as JSON.
#[tokio::test]
async fn wide_points_fit_the_line_size() {
    let vm = start_vm(&["-influx.maxLineSize=2048"]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let names: Vec<String> = (0..300).map(|i| format!("field_number_{i:04}")).collect();
    let wide = point("wide", &[("host", "h")], names.iter().enumerate().map(|(i, n)| (n.as_str(), FieldValue::Integer(i as i64))).collect(), T0);
    let long = "k".repeat(3000);
    let long_key = point("long", &[("t", &long)], vec![("v", FieldValue::Float(1.5))], T0);
    let pts = vec![wide, long_key];
    b.write(batch("wide", pts.clone())).await.expect("write");
    assert_eq!(inserted(&vm, "influx").await, 300);
    assert_eq!(inserted(&vm, "vmimport").await, 1);
    assert_eq!(export(&vm, "wide").await, expected(&pts));
}

/// When VictoriaMetrics' flags would name series otherwise than the backend's options, every
/// write goes as JSON import (named by the options), not line protocol.
#[tokio::test]
async fn mismatched_flags_write_json() {
    let vm = start_vm(&["-influxSkipSingleField"]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let pts = vec![point("cpu", &[("host", "a")], vec![("usage", FieldValue::Float(1.0))], T0)];
    b.write(batch("d", pts.clone())).await.expect("write");
    assert_eq!(inserted(&vm, "influx").await, 0);
    assert_eq!(inserted(&vm, "vmimport").await, 1);
    assert_eq!(export(&vm, "d").await, expected(&pts));

    let vm = start_vm(&["-influxMeasurementFieldSeparator=."]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions { separator: ".".into(), ..VmOptions::default() }).unwrap();
    b.write(batch("d", pts.clone())).await.expect("write");
    assert_eq!(inserted(&vm, "influx").await, 1);
    let got = export(&vm, "d").await;
    assert_eq!(got.keys().next().unwrap()["__name__"], "cpu.usage");
}

/// A TSBS-like batch: 5000 points of 10 tags and 10 integer fields, all written as line
/// protocol in one request and read back.
#[tokio::test]
async fn tsbs_batch_round_trips() {
    let vm = start_vm(&[]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let fields = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"];
    let mut pts = Vec::new();
    for i in 0..5000i64 {
        let host = format!("host_{}", i % 100);
        let t: Vec<(String, String)> =
            (0..9).map(|k| (format!("tag{k}"), format!("v{}", (i + k) % 7))).chain([("hostname".to_string(), host)]).collect();
        let tr: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        pts.push(point("cpu", &tr, fields.iter().enumerate().map(|(k, f)| (*f, FieldValue::Integer((i * 7 + k as i64) % 100))).collect(), T0 + (i / 100) * 10 * S));
    }
    b.write(batch("tsbs", pts.clone())).await.expect("write");
    assert_eq!(inserted(&vm, "influx").await, 50_000);
    assert_eq!(export(&vm, "tsbs").await, truth(&vm, "truth", &pts).await);
}

/// The times of measurement `m` of database `rw`, read through the backend.
async fn read(b: &VictoriaMetricsBackend) -> Vec<i64> {
    let mut s = b.scan(ScanRequest::new("rw", None, "m", TagPredicate::True, i64::MIN, i64::MAX, vec!["v".into()])).await.unwrap();
    let mut times = Vec::new();
    while let Some(c) = s.next().await {
        times.extend(c.unwrap().times);
    }
    times
}

/// Read-your-writes without a flush per write (counted by `influxgate_vm_flushes_total`; VictoriaMetrics
/// 1.79 does not count them): twenty writes send no flush; a read right after them (no wait) sees
/// every point, after one flush; a read with no write since sends none.
#[tokio::test]
async fn one_flush_before_a_read_not_one_per_write() {
    let vm = start_vm(&[]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let ours = |b: &VictoriaMetricsBackend| {
        b.counters().into_iter().find(|c| c.name == "influxgate_vm_flushes_total").map(|c| c.value).unwrap()
    };
    let write = |i: i64| b.write(batch("rw", vec![point("m", &[("host", "a")], vec![("v", FieldValue::Float(i as f64))], T0 + i * S)]));
    // The first write of a measurement reads VictoriaMetrics' names (a flush: the process starts
    // not knowing what came before it); the first read flushes that write.
    write(0).await.expect("write");
    assert_eq!(read(&b).await.len(), 1);
    let base = ours(&b);
    assert!(base >= 1);
    for i in 1..21 {
        write(i).await.expect("write");
    }
    assert_eq!(ours(&b), base, "no flush while only writing");
    assert_eq!(read(&b).await.len(), 21, "a read right after the writes sees them all");
    assert_eq!(ours(&b), base + 1);
    assert_eq!(read(&b).await.len(), 21);
    assert_eq!(ours(&b), base + 1, "nothing written since: no flush");
    write(21).await.expect("write");
    assert_eq!(read(&b).await.len(), 22);
    assert_eq!(ours(&b), base + 2);
}

/// `influxgate_vm_forwarded_writes_total` of the backend.
fn forwarded(b: &VictoriaMetricsBackend) -> u64 {
    b.counters().into_iter().find(|c| c.name == "influxgate_vm_forwarded_writes_total").map(|c| c.value).unwrap()
}

/// A write given its body (`Backend::write_body`, as the server calls it) stores exactly what
/// VictoriaMetrics' JSON import stores for the parsed points: plain bodies in every precision are
/// sent as they are (counted), and bodies VictoriaMetrics would read otherwise — escapes, hostile
/// and remapped names, values it parses differently, folded keys, lines without a timestamp,
/// comments, points it would drop — fall back to re-encoding, each body into its own database.
#[tokio::test]
async fn bodies_forwarded_or_reencoded_store_the_same() {
    use influxgate::backend::RawBody;
    use influxgate::lineproto::{parse_batch_with, ParseOptions, Precision};
    let vm = start_vm(&[]).await;
    let b = VictoriaMetricsBackend::new(&vm.url, VmOptions::default()).unwrap();
    let now = T0 + 3600 * S;
    let plain = [
        (Precision::Nanosecond, "cpu,host=a,region=eu user=1i,idle=98.25,neg=-3i,z=-0.5 1704067200123456789\ncpu,host=b user=2i 1704067201000000001\n"),
        (Precision::Microsecond, "cpu,host=a user=1i,idle=0.1 1704067200123456\n\ncpu,host=a user=2i 1704067200999999\n"),
        (Precision::Millisecond, "cpu,host=a user=1i 1704067200123\n"),
        (Precision::Second, "cpu,host=a,t=ü#'{} user=1i,x=12345678901234567890.5 1704067200\n"),
        (Precision::Minute, "cpu,host=a user=1i 28401120\n"),
        (Precision::Hour, "cpu,host=a user=1i 473352\n"),
        (Precision::Nanosecond, "a=b,k=v f=1 1704067200000000000\n"),
    ];
    let hostile = [
        "m\\ x,t\\,k=v\\=1 f=1 1704067200000000000\n",
        "m,t=a\\b f=1 1704067200000000000\n",
        "m,db=other,__name__=n,influxgate_tag_x=y f=1 1704067200000000000\n",
        "m f=1.,g=.5,h=1e3,k=-2.5E-3,b1=t,b2=FALSE 1704067200000000000\n",
        "m f=1,f=2,time=3i,g=4 1704067200000000000\n",
        "m f=1\nm,t=x f=2 1704067200000000000\n",
        "# comment\nm f=1 1704067200000000000\n",
        "m,t=a\tb f=1 1704067200000000000\n",
        "m  f=1 1704067200000000000\n",
        "m f=1 0\n",
        "#m f=1 1704067200000000000\nm#,t=# f=2 1704067200000000000\n",
    ];
    let cases = plain.iter().map(|(p, body)| (*p, *body, true)).chain(hostile.iter().map(|body| (Precision::Nanosecond, *body, false)));
    for (i, (precision, body, sent_as_is)) in cases.enumerate() {
        let points = parse_batch_with(body.as_bytes(), &ParseOptions::new(precision, now)).unwrap_or_else(|e| panic!("{body:?}: {e:?}"));
        let want: Vec<Point> = points.to_vec();
        let db = format!("fwd{i}");
        let before = forwarded(&b);
        let raw = RawBody { bytes: bytes::Bytes::copy_from_slice(body.as_bytes()), precision };
        b.write_body(WriteBatch { db: db.clone(), rp: None, points }, raw).await.unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!(forwarded(&b) - before, u64::from(sent_as_is), "{body:?}");
        assert_eq!(export(&vm, &db).await, truth(&vm, &format!("truth{i}"), &want).await, "{body:?}");
    }
}
