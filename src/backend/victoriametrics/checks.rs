//! What a write must pass before anything of it is sent to VictoriaMetrics: each point's values
//! and label sets (`check_points`), and its measurement/field names (`check_names`).
//!
//! # Names that would read back as another measurement's
//!
//! A field is stored as the metric `measurement + sep + field`, read back by the rule in
//! [`names`](mod@super::names): the longest *known* measurement (written through influxgate)
//! the name starts with wins. Two things could make a name written through influxgate read back
//! as another measurement's field — measurement `cpu` field `usage_idle` and measurement
//! `cpu_usage` field `idle` are both `cpu_usage_idle`:
//!
//! 1. a field whose name starts with a longer known measurement + separator (writing
//!    `cpu usage_idle` once `cpu_usage` is known): refused, judged with the measurements known
//!    plus those of the batch;
//! 2. a new measurement that is a longer prefix of names already stored for a known one
//!    (writing `cpu_usage idle` once `cpu usage_idle` is stored): it would take those names
//!    over, so it is refused while such a name exists (asked from VictoriaMetrics' label values,
//!    deleted series honoured). Names read by the fallback rule (written straight to
//!    VictoriaMetrics, no known measurement) are a guess, which a new measurement may settle.
//!
//! Either is a 400 naming the point's line. For the second check to see every name, writes that
//! add a measurement to a database run alone in it: they hold the database's lock
//! (`Inner::names_locks`) exclusively from the check until they are sent (and flushed), other
//! writes share it. Adding a measurement is rare (the first write of each), so writes of known
//! measurements never wait on each other, and a client adding measurements all the time delays
//! only writes to the databases it writes to.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::labels::LabelLimits;
use super::names::{known_measurement, metric_name, split_name};
use super::Inner;
use crate::backend::{BackendError, Result, WriteBatch};
use crate::model::{FieldRef, PointRef};

/// Measurements whose names are asked from VictoriaMetrics with one regex.
const NEW_PER_QUERY: usize = 64;

/// Refuses a batch any point of which VictoriaMetrics could not store as it is: times before
/// 1970, strings (unless dropped), non-finite numbers, label sets it would change (see
/// [`labels`](mod@super::labels)), and a database name it would cut.
pub(super) fn check_points(inner: &Inner, batch: &WriteBatch, limits: &LabelLimits) -> Result<()> {
    if batch.db.len() > limits.max_value {
        return Err(BackendError::Invalid(format!(
            "database name of {} bytes: victoriametrics keeps label values up to {} bytes (-maxLabelValueLen)",
            batch.db.len(),
            limits.max_value
        )));
    }
    let sep = &inner.opts.separator;
    for (index, p) in batch.points.iter().enumerate() {
        let invalid = |message: String| BackendError::InvalidPoint { index, message };
        if p.time < 0 {
            return Err(invalid(format!(
                "point of measurement \"{}\" at {} ns: victoriametrics cannot store times before 1970",
                p.measurement, p.time
            )));
        }
        for (f, v) in p.fields.iter() {
            match v {
                FieldRef::String(_) if !inner.opts.drop_string_fields => {
                    return Err(invalid(format!(
                        "field \"{f}\" on measurement \"{}\" is a string: the victoriametrics backend stores only numbers and booleans",
                        p.measurement
                    )));
                }
                FieldRef::Float(x) if !x.is_finite() => {
                    return Err(invalid(format!("field \"{f}\" on measurement \"{}\": invalid number", p.measurement)));
                }
                _ => {}
            }
        }
        limits.check_point(&inner.labels, &p, sep).map_err(invalid)?;
    }
    Ok(())
}

/// A database's lock, shared by writes of known measurements, exclusive for a write adding one
/// (module docs).
pub(super) enum NamesGuard {
    Shared(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Exclusive(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

/// The names lock of a database (one per database written since start).
fn names_lock(inner: &Inner, db: &str) -> Arc<RwLock<()>> {
    let mut locks = inner.names_locks.lock().unwrap_or_else(|p| p.into_inner());
    locks.entry(db.to_string()).or_default().clone()
}

/// The batch's measurements the catalog lacks, each with its first point.
fn new_measurements(inner: &Inner, batch: &WriteBatch) -> BTreeMap<String, usize> {
    let c = inner.catalog();
    let known = c.measurements.get(&batch.db);
    let mut new = BTreeMap::new();
    let mut last: Option<&str> = None;
    for (i, p) in batch.points.iter().enumerate() {
        let m = p.measurement;
        if last != Some(m) && !known.is_some_and(|k| k.contains(m)) && !new.contains_key(m) {
            new.insert(m.to_string(), i);
        }
        last = Some(m);
    }
    new
}

/// Refuses names that would read back as another measurement's (module docs); the guard it
/// returns is to be held until the batch is sent.
pub(super) async fn check_names(inner: &Inner, batch: &WriteBatch) -> Result<NamesGuard> {
    let lock = names_lock(inner, &batch.db);
    let guard = if new_measurements(inner, batch).is_empty() {
        NamesGuard::Shared(lock.read_owned().await)
    } else {
        NamesGuard::Exclusive(lock.write_owned().await)
    };
    // Computed again under the lock: another write may have added some meanwhile.
    let new = new_measurements(inner, batch);
    if !new.is_empty() {
        check_takeover(inner, &batch.db, &new).await?;
    }
    let extra: BTreeSet<String> = new.into_keys().collect();
    check_fields(inner, batch, &extra)?;
    Ok(guard)
}

/// Same field keys, and the same of them strings, as the previous point: nothing new to check.
fn same_fields(a: &PointRef<'_>, b: &PointRef<'_>) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields.iter().zip(b.fields.iter()).all(|((ka, va), (kb, vb))| {
            ka == kb && matches!(va, FieldRef::String(_)) == matches!(vb, FieldRef::String(_))
        })
}

/// Check 1: every field's metric name reads back as that field of that measurement, with the
/// known measurements plus `extra` (the batch's new ones). Each (measurement, field) is checked
/// once; a run of points of one measurement with the same fields costs one comparison of keys a
/// point.
fn check_fields(inner: &Inner, batch: &WriteBatch, extra: &BTreeSet<String>) -> Result<()> {
    let sep = &inner.opts.separator;
    let c = inner.catalog();
    let empty = BTreeSet::new();
    let known = c.measurements.get(&batch.db).unwrap_or(&empty);
    let mut checked: HashSet<(&str, &str)> = HashSet::new();
    let mut prev: Option<PointRef<'_>> = None;
    for (index, p) in batch.points.iter().enumerate() {
        if prev.is_some_and(|q| q.measurement == p.measurement && same_fields(&q, &p)) {
            continue;
        }
        prev = Some(p);
        for (f, v) in p.fields.iter() {
            if matches!(v, FieldRef::String(_)) || !checked.insert((p.measurement, f)) {
                continue;
            }
            let name = metric_name(p.measurement, f, sep);
            let (m2, f2) = match longest_known(known, extra, &name, sep) {
                Some(m2) if m2 == p.measurement => continue,
                Some(m2) => (m2.to_string(), name[m2.len() + sep.len()..].to_string()),
                None => split_name(None, &name, sep),
            };
            return Err(BackendError::InvalidPoint { index, message: format!(
                "field \"{f}\" on measurement \"{}\" would be stored as metric \"{name}\", which reads back as field \"{f2}\" on measurement \"{m2}\" in victoriametrics",
                p.measurement
            ) });
        }
    }
    Ok(())
}

/// The longest measurement of either set that `name` reads back as (rule 1).
fn longest_known<'a>(a: &'a BTreeSet<String>, b: &'a BTreeSet<String>, name: &str, sep: &str) -> Option<&'a str> {
    match (known_measurement(a, name, sep), known_measurement(b, name, sep)) {
        (Some(x), Some(y)) => Some(if y.len() > x.len() { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// Check 2: no new measurement takes over names stored for a known one.
async fn check_takeover(inner: &Inner, db: &str, new: &BTreeMap<String, usize>) -> Result<()> {
    let sep = &inner.opts.separator;
    if !inner.opts.flush_after_write {
        // Names of writes acknowledged before are searchable only once flushed.
        inner.send(super::flush::FORCE_FLUSH, String::new(), "text/plain", Some(inner.opts.timeout)).await?;
    }
    let known = inner.catalog().measurements.get(db).cloned().unwrap_or_default();
    let extra: BTreeSet<String> = new.keys().cloned().collect();
    let list: Vec<&String> = new.keys().collect();
    for chunk in list.chunks(NEW_PER_QUERY) {
        let alts: Vec<String> = chunk.iter().map(|m| regex::escape(m)).collect();
        let re = format!("(?:{}){}.+", alts.join("|"), regex::escape(sep));
        for name in inner.metric_names_re(db, Some(re)).await? {
            let Some(old) = known_measurement(&known, &name, sep) else { continue };
            let Some(now) = longest_known(&known, &extra, &name, sep) else { continue };
            if now != old {
                let index = new.get(now).copied().unwrap_or(0);
                return Err(BackendError::InvalidPoint { index, message: format!(
                    "measurement \"{now}\" would take over metric \"{name}\" of measurement \"{old}\" (field \"{}\") in victoriametrics, which would then read back as field \"{}\" of \"{now}\"",
                    &name[old.len() + sep.len()..],
                    &name[now.len() + sep.len()..]
                ) });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_of_two_sets() {
        let a = BTreeSet::from(["cpu".to_string()]);
        let b = BTreeSet::from(["cpu_usage".to_string()]);
        assert_eq!(longest_known(&a, &b, "cpu_usage_idle", "_"), Some("cpu_usage"));
        assert_eq!(longest_known(&b, &a, "cpu_usage_idle", "_"), Some("cpu_usage"));
        assert_eq!(longest_known(&a, &b, "cpu_idle", "_"), Some("cpu"));
        assert_eq!(longest_known(&a, &b, "mem_free", "_"), None);
        assert_eq!(longest_known(&a, &b, "cpu_usage_", "_"), Some("cpu"));
    }
}
