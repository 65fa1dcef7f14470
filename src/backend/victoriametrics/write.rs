//! Encoding a write batch for VictoriaMetrics.
//!
//! Points go to VictoriaMetrics' InfluxDB endpoint (`/write?db=<db>&precision=ms`) as line
//! protocol written here from the parsed points, so VictoriaMetrics names the series exactly as it
//! names what Telegraf posts straight to it (metric `<measurement><sep><field>`, tags as labels,
//! the `db` query parameter as the db label). Tag keys VictoriaMetrics would read as the database
//! or the metric name are stored under another label (see [`labels`](mod@super::labels)), so
//! the db label is always the batch's database. Its line-protocol ingest costs about a third of
//! its JSON import's.
//!
//! A body whose every line VictoriaMetrics reads exactly as influxgate parsed it is not encoded
//! at all: the request's own bytes are sent with its `precision` ([`forward`](mod@super::forward)).
//!
//! Before anything is sent, the batch passes [`checks`](mod@super::checks) (values, label sets,
//! name collisions) and the cardinality limits ([`cardinality`](mod@super::cardinality)): a
//! batch refused by either stores nothing.
//!
//! VictoriaMetrics 1.79's line-protocol parser (`lib/protoparser/influx`), which the encoding
//! is written against:
//!
//! * a body is cut into lines at every `\n` (no escape); a line starting with `#` is a comment;
//!   a line longer than `-influx.maxLineSize` fails the whole request;
//! * measurement, tag keys, tag values and field keys are unescaped alike: `\` followed by space,
//!   `,`, `=` or `\` is that character; any other `\x` stays as written. Delimiters are found
//!   skipping characters preceded by an odd number of backslashes;
//! * a tag with an empty key or value is dropped (so is a label with an empty value in any
//!   VictoriaMetrics ingestion); an empty field key fails the line;
//! * an unescaped `"` after the measurement and tags switches on quoted-string field scanning,
//!   which a `"` in a field key would derail;
//! * numbers: `<int>i`, `<uint>u` are converted exactly as `as f64`; a plain decimal (no exponent)
//!   is parsed exactly (short ones by one correctly rounded division, long ones by Go's
//!   `strconv.ParseFloat`); exponent forms are not (a second rounding);
//! * a timestamp of 0 means "now".
//!
//! What line protocol cannot carry for VictoriaMetrics — a `\n` in a name or value, a measurement
//! that is empty or starts with `#`, a field key that is empty or holds `"`, a point at the
//! millisecond 0, a series key longer than a line may be — goes, point by point, to
//! `/api/v1/import` as JSON lines instead, which names series the same way. A point with more
//! fields than fit in one line is written as several lines (one series per field anyway).
//!
//! Line protocol is used only when VictoriaMetrics' flags (read once from its `/metrics`) make it
//! store what the backend's options say: `-influxMeasurementFieldSeparator` equal to the configured
//! separator, `-influxDBLabel` to the configured db label, `-influxSkipSingleField` and
//! `-influxSkipMeasurement` off and `-influxTrimTimestamp` at most 1 ms. Otherwise (or when the
//! flags cannot be read) every point goes to the JSON import, as before.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use super::labels::{LabelLimits, LabelMap, ESCAPE};
use super::{checks, names, read_bounded, Inner, VictoriaMetricsBackend, MAX_FUTURE_MS, NS_PER_MS, WRITE_CHUNK_BYTES};
use super::forward;
use crate::backend::{BackendError, RawBody, Result, WriteBatch, WriteOutcome};
use crate::model::{FieldRef, PointRef};

/// What becomes of a point that passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Write,
    /// Older than VictoriaMetrics' retention.
    TooOld,
    /// More than two days ahead of its clock.
    TooNew,
    /// Only string fields, dropped (`drop_string_fields`).
    Strings,
}

/// VictoriaMetrics silently drops samples older than its retention or more than two days ahead
/// of its clock: such points are left out and counted in the answer, as 1.x answers points
/// beyond a retention policy (the others are written).
fn fate(p: &PointRef<'_>, min_ms: i64, max_ms: i64) -> Fate {
    let ms = p.time / NS_PER_MS;
    if ms < min_ms {
        Fate::TooOld
    } else if ms > max_ms {
        Fate::TooNew
    } else if p.fields.iter().all(|(_, v)| matches!(v, FieldRef::String(_))) {
        Fate::Strings
    } else {
        Fate::Write
    }
}

/// `Backend::write` of the VictoriaMetrics backend; `body`, the request's body the batch was
/// parsed from, is sent as it is when that stores the same ([`forward`](mod@super::forward)).
pub(super) async fn write(b: &VictoriaMetricsBackend, batch: WriteBatch, body: Option<RawBody>) -> Result<WriteOutcome> {
    let inner = &b.inner;
    b.check_write_rp(batch.rp.as_deref())?;
    let setup = inner.write_setup().await;
    checks::check_points(inner, &batch, &setup.limits)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let retention = inner.retention().await;
    let min_ms = if retention > 0 { now_ms.saturating_sub(retention / NS_PER_MS) } else { i64::MIN };
    let max_ms = now_ms.saturating_add(MAX_FUTURE_MS);
    inner.tracker.prepare(inner, &batch.db).await?;
    // Held until the batch is sent: see `checks`.
    let _names = checks::check_names(inner, &batch).await?;
    inner.tracker.check(inner, &batch, &|p| fate(p, min_ms, max_ms) == Fate::Write).await?;
    let forwardable = match (&setup.mode, body) {
        (Mode::LineProtocol { max_line }, Some(body)) => all_written(&batch, min_ms, max_ms)
            .then_some(body)
            .filter(|body| forward::plain_body(&body.bytes, &batch.points, &inner.labels, *max_line)),
        _ => None,
    };
    let (written, too_old, too_new) = match forwardable {
        Some(body) => (forward_batch(inner, &batch, body).await?, 0, 0),
        None => send_batch(inner, &batch, &setup.mode, min_ms, max_ms).await?,
    };
    if too_new > 0 {
        return Err(BackendError::Invalid(format!(
            "partial write: points beyond retention policy or more than 2 days in the future are not stored by victoriametrics dropped={}",
            too_old + too_new
        )));
    }
    if too_old > 0 {
        return Err(BackendError::Invalid(format!("partial write: points beyond retention policy dropped={too_old}")));
    }
    Ok(WriteOutcome { points_written: written })
}

/// Whether every point is written (none too old or too new; string fields are ruled out by
/// [`forward::plain_body`]) at a millisecond after 0, which line protocol carries.
fn all_written(batch: &WriteBatch, min_ms: i64, max_ms: i64) -> bool {
    let lo = min_ms.max(1).saturating_mul(NS_PER_MS);
    let hi = max_ms.saturating_add(1).saturating_mul(NS_PER_MS);
    batch.points.iter().all(|p| p.time >= lo && p.time < hi)
}

/// Sends `body` to `/write` with its precision, in pieces of about [`WRITE_CHUNK_BYTES`] cut at
/// line ends, then notes the batch's measurements in the catalog; the points written.
async fn forward_batch(inner: &Inner, batch: &WriteBatch, body: RawBody) -> Result<usize> {
    let path = write_path_with(&batch.db, forward::precision_arg(body.precision));
    let mut rest = body.bytes;
    while !rest.is_empty() {
        let cut = match rest.get(WRITE_CHUNK_BYTES..).and_then(|tail| tail.iter().position(|&c| c == b'\n')) {
            Some(i) => WRITE_CHUNK_BYTES + i + 1,
            None => rest.len(),
        };
        let piece = rest.split_to(cut);
        inner.send(&path, piece, "text/plain", Some(inner.opts.timeout)).await?;
        inner.note_written();
    }
    inner.forwarded.fetch_add(1, Ordering::Relaxed);
    note_measurements(inner, &batch.db, batch.points.iter().map(|p| p.measurement))?;
    Ok(batch.points.len())
}

/// Adds the measurements written to the catalog (with the database) when it lacks any.
fn note_measurements<'a>(inner: &Inner, db: &str, written: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut new_meas: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut last_seen: Option<&str> = None;
    {
        let c = inner.catalog();
        let known = c.measurements.get(db).filter(|_| c.databases.contains(db));
        for m in written {
            if last_seen != Some(m) && seen.insert(m) && !known.is_some_and(|s| s.contains(m)) {
                new_meas.insert(m.to_string());
            }
            last_seen = Some(m);
        }
    }
    if !new_meas.is_empty() {
        // A database written to exists until DROP DATABASE, as in 1.x, also once its series
        // are all deleted.
        inner.update_catalog(|c| {
            c.databases.insert(db.to_string());
            c.measurements.entry(db.to_string()).or_default().extend(new_meas);
            true
        })?;
    }
    Ok(())
}

/// Encodes and sends the points to write, then notes their measurements in the catalog; the
/// points written, and those too old and too new.
async fn send_batch(inner: &Inner, batch: &WriteBatch, mode: &Mode, min_ms: i64, max_ms: i64) -> Result<(usize, usize, usize)> {
    let sep = &inner.opts.separator;
    let lp_path = write_path(&batch.db);
    // The line-protocol body, presized from the first point's size (growing a multi-MiB buffer
    // costs copies and page faults); JSON only for what line protocol cannot carry.
    let mut lp = String::new();
    let mut json = String::new();
    let (mut too_old, mut too_new) = (0usize, 0usize);
    let mut dropped = 0u64;
    let mut written = 0usize;
    for (i, p) in batch.points.iter().enumerate() {
        let strings = p.fields.iter().filter(|(_, v)| matches!(v, FieldRef::String(_))).count();
        match fate(&p, min_ms, max_ms) {
            Fate::TooOld => {
                too_old += 1;
                continue;
            }
            Fate::TooNew => {
                too_new += 1;
                continue;
            }
            Fate::Strings => {
                dropped += strings as u64;
                continue;
            }
            Fate::Write => dropped += strings as u64,
        }
        let ms = p.time / NS_PER_MS;
        let as_lp = match mode {
            Mode::LineProtocol { max_line } => {
                let before = lp.len();
                let ok = push_lp_point(&mut lp, &p, ms, *max_line, &inner.labels);
                if i == 0 && ok {
                    let per_point = (lp.len() - before) + (lp.len() - before) / 8;
                    let want = per_point.saturating_mul(batch.points.len()).min(WRITE_CHUNK_BYTES + (WRITE_CHUNK_BYTES >> 2));
                    lp.reserve(want.saturating_sub(lp.len()));
                }
                ok
            }
            Mode::Json(_) => false,
        };
        if !as_lp {
            push_json_point(&mut json, &p, ms, sep, &inner.labels, &batch.db);
        }
        if lp.len() >= WRITE_CHUNK_BYTES {
            let cap = lp.capacity();
            inner.send(&lp_path, std::mem::replace(&mut lp, String::with_capacity(cap)), "text/plain", Some(inner.opts.timeout)).await?;
            inner.note_written();
        }
        if json.len() >= WRITE_CHUNK_BYTES {
            inner.send("/api/v1/import", std::mem::take(&mut json), "application/json", Some(inner.opts.timeout)).await?;
            inner.note_written();
        }
        written += 1;
    }
    if !lp.is_empty() {
        inner.send(&lp_path, lp, "text/plain", Some(inner.opts.timeout)).await?;
        inner.note_written();
    }
    if !json.is_empty() {
        inner.send("/api/v1/import", json, "application/json", Some(inner.opts.timeout)).await?;
        inner.note_written();
    }
    if dropped > 0 {
        inner.strings_dropped.fetch_add(dropped, Ordering::Relaxed);
    }
    let kept = batch.points.iter().filter(|p| fate(p, min_ms, max_ms) == Fate::Write);
    note_measurements(inner, &batch.db, kept.map(|p| p.measurement))?;
    Ok((written, too_old, too_new))
}

/// The write mode and VictoriaMetrics' label bounds, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub mode: Mode,
    pub limits: LabelLimits,
}

impl Inner {
    /// The write setup, read from VictoriaMetrics' flags on the first write (again on the next
    /// write while VictoriaMetrics cannot be asked; JSON and its default label bounds meanwhile).
    async fn write_setup(&self) -> Setup {
        if let Some(s) = self.write_setup.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return s;
        }
        let unread = |why: String| Setup { mode: Mode::Json(why), limits: LabelLimits::default() };
        let rb = self.client.get(format!("{}/metrics", self.base)).timeout(self.opts.timeout);
        let resp = self.request(rb, "/metrics").await;
        let setup = match resp {
            Ok(r) if r.status().is_success() => match read_bounded(r, 16 << 20, true, "/metrics", self.opts.timeout).await {
                Ok(body) => {
                    let text = String::from_utf8_lossy(&body);
                    Setup {
                        mode: mode_from_metrics(&text, &self.opts.separator, &self.opts.db_label),
                        limits: LabelLimits::from_metrics(&text),
                    }
                }
                Err(_) => return unread("victoriametrics /metrics could not be read".into()),
            },
            Ok(r) => unread(format!("victoriametrics /metrics answered {}", r.status())),
            Err(_) => return unread("victoriametrics /metrics could not be read".into()),
        };
        if let Mode::Json(reason) = &setup.mode {
            tracing::warn!("victoriametrics backend: writing with /api/v1/import (JSON), not line protocol: {reason}");
        }
        *self.write_setup.lock().unwrap_or_else(|p| p.into_inner()) = Some(setup.clone());
        setup
    }
}

/// The default `-influx.maxLineSize`.
pub const DEFAULT_MAX_LINE: usize = 256 * 1024;
/// Bytes kept free below `-influx.maxLineSize` (the timestamp and newline need at most 22).
const LINE_MARGIN: usize = 64;

/// How points are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Line protocol on `/write`; lines shorter than `max_line` bytes.
    LineProtocol { max_line: usize },
    /// JSON lines on `/api/v1/import`, for the reason given.
    Json(String),
}

/// The write mode for VictoriaMetrics' `/metrics` text (which lists every flag as
/// `flag{name="...", value="...", is_set="..."} 1`).
pub fn mode_from_metrics(text: &str, separator: &str, db_label: &str) -> Mode {
    type Check<'a> = (&'a str, &'a dyn Fn(&str) -> bool, &'a str);
    let want: [Check; 5] = [
        ("influxMeasurementFieldSeparator", &|v| v == separator, "the configured measurement_field_separator"),
        ("influxDBLabel", &|v| v == db_label, "the configured db_label"),
        ("influxSkipSingleField", &|v| v == "false", "false"),
        ("influxSkipMeasurement", &|v| v == "false", "false"),
        ("influxTrimTimestamp", &|v| matches!(v, "1ms" | "0s" | "0" | "1µs" | "1us" | "1ns"), "1ms"),
    ];
    for (name, ok, expected) in want {
        match flag_value(text, name) {
            Some(v) if ok(&v) => {}
            Some(v) => {
                return Mode::Json(format!("victoriametrics flag -{name}={v:?} is not {expected}"));
            }
            None => return Mode::Json(format!("victoriametrics does not list flag -{name} in /metrics")),
        }
    }
    let max_line = flag_value(text, "influx.maxLineSize").and_then(|v| v.parse::<usize>().ok()).unwrap_or(DEFAULT_MAX_LINE);
    if max_line < 4 * LINE_MARGIN {
        return Mode::Json(format!("victoriametrics flag -influx.maxLineSize={max_line} is too small"));
    }
    Mode::LineProtocol { max_line }
}

/// The value of a flag in VictoriaMetrics' `/metrics` (Go-quoted; `\"` and `\\` unescaped).
pub(super) fn flag_value(text: &str, name: &str) -> Option<String> {
    let prefix = format!("flag{{name=\"{name}\", value=\"");
    let line = text.lines().find(|l| l.starts_with(&prefix))?;
    let mut out = String::new();
    let mut chars = line[prefix.len()..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                c @ ('"' | '\\') => out.push(c),
                // Another escape: kept as written, so it cannot equal a plain configured value.
                c => {
                    out.push('\\');
                    out.push(c);
                }
            },
            c => out.push(c),
        }
    }
}

/// Byte classes for escaping: 0 as is, 1 escaped with `\`, 2 impossible in VictoriaMetrics'
/// line protocol (`\n`).
const ESC: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = 1;
    t[b',' as usize] = 1;
    t[b'=' as usize] = 1;
    t[b'\\' as usize] = 1;
    t[b'\n' as usize] = 2;
    t
};

/// Appends `s` escaped; false (with `out` partly written) when `s` holds a newline.
#[inline]
fn push_escaped(out: &mut String, s: &str) -> bool {
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        match ESC[c as usize] {
            0 => {}
            1 => {
                // `c` is ASCII, so `i` is a char boundary.
                out.push_str(&s[start..i]);
                out.push('\\');
                out.push(c as char);
                start = i + 1;
            }
            _ => return false,
        }
    }
    out.push_str(&s[start..]);
    true
}

/// Appends an integer in decimal.
#[inline]
fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(d as char);
    }
}

#[inline]
fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends a finite float as a plain decimal (no exponent: VictoriaMetrics parses those
/// exactly), the shortest that reads back as `x`.
#[inline]
fn push_f64(out: &mut String, x: f64) {
    if x == x.trunc() && x.abs() < 1e15 {
        if x == 0.0 && x.is_sign_negative() {
            out.push_str("-0");
        } else {
            push_i64(out, x as i64);
        }
        return;
    }
    use std::fmt::Write as _;
    // Rust's Display of f64: shortest round-trip digits, never an exponent.
    let _ = write!(out, "{x}");
}

/// Appends one field value in line protocol; false for a string (not written).
#[inline]
fn push_value(out: &mut String, v: FieldRef<'_>) -> bool {
    match v {
        FieldRef::Float(x) => push_f64(out, x),
        FieldRef::Integer(i) => {
            push_i64(out, i);
            out.push('i');
        }
        FieldRef::Unsigned(u) => {
            push_u64(out, u);
            out.push('u');
        }
        FieldRef::Boolean(b) => out.push(if b { '1' } else { '0' }),
        FieldRef::String(_) => return false,
    }
    true
}

/// Appends `p` (timestamp `ms`, > 0) as line protocol to `out`: one line, or several when its
/// fields do not fit in `max_line` bytes; tags under the labels `labels` maps them to. Tags with an
/// empty value and string fields are left out (the caller counts dropped strings). Returns false,
/// with `out` unchanged, when line protocol cannot carry the point exactly (see the module docs);
/// the caller sends it as JSON.
pub fn push_lp_point(out: &mut String, p: &PointRef<'_>, ms: i64, max_line: usize, labels: &LabelMap) -> bool {
    let start = out.len();
    if ms <= 0 || p.measurement.is_empty() || p.measurement.starts_with('#') {
        return false;
    }
    let limit = max_line.saturating_sub(LINE_MARGIN);
    let ok = push_lines(out, p, ms, limit, labels);
    if !ok {
        out.truncate(start);
    }
    ok
}

fn push_lines(out: &mut String, p: &PointRef<'_>, ms: i64, limit: usize, labels: &LabelMap) -> bool {
    let mut line_start = out.len();
    if !push_escaped(out, p.measurement) {
        return false;
    }
    for (k, v) in p.tags.iter() {
        if v.is_empty() {
            continue;
        }
        out.push(',');
        if labels.escaped(k) {
            out.push_str(ESCAPE); // nothing in it to escape
        }
        if !push_escaped(out, k) {
            return false;
        }
        out.push('=');
        if !push_escaped(out, v) {
            return false;
        }
    }
    let prefix_len = out.len() - line_start;
    if prefix_len >= limit {
        return false;
    }
    let mut in_line = 0usize;
    for (k, v) in p.fields.iter() {
        if matches!(v, FieldRef::String(_)) {
            continue;
        }
        if k.is_empty() || k.contains('"') {
            return false;
        }
        let before = out.len();
        out.push(if in_line == 0 { ' ' } else { ',' });
        if !push_escaped(out, k) {
            return false;
        }
        out.push('=');
        push_value(out, v);
        if out.len() - line_start <= limit {
            in_line += 1;
            continue;
        }
        if in_line == 0 {
            return false; // one field alone does not fit
        }
        // Move this field to a new line of the same series (rare: a very wide point).
        let field = out[before + 1..].to_string();
        let prefix = out[line_start..line_start + prefix_len].to_string();
        out.truncate(before);
        finish_line(out, ms);
        line_start = out.len();
        out.push_str(&prefix);
        out.push(' ');
        out.push_str(&field);
        if out.len() - line_start > limit {
            return false;
        }
        in_line = 1;
    }
    if in_line == 0 {
        // Only string fields: nothing to write (the caller skips such points first).
        out.truncate(line_start);
        return true;
    }
    finish_line(out, ms);
    true
}

#[inline]
fn finish_line(out: &mut String, ms: i64) {
    out.push(' ');
    push_i64(out, ms);
    out.push('\n');
}

/// A JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""), // cannot happen for a &str
    }
}

/// Appends `p` as JSON lines for `/api/v1/import` (one line per non-string field): metric
/// `<measurement><sep><field>`, the db label = `db`, and its tags under the labels `labels` maps
/// them to (empty values left out, as VictoriaMetrics drops them). String fields are skipped.
pub fn push_json_point(out: &mut String, p: &PointRef<'_>, ms: i64, sep: &str, labels: &LabelMap, db: &str) {
    let mut rest = String::new();
    if !db.is_empty() {
        push_member(&mut rest, labels.db_label(), db);
    }
    for (k, v) in p.tags.iter() {
        if !v.is_empty() {
            push_member(&mut rest, &labels.label_of(k), v);
        }
    }
    for (f, v) in p.fields.iter() {
        let x = match v {
            FieldRef::Float(x) => x,
            FieldRef::Integer(i) => i as f64,
            FieldRef::Unsigned(u) => u as f64,
            FieldRef::Boolean(b) => f64::from(u8::from(b)),
            FieldRef::String(_) => continue,
        };
        out.push_str("{\"metric\":{\"__name__\":");
        push_json_str(out, &names::metric_name(p.measurement, f, sep));
        out.push_str(&rest);
        out.push_str("},\"values\":[");
        // Finite (checked by the caller); a plain decimal, parsed exactly.
        push_f64(out, x);
        out.push_str("],\"timestamps\":[");
        push_i64(out, ms);
        out.push_str("]}\n");
    }
}

/// `,"k":"v"`.
fn push_member(out: &mut String, k: &str, v: &str) {
    out.push(',');
    push_json_str(out, k);
    out.push(':');
    push_json_str(out, v);
}

/// The `/write` path and query for database `db`, with millisecond timestamps.
pub fn write_path(db: &str) -> String {
    write_path_with(db, "ms")
}

/// The `/write` path and query for database `db` and timestamps of `precision`.
fn write_path_with(db: &str, precision: &str) -> String {
    let mut s = format!("/write?precision={precision}");
    if !db.is_empty() {
        s.push_str("&db=");
        s.extend(form_urlencoded::byte_serialize(db.as_bytes()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldValue, Point};
    use proptest::prelude::*;

    /// VictoriaMetrics 1.79's reading of one line, reimplemented from its documented behaviour:
    /// (measurement, tags without empty ones, fields, timestamp), or None for a line it skips or
    /// refuses.
    #[allow(clippy::type_complexity)]
    fn vm_read(line: &str) -> Option<(String, Vec<(String, String)>, Vec<(String, f64)>, i64)> {
        fn next_unescaped(s: &str, ch: u8) -> Option<usize> {
            let b = s.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == ch {
                    let mut n = 0;
                    while n < i && b[i - 1 - n] == b'\\' {
                        n += 1;
                    }
                    if n % 2 == 0 {
                        return Some(i);
                    }
                }
                i += 1;
            }
            None
        }
        fn unescape(s: &str) -> String {
            let mut out = String::new();
            let mut it = s.chars().peekable();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.peek() {
                        Some(&n @ (' ' | ',' | '=' | '\\')) => {
                            out.push(n);
                            it.next();
                        }
                        _ => out.push('\\'),
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        fn split_all(mut s: &str, ch: u8) -> Vec<&str> {
            let mut v = Vec::new();
            while let Some(i) = next_unescaped(s, ch) {
                v.push(&s[..i]);
                s = &s[i + 1..];
            }
            v.push(s);
            v
        }
        if line.is_empty() || line.starts_with('#') || line.contains('\n') {
            return None;
        }
        let sp = next_unescaped(line, b' ')?;
        let (mt, rest) = (&line[..sp], line[sp + 1..].trim_start_matches(' '));
        if next_unescaped(rest, b'"').is_some() {
            return None; // quoted-field scanning: never produced by the encoder
        }
        let mut parts = split_all(mt, b',').into_iter();
        let m = unescape(parts.next()?);
        let mut tags = Vec::new();
        for t in parts {
            let eq = next_unescaped(t, b'=')?;
            let (k, v) = (unescape(&t[..eq]), unescape(&t[eq + 1..]));
            if !k.is_empty() && !v.is_empty() {
                tags.push((k, v));
            }
        }
        let sp = next_unescaped(rest, b' ')?;
        let (fs, ts) = (&rest[..sp], rest[sp + 1..].trim_start_matches(' '));
        let mut fields = Vec::new();
        for f in split_all(fs, b',') {
            let eq = next_unescaped(f, b'=')?;
            let k = unescape(&f[..eq]);
            if k.is_empty() {
                return None;
            }
            let v = &f[eq + 1..];
            let x = if let Some(i) = v.strip_suffix('i') {
                i.parse::<i64>().ok()? as f64
            } else if let Some(u) = v.strip_suffix('u') {
                u.parse::<u64>().ok()? as f64
            } else {
                assert!(!v.contains(['e', 'E']), "exponent in {v}");
                v.parse::<f64>().ok()?
            };
            fields.push((k, x));
        }
        Some((m, tags, fields, ts.parse().ok()?))
    }

    fn pt(m: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
        Point {
            measurement: m.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            time: 0,
        }
    }

    fn as_f64(v: &FieldValue) -> f64 {
        match v {
            FieldValue::Float(x) => *x,
            FieldValue::Integer(i) => *i as f64,
            FieldValue::Unsigned(u) => *u as f64,
            FieldValue::Boolean(b) => f64::from(u8::from(*b)),
            FieldValue::String(_) => unreachable!(),
        }
    }

    /// Encodes, reads back as VictoriaMetrics would, and compares.
    fn round_trip(p: &Point, max_line: usize) -> bool {
        let mut out = String::from("prev 1\n");
        if !push_lp_point(&mut out, &p.to_batch().get(0), 1_704_067_200_123, max_line, &LabelMap::new("db")) {
            assert_eq!(out, "prev 1\n", "a refused point leaves the buffer as it was");
            return false;
        }
        assert!(out.ends_with('\n'));
        let mut fields = Vec::new();
        for line in out["prev 1\n".len()..].lines() {
            assert!(line.len() < max_line, "line of {} bytes", line.len());
            let (m, tags, f, ts) = vm_read(line).unwrap_or_else(|| panic!("unreadable line {line:?}"));
            assert_eq!(m, p.measurement);
            let map = LabelMap::new("db");
            let want: Vec<(String, String)> =
                p.tags.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (map.label_of(k).into_owned(), v.clone())).collect();
            assert_eq!(tags, want);
            assert_eq!(ts, 1_704_067_200_123);
            fields.extend(f);
        }
        let want: Vec<(String, f64)> = p
            .fields
            .iter()
            .filter(|(_, v)| !matches!(v, FieldValue::String(_)))
            .map(|(k, v)| (k.clone(), as_f64(v)))
            .collect();
        assert_eq!(fields.len(), want.len());
        for ((k1, x1), (k2, x2)) in fields.iter().zip(&want) {
            assert_eq!(k1, k2);
            assert_eq!(x1.to_bits(), x2.to_bits(), "{k1}: {x1} vs {x2}");
        }
        true
    }

    #[test]
    fn plain_point() {
        let p = pt(
            "cpu",
            &[("host", "h1"), ("region", "eu")],
            vec![
                ("usage_user", FieldValue::Float(1.25)),
                ("n", FieldValue::Integer(-3)),
                ("u", FieldValue::Unsigned(u64::MAX)),
                ("ok", FieldValue::Boolean(true)),
                ("s", FieldValue::String("x".into())),
                ("value", FieldValue::Float(-0.5)),
            ],
        );
        let mut out = String::new();
        assert!(push_lp_point(&mut out, &p.to_batch().get(0), 1_704_067_200_123, DEFAULT_MAX_LINE, &LabelMap::new("db")));
        assert_eq!(
            out,
            "cpu,host=h1,region=eu usage_user=1.25,n=-3i,u=18446744073709551615u,ok=1,value=-0.5 1704067200123\n"
        );
        assert!(round_trip(&p, DEFAULT_MAX_LINE));
    }

    #[test]
    fn hostile_names() {
        let p = pt(
            "m x,y=z\\",
            &[("", "x"), ("a b", ""), ("t=k,", "v 1,2=3\\"), ("q\"", "\"a\"b\""), ("\\", "\\\\ ")],
            vec![("f= k,\\", FieldValue::Float(2.0)), ("é", FieldValue::Integer(i64::MIN))],
        );
        let mut out = String::new();
        assert!(push_lp_point(&mut out, &p.to_batch().get(0), 5, DEFAULT_MAX_LINE, &LabelMap::new("db")));
        assert_eq!(
            out,
            "m\\ x\\,y\\=z\\\\,influxgate_tag_=x,t\\=k\\,=v\\ 1\\,2\\=3\\\\,q\"=\"a\"b\",\\\\=\\\\\\\\\\  f\\=\\ k\\,\\\\=2,é=-9223372036854775808i 5\n"
        );
        // The empty tag key, which VictoriaMetrics would drop, goes under its escaped label.
        assert!(round_trip(&p, DEFAULT_MAX_LINE));
        let mut out = String::new();
        let p = pt("m", &[("db", "other"), ("__name__", "n"), ("influxgate_tag_x", "y")], vec![("v", FieldValue::Float(1.0))]);
        assert!(push_lp_point(&mut out, &p.to_batch().get(0), 5, DEFAULT_MAX_LINE, &LabelMap::new("db")));
        assert_eq!(out, "m,influxgate_tag_db=other,influxgate_tag___name__=n,influxgate_tag_influxgate_tag_x=y v=1 5\n");
        let mut out = String::new();
        push_json_point(&mut out, &p.to_batch().get(0), 5, "_", &LabelMap::new("db"), "mine");
        assert_eq!(
            out,
            "{\"metric\":{\"__name__\":\"m_v\",\"db\":\"mine\",\"influxgate_tag_db\":\"other\",\"influxgate_tag___name__\":\"n\",\"influxgate_tag_influxgate_tag_x\":\"y\"},\"values\":[1],\"timestamps\":[5]}\n"
        );
    }

    #[test]
    fn what_line_protocol_cannot_carry() {
        let f = || vec![("v", FieldValue::Float(1.0))];
        for p in [
            pt("", &[], f()),
            pt("#m", &[], f()),
            pt("m\nx", &[], f()),
            pt("m", &[("k\n", "v")], f()),
            pt("m", &[("k", "v\n")], f()),
            pt("m", &[], vec![("a\"b", FieldValue::Float(1.0))]),
            pt("m", &[], vec![("a\nb", FieldValue::Float(1.0))]),
            pt("m", &[], vec![("", FieldValue::Float(1.0))]),
        ] {
            let mut out = String::from("x");
            assert!(!push_lp_point(&mut out, &p.to_batch().get(0), 1, DEFAULT_MAX_LINE, &LabelMap::new("db")), "{p:?}");
            assert_eq!(out, "x");
        }
        // The millisecond 0 would read as "now".
        let mut out = String::new();
        assert!(!push_lp_point(&mut out, &pt("m", &[], f()).to_batch().get(0), 0, DEFAULT_MAX_LINE, &LabelMap::new("db")));
        // '#' inside a name, quotes in tags and the measurement are fine.
        assert!(round_trip(&pt("m#\"", &[("\"", "#")], f()), DEFAULT_MAX_LINE));
    }

    #[test]
    fn wide_points_are_split_into_lines() {
        let fields: Vec<(String, FieldValue)> = (0..200).map(|i| (format!("field_{i:03}"), FieldValue::Float(i as f64 + 0.5))).collect();
        let mut p = pt("wide", &[("host", "h")], Vec::new());
        p.fields = fields;
        assert!(round_trip(&p, 1024));
        let mut out = String::new();
        assert!(push_lp_point(&mut out, &p.to_batch().get(0), 7, 1024, &LabelMap::new("db")));
        assert!(out.lines().count() > 3);
        // A series key longer than a line may be goes to JSON.
        let long = "k".repeat(2000);
        let mut out = String::new();
        assert!(!push_lp_point(&mut out, &pt("m", &[("t", &long)], vec![("v", FieldValue::Float(1.0))]).to_batch().get(0), 7, 1024, &LabelMap::new("db")));
        assert!(out.is_empty());
    }

    #[test]
    fn floats_are_plain_decimals() {
        for (x, s) in [
            (1e300, format!("1{}", "0".repeat(300))),
            (1e-7, "0.0000001".to_string()),
            (0.1 + 0.2, "0.30000000000000004".to_string()),
            (-0.0, "-0".to_string()),
            (123.0, "123".to_string()),
            (1e15, "1000000000000000".to_string()),
            (-2.5e-3, "-0.0025".to_string()),
            (f64::MAX, format!("{}", f64::MAX)),
        ] {
            let mut out = String::new();
            push_f64(&mut out, x);
            assert_eq!(out, s);
            assert!(!out.contains('e'));
            assert_eq!(out.parse::<f64>().unwrap().to_bits(), x.to_bits());
        }
    }

    #[test]
    fn flags() {
        let text = "\
flag{name=\"influx.maxLineSize\", value=\"262144\", is_set=\"false\"} 1
flag{name=\"influxDBLabel\", value=\"db\", is_set=\"false\"} 1
flag{name=\"influxMeasurementFieldSeparator\", value=\"_\", is_set=\"false\"} 1
flag{name=\"influxSkipMeasurement\", value=\"false\", is_set=\"false\"} 1
flag{name=\"influxSkipSingleField\", value=\"false\", is_set=\"false\"} 1
flag{name=\"influxTrimTimestamp\", value=\"1ms\", is_set=\"false\"} 1
";
        assert_eq!(mode_from_metrics(text, "_", "db"), Mode::LineProtocol { max_line: 262144 });
        assert!(matches!(mode_from_metrics(text, ".", "db"), Mode::Json(r) if r.contains("influxMeasurementFieldSeparator")));
        assert!(matches!(mode_from_metrics(text, "_", "database"), Mode::Json(_)));
        let skip = text.replace("influxSkipSingleField\", value=\"false", "influxSkipSingleField\", value=\"true");
        assert!(matches!(mode_from_metrics(&skip, "_", "db"), Mode::Json(_)));
        let trim = text.replace("value=\"1ms\"", "value=\"1s\"");
        assert!(matches!(mode_from_metrics(&trim, "_", "db"), Mode::Json(_)));
        assert!(matches!(mode_from_metrics("", "_", "db"), Mode::Json(_)));
        let quoted = text.replace("value=\"_\"", "value=\"a\\\"\\\\b\"");
        assert_eq!(mode_from_metrics(&quoted, "a\"\\b", "db"), Mode::LineProtocol { max_line: 262144 });
    }

    #[test]
    fn write_path_escapes_db() {
        assert_eq!(write_path("telegraf"), "/write?precision=ms&db=telegraf");
        assert_eq!(write_path("a&b=c d/é"), "/write?precision=ms&db=a%26b%3Dc+d%2F%C3%A9");
        assert_eq!(write_path(""), "/write?precision=ms");
    }

    fn name() -> impl Strategy<Value = String> {
        // Weighted towards the characters that matter.
        proptest::collection::vec(
            prop_oneof![
                3 => proptest::sample::select(vec![' ', ',', '=', '\\', '"', '#', '\r', '\t', 'a', 'é', '_']),
                1 => any::<char>(),
            ],
            0..8,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(FieldValue::Float),
            (-1e6f64..1e6).prop_map(FieldValue::Float),
            any::<i64>().prop_map(FieldValue::Integer),
            any::<u64>().prop_map(FieldValue::Unsigned),
            any::<bool>().prop_map(FieldValue::Boolean),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Any point either reads back exactly as VictoriaMetrics parses line protocol, or is
        /// refused (then sent as JSON) for one of the documented reasons.
        #[test]
        fn encoding_round_trips(
            m in name(),
            tags in proptest::collection::btree_map(name(), name(), 0..4),
            fields in proptest::collection::btree_map(name(), value(), 1..5),
            max_line in prop_oneof![Just(DEFAULT_MAX_LINE), 300usize..400],
        ) {
            let p = Point {
                measurement: m,
                tags: tags.into_iter().filter(|(k, _)| !k.is_empty()).collect(),
                fields: fields.into_iter().collect(),
                time: 0,
            };
            let expressible = !p.measurement.is_empty()
                && !p.measurement.starts_with('#')
                && !p.measurement.contains('\n')
                && p.tags.iter().all(|(k, v)| v.is_empty() || (!k.contains('\n') && !v.contains('\n')))
                && p.fields.iter().all(|(k, _)| !k.is_empty() && !k.contains(['\n', '"']));
            let written = round_trip(&p, max_line);
            if max_line == DEFAULT_MAX_LINE {
                prop_assert_eq!(written, expressible);
            } else {
                prop_assert!(!written || expressible);
            }
        }
    }
}
