//! Malformed line protocol: 400, `line` = the 1-based number of the first bad line, `error` as
//! 1.x words it (`unable to parse '<line>': <reason>`), and nothing of the body stored.
//!
//! When good lines come before the bad one, 1.x writes them and answers
//! `partial write: unable to parse '<line>': <reason> dropped=0`; influxgate writes nothing but may
//! use the same words (clients such as Telegraf look for them), so both forms are accepted there.

mod common;
use common::*;

fn assert_rejected(g: &Gate, db: &str, body: &str, line: u64, error: &str) {
    let r = g.admin().write(db, body);
    assert_eq!(r.status, 400, "{body:?}: {}", r.describe());
    let v = r.json();
    assert_eq!(v["line"].as_u64(), Some(line), "{body:?}: {v}");
    let got = v["error"].as_str().unwrap_or_default();
    let partial = format!("partial write: {error} dropped=0");
    let first_line_bad = body.lines().take(line as usize - 1).all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if first_line_bad {
        assert_eq!(got, error, "{body:?}: {v}");
    } else {
        assert!(got == error || got == partial, "{body:?}: want {error:?} or {partial:?}: {v}");
    }
    assert_eq!(v["code"], "invalid", "{body:?}: {v}");
    assert!(v["message"].is_string(), "{body:?}: {v}");
}

#[test]
fn first_bad_line_is_reported() {
    let g = Gate::start();
    assert_rejected(&g, "mal", "bad line here", 1, "unable to parse 'bad line here': invalid field format");
    assert_rejected(&g, "mal", "m v=", 1, "unable to parse 'm v=': missing field value");
    assert_rejected(
        &g,
        "mal",
        "m v=1 1\nm v=2 2\nbad line here\nm v=4 4",
        3,
        "unable to parse 'bad line here': invalid field format",
    );
    assert_rejected(&g, "mal", "m v=1 1\nm v=1\t1", 2, "unable to parse 'm v=1\t1': invalid number");
}

#[test]
fn blank_and_comment_lines_count_in_line_numbers() {
    let g = Gate::start();
    assert_rejected(&g, "mal", "\n# comment\nm v=1 1\nm v=\n", 4, "unable to parse 'm v=': missing field value");
}

#[test]
fn the_error_text_is_what_clients_look_for() {
    let g = Gate::start();
    let r = g.admin().write("mal", "m v=1 1\ncpu value=1i2 1");
    assert_eq!(r.status, 400, "{}", r.describe());
    let e = r.error();
    let e = e.strip_prefix("partial write: ").unwrap_or(&e);
    assert!(e.starts_with("unable to parse 'cpu value=1i2 1': "), "{}", r.text());
}

#[test]
fn nothing_of_a_rejected_body_is_stored() {
    let g = Gate::start();
    let r = g.admin().write("mal_store", "m v=1 1\nm v=2 2\nbad line here\nm v=4 4");
    assert_eq!(r.status, 400, "{}", r.describe());
    // A good write to another measurement, so the database exists either way.
    assert_eq!(g.admin().write("mal_store", "other v=1 1").status, 204);
    let v = g.admin().query_ok("SELECT * FROM m", "mal_store");
    assert!(rows(&v).is_empty(), "points of a rejected body were stored: {v}");
    let v = g.admin().query_ok("SHOW MEASUREMENTS", "mal_store");
    assert_eq!(rows(&v), vec![vec![serde_json::json!("other")]], "{v}");
}
