//! MessagePack as InfluxDB 1.6.7 writes it (`Accept: application/x-msgpack`), byte for byte:
//!
//! * `{"results": [result...]}` or `{"error": msg}` for a request-level error; no trailing bytes,
//!   chunks simply follow each other;
//! * a result with an error is just `{"error": msg}` (no `statement_id`);
//! * otherwise `{"statement_id", ["messages"], "series", ["partial": true]}` — `series` always
//!   present (possibly an empty array), `messages` as `{"level","text"}` maps;
//! * series: `{["name"], ["tags": map], "columns", "values", ["partial": true]}`; 1.x iterates a
//!   Go map for tags (random order), we write them sorted by key;
//! * integers use the smallest *signed* encoding (positive fixint, else int16/32/64, e.g. 128 is
//!   `d1 00 80`; negatives negative-fixint/int8/16/32/64), unsigned values the smallest unsigned
//!   one, floats always float64 (`cb`), strings fixstr/str8/str16/str32;
//! * times are extension type 5, 12 bytes: big-endian i64 Unix seconds (floored) and i32
//!   nanoseconds (`c7 0c 05 ...`), unless `epoch` turned the first column into an integer.

use super::Epoch;
use crate::query::result::{Series, StatementResult, Value};

fn map_header(out: &mut Vec<u8>, n: usize) {
    if n <= 15 {
        out.push(0x80 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_be_bytes());
    }
}

fn array_header(out: &mut Vec<u8>, n: usize) {
    if n <= 15 {
        out.push(0x90 | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_be_bytes());
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    let n = s.len();
    if n <= 31 {
        out.push(0xa0 | n as u8);
    } else if n <= u8::MAX as usize {
        out.push(0xd9);
        out.push(n as u8);
    } else if n <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        if i <= i8::MAX as i64 {
            out.push(i as u8);
        } else if i <= i16::MAX as i64 {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i <= i32::MAX as i64 {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= i8::MIN as i64 {
        out.push(0xd0);
        out.push(i as i8 as u8);
    } else if i >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn uint(out: &mut Vec<u8>, u: u64) {
    if u <= 0x7f {
        out.push(u as u8);
    } else if u <= u8::MAX as u64 {
        out.push(0xcc);
        out.push(u as u8);
    } else if u <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

fn value(out: &mut Vec<u8>, v: &Value, col: usize, epoch: Epoch) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Integer(i) => int(out, *i),
        Value::Unsigned(u) => uint(out, *u),
        Value::String(s) => string(out, s),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Time(ns) => match epoch.convert(col, *ns) {
            Some(n) => int(out, n),
            None => {
                out.extend_from_slice(&[0xc7, 12, 5]);
                out.extend_from_slice(&ns.div_euclid(1_000_000_000).to_be_bytes());
                out.extend_from_slice(&(ns.rem_euclid(1_000_000_000) as i32).to_be_bytes());
            }
        },
    }
}

fn series(out: &mut Vec<u8>, s: &Series, epoch: Epoch) {
    let n = 2 + usize::from(!s.name.is_empty()) + usize::from(!s.tags.is_empty()) + usize::from(s.partial);
    map_header(out, n);
    if !s.name.is_empty() {
        string(out, "name");
        string(out, &s.name);
    }
    if !s.tags.is_empty() {
        string(out, "tags");
        let mut tags: Vec<&(String, String)> = s.tags.iter().collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        tags.dedup_by(|b, a| a.0 == b.0);
        map_header(out, tags.len());
        for (k, v) in tags.iter().map(|t| (&t.0, &t.1)) {
            string(out, k);
            string(out, v);
        }
    }
    string(out, "columns");
    array_header(out, s.columns.len());
    for c in &s.columns {
        string(out, c);
    }
    string(out, "values");
    array_header(out, s.values.len());
    for row in &s.values {
        array_header(out, row.len());
        for (j, v) in row.iter().enumerate() {
            value(out, v, j, epoch);
        }
    }
    if s.partial {
        string(out, "partial");
        out.push(0xc3);
    }
}

fn result(out: &mut Vec<u8>, r: &StatementResult, epoch: Epoch) {
    if let Some(e) = &r.error {
        map_header(out, 1);
        string(out, "error");
        string(out, e);
        return;
    }
    let n = 2 + usize::from(!r.messages.is_empty()) + usize::from(r.partial);
    map_header(out, n);
    string(out, "statement_id");
    int(out, r.statement_id as i64);
    if !r.messages.is_empty() {
        string(out, "messages");
        array_header(out, r.messages.len());
        for m in &r.messages {
            map_header(out, 2);
            string(out, "level");
            string(out, &m.level);
            string(out, "text");
            string(out, &m.text);
        }
    }
    string(out, "series");
    array_header(out, r.series.len());
    for s in &r.series {
        series(out, s, epoch);
    }
    if r.partial {
        string(out, "partial");
        out.push(0xc3);
    }
}

/// Writes one document: the results, or the request-level error when `error` is set.
pub fn write_document(out: &mut Vec<u8>, results: &[&StatementResult], error: Option<&str>, epoch: Epoch) {
    map_header(out, 1);
    if let Some(e) = error {
        string(out, "error");
        string(out, e);
        return;
    }
    string(out, "results");
    array_header(out, results.len());
    for r in results {
        result(out, r, epoch);
    }
}
