//! JSON as InfluxDB 1.6.7 writes it: `json.Marshal` (or `json.MarshalIndent(v, "", "    ")` with
//! `pretty=true`) of the response, followed by `"\n"`. Key order and omitted-when-empty fields
//! follow 1.x's structs:
//!
//! * response: `results` (omitted when empty), `error` (omitted when empty);
//! * result: `statement_id`, `series`, `messages`, `partial` (only when true), `error`;
//! * series: `name`, `tags` (sorted keys), `columns`, `values`, `partial` — every one omitted
//!   when empty/false;
//! * message: `level`, `text`.
//!
//! Go's encoder can't encode NaN or ±Inf; 1.x then writes the marshalling error's text instead of
//! the document (still followed by `"\n"`), which we reproduce.

use std::io::Write as _;

use super::fmt::{go_nonfinite, json_float, json_string, rfc3339_nano, rfc3339_nano_in};
use super::Epoch;
use crate::query::result::{Message, Series, StatementResult, Value};

/// The text 1.x writes instead of a document holding a non-finite float.
fn unsupported(v: f64) -> String {
    format!(
        "json: error calling MarshalJSON for type httpd.Response: json: error calling MarshalJSON \
         for type *query.Result: json: unsupported value: {}",
        go_nonfinite(v)
    )
}

/// Writes one whole response document (`{"results":[...]}` / `{"error":"..."}` / `{}`) plus
/// the trailing newline.
pub fn write_document(
    out: &mut Vec<u8>,
    results: &[&StatementResult],
    error: Option<&str>,
    epoch: Epoch,
    pretty: bool,
) {
    let mut compact = Vec::new();
    let target: &mut Vec<u8> = if pretty { &mut compact } else { out };
    let start = target.len();
    match compact_document(target, results, error, epoch) {
        Ok(()) => {
            if pretty {
                indent(out, &compact);
            }
        }
        Err(bad) => {
            target.truncate(start);
            out.extend_from_slice(unsupported(bad).as_bytes());
        }
    }
    out.push(b'\n');
}

/// Compact encoding; `Err(v)` when a non-finite float `v` was met.
fn compact_document(
    out: &mut Vec<u8>,
    results: &[&StatementResult],
    error: Option<&str>,
    epoch: Epoch,
) -> Result<(), f64> {
    out.push(b'{');
    let mut first = true;
    if !results.is_empty() {
        out.extend_from_slice(b"\"results\":[");
        for (i, r) in results.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            result(out, r, epoch)?;
        }
        out.push(b']');
        first = false;
    }
    if let Some(e) = error.filter(|e| !e.is_empty()) {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"error\":");
        json_string(out, e);
    }
    out.push(b'}');
    Ok(())
}

fn result(out: &mut Vec<u8>, r: &StatementResult, epoch: Epoch) -> Result<(), f64> {
    out.extend_from_slice(b"{\"statement_id\":");
    let _ = write!(out, "{}", r.statement_id);
    if !r.series.is_empty() {
        out.extend_from_slice(b",\"series\":[");
        for (i, s) in r.series.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            series(out, s, epoch, r.time_zone)?;
        }
        out.push(b']');
    }
    if !r.messages.is_empty() {
        out.extend_from_slice(b",\"messages\":[");
        for (i, m) in r.messages.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            message(out, m);
        }
        out.push(b']');
    }
    if r.partial {
        out.extend_from_slice(b",\"partial\":true");
    }
    if let Some(e) = r.error.as_deref().filter(|e| !e.is_empty()) {
        out.extend_from_slice(b",\"error\":");
        json_string(out, e);
    }
    out.push(b'}');
    Ok(())
}

fn message(out: &mut Vec<u8>, m: &Message) {
    out.extend_from_slice(b"{\"level\":");
    json_string(out, &m.level);
    out.extend_from_slice(b",\"text\":");
    json_string(out, &m.text);
    out.push(b'}');
}

fn series(out: &mut Vec<u8>, s: &Series, epoch: Epoch, tz: Option<chrono_tz::Tz>) -> Result<(), f64> {
    out.push(b'{');
    let mut sep = false;
    let mut key = |out: &mut Vec<u8>, k: &[u8]| {
        if sep {
            out.push(b',');
        }
        sep = true;
        out.extend_from_slice(k);
    };
    if !s.name.is_empty() {
        key(out, b"\"name\":");
        json_string(out, &s.name);
    }
    if !s.tags.is_empty() {
        key(out, b"\"tags\":{");
        // Go marshals a map with its keys sorted; a map can't hold a key twice (last one wins).
        let mut tags: Vec<&(String, String)> = s.tags.iter().collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let mut first = true;
        for (i, (k, v)) in tags.iter().map(|t| (&t.0, &t.1)).enumerate() {
            if tags.get(i + 1).is_some_and(|n| &n.0 == k) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            json_string(out, k);
            out.push(b':');
            json_string(out, v);
        }
        out.push(b'}');
    }
    if !s.columns.is_empty() {
        key(out, b"\"columns\":[");
        for (i, c) in s.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_string(out, c);
        }
        out.push(b']');
    }
    if !s.values.is_empty() {
        key(out, b"\"values\":[");
        for (i, row) in s.values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                value(out, v, j, epoch, tz)?;
            }
            out.push(b']');
        }
        out.push(b']');
    }
    if s.partial {
        key(out, b"\"partial\":true");
    }
    out.push(b'}');
    Ok(())
}

fn value(out: &mut Vec<u8>, v: &Value, col: usize, epoch: Epoch, tz: Option<chrono_tz::Tz>) -> Result<(), f64> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(*f);
            }
            json_float(out, *f);
        }
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Unsigned(u) => {
            let _ = write!(out, "{u}");
        }
        Value::String(s) => json_string(out, s),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Time(ns) => match epoch.convert(col, *ns) {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => {
                out.push(b'"');
                match tz {
                    Some(tz) => rfc3339_nano_in(out, *ns, tz),
                    None => rfc3339_nano(out, *ns),
                }
                out.push(b'"');
            }
        },
    }
    Ok(())
}

/// Go's `json.Indent(dst, src, "", "    ")` over compact JSON: a newline and indentation after
/// `{`, `[` and `,`; `": "` after keys; empty objects/arrays stay `{}` / `[]`.
fn indent(out: &mut Vec<u8>, src: &[u8]) {
    let mut depth: usize = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut need_indent = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(b"    ");
        }
    };
    for &c in src {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        if need_indent && c != b'}' && c != b']' {
            need_indent = false;
            depth += 1;
            newline(out, depth);
        }
        match c {
            b'"' => {
                in_string = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                need_indent = true;
            }
            b',' => {
                out.push(c);
                newline(out, depth);
            }
            b':' => {
                out.push(c);
                out.push(b' ');
            }
            b'}' | b']' => {
                if need_indent {
                    // Empty object or array.
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}
