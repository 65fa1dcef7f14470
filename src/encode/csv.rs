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

use std::io::Write as _;

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

/// Appends one value. Only strings can need quoting: numbers, `true`/`false`, `+Inf`, `-Inf`,
/// `NaN` never contain a comma, quote or newline nor start with a space.
fn cell(out: &mut Vec<u8>, v: &Value, col: usize, epoch: Epoch) {
    match v {
        Value::Null => {}
        Value::Float(f) => plain_float(out, *f),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Unsigned(u) => {
            let _ = write!(out, "{u}");
        }
        Value::String(s) => csv_field(out, s),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Time(ns) => {
            let n = epoch.convert(col, *ns).unwrap_or(*ns);
            let _ = write!(out, "{n}");
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
                    out_row(out, &s.name, &tags, row, epoch);
                }
            }
        }
    }
}

fn out_row(out: &mut Vec<u8>, name: &str, tags: &str, row: &[Value], epoch: Epoch) {
    csv_field(out, name);
    out.push(b',');
    csv_field(out, tags);
    for (j, v) in row.iter().enumerate() {
        out.push(b',');
        cell(out, v, j, epoch);
    }
    out.push(b'\n');
}
