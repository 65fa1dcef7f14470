//! The cardinality limits, `[limits] max_series_per_database` and `max_values_per_tag`, checked
//! against the series index's counts before anything of a write batch is stored.
//!
//! # What InfluxDB 1.x counts (1.6, `tsdb/index/inmem/inmem.go`, `tsdb/shard.go`, `tsdb/store.go`)
//!
//! Both limits belong to the `inmem` index (1.6's default; `tsi1` ignores max-series-per-database).
//! That index is one per database, shared by all its shards and retention policies
//! (`Store.createIndexIfNotExists(db)`), and a series key is measurement + tags, without the
//! policy. So 1.x counts:
//!
//! * **series per database**: distinct series keys of the database over all its policies and
//!   shards. `Index.CreateSeriesListIfNotExists` refuses when `len(i.series) + len(keys) > max`,
//!   `keys` being the points of the shard's batch whose series does not exist yet, with
//!   `max-series-per-database limit exceeded: (N)` (N = the limit).
//! * **values per tag**: distinct values of one tag key in one measurement name of the database,
//!   over all policies and shards. `ShardIndex.CreateSeriesListIfNotExists` checks each tag of
//!   each new series: a value the measurement already has passes; otherwise the series is
//!   dropped when the key already has `n >= max` values, with
//!   `max-values-per-tag limit exceeded (n/N): measurement="m" tag="k" value="v"` (Go `%q`).
//!   The tag check runs first; the series check runs on the series that passed it and, when it
//!   fails, its reason replaces the tag one. Both reasons come before any field type check.
//!
//! 1.x writes the rest of the batch and answers 400 `partial write: <reason> dropped=<points>`
//! (`dropped` counts the refused series' points). Seen with influxd 1.6.7 at limits 5 and 3:
//! `cpu,host=a v=2 2` `cpu,host=b v=2 2` `cpu,host=d v=1 1` `cpu,host=c v=2 2` against a measurement
//! holding a, b, c answers `... value="d" dropped=1` and stores b and c but not a (its point
//! filter compares keys its index reordered), and `mem,host=a|b|c` plus `cpu,host=a v=3 3` against
//! 3 series answers `max-series-per-database limit exceeded: (5) dropped=3` and stores the cpu point.
//!
//! # What is counted here, and how it differs
//!
//! The same quantities, over all retention policies of a database: the store has no shards, and
//! counting per policy would let a database hold the limit once per policy. The differences:
//!
//! * The check is exact. 1.x counts the points of new series, not the new series (two points of
//!   one new series count twice), and compares each new tag value with the count before the
//!   batch (a batch of 1000 new values passes a key holding 0 of 3); here distinct new series and
//!   new values are counted, earlier ones of the same batch included.
//! * A batch that would pass a limit is refused whole (nothing of it is stored, `dropped` = all
//!   its points), with 1.x's error text, so a client never has half of a body it retries stored,
//!   nor, as 1.6.7, a point other than the refused ones dropped.
//! * The counts live in the series index (`series.rs`), kept as series are created and dropped
//!   and rebuilt at start-up from the catalog tables, so a limit holds after a restart and a check
//!   costs hash lookups for the batch's new series only. The writer thread checks and creates
//!   series one batch after another, counting the uncommitted series of its open group commit,
//!   so two concurrent writes cannot both pass the last free slot.
//! * A series or value already stored always passes, also after the limits were lowered; like
//!   1.x, nothing is deleted when a database is over a lowered limit.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::series::SeriesStore;
use crate::backend::CardinalityLimits;

/// A series a write batch would create: its measurement id when the measurement exists, its
/// measurement name and its tags.
pub(crate) struct NewSeries<'a> {
    pub mid: Option<i64>,
    pub name: &'a str,
    pub tags: &'a Vec<(String, String)>,
}

/// 1.x's reason when creating the batch's new series (distinct) in database `db` (`None`: not
/// created yet) would pass a limit.
pub(crate) fn check(store: &SeriesStore, db: Option<i64>, new: &[NewSeries<'_>], limits: CardinalityLimits) -> Option<String> {
    let mut tag_reason: Option<String> = None;
    // (measurement, key) → values this batch adds.
    let mut added: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
    let mut new_to_db = 0u64;
    for s in new {
        if limits.max_values_per_tag > 0 {
            if let Some(reason) = new_values(store, db, s, limits.max_values_per_tag, &mut added) {
                tag_reason.get_or_insert(reason);
                continue;
            }
        }
        if !db.is_some_and(|d| store.in_other_policy(d, s.name, s.mid, s.tags)) {
            new_to_db += 1;
        }
    }
    let max = limits.max_series_per_database;
    if max > 0 && db.map(|d| store.db_series(d)).unwrap_or(0) + new_to_db > max {
        return Some(format!("max-series-per-database limit exceeded: ({max})"));
    }
    tag_reason
}

/// Adds the values of `s`'s tags that are new to `added`, or answers the reason when one would
/// pass `max` (then nothing of `s` is added).
fn new_values<'a>(
    store: &SeriesStore,
    db: Option<i64>,
    s: &NewSeries<'a>,
    max: u64,
    added: &mut HashMap<(&'a str, &'a str), HashSet<&'a str>>,
) -> Option<String> {
    let mut fresh: Vec<(&str, &str)> = Vec::new();
    for (k, v) in s.tags.iter() {
        let stored = db.and_then(|d| store.tag_values(d, s.name, k));
        let batch = added.get(&(s.name, k.as_str()));
        if stored.is_some_and(|m| m.contains_key(v.as_str())) || batch.is_some_and(|b| b.contains(v.as_str())) {
            continue;
        }
        let n = stored.map(|m| m.len()).unwrap_or(0) + batch.map(|b| b.len()).unwrap_or(0);
        if n as u64 >= max {
            return Some(format!(
                "max-values-per-tag limit exceeded ({n}/{max}): measurement={} tag={} value={}",
                go_quote(s.name),
                go_quote(k),
                go_quote(v)
            ));
        }
        fresh.push((k, v));
    }
    for (k, v) in fresh {
        added.entry((s.name, k)).or_default().insert(v);
    }
    None
}

/// Go's `%q` of a string (`strconv.Quote`): `"` and `\` escaped, printable characters as they
/// are, the C escapes for their controls, `\xNN` for other ASCII controls and `\uNNNN` /
/// `\UNNNNNNNN` for other non-printable characters (Unicode controls, separators other than
/// the space, and the format characters Go does not print).
pub(crate) fn go_quote(s: &str) -> String {
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

/// Go's `unicode.IsPrint` for the characters that matter in names: not a control, not a
/// separator other than the ASCII space, not a common format character.
fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let u = c as u32;
    let format = matches!(u, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb);
    let private = matches!(u, 0xe000..=0xf8ff | 0xf0000..=0x10ffff);
    !(c.is_control() || c.is_whitespace() || format || private)
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
        assert_eq!(go_quote("\u{a0}\u{200b}\u{feff}"), "\"\\u00a0\\u200b\\ufeff\"");
        assert_eq!(go_quote("\u{f0000}"), "\"\\U000f0000\"");
    }
}
