//! The series index: every measurement's series with their tag sets, held once in memory for
//! the readers and the writer alike, and the counts the cardinality limits are checked against
//! (`cardinality.rs`).
//!
//! # One copy, visibility by marks
//!
//! The metadata catalog (`catalog.rs`: databases, policies, measurements, fields) is small and
//! the writer keeps a working copy of it. Series are what grows to millions, so they are kept
//! once: the writer adds a series here as soon as its SQL row is inserted — later batches of the
//! same group commit then find it, and the counts include it, so two concurrent writes can never
//! both pass a limit — but marks it uncommitted until COMMIT; readers skip marked series (a
//! measurement created in the open transaction is not even reachable for them, the shared
//! metadata catalog does not know it yet). A rollback takes the marked series out again. Drops
//! go the other way: they are queued and applied at COMMIT, so readers see a dropped series until
//! its deletion is committed.
//!
//! # Memory per series
//!
//! A series is one entry of its measurement's `by_tags` map (a 16-byte `Arc<[..]>` + its 8-byte
//! id) and its tag set: one allocation of 16 + 32 × tags bytes holding `Arc<str>` pairs. Tag
//! keys and values are interned per database and measurement name (the dictionary the
//! max-values-per-tag limit needs anyway), so a value shared by many series (`region=eu-west-1`)
//! is stored once; a value unique to a series costs its string (16 + length bytes) and one
//! dictionary entry. Hash tables are 44–87.5 % full, so an entry costs 29–57 bytes.
//!
//! Measured (`EMB_CATALOG_SERIES=1000000 cargo bench --bench embedded`, BENCHMARKS.md §5), RSS
//! growth of a process opening a store, per series: 237 bytes with 2 tags (one unique), 205 with
//! 1, 491 with 10 (one unique, nine shared); before this index (tag sets of owned strings, the
//! maps in both catalog copies, the catalog read through the writer's 128 MB page cache) 506,
//! 375 and 1526. Opening costs 1.6–1.8 CPU-s per million series. So the default
//! max-series-per-database (1,000,000) bounds a database's series index to about 240 MB with
//! one or two tags and about 500 MB with ten (each further shared tag adds 32 bytes a series).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A tag key or value, shared by every series of a measurement that carries it.
pub(crate) type Str = Arc<str>;

/// A series' tag set, sorted by key; shared between the index and the readers' scan plans.
pub(crate) type Tags = Arc<[(Str, Str)]>;

/// A tag set as a list of pairs, whatever holds the strings: a stored [`Tags`], a point's
/// `Vec<(String, String)>` or pairs borrowed from a catalog row, so a lookup needs no allocation.
pub(crate) trait TagView {
    fn tag_count(&self) -> usize;
    fn tag(&self, i: usize) -> (&str, &str);
}

impl<K: AsRef<str>, V: AsRef<str>> TagView for Vec<(K, V)> {
    fn tag_count(&self) -> usize {
        self.len()
    }
    fn tag(&self, i: usize) -> (&str, &str) {
        (self[i].0.as_ref(), self[i].1.as_ref())
    }
}

impl TagView for crate::model::Tags<'_> {
    fn tag_count(&self) -> usize {
        self.len()
    }
    fn tag(&self, i: usize) -> (&str, &str) {
        self.get(i).unwrap_or(("", ""))
    }
}

impl TagView for Tags {
    fn tag_count(&self) -> usize {
        self.len()
    }
    fn tag(&self, i: usize) -> (&str, &str) {
        (&self[i].0, &self[i].1)
    }
}

impl Hash for dyn TagView + '_ {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.tag_count());
        for i in 0..self.tag_count() {
            let (k, v) = self.tag(i);
            k.hash(h);
            v.hash(h);
        }
    }
}

impl PartialEq for dyn TagView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.tag_count() == other.tag_count() && (0..self.tag_count()).all(|i| self.tag(i) == other.tag(i))
    }
}

impl Eq for dyn TagView + '_ {}

/// A stored tag set as a map key, hashed and compared as its [`TagView`].
#[derive(Clone)]
struct SeriesKey(Tags);

impl TagView for SeriesKey {
    fn tag_count(&self) -> usize {
        self.0.len()
    }
    fn tag(&self, i: usize) -> (&str, &str) {
        (&self.0[i].0, &self.0[i].1)
    }
}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self as &dyn TagView).hash(h)
    }
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &Self) -> bool {
        (self as &dyn TagView) == (other as &dyn TagView)
    }
}

impl Eq for SeriesKey {}

impl<'a> Borrow<dyn TagView + 'a> for SeriesKey {
    fn borrow(&self) -> &(dyn TagView + 'a) {
        self
    }
}

/// The tag set as owned strings (what `SeriesChunk` and `SeriesInfo` carry).
pub(crate) fn owned(tags: &Tags) -> Vec<(String, String)> {
    tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One measurement's series (a measurement lives in one database + retention policy).
pub(crate) struct SeriesSet {
    db: i64,
    name: Str,
    /// Looked up for every point written. foldhash (seeded per process, so a client cannot
    /// choose colliding tag sets ahead of time) instead of SipHash, which was 5 % of a TSBS
    /// write's server CPU in a profile.
    by_tags: HashMap<SeriesKey, i64, foldhash::fast::RandomState>,
}

/// What one database holds, over all its retention policies.
#[derive(Default)]
struct DbIndex {
    /// Distinct (measurement, tag set) pairs over all policies: what max-series-per-database counts.
    series: u64,
    names: HashMap<Str, NameIndex>,
}

/// One measurement name of a database, over all its retention policies.
#[derive(Default)]
struct NameIndex {
    /// Ids of the measurements with this name, one per policy holding it.
    mids: Vec<i64>,
    /// Tag key → its values: max-values-per-tag counts them.
    keys: HashMap<Str, KeyValues>,
}

/// One tag key's values in a measurement name, each with the number of series carrying it.
/// The count is atomic only so that one `get_key_value` lookup both finds the shared string and
/// bumps the count (the index is changed under its lock's write guard, never concurrently).
struct KeyValues {
    key: Str,
    values: HashMap<Str, AtomicU32>,
}

impl NameIndex {
    /// The shared strings of a tag of a new series, counting the series for its value.
    fn intern(&mut self, k: &str, v: &str) -> (Str, Str) {
        let kv = match self.keys.get_mut(k) {
            Some(kv) => kv,
            None => {
                let key = Str::from(k);
                self.keys.entry(key.clone()).or_insert(KeyValues { key, values: HashMap::new() })
            }
        };
        let v = match kv.values.get_key_value(v) {
            Some((s, n)) => {
                n.fetch_add(1, Ordering::Relaxed);
                s.clone()
            }
            None => {
                let s = Str::from(v);
                kv.values.insert(s.clone(), AtomicU32::new(1));
                s
            }
        };
        (kv.key.clone(), v)
    }

    /// Uncounts a removed series' tags; values no series carries any more go.
    fn release(&mut self, tags: &Tags) {
        for (k, v) in tags.iter() {
            let Some(kv) = self.keys.get_mut(k) else { continue };
            if kv.values.get(v).is_some_and(|n| n.fetch_sub(1, Ordering::Relaxed) == 1) {
                kv.values.remove(v);
                if kv.values.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct SeriesStore {
    sets: HashMap<i64, SeriesSet>,
    dbs: HashMap<i64, DbIndex>,
    /// Series the writer added in its open transaction; readers skip them.
    uncommitted: HashSet<i64>,
}

impl SeriesStore {
    /// Registers a measurement (before any of its series).
    pub fn create_meas(&mut self, mid: i64, db: i64, name: &str) {
        if self.sets.contains_key(&mid) {
            return;
        }
        let names = &mut self.dbs.entry(db).or_default().names;
        let name: Str = match names.get_key_value(name) {
            Some((k, _)) => k.clone(),
            None => Str::from(name),
        };
        names.entry(name.clone()).or_default().mids.push(mid);
        self.sets.insert(mid, SeriesSet { db, name, by_tags: HashMap::default() });
    }

    /// Removes a measurement and all its series.
    pub fn drop_meas(&mut self, mid: i64) {
        let Some(set) = self.sets.remove(&mid) else { return };
        for (key, sid) in set.by_tags.iter() {
            self.uncommitted.remove(sid);
            self.unindex(set.db, &set.name, mid, &key.0);
        }
        let Some(d) = self.dbs.get_mut(&set.db) else { return };
        if let Some(n) = d.names.get_mut(&set.name) {
            n.mids.retain(|m| *m != mid);
            if n.mids.is_empty() {
                d.names.remove(&set.name);
            }
        }
        if d.names.is_empty() {
            self.dbs.remove(&set.db);
        }
    }

    /// Adds a series (its measurement must be registered) and answers its stored tag set;
    /// `uncommitted` hides it from readers until [`SeriesStore::commit`].
    pub fn insert(&mut self, mid: i64, sid: i64, tags: &dyn TagView, uncommitted: bool) -> Option<Tags> {
        let set = self.sets.get(&mid)?;
        let (db, name) = (set.db, set.name.clone());
        let d = self.dbs.get_mut(&db)?;
        let n = d.names.get_mut(&name)?;
        let new_to_db = n.mids.len() < 2 || !other_policy_has(&self.sets, &n.mids, Some(mid), tags);
        let pairs: Vec<(Str, Str)> = (0..tags.tag_count()).map(|i| tags.tag(i)).map(|(k, v)| n.intern(k, v)).collect();
        let tags: Tags = pairs.into();
        let set = self.sets.get_mut(&mid)?;
        if let Some(old) = set.by_tags.insert(SeriesKey(tags.clone()), sid) {
            // It was there already (never for the writer, which looks first): undo the counts.
            set.by_tags.insert(SeriesKey(tags.clone()), old);
            n.release(&tags);
            return Some(tags);
        }
        if new_to_db {
            d.series += 1;
        }
        if uncommitted {
            self.uncommitted.insert(sid);
        }
        Some(tags)
    }

    /// Removes one series.
    pub fn remove(&mut self, mid: i64, tags: &dyn TagView) {
        let Some(set) = self.sets.get_mut(&mid) else { return };
        let Some((key, sid)) = set.by_tags.remove_entry(tags) else { return };
        let (db, name) = (set.db, set.name.clone());
        self.uncommitted.remove(&sid);
        self.unindex(db, &name, mid, &key.0);
    }

    /// The counts' side of removing series `tags` of measurement `mid` (already out of its set).
    fn unindex(&mut self, db: i64, name: &str, mid: i64, tags: &Tags) {
        let Some(d) = self.dbs.get_mut(&db) else { return };
        let Some(n) = d.names.get_mut(name) else { return };
        if !other_policy_has(&self.sets, &n.mids, Some(mid), &SeriesKey(tags.clone())) {
            d.series = d.series.saturating_sub(1);
        }
        n.release(tags);
    }

    /// Makes the series added in the transaction that just committed visible to readers.
    pub fn commit(&mut self) {
        self.uncommitted.clear();
        // A group commit may have created 200k series; do not keep their room for ever.
        self.uncommitted.shrink_to(1024);
    }

    /// The id of series `tags` of measurement `mid`, committed or not (for the writer).
    pub fn sid(&self, mid: i64, tags: &dyn TagView) -> Option<i64> {
        self.sets.get(&mid).and_then(|s| s.by_tags.get(tags)).copied()
    }

    /// The committed series of measurement `mid` (for readers and DDL).
    pub fn visible(&self, mid: i64) -> impl Iterator<Item = (&Tags, i64)> + '_ {
        let hide = !self.uncommitted.is_empty();
        self.sets
            .get(&mid)
            .into_iter()
            .flat_map(|s| s.by_tags.iter())
            .filter(move |(_, sid)| !hide || !self.uncommitted.contains(sid))
            .map(|(k, sid)| (&k.0, *sid))
    }

    /// How many committed series measurement `mid` has.
    pub fn visible_count(&self, mid: i64) -> usize {
        match self.sets.get(&mid) {
            Some(s) if self.uncommitted.is_empty() => s.by_tags.len(),
            Some(_) => self.visible(mid).count(),
            None => 0,
        }
    }

    /// Whether measurement `mid` has a committed series.
    pub fn has_visible(&self, mid: i64) -> bool {
        self.visible(mid).next().is_some()
    }

    /// Series of database `db` (distinct measurement + tag sets over its policies).
    pub fn db_series(&self, db: i64) -> u64 {
        self.dbs.get(&db).map(|d| d.series).unwrap_or(0)
    }

    /// Values of tag `key` in measurement `name` of database `db` (over its policies), each with
    /// the number of series carrying it.
    pub fn tag_values(&self, db: i64, name: &str, key: &str) -> Option<&HashMap<Str, AtomicU32>> {
        Some(&self.dbs.get(&db)?.names.get(name)?.keys.get(key)?.values)
    }

    /// Whether a measurement `name` of database `db` other than `mid` (another policy's) has the
    /// series `tags`.
    pub fn in_other_policy(&self, db: i64, name: &str, mid: Option<i64>, tags: &dyn TagView) -> bool {
        let Some(n) = self.dbs.get(&db).and_then(|d| d.names.get(name)) else { return false };
        other_policy_has(&self.sets, &n.mids, mid, tags)
    }
}

/// Whether one of `mids` other than `mid` has the series `tags`.
fn other_policy_has(sets: &HashMap<i64, SeriesSet>, mids: &[i64], mid: Option<i64>, tags: &dyn TagView) -> bool {
    mids.iter().filter(|m| Some(**m) != mid).any(|m| sets.get(m).is_some_and(|s| s.by_tags.contains_key(tags)))
}
