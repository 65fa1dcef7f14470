//! The in-memory catalog: databases → retention policies → measurements → fields.
//!
//! It mirrors the catalog tables exactly. Every change is a [`Change`] value applied with
//! [`Catalog::apply`], so the writer can apply a change to its own working copy at once and to the
//! shared copy (the one readers see) only after the SQLite transaction that made it has committed.
//! Series, the part that grows to millions, are not copied: they live once in the series index
//! (`series.rs`) next to the shared copy, in [`Shared`].

use std::collections::{BTreeMap, HashMap};

use super::series::SeriesStore;
use crate::model::FieldType;

/// What readers see, behind one lock: the committed catalog and the series index.
#[derive(Default)]
pub(crate) struct Shared {
    pub cat: Catalog,
    pub series: SeriesStore,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub dbs: BTreeMap<String, Db>,
    /// Every measurement of every database, by id.
    pub meas: HashMap<i64, Meas>,
}

#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub id: i64,
    /// The name of the default RP. As in 1.x it stays set when that RP is dropped.
    pub default_rp: String,
    pub rps: BTreeMap<String, Rp>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rp {
    pub id: i64,
    pub duration: i64,
    pub sgd: i64,
    pub replication: u32,
    /// Measurement name → id.
    pub meas: BTreeMap<String, i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Meas {
    pub id: i64,
    pub db: String,
    pub rp: String,
    pub name: String,
    pub fields: HashMap<String, Field>,
    /// The next column number (`f_<n>`), one more than the largest in use.
    pub next_col: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub ty: FieldType,
    pub col: i64,
}

#[derive(Debug, Clone)]
pub(crate) enum Change {
    CreateDb { id: i64, name: String, default_rp: String },
    DropDb { name: String },
    CreateRp { db: String, id: i64, name: String, duration: i64, sgd: i64, replication: u32, make_default: bool },
    UpdateRp { db: String, name: String, duration: i64, sgd: i64, replication: u32, make_default: bool },
    DropRp { db: String, name: String },
    CreateMeas { id: i64, db: String, rp: String, name: String },
    DropMeas { id: i64 },
    CreateField { mid: i64, name: String, ty: FieldType, col: i64 },
}

impl Catalog {
    pub fn apply(&mut self, c: &Change) {
        match c {
            Change::CreateDb { id, name, default_rp } => {
                self.dbs.insert(name.clone(), Db { id: *id, default_rp: default_rp.clone(), rps: BTreeMap::new() });
            }
            Change::DropDb { name } => {
                if let Some(db) = self.dbs.remove(name) {
                    for rp in db.rps.values() {
                        for mid in rp.meas.values() {
                            self.meas.remove(mid);
                        }
                    }
                }
            }
            Change::CreateRp { db, id, name, duration, sgd, replication, make_default } => {
                if let Some(d) = self.dbs.get_mut(db) {
                    d.rps.insert(
                        name.clone(),
                        Rp { id: *id, duration: *duration, sgd: *sgd, replication: *replication, meas: BTreeMap::new() },
                    );
                    if *make_default {
                        d.default_rp = name.clone();
                    }
                }
            }
            Change::UpdateRp { db, name, duration, sgd, replication, make_default } => {
                if let Some(d) = self.dbs.get_mut(db) {
                    if let Some(rp) = d.rps.get_mut(name) {
                        rp.duration = *duration;
                        rp.sgd = *sgd;
                        rp.replication = *replication;
                    }
                    if *make_default {
                        d.default_rp = name.clone();
                    }
                }
            }
            Change::DropRp { db, name } => {
                if let Some(d) = self.dbs.get_mut(db) {
                    if let Some(rp) = d.rps.remove(name) {
                        for mid in rp.meas.values() {
                            self.meas.remove(mid);
                        }
                    }
                }
            }
            Change::CreateMeas { id, db, rp, name } => {
                if let Some(r) = self.dbs.get_mut(db).and_then(|d| d.rps.get_mut(rp)) {
                    r.meas.insert(name.clone(), *id);
                    self.meas.insert(
                        *id,
                        Meas {
                            id: *id,
                            db: db.clone(),
                            rp: rp.clone(),
                            name: name.clone(),
                            fields: HashMap::new(),
                            next_col: 1,
                        },
                    );
                }
            }
            Change::DropMeas { id } => {
                if let Some(m) = self.meas.remove(id) {
                    if let Some(r) = self.dbs.get_mut(&m.db).and_then(|d| d.rps.get_mut(&m.rp)) {
                        r.meas.remove(&m.name);
                    }
                }
            }
            Change::CreateField { mid, name, ty, col } => {
                if let Some(m) = self.meas.get_mut(mid) {
                    m.fields.insert(name.clone(), Field { ty: *ty, col: *col });
                    if *col >= m.next_col {
                        m.next_col = *col + 1;
                    }
                }
            }
        }
    }

    /// The RP a request names, or the database's default when `rp` is `None`.
    pub fn resolve_rp<'a>(&'a self, db: &str, rp: Option<&'a str>) -> Result<(&'a Db, &'a str, &'a Rp), crate::backend::BackendError> {
        use crate::backend::BackendError;
        let d = self.dbs.get(db).ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
        let name = rp.filter(|r| !r.is_empty()).unwrap_or(d.default_rp.as_str());
        let r = d.rps.get(name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.to_string()))?;
        Ok((d, name, r))
    }
}


/// Tag sets are stored as a self-delimiting blob (u32 LE count, then u32 LE length + bytes for each
/// key and value), so any byte sequence — quotes, brackets, NULs — round-trips unchanged.
pub(crate) fn encode_tags(tags: crate::model::Tags<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + tags.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>());
    out.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    for (k, v) in tags.iter() {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// The pairs of an encoded tag set, borrowed from the blob.
pub(crate) fn decode_tags(b: &[u8]) -> Option<Vec<(&str, &str)>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if b.len() < n {
            return None;
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Some(h)
    }
    fn u32_of(b: &mut &[u8]) -> Option<usize> {
        let h = take(b, 4)?;
        Some(u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize)
    }
    let mut b = b;
    let n = u32_of(&mut b)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let kl = u32_of(&mut b)?;
        let k = std::str::from_utf8(take(&mut b, kl)?).ok()?;
        let vl = u32_of(&mut b)?;
        let v = std::str::from_utf8(take(&mut b, vl)?).ok()?;
        out.push((k, v));
    }
    if !b.is_empty() {
        return None;
    }
    Some(out)
}
