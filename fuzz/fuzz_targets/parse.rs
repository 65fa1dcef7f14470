//! Fuzz target: the InfluxQL parser must never panic, and every accepted query must print to
//! text that parses back to the same AST (printing being a fixpoint).
//!
//! Run: `cd fuzz && cargo +nightly fuzz run parse corpus/parse seeds -- -dict=influxql.dict`
//! (new inputs go to the first directory, `corpus/parse`, which is not committed).
#![no_main]

#[path = "../../src/influxql/mod.rs"]
#[allow(dead_code, unused_imports)]
mod influxql;

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check(text);
    // 1.x mode (parameters substituted while scanning; none given).
    let empty = HashMap::new();
    let _ = influxql::parse_query_with_params(text, &empty).map(|q| q.to_string());
    let _ = influxql::parse_expr(text).map(|e| e.to_string());
    // Go-syntax regex checks and translation must never panic either.
    let _ = influxql::RegexLiteral::new(text);
});

fn check(text: &str) {
    let Ok(a) = influxql::parse_query(text) else { return };
    let printed = a.to_string();
    let b = match influxql::parse_query(&printed) {
        Ok(b) => b,
        Err(e) => panic!("reparse of {:?} (from {:?}) failed: {}", printed, text, e),
    };
    assert_eq!(a, b, "AST changed: {:?} printed as {:?}", text, printed);
    assert_eq!(printed, b.to_string(), "printing not a fixpoint for {:?}", text);
}
