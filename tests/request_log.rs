//! The request log: one line per request with its facts, in text and in JSON, a slow-query line
//! with the statements, and no credential in any line, whichever way it was sent (Token and
//! Bearer headers, Basic, `u`/`p` in the query string and in a form body, passwords inside
//! `CREATE USER` / `SET PASSWORD`), a wrong token included. The binary's whole output (stdout and
//! stderr, at debug level) is searched for every secret.

mod common;
use common::raw::RawConn;
use common::*;
use serde_json::Value;

const USER: &str = "log-user-name-5521";
const PW1: &str = "pw-secret-create-8817";
const PW2: &str = "pw-secret-set-4410";
const WRONG: &str = "wrong-token-secret-0937";

fn start(format: &str, t: &TokenSpec) -> Gate {
    Gate::start_with(
        GateConfig::new()
            .log("level = \"debug\"")
            .log(&format!("format = \"{format}\""))
            .log("slow_query_threshold = \"1ns\"")
            .token(t.clone()),
    )
}

/// Sends the token (and passwords) every way a client can; returns the request id and body of a
/// query answered with a known length, for the `bytes` check.
fn send_credentials_every_way(g: &Gate, t: &TokenSpec) -> (String, usize) {
    let tok = t.token.as_str();
    let auths = [
        Auth::Token(tok.into()),
        Auth::Bearer(tok.into()),
        Auth::Basic(USER.into(), tok.into()),
        Auth::Query(USER.into(), tok.into()),
    ];
    for a in auths {
        let api = g.api(a.clone());
        assert_eq!(api.write("logdb", "m,h=a v=1 1\nm,h=b v=2 2\nm,h=c v=3 3").status, 204, "{a:?}");
        let r = api.query_with(&[("q", "SELECT v FROM m; SHOW DATABASES"), ("db", "logdb")]);
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    let create = format!("CREATE USER made_user WITH PASSWORD '{PW1}'");
    let set = format!("SET PASSWORD FOR made_user = '{PW2}'");
    let admin = g.api(Auth::Query(USER.into(), tok.into()));
    admin.query_with(&[("q", &create)]);
    admin.query_with(&[("q", &set)]);
    // A form body carrying u, p and a password statement.
    let form = format!("u={USER}&p={tok}&q={}", form_urlencoded::byte_serialize(set.as_bytes()).collect::<String>());
    let r = g.api(Auth::None).send(
        "POST",
        "/query",
        &[],
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &format!("Token {tok}"))],
        Some(form.into_bytes()),
    );
    assert_ne!(r.status, 401, "{}", r.describe());
    assert_eq!(g.api(Auth::Token(WRONG.into())).write("logdb", "m v=1").status, 401);
    assert_eq!(g.api(Auth::Header(format!("Bearer {WRONG}"))).query("SHOW DATABASES", "").status, 401);

    let mut conn = RawConn::connect(g.port).unwrap();
    let target = format!("/query?db=logdb&pretty=true&u={USER}&p={tok}&q=SELECT+v+FROM+m");
    let rid = "rid-bytes-check-0001";
    let r = conn.request("GET", &target, &[("Request-Id", rid)], b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    (rid.to_string(), r.body.len())
}

fn assert_no_secret(out: &str, t: &TokenSpec) {
    let basic = base64_of(&format!("{USER}:{}", t.token));
    for secret in [t.token.as_str(), PW1, PW2, WRONG, USER, basic.as_str()] {
        let line = out.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "{secret:?} appears in the log:\n{}", line.unwrap_or(""));
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Starts a server logging in `format`, sends credentials every way, checks that none is in its
/// output; the server, the raw query's request id and body length, and the whole output (once
/// the raw query's line, written when its answer is sent whole, is there).
fn exercise(format: &str) -> (Gate, String, usize, String) {
    let t = TokenSpec::new("logger").admin();
    let g = start(format, &t);
    let (rid, len) = send_credentials_every_way(&g, &t);
    assert!(g.wait_output(&rid, std::time::Duration::from_secs(10)), "no line for {rid}:\n{}", g.output());
    let out = g.full_output();
    assert_no_secret(&out, &t);
    (g, rid, len, out)
}

#[test]
fn json_lines_carry_the_facts_and_no_credential() {
    let (_g, rid, len, out) = exercise("json");

    let lines: Vec<Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let access: Vec<&Value> = lines.iter().filter(|v| v["target"] == "influxgate::access").collect();
    assert!(access.len() >= 14, "{} access lines:\n{out}", access.len());
    let writes: Vec<&&Value> = access.iter().filter(|v| v["path"] == "/write?db=logdb" && v["status"] == 204).collect();
    assert_eq!(writes.len(), 4, "{out}");
    for w in &writes {
        assert_eq!(w["points"], 3, "{w}");
        assert_eq!(w["token"], "logger", "{w}");
        assert_eq!(w["method"], "POST");
        assert!(w["request_id"].as_str().is_some_and(|r| r.len() == 36), "{w}");
        assert!(w["duration_ms"].as_f64().is_some_and(|d| d > 0.0), "{w}");
    }
    let two = access.iter().filter(|v| v["statements"] == 2 && v["status"] == 200).count();
    assert_eq!(two, 4, "queries of two statements:\n{out}");
    let mine = access.iter().find(|v| v["request_id"] == rid.as_str()).expect("the line of the raw query");
    assert_eq!(mine["bytes"], len as u64, "{mine}");
    assert_eq!(mine["path"], "/query?db=logdb&pretty=true&q=SELECT+v+FROM+m", "{mine}");
    let denied = access.iter().filter(|v| v["status"] == 401 && v["token"] == "-").count();
    assert_eq!(denied, 2, "{out}");

    let slow: Vec<&Value> = lines.iter().filter(|v| v["target"] == "influxgate::slow_query").collect();
    assert!(slow.iter().any(|v| v["query"].as_str().is_some_and(|q| q.contains("CREATE USER") && q.contains("PASSWORD [REDACTED]"))), "{out}");
    assert!(slow.iter().any(|v| v["query"] == "SET PASSWORD [REDACTED]"), "{out}");
    assert!(slow.iter().any(|v| v["query"] == "SELECT v FROM m; SHOW DATABASES" && v["statements"] == 2), "{out}");
}

#[test]
fn text_lines_carry_the_facts_and_no_credential() {
    let (_g, rid, len, out) = exercise("text");
    let mine = out.lines().find(|l| l.contains(&rid) && l.contains("influxgate::access")).expect("the line of the raw query");
    for field in [
        "token=\"logger\"".to_string(),
        "method=\"GET\"".into(),
        "path=\"/query?db=logdb&pretty=true&q=SELECT+v+FROM+m\"".into(),
        "status=200".into(),
        format!("bytes={len}"),
        "statements=1".into(),
        "points=0".into(),
        "duration_ms=".into(),
    ] {
        assert!(mine.contains(&field), "{field} missing in: {mine}");
    }
    assert_eq!(out.lines().filter(|l| l.contains("influxgate::access") && l.contains("points=3")).count(), 4, "{out}");
    assert!(out.lines().any(|l| l.contains("influxgate::slow_query") && l.contains("SET PASSWORD [REDACTED]")), "{out}");
}
