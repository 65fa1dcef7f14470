//! Reading one line of VictoriaMetrics' `/api/v1/export` answer without copies.
//!
//! `high-cpu-1` reads every field of a host over 12 h, 10 lines of ~4 k samples each; parsing
//! them through serde (a `HashMap` of `String`s per line, the samples into fresh vectors, and a
//! second pass when a value was `+Inf`/`-Inf`/`NaN`) was about a sixth of influxgate's CPU for
//! that query (perf; the rest: the series listing, merging the rows, the answer). This reader
//! walks the line once: label names and values are borrowed from the line (copied only when they
//! hold a JSON escape), the samples go into buffers the caller keeps from one line to the next
//! ([`Samples`]), and the numbers VictoriaMetrics prints (integers, about 12 significant digits)
//! are read in the pass that finds their end (`benches/vm_export.rs`: 20-25 % less time than
//! serde on such lines; 17-digit doubles, which VictoriaMetrics does not print, take longer).
//!
//! What VictoriaMetrics writes (`app/vmselect/prometheus/export.qtpl`, checked against the
//! installed version): `{"metric":{"__name__":"…","label":"…",…},"values":[…],"timestamps":[…]}`,
//! label values JSON-escaped (quotes, backslashes, control characters as `\u00XX`, other text as
//! raw UTF-8), values printed with Go's `%g`-style shortest form, infinities as the bare words
//! `+Inf`/`-Inf` (not JSON; NaN samples are staleness markers and not exported, but `NaN` is
//! accepted like the others), timestamps as integers in milliseconds.
//!
//! The reader accepts any JSON of that shape (whitespace between tokens, keys in any order,
//! unknown keys skipped) and refuses, with an [`ExportError`] saying where, what serde refused
//! before: a truncated line, a missing or repeated key, a label value that is not a string, a
//! number out of `f64`'s range (`1e400`), a timestamp that is not an `i64`, a lone UTF-16
//! surrogate, a raw control character in a string, bytes that are not UTF-8. Besides, a label
//! named twice and values and timestamps of different lengths are refused (VictoriaMetrics
//! writes neither). Values also accept the quoted forms `"+Inf"`, `"Inf"`, `"-Inf"`, `"NaN"`;
//! other strings are refused. Numbers are rounded correctly (Rust's `f64` parser), so a value
//! reads back as the `f64` written.

use std::borrow::Cow;
use std::fmt;

/// Nesting allowed in a skipped value (serde_json's own recursion limit).
const MAX_DEPTH: usize = 128;

/// Why a line was refused: what was expected and the byte offset where it was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportError {
    pub what: &'static str,
    pub at: usize,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for ExportError {}

type Res<T> = std::result::Result<T, ExportError>;

/// A label set as exported, in the line's order; names and values borrow from the line unless
/// they held an escape.
pub type Labels<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// The samples of one line, kept by the caller between lines so that their memory is reused.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub values: Vec<f64>,
    pub timestamps: Vec<i64>,
}

/// Parses one export line: its labels are returned, its samples replace those in `samples`.
pub fn parse_line<'a>(line: &'a [u8], samples: &mut Samples) -> Res<Labels<'a>> {
    samples.values.clear();
    samples.timestamps.clear();
    let mut c = Cursor { b: line, i: 0 };
    let (mut metric, mut values, mut times) = (None, false, false);
    c.expect(b'{', "'{' opening the line")?;
    if c.peek_ws() == Some(b'}') {
        return Err(c.err("key \"metric\""));
    }
    loop {
        let key_at = c.i;
        let key = c.string()?;
        c.expect(b':', "':' after a key")?;
        let seen = match key.as_ref() {
            "metric" => metric.replace(c.labels()?).is_some(),
            "values" => std::mem::replace(&mut values, c.values(&mut samples.values)?),
            "timestamps" => std::mem::replace(&mut times, c.timestamps(&mut samples.timestamps)?),
            _ => {
                c.skip_value(0)?;
                false
            }
        };
        if seen {
            return Err(ExportError { what: "a key given twice", at: key_at });
        }
        match c.next_ws() {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return Err(c.err("',' or '}' after a member")),
        }
    }
    if c.peek_ws().is_some() {
        return Err(c.err("the end of the line"));
    }
    let missing = if metric.is_none() {
        "key \"metric\""
    } else if !values {
        "key \"values\""
    } else if !times {
        "key \"timestamps\""
    } else if samples.values.len() != samples.timestamps.len() {
        "as many values as timestamps"
    } else {
        ""
    };
    if !missing.is_empty() {
        return Err(c.err(missing));
    }
    Ok(metric.unwrap_or_default())
}

/// The labels of a line into an owned map (for callers that keep them).
pub fn owned(labels: Labels<'_>) -> impl Iterator<Item = (String, String)> + '_ {
    labels.into_iter().map(|(k, v)| (k.into_owned(), v.into_owned()))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> ExportError {
        ExportError { what, at: self.i }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not taken.
    fn peek_ws(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.i).copied()
    }

    /// The next byte after whitespace, taken.
    fn next_ws(&mut self) -> Option<u8> {
        let b = self.peek_ws();
        self.i += b.is_some() as usize;
        b
    }

    fn expect(&mut self, want: u8, what: &'static str) -> Res<()> {
        match self.next_ws() {
            Some(b) if b == want => Ok(()),
            _ => Err(ExportError { what, at: self.i.saturating_sub(1) }),
        }
    }

    /// A JSON string (after whitespace), borrowed unless it holds an escape.
    fn string(&mut self) -> Res<Cow<'a, str>> {
        self.expect(b'"', "'\"' opening a string")?;
        let start = self.i;
        let plain = self.b[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        let Some(n) = plain else { return Err(ExportError { what: "the end of a string", at: self.b.len() }) };
        self.i = start + n;
        if self.b[self.i] == b'"' {
            self.i += 1;
            return utf8(&self.b[start..start + n], start).map(Cow::Borrowed);
        }
        let mut out = self.b[start..start + n].to_vec();
        loop {
            match self.b.get(self.i).copied() {
                None => return Err(self.err("the end of a string")),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map(Cow::Owned).map_err(|_| ExportError { what: "UTF-8", at: start });
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(&mut out)?;
                }
                Some(b) if b < 0x20 => return Err(self.err("no control character in a string")),
                Some(b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// One escape (after its backslash) into `out`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Res<()> {
        let at = self.i;
        let b = self.b.get(self.i).copied().ok_or_else(|| self.err("an escape"))?;
        self.i += 1;
        let simple = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let c = self.unicode_escape()?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            _ => return Err(ExportError { what: "a valid escape", at }),
        };
        out.push(simple);
        Ok(())
    }

    /// The character of `\uXXXX` (after its `u`), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Res<char> {
        let at = self.i;
        let hi = self.hex4()?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(ExportError { what: "a low surrogate after a high one", at });
                }
                self.i += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(ExportError { what: "a low surrogate after a high one", at });
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(ExportError { what: "no lone low surrogate", at }),
            c => c,
        };
        char::from_u32(code).ok_or(ExportError { what: "a valid \\u escape", at })
    }

    fn hex4(&mut self) -> Res<u32> {
        let digits = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("4 hex digits"))?;
        let mut v = 0u32;
        for &d in digits {
            let x = (d as char).to_digit(16).ok_or_else(|| self.err("4 hex digits"))?;
            v = v * 16 + x;
        }
        self.i += 4;
        Ok(v)
    }

    /// `{"name":"value",…}`; a name given twice is refused.
    fn labels(&mut self) -> Res<Labels<'a>> {
        let mut out: Labels<'a> = Vec::new();
        self.expect(b'{', "'{' opening \"metric\"")?;
        if self.peek_ws() == Some(b'}') {
            self.i += 1;
            return Ok(out);
        }
        loop {
            let k = self.string()?;
            self.expect(b':', "':' after a label name")?;
            if self.peek_ws() != Some(b'"') {
                return Err(self.err("a string label value"));
            }
            let v = self.string()?;
            out.push((k, v));
            match self.next_ws() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(self.err("',' or '}' in \"metric\"")),
            }
        }
        if !names_unique(&out) {
            return Err(self.err("labels named once"));
        }
        Ok(out)
    }

    /// `[v,…]` into `out`; true (the key was seen).
    fn values(&mut self, out: &mut Vec<f64>) -> Res<bool> {
        out.clear();
        self.array(|c| {
            out.push(c.value()?);
            Ok(())
        })?;
        Ok(true)
    }

    /// `[t,…]` into `out`; true (the key was seen).
    fn timestamps(&mut self, out: &mut Vec<i64>) -> Res<bool> {
        out.clear();
        self.array(|c| {
            out.push(c.timestamp()?);
            Ok(())
        })?;
        Ok(true)
    }

    /// An array, calling `item` at each element (after whitespace).
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Res<()>) -> Res<()> {
        self.expect(b'[', "'[' opening an array")?;
        if self.peek_ws() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            item(self)?;
            match self.next_ws() {
                Some(b',') => continue,
                Some(b']') => return Ok(()),
                _ => return Err(self.err("',' or ']' in an array")),
            }
        }
    }

    /// A sample value: a JSON number, or `+Inf`, `Inf`, `-Inf`, `NaN`, bare or quoted.
    fn value(&mut self) -> Res<f64> {
        let at = self.i;
        let rest = &self.b[self.i..];
        let special = |word: &[u8]| match word {
            b"+Inf" | b"Inf" => Some(f64::INFINITY),
            b"-Inf" => Some(f64::NEG_INFINITY),
            b"NaN" => Some(f64::NAN),
            _ => None,
        };
        match rest.first() {
            Some(b'"') => {
                let s = self.string()?;
                special(s.as_bytes()).ok_or(ExportError { what: "a number or +Inf, -Inf, NaN", at })
            }
            Some(b'+' | b'I' | b'N') | Some(b'-') if rest.get(1).is_some_and(|b| !b.is_ascii_digit()) => {
                let n = rest.iter().position(|b| !b.is_ascii_alphanumeric() && *b != b'+' && *b != b'-');
                let word = &rest[..n.unwrap_or(rest.len())];
                self.i += word.len();
                special(word).ok_or(ExportError { what: "a number or +Inf, -Inf, NaN", at })
            }
            _ => {
                if let Some((v, n)) = short_decimal(rest) {
                    self.i += n;
                    return Ok(v);
                }
                let tok = self.number()?;
                // JSON's grammar is checked: the token is ASCII, and Rust's parser rounds correctly.
                let v: f64 = std::str::from_utf8(tok).ok().and_then(|s| s.parse().ok()).ok_or(ExportError { what: "a number", at })?;
                if v.is_infinite() {
                    return Err(ExportError { what: "a number in f64's range", at });
                }
                Ok(v)
            }
        }
    }

    /// A timestamp: a JSON integer within i64, read in the pass that finds its end.
    fn timestamp(&mut self) -> Res<i64> {
        let (b, at) = (self.b, self.i);
        let neg = b.get(at) == Some(&b'-');
        let start = at + neg as usize;
        // JSON has no leading zeros: after a "0" the number ends (and the array refuses the rest).
        let end = if b.get(start) == Some(&b'0') {
            start + 1
        } else {
            start + b[start.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count()
        };
        if end == start {
            return Err(ExportError { what: "a number", at: start });
        }
        let i = end;
        let digits = &b[start..end];
        // 18 digits cannot overflow i64; longer ones are checked.
        let (v, overflow) = if digits.len() <= 18 {
            let m = digits.iter().fold(0i64, |m, &c| m * 10 + (c - b'0') as i64);
            (if neg { -m } else { m }, false)
        } else {
            let step = |v: i64, c: &u8| {
                let d = (c - b'0') as i64;
                v.checked_mul(10)?.checked_add(if neg { -d } else { d })
            };
            match digits.iter().try_fold(0i64, step) {
                Some(v) => (v, false),
                None => (0, true),
            }
        };
        if let Some(b'.' | b'e' | b'E') = b.get(i) {
            return Err(ExportError { what: "an integer timestamp", at });
        }
        if overflow {
            return Err(ExportError { what: "a timestamp within i64", at });
        }
        self.i = i;
        Ok(v)
    }

    /// The token of a JSON number (grammar checked): `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Res<&'a [u8]> {
        let (b, start) = (self.b, self.i);
        let bad = |i| ExportError { what: "a number", at: i };
        let digits = |mut i: usize| -> Res<usize> {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == from {
                return Err(bad(i));
            }
            Ok(i)
        };
        let mut i = start + (b.get(start) == Some(&b'-')) as usize;
        if b.get(i) == Some(&b'0') {
            i += 1;
        } else {
            i = digits(i)?;
        }
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = digits(i)?;
        }
        self.i = i;
        Ok(&b[start..i])
    }

    /// Any JSON value (after whitespace), checked and left out.
    fn skip_value(&mut self, depth: usize) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(self.err("less nesting"));
        }
        match self.peek_ws() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.i += 1;
                if self.peek_ws() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.expect(b':', "':' after a key")?;
                    self.skip_value(depth + 1)?;
                    match self.next_ws() {
                        Some(b',') => continue,
                        Some(b'}') => return Ok(()),
                        _ => return Err(self.err("',' or '}' in an object")),
                    }
                }
            }
            Some(b'[') => self.array(|c| c.skip_value(depth + 1)),
            Some(b't' | b'f' | b'n') => {
                let rest = &self.b[self.i..];
                let n = [&b"true"[..], b"false", b"null"].iter().find(|w| rest.starts_with(w)).map(|w| w.len());
                self.i += n.ok_or_else(|| self.err("a JSON value"))?;
                Ok(())
            }
            _ => self.number().map(drop),
        }
    }
}

/// Powers of ten a double holds exactly.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// A number of at most 15 digits and no exponent at the start of `b` (what VictoriaMetrics
/// prints for most samples: it keeps about 12 significant digits, and TSBS's are integers), with
/// the bytes it took, read in one pass without the general parser: its digits are an integer below
/// 2^53, exact in a double, and one division by an exact power of ten is rounded once, so the
/// result is the correctly rounded value (Clinger's fast path). `None` for anything else (longer,
/// an exponent, not JSON), which the general path reads or refuses.
fn short_decimal(b: &[u8]) -> Option<(f64, usize)> {
    let neg = b.first() == Some(&b'-');
    let mut i = neg as usize;
    let mut m = 0u64;
    let digits = |i: &mut usize, m: &mut u64| {
        let from = *i;
        while let Some(&c) = b.get(*i).filter(|c| c.is_ascii_digit()) {
            *m = m.wrapping_mul(10).wrapping_add((c - b'0') as u64);
            *i += 1;
        }
        *i - from
    };
    let int = digits(&mut i, &mut m);
    if int == 0 || (int > 1 && b[neg as usize] == b'0') {
        return None;
    }
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(&mut i, &mut m);
        if frac == 0 {
            return None;
        }
    }
    if int + frac > 15 || matches!(b.get(i), Some(b'e' | b'E')) {
        return None;
    }
    let v = m as f64 / POW10[frac];
    Some((if neg { -v } else { v }, i))
}

/// Whether no label is named twice: compared pairwise for a few (a label set is a handful), by
/// sorting when a hostile line holds many.
fn names_unique(labels: &Labels<'_>) -> bool {
    if labels.len() <= 16 {
        return labels.iter().enumerate().all(|(i, (k, _))| labels[..i].iter().all(|(n, _)| n != k));
    }
    let mut names: Vec<&str> = labels.iter().map(|(k, _)| k.as_ref()).collect();
    names.sort_unstable();
    names.windows(2).all(|w| w[0] != w[1])
}

fn utf8(b: &[u8], at: usize) -> Res<&str> {
    std::str::from_utf8(b).map_err(|e| ExportError { what: "UTF-8", at: at + e.valid_up_to() })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn parse(line: &str) -> Res<(Vec<(String, String)>, Samples)> {
        let mut s = Samples::default();
        let l = parse_line(line.as_bytes(), &mut s)?;
        Ok((owned(l).collect(), s))
    }

    fn what(line: &str) -> &'static str {
        parse(line).expect_err(line).what
    }

    #[test]
    fn reads_what_victoriametrics_writes() {
        // As the installed victoria-metrics exported it (a label with escapes, infinities).
        let line = r#"{"metric":{"__name__":"x","db":"d","k":"a\"b\\cé\n\u0001/"},"values":[1.5,2,+Inf,-Inf,123456789012345700000000],"timestamps":[1796386891000,1796386892000,3,4,5]}"#;
        let (labels, s) = parse(line).unwrap();
        let want = [("__name__", "x"), ("db", "d"), ("k", "a\"b\\cé\n\u{1}/")];
        assert_eq!(labels, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(s.values, vec![1.5, 2.0, f64::INFINITY, f64::NEG_INFINITY, 1.234567890123457e23]);
        assert_eq!(s.timestamps, vec![1796386891000, 1796386892000, 3, 4, 5]);
    }

    #[test]
    fn borrows_labels_without_escapes() {
        let mut s = Samples::default();
        let l = parse_line(br#"{"metric":{"__name__":"m","k":"a\"b"},"values":[],"timestamps":[]}"#, &mut s).unwrap();
        assert!(matches!(l[0].1, Cow::Borrowed("m")));
        assert!(matches!(&l[1].1, Cow::Owned(v) if v == "a\"b"));
    }

    #[test]
    fn specials_bare_or_quoted_and_key_text_that_looks_like_values() {
        let (labels, s) = parse(r#"{"metric":{"__name__":"m_v","k":"},\"values\":[+Inf]"},"values":[+Inf,-Inf,1.5,NaN,Inf,"+Inf","-Inf","NaN"],"timestamps":[1,2,3,4,5,6,7,8]}"#).unwrap();
        assert_eq!(labels[1].1, "},\"values\":[+Inf]");
        let v = &s.values;
        assert_eq!(&v[..3], &[f64::INFINITY, f64::NEG_INFINITY, 1.5]);
        assert!(v[3].is_nan() && v[7].is_nan());
        assert_eq!(&v[4..7], &[f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY]);
    }

    #[test]
    fn any_json_of_the_shape() {
        let line = " { \"timestamps\" : [ -9223372036854775808 , 0, -0 ] , \"x\": {\"a\":[1,{\"b\":null}],\"c\":true}, \"values\":[ -0 , 1E+2,1e-400 ],\"metric\" : { } } \r";
        let (labels, s) = parse(line).unwrap();
        assert!(labels.is_empty());
        assert_eq!(s.timestamps, vec![i64::MIN, 0, 0]);
        assert_eq!(s.values, vec![0.0, 100.0, 0.0]);
        assert!(s.values[0].is_sign_negative());
        // Surrogate pairs and the short escapes.
        let (labels, _) = parse(r#"{"metric":{"\ud83d\ude00":"\b\f\r\t\/\u00e9"},"values":[],"timestamps":[]}"#).unwrap();
        assert_eq!(labels, vec![("😀".to_string(), "\u{8}\u{c}\r\t/é".to_string())]);
    }

    #[test]
    fn refuses_malformed_lines() {
        let ok = r#"{"metric":{"__name__":"m"},"values":[1],"timestamps":[1]}"#;
        for (line, want) in [
            (r#"{"metric":{"__name__":"m"},"values":[1]}"#, "key \"timestamps\""),
            (r#"{"values":[1],"timestamps":[1]}"#, "key \"metric\""),
            ("{}", "key \"metric\""),
            (r#"{"metric":{},"metric":{},"values":[],"timestamps":[]}"#, "a key given twice"),
            (r#"{"metric":{"a":"1","a":"2"},"values":[],"timestamps":[]}"#, "labels named once"),
            (r#"{"metric":{"a":1},"values":[],"timestamps":[]}"#, "a string label value"),
            (r#"{"metric":{},"values":["abc"],"timestamps":[1]}"#, "a number or +Inf, -Inf, NaN"),
            (r#"{"metric":{},"values":[Infinity],"timestamps":[1]}"#, "a number or +Inf, -Inf, NaN"),
            (r#"{"metric":{},"values":[null],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[1e400],"timestamps":[1]}"#, "a number in f64's range"),
            (r#"{"metric":{},"values":[-1e400],"timestamps":[1]}"#, "a number in f64's range"),
            (r#"{"metric":{},"values":[01],"timestamps":[1]}"#, "',' or ']' in an array"),
            (r#"{"metric":{},"values":[1.],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[.5],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[+1],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[1e],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[1],"timestamps":[1.5]}"#, "an integer timestamp"),
            (r#"{"metric":{},"values":[1],"timestamps":[1e3]}"#, "an integer timestamp"),
            (r#"{"metric":{},"values":[1],"timestamps":[9223372036854775808]}"#, "a timestamp within i64"),
            (r#"{"metric":{},"values":[1],"timestamps":[-9223372036854775809]}"#, "a timestamp within i64"),
            (r#"{"metric":{},"values":[1],"timestamps":[1,2]}"#, "as many values as timestamps"),
            (r#"{"metric":{"k":"\ud800"},"values":[],"timestamps":[]}"#, "a low surrogate after a high one"),
            (r#"{"metric":{"k":"\udc00"},"values":[],"timestamps":[]}"#, "no lone low surrogate"),
            (r#"{"metric":{"k":"\x"},"values":[],"timestamps":[]}"#, "a valid escape"),
            (r#"{"metric":{"k":"\u12"},"values":[],"timestamps":[]}"#, "4 hex digits"),
            ("{\"metric\":{\"k\":\"a\tb\"},\"values\":[],\"timestamps\":[]}", "no control character in a string"),
            (r#"{"metric":{},"values":[],"timestamps":[]} x"#, "the end of the line"),
            (r#"{"metric":{},"values":[],"timestamps":[],}"#, "'\"' opening a string"),
            (r#"{"metric":{},"values":[1,],"timestamps":[1]}"#, "a number"),
            (r#"{"metric":{},"values":[],"timestamps":[],"x":tru}"#, "a JSON value"),
            (r#"["metric"]"#, "'{' opening the line"),
        ] {
            assert_eq!(what(line), want, "{line}");
        }
        // Bytes that are not UTF-8, raw and after an escape.
        let mut s = Samples::default();
        assert_eq!(parse_line(b"{\"metric\":{\"k\":\"\xff\"},\"values\":[],\"timestamps\":[]}", &mut s).unwrap_err().what, "UTF-8");
        assert_eq!(parse_line(b"{\"metric\":{\"k\":\"\\n\xff\"},\"values\":[],\"timestamps\":[]}", &mut s).unwrap_err().what, "UTF-8");
        // Nesting beyond serde_json's limit in a skipped value.
        let deep = format!(r#"{{"x":{}{},"metric":{{}},"values":[],"timestamps":[]}}"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(what(&deep), "less nesting");
        // Every truncation of a valid line is refused (no panic), and the line itself is read.
        for cut in 0..ok.len() {
            assert!(parse(&ok[..cut]).is_err(), "{}", &ok[..cut]);
        }
        parse(ok).unwrap();
    }

    /// serde_json (without its `float_roundtrip` feature) read `936841.0747151145` one unit in
    /// the last place low; VictoriaMetrics prints the shortest form that reads back exactly.
    #[test]
    fn rounds_correctly() {
        let v = 936841.0747151145f64;
        let (_, s) = parse(&format!(r#"{{"metric":{{}},"values":[{v:?},5e-324,1.7976931348623157e308],"timestamps":[1,2,3]}}"#)).unwrap();
        assert_eq!(s.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), [v.to_bits(), 1, f64::MAX.to_bits()]);
    }

    /// The short path and the general parser agree on every short decimal.
    #[test]
    fn short_decimals_as_the_general_parser() {
        for tok in ["0", "-0", "58", "-7", "0.1", "99.99", "123456789012345", "0.000000000000001", "-1234567.12345678", "9007199254740991"] {
            let general: f64 = tok.parse().unwrap();
            match short_decimal(tok.as_bytes()) {
                Some((v, n)) => assert_eq!((v.to_bits(), n), (general.to_bits(), tok.len()), "{tok}"),
                None => assert!(tok.trim_start_matches('-').replace('.', "").len() > 15, "{tok}"),
            }
        }
        for tok in ["1e5", "1.5E2", "01", "1.", "-", ".5", "1234567890123456"] {
            assert_eq!(short_decimal(tok.as_bytes()), None, "{tok}");
        }
        assert_eq!(short_decimal(b"12,3"), Some((12.0, 2)));
    }

    #[test]
    fn many_labels_named_twice_are_found() {
        let mut labels: Vec<String> = (0..100).map(|i| format!("\"l{i}\":\"v\"")).collect();
        let line = |l: &[String]| format!(r#"{{"metric":{{{}}},"values":[],"timestamps":[]}}"#, l.join(","));
        assert_eq!(parse(&line(&labels)).unwrap().0.len(), 100);
        labels.push("\"l7\":\"w\"".into());
        assert_eq!(what(&line(&labels)), "labels named once");
    }

    /// Writes a line as VictoriaMetrics does: labels escaped as JSON, values in shortest form,
    /// infinities and NaN bare.
    fn vm_line(labels: &[(String, String)], values: &[f64], times: &[i64]) -> String {
        let metric: Vec<String> =
            labels.iter().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), serde_json::to_string(v).unwrap())).collect();
        let vals: Vec<String> = values
            .iter()
            .map(|v| match v {
                v if v.is_nan() => "NaN".to_string(),
                v if *v == f64::INFINITY => "+Inf".to_string(),
                v if *v == f64::NEG_INFINITY => "-Inf".to_string(),
                v => format!("{v:?}"),
            })
            .collect();
        let ts: Vec<String> = times.iter().map(|t| t.to_string()).collect();
        format!(r#"{{"metric":{{{}}},"values":[{}],"timestamps":[{}]}}"#, metric.join(","), vals.join(","), ts.join(","))
    }

    fn samples() -> impl Strategy<Value = Vec<(f64, i64)>> {
        let value = prop_oneof![any::<f64>(), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(f64::NAN), -1e6..1e6f64];
        prop::collection::vec((value, any::<i64>()), 0..20)
    }

    proptest! {
        #[test]
        fn round_trip(labels in prop::collection::btree_map(".{0,12}", ".{0,12}", 0..6), s in samples()) {
            let labels: Vec<(String, String)> = labels.into_iter().collect();
            let (values, times): (Vec<f64>, Vec<i64>) = s.into_iter().unzip();
            let line = vm_line(&labels, &values, &times);
            let (got, g) = parse(&line).unwrap();
            prop_assert_eq!(&got, &labels);
            prop_assert_eq!(&g.timestamps, &times);
            prop_assert_eq!(g.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            // serde_json reads the same labels.
            let strict: serde_json::Value = serde_json::from_str(&line.replace("NaN", "0").replace("+Inf", "0").replace("-Inf", "0")).unwrap_or_default();
            if let Some(m) = strict.get("metric") {
                let m: HashMap<String, String> = serde_json::from_value(m.clone()).unwrap();
                prop_assert_eq!(m, labels.into_iter().collect::<HashMap<_, _>>());
            }
        }

        #[test]
        fn short_decimals_round_correctly(m in 0u64..1_000_000_000_000_000, point in 0usize..16, neg in any::<bool>()) {
            let digits = m.to_string();
            let point = point.min(digits.len());
            let (int, frac) = digits.split_at(digits.len() - point);
            let tok = format!("{}{}{}{frac}", if neg { "-" } else { "" }, if int.is_empty() { "0" } else { int }, if frac.is_empty() { "" } else { "." });
            if !frac.is_empty() || !int.is_empty() {
                let tok = tok.trim_end_matches('.').to_string();
                let general: f64 = tok.parse().unwrap();
                if let Some((v, n)) = short_decimal(tok.as_bytes()) {
                    prop_assert_eq!((v.to_bits(), n), (general.to_bits(), tok.len()), "{}", tok);
                }
            }
        }

        /// A line changed anywhere is read or refused, never a panic; when serde_json reads it
        /// as an export line, so does this reader, alike.
        #[test]
        fn changed_lines(s in samples(), at in any::<prop::sample::Index>(), with in any::<u8>(), cut in any::<bool>()) {
            let (values, times): (Vec<f64>, Vec<i64>) = s.into_iter().filter(|(v, _)| v.is_finite()).unzip();
            let labels = [("__name__".to_string(), "m\"\\".to_string()), ("é".to_string(), "\u{1}".to_string())];
            let mut line = vm_line(&labels, &values, &times).into_bytes();
            let i = at.index(line.len());
            if cut { line.truncate(i) } else { line[i] = with }
            let mut got = Samples::default();
            let mine = parse_line(&line, &mut got).map(|l| owned(l).collect::<HashMap<_, _>>());
            #[derive(serde::Deserialize)]
            struct Line { metric: HashMap<String, String>, values: Vec<f64>, timestamps: Vec<i64> }
            if let Ok(l) = serde_json::from_slice::<Line>(&line) {
                if l.values.len() == l.timestamps.len() {
                    prop_assert_eq!(mine.unwrap(), l.metric);
                    prop_assert_eq!(got.timestamps, l.timestamps);
                    // serde_json's default float parsing may be one unit in the last place off
                    // (see `rounds_correctly`): lengths only.
                    prop_assert_eq!(got.values.len(), l.values.len());
                }
            }
        }
    }
}
