//! Engine tests on the in-memory store. Expected answers were captured from InfluxDB 1.6.7
//! (the request is in a comment above each).

use super::ir::{self, BinOp, Expr};
use super::result::{Series, Value};
use super::testing::MemBackend;
use super::*;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// `m` and `n` of the small hand-made database used by several tests.
fn small() -> MemBackend {
    let b = MemBackend::new();
    b.write_lp(
        "t",
        "m,h=a i=1i,f=1.5,s=\"x\",b=true 10\n\
         m,h=b i=2i,f=0.0,s=\"y\",b=false 10\n\
         m,h=a i=0i,f=2.5 20\n\
         m i=5i 30\n\
         n,h=a v=3i 15\n\
         m,h=c i=7i 40",
    );
    b
}

fn ctx(db: &str) -> QueryContext {
    let mut c = QueryContext::admin(Some(db));
    c.now = 1_000_000;
    c
}

fn run_ir(b: &MemBackend, sel: ir::Select) -> Result<Vec<Series>, String> {
    block_on(select::select(b, &ctx("t"), &sel))
}

fn src(name: &str) -> ir::Source {
    ir::Source::Measurement { db: None, rp: None, name: name.into() }
}

fn field(e: Expr) -> ir::Field {
    ir::Field { expr: e, alias: None }
}

fn t(ns: i64) -> Value {
    Value::Time(ns)
}

#[test]
fn ir_raw_wildcard_and_condition() {
    let b = small();
    // SELECT * FROM m WHERE i > 0.5
    let sel = ir::Select {
        fields: vec![field(Expr::Wildcard { hint: None })],
        sources: vec![src("m")],
        condition: Some(Expr::bin(BinOp::Gt, Expr::var("i"), Expr::Float(0.5))),
        ..Default::default()
    };
    let s = run_ir(&b, sel).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].columns, vec!["time", "b", "f", "h", "i", "s"]);
    assert_eq!(s[0].values.len(), 4);
    assert_eq!(
        s[0].values[0],
        vec![t(10), Value::Boolean(true), Value::Float(1.5), Value::String("a".into()), Value::Integer(1), Value::String("x".into())]
    );
    assert_eq!(s[0].values[2][0], t(30));
    assert_eq!(s[0].values[2][3], Value::Null);
}

#[test]
fn ir_raw_group_by_tag_and_desc() {
    let b = small();
    // SELECT i FROM m GROUP BY h ORDER BY time DESC
    let sel = ir::Select {
        fields: vec![field(Expr::var("i"))],
        sources: vec![src("m")],
        dimensions: vec![ir::Dimension::Tag("h".into())],
        order_desc: true,
        ..Default::default()
    };
    let s = run_ir(&b, sel).unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].tags, vec![("h".to_string(), "".to_string())]);
    assert_eq!(s[1].values, vec![vec![t(20), Value::Integer(0)], vec![t(10), Value::Integer(1)]]);
}

#[test]
fn ir_aggregate_count() {
    let b = small();
    // SELECT count(i) FROM m
    let sel = ir::Select {
        fields: vec![field(Expr::call("count", vec![Expr::var("i")]))],
        sources: vec![src("m")],
        ..Default::default()
    };
    let s = run_ir(&b, sel).unwrap();
    assert_eq!(s[0].columns, vec!["time", "count"]);
    assert_eq!(s[0].values, vec![vec![t(0), Value::Integer(5)]]);
}

/// Development harness, not a test of the suite: runs the query cases of `QE_CASES` (one a line,
/// `[opt=v ..] query`) against the line protocol of `QE_DATA` loaded into the embedded store
/// (database `compat`), writing `### query` + JSON answer lines to `QE_OUT`, for comparison with
/// the same requests answered by influxd 1.6.7.
#[test]
#[ignore]
fn oracle_harness() {
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::WriteBatch;
    use crate::encode::{Encoder, Epoch, Format};
    use crate::influxql::ParamValue;
    let (Ok(data), Ok(cases), Ok(outp)) = (std::env::var("QE_DATA"), std::env::var("QE_CASES"), std::env::var("QE_OUT")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let lp = std::fs::read_to_string(data).unwrap();
    block_on(async {
        backend.create_database("compat").await.unwrap();
        let points = crate::lineproto::parse_body_str(&lp, crate::lineproto::Precision::Nanosecond, 0).unwrap();
        for chunk in points.chunks(5000) {
            backend.write(WriteBatch { db: "compat".into(), rp: None, points: chunk.to_vec() }).await.unwrap();
        }
    });
    let mut out = String::new();
    for raw in std::fs::read_to_string(cases).unwrap().lines() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let mut opts: std::collections::HashMap<String, String> = Default::default();
        let mut q = raw;
        if raw.starts_with('[') {
            let end = raw.find(']').unwrap();
            for tok in raw[1..end].split_whitespace() {
                let (k, v) = tok.split_once('=').unwrap_or((tok, ""));
                opts.insert(k.into(), v.into());
            }
            q = raw[end + 1..].trim();
        }
        if opts.contains_key("accept") || opts.contains_key("chunked") {
            continue;
        }
        let db = opts.get("db").cloned().unwrap_or_else(|| "compat".into());
        let mut c = QueryContext::admin(if db.is_empty() { None } else { Some(&db) });
        c.now = now_ns();
        let parsed = match opts.get("params") {
            Some(p) => {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                let mut m = std::collections::HashMap::new();
                for (k, v) in v.as_object().unwrap() {
                    m.insert(k.clone(), ParamValue::String(v.as_str().unwrap_or_default().to_string()));
                }
                crate::influxql::parse_query_with_params(q, &m)
            }
            None => crate::influxql::parse_query(q),
        };
        let mut enc = Encoder::new(Format::Json, Epoch::parse(opts.get("epoch").map(|s| s.as_str())), false);
        let mut buf = Vec::new();
        let opt_text = if opts.is_empty() { String::new() } else { format!("{opts:?}") };
        match parsed {
            Err(e) => {
                enc.write_error(&format!("error parsing query: {e}"), &mut buf);
                out.push_str(&format!("### {q}  {opt_text}\n400 {}\n\n", String::from_utf8_lossy(&buf)));
            }
            Ok(query) => {
                let results = block_on(execute(&backend, &c, &query));
                let resp = result::QueryResponse { results, error: None };
                enc.write_response(&resp, &mut buf);
                out.push_str(&format!("### {q}  {opt_text}\n200 {}\n\n", String::from_utf8_lossy(&buf)));
            }
        }
    }
    std::fs::write(outp, out).unwrap();
}
