//! Cardinality limits on the VictoriaMetrics backend (`[limits] max_series_per_database`,
//! `max_values_per_tag`): a batch that would pass one is refused whole with 1.x's text before
//! anything of it reaches VictoriaMetrics, and the counts include what VictoriaMetrics already
//! held — after an influxgate restart, and when written straight to VictoriaMetrics.


use super::vm_labels::{export, labels, start_vm, vm_gate, T0};
use crate::common::{Api, GateConfig};

const S: i64 = 1_000_000_000;

fn limits(series: u64, values: u64) -> GateConfig {
    GateConfig::new()
        .limit(&format!("max_series_per_database = {series}"))
        .limit(&format!("max_values_per_tag = {values}"))
}

/// Samples VictoriaMetrics holds for a database.
fn samples(vm: &crate::common::vm::Vm, db: &str) -> usize {
    export(vm, &format!("{{db={db:?}}}")).values().map(Vec::len).sum()
}

fn write_ok(api: &Api, db: &str, body: &str) {
    let r = api.write(db, body);
    assert_eq!(r.status, 204, "{body}: {}", r.describe());
}

fn refused(api: &Api, db: &str, body: &str) -> String {
    let r = api.write(db, body);
    assert_eq!(r.status, 400, "{body}: {}", r.describe());
    r.error()
}

/// Writes straight to VictoriaMetrics, as Telegraf pointed at it would.
fn write_direct(vm: &crate::common::vm::Vm, db: &str, body: &str) {
    let http = crate::common::client();
    let r = http.post(format!("{}/write?db={db}", vm.url)).body(body.to_string()).send().expect("write");
    assert!(r.status().is_success());
    let _ = http.get(format!("{}/internal/force_flush", vm.url)).send();
}

/// `max_series_per_database = 5`: series are measurement + tag set (fields count once); a batch
/// creating a series past the limit is refused whole with 1.x's text; existing series stay
/// writable; DROP SERIES makes room; another database has its own count.
#[test]
fn series_limit_refuses_the_whole_batch() {
    let vm = start_vm(&[]);
    let g = vm_gate(&vm, limits(5, 0));
    let api = g.admin();
    write_ok(&api, "d", &format!("m,host=a f1=1,f2=2 {T0}\nm,host=b f1=1 {T0}\nn,host=a v=1 {T0}\nm,dc=x,host=a f1=1 {T0}\n"));
    assert_eq!(samples(&vm, "d"), 5);

    let t1 = T0 + S;
    let e = refused(&api, "d", &format!("m,host=a f1=5 {t1}\nm,host=c f1=1 {t1}\nm,host=d f1=1 {t1}\n"));
    assert_eq!(e, "partial write: max-series-per-database limit exceeded: (5) dropped=3");
    assert_eq!(samples(&vm, "d"), 5, "part of a refused batch reached VictoriaMetrics");

    write_ok(&api, "d", &format!("m,host=c f1=1 {t1}\nm,host=a f2=9 {t1}\n"));
    let e = refused(&api, "d", &format!("m,host=e f1=1 {t1}\n"));
    assert_eq!(e, "partial write: max-series-per-database limit exceeded: (5) dropped=1");
    write_ok(&api, "d", &format!("m,host=b f1=2,f3=3 {}\n", t1 + S));
    write_ok(&api, "other", &(0..5).map(|i| format!("m,host={i} v=1 {T0}\n")).collect::<String>());

    api.query_ok("DROP SERIES FROM m WHERE host = 'c'", "d");
    write_ok(&api, "d", &format!("m,host=e f1=1 {t1}\n"));
    refused(&api, "d", &format!("m,host=f f1=1 {t1}\n"));
}

/// `max_values_per_tag = 3`: a fourth value of a tag key in a measurement is refused with 1.x's
/// text (Go `%q` quoting); other keys and other measurements have their own counts.
#[test]
fn values_limit_per_tag_key() {
    let vm = start_vm(&[]);
    let g = vm_gate(&vm, limits(0, 3));
    let api = g.admin();
    write_ok(&api, "d", &format!("m,host=a v=1 {T0}\nm,host=b v=1 {T0}\nm,dc=x,host=c v=1 {T0}\n"));
    let e = refused(&api, "d", &format!("m,host=a v=2 {T0}\nm,host=d\\ \"é v=1 {T0}\n"));
    assert_eq!(e, "partial write: max-values-per-tag limit exceeded (3/3): measurement=\"m\" tag=\"host\" value=\"d \\\"é\" dropped=2");
    assert_eq!(samples(&vm, "d"), 3);
    write_ok(&api, "d", &format!("n,host=d v=1 {T0}\nm,dc=y,host=a v=1 {T0}\nm,dc=z,host=b v=1 {T0}\n"));
    let e = refused(&api, "d", &format!("m,dc=w,host=a v=1 {T0}\n"));
    assert!(e.contains("(3/3): measurement=\"m\" tag=\"dc\" value=\"w\""), "{e}");
}

/// The limit counts what VictoriaMetrics holds, not what this process wrote: after restarts, and
/// series written straight to VictoriaMetrics. VictoriaMetrics runs with `-search.maxSeries=2`, so
/// the counts are read metric by metric, and a metric with more series from its export.
#[test]
fn limits_hold_after_restart_and_count_series_already_stored() {
    let vm = start_vm(&["-search.maxSeries=2"]);
    write_direct(&vm, "t", &format!("direct,host=a v=1 {T0}\ndirect,host=b v=1 {T0}\ndirect,host=c v=1 {T0}\n"));
    let mut g = vm_gate(&vm, limits(5, 3));
    let api = g.admin();
    write_ok(&api, "t", &format!("m,host=a v=1,w=2 {T0}\n"));
    g.restart();
    let api = g.admin();
    write_ok(&api, "t", &format!("m,host=b v=1 {T0}\n"));
    assert_eq!(
        refused(&api, "t", &format!("m,host=c v=1 {T0}\n")),
        "partial write: max-series-per-database limit exceeded: (5) dropped=1"
    );
    // The three values of `host` in `direct` were counted too.
    write_ok(&api, "t", &format!("direct,host=a v=2 {}\n", T0 + S));
    g.restart();
    let api = g.admin();
    refused(&api, "t", &format!("m,host=z v=1 {T0}\n"));
    write_ok(&api, "t", &format!("m,host=b v=3 {}\ndirect,host=c v=3 {}\n", T0 + S, T0 + S));
    // Read from VictoriaMetrics itself: with -search.maxSeries=2 it refuses influxgate's series
    // listing of three series (a statement error, by design).
    assert_eq!(export(&vm, "{__name__=\"m_v\",db=\"t\"}").values().map(Vec::len).sum::<usize>(), 3);
    let e = api.query("SELECT count(v) FROM m", "t");
    assert_eq!(e.status, 200, "{}", e.text());
    assert!(e.text().contains("exceeds 2"), "{}", e.text());
    let e = refused(&api, "u", &format!("direct,host=d v=1 {T0}\ndirect,host=e v=1 {T0}\ndirect,host=f v=1 {T0}\ndirect,host=g v=1 {T0}\n"));
    assert!(e.starts_with("partial write: max-values-per-tag limit exceeded (3/3)"), "{e}");
    assert_eq!(export(&vm, "{db=\"u\"}").len(), 0);
}

/// A database that already holds more series than the limit (written straight to
/// VictoriaMetrics): every one of them stays writable, only new ones are refused.
#[test]
fn existing_series_past_the_limit_stay_writable() {
    let vm = start_vm(&[]);
    let direct: String = (0..8).map(|i| format!("m,host=h{i} v=1 {T0}\n")).collect();
    write_direct(&vm, "o", &direct);
    let g = vm_gate(&vm, limits(5, 0));
    let api = g.admin();
    for i in 0..8 {
        write_ok(&api, "o", &format!("m,host=h{i} v=2 {}\n", T0 + S));
    }
    write_ok(&api, "o", &(0..8).map(|i| format!("m,host=h{i} v=3 {}\n", T0 + 2 * S)).collect::<String>());
    refused(&api, "o", &format!("m,host=h1 v=4 {T0}\nm,host=new v=1 {T0}\n"));
    assert_eq!(export(&vm, "{db=\"o\"}").values().map(Vec::len).sum::<usize>(), 24);
    let got = export(&vm, "{db=\"o\",host=\"h7\"}");
    assert_eq!(got[&labels(&[("__name__", "m_v"), ("db", "o"), ("host", "h7")])].len(), 3);
}
