//! The SQL dialect: how every name and value from a request becomes part of a statement.
//!
//! ClickHouse 18.16 (Debian's) has no query parameters (`param_` binding came in 19.x), so names
//! and values are written into the statement text. **Every** one goes through [`quote`], the one
//! escaping function, audited here:
//!
//! * the text is enclosed in the quote character: `` ` `` for identifiers ([`ident`]), `'` for
//!   string literals ([`string`]);
//! * a backslash becomes `\\` and the quote character `\` + quote: ClickHouse's lexer reads an
//!   escape inside both kinds of quotes the same way (`readBackQuotedString` /
//!   `readQuotedString`, both through `parseComplexEscapeSequence`), so no input can end the
//!   quoted token early;
//! * every byte below 0x20, and 0x7F, becomes `\xHH`, so no control character (a NUL, a newline,
//!   a carriage return that a log or a proxy might cut at) reaches the server raw;
//! * everything else (all of UTF-8 from 0x20 up, the other quote character included) is written
//!   as it is. Rust strings are valid UTF-8, so the server never sees a broken sequence.
//!
//! The same escapes are read the same way by current ClickHouse, which the tests check through the
//! chdb adapter as well as against 18.16 (`tests/ch_backend.rs`: hostile names and values written
//! and read back exactly). Integers are written by [`int`] as `toInt64('N')`: 18.16 types a bare
//! literal by its size (`604800000000000` is a UInt64) and then does unsigned arithmetic with a
//! negative Int64 column (`modulo(-1, 604800000000000)` is not -1 there, it is in current releases),
//! so every number that meets `time` is an explicit Int64. Floats never appear in statements (they
//! travel in RowBinary).
//!
//! Also here: [`file_name_len`], the length ClickHouse gives a name on disk (tables, columns and
//! databases are files and directories named by `escapeForFileName`: `[A-Za-z0-9_]` kept, every
//! other byte `%XX`). A name too long for the file system breaks the table (18.16 adds the column
//! and then cannot write any part: "File name too long"), so names are checked before any DDL.

use std::fmt::Write as _;

/// The longest on-disk name (see [`file_name_len`]) a database, table or column may have: a
/// column's files add up to 10 bytes (`.null.mrk2`) to it, and the file system's limit is 255.
pub const MAX_FILE_NAME: usize = 200;

/// `s` between `q` quotes with ClickHouse's escapes (see the module docs): the only way a name or
/// value enters a statement. Bytes that are not UTF-8 (only `_series` values have them) are
/// written `\xHH` too.
pub fn quote(s: &[u8], q: char) -> String {
    let text = std::str::from_utf8(s).ok();
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    let push = |c: char, out: &mut String| match c {
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02X}", c as u32);
        }
        c => out.push(c),
    };
    match text {
        Some(t) => t.chars().for_each(|c| push(c, &mut out)),
        None => {
            for &b in s {
                if b >= 0x80 {
                    let _ = write!(out, "\\x{b:02X}");
                } else {
                    push(char::from(b), &mut out);
                }
            }
        }
    }
    out.push(q);
    out
}

/// A database, table or column name: `` `name` ``.
pub fn ident(name: &str) -> String {
    quote(name.as_bytes(), '`')
}

/// A string literal: `'text'`.
pub fn string(text: &str) -> String {
    quote(text.as_bytes(), '\'')
}

/// A string literal of any bytes (a `_series` value).
pub fn bytes(b: &[u8]) -> String {
    quote(b, '\'')
}

/// An Int64 constant, typed as such in every release (see the module docs).
pub fn int(v: i64) -> String {
    format!("toInt64('{v}')")
}

/// A qualified table name: `` `db`.`table` ``.
pub fn table(db: &str, table: &str) -> String {
    format!("{}.{}", ident(db), ident(table))
}

/// The length of `name` as ClickHouse's `escapeForFileName` writes it on disk.
pub fn file_name_len(name: &str) -> usize {
    name.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'_' { 1 } else { 3 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes() {
        assert_eq!(ident("cpu"), "`cpu`");
        assert_eq!(ident("a`b"), "`a\\`b`");
        assert_eq!(ident("a'b"), "`a'b`");
        assert_eq!(string("a'b"), "'a\\'b'");
        assert_eq!(string("a`b"), "'a`b'");
        assert_eq!(string("back\\slash"), "'back\\\\slash'");
        assert_eq!(string("nul\0nl\ncr\rdel\x7f"), "'nul\\x00nl\\x0Acr\\x0Ddel\\x7F'");
        assert_eq!(string("ünï ✓ 東京"), "'ünï ✓ 東京'");
        assert_eq!(string(""), "''");
        assert_eq!(table("a.b", "c"), "`a.b`.`c`");
        assert_eq!(int(i64::MIN), "toInt64('-9223372036854775808')");
        assert_eq!(bytes(b"a\x00\xff\xc3'"), "'a\\x00\\xFF\\xC3\\''");
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name_len("cpu_1"), 5);
        assert_eq!(file_name_len("h2o level"), 11);
        assert_eq!(file_name_len("ü"), 6);
    }

    /// Reads a quoted token back as ClickHouse's lexer does (`\\`, `\q`, `\xHH`), returning the
    /// bytes and the rest of the input after the closing quote.
    fn unquote(s: &str, q: char) -> Option<(Vec<u8>, &str)> {
        let mut it = s.char_indices();
        if it.next()?.1 != q {
            return None;
        }
        let mut out = Vec::new();
        while let Some((i, c)) = it.next() {
            match c {
                '\\' => match it.next()?.1 {
                    'x' => {
                        let h: String = [it.next()?.1, it.next()?.1].iter().collect();
                        out.push(u8::from_str_radix(&h, 16).ok()?);
                    }
                    e => out.extend_from_slice(e.to_string().as_bytes()),
                },
                c if c == q => return Some((out, &s[i + c.len_utf8()..])),
                c => out.extend_from_slice(c.to_string().as_bytes()),
            }
        }
        None
    }

    proptest! {
        /// Whatever the input, the quoted token ends exactly at its closing quote, reads back as the
        /// input, and holds no raw control character.
        #[test]
        fn round_trips(s in any::<String>(), raw in proptest::collection::vec(any::<u8>(), 0..16), tail in "[ ,)`'a-z]{0,4}") {
            for input in [s.as_bytes(), raw.as_slice()] {
                for q in ['`', '\''] {
                    let quoted = quote(input, q);
                    prop_assert!(!quoted.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f));
                    let joined = format!("{quoted}{tail}");
                    let (back, rest) = unquote(&joined, q).expect("a closed token");
                    prop_assert_eq!(back.as_slice(), input);
                    prop_assert_eq!(rest, tail.as_str());
                }
            }
        }
    }
}
