//! CSV as InfluxDB 1.6.7 writes it (`Accept: application/csv` or `text/csv`).
//!
//! Observed and read behaviour:
//! * records end with `\n`; fields quoted as Go's `encoding/csv` does (see `fmt::csv_field`);
//! * a header `name,tags,<columns...>` is printed when a new statement starts (a blank line
//!   before it unless it is the first), and again (after a blank line) when, inside one result,
//!   a series has different columns than the one before it;
//! * results without series are skipped entirely — that includes statement errors and
//!   messages, which CSV never shows;
//! * `tags` is the series key's tag part with line-protocol escaping (`k=a\ b\,c\=d`), tags with
//!   empty values left out;
//! * time values are Unix nanoseconds (or the epoch-converted integer in the first column);
//! * floats in `strconv.FormatFloat(v, 'f', -1, 64)` form (`+Inf`, `-Inf`, `NaN` included);
//! * a request-level error is `error\n<message>\n`.
//!
//! The writer keeps state between calls (the statement id and the current header) so that chunked
//! responses print a header only once per statement, as 1.x does.

use super::fmt::{csv_field, plain_float};
use super::Epoch;
use crate::query::result::{Series, StatementResult, Value};

#[derive(Debug, Clone)]
pub struct CsvState {
    /// Statement id of the last result that had series; -1 before the first.
    statement_id: i64,
    /// Columns of the current header (without `name`, `tags`).
    columns: Vec<String>,
}

impl Default for CsvState {
    fn default() -> Self {
        CsvState { statement_id: -1, columns: Vec::new() }
    }
}

fn record<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(out, f);
    }
    out.push(b'\n');
}

fn header(out: &mut Vec<u8>, columns: &[String]) {
    record(out, ["name", "tags"].into_iter().chain(columns.iter().map(String::as_str)));
}

/// Line-protocol escaping of a tag key or value: `,`, ` ` and `=` get a backslash.
fn escape_tag(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, ',' | ' ' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
}

fn tags_field(s: &Series) -> String {
    let mut tags: Vec<&(String, String)> = s.tags.iter().collect();
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (i, (k, v)) in tags.iter().map(|t| (&t.0, &t.1)).enumerate() {
        if v.is_empty() || tags.get(i + 1).is_some_and(|n| &n.0 == k) {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        escape_tag(&mut out, k);
        out.push('=');
        escape_tag(&mut out, v);
    }
    out
}

fn cell(v: &Value, col: usize, epoch: Epoch, buf: &mut Vec<u8>) {
    buf.clear();
    match v {
        Value::Null => {}
        Value::Float(f) => plain_float(buf, *f),
        Value::Integer(i) => buf.extend_from_slice(i.to_string().as_bytes()),
        Value::Unsigned(u) => buf.extend_from_slice(u.to_string().as_bytes()),
        Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Boolean(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Time(ns) => {
            let n = epoch.convert(col, *ns).unwrap_or(*ns);
            buf.extend_from_slice(n.to_string().as_bytes());
        }
    }
}

impl CsvState {
    /// A request-level error.
    pub fn write_error(&mut self, out: &mut Vec<u8>, msg: &str) {
        record(out, ["error"]);
        record(out, [msg]);
    }

    /// Writes the rows of some results (a whole response, or one chunk).
    pub fn write_results(&mut self, out: &mut Vec<u8>, results: &[&StatementResult], epoch: Epoch) {
        let mut buf = Vec::new();
        for r in results {
            let id = r.statement_id as i64;
            if id != self.statement_id {
                let Some(first) = r.series.first() else { continue };
                if self.statement_id >= 0 {
                    out.push(b'\n');
                }
                self.statement_id = id;
                self.columns = first.columns.clone();
                header(out, &self.columns);
            }
            for (i, s) in r.series.iter().enumerate() {
                if i > 0 && r.series[i - 1].columns != s.columns {
                    out.push(b'\n');
                    self.columns = s.columns.clone();
                    header(out, &self.columns);
                }
                let tags = tags_field(s);
                for row in &s.values {
                    out_row(out, &s.name, &tags, row, epoch, &mut buf);
                }
            }
        }
    }
}

fn out_row(out: &mut Vec<u8>, name: &str, tags: &str, row: &[Value], epoch: Epoch, buf: &mut Vec<u8>) {
    csv_field(out, name);
    out.push(b',');
    csv_field(out, tags);
    for (j, v) in row.iter().enumerate() {
        out.push(b',');
        cell(v, j, epoch, buf);
        // Values are valid UTF-8 (strings come from `String`, the rest is ASCII).
        csv_field(out, std::str::from_utf8(buf).unwrap_or(""));
    }
    out.push(b'\n');
}
