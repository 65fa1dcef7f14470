//! Taking credentials out of what is logged: a request's query string, and passwords inside
//! InfluxQL statements.
//!
//! Credentials reach influxgate as `Authorization` (never logged), `?u=` / `?p=` (removed from the
//! logged query string, whatever their case or encoding) and, in a form body, `u` / `p` (bodies are
//! never logged; only `q` is). A statement can carry a password too: InfluxDB 1.x's
//! `CREATE USER name WITH PASSWORD 'secret'` and `SET PASSWORD FOR name = 'secret'`. 1.x redacts
//! those with two regular expressions over the text (`influxql.Sanitize`); here everything after
//! the word PASSWORD (outside quotes) up to the end of its statement (an unquoted `;`) becomes
//! `[REDACTED]`, whatever form the rest takes (double quotes, a malformed literal, another
//! statement shape), and a text in which the word still appears unredacted (inside a quoted
//! name, after an unterminated quote) is cut there. It redacts more than needed rather than less.

use std::borrow::Cow;

const MARK: &str = " [REDACTED]";

/// `text` with every password redacted.
pub fn statements(text: &str) -> Cow<'_, str> {
    if !contains_password(text) {
        return Cow::Borrowed(text);
    }
    let scanned = scan(text);
    // Whatever the scanner could not place (the word inside quotes, an unterminated quote):
    // cut the text at the first whole word left unredacted.
    let lower = scanned.to_ascii_lowercase();
    let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
    let mut from = 0;
    while let Some(i) = lower[from..].find("password").map(|i| i + from) {
        let end = i + "password".len();
        let whole = !word(i.checked_sub(1).map(|j| lower.as_bytes()[j])) && !word(lower.as_bytes().get(end).copied());
        if whole && !lower[end..].starts_with(&MARK.to_ascii_lowercase()) {
            return Cow::Owned(format!("{}{MARK}", &scanned[..end]));
        }
        from = end;
    }
    Cow::Owned(scanned)
}

fn contains_password(text: &str) -> bool {
    text.as_bytes().windows(8).any(|w| w.eq_ignore_ascii_case(b"password"))
}

/// The length of the quoted literal or identifier starting at `i` (to its closing quote, or to
/// the end of the text when unterminated).
fn quoted_len(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            c if c == q => return j + 1 - i,
            _ => j += 1,
        }
    }
    b.len() - i
}

/// Where the statement containing `i` ends: its unquoted `;`, or the end of the text.
fn statement_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => i += quoted_len(b, i),
            b';' => return i,
            _ => i += 1,
        }
    }
    b.len()
}

fn scan(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let start = i;
        match b[i] {
            b'\'' | b'"' => i += quoted_len(b, i).min(b.len() - i),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if b[start..i].eq_ignore_ascii_case(b"password") {
                    out.push_str(&text[start..i]);
                    out.push_str(MARK);
                    i = statement_end(b, i);
                    continue;
                }
            }
            _ => {
                // One whole character (the text is UTF-8).
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        out.push_str(&text[start..i.min(b.len())]);
        i = i.min(b.len());
    }
    out
}

/// At most `max` bytes of `s` (cut at a character boundary), then `...(N bytes)` naming the
/// whole length.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}...({} bytes)", &s[..cut], s.len()))
}

/// A request's path and query string as logged: `u` and `p` removed, `q` with passwords redacted,
/// the whole at most `max` bytes.
pub fn path_and_query(path: &str, query: Option<&str>, max: usize) -> String {
    let Some(query) = query.filter(|q| !q.is_empty()) else { return truncate(path, max).into_owned() };
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "u" | "p" => {}
            "q" => {
                kept.append_pair(&k, &statements(&v));
            }
            _ => {
                kept.append_pair(&k, &v);
            }
        }
    }
    let kept = kept.finish();
    let whole = if kept.is_empty() { path.to_string() } else { format!("{path}?{kept}") };
    truncate(&whole, max).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_statements() {
        let cases = [
            ("CREATE USER bob WITH PASSWORD 'se;cret' WITH ALL PRIVILEGES", "CREATE USER bob WITH PASSWORD [REDACTED]"),
            ("create user bob with password 'x\\'y'; SHOW USERS", "create user bob with password [REDACTED]; SHOW USERS"),
            ("SET PASSWORD FOR \"bob\" = 'secret'", "SET PASSWORD [REDACTED]"),
            ("SET PASSWORD FOR bob = \"secret\"", "SET PASSWORD [REDACTED]"),
            ("SELECT mean(v) FROM cpu", "SELECT mean(v) FROM cpu"),
            ("SELECT \"password\" FROM m WHERE x = 'secret'", "SELECT \"password [REDACTED]"),
            ("CREATE USER 'a WITH PASSWORD 'secret", "CREATE USER 'a WITH PASSWORD [REDACTED]"),
            ("SELECT v FROM passwords", "SELECT v FROM passwords"),
        ];
        for (text, want) in cases {
            assert_eq!(statements(text), want, "{text}");
        }
    }

    #[test]
    fn query_strings() {
        let q = "db=x&u=bob&p=s3cret&q=SET+PASSWORD+FOR+bob+%3D+%27new%27&P=keep";
        assert_eq!(path_and_query("/query", Some(q), 4096), "/query?db=x&q=SET+PASSWORD+%5BREDACTED%5D&P=keep");
        assert_eq!(path_and_query("/write", Some("p=a&u=b"), 4096), "/write");
        assert_eq!(path_and_query("/write", None, 4096), "/write");
        assert_eq!(path_and_query("/write", Some("db=abcdef"), 8), "/write?d...(16 bytes)");
    }
}
