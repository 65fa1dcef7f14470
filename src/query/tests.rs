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
    QueryContext::admin(Some(db))
}

fn run_ir(b: &MemBackend, sel: ir::Select) -> Result<Vec<Series>, String> {
    block_on(select::select(b, &ctx("t"), &sel)).map_err(|e| e.message())
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
    // 1.x orders series descending too: h=c, h=b, h=a, h=''.
    assert_eq!(s[3].tags, vec![("h".to_string(), "".to_string())]);
    assert_eq!(s[2].values, vec![vec![t(20), Value::Integer(0)], vec![t(10), Value::Integer(1)]]);
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
            backend.write(WriteBatch { db: "compat".into(), rp: None, points: chunk.iter().collect() }).await.unwrap();
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
        let started = std::time::Instant::now();
        let mut enc = Encoder::new(Format::Json, Epoch::parse(opts.get("epoch").map(|s| s.as_str())), false);
        let mut buf = Vec::new();
        let opt_text = if opts.is_empty() { String::new() } else { format!("{opts:?}") };
        match parsed {
            Err(e) => {
                enc.write_error(&format!("error parsing query: {e}"), &mut buf);
                out.push_str(&format!("### {q}  {opt_text}\n400 {}\n\n", String::from_utf8_lossy(&buf)));
            }
            Ok(query) => {
                let results = block_on(execute(&backend, &c, &query)).expect("store");
                let resp = result::QueryResponse { results, error: None };
                enc.write_response(&resp, &mut buf);
                if std::env::var("QE_TIME").is_ok() {
                    eprintln!("{:>8.1} ms  {q}", started.elapsed().as_secs_f64() * 1000.0);
                }
                out.push_str(&format!("### {q}  {opt_text}\n200 {}\n\n", String::from_utf8_lossy(&buf)));
            }
        }
    }
    std::fs::write(outp, out).unwrap();
}

/// (request on the `small()` data in database `t`, 1.6.7's answer to it).
const SMALL_CASES: &[(&str, &str)] = &[
    (r#"SHOW MEASUREMENTS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["n"]]}]}]}"#),
    (r#"SHOW MEASUREMENTS WITH MEASUREMENT =~ /n/"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["n"]]}]}]}"#),
    (r#"SHOW MEASUREMENTS WHERE h = 'b'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"]]}]}]}"#),
    (r#"SHOW TAG KEYS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["tagKey"],"values":[["h"]]},{"name":"n","columns":["tagKey"],"values":[["h"]]}]}]}"#),
    (r#"SHOW TAG VALUES WITH KEY = h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["key","value"],"values":[["h","a"],["h","b"],["h","c"]]},{"name":"n","columns":["key","value"],"values":[["h","a"]]}]}]}"#),
    (r#"SHOW TAG VALUES FROM m WITH KEY IN (h, x) WHERE h =~ /a|c/"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["key","value"],"values":[["h","a"],["h","c"]]}]}]}"#),
    (r#"SHOW FIELD KEYS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["fieldKey","fieldType"],"values":[["b","boolean"],["f","float"],["i","integer"],["s","string"]]},{"name":"n","columns":["fieldKey","fieldType"],"values":[["v","integer"]]}]}]}"#),
    (r#"SHOW SERIES"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m"],["m,h=a"],["m,h=b"],["m,h=c"],["n,h=a"]]}]}]}"#),
    (r#"SHOW SERIES FROM m WHERE h != 'a'"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m"],["m,h=b"],["m,h=c"]]}]}]}"#),
    (r#"SHOW SERIES CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[5]]}]}]}"#),
    (r#"SHOW SERIES EXACT CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[4]]},{"name":"n","columns":["count"],"values":[[1]]}]}]}"#),
    (r#"SHOW MEASUREMENT EXACT CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[2]]}]}]}"#),
    (r#"SHOW TAG VALUES CARDINALITY WITH KEY = h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[3]]},{"name":"n","columns":["count"],"values":[[1]]}]}]}"#),
    (r#"SHOW RETENTION POLICIES"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true]]}]}]}"#),
    (r#"SELECT * FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null]]}]}]}"#),
    (r#"SELECT * FROM m, n"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s","v"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x",null],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y",null],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null,null],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null,null],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null,null]]},{"name":"n","columns":["time","b","f","h","i","s","v"],"values":[["1970-01-01T00:00:00.000000015Z",null,null,"a",null,null,3]]}]}]}"#),
    (r#"SELECT i, v FROM m, n"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i","v"],"values":[["1970-01-01T00:00:00.00000001Z",1,null],["1970-01-01T00:00:00.00000001Z",2,null],["1970-01-01T00:00:00.00000002Z",0,null],["1970-01-01T00:00:00.00000003Z",5,null],["1970-01-01T00:00:00.00000004Z",7,null]]},{"name":"n","columns":["time","i","v"],"values":[["1970-01-01T00:00:00.000000015Z",null,3]]}]}]}"#),
    (r#"SELECT * FROM /./ ORDER BY time DESC"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"n","columns":["time","b","f","h","i","s","v"],"values":[["1970-01-01T00:00:00.000000015Z",null,null,"a",null,null,3]]},{"name":"m","columns":["time","b","f","h","i","s","v"],"values":[["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null,null],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null,null],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null,null],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y",null],["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x",null]]}]}]}"#),
    (r#"SELECT i/0, f/0, i%0, i*2, i+f, i/2, i-1, -i FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i","f","i_1","i_2","i_f","i_3","i_4","i_5"],"values":[["1970-01-01T00:00:00.00000001Z",0,0,0,2,2.5,0.5,0,-1],["1970-01-01T00:00:00.00000001Z",0,0,0,4,2,1,1,-2],["1970-01-01T00:00:00.00000002Z",0,0,0,0,2.5,0,-1,0],["1970-01-01T00:00:00.00000003Z",0,null,0,10,null,2.5,4,-5],["1970-01-01T00:00:00.00000004Z",0,null,0,14,null,3.5,6,-7]]}]}]}"#),
    (r#"SELECT i + s FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"type error: i::integer + s::string: incompatible types: integer and string"}]}"#),
    (r#"SELECT b + 1 FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"type error: b::boolean + 1: incompatible types: boolean and integer"}]}"#),
    (r#"SELECT * FROM m WHERE i > 0.5"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null]]}]}]}"#),
    (r#"SELECT * FROM m WHERE s = 'x' OR h = 'b'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"]]}]}]}"#),
    (r#"SELECT * FROM m WHERE s != 'x'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"]]}]}]}"#),
    (r#"SELECT * FROM m WHERE b = true"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"]]}]}]}"#),
    (r#"SELECT * FROM m WHERE h = ''"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000003Z",null,null,null,5,null]]}]}]}"#),
    (r#"SELECT * FROM m WHERE nosuch = ''"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null]]}]}]}"#),
    (r#"SELECT * FROM m WHERE nosuch = 1"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SELECT * FROM m WHERE s > 'a'"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SELECT i FROM m WHERE s =~ /x|y/"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000001Z",2]]}]}]}"#),
    (r#"SELECT i FROM m WHERE f * 2 > i"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",0]]}]}]}"#),
    (r#"SELECT i FROM m WHERE h =~ /a/ OR i = 5"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",5]]}]}]}"#),
    (r#"SELECT i FROM m WHERE time > 15"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT i FROM m WHERE time >= 10 AND time <= 20 AND h = 'a'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",0]]}]}]}"#),
    (r#"SELECT i FROM m ORDER BY time DESC"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",7],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000001Z",1]]}]}]}"#),
    (r#"SELECT i FROM m GROUP BY h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":""},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"h":"a"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",0]]},{"name":"m","tags":{"h":"b"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]},{"name":"m","tags":{"h":"c"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT i FROM m GROUP BY h ORDER BY time DESC"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"c"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",7]]},{"name":"m","tags":{"h":"b"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]},{"name":"m","tags":{"h":"a"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000001Z",1]]},{"name":"m","tags":{"h":""},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000003Z",5]]}]}]}"#),
    (r#"SELECT i, h FROM m GROUP BY *"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":""},"columns":["time","i","h"],"values":[["1970-01-01T00:00:00.00000003Z",5,null]]},{"name":"m","tags":{"h":"a"},"columns":["time","i","h"],"values":[["1970-01-01T00:00:00.00000001Z",1,"a"],["1970-01-01T00:00:00.00000002Z",0,"a"]]},{"name":"m","tags":{"h":"b"},"columns":["time","i","h"],"values":[["1970-01-01T00:00:00.00000001Z",2,"b"]]},{"name":"m","tags":{"h":"c"},"columns":["time","i","h"],"values":[["1970-01-01T00:00:00.00000004Z",7,"c"]]}]}]}"#),
    (r#"SELECT i FROM m LIMIT 2 OFFSET 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0]]}]}]}"#),
    (r#"SELECT i FROM m GROUP BY h LIMIT 1 SLIMIT 2 SOFFSET 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"a"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1]]},{"name":"m","tags":{"h":"b"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]}]}]}"#),
    (r#"SELECT *, h FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s","h_1"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x","a"],["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y","b"],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null,"a"],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null,null],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null,"c"]]}]}]}"#),
    (r#"SELECT i, i FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i","i_1"],"values":[["1970-01-01T00:00:00.00000001Z",1,1],["1970-01-01T00:00:00.00000001Z",2,2],["1970-01-01T00:00:00.00000002Z",0,0],["1970-01-01T00:00:00.00000003Z",5,5],["1970-01-01T00:00:00.00000004Z",7,7]]}]}]}"#),
    (r#"SELECT i AS x, f AS x FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","x","x"],"values":[["1970-01-01T00:00:00.00000001Z",1,1.5],["1970-01-01T00:00:00.00000001Z",2,0],["1970-01-01T00:00:00.00000002Z",0,2.5],["1970-01-01T00:00:00.00000003Z",5,null],["1970-01-01T00:00:00.00000004Z",7,null]]}]}]}"#),
    (r#"SELECT i::float, f::integer, i::string FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i","f","i_1"],"values":[["1970-01-01T00:00:00.00000001Z",1,1,null],["1970-01-01T00:00:00.00000001Z",2,0,null],["1970-01-01T00:00:00.00000002Z",0,2,null],["1970-01-01T00:00:00.00000003Z",5,null,null],["1970-01-01T00:00:00.00000004Z",7,null,null]]}]}]}"#),
    (r#"SELECT time AS t, i FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["t","i"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT i + f FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i_f"],"values":[["1970-01-01T00:00:00.00000001Z",2.5],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",2.5],["1970-01-01T00:00:00.00000003Z",null],["1970-01-01T00:00:00.00000004Z",null]]}]}]}"#),
    (r#"SELECT f, i FROM m WHERE i > 4"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","f","i"],"values":[["1970-01-01T00:00:00.00000003Z",null,5],["1970-01-01T00:00:00.00000004Z",null,7]]}]}]}"#),
    (r#"SELECT f FROM m WHERE i > 4"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SELECT h FROM m"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SELECT 1, i FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}"#),
    (r#"SELECT i FROM m WHERE i"#,
     r#"{"results":[{"statement_id":0,"error":"invalid condition expression: i"}]}"#),
    (r#"SELECT count(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",5]]}]}]}"#),
    (r#"SELECT count(*) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count_b","count_f","count_i","count_s"],"values":[["1970-01-01T00:00:00Z",2,3,5,2]]}]}]}"#),
    (r#"SELECT sum(i), mean(i), min(i), max(i), first(i), last(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","sum","mean","min","max","first","last"],"values":[["1970-01-01T00:00:00Z",15,3,0,7,2,7]]}]}]}"#),
    (r#"SELECT max(i), h FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","max","h"],"values":[["1970-01-01T00:00:00.00000004Z",7,"c"]]}]}]}"#),
    (r#"SELECT count(i) FROM m GROUP BY h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2]]},{"name":"m","tags":{"h":"b"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"c"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]}]}]}"#),
    (r#"SELECT count(i) FROM m GROUP BY h ORDER BY time DESC"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"c"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"b"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2]]},{"name":"m","tags":{"h":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]}]}]}"#),
    (r#"SELECT count(i) FROM m WHERE time >= 0 AND time < 50 GROUP BY time(20ns)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2],["1970-01-01T00:00:00.00000002Z",2],["1970-01-01T00:00:00.00000004Z",1]]}]}]}"#),
    (r#"SELECT count(i) FROM m WHERE time >= 0 AND time < 50 GROUP BY time(20ns) fill(none)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2],["1970-01-01T00:00:00.00000002Z",2],["1970-01-01T00:00:00.00000004Z",1]]}]}]}"#),
    (r#"SELECT mean(f) FROM m WHERE time >= 0 AND time < 50 GROUP BY time(10ns) fill(previous)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",0.75],["1970-01-01T00:00:00.00000002Z",2.5],["1970-01-01T00:00:00.00000003Z",2.5],["1970-01-01T00:00:00.00000004Z",2.5]]}]}]}"#),
    (r#"SELECT spread(i), median(i), mode(i), stddev(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","spread","median","mode","stddev"],"values":[["1970-01-01T00:00:00Z",7,2,0,2.9154759474226504]]}]}]}"#),
    (r#"SELECT distinct(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","distinct"],"values":[["1970-01-01T00:00:00Z",1],["1970-01-01T00:00:00Z",2],["1970-01-01T00:00:00Z",0],["1970-01-01T00:00:00Z",5],["1970-01-01T00:00:00Z",7]]}]}]}"#),
    (r#"SELECT top(i, 2), bottom(i, 2) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"selector function top() cannot be combined with other functions"}]}"#),
    (r#"SELECT top(i, h, 2) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","top","h"],"values":[["1970-01-01T00:00:00.00000003Z",5,null],["1970-01-01T00:00:00.00000004Z",7,"c"]]}]}]}"#),
    (r#"SELECT difference(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","difference"],"values":[["1970-01-01T00:00:00.00000002Z",-1],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000004Z",2]]}]}]}"#),
    (r#"SELECT cumulative_sum(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","cumulative_sum"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000001Z",3],["1970-01-01T00:00:00.00000002Z",3],["1970-01-01T00:00:00.00000003Z",8],["1970-01-01T00:00:00.00000004Z",15]]}]}]}"#),
    (r#"SELECT mean(s) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"unsupported mean iterator type: *query.stringInterruptIterator"}]}"#),
    (r#"SELECT mean(i), i FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}"#),
    (r#"SELECT i FROM m GROUP BY time(1m)"#,
     r#"{"results":[{"statement_id":0,"error":"GROUP BY requires at least one aggregate function"}]}"#),
    (r#"SELECT nosuchfunc(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"undefined function nosuchfunc()"}]}"#),
    (r#"SELECT mean(i) FROM m GROUP BY time(1m), time(2m)"#,
     r#"{"results":[{"statement_id":0,"error":"multiple time dimensions not allowed"}]}"#),
    (r#"SELECT derivative(mean(i)) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"derivative aggregate requires a GROUP BY interval"}]}"#),
    (r#"SELECT distinct(i), mean(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"aggregate function distinct() cannot be combined with other functions or fields"}]}"#),
    (r#"SELECT abs() FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"invalid number of arguments for abs, expected 1, got 0"}]}"#),
    (r#"SELECT pow(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"invalid number of arguments for pow, expected 2, got 1"}]}"#),
    (r#"SELECT top(i, h) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"expected integer as last argument in top(), found h"}]}"#),
    (r#"SELECT bottom(i, 'x') FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"expected integer as last argument in bottom(), found 'x'"}]}"#),
    (r#"SELECT percentile(i, 'x') FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"expected float argument in percentile()"}]}"#),
    (r#"SELECT holt_winters(i, 5, 0) FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"must use aggregate function with holt_winters"}]}"#),
    (r#"SELECT max(x) FROM (SELECT i AS x FROM m WHERE i > 0)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","max"],"values":[["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT * FROM nope"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW MEASUREMENTS; SELECT nosuchfunc(i) FROM m; SHOW DATABASES"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["n"]]}]},{"statement_id":1,"error":"not executed"}]}"#),
];

const SMALL_LP: &str = "m,h=a i=1i,f=1.5,s=\"x\",b=true 10\n\
m,h=b i=2i,f=0.0,s=\"y\",b=false 10\n\
m,h=a i=0i,f=2.5 20\n\
m i=5i 30\n\
n,h=a v=3i 15\n\
m,h=c i=7i 40";

/// Runs a query text and encodes the answer as 1.x's JSON.
async fn answer(b: &dyn crate::backend::Backend, db: &str, q: &str) -> String {
    use crate::encode::{Encoder, Epoch, Format};
    let mut enc = Encoder::new(Format::Json, Epoch::Rfc3339, false);
    let mut buf = Vec::new();
    match crate::influxql::parse_query(q) {
        Err(e) => enc.write_error(&format!("error parsing query: {e}"), &mut buf),
        Ok(query) => {
            let results = execute(b, &ctx(db), &query).await.expect("store");
            enc.write_response(&result::QueryResponse { results, error: None }, &mut buf);
        }
    }
    String::from_utf8(buf).unwrap()
}

fn check_cases(b: &dyn crate::backend::Backend, db: &str, cases: &[(&str, &str)]) {
    let mut failed = Vec::new();
    for (q, want) in cases {
        let got = block_on(answer(b, db, q));
        let (g, w): (serde_json::Value, serde_json::Value) =
            (serde_json::from_str(&got).unwrap(), serde_json::from_str(want).unwrap());
        if !json_close(&g, &w) {
            failed.push(format!("{q}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failed.is_empty(), "{} cases differ:\n{}", failed.len(), failed.join("\n"));
}

/// JSON equality with 1e-9 relative tolerance on numbers (Go and Rust may round the last digit
/// of a float sum differently).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_close(p, q)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).map(|w| json_close(v, w)).unwrap_or(false))
        }
        _ => a == b,
    }
}

#[test]
fn small_cases_memory() {
    let b = MemBackend::new();
    b.write_lp("t", SMALL_LP);
    check_cases(&b, "t", SMALL_CASES);
}

#[test]
fn small_cases_embedded() {
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::{Backend, WriteBatch};
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    block_on(async {
        b.create_database("t").await.unwrap();
        let points = crate::lineproto::parse_body_str(SMALL_LP, crate::lineproto::Precision::Nanosecond, 0).unwrap();
        b.write(WriteBatch { db: "t".into(), rp: None, points: points.into() }).await.unwrap();
    });
    check_cases(&b, "t", SMALL_CASES);
}

/// Aggregates answered with the embedded store's pushdown and without it must be identical
/// (three weeks of hourly points: buckets and whole-range aggregates cross shard groups).
#[test]
fn pushdown_matches_evaluator() {
    use super::testing::NoPushdown;
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::{Backend, WriteBatch};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let b = Arc::new(EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap());
    let mut lp = String::new();
    let mut x: u64 = 12345;
    let start = 1_704_067_200_000_000_000i64;
    for h in 0..3 {
        for i in 0..(21 * 24) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let f = (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0;
            let n = (x >> 40) as i64 % 1000 - 500;
            if (i + h) % 7 == 3 {
                continue;
            }
            lp.push_str(&format!("w,host=h{h},dc=d{} f={f},n={n}i {}\n", h % 2, start + i * 3_600_000_000_000));
        }
    }
    block_on(async {
        b.create_database("t").await.unwrap();
        let points = crate::lineproto::parse_body_str(&lp, crate::lineproto::Precision::Nanosecond, 0).unwrap();
        b.write(WriteBatch { db: "t".into(), rp: None, points: points.into() }).await.unwrap();
    });
    let queries = [
        "SELECT count(f), sum(f), mean(f), min(f), max(f), first(f), last(f) FROM w",
        "SELECT count(n), sum(n), mean(n), min(n), max(n), first(n), last(n) FROM w GROUP BY host",
        "SELECT max(f) FROM w",
        "SELECT min(n) FROM w GROUP BY dc",
        "SELECT mean(f), sum(n) FROM w WHERE time >= '2024-01-02T00:00:00Z' AND time < '2024-01-20T00:00:00Z' GROUP BY time(1d)",
        "SELECT mean(f) FROM w WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-22T00:00:00Z' GROUP BY time(3d), dc fill(0)",
        "SELECT count(f) FROM w WHERE host = 'h1' AND time >= '2024-01-01T00:00:00Z' AND time < '2024-01-03T00:00:00Z' GROUP BY time(6h)",
        "SELECT last(f) FROM w WHERE time >= '2024-01-05T00:00:00Z' AND time < '2024-01-09T00:00:00Z' GROUP BY time(12h, 2h), host",
        "SELECT sum(f) FROM w WHERE dc = 'd0' GROUP BY host",
    ];
    let nopush = NoPushdown(b.clone() as Arc<dyn Backend>);
    for q in queries {
        let a = block_on(answer(&*b, "t", q));
        let e = block_on(answer(&nopush, "t", q));
        let (ja, je): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&a).unwrap(), serde_json::from_str(&e).unwrap());
        assert!(json_close(&ja, &je), "{q}\n pushdown  {a}\n evaluator {e}");
        if a != e {
            eprintln!("INEXACT {q}\n {a}\n {e}");
        }
        assert!(a.contains("series"), "{q}: {a}");
    }
}

/// Statements run in order on the `small()` data in `t` (plus an empty `compat`), each with
/// 1.6.7's answer: DDL, deletes, INTO, SHOW with time conditions, 1.x quirks. (1.6.7 named its
/// shard 51 in the deletion error; the shard number is the installation's.)
const STATEFUL_CASES: &[(&str, &str)] = &[
    (r#"CREATE RETENTION POLICY r1 ON t DURATION 2h REPLICATION 1 SHARD DURATION 30m"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"CREATE RETENTION POLICY r2 ON t DURATION 3d REPLICATION 1"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"CREATE RETENTION POLICY r3 ON t DURATION 30m REPLICATION 1"#,
     r#"{"results":[{"statement_id":0,"error":"retention policy duration must be at least 1h0m0s"}]}"#),
    (r#"CREATE RETENTION POLICY r1 ON t DURATION 3h REPLICATION 1"#,
     r#"{"results":[{"statement_id":0,"error":"retention policy already exists"}]}"#),
    (r#"SHOW RETENTION POLICIES"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true],["r1","2h0m0s","1h0m0s",1,false],["r2","72h0m0s","24h0m0s",1,false]]}]}]}"#),
    (r#"ALTER RETENTION POLICY r2 ON t SHARD DURATION 2d"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"ALTER RETENTION POLICY nope ON t DURATION 5h"#,
     r#"{"results":[{"statement_id":0,"error":"retention policy not found: nope"}]}"#),
    (r#"DROP RETENTION POLICY r1 ON t"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"DROP RETENTION POLICY r2 ON t"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW RETENTION POLICIES"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true]]}]}]}"#),
    (r#"SHOW RETENTION POLICIES ON nodb"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#),
    (r#"CREATE RETENTION POLICY r9 ON nodb DURATION 1h REPLICATION 1"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#),
    (r#"SHOW MEASUREMENTS ON nodb"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW TAG KEYS ON nodb"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#),
    (r#"SHOW SERIES ON nodb"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#),
    (r#"SHOW FIELD KEYS ON nodb"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#),
    (r#"SHOW MEASUREMENTS WHERE time > 0"#,
     r#"{"results":[{"statement_id":0,"error":"SHOW MEASUREMENTS doesn't support time in WHERE clause"}]}"#),
    (r#"SHOW SERIES WHERE time > now() - 1h"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW TAG VALUES WITH KEY = h WHERE time > 0"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["key","value"],"values":[["h","a"],["h","b"],["h","c"]]},{"name":"n","columns":["key","value"],"values":[["h","a"]]}]}]}"#),
    (r#"SHOW SERIES CARDINALITY WHERE time > 0"#,
     r#"{"results":[{"statement_id":0,"error":"SHOW SERIES EXACT CARDINALITY doesn't support time in WHERE clause"}]}"#),
    (r#"SHOW TAG KEYS LIMIT 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["tagKey"],"values":[["h"]]},{"name":"n","columns":["tagKey"],"values":[["h"]]}]}]}"#),
    (r#"SHOW TAG VALUES WITH KEY != h"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW TAG VALUES WITH KEY !~ /x/"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["key","value"],"values":[["h","a"],["h","b"],["h","c"]]},{"name":"n","columns":["key","value"],"values":[["h","a"]]}]}]}"#),
    (r#"SHOW SERIES LIMIT 1 OFFSET 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m,h=a"]]}]}]}"#),
    (r#"SHOW TAG KEY CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[1]]},{"name":"n","columns":["count"],"values":[[1]]}]}]}"#),
    (r#"SHOW FIELD KEY EXACT CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[4]]},{"name":"n","columns":["count"],"values":[[1]]}]}]}"#),
    (r#"SHOW MEASUREMENT CARDINALITY"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[2]]}]}]}"#),
    (r#"SELECT i FROM m OFFSET 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]}]}]}"#),
    (r#"SELECT count(i) FROM m WHERE time >= 0 AND time < 50 GROUP BY time(10ns) OFFSET 2"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","count"],"values":[["1970-01-01T00:00:00.00000002Z",1],["1970-01-01T00:00:00.00000003Z",1],["1970-01-01T00:00:00.00000004Z",1]]}]}]}"#),
    (r#"SELECT i FROM m WHERE time > 5 OR i = 1"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1]]}]}]}"#),
    (r#"SELECT difference(max(i)) FROM m WHERE time >= 20 AND time < 50 GROUP BY time(10ns)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","difference"],"values":[["1970-01-01T00:00:00.00000002Z",-2],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000004Z",2]]}]}]}"#),
    (r#"SELECT nosuchfunc(i) FROM m; SHOW DATABASES"#,
     r#"{"results":[{"statement_id":0,"error":"not executed"}]}"#),
    (r#"SHOW MEASUREMENTS; SELECT * FROM nodb..m; SHOW MEASUREMENTS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["n"]]}]},{"statement_id":1,"error":"not executed"}]}"#),
    (r#"SELECT i + 1 INTO m2 FROM m GROUP BY h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",5]]}]}]}"#),
    (r#"SELECT * FROM m2 GROUP BY *"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m2","tags":{"h":""},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000003Z",6]]},{"name":"m2","tags":{"h":"a"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",1]]},{"name":"m2","tags":{"h":"b"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",3]]},{"name":"m2","tags":{"h":"c"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",8]]}]}]}"#),
    (r#"DROP MEASUREMENT m2"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"DROP SERIES FROM m WHERE h = 'c'"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW SERIES"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m"],["m,h=a"],["m,h=b"],["n,h=a"]]}]}]}"#),
    (r#"DELETE FROM m WHERE time < 15"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SELECT * FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null],["1970-01-01T00:00:00.00000003Z",null,null,null,5,null]]}]}]}"#),
    (r#"DELETE FROM m WHERE f > 1"#,
     r#"{"results":[{"statement_id":0,"error":"shard 1: fields not supported in WHERE clause during deletion"}]}"#),
    (r#"DROP SERIES FROM m WHERE time > 0"#,
     r#"{"results":[{"statement_id":0,"error":"DROP SERIES doesn't support time in WHERE clause"}]}"#),
    (r#"DROP MEASUREMENT n"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW MEASUREMENTS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"]]}]}]}"#),
    (r#"SHOW FIELD KEYS"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["fieldKey","fieldType"],"values":[["b","boolean"],["f","float"],["i","integer"],["s","string"]]}]}]}"#),
    (r#"DROP DATABASE t"#,
     r#"{"results":[{"statement_id":0}]}"#),
    (r#"SHOW DATABASES"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["compat"]]}]}]}"#),
    (r#"SELECT * FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"database not found: t"}]}"#),
];

#[test]
fn stateful_cases_memory() {
    let b = MemBackend::new();
    b.write_lp("t", SMALL_LP);
    block_on(crate::backend::Backend::create_database(&b, "compat")).unwrap();
    check_cases(&b, "t", STATEFUL_CASES);
}

#[test]
fn stateful_cases_embedded() {
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::{Backend, WriteBatch};
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    block_on(async {
        b.create_database("compat").await.unwrap();
        b.create_database("t").await.unwrap();
        let points = crate::lineproto::parse_body_str(SMALL_LP, crate::lineproto::Precision::Nanosecond, 0).unwrap();
        b.write(WriteBatch { db: "t".into(), rp: None, points: points.into() }).await.unwrap();
    });
    check_cases(&b, "t", STATEFUL_CASES);
}

#[test]
fn authorization_texts() {
    // 1.6.7 with auth enabled, user bob granted READ on d1 only, request db=d1.
    let ctx = QueryContext {
        db: Some("d1".into()),
        rp: None,
        now: 0,
        can_read: Box::new(|d| d == "d1"),
        is_admin: false,
        chunk_size: 0,
        ..QueryContext::admin(None)
    };
    let check = |q: &str| authorize(&ctx, "bob", &crate::influxql::parse_query(q).unwrap());
    assert_eq!(
        check("CREATE DATABASE x"),
        Err("error authorizing query: bob not authorized to execute statement 'CREATE DATABASE x', requires admin privilege".into())
    );
    assert_eq!(
        check("SELECT * FROM d2..m"),
        Err("error authorizing query: bob not authorized to execute statement 'SELECT * FROM d2..m', requires READ on d2".into())
    );
    assert_eq!(
        check("SHOW MEASUREMENTS ON d2"),
        Err("error authorizing query: bob not authorized to execute statement 'SHOW MEASUREMENTS ON d2', requires READ on d2".into())
    );
    assert_eq!(
        check("SHOW RETENTION POLICIES ON d2"),
        Err("error authorizing query: bob not authorized to execute statement 'SHOW RETENTION POLICIES ON d2', requires READ on d2".into())
    );
    assert_eq!(
        check("SHOW MEASUREMENTS; CREATE DATABASE y"),
        Err("error authorizing query: bob not authorized to execute statement 'CREATE DATABASE y', requires admin privilege".into())
    );
    assert_eq!(check("SELECT * FROM d1..m"), Ok(()));
    assert_eq!(check("SELECT * FROM m"), Ok(()));
    assert_eq!(check("SHOW DATABASES"), Ok(()));
    // SHOW DATABASES lists only what the caller may read.
    let b = MemBackend::new();
    b.write_lp("d1", "m v=1 1");
    b.write_lp("d2", "m v=1 1");
    let q = crate::influxql::parse_query("SHOW DATABASES").unwrap();
    let r = block_on(execute(&b, &ctx, &q)).expect("store");
    assert_eq!(r[0].series[0].values, vec![vec![Value::String("d1".into())]]);
}

/// Run in order on `TAGS_LP` in `t`, with 1.6.7's answers: group ordering by GROUP BY order,
/// `*` with grouped tags, INTO with GROUP BY *, fills per group.
const TAGS_CASES: &[(&str, &str)] = &[
    (r#"SELECT count(i) FROM m GROUP BY k, h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"","k":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a","k":"x"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a","k":"y"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"b","k":"x"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"c","k":"y"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]}]}]}"#),
    (r#"SELECT count(i) FROM m GROUP BY h, k"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"","k":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a","k":"x"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"a","k":"y"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"b","k":"x"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"m","tags":{"h":"c","k":"y"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]}]}]}"#),
    (r#"SELECT i FROM m GROUP BY k, h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"","k":""},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"h":"a","k":"x"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000002Z",0]]},{"name":"m","tags":{"h":"a","k":"y"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1]]},{"name":"m","tags":{"h":"b","k":"x"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]},{"name":"m","tags":{"h":"c","k":"y"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT * FROM m GROUP BY /k/"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000003Z",null,null,5,null]]},{"name":"m","tags":{"k":"x"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",false,0,2,"y"],["1970-01-01T00:00:00.00000002Z",null,2.5,0,null]]},{"name":"m","tags":{"k":"y"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,1,"x"],["1970-01-01T00:00:00.00000004Z",null,null,7,null]]}]}]}"#),
    (r#"SELECT * FROM m GROUP BY k"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000003Z",null,null,null,5,null]]},{"name":"m","tags":{"k":"x"},"columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",false,0,"b",2,"y"],["1970-01-01T00:00:00.00000002Z",null,2.5,"a",0,null]]},{"name":"m","tags":{"k":"y"},"columns":["time","b","f","h","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,"a",1,"x"],["1970-01-01T00:00:00.00000004Z",null,null,"c",7,null]]}]}]}"#),
    (r#"SELECT * FROM m GROUP BY *"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"","k":""},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000003Z",null,null,5,null]]},{"name":"m","tags":{"h":"a","k":"x"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000002Z",null,2.5,0,null]]},{"name":"m","tags":{"h":"a","k":"y"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",true,1.5,1,"x"]]},{"name":"m","tags":{"h":"b","k":"x"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000001Z",false,0,2,"y"]]},{"name":"m","tags":{"h":"c","k":"y"},"columns":["time","b","f","i","s"],"values":[["1970-01-01T00:00:00.00000004Z",null,null,7,null]]}]}]}"#),
    (r#"SELECT max(i), k FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","max","k"],"values":[["1970-01-01T00:00:00.00000004Z",7,"y"]]}]}]}"#),
    (r#"SELECT top(i, k, 1) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","top","k"],"values":[["1970-01-01T00:00:00.00000004Z",7,"y"]]}]}]}"#),
    (r#"SELECT i, k FROM m WHERE time >= 10 AND time <= 20"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i","k"],"values":[["1970-01-01T00:00:00.00000001Z",1,"y"],["1970-01-01T00:00:00.00000001Z",2,"x"],["1970-01-01T00:00:00.00000002Z",0,"x"]]}]}]}"#),
    (r#"SELECT i FROM m WHERE k = 'x' OR h = 'c'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SELECT i FROM m WHERE k =~ /x/ AND i > 0"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]}]}]}"#),
    (r#"SELECT i INTO m3 FROM m GROUP BY *"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",5]]}]}]}"#),
    (r#"SELECT * FROM m3 GROUP BY *"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m3","tags":{"h":"","k":""},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m3","tags":{"h":"a","k":"x"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000002Z",0]]},{"name":"m3","tags":{"h":"a","k":"y"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",1]]},{"name":"m3","tags":{"h":"b","k":"x"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000001Z",2]]},{"name":"m3","tags":{"h":"c","k":"y"},"columns":["time","i"],"values":[["1970-01-01T00:00:00.00000004Z",7]]}]}]}"#),
    (r#"SHOW SERIES FROM m3"#,
     r#"{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["m3"],["m3,h=a,k=x"],["m3,h=a,k=y"],["m3,h=b,k=x"],["m3,h=c,k=y"]]}]}]}"#),
    (r#"SHOW TAG VALUES FROM m WITH KEY IN (h, k)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["key","value"],"values":[["h","a"],["h","b"],["h","c"],["k","x"],["k","y"]]}]}]}"#),
    (r#"SHOW TAG VALUES CARDINALITY FROM m WITH KEY = k"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["count"],"values":[[2]]}]}]}"#),
    (r#"SHOW MEASUREMENTS WHERE k = 'x'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["m3"]]}]}]}"#),
    (r#"SHOW MEASUREMENTS WHERE h = 'a' AND k = 'y'"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["m3"]]}]}]}"#),
    (r#"SELECT mean(i) FROM m WHERE time >= 0 AND time < 40 GROUP BY time(10ns), k fill(none)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","mean"],"values":[["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"k":"x"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0]]},{"name":"m","tags":{"k":"y"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00.00000001Z",1]]}]}]}"#),
    (r#"SELECT mean(i) FROM m WHERE time >= 0 AND time < 40 GROUP BY time(10ns), k fill(previous)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",null],["1970-01-01T00:00:00.00000002Z",null],["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"k":"x"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",0]]},{"name":"m","tags":{"k":"y"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",1],["1970-01-01T00:00:00.00000003Z",1]]}]}]}"#),
    (r#"SELECT mean(i) FROM m WHERE time >= 0 AND time < 40 GROUP BY time(10ns), k fill(linear)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",null],["1970-01-01T00:00:00.00000002Z",null],["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"k":"x"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",null]]},{"name":"m","tags":{"k":"y"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",null],["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",null],["1970-01-01T00:00:00.00000003Z",null]]}]}]}"#),
    (r#"SELECT sum(i) FROM m WHERE time >= 0 AND time < 40 GROUP BY time(10ns), k fill(-1)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"k":""},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",-1],["1970-01-01T00:00:00.00000001Z",-1],["1970-01-01T00:00:00.00000002Z",-1],["1970-01-01T00:00:00.00000003Z",5]]},{"name":"m","tags":{"k":"x"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",-1],["1970-01-01T00:00:00.00000001Z",2],["1970-01-01T00:00:00.00000002Z",0],["1970-01-01T00:00:00.00000003Z",-1]]},{"name":"m","tags":{"k":"y"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",-1],["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000002Z",-1],["1970-01-01T00:00:00.00000003Z",-1]]}]}]}"#),
    (r#"SELECT derivative(mean(i)) FROM m WHERE time >= 10 AND time < 50 GROUP BY time(10ns)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","derivative"],"values":[["1970-01-01T00:00:00.00000002Z",-1.5],["1970-01-01T00:00:00.00000003Z",5],["1970-01-01T00:00:00.00000004Z",2]]}]}]}"#),
    (r#"SELECT difference(i), i FROM m"#,
     r#"{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}"#),
];

const TAGS_LP: &str = "m,h=a,k=y i=1i,f=1.5,s=\"x\",b=true 10\n\
m,h=b,k=x i=2i,f=0.0,s=\"y\",b=false 10\n\
m,h=a,k=x i=0i,f=2.5 20\n\
m i=5i 30\n\
n,h=a v=3i 15\n\
m,h=c,k=y i=7i 40";

#[test]
fn tags_cases_memory() {
    let b = MemBackend::new();
    b.write_lp("t", TAGS_LP);
    check_cases(&b, "t", TAGS_CASES);
}

#[test]
fn tags_cases_embedded() {
    use crate::backend::embedded::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::{Backend, WriteBatch};
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), EmbeddedOptions::default()).unwrap();
    block_on(async {
        b.create_database("t").await.unwrap();
        let points = crate::lineproto::parse_body_str(TAGS_LP, crate::lineproto::Precision::Nanosecond, 0).unwrap();
        b.write(WriteBatch { db: "t".into(), rp: None, points: points.into() }).await.unwrap();
    });
    check_cases(&b, "t", TAGS_CASES);
}

#[test]
fn slimit_picks_in_tag_set_id_order() {
    // 1.6.7 on the compat data: `SELECT count(code) FROM events GROUP BY source, severity SLIMIT 3`
    // answered the groups without `source` first (1.x's tag-set IDs leave empty tags out), and
    // `... SLIMIT 2 SOFFSET 3` answered critical/svc1 and critical/svc2; the answer itself is
    // ordered by tags.
    let b = MemBackend::new();
    let mut lp = String::new();
    for (i, sev) in ["critical", "error", "info", "warn"].iter().enumerate() {
        lp.push_str(&format!("e,severity={sev} c=1i {}\n", i + 1));
        for src in ["svc1", "svc2"] {
            lp.push_str(&format!("e,severity={sev},source={src} c=1i {}\n", i + 10));
        }
    }
    b.write_lp("t", &lp);
    let tags = |q: &str| -> Vec<Vec<(String, String)>> {
        let query = crate::influxql::parse_query(q).unwrap();
        let r = block_on(execute(&b, &ctx("t"), &query)).expect("store");
        r[0].series.iter().map(|s| s.tags.clone()).collect()
    };
    let t = |sev: &str, src: &str| vec![("severity".to_string(), sev.to_string()), ("source".to_string(), src.to_string())];
    assert_eq!(
        tags("SELECT count(c) FROM e GROUP BY source, severity SLIMIT 3"),
        vec![t("critical", ""), t("error", ""), t("info", "")]
    );
    assert_eq!(
        tags("SELECT count(c) FROM e GROUP BY source, severity SLIMIT 2 SOFFSET 3"),
        vec![t("critical", "svc1"), t("critical", "svc2")]
    );
    assert_eq!(
        tags("SELECT count(c) FROM e GROUP BY source, severity ORDER BY time DESC SLIMIT 2"),
        vec![t("error", ""), t("critical", "")]
    );
    assert_eq!(tags("SELECT count(c) FROM e GROUP BY source, severity")[..3], [t("critical", ""), t("critical", "svc1"), t("critical", "svc2")]);
}

#[test]
fn show_measurements_where_like_1x() {
    // 1.6.7: negated comparisons select no measurement; `tag != ''` those having the tag.
    let b = MemBackend::new();
    b.write_lp("t", SMALL_LP);
    let q = |s: &str| block_on(answer(&b, "t", s)).trim_end().to_string();
    assert_eq!(q("SHOW MEASUREMENTS WHERE h != 'a'"), r#"{"results":[{"statement_id":0}]}"#);
    assert_eq!(q("SHOW MEASUREMENTS WHERE h !~ /a/"), r#"{"results":[{"statement_id":0}]}"#);
    assert_eq!(q("SHOW MEASUREMENTS WHERE h = ''"), r#"{"results":[{"statement_id":0}]}"#);
    assert_eq!(
        q("SHOW MEASUREMENTS WHERE h != ''"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["n"]]}]}]}"#
    );
    assert_eq!(
        q("SHOW MEASUREMENTS WHERE h = 'b' OR h = 'a' AND h =~ /a/"),
        r#"{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["m"],["n"]]}]}]}"#
    );
}

/// Transformations (also inside arithmetic) on the `small()` data, with 1.6.7's answers; raw
/// points of several series are seen in 1.x's merge order.
const TRANSFORM_CASES: &[(&str, &str)] = &[
    (r#"SELECT derivative(f) * 2 FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","derivative"],"values":[["1970-01-01T00:00:00.00000002Z",200000000]]}]}]}"#),
    (r#"SELECT difference(max(i)) + 1 FROM m WHERE time >= 0 AND time < 50 GROUP BY time(10ns)"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","difference"],"values":[["1970-01-01T00:00:00.00000002Z",-1],["1970-01-01T00:00:00.00000003Z",6],["1970-01-01T00:00:00.00000004Z",3]]}]}]}"#),
    (r#"SELECT abs(difference(i)) FROM m GROUP BY h"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","tags":{"h":"a"},"columns":["time","abs"],"values":[["1970-01-01T00:00:00.00000002Z",-1]]}]}]}"#),
    (r#"SELECT cumulative_sum(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","cumulative_sum"],"values":[["1970-01-01T00:00:00.00000001Z",1],["1970-01-01T00:00:00.00000001Z",3],["1970-01-01T00:00:00.00000002Z",3],["1970-01-01T00:00:00.00000003Z",8],["1970-01-01T00:00:00.00000004Z",15]]}]}]}"#),
    (r#"SELECT derivative(i) FROM m"#,
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","derivative"],"values":[["1970-01-01T00:00:00.00000002Z",-100000000],["1970-01-01T00:00:00.00000003Z",500000000],["1970-01-01T00:00:00.00000004Z",200000000]]}]}]}"#),
];

#[test]
fn transform_cases() {
    let b = MemBackend::new();
    b.write_lp("t", SMALL_LP);
    check_cases(&b, "t", TRANSFORM_CASES);
}

/// Technical-analysis functions, moving_average and holt_winters over 12 points 10s apart:
/// over aggregates 1.x reads one interval before the range (and keeps its outputs); under ORDER
/// BY time DESC the raw points are walked newest first. Answers captured from InfluxDB 1.6.7.
#[test]
fn ta_functions_like_1_6_7() {
    let b = MemBackend::new();
    let vals = [3.5, 7.25, 1.0, 9.5, 4.0, 4.0, 12.75, 2.5, 8.0, 6.5, 11.0, 3.0];
    let lp: Vec<String> = vals.iter().enumerate().map(|(i, v)| format!("m v={v} {}", i as u64 * 10_000_000_000)).collect();
    b.write_lp("t", &lp.join("\n"));
    check_cases(&b, "t", TA_CASES);
}

const TA_CASES: &[(&str, &str)] = &[
    ("SELECT exponential_moving_average(mean(v),3,0) FROM m WHERE time >= 40s AND time < 120s GROUP BY time(20s)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:00:20Z",5.25],["1970-01-01T00:00:40Z",4.416666666666667],["1970-01-01T00:01:00Z",6.020833333333334],["1970-01-01T00:01:20Z",6.635416666666667],["1970-01-01T00:01:40Z",6.817708333333334]]}]}]}"#),
    ("SELECT moving_average(mean(v),3) FROM m WHERE time >= 40s AND time < 120s GROUP BY time(20s)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","moving_average"],"values":[["1970-01-01T00:01:00Z",5.625],["1970-01-01T00:01:20Z",6.291666666666667],["1970-01-01T00:01:40Z",7.291666666666667]]}]}]}"#),
    ("SELECT kaufmans_efficiency_ratio(mean(v),2,0) FROM m WHERE time >= 40s AND time < 120s GROUP BY time(20s) fill(0)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","kaufmans_efficiency_ratio"],"values":[["1970-01-01T00:00:20Z",1],["1970-01-01T00:00:40Z",0.6153846153846154],["1970-01-01T00:01:00Z",0.48717948717948717],["1970-01-01T00:01:20Z",0.8125],["1970-01-01T00:01:40Z",1]]}]}]}"#),
    ("SELECT exponential_moving_average(v,3) FROM m ORDER BY time DESC LIMIT 3",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:01:30Z",7.416666666666666],["1970-01-01T00:01:20Z",7.708333333333333],["1970-01-01T00:01:10Z",5.104166666666666]]}]}]}"#),
    ("SELECT chande_momentum_oscillator(v,3,1,'simple') FROM m WHERE time >= 30s ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","chande_momentum_oscillator"],"values":[["1970-01-01T00:01:40Z",100],["1970-01-01T00:01:30Z",41.935483870967744],["1970-01-01T00:01:20Z",47.05882352941176],["1970-01-01T00:01:10Z",-10.714285714285706],["1970-01-01T00:01:00Z",47.234042553191486],["1970-01-01T00:00:50Z",-11.847133757961783],["1970-01-01T00:00:40Z",-11.847133757961782],["1970-01-01T00:00:30Z",28.646891507517267]]}]}]}"#),
    ("SELECT holt_winters_with_fit(max(v),2,0) FROM m WHERE time >= 20s AND time < 120s GROUP BY time(20s)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","holt_winters_with_fit"],"values":[["1970-01-01T00:00:20Z",9.5],["1970-01-01T00:00:40Z",4.012796395961608],["1970-01-01T00:01:00Z",12.474218142490203],["1970-01-01T00:01:20Z",9.845519282220422],["1970-01-01T00:01:40Z",9.263254087647008],["1970-01-01T00:02:00Z",9.158069435926286],["1970-01-01T00:02:20Z",9.13963549120916]]}]}]}"#),
];

/// Transformations of aggregates under ORDER BY time DESC, argument checks of the
/// technical-analysis functions. Answers captured from InfluxDB 1.6.7.
#[test]
fn ta_functions_desc_and_errors_like_1_6_7() {
    let b = MemBackend::new();
    let vals = [3.5, 7.25, 1.0, 9.5, 4.0, 4.0, 12.75, 2.5, 8.0, 6.5, 11.0, 3.0];
    let lp: Vec<String> = vals.iter().enumerate().map(|(i, v)| format!("m v={v} {}", i as u64 * 10_000_000_000)).collect();
    b.write_lp("t", &lp.join("\n"));
    check_cases(&b, "t", TA_CASES_2);
}

const TA_CASES_2: &[(&str, &str)] = &[
    ("SELECT cumulative_sum(mean(v)) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","cumulative_sum"],"values":[["1970-01-01T00:01:20Z",7.25],["1970-01-01T00:01:00Z",14.875],["1970-01-01T00:00:40Z",18.875]]}]}]}"#),
    ("SELECT moving_average(mean(v),2) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","moving_average"],"values":[["1970-01-01T00:01:20Z",7.125],["1970-01-01T00:01:00Z",7.4375],["1970-01-01T00:00:40Z",5.8125]]}]}]}"#),
    ("SELECT difference(max(v)), elapsed(max(v),1s) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","difference","elapsed"],"values":[["1970-01-01T00:01:20Z",-3,-20],["1970-01-01T00:01:00Z",4.75,-20],["1970-01-01T00:00:40Z",-8.75,-20]]}]}]}"#),
    ("SELECT relative_strength_index(v,2) FROM m ORDER BY time DESC LIMIT 2 OFFSET 1",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","relative_strength_index"],"values":[["1970-01-01T00:01:20Z",67.46987951807229],["1970-01-01T00:01:10Z",26.046511627906966]]}]}]}"#),
    ("SELECT triple_exponential_derivative(v,2,1) FROM m WHERE time >= 30s ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","triple_exponential_derivative"],"values":[["1970-01-01T00:01:40Z",79.01234567901231],["1970-01-01T00:01:30Z",19.310344827586224],["1970-01-01T00:01:20Z",10.789980732177273],["1970-01-01T00:01:10Z",-16.850241545893716],["1970-01-01T00:01:00Z",27.933999535207988],["1970-01-01T00:00:50Z",-6.878595216469874],["1970-01-01T00:00:40Z",-15.83255666095903],["1970-01-01T00:00:30Z",12.68015485377305]]}]}]}"#),
    ("SELECT exponential_moving_average(mean(v),2,0) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) fill(0) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:01:40Z",7],["1970-01-01T00:01:20Z",7.166666666666667],["1970-01-01T00:01:00Z",7.472222222222222],["1970-01-01T00:00:40Z",5.157407407407407]]}]}]}"#),
    ("SELECT derivative(mean(v)) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","derivative"],"values":[["1970-01-01T00:01:20Z",0.25],["1970-01-01T00:01:00Z",0.375],["1970-01-01T00:00:40Z",-3.625]]}]}]}"#),
    ("SELECT exponential_moving_average(mean(v),2,0) FROM m WHERE time >= 40s AND time < 100s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:01:40Z",7],["1970-01-01T00:01:20Z",7.166666666666667],["1970-01-01T00:01:00Z",7.472222222222222],["1970-01-01T00:00:40Z",5.157407407407407]]}]}]}"#),
    ("SELECT exponential_moving_average(v,0) FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average period must be greater than or equal to 1"}]}"#),
    ("SELECT exponential_moving_average(v,2,-2) FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average hold period must be greater than or equal to 0"}]}"#),
    ("SELECT triple_exponential_derivative(v,2,0) FROM m",
     r#"{"results":[{"statement_id":0,"error":"triple_exponential_derivative hold period must be greater than or equal to 1"}]}"#),
    ("SELECT exponential_moving_average(v,2,1,'none') FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average warmup type must be one of: 'exponential' 'simple'"}]}"#),
    ("SELECT chande_momentum_oscillator(v,2,1,'bogus') FROM m",
     r#"{"results":[{"statement_id":0,"error":"chande_momentum_oscillator warmup type must be one of: 'none' 'exponential' 'simple'"}]}"#),
    ("SELECT kaufmans_efficiency_ratio(v,2,1,'simple') FROM m",
     r#"{"results":[{"statement_id":0,"error":"invalid number of arguments for kaufmans_efficiency_ratio, expected at least 2 but no more than 3, got 4"}]}"#),
    ("SELECT exponential_moving_average(v) FROM m",
     r#"{"results":[{"statement_id":0,"error":"invalid number of arguments for exponential_moving_average, expected at least 2 but no more than 4, got 1"}]}"#),
    ("SELECT exponential_moving_average(v, 2.5) FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average period must be an integer"}]}"#),
    ("SELECT exponential_moving_average(v,2,1,3) FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average warmup type must be a string"}]}"#),
    ("SELECT exponential_moving_average(mean(v),2) FROM m",
     r#"{"results":[{"statement_id":0,"error":"exponential_moving_average aggregate requires a GROUP BY interval"}]}"#),
    ("SELECT exponential_moving_average(v,2) FROM m GROUP BY time(20s)",
     r#"{"results":[{"statement_id":0,"error":"aggregate function required inside the call to exponential_moving_average"}]}"#),
    ("SELECT holt_winters(mean(v),3,0) FROM m WHERE time >= 0s AND time < 120s GROUP BY time(20s) ORDER BY time DESC",
     r#"{"results":[{"statement_id":0}]}"#),
    ("SELECT exponential_moving_average(v,2,1,'simple') * 2 FROM m LIMIT 2",
     r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:00:10Z",10.75],["1970-01-01T00:00:20Z",4.916666666666667]]}]}]}"#),
];

/// holt_winters per tag set, over filled buckets and integer sums; technical-analysis functions
/// per series, two in one query, over a subquery. Answers captured from InfluxDB 1.6.7.
#[test]
fn ta_functions_series_like_1_6_7() {
    let b = MemBackend::new();
    b.write_lp("t", "k,h=a n=-9i,f=121.25 0000000000\nk,h=a n=-31i,f=50.5 30000000000\nk,h=a n=33i,f=6.125 60000000000\nk,h=a n=-41i,f=105.0 90000000000\nk,h=a n=18i,f=12.0 120000000000\nk,h=a n=-4i,f=74.5 150000000000\nk,h=a n=-43i,f=116.375 180000000000\nk,h=a n=14i,f=27.375 210000000000\nk,h=a n=-46i,f=11.0 240000000000\nk,h=a n=5i,f=53.5 270000000000\nk,h=a n=-42i,f=30.75 300000000000\nk,h=a n=-39i,f=70.5 330000000000\nk,h=a n=4i,f=7.5 360000000000\nk,h=a n=22i,f=15.75 390000000000\nk,h=a n=-22i,f=80.625 420000000000\nk,h=a n=30i,f=74.5 450000000000\nk,h=a n=-43i,f=73.75 480000000000\nk,h=a n=24i,f=50.75 510000000000\nk,h=a n=-44i,f=124.875 540000000000\nk,h=a n=-22i,f=5.875 570000000000\nk,h=b n=21i,f=109.875 0000000000\nk,h=b n=-33i,f=37.0 30000000000\nk,h=b n=3i,f=18.375 60000000000\nk,h=b n=19i,f=15.0 90000000000\nk,h=b n=23i,f=39.375 120000000000\nk,h=b n=21i,f=104.375 150000000000\nk,h=b n=37i,f=23.125 180000000000\nk,h=b n=-37i,f=74.375 210000000000\nk,h=b n=23i,f=81.75 240000000000\nk,h=b n=-26i,f=47.625 270000000000\nk,h=b n=-38i,f=70.0 300000000000\nk,h=b n=41i,f=8.0 330000000000\nk,h=b n=22i,f=7.625 360000000000\nk,h=b n=29i,f=26.25 390000000000\nk,h=b n=13i,f=87.0 420000000000\nk,h=b n=18i,f=54.625 450000000000\nk,h=b n=49i,f=40.125 480000000000\nk,h=b n=9i,f=74.875 510000000000\nk,h=b n=8i,f=46.25 540000000000\nk,h=b n=-12i,f=31.75 570000000000");
    check_cases(&b, "t", TA_CASES_3);
}

const TA_CASES_3: &[(&str, &str)] = &[
    ("SELECT holt_winters(sum(n),2,3) FROM k WHERE time >= 0s AND time < 600s GROUP BY time(1m), h",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","tags":{"h":"a"},"columns":["time","holt_winters"],"values":[["1970-01-01T00:10:00Z",-24.802853377330127],["1970-01-01T00:11:00Z",-63.34586613336271]]},{"name":"k","tags":{"h":"b"},"columns":["time","holt_winters"],"values":[["1970-01-01T00:10:00Z",38.48123789487895],["1970-01-01T00:11:00Z",38.25907528619852]]}]}]}"#),
    ("SELECT holt_winters_with_fit(mean(f),1,0) FROM k WHERE time >= 0s AND time < 600s GROUP BY time(2m) fill(0)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","columns":["time","holt_winters_with_fit"],"values":[["1970-01-01T00:00:00Z",57.890625],["1970-01-01T00:02:00Z",53.78089507205213],["1970-01-01T00:04:00Z",51.01198283551183],["1970-01-01T00:06:00Z",49.92209909033712],["1970-01-01T00:08:00Z",49.537117279542294],["1970-01-01T00:10:00Z",49.40540402226019]]}]}]}"#),
    ("SELECT relative_strength_index(n,3) FROM k GROUP BY h LIMIT 2",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","tags":{"h":"a"},"columns":["time","relative_strength_index"],"values":[["1970-01-01T00:01:30Z",35.4898336414048],["1970-01-01T00:02:00Z",58.253588516746404]]},{"name":"k","tags":{"h":"b"},"columns":["time","relative_strength_index"],"values":[["1970-01-01T00:01:30Z",64.11960132890366],["1970-01-01T00:02:00Z",66.35514018691589]]}]}]}"#),
    ("SELECT triple_exponential_moving_average(f,3,2,'simple') FROM k WHERE time >= 300s",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","columns":["time","triple_exponential_moving_average"],"values":[["1970-01-01T00:05:30Z",57.083333333333336],["1970-01-01T00:05:30Z",8.000000000000014],["1970-01-01T00:06:00Z",-13.034722222222221],["1970-01-01T00:06:00Z",-3.221354166666682],["1970-01-01T00:06:30Z",11.641203703703695],["1970-01-01T00:06:30Z",24.544343171296287],["1970-01-01T00:07:00Z",75.0581958912037],["1970-01-01T00:07:00Z",90.89981192129628],["1970-01-01T00:07:30Z",80.67098885995372],["1970-01-01T00:07:30Z",58.823273835358805],["1970-01-01T00:08:00Z",70.10977059823495],["1970-01-01T00:08:00Z",43.756074128327555],["1970-01-01T00:08:30Z",47.326567473234974],["1970-01-01T00:08:30Z",70.40526693838615],["1970-01-01T00:09:00Z",119.64498406869393],["1970-01-01T00:09:00Z",60.64184683340565],["1970-01-01T00:09:30Z",9.967190565886327],["1970-01-01T00:09:30Z",22.94064873236198]]}]}]}"#),
    ("SELECT kaufmans_adaptive_moving_average(max(f),2) FROM k WHERE time >= 60s AND time < 600s GROUP BY time(1m) fill(previous)",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","columns":["time","kaufmans_adaptive_moving_average"],"values":[["1970-01-01T00:02:00Z",104.72222222222223],["1970-01-01T00:03:00Z",109.01635279165392],["1970-01-01T00:04:00Z",105.546878192478],["1970-01-01T00:05:00Z",89.97048788471],["1970-01-01T00:06:00Z",61.6502710470611],["1970-01-01T00:07:00Z",62.292264876388394],["1970-01-01T00:08:00Z",65.02813137760516],["1970-01-01T00:09:00Z",76.17745591364405]]}]}]}"#),
    ("SELECT chande_momentum_oscillator(n,2), exponential_moving_average(f,2) FROM k WHERE h='a' LIMIT 4",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","columns":["time","chande_momentum_oscillator","exponential_moving_average"],"values":[["1970-01-01T00:00:30Z",-100,74.08333333333334],["1970-01-01T00:01:00Z",48.837209302325576,28.777777777777786],["1970-01-01T00:01:30Z",-7.246376811594203,79.5925925925926],["1970-01-01T00:02:00Z",-11.278195488721805,34.53086419753087]]}]}]}"#),
    ("SELECT exponential_moving_average(n,2) FROM (SELECT n FROM k) LIMIT 3",
     r#"{"results":[{"statement_id":0,"series":[{"name":"k","columns":["time","exponential_moving_average"],"values":[["1970-01-01T00:00:00Z",11],["1970-01-01T00:00:30Z",-17],["1970-01-01T00:00:30Z",-27.666666666666664]]}]}]}"#),
];

/// `GROUP BY time … ORDER BY time DESC LIMIT n OFFSET k` reads only the windows its answer shows
/// (`select::aggregate::narrow`) and answers as reading the whole range does: each series' rows
/// are those of the statement without LIMIT/OFFSET (not narrowed), `k` skipped, `n` kept. Series `a` has a point every 10 s, `b` three early points and
/// one late, `c` points only long before the end; field `w` is on some points only, so
/// `fill(previous)`/`fill(linear)` reach back past the narrowed windows.
#[test]
fn desc_limit_reads_only_the_answer_windows() {
    const S: i64 = 1_000_000_000;
    let b = MemBackend::new();
    let mut lp = String::new();
    for k in 0..360i64 {
        let w = if k % 37 == 0 { format!(",w={}i", k) } else { String::new() };
        lp.push_str(&format!("m,h=a v={}{w} {}\n", (k * 7919) % 101, 3600 * S + k * 10 * S));
    }
    for (k, t) in [(1, 3600), (2, 3700), (3, 3900), (4, 7100)] {
        lp.push_str(&format!("m,h=b v={k},w={k}i {}\n", t * S));
    }
    for k in 0..5i64 {
        lp.push_str(&format!("m,h=c v={k} {}\n", (100 + k * 60) * S));
    }
    b.write_lp("t", &lp);
    let end = 7200 * S;
    let mut narrowed = 0;
    for fill in ["", " fill(none)", " fill(previous)", " fill(linear)", " fill(3)"] {
        for (lim, off) in [(3, 0), (2, 4), (4, 13), (500, 0)] {
            for lower in ["", "time >= 3000000000000 AND "] {
                for group in ["", ", h"] {
                    let base = format!("SELECT max(v), count(w), last(w) FROM m WHERE {lower}time < {end} GROUP BY time(1m){group}{fill}");
                    let desc = format!("{base} ORDER BY time DESC LIMIT {lim} OFFSET {off}");
                    let run = |q: &str| {
                        let parsed = crate::influxql::parse_query(q).unwrap();
                        let mut r = block_on(execute(&b, &ctx("t"), &parsed)).expect("store");
                        let res = r.remove(0);
                        assert!(res.error.is_none(), "{q}: {:?}", res.error);
                        res.series
                    };
                    let want: Vec<Series> = run(&format!("{base} ORDER BY time DESC"))
                        .into_iter()
                        .filter_map(|mut s| {
                            s.values = s.values.into_iter().skip(off).take(lim).collect();
                            (!s.values.is_empty()).then_some(s)
                        })
                        .collect();
                    b.take_scans();
                    let got = run(&desc);
                    assert_eq!(got, want, "{desc}");
                    // The last scan is the read (the probes come before it).
                    let lo = b.take_scans().last().map_or(i64::MIN, |s| s.0);
                    if lo > 3000 * S {
                        narrowed += 1;
                    }
                }
            }
        }
    }
    // Read from within the last hour: every statement but fill(none)'s, the 500-row ones and
    // those grouping by h without a lower bound (`c`'s last point is 340 s in).
    assert_eq!(narrowed, 4 * 3 * 3, "statements narrowed");
}
