//! Differential queries: our own dataset (tests/support/dataset.rs, seeded) is written to a real
//! InfluxDB 1.6.7 (`influxd`, Debian package `influxdb`) and to influxgate (embedded store), then
//! every case of tests/cases/queries*.txt runs on both and the answers are compared: HTTP status,
//! then the body — JSON as parsed values (a chunked answer as its sequence of documents), CSV as
//! rows of cells, MessagePack as decoded values. Numbers must be equal and of the same kind; a case
//! marked `cmp=approx` allows a relative 1e-12 (for math functions whose last ulp differs).
//!
//! Case syntax (one a line; `#` at column 0 and empty lines are comments):
//!   `[options] statement(s)`
//! Options: `epoch=ns|u|ms|s|m|h`, `accept=json|csv|msgpack`, `chunked=true`, `chunk_size=N`,
//!   `method=GET|POST`, `db=NAME` (`db=` sends none), `pretty=true`, `params=JSON` (no spaces),
//!   `cmp=error` (only where errors are, not their texts), `cmp=approx`, `cmp=unordered` (series
//!   of a result in any order: only where influxd 1.6.7 itself answers in a random order),
//!   `fresh` / `fresh=seed` (the case runs in its own database `@db`, empty or holding the small
//!   seed body, created on both servers and dropped afterwards: for statements that mutate),
//!   `known=REASON` (last option; a documented deliberate deviation: skipped, the reason printed),
//!   `pending=REASON` (last option; a known bug not fixed yet: the case runs and must still
//!   differ — when it starts to agree with 1.x the test fails, asking to drop the mark).
//! A fresh case is a sequence of steps separated by `⁂`; a step `write <line protocol>` (with ⏎
//! for newlines) writes to `@db`; other steps are queries. `@db` is replaced by the database name.
//!
//! `DIFF_QUERIES_FILTER=<substring>` runs only matching cases; `DIFF_QUERIES_VERBOSE=1` prints
//! passing cases too; `DIFF_QUERIES_SELF_CHECK=1` compares influxd with a second influxd (checks
//! that the corpus is deterministic); `DIFF_QUERIES_DATASET=<file>` also writes the dataset there
//! (to reproduce a case by hand); `DIFF_QUERIES_FULL=1` prints whole answers of failing cases.

mod common;
#[path = "support/dataset.rs"]
mod dataset;
#[path = "support/decode.rs"]
mod decode;
#[path = "support/validation_cases.rs"]
mod validation_cases;

use common::*;
use serde_json::Value;

const DB: &str = "diffq";
const SEED: u64 = 20240101;

#[derive(Clone, Debug, Default)]
struct Case {
    id: String,
    text: String,
    epoch: Option<String>,
    accept: Option<String>,
    chunked: Option<String>,
    chunk_size: Option<String>,
    method: Option<String>,
    db: Option<String>,
    pretty: Option<String>,
    params: Option<String>,
    cmp_error: bool,
    approx: bool,
    /// `cmp=unordered`: the order of the series in a result does not matter (where 1.x itself
    /// answers in a random order).
    unordered: bool,
    fresh: Option<bool>,
    known: Option<String>,
    pending: Option<String>,
}

fn parse_file(name: &str, text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let mut c = Case { id: format!("{name}:{}", i + 1), ..Default::default() };
        let mut body = raw;
        if let Some(rest) = raw.strip_prefix('[') {
            // Options end at the first `] ` (a params JSON may hold `]`), or at a final `]`.
            let end = rest.find("] ").or_else(|| rest.rfind(']')).unwrap_or_else(|| panic!("{}: [ without ]", c.id));
            let mut opts = &rest[..end];
            if let Some(k) = opts.find("known=") {
                c.known = Some(opts[k + 6..].trim().to_owned());
                opts = &opts[..k];
            }
            if let Some(k) = opts.find("pending=") {
                c.pending = Some(opts[k + 8..].trim().to_owned());
                opts = &opts[..k];
            }
            for opt in opts.split_whitespace() {
                let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
                let v = v.to_owned();
                match k {
                    "epoch" => c.epoch = Some(v),
                    "accept" => c.accept = Some(v),
                    "chunked" => c.chunked = Some(v),
                    "chunk_size" => c.chunk_size = Some(v),
                    "method" => c.method = Some(v),
                    "db" => c.db = Some(v),
                    "pretty" => c.pretty = Some(v),
                    "params" => c.params = Some(v),
                    "cmp" if v == "error" => c.cmp_error = true,
                    "cmp" if v == "approx" => c.approx = true,
                    "cmp" if v == "unordered" => c.unordered = true,
                    "fresh" if v.is_empty() => c.fresh = Some(false),
                    "fresh" if v == "seed" => c.fresh = Some(true),
                    _ => panic!("{}: unknown option {opt:?}", c.id),
                }
            }
            body = rest[end + 1..].trim_start();
        }
        c.text = body.to_owned();
        out.push(c);
    }
    out
}

fn load_cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with("queries") && n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no tests/cases/queries*.txt");
    names.iter().flat_map(|n| parse_file(n, &test_file(&format!("cases/{n}")))).collect()
}

/// One /query request as the case describes it.
fn query(api: &Api, c: &Case, q: &str, default_db: &str) -> Resp {
    let mut params: Vec<(&str, &str)> = vec![("q", q)];
    let db = c.db.as_deref().unwrap_or(default_db);
    if !db.is_empty() {
        params.push(("db", db));
    }
    for (k, v) in [("epoch", &c.epoch), ("chunked", &c.chunked), ("chunk_size", &c.chunk_size), ("pretty", &c.pretty), ("params", &c.params)] {
        if let Some(v) = v {
            params.push((k, v.as_str()));
        }
    }
    let accept = match c.accept.as_deref() {
        None | Some("json") => None,
        Some("csv") => Some("application/csv"),
        Some("msgpack") => Some("application/x-msgpack"),
        Some(other) => panic!("{}: unknown accept={other}", c.id),
    };
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = accept {
        headers.push(("Accept", a));
    }
    if c.method.as_deref() == Some("GET") {
        api.send("GET", "/query", &params, &headers, None)
    } else {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        api.send("POST", "/query", &[], &headers, Some(body.into_bytes()))
    }
}

/// The body as a comparable value.
fn decoded(c: &Case, r: &Resp) -> Value {
    let res = match c.accept.as_deref() {
        Some("csv") if r.status == 200 => decode::csv_rows(&r.body)
            .map(|rows| Value::Array(rows.into_iter().map(|row| Value::Array(row.into_iter().map(Value::String).collect())).collect())),
        Some("msgpack") if r.status == 200 => decode::msgpack_docs(&r.body).map(Value::Array),
        _ => decode::json_docs(&r.body).map(Value::Array),
    };
    // A body that does not decode is compared as text.
    res.unwrap_or_else(|e| serde_json::json!({ "$undecodable": e, "text": r.text() }))
}

/// Sorts the series of every result by name and tags (for `cmp=unordered`).
fn sort_series(v: &mut Value) {
    for doc in v.as_array_mut().into_iter().flatten() {
        for r in doc.get_mut("results").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(series) = r.get_mut("series").and_then(Value::as_array_mut) {
                series.sort_by_key(|s| format!("{}{}", s.get("name").unwrap_or(&Value::Null), s.get("tags").unwrap_or(&Value::Null)));
            }
        }
    }
}

/// Where the errors are (for `cmp=error`).
fn error_shape(v: &Value) -> Value {
    let docs = v.as_array().cloned().unwrap_or_default();
    Value::Array(
        docs.iter()
            .map(|d| match d.get("results").and_then(Value::as_array) {
                None => serde_json::json!({ "error": d.get("error").is_some() }),
                Some(rs) => Value::Array(
                    rs.iter().map(|r| serde_json::json!([r.get("statement_id"), r.get("error").is_some()])).collect(),
                ),
            })
            .collect(),
    )
}

fn short(s: &str) -> String {
    let s = s.replace('\n', "⏎");
    let max = if std::env::var_os("DIFF_QUERIES_FULL").is_some() { 100_000 } else { 400 };
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}

/// Compares one request's answers; `None` when they agree.
fn compare(c: &Case, a: &Resp, b: &Resp) -> Option<String> {
    let (mut va, mut vb) = (decoded(c, a), decoded(c, b));
    if c.unordered {
        sort_series(&mut va);
        sort_series(&mut vb);
    }
    let d = if a.status != b.status {
        Some(format!("status {} != {}", a.status, b.status))
    } else if c.cmp_error {
        decode::diff(&error_shape(&va), &error_shape(&vb), "$", false)
    } else {
        decode::diff(&va, &vb, "$", c.approx)
    };
    d.map(|d| format!("{d}\n       oracle: {} {}\n       ours:   {} {}", a.status, short(&a.text()), b.status, short(&b.text())))
}

fn write_all(api: &Api, db: &str, body: &str, who: &str) {
    let r = api.query_with(&[("q", &format!("CREATE DATABASE \"{db}\""))]);
    assert_eq!(r.status, 200, "{who}: CREATE DATABASE {db}: {}", r.describe());
    let lines: Vec<&str> = body.split('\n').collect();
    for chunk in lines.chunks(5000) {
        let r = api.write(db, &chunk.join("\n"));
        assert_eq!(r.status, 204, "{who}: loading the dataset failed: {}", r.describe());
    }
}

fn run_case(oracle: &Api, ours: &Api, c: &Case) -> Result<(), String> {
    let Some(seed) = c.fresh else {
        let (a, b) = (query(oracle, c, &c.text, DB), query(ours, c, &c.text, DB));
        return compare(c, &a, &b).map_or(Ok(()), Err);
    };
    let db = format!("dq_{}", c.id.replace(|ch: char| !ch.is_ascii_alphanumeric(), "_"));
    for api in [oracle, ours] {
        let _ = api.query_with(&[("q", &format!("DROP DATABASE \"{db}\""))]);
        let r = api.query_with(&[("q", &format!("CREATE DATABASE \"{db}\""))]);
        if r.status != 200 {
            return Err(format!("CREATE DATABASE {db}: {}", r.describe()));
        }
        if seed {
            let r = api.write(&db, &dataset::small());
            if r.status != 204 {
                return Err(format!("seeding {db}: {}", r.describe()));
            }
        }
    }
    let mut result = Ok(());
    for (n, step) in c.text.split('⁂').enumerate() {
        let step = step.trim().replace("@db", &db);
        let (a, b) = if let Some(lp) = step.strip_prefix("write ") {
            let lp = lp.replace('⏎', "\n");
            (oracle.write(&db, &lp), ours.write(&db, &lp))
        } else {
            (query(oracle, c, &step, &db), query(ours, c, &step, &db))
        };
        let d = if step.starts_with("write ") {
            // Write answers: status, and the `error` text of a rejected body (influxgate's error
            // bodies also carry the v1 API's `code` and `message`).
            let err = |r: &Resp| serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| v.get("error").cloned());
            if a.status != b.status || err(&a) != err(&b) {
                Some(format!("write {} {:?} != {} {:?}", a.status, a.text(), b.status, b.text()))
            } else {
                None
            }
        } else {
            compare(c, &a, &b)
        };
        if let Some(d) = d {
            result = Err(format!("step {} ({}): {d}", n + 1, short(&step)));
            break;
        }
    }
    for api in [oracle, ours] {
        let _ = api.query_with(&[("q", &format!("DROP DATABASE \"{db}\""))]);
    }
    result
}

#[test]
fn differential_queries() {
    let cases = load_cases();
    let filter = std::env::var("DIFF_QUERIES_FILTER").ok();
    let verbose = std::env::var_os("DIFF_QUERIES_VERBOSE").is_some();
    let self_check = std::env::var_os("DIFF_QUERIES_SELF_CHECK").is_some();

    let influxd = Influxd::start();
    let (_gate, _second, ours) = if self_check {
        let second = Influxd::start();
        let api = second.api();
        (None, Some(second), api)
    } else {
        let gate = Gate::start();
        let api = gate.admin();
        (Some(gate), None, api)
    };
    let oracle = influxd.api();

    let data = dataset::generate(SEED);
    if let Some(path) = std::env::var_os("DIFF_QUERIES_DATASET") {
        std::fs::write(&path, &data).unwrap_or_else(|e| panic!("writing the dataset to {path:?}: {e}"));
    }
    write_all(&oracle, DB, &data, "influxd");
    write_all(&ours, DB, &data, "influxgate");

    let (mut passed, mut failed, mut known, mut pending) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut slowest: Vec<(std::time::Duration, String)> = Vec::new();
    // Read-only cases first, then the ones that create and drop their own databases.
    let ordered = cases.iter().filter(|c| c.fresh.is_none()).chain(cases.iter().filter(|c| c.fresh.is_some()));
    for c in ordered {
        if let Some(f) = &filter {
            if !c.text.contains(f.as_str()) && !c.id.contains(f.as_str()) {
                continue;
            }
        }
        if let Some(why) = &c.known {
            known += 1;
            println!("known {}: {} — {why}", c.id, c.text);
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = run_case(&oracle, &ours, c);
        slowest.push((started.elapsed(), c.id.clone()));
        match (outcome, &c.pending) {
            (Ok(()), Some(why)) => {
                failed += 1;
                let msg = format!("FAIL {}: {}\n     now agrees with 1.x: remove `pending={why}`", c.id, c.text);
                println!("{msg}");
                failures.push(msg);
            }
            (Err(d), Some(why)) => {
                pending += 1;
                println!("pending {}: {} — {why}\n     {d}", c.id, c.text);
            }
            (Ok(()), None) => {
                passed += 1;
                if verbose {
                    println!("ok   {}: {}", c.id, c.text);
                }
            }
            (Err(d), None) => {
                failed += 1;
                let msg = format!("FAIL {}: {}\n     {d}", c.id, c.text);
                println!("{msg}");
                failures.push(msg);
            }
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    let slow: Vec<String> = slowest.iter().take(5).map(|(d, id)| format!("{id} {d:.2?}")).collect();
    println!("slowest cases: {}", slow.join(", "));
    let summary =
        format!("{passed} passed, {failed} failed ({known} known deviations skipped, {pending} pending bugs still differ)");
    println!("{summary}");
    assert!(failed == 0, "{summary}");
}

/// tests/cases/queries-validation.txt is what tests/support/validation_cases.rs generates
/// (`DIFF_QUERIES_REGENERATE=1` rewrites it).
#[test]
fn validation_corpus_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/queries-validation.txt");
    let want = validation_cases::generate();
    if std::env::var_os("DIFF_QUERIES_REGENERATE").is_some() {
        std::fs::write(&path, &want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} is stale: run DIFF_QUERIES_REGENERATE=1 cargo test --test diff_queries validation_corpus", path.display());
}

// ---------------------------------------------------------------------------------------------
// The same corpus against influxgate on the VictoriaMetrics backend (a real `victoria-metrics`,
// Debian package `victoria-metrics`), over the numeric measurements only.
//
// Data: the lines of the dataset whose measurement is cpu, mem, net or disk, written to both
// influxd and influxgate (so both hold the same points).
// Cases (selection rule): not `fresh`, not `known=`/`pending=` in queries*.txt (those are tracked
// by the embedded run), not DDL, mentioning (as a word) at least one of cpu/mem/net/disk — or
// being a SHOW RETENTION POLICIES — and none of the dataset's other measurements (events, m,
// legacy, sparse).
// Store limits applied as comparison rules (VM_RULES): numbers compare by value whatever their
// kind (VM stores float64: integers come back as floats), SHOW FIELD KEYS reports `float`
// where 1.x says `integer`, and SHOW RETENTION POLICIES reports VM's own retention (the test's VM
// runs with -retentionPeriod=100y = 876000h) where 1.x's autogen says 0s (infinite). Other differences are listed per case in tests/cases/vm-deviations.txt
// (`case text → reason`): a reason starting with `pending` is a bug (the case must still differ),
// any other reason is a store limit (the case is skipped, the reason printed).

const VM_MEASUREMENTS: [&str; 4] = ["cpu", "mem", "net", "disk"];
const VM_OTHER_MEASUREMENTS: [&str; 4] = ["events", "m", "legacy", "sparse"];
/// The store-limit comparison rules (printed, counted in the commit message).
const VM_RULES: [&str; 3] = [
    "numbers compare by value, ignoring integer/float kind (VM stores float64)",
    "SHOW FIELD KEYS: fieldType `integer` of 1.x reads as `float`",
    "SHOW RETENTION POLICIES: duration 876000h0m0s (VM's -retentionPeriod=100y) reads as 1.x's 0s",
];
/// What SHOW RETENTION POLICIES says of the test's VM (-retentionPeriod=100y).
const VM_RETENTION: &str = "876000h0m0s";

fn words(text: &str) -> Vec<String> {
    text.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase).collect()
}

fn vm_selected(c: &Case) -> bool {
    if c.fresh.is_some() || c.known.is_some() || c.pending.is_some() {
        return false;
    }
    let upper = c.text.to_ascii_uppercase();
    if ["CREATE ", "DROP ", "ALTER ", "DELETE ", "GRANT ", "REVOKE ", " INTO "].iter().any(|k| upper.contains(k)) {
        return false;
    }
    let w = words(&c.text);
    (upper.contains("SHOW RETENTION") || w.iter().any(|x| VM_MEASUREMENTS.contains(&x.as_str())))
        && !w.iter().any(|x| VM_OTHER_MEASUREMENTS.contains(&x.as_str()))
}

/// Applies VM_RULES to a decoded answer.
fn vm_normalize(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                if let Some(x) = serde_json::Number::from_f64(f) {
                    *n = x;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(vm_normalize),
        Value::Object(o) => {
            let field_keys = o.get("columns").and_then(Value::as_array).is_some_and(|c| c.len() == 2 && c[0] == "fieldKey" && c[1] == "fieldType");
            if field_keys {
                for row in o.get_mut("values").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(t) = row.get_mut(1) {
                        if t == "integer" {
                            *t = Value::String("float".into());
                        }
                    }
                }
            }
            let rps = o.get("columns").and_then(Value::as_array).is_some_and(|c| c.len() == 5 && c[0] == "name" && c[1] == "duration");
            if rps {
                for row in o.get_mut("values").and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(d) = row.get_mut(1) {
                        if d == VM_RETENTION {
                            *d = Value::String("0s".into());
                        }
                    }
                }
            }
            o.values_mut().for_each(vm_normalize);
        }
        _ => {}
    }
}

fn vm_compare(c: &Case, a: &Resp, b: &Resp) -> Option<String> {
    let (mut va, mut vb) = (decoded(c, a), decoded(c, b));
    if c.unordered {
        sort_series(&mut va);
        sort_series(&mut vb);
    }
    vm_normalize(&mut va);
    vm_normalize(&mut vb);
    let d = if a.status != b.status {
        Some(format!("status {} != {}", a.status, b.status))
    } else if c.cmp_error {
        decode::diff(&error_shape(&va), &error_shape(&vb), "$", false)
    } else {
        decode::diff(&va, &vb, "$", c.approx)
    };
    d.map(|d| format!("{d}\n       oracle: {} {}\n       ours:   {} {}", a.status, short(&a.text()), b.status, short(&b.text())))
}

/// tests/cases/vm-deviations.txt: `case text → reason` lines.
fn vm_deviations() -> Vec<(String, String)> {
    deviations("vm-deviations.txt")
}

/// tests/cases/<file>: `case text → reason` lines.
fn deviations(file: &str) -> Vec<(String, String)> {
    let text = test_file(&format!("cases/{file}"));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (case, why) = l.rsplit_once(" → ").unwrap_or_else(|| panic!("{file}: no ` → ` in {l:?}"));
            (case.trim().to_owned(), why.trim().to_owned())
        })
        .collect()
}

/// Outcomes of a run over a deviations file: a case that differs (`diff`) while listed there as
/// pending (`listed`) is expected; one that agrees while listed must have its line removed.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    pending: usize,
    verbose: bool,
}

impl Tally {
    fn record(&mut self, c: &Case, diff: Option<String>, listed: Option<&str>, file: &str) {
        match (diff, listed) {
            (None, Some(w)) => {
                self.failed += 1;
                println!("FAIL {}: {}\n     now agrees with 1.x: remove `{w}` from {file}", c.id, c.text);
            }
            (Some(d), Some(w)) => {
                self.pending += 1;
                println!("pending {}: {} — {w}\n     {d}", c.id, c.text);
            }
            (None, None) => {
                self.passed += 1;
                if self.verbose {
                    println!("ok   {}: {}", c.id, c.text);
                }
            }
            (Some(d), None) => {
                self.failed += 1;
                println!("FAIL {}: {}\n     {d}", c.id, c.text);
            }
        }
    }
}

#[test]
fn differential_queries_victoriametrics() {
    let cases: Vec<Case> = load_cases().into_iter().filter(vm_selected).collect();
    let deviations = vm_deviations();
    for (t, _) in &deviations {
        assert!(cases.iter().any(|c| c.text == *t), "vm-deviations.txt: {t:?} is not a selected case of tests/cases/queries*.txt");
    }
    let filter = std::env::var("DIFF_QUERIES_FILTER").ok();
    let verbose = std::env::var_os("DIFF_QUERIES_VERBOSE").is_some();

    let vm = common::vm::Vm::start(&["-search.latencyOffset=0s"]);
    let mut cfg = GateConfig::new();
    cfg.backend.push("kind = \"victoriametrics\"".into());
    cfg.backend.push(format!("url = {:?}", vm.url));
    let gate = Gate::start_with(cfg);
    let influxd = Influxd::start();
    let (oracle, ours) = (influxd.api(), gate.admin());

    let data: String = dataset::generate(SEED)
        .split('\n')
        .filter(|l| VM_MEASUREMENTS.iter().any(|m| l.starts_with(&format!("{m},")) || l.starts_with(&format!("{m} "))))
        .collect::<Vec<_>>()
        .join("\n");
    write_all(&oracle, DB, &data, "influxd");
    write_all(&ours, DB, &data, "influxgate (victoriametrics)");

    for r in VM_RULES {
        println!("store-limit rule: {r}");
    }
    let mut tally = Tally { verbose, ..Tally::default() };
    let mut limits = 0;
    for c in &cases {
        if let Some(f) = &filter {
            if !c.text.contains(f.as_str()) && !c.id.contains(f.as_str()) {
                continue;
            }
        }
        let why = deviations.iter().find(|(t, _)| *t == c.text).map(|(_, w)| w.clone());
        if let Some(w) = why.as_ref().filter(|w| !w.starts_with("pending")) {
            limits += 1;
            println!("store limit {}: {} — {w}", c.id, c.text);
            continue;
        }
        let (a, b) = (query(&oracle, c, &c.text, DB), query(&ours, c, &c.text, DB));
        tally.record(c, vm_compare(c, &a, &b), why.as_deref(), "vm-deviations.txt");
    }
    let Tally { passed, failed, pending, .. } = tally;
    let summary = format!(
        "victoriametrics: {} cases selected, {passed} passed, {failed} failed ({limits} store limits skipped, {pending} pending bugs still differ, {} comparison rules)",
        cases.len(),
        VM_RULES.len()
    );
    println!("{summary}");
    assert!(failed == 0, "{summary}");
}

// ---------------------------------------------------------------------------------------------
// The same corpus against influxgate on the ClickHouse backend: Debian's clickhouse-server 18.16
// as one server and as a two-shard cluster (ZooKeeper, ON CLUSTER, Distributed tables), and a
// current ClickHouse through the chdb adapter — over the full dataset (strings and booleans
// included: ClickHouse keeps every field type) and every case, mutating ones included, except
// those marked `known=`/`pending=` in queries*.txt (tracked by the embedded run).
// Deviations are listed in tests/cases/ch-deviations.txt (`case text → reason`): a reason
// starting with `pending` is a bug (the case must still differ), any other is a documented
// difference of the store (the case is skipped, the reason printed).

/// Which cases a ClickHouse run takes: all, or (CI time) every fresh case — they make, alter and
/// drop tables, which is where topologies differ — and the other cases `i` with `i % 2 == half`.
/// The cluster and chdb runs take opposite halves, so each case still runs on a second engine;
/// `DIFF_QUERIES_FULL=1` runs every case on each.
#[derive(Clone, Copy)]
enum Share {
    All,
    Half(usize),
}

fn differential_on_clickhouse(backend: Vec<String>, section: &str, label: &str, share: Share) {
    differential_on_store(backend, section, label, share, "ch-deviations.txt")
}

/// The corpus (but `known=`/`pending=` cases) against influxgate on a remote store, compared with
/// a direct influxd; `deviations_file` lists the store's documented deviations.
fn differential_on_store(backend: Vec<String>, section: &str, label: &str, share: Share, deviations_file: &str) {
    let share = if std::env::var_os("DIFF_QUERIES_FULL").is_some() { Share::All } else { share };
    let cases: Vec<Case> = load_cases()
        .into_iter()
        .filter(|c| c.known.is_none() && c.pending.is_none())
        .enumerate()
        .filter(|(i, c)| match share {
            Share::All => true,
            Share::Half(h) => c.fresh.is_some() || i % 2 == h,
        })
        .map(|(_, c)| c)
        .collect();
    let deviations = deviations(deviations_file);
    for (t, _) in &deviations {
        assert!(load_cases().iter().any(|c| c.text == *t), "{deviations_file}: {t:?} is not a case of tests/cases/queries*.txt");
    }
    let filter = std::env::var("DIFF_QUERIES_FILTER").ok();
    let verbose = std::env::var_os("DIFF_QUERIES_VERBOSE").is_some();
    let mut cfg = GateConfig::new().raw(section);
    cfg.backend = backend;
    let gate = Gate::start_with(cfg);
    let influxd = Influxd::start();
    let (oracle, ours) = (influxd.api(), gate.admin());
    let data = dataset::generate(SEED);
    let started = std::time::Instant::now();
    write_all(&oracle, DB, &data, "influxd");
    write_all(&ours, DB, &data, label);
    println!("{label}: dataset written in {:.1?}", started.elapsed());

    let mut tally = Tally { verbose, ..Tally::default() };
    let mut skipped = 0;
    let mut slowest: Vec<(std::time::Duration, String)> = Vec::new();
    let ordered = cases.iter().filter(|c| c.fresh.is_none()).chain(cases.iter().filter(|c| c.fresh.is_some()));
    for c in ordered {
        if filter.as_ref().is_some_and(|f| !c.text.contains(f.as_str()) && !c.id.contains(f.as_str())) {
            continue;
        }
        let why = deviations.iter().find(|(t, _)| *t == c.text).map(|(_, w)| w.clone());
        if let Some(w) = why.as_ref().filter(|w| !w.starts_with("pending")) {
            skipped += 1;
            println!("deviation {}: {} — {w}", c.id, c.text);
            continue;
        }
        let t0 = std::time::Instant::now();
        let outcome = run_case(&oracle, &ours, c);
        slowest.push((t0.elapsed(), c.id.clone()));
        tally.record(c, outcome.err(), why.as_deref(), deviations_file);
    }
    let Tally { passed, failed, pending, .. } = tally;
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    let slow: Vec<String> = slowest.iter().take(5).map(|(d, id)| format!("{id} {d:.2?}")).collect();
    println!("{label}: slowest cases: {}", slow.join(", "));
    let summary = format!(
        "{label}: {} cases, {passed} passed, {failed} failed ({skipped} documented deviations skipped, {pending} pending bugs still differ) in {:.1?}",
        cases.len(),
        started.elapsed()
    );
    println!("{summary}");
    assert!(failed == 0, "{summary}");
}

#[test]
fn differential_queries_clickhouse() {
    let ch = common::clickhouse::ClickHouse::single();
    differential_on_clickhouse(ch.gate_backend(), &ch.gate_section(), "clickhouse 18.16", Share::All);
}

#[test]
fn differential_queries_clickhouse_cluster() {
    let ch = common::clickhouse::ClickHouse::cluster(&[1, 1]);
    differential_on_clickhouse(ch.gate_backend(), &ch.gate_section(), "clickhouse 18.16, 2 shards", Share::Half(0));
}

#[test]
fn differential_queries_chdb() {
    let ch = common::clickhouse::Chdb::start();
    differential_on_clickhouse(ch.gate_backend(), "[backend.clickhouse]\n", "clickhouse (chdb, current)", Share::Half(1));
}

// ---------------------------------------------------------------------------------------------
// The same corpus against influxgate in front of another influxd 1.6.7 (`--backend influxdb`):
// statements go to the upstream as their canonical text through the seam above the evaluator,
// answers come back as MessagePack and leave through influxgate's encoders (JSON, CSV, msgpack,
// chunked, epoch). Every case but `known=`/`pending=` ones (those concern the evaluator), fresh
// (mutating) cases included; deviations in tests/cases/influxdb-deviations.txt.

#[test]
fn differential_queries_influxdb_upstream() {
    let upstream = Influxd::start();
    let backend = vec!["kind = \"influxdb\"".to_string(), format!("url = {:?}", upstream.url)];
    differential_on_store(backend, "[backend.influxdb]\n", "influxdb 1.6.7 upstream", Share::All, "influxdb-deviations.txt");
}
