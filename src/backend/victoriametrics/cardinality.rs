//! InfluxDB 1.x's cardinality limits on the VictoriaMetrics backend: `max-series-per-database`
//! and `max-values-per-tag` (`[limits] max_series_per_database`, `max_values_per_tag`).
//!
//! # What is counted
//!
//! A series is 1.x's: a measurement and a tag set, whatever its fields (VictoriaMetrics keeps one
//! series per field; they count once). A tag value counts for its tag key in its measurement. A
//! batch that would create a series past the database's limit, or a value past a tag key's limit,
//! is refused whole — nothing of it is sent — with 1.x's texts (`tsdb/index/inmem/inmem.go` of
//! 1.6): `partial write: max-series-per-database limit exceeded: (N) dropped=M`, or
//! `partial write: max-values-per-tag limit exceeded (n/N): measurement="m" tag="k" value="v"
//! dropped=M` (Go `%q` quoting), `M` being the points of the batch. The batch's own new series and
//! values count as they come, in order (1.x compares a batch's values with the index before the
//! batch only; refusing whole, this is the stricter reading). A series being the same series
//! again is never refused, also in a full database.
//!
//! # Where the counts come from
//!
//! VictoriaMetrics is the truth, so that series written before an influxgate restart, or written
//! straight to VictoriaMetrics, count. The first write to a database after start *seeds* its
//! tracker: every label set of the database is listed — with one `/api/v1/series` call; when
//! that answer would pass VictoriaMetrics' `-search.maxSeries`, one call per metric name; a metric
//! with more series than that is read with `/api/v1/export` (its samples are read and dropped).
//! Answers are read piece by piece ([`stream`](mod@super::stream)), so seeding holds one label set
//! at a time besides the tracker. Writes to that database wait for the seed; other databases do
//! not. After it, a batch costs a hash per point (a run of points of one series hashed once;
//! SipHash-1-3 with a random key, ~130 ns for a TSBS `cpu` series key) and a set lookup per
//! distinct series; only new series are hashed further (each tag value) and counted, under the
//! database's lock. Measured through `examples/write_load` (1 M TSBS `cpu` points, batches of
//! 5000) against a local VictoriaMetrics, influxgate spent 4.54 CPU-s with the limits on and 4.29
//! with both at 0 (means of 4 rounds on a loaded 2-core machine; ±0.2 s between rounds). `DROP DATABASE`, `DROP SERIES`, `DROP MEASUREMENT` and `DELETE` forget the
//! database's tracker: the next write seeds it again.
//!
//! The seed stops at `max_series_per_database` series. Past that (the database already held more,
//! e.g. the limit was lowered or points were written straight to VictoriaMetrics), a series not
//! among those tracked is looked up in VictoriaMetrics before it is refused as new, so writes to
//! every existing series go on, as in 1.x.
//!
//! # Memory
//!
//! Per database written since start: a set of 64-bit series hashes and, when `max_values_per_tag`
//! is set, a set of 64-bit (measurement, key, value) hashes plus a count per (measurement, key).
//! Hash tables keep at most 7/8 of their slots full and double when they grow, each slot 8 bytes
//! plus a control byte (16 + 1 for the counts), so an entry costs between 10.3 and 20.6 bytes.
//! Measured with a counting allocator on series of the TSBS `cpu` shape (the host name new per
//! series, so one value entry a series; the test `memory_per_series` checks the figure): 23.6
//! bytes a series at 100,000 series, 37.7 at 500,000 and at 1,000,000. So the default limit
//! (1,000,000 series) costs at most about 41 MB per database written, plus up to ~21 bytes for
//! every further new tag value a series brings. With `max_series_per_database = 0` (no limit)
//! and a values limit, the series set is not capped. Two distinct series sharing a 64-bit hash
//! (probability ≈ n²/2⁶⁵, 3·10⁻⁸ at a million) would count as one; the random key keeps that
//! from being provoked.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use super::names::Catalog;
use super::selector::{selector, selectors, Matcher};
use super::{labels_pairs, secs, stream, Inner, MAX_MS};
use crate::backend::{BackendError, CardinalityLimits, Result, WriteBatch};
use crate::model::PointRef;

/// Series looked up in VictoriaMetrics with one request (beyond the tracked ones).
const LOOKUP_BATCH: usize = 64;

/// Keys that are already uniformly distributed hashes: used as they are.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<PassThrough>>;
type HashMap64<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// One database's series and tag values.
#[derive(Default)]
struct DbSeries {
    series: HashSet64,
    /// Every series VictoriaMetrics holds for the database is in `series` (false: the seed
    /// stopped at the limit).
    complete: bool,
    /// (measurement, key, value) hashes, with `max_values_per_tag`.
    values: HashSet64,
    /// Values per (measurement, key) hash.
    per_key: HashMap64<u64>,
}

impl DbSeries {
    /// The candidates not tracked, each series once (its first point), in order.
    fn untracked(&self, candidates: Vec<Candidate>) -> Vec<Candidate> {
        let mut seen = HashSet64::default();
        candidates.into_iter().filter(|(_, h)| !self.series.contains(h) && seen.insert(*h)).collect()
    }
}

/// The series and tag values tracked per database (see the module docs).
pub struct Tracker {
    limits: CardinalityLimits,
    keys: RandomState,
    dbs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<DbSeries>>>>>,
}

/// A series hash and the first point of the batch that has it.
type Candidate = (usize, u64);

impl Tracker {
    pub fn new(limits: CardinalityLimits) -> Tracker {
        Tracker { limits, keys: RandomState::new(), dbs: Mutex::new(HashMap::new()) }
    }

    fn active(&self) -> bool {
        self.limits.max_series_per_database > 0 || self.limits.max_values_per_tag > 0
    }

    /// Forgets a database's counts (after deletes): the next write seeds them again.
    pub(super) fn forget(&self, db: &str) {
        self.dbs.lock().unwrap_or_else(|p| p.into_inner()).remove(db);
    }

    fn cell(&self, db: &str) -> Arc<tokio::sync::Mutex<Option<DbSeries>>> {
        let mut dbs = self.dbs.lock().unwrap_or_else(|p| p.into_inner());
        dbs.entry(db.to_string()).or_default().clone()
    }

    /// Seeds the database's counts if they are not yet (called before the write takes locks
    /// other databases' writes wait on).
    pub(super) async fn prepare(&self, inner: &Inner, db: &str) -> Result<()> {
        if self.active() {
            let cell = self.cell(db);
            let mut guard = cell.lock().await;
            if guard.is_none() {
                *guard = Some(self.seed(inner, db).await?);
            }
        }
        Ok(())
    }

    /// Refuses the batch if the points `keep` selects would pass a limit; otherwise counts their
    /// new series and values (before anything is sent, so concurrent batches count each other's).
    pub(super) async fn check(&self, inner: &Inner, batch: &WriteBatch, keep: &(dyn Fn(&PointRef<'_>) -> bool + Sync)) -> Result<()> {
        if !self.active() {
            return Ok(());
        }
        // Hashed before the database's lock is taken.
        let candidates = self.batch_series(batch, keep);
        let cell = self.cell(&batch.db);
        let mut guard = cell.lock().await;
        if guard.is_none() {
            *guard = Some(self.seed(inner, &batch.db).await?);
        }
        let Some(st) = guard.as_mut() else { return Ok(()) };
        let mut new = st.untracked(candidates);
        if new.is_empty() {
            return Ok(());
        }
        if !st.complete {
            new = self.not_stored(inner, batch, new).await?;
        }
        self.admit(st, batch, &new)
            .map_err(|reason| BackendError::CardinalityLimit { reason, dropped: batch.points.len() })
    }

    /// The series of the batch's kept points with the point of each, in order (a run of points
    /// of one series counted once; other repeats are left to [`DbSeries::untracked`]).
    fn batch_series(&self, batch: &WriteBatch, keep: &(dyn Fn(&PointRef<'_>) -> bool + Sync)) -> Vec<Candidate> {
        let mut out = Vec::with_capacity(batch.points.len());
        let mut scratch = Vec::new();
        let mut prev: Option<PointRef<'_>> = None;
        for (i, p) in batch.points.iter().enumerate() {
            if !keep(&p) || prev.is_some_and(|q| q.measurement == p.measurement && q.tags == p.tags) {
                continue;
            }
            prev = Some(p);
            out.push((i, self.point_hash(&mut scratch, &p)));
        }
        out
    }

    /// Counts the new series in order; on a limit, undoes the batch's counts and says why.
    fn admit(&self, st: &mut DbSeries, batch: &WriteBatch, new: &[Candidate]) -> std::result::Result<(), String> {
        let (max_series, max_values) = (self.limits.max_series_per_database, self.limits.max_values_per_tag);
        let mut added: Vec<u64> = Vec::new();
        let mut added_values: Vec<(u64, u64)> = Vec::new();
        let mut refusal = None;
        'points: for &(i, h) in new {
            let p = batch.points.get(i);
            if max_series > 0 && st.series.len() as u64 >= max_series {
                refusal = Some(crate::rules::cardinality::series_reason(max_series));
                break;
            }
            if max_values > 0 {
                for (k, v) in p.tags.iter().filter(|(_, v)| !v.is_empty()) {
                    let vh = self.value_hash(p.measurement, k, Some(v));
                    if st.values.contains(&vh) {
                        continue;
                    }
                    let kh = self.value_hash(p.measurement, k, None);
                    let n = st.per_key.get(&kh).copied().unwrap_or(0);
                    if n >= max_values {
                        refusal = Some(crate::rules::cardinality::values_reason(n, max_values, p.measurement, k, v));
                        break 'points;
                    }
                    st.values.insert(vh);
                    *st.per_key.entry(kh).or_default() += 1;
                    added_values.push((vh, kh));
                }
            }
            st.series.insert(h);
            added.push(h);
        }
        let Some(reason) = refusal else { return Ok(()) };
        for h in added {
            st.series.remove(&h);
        }
        for (vh, kh) in added_values {
            st.values.remove(&vh);
            if let Some(n) = st.per_key.get_mut(&kh) {
                *n -= 1;
            }
        }
        Err(reason)
    }

    /// The hash of a point's series (tags without a value are no tags, as in VictoriaMetrics).
    fn point_hash(&self, scratch: &mut Vec<u8>, p: &PointRef<'_>) -> u64 {
        let keys = p.tags.iter().map(|(k, _)| k);
        if keys.clone().zip(keys.skip(1)).all(|(a, b)| a <= b) {
            let tags = p.tags.iter().filter(|(_, v)| !v.is_empty());
            self.series_hash(scratch, p.measurement, tags)
        } else {
            // Sorted by escaped key (1.x's order), which differs for keys with escaped characters.
            self.series_hash(scratch, p.measurement, sorted_tags(p.tags.iter()).into_iter())
        }
    }

    /// The hash of a series: measurement and tags sorted by key, laid out in `scratch` first and
    /// hashed with one call (SipHash's cost is mostly per call for short pieces).
    fn series_hash<'a>(&self, scratch: &mut Vec<u8>, measurement: &str, tags: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        scratch.clear();
        scratch.extend_from_slice(measurement.as_bytes());
        for (k, v) in tags {
            // 0xff never occurs in UTF-8: the separators make the layout unambiguous.
            scratch.push(0xff);
            scratch.extend_from_slice(k.as_bytes());
            scratch.push(0xff);
            scratch.extend_from_slice(v.as_bytes());
        }
        let mut h = self.keys.build_hasher();
        h.write(scratch);
        h.finish()
    }

    /// Hash of (measurement, key, value), or of (measurement, key) with `None`.
    fn value_hash(&self, measurement: &str, key: &str, value: Option<&str>) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write_u8(if value.is_some() { 1 } else { 2 });
        h.write(measurement.as_bytes());
        h.write_u8(0xff);
        h.write(key.as_bytes());
        if let Some(v) = value {
            h.write_u8(0xff);
            h.write(v.as_bytes());
        }
        h.finish()
    }

    /// Counts one stored series in a seed; false once the seed is to stop.
    fn seed_one(&self, st: &mut DbSeries, measurement: &str, tags: &[(String, String)]) -> bool {
        let refs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        if !st.series.insert(self.series_hash(&mut Vec::new(), measurement, refs())) {
            return true;
        }
        if self.limits.max_values_per_tag > 0 {
            for (k, v) in refs() {
                if st.values.insert(self.value_hash(measurement, k, Some(v))) {
                    *st.per_key.entry(self.value_hash(measurement, k, None)).or_default() += 1;
                }
            }
        }
        let cap = self.limits.max_series_per_database;
        if cap > 0 && st.series.len() as u64 >= cap {
            st.complete = false;
            return false;
        }
        true
    }

    /// Every series VictoriaMetrics holds for `db`, up to the limit (module docs).
    async fn seed(&self, inner: &Inner, db: &str) -> Result<DbSeries> {
        let mut st = DbSeries { complete: true, ..DbSeries::default() };
        let catalog = inner.catalog().clone();
        let end = secs(MAX_MS);
        let whole = selector(&[inner.db_matcher(db)]);
        let pairs = [("match[]", whole.as_str()), ("start", "1"), ("end", end.as_str())];
        match inner.post_form("/api/v1/series", &pairs).await {
            Ok(resp) => {
                stream::each_series(resp, inner.opts.timeout, "/api/v1/series", |labels| {
                    Ok(self.seed_labels(inner, &catalog, db, &mut st, labels))
                })
                .await?;
                return Ok(st);
            }
            // Past -search.maxSeries (422) or another refusal: metric by metric.
            Err(BackendError::Invalid(_) | BackendError::Internal(_)) => {}
            Err(e) => return Err(e),
        }
        for name in inner.metric_names(None, db, None).await? {
            if !self.seed_metric(inner, &catalog, db, &name, &mut st).await? {
                break;
            }
        }
        Ok(st)
    }

    /// Seeds the series of one metric name; false once the seed is to stop.
    async fn seed_metric(&self, inner: &Inner, catalog: &Catalog, db: &str, name: &str, st: &mut DbSeries) -> Result<bool> {
        let end = secs(MAX_MS);
        let sel = selector(&[Matcher::Eq("__name__".into(), name.to_string()), inner.db_matcher(db)]);
        let timeout = inner.opts.timeout;
        let pairs = [("match[]", sel.as_str()), ("start", "1"), ("end", end.as_str())];
        match inner.post_form("/api/v1/series", &pairs).await {
            Ok(resp) => {
                return stream::each_series(resp, timeout, "/api/v1/series", |labels| {
                    Ok(self.seed_labels(inner, catalog, db, st, labels))
                })
                .await;
            }
            Err(BackendError::Invalid(_) | BackendError::Internal(_)) => {}
            Err(e) => return Err(e),
        }
        // More series than /api/v1/series lists: from the export (every sample read, dropped).
        let pairs = [("match[]", sel.as_str()), ("start", "0"), ("end", end.as_str()), ("max_rows_per_line", "10000")];
        let resp = inner.post_form("/api/v1/export", &pairs).await?;
        let mut samples = super::export::Samples::default();
        stream::each_line(resp, timeout, "/api/v1/export", |line| {
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(true);
            }
            let labels = super::export_line(line, &mut samples)?;
            Ok(self.seed_labels(inner, catalog, db, st, super::export::owned(labels).collect()))
        })
        .await
    }

    fn seed_labels(&self, inner: &Inner, catalog: &Catalog, db: &str, st: &mut DbSeries, mut labels: BTreeMap<String, String>) -> bool {
        let Some(name) = labels.remove("__name__") else { return true };
        let Some(tags) = inner.labels.tags_in_db(labels, db) else { return true };
        let (m, _) = catalog.split(db, &name, &inner.opts.separator);
        self.seed_one(st, &m, &tags)
    }

    /// Of series not tracked (the database holds more than were seeded), those VictoriaMetrics
    /// does not hold either.
    async fn not_stored(&self, inner: &Inner, batch: &WriteBatch, new: Vec<Candidate>) -> Result<Vec<Candidate>> {
        let db = &batch.db;
        let mut by_measurement: BTreeMap<&str, Vec<Candidate>> = BTreeMap::new();
        for c in new {
            by_measurement.entry(batch.points.get(c.0).measurement).or_default().push(c);
        }
        let end = secs(MAX_MS);
        let mut out = Vec::new();
        for (m, cands) in by_measurement {
            let metrics: Vec<String> = inner.field_metrics(None, db, m).await?.into_values().collect();
            if metrics.is_empty() {
                out.extend(cands);
                continue;
            }
            let names_sels = selectors(&metrics, &[inner.db_matcher(db)]);
            let all_labels: BTreeSet<String> = inner
                .api::<Vec<String>>("/api/v1/labels", &labels_pairs(&names_sels, &end))
                .await?
                .into_iter()
                .filter(|l| l != "__name__" && *l != inner.opts.db_label)
                .collect();
            let mut stored = HashSet64::default();
            for group in cands.chunks(LOOKUP_BATCH) {
                let sels: Vec<String> = group
                    .iter()
                    .flat_map(|&(i, _)| {
                        let tags: Vec<(String, String)> =
                            batch.points.get(i).tags.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())).collect();
                        inner.exact_selector(db, &metrics, &tags, &all_labels)
                    })
                    .collect();
                let mut pairs: Vec<(&str, &str)> = sels.iter().map(|s| ("match[]", s.as_str())).collect();
                pairs.push(("start", "1"));
                pairs.push(("end", &end));
                let found: Vec<BTreeMap<String, String>> = inner.api("/api/v1/series", &pairs).await?;
                for mut labels in found {
                    labels.remove("__name__");
                    if let Some(tags) = inner.labels.tags_in_db(labels, db) {
                        stored.insert(self.series_hash(&mut Vec::new(), m, sorted_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))).into_iter()));
                    }
                }
            }
            out.extend(cands.into_iter().filter(|(_, h)| !stored.contains(h)));
        }
        out.sort_unstable();
        Ok(out)
    }
}

/// The tags with a value (VictoriaMetrics stores no empty label), sorted by key.
fn sorted_tags<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = tags.filter(|(_, v)| !v.is_empty()).collect();
    if !v.windows(2).all(|w| w[0].0 <= w[1].0) {
        v.sort_unstable();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldValue, Point};

    fn pt(m: &str, tags: &[(&str, &str)]) -> Point {
        Point {
            measurement: m.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            fields: vec![("v".into(), FieldValue::Float(1.0))],
            time: 1,
        }
    }

    fn batch(points: Vec<Point>) -> WriteBatch {
        WriteBatch { db: "d".into(), rp: None, points: points.into() }
    }

/// Heap bytes of a hashbrown table holding `cap` entries of `entry` bytes (7/8 load, power-of-two
/// buckets, one control byte a bucket plus a group's worth).
fn table_bytes(cap: usize, entry: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let buckets = if cap < 8 { (cap + 1).next_power_of_two() } else { (cap * 8 / 7).next_power_of_two() };
    buckets * (entry + 1) + 16
}

    fn heap_bytes(st: &DbSeries) -> usize {
        table_bytes(st.series.capacity(), 8) + table_bytes(st.values.capacity(), 8) + table_bytes(st.per_key.capacity(), 16)
    }

    fn tracker(series: u64, values: u64) -> Tracker {
        Tracker::new(CardinalityLimits { max_series_per_database: series, max_values_per_tag: values })
    }

    fn admit(t: &Tracker, st: &mut DbSeries, b: &WriteBatch) -> std::result::Result<(), String> {
        let new = st.untracked(t.batch_series(b, &|_| true));
        t.admit(st, b, &new)
    }

    #[test]
    fn series_limit_counts_measurement_and_tags() {
        let t = tracker(3, 0);
        let mut st = DbSeries { complete: true, ..DbSeries::default() };
        let b = batch(vec![pt("cpu", &[("host", "a")]), pt("cpu", &[("host", "a")]), pt("mem", &[("host", "a")])]);
        admit(&t, &mut st, &b).unwrap();
        assert_eq!(st.series.len(), 2);
        // Two new series where one is left: refused whole, nothing counted.
        let b = batch(vec![pt("cpu", &[("host", "b")]), pt("cpu", &[("host", "c")])]);
        assert_eq!(admit(&t, &mut st, &b), Err("max-series-per-database limit exceeded: (3)".into()));
        assert_eq!(st.series.len(), 2);
        // Existing series are always fine; empty tag values are no tag.
        let b = batch(vec![pt("cpu", &[("host", "a"), ("x", "")]), pt("mem", &[("host", "a")]), pt("cpu", &[("host", "b")])]);
        admit(&t, &mut st, &b).unwrap();
        assert_eq!(st.series.len(), 3);
        admit(&t, &mut st, &batch(vec![pt("cpu", &[("host", "b")])])).unwrap();
    }

    #[test]
    fn values_limit_per_measurement_and_key() {
        let t = tracker(0, 2);
        let mut st = DbSeries { complete: true, ..DbSeries::default() };
        admit(&t, &mut st, &batch(vec![pt("cpu", &[("host", "a"), ("dc", "x")]), pt("cpu", &[("host", "b"), ("dc", "x")])])).unwrap();
        // Another measurement has its own counts.
        admit(&t, &mut st, &batch(vec![pt("mem", &[("host", "c")])])).unwrap();
        let e = admit(&t, &mut st, &batch(vec![pt("cpu", &[("host", "a"), ("dc", "y")]), pt("cpu", &[("host", "c\"é\n"), ("dc", "x")])]));
        assert_eq!(e, Err("max-values-per-tag limit exceeded (2/2): measurement=\"cpu\" tag=\"host\" value=\"c\\\"é\\n\"".into()));
        // The first point's new series and value were undone.
        assert_eq!(st.series.len(), 3);
        assert_eq!(st.values.len(), 4);
        admit(&t, &mut st, &batch(vec![pt("cpu", &[("host", "a"), ("dc", "y")])])).unwrap();
    }

    #[test]
    fn tag_order_does_not_matter() {
        let t = tracker(10, 10);
        let a = t.batch_series(&batch(vec![pt("m", &[("a b", "1"), ("a", "2")])]), &|_| true);
        let b = t.batch_series(&batch(vec![pt("m", &[("a", "2"), ("a b", "1")])]), &|_| true);
        assert_eq!(a[0].1, b[0].1);
        // Separators cannot be forged: ("ab","") vs ("a","b").
        let h = |m: &str, tags: &[(&'static str, &'static str)]| t.series_hash(&mut Vec::new(), m, tags.iter().copied());
        assert_ne!(h("m", &[("ab", "c")]), h("m", &[("a", "bc")]));
        assert_ne!(h("m", &[]), h("", &[("m", "")]));
        // A tag without a value is no tag.
        let p = |tags: &[(&str, &str)]| t.batch_series(&batch(vec![pt("m", tags)]), &|_| true)[0].1;
        assert_eq!(p(&[("a", "1"), ("b", "")]), p(&[("a", "1")]));
    }

    /// The memory the module docs state: a million series of TSBS' `cpu` shape, whose host name
    /// is new per series (checked on 20,000 through `admit`: one series and one value entry a
    /// series), sized as the tables hold them.
    #[test]
    fn memory_per_series() {
        let t = tracker(0, 100_000_000);
        let mut st = DbSeries { complete: true, ..DbSeries::default() };
        let points: Vec<Point> = (0..20_000)
            .map(|i| {
                let (host, rack) = (format!("host_{i}"), (i % 100).to_string());
                pt("cpu", &[("arch", "x64"), ("datacenter", "eu-1a"), ("hostname", &host), ("os", "Ubuntu"), ("rack", &rack)])
            })
            .collect();
        admit(&t, &mut st, &batch(points)).unwrap();
        assert_eq!((st.series.len(), st.values.len(), st.per_key.len()), (20_000, 20_000 + 100 + 3, 5));
        let n = 1_000_000u64;
        let mut st = DbSeries::default();
        for i in 0..n {
            st.series.insert(i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            st.values.insert(i.wrapping_mul(0xc2b2_ae3d_27d4_eb4f));
        }
        st.per_key.extend((0..5).map(|k| (k, 1)));
        let per = heap_bytes(&st) as f64 / n as f64;
        eprintln!("tracker: {per:.1} bytes per series at {n} series");
        assert!((30.0..42.0).contains(&per), "{per}");
    }
}
