//! Series selectors (`{name="value", ...}`) for VictoriaMetrics' `match[]` arguments, built so that no
//! tag key or value, however hostile, can change the selector's structure.
//!
//! * Label names are written as MetricsQL identifiers: `[A-Za-z0-9_]` as is (a leading digit
//!   escaped), every other character backslash-escaped, control characters as `\xHH`.
//!   VictoriaMetrics 1.79 accepts a backslash before any character in an identifier.
//! * Label values are double-quoted strings with Go/JSON escapes (`\"`, `\\`, `\n`, `\u00XX`).
//! * Regex values that stand for literal text go through `regex::escape`.
//!
//! VictoriaMetrics anchors every regex matcher (`^(?:re)$`); InfluxQL regexes are unanchored, so a
//! pushed-down `=~ re` becomes `=~ ".*(?:re).*"`. A regex is only pushed down when its text is in a
//! small syntax subset on which Go's RE2 (VictoriaMetrics) and Rust's `regex` agree; otherwise the
//! matcher is left out (the selector then selects a superset) and `TagPredicate::matches` decides.

use super::labels::LabelMap;
use crate::backend::TagPredicate;

/// One label matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Eq(String, String),
    Ne(String, String),
    /// The regex text is used as is (already anchored/escaped as wanted).
    Re(String, String),
    NotRe(String, String),
}

pub fn quote_ident(name: &str, out: &mut String) {
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_alphabetic() || c == '_' || (c.is_ascii_digit() && i > 0) {
            out.push(c);
        } else if (c as u32) < 0x20 || c as u32 == 0x7f {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push('\\');
            out.push(c);
        }
    }
}

pub fn quote_value(v: &str, out: &mut String) {
    // serde_json's string escaping is a subset of Go's string literal syntax, which MetricsQL uses.
    match serde_json::to_string(v) {
        Ok(s) => out.push_str(&s),
        Err(_) => out.push_str("\"\""), // cannot happen for a &str
    }
}

impl Matcher {
    pub fn write(&self, out: &mut String) {
        let (k, op, v) = match self {
            Matcher::Eq(k, v) => (k, "=", v),
            Matcher::Ne(k, v) => (k, "!=", v),
            Matcher::Re(k, v) => (k, "=~", v),
            Matcher::NotRe(k, v) => (k, "!~", v),
        };
        quote_ident(k, out);
        out.push_str(op);
        quote_value(v, out);
    }
}

/// `{m1,m2,...}`.
pub fn selector(matchers: &[Matcher]) -> String {
    let mut s = String::from("{");
    for (i, m) in matchers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        m.write(&mut s);
    }
    s.push('}');
    s
}

/// `__name__=~"^(?:a|b)$"` selecting exactly these metric names (VictoriaMetrics anchors anyway).
pub fn names_matcher(names: &[String]) -> Matcher {
    if names.len() == 1 {
        return Matcher::Eq("__name__".into(), names[0].clone());
    }
    let mut re = String::from("(?:");
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            re.push('|');
        }
        re.push_str(&regex::escape(n));
    }
    re.push(')');
    Matcher::Re("__name__".into(), re)
}

/// Whether a regex text is in the subset on which RE2 and Rust's regex crate agree for our use:
/// literal characters other than `\` and `{`/`}`, plus `. * + ? | ( ) [ ] ^ $ -` used plainly
/// (no `(?` flag groups, no escapes, no repetition counts, no POSIX classes).
pub fn portable_regex(re: &str) -> bool {
    if re.contains("(?") || re.contains("[:") {
        return false;
    }
    re.chars().all(|c| !matches!(c, '\\' | '{' | '}') && !c.is_control())
}

/// Leaves of a predicate as matchers on the tags' labels, or `None` when a leaf can't be
/// expressed exactly.
fn leaf(p: &TagPredicate, labels: &LabelMap) -> Option<Matcher> {
    let l = |k: &str| labels.label_of(k).into_owned();
    match p {
        TagPredicate::Eq(k, v) => Some(Matcher::Eq(l(k), v.clone())),
        TagPredicate::Ne(k, v) => Some(Matcher::Ne(l(k), v.clone())),
        TagPredicate::Match(k, re) if portable_regex(re.as_str()) => {
            Some(Matcher::Re(l(k), format!(".*(?:{}).*", re.as_str())))
        }
        TagPredicate::NotMatch(k, re) if portable_regex(re.as_str()) => {
            Some(Matcher::NotRe(l(k), format!(".*(?:{}).*", re.as_str())))
        }
        _ => None,
    }
}

/// The most selectors a predicate is expanded into (disjunctive normal form); past it, the
/// predicate is not pushed down at all.
pub const MAX_SELECTORS: usize = 16;

/// A predicate in disjunctive normal form: the union of the conjunctions selects a superset of
/// what the predicate matches (exactly it when every leaf is expressible). `vec![vec![]]` = all.
/// Tag keys become the labels they are stored under.
pub fn to_dnf(p: &TagPredicate, labels: &LabelMap) -> Vec<Vec<Matcher>> {
    fn go(p: &TagPredicate, labels: &LabelMap) -> Option<Vec<Vec<Matcher>>> {
        match p {
            TagPredicate::True => Some(vec![vec![]]),
            TagPredicate::And(a, b) => {
                let (a, b) = (go(a, labels)?, go(b, labels)?);
                if a.len() * b.len() > MAX_SELECTORS {
                    return None;
                }
                let mut out = Vec::new();
                for x in &a {
                    for y in &b {
                        let mut c = x.clone();
                        c.extend(y.iter().cloned());
                        out.push(c);
                    }
                }
                Some(out)
            }
            TagPredicate::Or(a, b) => {
                let (mut a, b) = (go(a, labels)?, go(b, labels)?);
                // An unrestricted branch makes the whole disjunction unrestricted.
                if a.iter().any(|c| c.is_empty()) || b.iter().any(|c| c.is_empty()) {
                    return Some(vec![vec![]]);
                }
                a.extend(b);
                if a.len() > MAX_SELECTORS {
                    return None;
                }
                Some(a)
            }
            // Not expressible: widen to "anything" (superset).
            other => Some(vec![leaf(other, labels).into_iter().collect()]),
        }
    }
    merge_alternatives(go(p, labels).unwrap_or_else(|| vec![vec![]]))
}

/// Conjunctions alike but for the value their first matcher asks of one label (`{h="a",r="x"}`,
/// `{h="b",r="x"}`: TSBS' `hostname = 'a' OR hostname = 'b' ...`) made one, with the values as a
/// regex alternation (`{h=~"(?:a|b)",r="x"}`), so that VictoriaMetrics searches its index and
/// reads samples once, not once per conjunction. The same series: the alternation of escaped
/// literals (anchored by VictoriaMetrics) matches exactly those values. Empty values, which also
/// match a missing label, are left as they are.
fn merge_alternatives(conjs: Vec<Vec<Matcher>>) -> Vec<Vec<Matcher>> {
    let eq = |c: &[Matcher]| match c.first() {
        Some(Matcher::Eq(k, v)) if !v.is_empty() => Some((k.clone(), v.clone())),
        _ => None,
    };
    // Per conjunction kept: the values of its first matcher's label merged into it.
    let mut out: Vec<(Vec<Matcher>, Vec<String>)> = Vec::new();
    for c in conjs {
        let Some((k, v)) = eq(&c) else {
            out.push((c, Vec::new()));
            continue;
        };
        let same = out.iter_mut().find(|(o, _)| eq(o).is_some_and(|(k2, _)| k2 == k) && o[1..] == c[1..]);
        match same {
            Some((_, values)) => values.push(v),
            None => out.push((c, vec![v])),
        }
    }
    out.into_iter()
        .map(|(mut c, values)| {
            if values.len() > 1 {
                let alts: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
                if let Some(Matcher::Eq(k, _)) = c.first() {
                    c[0] = Matcher::Re(k.clone(), format!("(?:{})", alts.join("|")));
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_are_quoted() {
        let s = selector(&[
            Matcher::Eq("host".into(), "a\"}, x=\"y".into()),
            Matcher::Eq("we ird\"}".into(), "l1\nl2\\".into()),
            Matcher::Eq("1x".into(), "ü".into()),
        ]);
        assert_eq!(s, r#"{host="a\"}, x=\"y",we\ ird\"\}="l1\nl2\\",\1x="ü"}"#);
        let mut o = String::new();
        quote_ident("a\nb", &mut o);
        assert_eq!(o, r"a\x0ab");
    }

    #[test]
    fn names_regex_is_literal() {
        let m = names_matcher(&["a.b".into(), "c|d".into()]);
        assert_eq!(m, Matcher::Re("__name__".into(), r"(?:a\.b|c\|d)".into()));
    }

    #[test]
    fn dnf() {
        let re = regex::Regex::new("^a.*").unwrap();
        let p = TagPredicate::And(
            Box::new(TagPredicate::Or(
                Box::new(TagPredicate::Eq("h".into(), "a".into())),
                Box::new(TagPredicate::Eq("h".into(), "b".into())),
            )),
            Box::new(TagPredicate::Match("r".into(), re)),
        );
        let d = to_dnf(&p, &LabelMap::new("db"));
        // (h=a, r=~) or (h=b, r=~): one selector (see merge_alternatives).
        assert_eq!(d.len(), 1);
        assert_eq!(d[0][0], Matcher::Re("h".into(), "(?:a|b)".into()));
        assert_eq!(d[0][1], Matcher::Re("r".into(), ".*(?:^a.*).*".into()));
        // A non-portable regex widens to nothing (superset).
        let p = TagPredicate::Match("r".into(), regex::Regex::new(r"\d+").unwrap());
        assert_eq!(to_dnf(&p, &LabelMap::new("db")), vec![Vec::<Matcher>::new()]);
        let p = TagPredicate::Or(Box::new(p), Box::new(TagPredicate::Eq("h".into(), "a".into())));
        assert_eq!(to_dnf(&p, &LabelMap::new("db")), vec![Vec::<Matcher>::new()]);
        // Alternatives of one label's values are one regex; others are left alone.
        let eq = |v: &str| Box::new(TagPredicate::Eq("h".into(), v.into()));
        let p = TagPredicate::Or(Box::new(TagPredicate::Or(eq("a.b"), eq("c|d"))), eq(""));
        assert_eq!(
            to_dnf(&p, &LabelMap::new("db")),
            vec![vec![Matcher::Re("h".into(), r"(?:a\.b|c\|d)".into())], vec![Matcher::Eq("h".into(), "".into())]]
        );
        let r = |v: &str| Box::new(TagPredicate::Eq("r".into(), v.into()));
        let p = TagPredicate::Or(
            Box::new(TagPredicate::And(eq("a"), r("x"))),
            Box::new(TagPredicate::Or(Box::new(TagPredicate::And(eq("b"), r("x"))), Box::new(TagPredicate::And(eq("c"), r("y"))))),
        );
        let d = to_dnf(&p, &LabelMap::new("db"));
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0], vec![Matcher::Re("h".into(), "(?:a|b)".into()), Matcher::Eq("r".into(), "x".into())]);
        // A tag named like the db label is matched on the label it is stored under.
        let p = TagPredicate::Eq("db".into(), "x".into());
        assert_eq!(to_dnf(&p, &LabelMap::new("db")), vec![vec![Matcher::Eq("influxgate_tag_db".into(), "x".into())]]);
    }
}
