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
//!
//! # Bytes 0x00–0x02 and regex matchers
//!
//! VictoriaMetrics 1.79 keeps label values in its index escaped (0x00, 0x01, 0x02 become two bytes
//! each, as they separate its index entries) and runs a regex matcher over the escaped bytes, so a
//! regex can miss a value holding such a byte: `{db="d",t=~"a.b"}` does not select `t="a\x01b"`
//! (`a..b` does), and `{db="e",__name__=~"(?:zz_f\x01x|zz_i)"}` selects `zz_i` only (the literal
//! alternatives after the common prefix `zz_` are looked up unescaped). An exact `=` matcher always
//! selects such a value. Hence:
//!
//! * [`selectors`] is the one home for "which selectors name these metrics": one regex alternation
//!   of the names holding none of these bytes, and an exact `__name__=` selector for each other
//!   name (several `match[]` arguments select the union of what each selects; a rollup query,
//!   whose `or` would drop a series' other metrics, is not pushed down then, see [`names_split`]);
//! * equality alternatives are only merged into a regex (`merge_alternatives`) when no value holds
//!   such a byte;
//! * a user's tag regex is only pushed down (`to_dnf`'s `regex`) when the caller knows that no
//!   value of the series concerned holds such a byte or a newline ([`tag_regex_misjudges`]; a kept
//!   whole listing says so, see [`listing`](mod@super::listing)), or when VictoriaMetrics refuses
//!   the listing without it; otherwise it is left out (superset) and `TagPredicate::matches`
//!   decides over the listed values, with the evaluator's semantics.

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

/// Whether VictoriaMetrics' regex matchers may misjudge this value (module docs): it holds a byte
/// 0x00, 0x01 or 0x02.
pub fn escaped_in_index(v: &str) -> bool {
    v.bytes().any(|b| b <= 2)
}

/// Whether a tag regex pushed down (`.*(?:re).*`, see `leaf`) may misjudge this value: it holds a
/// byte 0x00–0x02 ([`escaped_in_index`]) or a newline, which the `.*` around the regex does not
/// cross in VictoriaMetrics.
pub fn tag_regex_misjudges(v: &str) -> bool {
    escaped_in_index(v) || v.contains('\n')
}

/// Matchers on `__name__` whose union selects exactly these metric names: the names VictoriaMetrics
/// matches exactly in a regex (module docs) as one alternation of escaped literals (anchored by
/// VictoriaMetrics; an exact `=` when there is one), every other name with its own exact `=`.
fn name_matchers(names: &[String]) -> Vec<Matcher> {
    let (plain, escaped): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| !escaped_in_index(n));
    let mut out: Vec<Matcher> = escaped.into_iter().map(|n| Matcher::Eq("__name__".into(), n.clone())).collect();
    match plain.as_slice() {
        [] => {}
        [one] => out.insert(0, Matcher::Eq("__name__".into(), (*one).clone())),
        many => {
            let alts: Vec<String> = many.iter().map(|n| regex::escape(n)).collect();
            out.insert(0, Matcher::Re("__name__".into(), format!("(?:{})", alts.join("|"))));
        }
    }
    out
}

/// Whether [`selectors`] names these metrics with more than one selector. A rollup query cannot
/// join those with `or`: it drops a series whose labels but for `__name__` equal an earlier
/// operand's, i.e. the same series' other metrics.
pub fn names_split(names: &[String]) -> bool {
    name_matchers(names).len() > 1
}

/// The selectors (`match[]` arguments, united) of the series of these metrics (not empty) that
/// also match every one of `rest`: one selector unless a name holds a byte VictoriaMetrics' regexes
/// misjudge (module docs). The one home for naming metrics in a selector.
pub fn selectors(names: &[String], rest: &[Matcher]) -> Vec<String> {
    name_matchers(names)
        .into_iter()
        .map(|n| {
            let mut ms = Vec::with_capacity(rest.len() + 1);
            ms.push(n);
            ms.extend(rest.iter().cloned());
            selector(&ms)
        })
        .collect()
}

/// Whether the predicate has a regex leaf (which `to_dnf` expresses only when told it may).
pub fn has_regex(p: &TagPredicate) -> bool {
    match p {
        TagPredicate::Match(..) | TagPredicate::NotMatch(..) => true,
        TagPredicate::And(a, b) | TagPredicate::Or(a, b) => has_regex(a) || has_regex(b),
        _ => false,
    }
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
fn leaf(p: &TagPredicate, labels: &LabelMap, regex: bool) -> Option<Matcher> {
    let l = |k: &str| labels.label_of(k).into_owned();
    match p {
        TagPredicate::Eq(k, v) => Some(Matcher::Eq(l(k), v.clone())),
        TagPredicate::Ne(k, v) => Some(Matcher::Ne(l(k), v.clone())),
        TagPredicate::Match(k, re) if regex && portable_regex(re.as_str()) => {
            Some(Matcher::Re(l(k), format!(".*(?:{}).*", re.as_str())))
        }
        TagPredicate::NotMatch(k, re) if regex && portable_regex(re.as_str()) => {
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
/// Tag keys become the labels they are stored under. Regex leaves are only expressed with
/// `regex` = the caller knows no value of the series concerned holds a byte VictoriaMetrics'
/// regexes misjudge (module docs).
pub fn to_dnf(p: &TagPredicate, labels: &LabelMap, regex: bool) -> Vec<Vec<Matcher>> {
    fn go(p: &TagPredicate, labels: &LabelMap, regex: bool) -> Option<Vec<Vec<Matcher>>> {
        match p {
            TagPredicate::True => Some(vec![vec![]]),
            TagPredicate::And(a, b) => {
                let (a, b) = (go(a, labels, regex)?, go(b, labels, regex)?);
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
                let (mut a, b) = (go(a, labels, regex)?, go(b, labels, regex)?);
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
            other => Some(vec![leaf(other, labels, regex).into_iter().collect()]),
        }
    }
    merge_alternatives(go(p, labels, regex).unwrap_or_else(|| vec![vec![]]))
}

/// Conjunctions alike but for the value their first matcher asks of one label (`{h="a",r="x"}`,
/// `{h="b",r="x"}`: TSBS' `hostname = 'a' OR hostname = 'b' ...`) made one, with the values as a
/// regex alternation (`{h=~"(?:a|b)",r="x"}`), so that VictoriaMetrics searches its index and
/// reads samples once, not once per conjunction. The same series: the alternation of escaped
/// literals (anchored by VictoriaMetrics) matches exactly those values. Empty values, which also
/// match a missing label, and values VictoriaMetrics' regexes misjudge (module docs) are left as
/// they are.
fn merge_alternatives(conjs: Vec<Vec<Matcher>>) -> Vec<Vec<Matcher>> {
    let eq = |c: &[Matcher]| match c.first() {
        Some(Matcher::Eq(k, v)) if !v.is_empty() && !escaped_in_index(v) => Some((k.clone(), v.clone())),
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
        let db = [Matcher::Eq("db".into(), "d".into())];
        assert_eq!(selectors(&["a.b".into(), "c|d".into()], &db), vec![r#"{__name__=~"(?:a\\.b|c\\|d)",db="d"}"#]);
        assert_eq!(selectors(&["a".into()], &db), vec![r#"{__name__="a",db="d"}"#]);
        // A name VictoriaMetrics' regexes misjudge gets its own exact selector.
        let names = ["x\u{1}y".to_string(), "a".into(), "b".into(), "\u{0}".into(), "c\u{2}".into(), "d\u{3}".into()];
        assert_eq!(
            selectors(&names, &db),
            vec![
                r#"{__name__=~"(?:a|b|d\u0003)",db="d"}"#,
                r#"{__name__="x\u0001y",db="d"}"#,
                r#"{__name__="\u0000",db="d"}"#,
                r#"{__name__="c\u0002",db="d"}"#,
            ]
        );
        assert_eq!(selectors(&names[..1], &[]), vec![r#"{__name__="x\u0001y"}"#]);
        assert!(names_split(&names));
        assert!(!names_split(&names[..1]) && !names_split(&names[1..3]));
    }

    #[test]
    fn escaped_values_are_not_merged() {
        let eq = |v: &str| Box::new(TagPredicate::Eq("h".into(), v.into()));
        let p = TagPredicate::Or(Box::new(TagPredicate::Or(eq("a"), eq("b\u{1}"))), eq("c"));
        assert_eq!(
            to_dnf(&p, &LabelMap::new("db"), true),
            vec![vec![Matcher::Re("h".into(), "(?:a|c)".into())], vec![Matcher::Eq("h".into(), "b\u{1}".into())]]
        );
    }

    #[test]
    fn regexes_only_when_told() {
        let re = |r: &str| regex::Regex::new(r).unwrap();
        let p = TagPredicate::And(Box::new(TagPredicate::Match("r".into(), re("a.b"))), Box::new(TagPredicate::NotMatch("s".into(), re("x"))));
        assert!(has_regex(&p));
        assert!(!has_regex(&TagPredicate::Eq("r".into(), "a".into())));
        assert_eq!(to_dnf(&p, &LabelMap::new("db"), false), vec![Vec::<Matcher>::new()]);
        assert_eq!(
            to_dnf(&p, &LabelMap::new("db"), true),
            vec![vec![Matcher::Re("r".into(), ".*(?:a.b).*".into()), Matcher::NotRe("s".into(), ".*(?:x).*".into())]]
        );
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
        let d = to_dnf(&p, &LabelMap::new("db"), true);
        // (h=a, r=~) or (h=b, r=~): one selector (see merge_alternatives).
        assert_eq!(d.len(), 1);
        assert_eq!(d[0][0], Matcher::Re("h".into(), "(?:a|b)".into()));
        assert_eq!(d[0][1], Matcher::Re("r".into(), ".*(?:^a.*).*".into()));
        // A non-portable regex widens to nothing (superset).
        let p = TagPredicate::Match("r".into(), regex::Regex::new(r"\d+").unwrap());
        assert_eq!(to_dnf(&p, &LabelMap::new("db"), true), vec![Vec::<Matcher>::new()]);
        let p = TagPredicate::Or(Box::new(p), Box::new(TagPredicate::Eq("h".into(), "a".into())));
        assert_eq!(to_dnf(&p, &LabelMap::new("db"), true), vec![Vec::<Matcher>::new()]);
        // Alternatives of one label's values are one regex; others are left alone.
        let eq = |v: &str| Box::new(TagPredicate::Eq("h".into(), v.into()));
        let p = TagPredicate::Or(Box::new(TagPredicate::Or(eq("a.b"), eq("c|d"))), eq(""));
        assert_eq!(
            to_dnf(&p, &LabelMap::new("db"), true),
            vec![vec![Matcher::Re("h".into(), r"(?:a\.b|c\|d)".into())], vec![Matcher::Eq("h".into(), "".into())]]
        );
        let r = |v: &str| Box::new(TagPredicate::Eq("r".into(), v.into()));
        let p = TagPredicate::Or(
            Box::new(TagPredicate::And(eq("a"), r("x"))),
            Box::new(TagPredicate::Or(Box::new(TagPredicate::And(eq("b"), r("x"))), Box::new(TagPredicate::And(eq("c"), r("y"))))),
        );
        let d = to_dnf(&p, &LabelMap::new("db"), true);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0], vec![Matcher::Re("h".into(), "(?:a|b)".into()), Matcher::Eq("r".into(), "x".into())]);
        // A tag named like the db label is matched on the label it is stored under.
        let p = TagPredicate::Eq("db".into(), "x".into());
        assert_eq!(to_dnf(&p, &LabelMap::new("db"), true), vec![vec![Matcher::Eq("influxgate_tag_db".into(), "x".into())]]);
    }
}
