//! Authentication × authorization: every scheme (Token, Bearer, Basic with the token as password,
//! `?u=&p=`) × valid / invalid / missing credentials × read / write on a database, for tokens that
//! may only read, only write, everything (`*`), or are admin.
//!
//! Contract: no credentials → 403 `forbidden`; an unknown token, or one without the permission
//! needed → 401 `unauthorized`. Error bodies carry `code`, `message` and `error`.

mod common;
use common::*;

const DB: &str = "db1";
const OTHER: &str = "db2";

fn tokens() -> Vec<TokenSpec> {
    vec![
        TokenSpec::new("reader").read(&[DB]),
        TokenSpec::new("writer").write(&[DB]),
        TokenSpec::new("star").read(&["*"]).write(&["*"]),
        TokenSpec::new("boss").admin(),
    ]
}

fn start() -> (Gate, Vec<TokenSpec>) {
    let toks = tokens();
    let mut cfg = GateConfig::new();
    for t in &toks {
        cfg = cfg.token(t.clone());
    }
    let g = Gate::start_with(cfg);
    for db in [DB, OTHER] {
        let r = g.admin().write(db, "m v=1 1000000000");
        assert_eq!(r.status, 204, "seeding {db}: {}", r.describe());
    }
    (g, toks)
}

fn schemes(token: &str) -> Vec<(&'static str, Auth)> {
    vec![
        ("Token", Auth::Token(token.into())),
        ("Bearer", Auth::Bearer(token.into())),
        ("Basic", Auth::Basic("someone".into(), token.into())),
        ("u/p", Auth::Query("someone".into(), token.into())),
    ]
}

fn check(r: &Resp, want: u16, what: &str, failures: &mut Vec<String>) {
    if r.status != want {
        failures.push(format!("{what}: want {want}, got {}", r.describe()));
        return;
    }
    let want_code = match want {
        401 => "unauthorized",
        403 => "forbidden",
        _ => return,
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
        failures.push(format!("{what}: body is not JSON: {}", r.text()));
        return;
    };
    if v.get("code").and_then(|c| c.as_str()) != Some(want_code) {
        failures.push(format!("{what}: want code {want_code:?}, body {v}"));
    }
    if !v.get("error").is_some_and(|e| e.is_string()) || !v.get("message").is_some_and(|e| e.is_string()) {
        failures.push(format!("{what}: error body without `error`/`message` strings: {v}"));
    }
}

fn finish(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

fn write_allowed(tok: &TokenSpec, db: &str) -> bool {
    tok.admin || tok.write.iter().any(|d| d == db || d == "*")
}

fn read_allowed(tok: &TokenSpec, db: &str) -> bool {
    tok.admin || tok.read.iter().any(|d| d == db || d == "*")
}

#[test]
fn write_matrix() {
    let (g, toks) = start();
    let mut failures = Vec::new();
    for tok in &toks {
        for (scheme, auth) in schemes(&tok.token) {
            for db in [DB, OTHER] {
                let r = g.api(auth.clone()).write(db, "m v=2 2000000000");
                let want = if write_allowed(tok, db) { 204 } else { 401 };
                check(&r, want, &format!("write {db} as {} via {scheme}", tok.name), &mut failures);
            }
        }
    }
    for (scheme, auth) in schemes("not-a-valid-token") {
        let r = g.api(auth).write(DB, "m v=2 2000000000");
        check(&r, 401, &format!("write with an invalid token via {scheme}"), &mut failures);
    }
    let r = g.api(Auth::None).write(DB, "m v=2 2000000000");
    check(&r, 403, "write without credentials", &mut failures);
    finish(failures);
}

#[test]
fn read_matrix() {
    let (g, toks) = start();
    let mut failures = Vec::new();
    for tok in &toks {
        for (scheme, auth) in schemes(&tok.token) {
            for db in [DB, OTHER] {
                let r = g.api(auth.clone()).query("SELECT * FROM m", db);
                let want = if read_allowed(tok, db) { 200 } else { 401 };
                check(&r, want, &format!("read {db} as {} via {scheme}", tok.name), &mut failures);
            }
        }
    }
    for (scheme, auth) in schemes("not-a-valid-token") {
        let r = g.api(auth).query("SELECT * FROM m", DB);
        check(&r, 401, &format!("read with an invalid token via {scheme}"), &mut failures);
    }
    let r = g.api(Auth::None).query("SELECT * FROM m", DB);
    check(&r, 403, "read without credentials", &mut failures);
    finish(failures);
}

#[test]
fn malformed_credentials_are_refused() {
    let (g, toks) = start();
    let writer = &toks[1].token;
    let mut failures = Vec::new();
    let cases: Vec<(&str, Auth)> = vec![
        // The scheme word is case-sensitive in the contract.
        ("scheme `token` in lower case", Auth::Header(format!("token {writer}"))),
        ("unknown scheme", Auth::Header(format!("Digest {writer}"))),
        ("Basic with garbage base64", Auth::Header("Basic !!!not-base64!!!".into())),
        ("Basic with the token as user, no password", Auth::Basic(writer.clone(), String::new())),
        ("Token with nothing after it", Auth::Header("Token ".into())),
        ("u/p with an empty password", Auth::Query("someone".into(), String::new())),
    ];
    for (what, auth) in cases {
        let r = g.api(auth).write(DB, "m v=3 3000000000");
        if r.status != 401 && r.status != 403 {
            failures.push(format!("{what}: want 401 or 403, got {}", r.describe()));
        }
    }
    finish(failures);
}

#[test]
fn admin_token_flag_works_with_every_scheme() {
    let (g, _) = start();
    let mut failures = Vec::new();
    for (scheme, auth) in schemes(ADMIN_TOKEN) {
        let r = g.api(auth).write(DB, "m v=4 4000000000");
        check(&r, 204, &format!("write as --admin-token via {scheme}"), &mut failures);
    }
    finish(failures);
}
