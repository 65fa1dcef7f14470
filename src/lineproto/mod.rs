//! InfluxDB 1.x line protocol: a zero-copy parser that accepts and refuses exactly what InfluxDB 1.6.7
//! does, with 1.x's error texts.
//!
//! * [`Line`] / [`parse_line_into`] / [`BodyParser`]: the borrowed form, no allocation per line.
//! * [`parse_batch_with`]: a whole `/write` body to a flat [`Points`] batch (what the stores write;
//!   [`parse_body`]: the same as owned [`Point`]s), applying the rules 1.x's storage layer
//!   adds after parsing (duplicate field keys: last value wins; a `time` field is dropped; a `time` tag
//!   or a point whose only field is `time` is refused) and building 1.x's error text.
//! * [`PointLine`]: writes a [`Point`] back as canonical line protocol.
//! * [`ParseCost`]: an upper bound of what [`parse_body_with`] allocates, from one pass over a body.

mod cost;
mod line;
pub mod tsbs;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

pub use cost::ParseCost;
pub use line::{
    parse_line, parse_line_into, BodyParser, Escaped, Line, LineError, Lines, StrValue, Value, MAX_KEY_LENGTH,
};

use crate::model::{FieldRef, FieldValue, Point, Points, PointsBuilder};

/// The unit of timestamps in a `/write` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Nanosecond,
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
}

impl Precision {
    /// 1.x's `precision` query parameter. 1.6.7 recognises exactly `u`, `ms`, `s`, `m` and `h`;
    /// **every other value** (empty, `n`, `ns`, `us`, `µ`, garbage) means nanoseconds and is not an
    /// error (checked against influxd 1.6.7: `precision=us` and `precision=xyz` store `5` as 5 ns).
    /// So this never returns `None`; the `Option` is kept for callers that want to be stricter.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "u" => Precision::Microsecond,
            "ms" => Precision::Millisecond,
            "s" => Precision::Second,
            "m" => Precision::Minute,
            "h" => Precision::Hour,
            _ => Precision::Nanosecond,
        })
    }

    /// Nanoseconds in one unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanosecond => 1,
            Precision::Microsecond => 1_000,
            Precision::Millisecond => 1_000_000,
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
            Precision::Hour => 3_600_000_000_000,
        }
    }

    /// `t` truncated to this precision (towards the past, as Go's `Time.Truncate` does).
    pub fn truncate(self, t: i64) -> i64 {
        let n = self.nanos();
        t - t.rem_euclid(n)
    }
}

/// Why a `/write` body was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based number of the first malformed line of the body.
    pub line: usize,
    /// 1.x's error text (what goes into `{"error": ...}`), see [`parse_body`].
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// At most this many `unable to parse` texts go into one error message.
pub const MAX_REPORTED_LINES: usize = 100;

/// How [`parse_body_with`] parses a body and words its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    pub precision: Precision,
    /// The time of points without a timestamp (truncated to the precision, as 1.x does).
    pub now_ns: i64,
    /// An `unable to parse '<line>': <reason>` text quotes at most this many bytes of the line and
    /// at most [`reason_max`]`(quote_max)` bytes of the reason (see [`push_quoted`]); 1.x quotes
    /// both whole, which turns one long bad line into an answer of the same size.
    pub quote_max: usize,
    /// Room for the points, tags, fields and unescaped text this bound allows is made up front,
    /// so the batch's buffers never grow (never holding their old and new buffers at once).
    pub capacity: Option<ParseCost>,
}

impl ParseOptions {
    /// 1.x's behaviour: errors quote lines whole; the vector of points grows as needed.
    pub fn new(precision: Precision, now_ns: i64) -> ParseOptions {
        ParseOptions { precision, now_ns, quote_max: usize::MAX, capacity: None }
    }
}

/// Parses a whole /write body. Points without a timestamp get `now_ns` truncated to the precision
/// (as 1.x does). Errors if any line is malformed or 1.x would drop any point; the message is then
/// exactly the text 1.x 1.6.7 answers with (HTTP 400 in every case):
///
/// * every line malformed: `unable to parse '<line>': <reason>` per bad line, joined with `\n`
///   (capped at [`MAX_REPORTED_LINES`]);
/// * a point with two values of different types for one field: `field type conflict`;
/// * a point with a `time` tag: `partial write: invalid tag key: input tag "time" on measurement
///   "<m>" is invalid dropped=<n>`; a point whose only field is `time`: `partial write: invalid field
///   name: input field "time" on measurement "<m>" is invalid dropped=<n>` (1.x drops a `time` field
///   silently when the point has other fields; so does this);
/// * some lines malformed, others fine: the `unable to parse` texts as when every line is bad (1.x
///   writes the good lines and says `partial write: <texts> dropped=0`; influxgate writes nothing,
///   so it does not claim a partial write).
///
/// 1.x writes the good points in the last three cases; influxgate rejects the whole body instead.
/// Invalid UTF-8 (which 1.x stores as raw bytes) is replaced with U+FFFD.
pub fn parse_body(body: &[u8], precision: Precision, now_ns: i64) -> Result<Vec<Point>, ParseError> {
    parse_body_with(body, &ParseOptions::new(precision, now_ns))
}

/// [`parse_body`] with a bound on the quoted lines and the room for points given by `opts`.
pub fn parse_body_with(body: &[u8], opts: &ParseOptions) -> Result<Vec<Point>, ParseError> {
    parse_batch_with(body, opts).map(|b| b.to_vec())
}

/// [`parse_body_with`] into a flat batch, as the server hands it to a store: a few buffers for the
/// whole body rather than allocations per line (see [`Points`]).
pub fn parse_batch_with(body: &[u8], opts: &ParseOptions) -> Result<Points, ParseError> {
    let text = body_text(body);
    match parse_lines(&text, opts, true) {
        (points, None) => Ok(points),
        (_, Some(e)) => Err(e),
    }
}

/// A body as text: borrowed when it is UTF-8, else with each invalid sequence replaced by U+FFFD.
/// `str::from_utf8` checks ASCII a word at a time; `String::from_utf8_lossy` alone walks it in
/// chunks and cost ~3 % of a TSBS write's CPU in a profile, for the same answer.
fn body_text(body: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(body) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(body),
    }
}

/// [`parse_body`] for a body already known to be UTF-8.
pub fn parse_body_str(body: &str, precision: Precision, now_ns: i64) -> Result<Vec<Point>, ParseError> {
    match parse_lines(body, &ParseOptions::new(precision, now_ns), true) {
        (points, None) => Ok(points.to_vec()),
        (_, Some(e)) => Err(e),
    }
}

/// 1.x's partial-write behaviour, for a server that wants it: the points 1.x would still write, and
/// the error it would answer with (same texts as [`parse_body`]). The points are empty when every
/// line is malformed or on `field type conflict` (1.x then writes nothing); otherwise they are the
/// good lines' points.
pub fn parse_body_partial(body: &str, precision: Precision, now_ns: i64) -> (Vec<Point>, Option<ParseError>) {
    let (points, e) = parse_lines(body, &ParseOptions::new(precision, now_ns), false);
    (points.to_vec(), e)
}

/// The most bytes of a line's reason an error text quotes when it quotes at most `quote_max` bytes
/// of the line. 1.x's reasons repeat at most two pieces of the line (`unable to parse integer <s>:
/// strconv.ParseInt: parsing "<s>": value out of range`) with under 128 bytes of their own words, so
/// the reason of a line within `quote_max` is never cut.
pub fn reason_max(quote_max: usize) -> usize {
    quote_max.saturating_mul(2).saturating_add(256)
}

/// Appends `text` as an error text quotes it: whole when it has at most `max` bytes (so the text
/// is 1.x's, byte for byte), else its first `max` bytes, cut back to a char boundary, then
/// `...(<length> bytes)`.
pub fn push_quoted(out: &mut String, text: &str, max: usize) {
    if text.len() <= max {
        out.push_str(text);
        return;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&text[..cut]);
    out.push_str(&format!("...({} bytes)", text.len()));
}

/// `whole_body`: the caller rejects the whole body on any error, so a mix of good and bad lines
/// is reported like all-bad lines rather than as a partial write.
fn parse_lines(body: &str, opts: &ParseOptions, whole_body: bool) -> (Points, Option<ParseError>) {
    let default_time = opts.precision.truncate(opts.now_ns);
    // The batch's text: the body once, then room for the names it holds escaped.
    let mut text = String::with_capacity(body.len() + opts.capacity.map_or(0, |c| c.escaped_bytes));
    text.push_str(body);
    let mut out = PointsBuilder::new(text);
    match opts.capacity {
        Some(c) => out.reserve(c.max_points, c.max_tags, c.max_fields),
        None => out.reserve((body.len() / 64).min(1 << 16), 0, 0),
    }
    let mut failed = String::new();
    let mut n_failed = 0usize;
    let mut first_bad: Option<usize> = None;
    let mut parsed_ok = 0usize;
    let mut drop_reason: Option<String> = None;
    let mut dropped = 0usize;
    let mut first_drop: Option<usize> = None;
    let mut conflict: Option<usize> = None;

    let mut parser = BodyParser::new(body, opts.precision);
    let mut scratch = FieldScratch::default();
    while let Some((no, text, res)) = parser.next_line() {
        match res {
            Err(e) => {
                first_bad.get_or_insert(no);
                if n_failed < MAX_REPORTED_LINES {
                    if n_failed > 0 {
                        failed.push('\n');
                    }
                    failed.push_str("unable to parse '");
                    push_quoted(&mut failed, text, opts.quote_max);
                    failed.push_str("': ");
                    push_quoted(&mut failed, e.as_str(), reason_max(opts.quote_max));
                }
                n_failed += 1;
            }
            Ok(line) => {
                parsed_ok += 1;
                match add_point(line, default_time, &mut scratch, &mut out, Some(body)) {
                    Converted::Point | Converted::Skip => {}
                    Converted::Conflict => {
                        conflict.get_or_insert(no);
                    }
                    Converted::Drop(reason) => {
                        first_drop.get_or_insert(no);
                        dropped += 1;
                        drop_reason.get_or_insert(reason);
                    }
                }
            }
        }
    }
    drop(scratch);
    let Some(points) = out.try_finish() else {
        let message = format!("body too large: a write holds at most {} bytes of text", crate::model::MAX_BATCH_TEXT);
        return (Points::new(), Some(ParseError { line: 1, message }));
    };

    if n_failed > 0 && (parsed_ok == 0 || whole_body) {
        return (Points::new(), Some(ParseError { line: first_bad.unwrap_or(1), message: failed }));
    }
    if let Some(line) = conflict {
        return (Points::new(), Some(ParseError { line, message: "field type conflict".to_string() }));
    }
    if let Some(reason) = drop_reason {
        let line = match (first_drop, first_bad) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(1),
        };
        let message = format!("partial write: {} dropped={}", reason, dropped);
        return (points, Some(ParseError { line, message }));
    }
    if n_failed > 0 {
        let message = format!("partial write: {} dropped=0", failed);
        return (points, Some(ParseError { line: first_bad.unwrap_or(1), message }));
    }
    (points, None)
}

/// The 1-based line of the `index`-th point `parse_body` made from `body` (comments, blank lines
/// and lines yielding no point are not counted). For naming the line when a store refuses one
/// point of an already parsed body; `None` past the last point.
pub fn line_of_point(body: &[u8], precision: Precision, index: usize) -> Option<usize> {
    let text = body_text(body);
    let mut parser = BodyParser::new(&text, precision);
    let mut scratch = FieldScratch::default();
    let mut seen = 0usize;
    while let Some((no, _, res)) = parser.next_line() {
        if let Ok(line) = res {
            // A throwaway batch per line: this runs once, on an error.
            let mut out = PointsBuilder::new(String::new());
            if let Converted::Point = add_point(line, 0, &mut scratch, &mut out, None) {
                if seen == index {
                    return Some(no);
                }
                seen += 1;
            }
        }
    }
    None
}

enum Converted {
    Point,
    /// No field left (only empty keys): 1.x writes nothing and reports nothing.
    Skip,
    Drop(String),
    Conflict,
}

/// One line's fields as they are deduplicated, reused from line to line.
#[derive(Default)]
struct FieldScratch<'a> {
    index: HashMap<String, usize>,
    fields: Vec<(Cow<'a, str>, Value<'a>)>,
}

fn same_type(a: &Value<'_>, b: &Value<'_>) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Adds the point of `line` to `out`, applying the rules 1.x's storage layer adds after parsing
/// (see [`parse_body`]). Names that `line` holds unescaped are spans of `orig`, the body `out`
/// was made with; the others are appended.
fn add_point<'a>(line: &Line<'a>, default_time: i64, scratch: &mut FieldScratch<'a>, out: &mut PointsBuilder, orig: Option<&str>) -> Converted {
    let measurement = line.measurement.unescape();
    out.begin_in(&measurement, orig);
    for (k, v) in &line.tags {
        let k = k.unescape();
        if k == "time" {
            out.abandon();
            return Converted::Drop(format!(
                "invalid tag key: input tag \"time\" on measurement \"{}\" is invalid",
                measurement
            ));
        }
        out.tag_in(&k, &v.unescape(), orig);
    }
    let fields = &mut scratch.fields;
    fields.clear();
    let mut saw_time = false;
    let use_map = line.fields.len() > 16;
    let mut seen = 0u64;
    if use_map {
        scratch.index.clear();
    }
    for (k, v) in &line.fields {
        let k = k.unescape();
        if k.is_empty() {
            continue;
        }
        if k == "time" {
            saw_time = true;
            continue;
        }
        let existing = if use_map {
            scratch.index.get(k.as_ref()).copied()
        } else {
            // A 64-bit signature of the keys seen so far; only a possible repeat is searched for.
            let kb = k.as_bytes();
            let bit = 1u64 << ((kb.len() as u64 ^ u64::from(kb[kb.len() - 1]) ^ (u64::from(kb[kb.len() / 2]) << 2)) & 63);
            let maybe = seen & bit != 0;
            seen |= bit;
            if maybe {
                fields.iter().position(|(fk, _)| fk.as_ref() == k.as_ref())
            } else {
                None
            }
        };
        match existing {
            Some(i) => {
                if !same_type(&fields[i].1, v) {
                    out.abandon();
                    return Converted::Conflict;
                }
                fields[i].1 = *v;
            }
            None => {
                if use_map {
                    scratch.index.insert(k.clone().into_owned(), fields.len());
                }
                fields.push((k, *v));
            }
        }
    }
    if fields.is_empty() {
        out.abandon();
        if saw_time {
            return Converted::Drop(format!(
                "invalid field name: input field \"time\" on measurement \"{}\" is invalid",
                measurement
            ));
        }
        return Converted::Skip;
    }
    for (k, v) in fields.iter() {
        let v = match v {
            Value::Float(x) => FieldRef::Float(*x),
            Value::Integer(x) => FieldRef::Integer(*x),
            Value::Unsigned(x) => FieldRef::Unsigned(*x),
            Value::Boolean(x) => FieldRef::Boolean(*x),
            Value::String(s) => {
                out.field_in(k, FieldRef::String(&s.unescape()), orig);
                continue;
            }
        };
        out.field_in(k, v, orig);
    }
    out.end(line.timestamp.unwrap_or(default_time));
    Converted::Point
}

/// Writes a [`Point`] as canonical line protocol (escaped; timestamp in nanoseconds).
pub struct PointLine<'a>(pub &'a Point);

impl fmt::Display for PointLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        line::write_escaped(f, &p.measurement, line::MEASUREMENT_SPECIAL)?;
        for (k, v) in &p.tags {
            f.write_str(",")?;
            line::write_escaped(f, k, line::TAG_SPECIAL)?;
            f.write_str("=")?;
            line::write_escaped(f, v, line::TAG_SPECIAL)?;
        }
        for (i, (k, v)) in p.fields.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            line::write_escaped(f, k, line::FIELD_KEY_SPECIAL)?;
            f.write_str("=")?;
            match v {
                FieldValue::Float(x) => line::write_float(f, *x)?,
                FieldValue::Integer(x) => write!(f, "{}i", x)?,
                FieldValue::Unsigned(x) => write!(f, "{}u", x)?,
                FieldValue::Boolean(x) => f.write_str(if *x { "true" } else { "false" })?,
                FieldValue::String(s) => {
                    f.write_str("\"")?;
                    line::write_escaped(f, s, line::STRING_SPECIAL)?;
                    f.write_str("\"")?;
                }
            }
        }
        write!(f, " {}", p.time)
    }
}
