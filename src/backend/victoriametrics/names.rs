//! Metric names ↔ measurement + field, and the small catalog that makes the split deterministic.
//!
//! A field `f` of measurement `m` is stored as the metric `m<sep>f` (VictoriaMetrics' own line
//! protocol rule, `-influxMeasurementFieldSeparator`, default `_`). Reading a name back is ambiguous
//! when the measurement or field contains the separator (`net_response` + `response_time`).
//! The rule, applied per database:
//!
//! 1. If measurements are *known* for the database (written through influxgate or listed in the
//!    catalog file), the longest known measurement `m` with `name = m + sep + f` (`f` non-empty)
//!    wins.
//! 2. Otherwise the name is split at the FIRST separator: Telegraf's `cpu_usage_user` (written
//!    straight to VictoriaMetrics) reads as measurement `cpu`, field `usage_user`.
//! 3. A name without the separator (or one that only ends in it) is measurement `name`, field
//!    `value` (as InfluxDB's own Prometheus support names such samples).
//!
//! Two different (measurement, field) pairs can make the same metric name (`m` + `x_v` and
//! `m_x` + `v` are both `m_x_v`); a write whose field would read back as another measurement's,
//! or whose new measurement would take over names stored for another, is refused (see
//! [`checks`](mod@super::checks)).
//!
//! The catalog (known measurements, databases created or written to, names of deleted series)
//! lives in memory and, when a catalog file is configured, in that file (JSON), so the split
//! survives restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Field name for metrics whose name has no separator.
pub const VALUE_FIELD: &str = "value";

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Catalog {
    /// Databases created explicitly (they exist before any point is written).
    #[serde(default)]
    pub databases: BTreeSet<String>,
    /// Measurements written through influxgate, per database.
    #[serde(default)]
    pub measurements: BTreeMap<String, BTreeSet<String>>,
    /// Metric names, per database, of which series were deleted through influxgate: they are
    /// checked before being listed (VictoriaMetrics 1.79 lists deleted names in label values).
    #[serde(default)]
    pub deleted: BTreeMap<String, BTreeSet<String>>,
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog, String> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Catalog::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let tmp: PathBuf = {
            let mut p = path.as_os_str().to_owned();
            p.push(".tmp");
            p.into()
        };
        let body = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, body).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Splits a metric name of database `db` into (measurement, field); see the module docs.
    pub fn split(&self, db: &str, name: &str, sep: &str) -> (String, String) {
        split_name(self.measurements.get(db), name, sep)
    }
}

pub fn split_name(known: Option<&BTreeSet<String>>, name: &str, sep: &str) -> (String, String) {
    if sep.is_empty() {
        return (name.to_string(), VALUE_FIELD.to_string());
    }
    if let Some(m) = known.and_then(|k| known_measurement(k, name, sep)) {
        return (m.to_string(), name[m.len() + sep.len()..].to_string());
    }
    match name.find(sep) {
        Some(i) if i > 0 && i + sep.len() < name.len() => (name[..i].to_string(), name[i + sep.len()..].to_string()),
        _ => (name.to_string(), VALUE_FIELD.to_string()),
    }
}

/// Rule 1 alone: the longest known measurement `m` with `name = m + sep + f`, `f` non-empty
/// (a lookup per occurrence of the separator in `name`).
pub fn known_measurement<'a>(known: &'a BTreeSet<String>, name: &str, sep: &str) -> Option<&'a str> {
    if sep.is_empty() {
        return None;
    }
    (0..name.len().saturating_sub(sep.len()))
        .rev()
        .filter(|&i| name.is_char_boundary(i) && name[i..].starts_with(sep))
        .find_map(|i| known.get(&name[..i]).map(String::as_str))
}

/// The metric name of a field (inverse of the split for names written through influxgate).
pub fn metric_name(measurement: &str, field: &str, sep: &str) -> String {
    let mut s = String::with_capacity(measurement.len() + sep.len() + field.len());
    s.push_str(measurement);
    s.push_str(sep);
    s.push_str(field);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rule() {
        let mut known = BTreeSet::new();
        assert_eq!(split_name(None, "cpu_usage_user", "_"), ("cpu".into(), "usage_user".into()));
        assert_eq!(split_name(None, "up", "_"), ("up".into(), "value".into()));
        assert_eq!(split_name(None, "_x", "_"), ("_x".into(), "value".into()));
        assert_eq!(split_name(None, "x_", "_"), ("x_".into(), "value".into()));
        known.insert("net".to_string());
        known.insert("net_response".to_string());
        assert_eq!(split_name(Some(&known), "net_response_response_time", "_"), ("net_response".into(), "response_time".into()));
        assert_eq!(split_name(Some(&known), "net_bytes", "_"), ("net".into(), "bytes".into()));
        assert_eq!(split_name(Some(&known), "net_response_", "_"), ("net".into(), "response_".into()));
        assert_eq!(split_name(Some(&known), "disk_used", "_"), ("disk".into(), "used".into()));
        assert_eq!(split_name(None, "a::b::c", "::"), ("a".into(), "b::c".into()));
    }

    #[test]
    fn catalog_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm-catalog.json");
        assert_eq!(Catalog::load(&p).unwrap(), Catalog::default());
        let mut c = Catalog::default();
        c.databases.insert("d".into());
        c.measurements.entry("d".into()).or_default().insert("net_response".into());
        c.save(&p).unwrap();
        assert_eq!(Catalog::load(&p).unwrap(), c);
    }
}
