//! Go's `%q` (`strconv.Quote`), which 1.x uses in several error texts (the cardinality limits'
//! `measurement="m" tag="k" value="v"`, `strconv` parse errors): `"` and `\` escaped, the C
//! escapes `\a\b\f\n\r\t\v`, `\xNN` for other ASCII controls, printable characters as they are,
//! and `\uNNNN` / `\UNNNNNNNN` for other non-printable characters.

use std::fmt::Write as _;

/// `s` quoted as Go's `strconv.Quote` quotes it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
/// Without Unicode's category tables this excludes what a name can plausibly hold of the rest:
/// controls, separators other than the space (Unicode's white space), the format characters in
/// use, private use, and the non-characters U+FFFE/U+FFFF. A rarer unassigned code point prints
/// as itself where Go would escape it.
fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let u = c as u32;
    let format = matches!(
        u,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x180e
            | 0x200b..=0x200f
            | 0x2028..=0x202e
            | 0x2060..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
    );
    let private_or_nonchar = matches!(u, 0xe000..=0xf8ff | 0xf0000..=0x10ffff | 0xfffe | 0xffff);
    !(c.is_control() || c.is_whitespace() || format || private_or_nonchar)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_as_go() {
        assert_eq!(go_quote("cpu"), "\"cpu\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("t\tn\n\x01\x7f"), "\"t\\tn\\n\\x01\\x7f\"");
        assert_eq!(go_quote("héllo ☃"), "\"héllo ☃\"");
        assert_eq!(go_quote("\u{a0}\u{200b}\u{feff}\u{3000}"), "\"\\u00a0\\u200b\\ufeff\\u3000\"");
        assert_eq!(go_quote("\u{f0000}\u{ffff}"), "\"\\U000f0000\\uffff\"");
        assert_eq!(go_quote("\u{85}"), "\"\\u0085\"");
        assert_eq!(go_quote("\u{1}\t\u{7f}é\u{a0}\u{200b}😀"), r#""\x01\t\x7fé\u00a0\u200b😀""#);
    }
}
