//! Where a 1.x name lives in ClickHouse: databases, tables, columns, and the series identity.
//!
//! * 1.x database `db` → ClickHouse database `<prefix><db>` (the *base*, holding the `catalog`
//!   table of its retention policies); retention policy `rp` → `<prefix><db>.<rp>`, holding one
//!   table per measurement, named as the measurement. On a cluster those are `Distributed` tables
//!   and the shards' own tables live in `<prefix><db>.<rp>.local`. Inside the parts, `\` is
//!   written `\\` and `.` is written `\.`, so the dots between parts are unambiguous and every
//!   name maps to one ClickHouse name and back ([`DbNames::parse`]).
//! * A tag key or a field key → a column named as the key. A key that is both a tag and a field
//!   of one measurement (1.x allows it), or that equals one of influxgate's own columns
//!   (`_series`, `_seq`; `time` is refused by the line protocol), gets a *marked* name: the key
//!   with `\` doubled, then `\tag` or `\field`. Which kind a column is follows from its type
//!   (tags are `String`, fields `Nullable(...)`), so [`key_of`] only undoes the marking.
//! * `_series` identifies a series inside its table: the tag set, sorted by key, each key and value
//!   written with 0x00 as 0x00 0xFF and ended by 0x00 0x01 ([`series_id`]). Byte order of these
//!   strings is the order of tag sets (key, then value, pair by pair, a shorter set first), so
//!   `ORDER BY _series` hands series over in the order the `Backend` trait promises, and the tags
//!   are read back from it exactly ([`parse_series_id`]).

use super::dialect::{file_name_len, MAX_FILE_NAME};
use crate::backend::{BackendError, Result};

/// influxgate's own columns.
pub const TIME: &str = "time";
pub const SERIES: &str = "_series";
pub const SEQ: &str = "_seq";
/// `cityHash64(_series)`, a MATERIALIZED column of tables made since series tables (see
/// [`series_table`](mod@super::series_table)); in older tables a column of this name is a user's.
pub const SID: &str = "_sid";

/// The table of a database's retention policies (in its base database).
pub const CATALOG: &str = "catalog";

/// `\` → `\\`, `.` → `\.`.
fn escape_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || c == '.' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a ClickHouse database name into its unescaped parts (`None`: not one of ours).
fn split_parts(s: &str) -> Option<Vec<String>> {
    let mut parts = vec![String::new()];
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => parts.last_mut()?.push(it.next()?),
            '.' => parts.push(String::new()),
            c => parts.last_mut()?.push(c),
        }
    }
    Some(parts)
}

/// The ClickHouse database names of 1.x databases, with the configured prefix.
#[derive(Debug, Clone)]
pub struct DbNames {
    pub prefix: String,
}

/// What a ClickHouse database name is to influxgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChDatabase {
    Base(String),
    Policy(String, String),
    Local(String, String),
    /// The series tables of a policy ([`series_table`](mod@super::series_table)).
    Series(String, String),
}

impl DbNames {
    pub fn base(&self, db: &str) -> String {
        format!("{}{}", self.prefix, escape_part(db))
    }

    /// Where the measurement tables of `rp` are (Distributed tables on a cluster).
    pub fn policy(&self, db: &str, rp: &str) -> String {
        format!("{}.{}", self.base(db), escape_part(rp))
    }

    /// Where the shards' own tables of `rp` are, on a cluster.
    pub fn local(&self, db: &str, rp: &str) -> String {
        format!("{}.local", self.policy(db, rp))
    }

    /// Where the series tables of `rp`'s measurements are (`<policy>.series`).
    pub fn series(&self, db: &str, rp: &str) -> String {
        format!("{}.series", self.policy(db, rp))
    }

    pub fn parse(&self, name: &str) -> Option<ChDatabase> {
        let rest = name.strip_prefix(self.prefix.as_str())?;
        let mut parts = split_parts(rest)?;
        match parts.len() {
            1 => Some(ChDatabase::Base(parts.pop()?)),
            2 => {
                let rp = parts.pop()?;
                Some(ChDatabase::Policy(parts.pop()?, rp))
            }
            3 if parts[2] == "local" => {
                parts.pop();
                let rp = parts.pop()?;
                Some(ChDatabase::Local(parts.pop()?, rp))
            }
            3 if parts[2] == "series" => {
                parts.pop();
                let rp = parts.pop()?;
                Some(ChDatabase::Series(parts.pop()?, rp))
            }
            _ => None,
        }
    }

    /// Refuses a database + retention policy whose ClickHouse names would be too long on disk.
    pub fn check(&self, db: &str, rp: Option<&str>) -> Result<()> {
        let name = match rp {
            Some(rp) => self.local(db, rp),
            None => self.base(db),
        };
        if file_name_len(&name) > MAX_FILE_NAME {
            let what = if rp.is_some() { "database and retention policy names are" } else { "database name is" };
            return Err(BackendError::Invalid(format!(
                "{what} too long for ClickHouse ({} bytes as a file name, at most {MAX_FILE_NAME})",
                file_name_len(&name)
            )));
        }
        Ok(())
    }
}

/// Refuses a measurement, tag key or field key too long to be a table or column on disk.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let n = file_name_len(name) + 8; // room for a marking
    if n > MAX_FILE_NAME {
        return Err(BackendError::Invalid(format!(
            "{kind} {name:?} is too long for ClickHouse ({n} bytes as a file name, at most {MAX_FILE_NAME})"
        )));
    }
    Ok(())
}

/// Whether `name` is one of influxgate's own columns.
pub fn internal(name: &str) -> bool {
    matches!(name, TIME | SERIES | SEQ | SID)
}

/// The column of a tag (`field = false`) or field key, marked (see the module docs).
pub fn marked(key: &str, field: bool) -> String {
    let mut out = key.replace('\\', "\\\\");
    out.push_str(if field { "\\field" } else { "\\tag" });
    out
}

/// The column a key gets when it is new: its own name, unless that is taken by a column of the
/// other kind or by influxgate's own (`taken`).
pub fn column_for(key: &str, field: bool, taken: impl Fn(&str) -> bool) -> String {
    if !key.contains('\\') && !internal(key) && !taken(key) {
        key.to_string()
    } else {
        marked(key, field)
    }
}

/// The key a (non-internal) column holds.
pub fn key_of(column: &str) -> String {
    if !column.contains('\\') {
        return column.to_string();
    }
    let mut out = String::with_capacity(column.len());
    let mut it = column.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('\\') => out.push('\\'),
                _ => break,
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn push_part(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

/// `_series` of a tag set (sorted by key).
pub fn series_id(tags: &[(String, String)]) -> Vec<u8> {
    series_id_of(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`series_id`] of tags given as `&str` pairs (a point's [`crate::model::Tags`]).
pub fn series_id_of<'a>(tags: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Vec<u8> {
    let mut out = Vec::with_capacity(tags.clone().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (k, v) in tags {
        push_part(&mut out, k);
        push_part(&mut out, v);
    }
    out
}

/// The tag set of a `_series` value (`None`: not one influxgate wrote).
pub fn parse_series_id(id: &[u8]) -> Option<Vec<(String, String)>> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < id.len() {
        let b = id[i];
        if b == 0 {
            match id.get(i + 1)? {
                0xff => cur.push(0),
                1 => parts.push(String::from_utf8(std::mem::take(&mut cur)).ok()?),
                _ => return None,
            }
            i += 2;
        } else {
            cur.push(b);
            i += 1;
        }
    }
    if !cur.is_empty() || parts.len() % 2 != 0 {
        return None;
    }
    let mut it = parts.into_iter();
    let mut tags = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        tags.push((k, v));
    }
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn databases() {
        let n = DbNames { prefix: "influx_".into() };
        assert_eq!(n.base("telegraf"), "influx_telegraf");
        assert_eq!(n.policy("telegraf", "autogen"), "influx_telegraf.autogen");
        assert_eq!(n.local("a.b", "c\\d"), "influx_a\\.b.c\\\\d.local");
        assert_eq!(n.parse("influx_a\\.b.c\\\\d.local"), Some(ChDatabase::Local("a.b".into(), "c\\d".into())));
        assert_eq!(n.parse("influx_x.local"), Some(ChDatabase::Policy("x".into(), "local".into())));
        assert_eq!(n.parse("influx_x"), Some(ChDatabase::Base("x".into())));
        assert_eq!(n.parse("other"), None);
        assert_eq!(n.parse("influx_a.b.c"), None);
        assert!(n.check(&"x".repeat(190), Some("autogen")).is_err());
        assert!(n.check(&"é".repeat(40), None).is_err());
        assert!(n.check("telegraf", Some("autogen")).is_ok());
    }

    #[test]
    fn columns() {
        assert_eq!(column_for("host", false, |_| false), "host");
        assert_eq!(column_for("value", true, |c| c == "value"), "value\\field");
        assert_eq!(column_for("_series", false, |_| false), "_series\\tag");
        assert_eq!(column_for("a\\b", true, |_| false), "a\\\\b\\field");
        for c in ["host", "value\\field", "_series\\tag", "a\\\\b\\field"] {
            let k = key_of(c);
            assert!(!internal(c));
            assert!(c == k || c == marked(&k, true) || c == marked(&k, false), "{c}");
        }
        assert_eq!(key_of("a\\\\b\\field"), "a\\b");
    }

    fn tagset() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::btree_map("[a\\x00\\x01\\xff=,é]{0,4}", "[a\\x00\\x01b]{0,3}", 0..4)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn series_ids_round_trip_and_keep_order(a in tagset(), b in tagset()) {
            let (ia, ib) = (series_id(&a), series_id(&b));
            prop_assert_eq!(parse_series_id(&ia), Some(a.clone()));
            prop_assert_eq!(ia.cmp(&ib), a.cmp(&b));
        }

        #[test]
        fn database_names_round_trip(db in "[a.\\\\_é]{1,6}", rp in "[a.\\\\l]{1,6}") {
            let n = DbNames { prefix: "p_".into() };
            prop_assert_eq!(n.parse(&n.base(&db)), Some(ChDatabase::Base(db.clone())));
            prop_assert_eq!(n.parse(&n.policy(&db, &rp)), Some(ChDatabase::Policy(db.clone(), rp.clone())));
            prop_assert_eq!(n.parse(&n.series(&db, &rp)), Some(ChDatabase::Series(db.clone(), rp.clone())));
            prop_assert_eq!(n.parse(&n.local(&db, &rp)), Some(ChDatabase::Local(db, rp)));
        }
    }
}
