//! What parsing a `/write` body costs in memory, known before parsing it: one pass over the body
//! (the parser's own line splitting and a count of `=` per line) gives an upper bound of the bytes
//! [`super::parse_body_with`] holds at any moment, so a server can reserve them first.
//!
//! Derivation. Let B be the body's bytes; T the bytes of the text parsed (B when the body is UTF-8;
//! else at most 3B, each invalid byte becoming U+FFFD); L its lines (as the parser splits them: a
//! newline inside a quoted value does not end one); E its `=` bytes, E₁ the most in one line, M its
//! longest line (in bytes of text), blank and comment lines left out as the parser skips them; q the quote bound of the error texts. glibc's malloc gives a
//! request of n bytes a chunk of at most n + A, A = 32 (8-byte header, 16-byte rounding, 32-byte
//! minimum); page rounding of the few mmapped chunks is covered by a constant 64 KiB.
//!
//! * The text: a lossy copy of T bytes when the body is not UTF-8, else none.
//! * The batch ([`crate::model::Points`]), every buffer allocated once at its final size:
//!   - its text: T, plus the unescaped copies of names and string values written with a
//!     backslash; each is shorter than its raw form and they are disjoint pieces of lines holding a
//!     backslash, so at most X, the bytes of those lines: T + X + A;
//!   - points: a point needs a line holding a field (an `=`) and at least 5 bytes plus a separator
//!     (`m f=v`), so P ≤ min(L, E, (B + 1) / 6) records of `Points::REC_BYTES`;
//!   - tags: each has its `=` before the line's first unescaped space, so at most E_t of those
//!     records; fields: each has its `=` after it, at most E_f records: 3A for the three vectors.
//! * One line's fields while they are deduplicated (a reused vector of at most E₁ entries, grown
//!   by doubling: under 3·E₁ slots while it grows) and the transient unescaped copies of one line's
//!   names and values (at most 2M).
//! * The parser's reused line: its tag and field vectors (at most E₁ entries each, grown by
//!   doubling: capacity under 2·E₁, plus the old buffer while one grows) and the buffer of the tag
//!   sort (at most E₁ entries): at most 7·max(E₁, 4) slots + 4A.
//! * Lines with more than 16 fields index their keys in a hash table: at most 2·⌈8E₁/7⌉ buckets of
//!   33 bytes, 1.5× while it grows, plus copies of one line's keys: 152·E₁ + M + 256.
//! * Error texts: at most [`MAX_REPORTED_LINES`] `unable to parse` entries of at most
//!   min(q, M) + min(reason_max(q), 2M + 128) + 85 bytes, in a string grown by doubling (3× its
//!   length while it grows); the reason being formatted (at most 2M + 128, 3×) and a dropped point's
//!   reason and final message (at most M + 128 each, 3×): 3·entries + 12M + 2048.
//!
//! The sum is [`ParseCost::bytes`]. For a body of tiny lines (`m v=1`, 6 bytes) it is about 10.4×
//! the body where the parse really holds about 10.3× (the `parse_memory` test measures both; owned
//! `Point`s held about 35×).

use std::mem::size_of;

use super::line::{line_end, Escaped, Value};
use super::{reason_max, MAX_REPORTED_LINES};
use crate::model::Points;

/// Bytes one allocation takes beyond its request, at most (glibc malloc, 64-bit).
const ALLOC_OVERHEAD: u64 = 32;
/// Page rounding of the few large (mmapped) allocations alive at once.
const LARGE_ALLOC_SLACK: u64 = 64 * 1024;

/// The bound on parsing one body: how many points and how many bytes at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseCost {
    /// At most this many points come out of the body (room for them is made up front).
    pub max_points: usize,
    /// At most this many tags, and this many fields, in all its points.
    pub max_tags: usize,
    pub max_fields: usize,
    /// At most this many bytes of names and string values are unescaped into the batch's text.
    pub escaped_bytes: usize,
    /// At most this many bytes are allocated at once while parsing it (see the module docs).
    pub bytes: u64,
}

/// What one pass over a body counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    bytes: u64,
    utf8: bool,
    lines: u64,
    equals: u64,
    /// `=` before a line's first unescaped space (where tags are), and after it (fields).
    tag_equals: u64,
    field_equals: u64,
    /// Bytes of the lines holding a backslash.
    escaped_lines: u64,
    max_line_equals: u64,
    max_line: u64,
}

fn count(body: &[u8]) -> Counts {
    let mut c = Counts { bytes: body.len() as u64, utf8: std::str::from_utf8(body).is_ok(), ..Counts::default() };
    let mut pos = 0;
    while pos < body.len() {
        let (end, _, plain) = line_end(body, pos);
        let line = &body[pos..end];
        pos = end + 1;
        // Blank and comment lines are skipped by the parser (see `Lines`).
        let Some(first) = line.iter().position(|&b| !matches!(b, b' ' | b'\t' | 0)) else { continue };
        if line[first] == b'#' {
            continue;
        }
        let (tag_eq, eq) = if plain {
            // No backslash or quote: the tags end at the first space.
            let split = memchr::memchr(b' ', &line[first..]).map_or(line.len(), |p| first + p);
            let tag_eq = equals_in(&line[..split]);
            (tag_eq, tag_eq + equals_in(&line[split..]))
        } else {
            if memchr::memchr(b'\\', line).is_some() {
                c.escaped_lines += line.len() as u64;
            }
            (tag_equals(line), equals_in(line))
        };
        c.lines += 1;
        c.equals += eq;
        c.tag_equals += tag_eq;
        c.field_equals += eq - tag_eq;
        c.max_line_equals = c.max_line_equals.max(eq);
        c.max_line = c.max_line.max(line.len() as u64);
    }
    c
}

/// The `=` bytes of `b`.
fn equals_in(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'=', b).count() as u64
}

/// The `=` bytes of `line` before its first space not escaped by a backslash (leading blanks
/// skipped): where its measurement and tags are.
fn tag_equals(line: &[u8]) -> u64 {
    let start = line.iter().position(|&b| !matches!(b, b' ' | b'\t')).unwrap_or(line.len());
    let mut n = 0;
    let mut i = start;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 1,
            b' ' => break,
            b'=' => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

impl ParseCost {
    /// The bound for `body`, parsed with errors quoting at most `quote_max` bytes of a line.
    pub fn of(body: &[u8], quote_max: usize) -> ParseCost {
        count(body).bound(quote_max)
    }
}

impl Counts {
    fn bound(&self, quote_max: usize) -> ParseCost {
        const A: u64 = ALLOC_OVERHEAD;
        let widen = if self.utf8 { 1 } else { 3 };
        let text = self.bytes.saturating_mul(widen);
        let m = self.max_line.saturating_mul(widen);
        let e1 = self.max_line_equals;
        let points = self.lines.min(self.equals).min((self.bytes + 1) / 6);

        let copy = if self.utf8 { 0 } else { text + A };
        let escaped = self.escaped_lines.saturating_mul(widen);
        let batch = (text + escaped + A)
            + points.saturating_mul(Points::REC_BYTES as u64)
            + self.tag_equals.saturating_mul(Points::TAG_BYTES as u64)
            + self.field_equals.saturating_mul(Points::FIELD_BYTES as u64)
            + 3 * A;
        let dedup_slot = size_of::<(std::borrow::Cow<'_, str>, Value<'_>)>() as u64;
        let dedup = 3 * e1.max(4) * dedup_slot + A + 2 * m;
        let line_slot = size_of::<(Escaped<'_>, Escaped<'_>)>().max(size_of::<(Escaped<'_>, Value<'_>)>()) as u64;
        let line_vecs = 7 * e1.max(4) * line_slot + 4 * A;
        let index = if e1 > 16 { 152 * e1 + m + 256 } else { 0 };
        let q = u64::try_from(quote_max).unwrap_or(u64::MAX);
        let reason = u64::try_from(reason_max(quote_max)).unwrap_or(u64::MAX);
        let entry = q.min(m) + reason.min(2 * m + 128) + 85;
        let texts = 3 * (MAX_REPORTED_LINES as u64) * entry + 12 * m + 2048;

        let bytes = [copy, batch, dedup, line_vecs, index, texts, LARGE_ALLOC_SLACK].iter().fold(0u64, |s, x| s.saturating_add(*x));
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        ParseCost {
            max_points: size(points),
            max_tags: size(self.tag_equals),
            max_fields: size(self.field_equals),
            escaped_bytes: size(escaped),
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_parsers_lines() {
        // A newline inside a quoted value does not end a line; `=` inside it still counts.
        let c = count(b"m s=\"a\nb=c\" 1\nm v=1,w=2\n\n");
        assert_eq!((c.lines, c.equals, c.max_line_equals), (2, 4, 2));
        assert_eq!((c.tag_equals, c.field_equals, c.escaped_lines), (0, 4, 0));
        assert_eq!(c.max_line, "m s=\"a\nb=c\" 1".len() as u64);
        assert!(c.utf8);
        assert!(!count(b"m,t=\xff v=1").utf8);
        let c = count(b"m\\ x,a=1,b\\ =2 f=1,g=\"h i=j\"\n  m,t=1 v=1");
        assert_eq!((c.tag_equals, c.field_equals), (3, 4));
        assert_eq!(c.escaped_lines, "m\\ x,a=1,b\\ =2 f=1,g=\"h i=j\"".len() as u64);
        assert_eq!(count(b""), Counts { utf8: true, ..Counts::default() });
    }

    #[test]
    fn points_are_bounded_by_lines_equals_and_size() {
        assert_eq!(ParseCost::of(b"m v=1\nm v=2\nm v=3", 1024).max_points, 3);
        assert_eq!(ParseCost::of(b"\n\n\n# a=b\n \t# c=d", 1024).max_points, 0);
        assert_eq!(ParseCost::of(b"\n\n\n# a=b\n m v=1", 1024).max_points, 1);
        assert_eq!(ParseCost::of(b"m a=1,b=2,c=3", 1024).max_points, 1);
        assert_eq!(ParseCost::of(b"=\n=\n=\n=\n=\n=\n", 1024).max_points, 2);
        assert_eq!(ParseCost::of(b"no fields here\n", 1024).max_points, 0);
    }

    #[test]
    fn bound_grows_with_the_body_not_the_quote() {
        let tiny = "m v=1\n".repeat(10_000);
        let c = ParseCost::of(tiny.as_bytes(), 1024);
        // Every point costs at least its own struct; the bound stays within ~50× the body.
        assert!(c.bytes >= 10_000 * (Points::REC_BYTES + Points::FIELD_BYTES) as u64, "{c:?}");
        assert!(c.bytes <= 50 * tiny.len() as u64 + 2 * 1024 * 1024, "{c:?}");
        // A huge quote bound does not make a body of short lines costlier than its lines allow.
        assert_eq!(ParseCost::of(tiny.as_bytes(), usize::MAX).bytes, c.bytes);
    }
}
