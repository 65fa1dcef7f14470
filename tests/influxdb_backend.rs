//! influxgate in front of another InfluxDB 1.6.7 (`--backend influxdb`, Debian package
//! `influxdb`): writes and their errors as 1.x answers them (compared with a direct influxd), the
//! token's rights kept by influxgate, hostile names, exact types through MessagePack, and an
//! upstream that stops (503 with Retry-After). The query corpus runs through it in
//! tests/diff_queries.rs (`differential_queries_influxdb_upstream`).

mod common;
#[path = "support/decode.rs"]
mod decode;

use common::*;
use serde_json::{json, Value};

fn gate_on(upstream: &Influxd, tokens: Vec<TokenSpec>) -> Gate {
    let mut cfg = GateConfig::new();
    cfg.backend.push("kind = \"influxdb\"".into());
    cfg.backend.push(format!("url = {:?}", upstream.url));
    for t in tokens {
        cfg = cfg.token(t);
    }
    Gate::start_with(cfg.raw("[backend.influxdb]\nconnect_timeout = \"1s\"\n"))
}

/// The same write on influxgate (whose upstream starts empty) and on a direct influxd: same
/// status, same error text.
fn same_write(ours: &Api, oracle: &Api, db: &str, body: &str) -> Resp {
    let (a, b) = (ours.write(db, body), oracle.write(db, body));
    let error = |r: &Resp| if r.status == 204 { String::new() } else { r.error() };
    assert_eq!((a.status, error(&a)), (b.status, error(&b)), "write {body:?}: influxgate {} / influxd {}", a.describe(), b.describe());
    a
}

#[test]
fn writes_and_their_errors_are_1x_answers() {
    let (upstream, oracle_d) = (Influxd::start(), Influxd::start());
    let gate = gate_on(&upstream, vec![]);
    let (ours, oracle) = (gate.admin(), oracle_d.api());
    oracle.query_ok("CREATE DATABASE w", "");
    assert_eq!(same_write(&ours, &oracle, "w", "m,h=a v=1.5,n=2i 1000000000\nm,h=b v=5 2000000000").status, 204);
    // A field type conflict: the whole line refused, 1.x's text.
    let conflict = same_write(&ours, &oracle, "w", "m,h=a v=1i 3000000000");
    assert_eq!(conflict.status, 400);
    assert!(conflict.error().starts_with("partial write: field type conflict:"), "{}", conflict.describe());
    // A partial write: the good point is stored, the bad one dropped, 400 with dropped=1.
    let partial = same_write(&ours, &oracle, "w", "m,h=c v=7.25 4000000000\nm,h=c v=\"s\" 5000000000");
    assert!(partial.error().contains("dropped=1"), "{}", partial.describe());
    // What was stored answers the same, a float 5 staying a float in MessagePack.
    let q = "SELECT * FROM m";
    let (a, b) = (ours.query(q, "w"), oracle.query(q, "w"));
    assert_eq!(a.json(), b.json());
    assert_eq!(rows(&a.json()).len(), 3);
    let params = [("q", q), ("db", "w")];
    let msgpack = |api: &Api| api.send("POST", "/query", &params, &[("Accept", "application/x-msgpack")], None).body;
    let (ma, mb) = (decode::msgpack_docs(&msgpack(&ours)).unwrap(), decode::msgpack_docs(&msgpack(&oracle)).unwrap());
    assert_eq!(decode::diff(&json!(ma), &json!(mb), "", false), None);
    // A write to a database that does not exist creates it upstream (as every store here does).
    assert_eq!(ours.write("fresh", "m v=1 1").status, 204);
    assert_eq!(rows(&ours.query_ok("SELECT v FROM m", "fresh")), vec![vec![json!(1), json!(1)]]);
    let n = upstream.api().query_ok("SELECT count(v) FROM m", "fresh");
    assert_eq!(rows(&n)[0][1], json!(1));
}

#[test]
fn rights_stay_influxgates() {
    let upstream = Influxd::start();
    let reader = TokenSpec::new("reader").read(&["a"]).write(&["a"]);
    let gate = gate_on(&upstream, vec![reader.clone()]);
    let admin = gate.admin();
    assert_eq!(admin.write("a", "m v=1 1").status, 204);
    assert_eq!(admin.write("b", "secret v=2 1").status, 204);
    let r = gate.api(Auth::Token(reader.token.clone()));
    assert_eq!(rows(&r.query_ok("SELECT v FROM m", "a")).len(), 1);
    for (q, db) in [("SELECT * FROM secret", "b"), ("SELECT * FROM b..secret", "a"), ("SELECT * FROM (SELECT * FROM b..secret)", "a"), ("SHOW MEASUREMENTS", "b")] {
        let resp = r.query(q, db);
        assert_eq!(resp.status, 401, "{q}: {}", resp.describe());
        assert!(resp.error().contains("requires READ on b"), "{q}: {}", resp.describe());
    }
    // SELECT INTO writes: refused without admin rights, even into a database it may write.
    let into = r.query("SELECT v INTO a..copy FROM m", "a");
    assert_eq!(into.status, 401, "{}", into.describe());
    assert!(into.error().contains("requires admin privilege"), "{}", into.describe());
    assert_eq!(r.write("b", "m v=3 1").status, 401);
    // SHOW DATABASES lists only what the token may read; the admin sees both.
    let names = |api: &Api| -> Vec<Value> { rows(&api.query_ok("SHOW DATABASES", "")).into_iter().map(|r| r[0].clone()).collect() };
    assert_eq!(names(&r), vec![json!("a")]);
    assert_eq!(names(&admin), vec![json!("a"), json!("b")]);
    // Nothing of that reached the upstream: no `copy` measurement.
    assert!(rows(&upstream.api().query_ok("SHOW MEASUREMENTS", "a")).iter().all(|m| m[0] != json!("copy")));
}

#[test]
fn hostile_names_reach_the_upstream_as_written() {
    let upstream = Influxd::start();
    let gate = gate_on(&upstream, vec![]);
    let api = gate.admin();
    // 1.x refuses only `/` and `\` in a database name ("invalid name", a 400 here too).
    let db = "a&db=_internal?x#y%2Fz \"q\" 'p' +;,=";
    assert_eq!(api.write("x/y", "m v=1 1").error(), "invalid name");
    let line = "m\\,x\\ \"=y,t\\=g=v\\,w f=1.5 1";
    assert_eq!(api.write(db, line).status, 204, "{}", api.write(db, line).describe());
    let dbs = upstream.api().query_ok("SHOW DATABASES", "");
    assert!(rows(&dbs).iter().any(|r| r[0] == json!(db)), "{dbs}");
    let q = format!("SELECT * FROM {}", "\"m,x \\\"=y\"");
    let v = api.query_ok(&q, db);
    assert_eq!(rows(&v), vec![vec![json!(1), json!(1.5), json!("v,w")]], "{v}");
    assert_eq!(columns(&v), vec!["time", "f", "t=g"]);
    // A statement naming the database is sent as its canonical text, quoted.
    let v = api.query_ok(&format!("SHOW MEASUREMENTS ON {}", influx_ident(db)), "");
    assert_eq!(rows(&v), vec![vec![json!("m,x \"=y")]]);
}

/// `name` as a quoted InfluxQL identifier.
fn influx_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn a_stopped_upstream_is_503_with_retry_after() {
    let upstream = Influxd::start();
    let gate = gate_on(&upstream, vec![]);
    let api = gate.admin();
    assert_eq!(api.write("d", "m v=1 1").status, 204);
    drop(upstream);
    for r in [api.write("d", "m v=2 2"), api.query("SELECT * FROM m", "d")] {
        assert_eq!(r.status, 503, "{}", r.describe());
        assert!(r.header("Retry-After").is_some(), "{}", r.describe());
    }
    assert_eq!(api.get("/health").status, 503);
}

#[test]
fn an_answer_over_max_answer_bytes_is_a_statement_error() {
    let upstream = Influxd::start();
    let mut cfg = GateConfig::new();
    cfg.backend.push("kind = \"influxdb\"".into());
    cfg.backend.push(format!("url = {:?}", upstream.url));
    let gate = Gate::start_with(cfg.raw("[backend.influxdb]\nmax_answer_bytes = 4096\n"));
    let api = gate.admin();
    let body: String = (0..400).map(|i| format!("m,h=h{i} v={i}.5 {}\n", 1_000_000_000 + i)).collect();
    assert_eq!(api.write("big", &body).status, 204);
    // A small answer fits; the whole measurement (well over 4 KiB as MessagePack) does not.
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE h = 'h1'", "big")).len(), 1);
    let r = api.query("SELECT * FROM m", "big");
    assert!(r.text().contains("influxdb answer larger than 4096 bytes"), "{}", r.describe());
    // The server goes on answering.
    assert_eq!(rows(&api.query_ok("SELECT v FROM m WHERE h = 'h2'", "big")).len(), 1);
}
