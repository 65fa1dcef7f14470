//! InfluxDB 1.x's cardinality limits on the ClickHouse backend (`[limits] max_series_per_database`,
//! `max_values_per_tag`), counted and answered as the embedded store does (its `cardinality.rs`
//! states what 1.x counts): per database over all its retention policies, a series being a
//! measurement and a tag set, a value one tag key's value in one measurement. A batch that would
//! pass a limit is refused whole, before anything of it is stored, with 1.x's text; the tag check
//! runs first and the series count's reason replaces it.
//!
//! The counts come from ClickHouse: the first write to a database after start *seeds* them with
//! every table's `SELECT DISTINCT _series` (streamed; rows written before a restart or by another
//! influxgate count). Afterwards a batch costs a hash per point and a set lookup per distinct
//! series; its new series are counted when it is admitted (before the insert, under the
//! database's lock, so two concurrent writes cannot both take the last free slot; a write that
//! then fails leaves them counted, which errs on the strict side). `DROP`/`DELETE` forget the
//! database's counts: the next write seeds them again.
//!
//! Memory: per database written since start, a 64-bit hash per series and, with
//! `max_values_per_tag`, one per distinct tag value plus a count per tag key (hash sets: 8 bytes
//! and a control byte per slot, at most 7/8 full, so about 10 to 20 bytes an entry). Two series
//! sharing a 64-bit hash (SipHash with a random key; ≈ n²/2⁶⁵) would count as one.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use super::names::series_id_of;
use super::scan::Rows;
use super::{catalog, schema, Inner};
use crate::backend::{BackendError, CardinalityLimits, Result};
use crate::model::{PointRef, Points};

#[derive(Default)]
struct Counts {
    series: HashSet<u64>,
    /// (measurement, key, value) hashes.
    values: HashSet<u64>,
    /// Values per (measurement, key) hash.
    per_key: HashMap<u64, u64>,
}

pub struct Tracker {
    limits: CardinalityLimits,
    keys: RandomState,
    dbs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Counts>>>>>,
}

/// A series the batch brings: its measurement, tags and hash.
struct Candidate<'a> {
    point: PointRef<'a>,
    hash: u64,
}

impl Tracker {
    pub fn new(limits: CardinalityLimits) -> Tracker {
        Tracker { limits, keys: RandomState::new(), dbs: Mutex::new(HashMap::new()) }
    }

    fn active(&self) -> bool {
        self.limits.max_series_per_database > 0 || self.limits.max_values_per_tag > 0
    }

    pub fn forget(&self, db: &str) {
        self.dbs.lock().unwrap_or_else(|p| p.into_inner()).remove(db);
    }

    fn series_hash(&self, measurement: &str, id: &[u8]) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write(measurement.as_bytes());
        h.write_u8(0xff);
        h.write(id);
        h.finish()
    }

    fn value_hash(&self, measurement: &str, key: &str, value: Option<&str>) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write(measurement.as_bytes());
        h.write_u8(0xff);
        h.write(key.as_bytes());
        if let Some(v) = value {
            h.write_u8(0xfe);
            h.write(v.as_bytes());
        }
        h.finish()
    }

    /// Refuses the points `keep` selects if they would pass a limit; otherwise counts them.
    pub async fn check(&self, inner: &Inner, db: &str, points: &Points, keep: &(dyn Fn(&PointRef<'_>) -> bool + Sync)) -> Result<()> {
        if !self.active() {
            return Ok(());
        }
        let mut cands = Vec::new();
        let mut prev: Option<PointRef<'_>> = None;
        for p in points.iter().filter(|p| keep(p)) {
            if prev.is_some_and(|q| q.measurement == p.measurement && q.tags == p.tags) {
                continue;
            }
            prev = Some(p);
            cands.push(Candidate { point: p, hash: self.series_hash(p.measurement, &series_id_of(p.tags.iter())) });
        }
        let cell = self.dbs.lock().unwrap_or_else(|p| p.into_inner()).entry(db.to_string()).or_default().clone();
        let mut guard = cell.lock().await;
        if guard.is_none() {
            *guard = Some(self.seed(inner, db).await?);
        }
        let Some(st) = guard.as_mut() else { return Ok(()) };
        let mut seen = HashSet::new();
        cands.retain(|c| !st.series.contains(&c.hash) && seen.insert(c.hash));
        self.admit(st, &cands).map_err(|reason| BackendError::CardinalityLimit { reason, dropped: points.len() })
    }

    /// Counts the new series (module docs for the order of the checks).
    fn admit(&self, st: &mut Counts, new: &[Candidate<'_>]) -> std::result::Result<(), String> {
        let (max_series, max_values) = (self.limits.max_series_per_database, self.limits.max_values_per_tag);
        let mut tag_reason: Option<String> = None;
        let mut fresh_values: Vec<(u64, u64)> = Vec::new();
        let mut batch_values: HashSet<u64> = HashSet::new();
        let mut batch_per_key: HashMap<u64, u64> = HashMap::new();
        let mut admitted: Vec<u64> = Vec::new();
        for c in new {
            let p = c.point;
            if max_values > 0 {
                let mut mine: Vec<(u64, u64)> = Vec::new();
                let mut refused = None;
                for (k, v) in p.tags.iter() {
                    let vh = self.value_hash(p.measurement, k, Some(v));
                    if st.values.contains(&vh) || batch_values.contains(&vh) || mine.iter().any(|m| m.0 == vh) {
                        continue;
                    }
                    let kh = self.value_hash(p.measurement, k, None);
                    let n = st.per_key.get(&kh).copied().unwrap_or(0) + batch_per_key.get(&kh).copied().unwrap_or(0);
                    if n >= max_values {
                        refused = Some(crate::rules::cardinality::values_reason(n, max_values, p.measurement, k, v));
                        break;
                    }
                    mine.push((vh, kh));
                }
                if let Some(r) = refused {
                    tag_reason.get_or_insert(r);
                    continue;
                }
                for (vh, kh) in mine {
                    batch_values.insert(vh);
                    *batch_per_key.entry(kh).or_default() += 1;
                    fresh_values.push((vh, kh));
                }
            }
            admitted.push(c.hash);
        }
        if max_series > 0 && st.series.len() as u64 + admitted.len() as u64 > max_series {
            return Err(crate::rules::cardinality::series_reason(max_series));
        }
        if let Some(r) = tag_reason {
            return Err(r);
        }
        st.series.extend(admitted);
        for (vh, kh) in fresh_values {
            st.values.insert(vh);
            *st.per_key.entry(kh).or_default() += 1;
        }
        Ok(())
    }

    /// Every series ClickHouse holds for `db`.
    async fn seed(&self, inner: &Inner, db: &str) -> Result<Counts> {
        let mut st = Counts::default();
        let Some(info) = catalog::get(inner, db).await? else { return Ok(st) };
        for r in &info.rps {
            let chdb = inner.names.policy(db, &r.name);
            for m in schema::tables(inner, &chdb).await? {
                let sql = format!(
                    "SELECT DISTINCT {} FROM {} FORMAT RowBinary",
                    super::dialect::ident(super::names::SERIES),
                    super::dialect::table(&chdb, &m)
                );
                let mut rows = Rows::new(inner.client.stream(&sql, &inner.select_settings()).await?);
                while let Some(id) = rows.next(|c| Ok(c.bytes()?.map(<[u8]>::to_vec))).await? {
                    if !st.series.insert(self.series_hash(&m, &id)) || self.limits.max_values_per_tag == 0 {
                        continue;
                    }
                    for (k, v) in super::names::parse_series_id(&id).unwrap_or_default() {
                        if st.values.insert(self.value_hash(&m, &k, Some(&v))) {
                            *st.per_key.entry(self.value_hash(&m, &k, None)).or_default() += 1;
                        }
                    }
                }
            }
        }
        Ok(st)
    }
}
