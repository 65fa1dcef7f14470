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

use super::series::SeriesStore;
use crate::backend::CardinalityLimits;
use crate::rules::cardinality as rules;

/// A series a write batch would create: its measurement id when the measurement exists, its
/// measurement name and its tags.
pub(crate) struct NewSeries<'a> {
    pub mid: Option<i64>,
    pub name: &'a str,
    pub tags: crate::model::Tags<'a>,
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
        if !db.is_some_and(|d| store.in_other_policy(d, s.name, s.mid, &s.tags)) {
            new_to_db += 1;
        }
    }
    let max = limits.max_series_per_database;
    if max > 0 && db.map(|d| store.db_series(d)).unwrap_or(0) + new_to_db > max {
        return Some(rules::series_reason(max));
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
        let batch = added.get(&(s.name, k));
        if stored.is_some_and(|m| m.contains_key(v)) || batch.is_some_and(|b| b.contains(v)) {
            continue;
        }
        let n = stored.map(|m| m.len()).unwrap_or(0) + batch.map(|b| b.len()).unwrap_or(0);
        if n as u64 >= max {
            return Some(rules::values_reason(n as u64, max, s.name, k, v));
        }
        fresh.push((k, v));
    }
    for (k, v) in fresh {
        added.entry((s.name, k)).or_default().insert(v);
    }
    None
}

