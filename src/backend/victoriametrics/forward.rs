//! Sending a `/write` body to VictoriaMetrics as the client sent it, when that stores exactly what
//! re-encoding it ([`write`](mod@super::write)) would.
//!
//! Re-encoding walks every name and value of the batch again and writes a second copy of the
//! body; for a TSBS `cpu` body that was most of influxgate's own CPU per line after parsing. Most
//! bodies need none of it: VictoriaMetrics reads a plain line the way influxgate parsed it. A body
//! is forwarded (with its `precision`, which VictoriaMetrics 1.79 applies as 1.x does: `ns`, `us`,
//! `ms`, `s`, `m`, `h`, each checked by `tests/vm_write.rs`) only when every line is
//! *plain*, judged byte by byte against its parsed point:
//!
//! * no `\`, `"` or control byte (so no escape either side could read differently, no string
//!   field, no quoted-field scanning, no `\r` or tab whose handling could differ), valid UTF-8
//!   (invalid bytes were replaced when parsing), no line of `-influx.maxLineSize` bytes or more;
//! * the form `measurement[,key=value]* key=value[,key=value]* timestamp`: single spaces, each
//!   key and value non-empty with one `=`, the timestamp digits only (a line without one would get
//!   VictoriaMetrics' clock, not the write's), a line per point in order (no comment or blank line
//!   other than empty ones between, which both sides skip);
//! * as many tags and fields as the parsed point has (a repeated tag or field key, an empty field
//!   key or a `time` field, which the parser folds or drops, would reach VictoriaMetrics as
//!   written), the measurement equal to the point's;
//! * each value `-?digits` with an optional `.digits` (VictoriaMetrics reads `1.` and `.5` as 0
//!   and rounds exponent forms twice), `-?digits i` or `digits u`;
//! * no tag key stored under another label ([`LabelMap::escaped`]: the db label, `__`-prefixed
//!   keys, the escape prefix).
//!
//! The caller also requires that every point is written (none too old, too new or of strings
//! only) at a millisecond after 0 (VictoriaMetrics reads 0 as "now"). Anything else, the whole
//! body is re-encoded as before. The check is one pass over the bytes, no allocation.

use super::labels::LabelMap;
use crate::lineproto::Precision;
use crate::model::{PointRef, Points};


/// VictoriaMetrics' `precision` query value for `p`.
pub(super) fn precision_arg(p: Precision) -> &'static str {
    match p {
        Precision::Nanosecond => "ns",
        Precision::Microsecond => "us",
        Precision::Millisecond => "ms",
        Precision::Second => "s",
        Precision::Minute => "m",
        Precision::Hour => "h",
    }
}

/// Whether `body`, parsed into `points`, can be sent as it is (module docs), its lines shorter
/// than `max_line`. Guided by the parsed points, so that most bytes are only counted or compared
/// (see [`plain_line`]).
pub(super) fn plain_body(body: &[u8], points: &Points, labels: &LabelMap, max_line: usize) -> bool {
    if !clean_bytes(body) || std::str::from_utf8(body).is_err() {
        return false;
    }
    let mut next = 0usize;
    let mut prev_tags: Option<PointRef<'_>> = None;
    let mut i = 0usize;
    while i < body.len() {
        if body[i] == b'\n' {
            i += 1; // an empty line
            continue;
        }
        if next >= points.len() {
            return false;
        }
        let p = points.get(next);
        next += 1;
        let Some(end) = plain_line(body, i, &p) else { return false };
        if end - i >= max_line {
            return false;
        }
        i = end + 1;
        // Tag keys are checked once a run of points with the same keys.
        if !prev_tags.is_some_and(|q| q.tags.len() == p.tags.len() && q.tags.iter().zip(p.tags.iter()).all(|(a, b)| a.0 == b.0)) {
            if p.tags.iter().any(|(k, _)| labels.escaped(k)) {
                return false;
            }
            prev_tags = Some(p);
        }
    }
    next == points.len()
}

/// No `\`, `"`, DEL or control byte other than `\n` (branch-free: the compiler vectorises it).
fn clean_bytes(body: &[u8]) -> bool {
    body.chunks(4096).all(|c| c.iter().fold(0u8, |bad, &b| bad | u8::from((b < 0x20 && b != b'\n') | (b == b'\\') | (b == b'"') | (b == 0x7f))) == 0)
}

/// Reads the line of `body` (clean bytes) starting at `from` as `p`'s: the position of its end
/// (its `\n`, or the body's end) if it is plain.
///
/// * The series key is `p.measurement` followed by `p`'s tags in some order, each `,key=value`:
///   its length is known from the point; within it there must be exactly as many `,` and `=` as
///   tags, and no space. (The parser refuses a tag without `=` and repeated tag keys; one `=` a
///   tag and the lengths adding up leave every tag read alike.)
/// * The fields follow in written order, ` key=value` then `,key=value`: each key is compared,
///   each value read up to its `,` or space and checked by [`plain_value`]; a folded or dropped
///   field leaves a key or value that does not match.
/// * Then one space and the timestamp's digits up to the line end.
fn plain_line(body: &[u8], from: usize, p: &PointRef<'_>) -> Option<usize> {
    let m = p.measurement.as_bytes();
    let key_len = m.len() + p.tags.iter().map(|(k, v)| 2 + k.len() + v.len()).sum::<usize>();
    if m.is_empty() || m[0] == b'#' || body.get(from..from + m.len())? != m || *body.get(from + key_len)? != b' ' {
        return None;
    }
    let tags = &body[from + m.len()..from + key_len];
    let (mut commas, mut equals, mut spaces) = (0usize, 0usize, 0usize);
    // Byte counters (a chunk of at most 255 bytes cannot overflow them) vectorise 16 bytes at a
    // time where `usize` ones take 2.
    for chunk in tags.chunks(255) {
        let (c, e, s) = chunk.iter().fold((0u8, 0u8, 0u8), |(c, e, s), &b| {
            (c + u8::from(b == b','), e + u8::from(b == b'='), s + u8::from(b == b' ' || b == b'\n'))
        });
        commas += usize::from(c);
        equals += usize::from(e);
        spaces += usize::from(s);
    }
    if commas != p.tags.len() || equals != p.tags.len() || spaces != 0 || tags.first().is_some_and(|&b| b != b',') {
        return None;
    }
    let mut at = from + key_len;
    for (n, (k, v)) in p.fields.iter().enumerate() {
        // A space before the first field, a comma before the others.
        let sep = if n == 0 { b' ' } else { b',' };
        let key = body.get(at + 1..at + 1 + k.len())?;
        if body[at] != sep || key != k.as_bytes() || k.is_empty() || body.get(at + 1 + k.len()) != Some(&b'=') {
            return None;
        }
        if matches!(v, crate::model::FieldRef::String(_)) {
            return None;
        }
        let value_at = at + 2 + k.len();
        let len = body[value_at..].iter().position(|&b| matches!(b, b',' | b' ' | b'\n' | b'='))?;
        if !plain_value(&body[value_at..value_at + len]) {
            return None;
        }
        at = value_at + len;
    }
    if p.fields.is_empty() || body[at] != b' ' {
        return None;
    }
    let ts_at = at + 1;
    let end = body[ts_at..].iter().position(|&b| b == b'\n').map_or(body.len(), |n| ts_at + n);
    let ts = &body[ts_at..end];
    (!ts.is_empty() && ts.iter().all(u8::is_ascii_digit)).then_some(end)
}

/// `-?digits[.digits]`, `-?digits i` or `digits u`.
fn plain_value(v: &[u8]) -> bool {
    let (v, signed) = match v.split_last() {
        Some((b'i', rest)) => (rest, true),
        Some((b'u', rest)) => (rest, false),
        _ => return plain_decimal(v),
    };
    let digits = if signed { v.strip_prefix(b"-").unwrap_or(v) } else { v };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

fn plain_decimal(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"-").unwrap_or(v);
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], Some(&v[dot + 1..])),
        None => (v, None),
    };
    !int.is_empty() && int.iter().all(u8::is_ascii_digit) && frac.map_or(true, |f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::{parse_batch_with, ParseOptions};

    fn plain(body: &str) -> bool {
        let points = parse_batch_with(body.as_bytes(), &ParseOptions::new(Precision::Nanosecond, 1_000_000_000_000)).expect("parses");
        plain_body(body.as_bytes(), &points, &LabelMap::new("db"), 256 * 1024)
    }

    #[test]
    fn plain_bodies_are_forwarded() {
        assert!(plain("cpu,host=h1,region=eu usage=1i,idle=99.5,neg=-2i,f=-0.25,z=0 1704067200000000000\n"));
        assert!(plain("cpu v=1 5000000\n\ncpu,t=x v=2 6000000"));
        // Bytes other than separators stay as written on both sides.
        assert!(plain("m#,t=ü'$[]{} v=1 5000000\n"));
        // '=' in a measurement is part of it on both sides.
        assert!(plain("a=b v=1 5000000\n"));
        assert!(plain(&crate::lineproto::tsbs::CpuGen::tsbs(1, 10).body(100)));
    }

    #[test]
    fn anything_else_is_reencoded() {
        for body in [
            // Escapes, quotes (string fields), control bytes.
            "m\\ x v=1 5000000\n",
            "m,t=a\\,b v=1 5000000\n",
            "m a\\=b=1 5000000\n",
            "m,t=a\\b v=1 5000000\n",
            "m v=1,s=\"x\" 5000000\n",
            "m,t=a\tb v=1 5000000\n",
            // Tag keys stored under another label.
            "m,db=x v=1 5000000\n",
            "m,__name__=x v=1 5000000\n",
            "m,influxgate_tag_a=x v=1 5000000\n",
            // Folded or dropped keys.
            "m v=1,v=2 5000000\n",
            "m v=1,time=2 5000000\n",
            // Values VictoriaMetrics reads otherwise, or that are not numbers.
            "m v=1. 5000000\n",
            "m v=.5 5000000\n",
            "m v=1e3 5000000\n",
            "m v=-1.5E-3 5000000\n",
            "m v=t 5000000\n",
            "m v=FALSE 5000000\n",
            // No timestamp, comments, stray whitespace.
            "m v=1\n",
            "m v=1 5000000\n# c\nm v=2 6000000\n",
            " m v=1 5000000\n",
            "m v=1 5000000 \n",
            "m  v=1 5000000\n",
            "m,t=a  v=1 5000000\n",
        ] {
            let points = parse_batch_with(body.as_bytes(), &ParseOptions::new(Precision::Nanosecond, 1_000_000_000_000));
            let points = points.unwrap_or_else(|e| panic!("{body:?}: {e:?}"));
            assert!(!plain_body(body.as_bytes(), &points, &LabelMap::new("db"), 256 * 1024), "{body:?}");
        }
        // A line as long as -influx.maxLineSize.
        let long = format!("m,t={} v=1 5000000\n", "x".repeat(300));
        let points = parse_batch_with(long.as_bytes(), &ParseOptions::new(Precision::Nanosecond, 0)).unwrap();
        assert!(!plain_body(long.as_bytes(), &points, &LabelMap::new("db"), 300));
        assert!(plain_body(long.as_bytes(), &points, &LabelMap::new("db"), 400));
    }

    #[test]
    fn values() {
        for v in ["0", "-0", "12", "1.5", "-0.25", "007", "12i", "-12i", "0u", "18446744073709551615u"] {
            assert!(plain_value(v.as_bytes()), "{v}");
        }
        for v in ["", "-", "1.", ".5", "1e3", "1E3", "+1", "-1u", "i", "u", "1.5i", "t", "true", "1..2", "--1"] {
            assert!(!plain_value(v.as_bytes()), "{v}");
        }
    }
}
