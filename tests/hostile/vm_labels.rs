//! Labels on the VictoriaMetrics backend: a point must never land in another database or merge with
//! another series because a tag, measurement or field name means something to VictoriaMetrics.
//! Each test writes through the real influxgate to a real `victoria-metrics` and reads
//! VictoriaMetrics' own export API to see where the data went.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::common::vm::Vm;
use crate::common::{rows, Auth, Gate, GateConfig, TokenSpec};

pub const T0: i64 = 1_704_067_200_000_000_000;

/// A VictoriaMetrics for one test (`-search.latencyOffset=0s`: reads see writes at once).
pub fn start_vm(extra: &[&str]) -> Vm {
    let mut flags = vec!["-search.latencyOffset=0s"];
    flags.extend_from_slice(extra);
    Vm::start(&flags)
}

/// An influxgate on `vm` with `cfg`'s tokens and limits.
pub fn vm_gate(vm: &Vm, mut cfg: GateConfig) -> Gate {
    cfg.backend.push("kind = \"victoriametrics\"".into());
    cfg.backend.push(format!("url = {:?}", vm.url));
    Gate::start_with(cfg)
}

/// One exported series: labels, and (time ms, value) samples.
pub type Exported = BTreeMap<BTreeMap<String, String>, Vec<(i64, f64)>>;

/// What VictoriaMetrics holds for a selector, read from its export API directly.
pub fn export(vm: &Vm, selector: &str) -> Exported {
    let http = crate::common::client();
    let _ = http.get(format!("{}/internal/force_flush", vm.url)).send();
    let text = http
        .post(format!("{}/api/v1/export", vm.url))
        .form(&[("match[]", selector), ("start", "0")])
        .send()
        .expect("export")
        .text()
        .expect("export body");
    let mut out = Exported::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let j: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("export line {l:?}: {e}"));
        let labels: BTreeMap<String, String> = serde_json::from_value(j["metric"].clone()).expect("labels");
        let ts: Vec<i64> = serde_json::from_value(j["timestamps"].clone()).expect("timestamps");
        let vs: Vec<f64> = serde_json::from_value(j["values"].clone()).expect("values");
        out.entry(labels).or_default().extend(ts.into_iter().zip(vs));
    }
    out
}

/// Label sets as `[("k", "v"), ...]` for comparisons.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every label value VictoriaMetrics holds for the db label.
fn databases_in_vm(vm: &Vm) -> Vec<String> {
    let r = crate::common::client().get(format!("{}/api/v1/label/db/values?start=0", vm.url)).send().expect("label values");
    serde_json::from_value(r.json::<Value>().expect("json")["data"].clone()).expect("values")
}

/// A token that may write (and read) only db1 writes points whose `db` tag names another
/// database, by line protocol and by the JSON import (a field key with `"` goes that way): all of
/// it stays in db1, no database is created, and the tag reads back as a tag.
#[test]
fn db_tag_cannot_move_points_to_another_database() {
    let vm = start_vm(&[]);
    let w1 = TokenSpec::new("db1-writer").write(&["db1"]).read(&["db1"]);
    let g = vm_gate(&vm, GateConfig::new().token(w1.clone()));
    let api = g.api(Auth::Token(w1.token.clone()));
    let body = format!(
        "m,db=db2,host=x v=1 {T0}\nm,db=newdb,host=y v=2 {}\nm,db=db2,host=z f\"q=3 {}\n",
        T0 + 1_000_000_000,
        T0 + 2_000_000_000
    );
    let r = api.write("db1", &body);
    assert_eq!(r.status, 204, "{}", r.describe());

    assert_eq!(export(&vm, "{db=\"db2\"}"), Exported::new(), "points reached db2");
    assert_eq!(export(&vm, "{db=\"newdb\"}"), Exported::new(), "points reached newdb");
    assert_eq!(databases_in_vm(&vm), vec!["db1"]);
    let got = export(&vm, "{db=\"db1\"}");
    let want: Exported = [
        (labels(&[("__name__", "m_v"), ("db", "db1"), ("influxgate_tag_db", "db2"), ("host", "x")]), vec![(T0 / 1_000_000, 1.0)]),
        (labels(&[("__name__", "m_v"), ("db", "db1"), ("influxgate_tag_db", "newdb"), ("host", "y")]), vec![(T0 / 1_000_000 + 1000, 2.0)]),
        (labels(&[("__name__", "m_f\"q"), ("db", "db1"), ("influxgate_tag_db", "db2"), ("host", "z")]), vec![(T0 / 1_000_000 + 2000, 3.0)]),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);

    // The tag is a tag on every read path; the databases are what ?db= named.
    let admin = g.admin();
    assert_eq!(rows(&admin.query_ok("SHOW DATABASES", "")), vec![vec![json!("db1")]]);
    assert_eq!(rows(&api.query_ok("SHOW TAG KEYS FROM m", "db1")), vec![vec![json!("db")], vec![json!("host")]]);
    assert_eq!(
        rows(&api.query_ok("SHOW TAG VALUES FROM m WITH KEY = db", "db1")),
        vec![vec![json!("db"), json!("db2")], vec![json!("db"), json!("newdb")]]
    );
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE db = 'db2'", "db1")), vec![vec![json!(T0), json!(1)]]);
    let v = api.query_ok("SELECT count(v) FROM m GROUP BY db", "db1");
    let series = v["results"][0]["series"].as_array().expect("series").clone();
    let by_db: Vec<(Value, Value)> = series.iter().map(|s| (s["tags"]["db"].clone(), s["values"][0][1].clone())).collect();
    assert_eq!(by_db, vec![(json!("db2"), json!(1)), (json!("newdb"), json!(1))]);
    // The token still may not touch db2 itself.
    assert_eq!(api.write("db2", &format!("m v=1 {T0}\n")).status, 401);
}

/// Tags named `__name__` (VictoriaMetrics' metric name), `__graphite__` (a Graphite filter in
/// its selectors) or like the escaped labels are stored apart and read back as those tags: no
/// series merges with another, and WHERE on them selects exactly their points.
#[test]
fn reserved_tag_keys_read_back_as_tags() {
    let vm = start_vm(&[]);
    let g = vm_gate(&vm, GateConfig::new());
    let api = g.admin();
    let body = format!(
        "m,__name__=evil,host=a v=1 {T0}\nm,host=a v=2 {T0}\nm,__graphite__=g,host=b v=3 {T0}\nm,host=c,influxgate_tag_host=c2 v=4 {T0}\n"
    );
    let r = api.write("db1", &body);
    assert_eq!(r.status, 204, "{}", r.describe());

    let got: Vec<BTreeMap<String, String>> = export(&vm, "{db=\"db1\"}").into_keys().collect();
    let base = [("__name__", "m_v"), ("db", "db1")];
    let with = |extra: &[(&str, &str)]| labels(&[&base[..], extra].concat());
    let mut want = vec![
        with(&[("influxgate_tag___name__", "evil"), ("host", "a")]),
        with(&[("host", "a")]),
        with(&[("influxgate_tag___graphite__", "g"), ("host", "b")]),
        with(&[("influxgate_tag_influxgate_tag_host", "c2"), ("host", "c")]),
    ];
    want.sort();
    assert_eq!(got, want);

    assert_eq!(
        rows(&api.query_ok("SHOW TAG KEYS FROM m", "db1")),
        vec![vec![json!("__graphite__")], vec![json!("__name__")], vec![json!("host")], vec![json!("influxgate_tag_host")]]
    );
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE \"__name__\" = 'evil'", "db1")), vec![vec![json!(T0), json!(1)]]);
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE \"__graphite__\" = 'g'", "db1")), vec![vec![json!(T0), json!(3)]]);
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE influxgate_tag_host = 'c2'", "db1")), vec![vec![json!(T0), json!(4)]]);
    assert_eq!(rows(&api.query_ok("SELECT sum(v) FROM m WHERE host = 'a'", "db1")), vec![vec![json!(0), json!(3)]]);
    assert_eq!(rows(&api.query_ok("SHOW SERIES FROM m", "db1")).len(), 4);
}

/// Measurement `cpu` field `usage_idle` and measurement `cpu_usage` field `idle` are both the metric
/// `cpu_usage_idle`: whichever comes second is refused with 400 naming its line, across writes
/// and within one, and what was stored keeps reading back as it was written.
#[test]
fn separator_collisions_are_refused() {
    let vm = start_vm(&[]);
    let g = vm_gate(&vm, GateConfig::new());
    let api = g.admin();
    assert_eq!(api.write("c1", &format!("cpu usage_idle=1 {T0}\n")).status, 204);
    let r = api.write("c1", &format!("cpu_usage user=5 {T0}\ncpu_usage idle=2 {T0}\n"));
    assert_eq!(r.status, 400, "{}", r.describe());
    assert_eq!(r.json()["line"], json!(1));
    assert!(r.error().contains("take over metric \"cpu_usage_idle\""), "{}", r.error());
    let want: Exported = [(labels(&[("__name__", "cpu_usage_idle"), ("db", "c1")]), vec![(T0 / 1_000_000, 1.0)])].into_iter().collect();
    assert_eq!(export(&vm, "{db=\"c1\"}"), want);
    assert_eq!(rows(&api.query_ok("SHOW MEASUREMENTS", "c1")), vec![vec![json!("cpu")]]);
    assert_eq!(rows(&api.query_ok("SELECT usage_idle FROM cpu", "c1")), vec![vec![json!(T0), json!(1)]]);

    // The other order, and both in one body.
    assert_eq!(api.write("c2", &format!("cpu_usage idle=2 {T0}\n")).status, 204);
    let r = api.write("c2", &format!("cpu system=1 {T0}\ncpu usage_idle=1 {T0}\n"));
    assert_eq!((r.status, r.json()["line"].clone()), (400, json!(2)), "{}", r.describe());
    let r = api.write("c3", &format!("cpu usage_idle=1 {T0}\ncpu_usage idle=2 {T0}\n"));
    assert_eq!(r.status, 400, "{}", r.describe());
    assert_eq!(export(&vm, "{db=\"c3\"}"), Exported::new());
    // A measurement that shares only a prefix with stored names is fine.
    assert_eq!(api.write("c1", &format!("cpu_usage_x idle=2 {T0}\ncpu system=3 {T0}\n")).status, 204);
}

/// Names with the characters line protocol escapes land in exactly their own label; names
/// VictoriaMetrics would cut (a label value over `-maxLabelValueLen` — here multi-byte text cut
/// mid-character —, a label name over 256 bytes, a metric name over the value bound, a database
/// name over it) or label sets it would thin out (more labels than `-maxLabelsPerTimeseries`,
/// dropping the db label) are refused with 400 and store nothing.
#[test]
fn hostile_names_stay_in_their_label_or_are_refused() {
    let vm = start_vm(&[]);
    let g = vm_gate(&vm, GateConfig::new());
    let api = g.admin();
    let r = api.write("h", &format!("m\\,db=h2\\ x,t\\,db\\=h2=v\\,db\\=h2\\ \\=,host=a f\\,db\\=h2=1 {T0}\n"));
    assert_eq!(r.status, 204, "{}", r.describe());
    let want: Exported = [(
        labels(&[("__name__", "m,db=h2 x_f,db=h2"), ("db", "h"), ("t,db=h2", "v,db=h2 ="), ("host", "a")]),
        vec![(T0 / 1_000_000, 1.0)],
    )]
    .into_iter()
    .collect();
    assert_eq!(export(&vm, "{__name__=~\".+\"}"), want);

    let long_value = format!("a{}", "é".repeat(8192)); // 16385 bytes
    let tags = |n: usize| -> String { (0..n).map(|i| format!(",t{i:02}=v")).collect() };
    let cases = [
        ("h", format!("m,host=b v=1 {T0}\nm,host={long_value} v=1 {T0}\n"), 2),
        ("h", format!("m,{}=v v=1 {T0}\n", "k".repeat(257)), 1),
        ("h", format!("m{} v=1 {T0}\n", tags(30)), 1),
        ("h", format!("{} {}=1 {T0}\n", "m".repeat(16000), "f".repeat(400)), 1),
    ];
    for (db, body, line) in &cases {
        let r = api.write(db, body);
        assert_eq!(r.status, 400, "{}", r.describe());
        assert_eq!(r.json()["line"], json!(line), "{}", r.describe());
    }
    let r = api.write(&"d".repeat(16385), &format!("m v=1 {T0}\n"));
    assert_eq!(r.status, 400, "{}", r.describe());
    assert_eq!(export(&vm, "{__name__=~\".+\"}"), want, "a refused write stored something");
    // At the bounds exactly, points are stored whole.
    let r = api.write("h", &format!("m{} v=1 {T0}\nm,t={} v=2 {T0}\n", tags(28), "é".repeat(8192)));
    assert_eq!(r.status, 204, "{}", r.describe());
    let got = export(&vm, "{db=\"h\",__name__=\"m_v\"}");
    assert_eq!(got.len(), 2);
    assert!(got.keys().any(|l| l.len() == 2 + 28 && l["db"] == "h"), "{:?}", got.keys().map(|l| l.len()).collect::<Vec<_>>());
    assert!(got.keys().any(|l| l.get("t").is_some_and(|t| t.len() == 16384)));
}
