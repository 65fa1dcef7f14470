//! /write over HTTP: gzip bodies, precision, the `db` parameter, database creation.

mod common;
use common::*;
use serde_json::json;

#[test]
fn gzip_write_is_accepted() {
    let g = Gate::start();
    let r = g.admin().write_with(
        &[("db", "gz")],
        &[("Content-Encoding", "gzip")],
        gzip(b"cpu,host=a v=1 1000000000\ncpu,host=b v=2 2000000000\n"),
    );
    assert_eq!(r.status, 204, "{}", r.describe());
}

#[test]
fn gzip_write_reads_back() {
    let g = Gate::start();
    let r = g.admin().write_with(
        &[("db", "gz")],
        &[("Content-Encoding", "gzip")],
        gzip(b"cpu,host=a v=1 1000000000\ncpu,host=b v=2 2000000000\n"),
    );
    assert_eq!(r.status, 204, "{}", r.describe());
    let v = g.admin().query_ok("SELECT * FROM cpu", "gz");
    assert_eq!(rows(&v), vec![vec![json!(1000000000), json!("a"), json!(1)], vec![json!(2000000000), json!("b"), json!(2)]]);
}

#[test]
fn precisions_are_accepted() {
    let g = Gate::start();
    for p in ["ns", "n", "u", "ms", "s", "m", "h"] {
        let r = g.admin().write_with(&[("db", "prec"), ("precision", p)], &[], b"m v=1 5".to_vec());
        assert_eq!(r.status, 204, "precision={p}: {}", r.describe());
    }
}

#[test]
fn precisions_scale_timestamps() {
    let g = Gate::start();
    let cases: [(&str, i64); 6] = [
        ("ns", 1),
        ("u", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    for (p, mult) in cases {
        let db = format!("prec_{p}");
        let r = g.admin().write_with(&[("db", &db), ("precision", p)], &[], b"m v=1 473352\nm v=2 7".to_vec());
        assert_eq!(r.status, 204, "precision={p}: {}", r.describe());
        let v = g.admin().query_ok("SELECT v FROM m", &db);
        assert_eq!(rows(&v), vec![vec![json!(7 * mult), json!(2)], vec![json!(473352 * mult), json!(1)]], "precision={p}");
    }
}

#[test]
fn missing_db_is_400_database_is_required() {
    let g = Gate::start();
    for params in [vec![], vec![("db", "")]] {
        let r = g.admin().write_with(&params, &[], b"m v=1 1".to_vec());
        assert_eq!(r.status, 400, "{params:?}: {}", r.describe());
        assert_eq!(r.error(), "database is required", "{}", r.text());
        assert_eq!(r.code(), "invalid", "{}", r.text());
    }
}

#[test]
fn bad_precision_is_400() {
    let g = Gate::start();
    for p in ["x", "sec", "nanoseconds", "S"] {
        let r = g.admin().write_with(&[("db", "bp"), ("precision", p)], &[], b"m v=1 1".to_vec());
        assert_eq!(r.status, 400, "precision={p}: {}", r.describe());
        assert_eq!(r.code(), "invalid", "{}", r.text());
    }
}

#[test]
fn write_creates_the_database() {
    let g = Gate::start();
    assert_eq!(g.admin().write("brand_new", "m v=1 1").status, 204);
    let v = g.admin().query_ok("SHOW DATABASES", "");
    let names: Vec<String> = rows(&v).iter().filter_map(|r| r.first().and_then(|x| x.as_str()).map(String::from)).collect();
    assert!(names.contains(&"brand_new".to_string()), "{v}");
}

#[test]
fn write_without_timestamp_uses_server_time() {
    let g = Gate::start();
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    assert_eq!(g.admin().write("now", "m v=1").status, 204);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let v = g.admin().query_ok("SELECT v FROM m", "now");
    let t = rows(&v).first().and_then(|r| r.first()).and_then(|t| t.as_i64()).unwrap_or_else(|| panic!("{v}"));
    assert!(t >= before - 1_000_000_000 && t <= after + 1_000_000_000, "time {t} not within [{before}, {after}]");
}
