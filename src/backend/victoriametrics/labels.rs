//! Tag keys ↔ VictoriaMetrics label names, and what VictoriaMetrics keeps of a label set.
//!
//! # Tags VictoriaMetrics would read as something else
//!
//! Stored as labels as they are, some tag keys would change where a point goes or what it is:
//!
//! * a tag named like the db label (`-influxDBLabel`, `db` by default) *is* the database to
//!   VictoriaMetrics: its `/write` stores `m,db=other v=1` in database `other` whatever `?db=`
//!   says, so a token allowed one database could write into any other, or create one;
//! * `__name__` is the metric name: VictoriaMetrics' line-protocol ingestion lets the real name
//!   overwrite it (the tag is lost, two series become one);
//! * other `__`-prefixed names are reserved (Prometheus' convention; VictoriaMetrics reads
//!   `{__graphite__="a.*"}` in a selector as a Graphite filter, not a label match);
//! * the empty name is VictoriaMetrics' own name for the metric name.
//!
//! Such a tag is not refused: real Telegraf input plugins (`inputs.postgresql`, `inputs.mysql`,
//! `inputs.sqlserver`, ...) emit a tag named `db`, and Telegraf drops a whole batch, every
//! plugin's points in it, on a 400 — refusing would lose far more than the point. It is stored
//! under the label [`ESCAPE`]` + key` instead (`db` → `influxgate_tag_db`), and every read maps the
//! label back: `SHOW TAG KEYS` lists `db`, `WHERE db = 'x'` and `GROUP BY db` see the tag, the
//! database stays the one `?db=` named. To keep the mapping reversible, a tag key that itself
//! starts with [`ESCAPE`] is escaped too (`influxgate_tag_x` → `influxgate_tag_influxgate_tag_x`),
//! so every label starting with it reads back as the key after it. Ordinary keys are stored as
//! they are, the same labels Telegraf writing straight to VictoriaMetrics makes.
//!
//! Labels VictoriaMetrics reserves that influxgate did not write (a `__`-prefixed or empty-named
//! label, written straight to VictoriaMetrics) are not tags: a series carrying one is not read.
//!
//! # What VictoriaMetrics keeps of a label set
//!
//! VictoriaMetrics 1.79 silently changes label sets past three bounds (observed against it: its
//! `lib/storage/metric_name.go` logs the dropped labels, and it counts them in
//! `vm_too_long_label_names_total`, `vm_too_long_label_values_total` and
//! `vm_metrics_with_dropped_labels_total`):
//!
//! * a label name longer than 256 bytes is cut to 256 (`-maxLabelNameLen` in later versions);
//! * a label value, the metric name included, longer than `-maxLabelValueLen` (16384) is cut;
//! * past `-maxLabelsPerTimeseries` (30) labels, the later ones are dropped — the db label among
//!   them (the line-protocol path counts the labels without the metric name, the JSON import with
//!   it).
//!
//! Each would merge distinct series, and a cut database name or a dropped db label moves points
//! to another database or to none. So a point with a label name or value too long, or with more
//! than `-maxLabelsPerTimeseries - 2` tags (the metric name and db label take two), is refused with
//! 400 naming its line; the bounds are read from VictoriaMetrics' `/metrics` with its other flags.

use std::borrow::Cow;

/// Prefix of the label a reserved tag key is stored under.
pub const ESCAPE: &str = "influxgate_tag_";

/// VictoriaMetrics 1.79's fixed label-name bound (bytes).
pub const DEFAULT_MAX_NAME: usize = 256;
/// `-maxLabelValueLen`'s default (bytes).
pub const DEFAULT_MAX_VALUE: usize = 16384;
/// `-maxLabelsPerTimeseries`' default.
pub const DEFAULT_MAX_LABELS: usize = 30;

/// Maps tag keys to label names and back, for one db label.
#[derive(Debug, Clone)]
pub struct LabelMap {
    db_label: String,
}

impl LabelMap {
    /// `db_label` must not be empty, `__`-prefixed or start with [`ESCAPE`] (checked by
    /// `VictoriaMetricsBackend::new`).
    pub fn new(db_label: &str) -> LabelMap {
        LabelMap { db_label: db_label.to_string() }
    }

    pub fn db_label(&self) -> &str {
        &self.db_label
    }

    /// Whether a db label name is usable: a tag key could not be stored under it otherwise.
    pub fn valid_db_label(name: &str) -> bool {
        !name.is_empty() && !name.starts_with("__") && !name.starts_with(ESCAPE)
    }

    /// Whether a tag key is stored under [`ESCAPE`]` + key`.
    #[inline]
    pub fn escaped(&self, key: &str) -> bool {
        key.is_empty() || key.starts_with("__") || key.starts_with(ESCAPE) || key == self.db_label
    }

    /// The label a tag key is stored under.
    pub fn label_of<'a>(&self, key: &'a str) -> Cow<'a, str> {
        if self.escaped(key) {
            Cow::Owned(format!("{ESCAPE}{key}"))
        } else {
            Cow::Borrowed(key)
        }
    }

    /// The tag key a label holds; `None` for the metric name, the db label and labels reserved by
    /// VictoriaMetrics that influxgate did not write.
    pub fn tag_of<'a>(&self, label: &'a str) -> Option<&'a str> {
        if let Some(key) = label.strip_prefix(ESCAPE) {
            return Some(key);
        }
        (!self.escaped(label)).then_some(label)
    }

    /// The tags of a label set of database `db` (the metric name left out), sorted by key;
    /// `None` for another database or a reserved label influxgate did not write.
    pub fn tags_in_db<I, K, V>(&self, labels: I, db: &str) -> Option<Vec<(String, String)>>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str> + Into<String>,
    {
        let mut in_db = false;
        let mut tags = Vec::new();
        for (k, v) in labels {
            let k = k.as_ref();
            if k == "__name__" {
                continue;
            } else if k == self.db_label {
                in_db = v.as_ref() == db;
            } else {
                let key = self.tag_of(k)?;
                tags.push((key.to_string(), v.into()));
            }
        }
        if !in_db {
            return None;
        }
        tags.sort();
        Some(tags)
    }
}

/// VictoriaMetrics' bounds on what it stores of a label set (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    pub max_name: usize,
    pub max_value: usize,
    pub max_labels: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits { max_name: DEFAULT_MAX_NAME, max_value: DEFAULT_MAX_VALUE, max_labels: DEFAULT_MAX_LABELS }
    }
}

impl LabelLimits {
    /// The bounds VictoriaMetrics' `/metrics` flags state (defaults for flags it does not list).
    pub fn from_metrics(text: &str) -> LabelLimits {
        let flag = |name: &str, default: usize| {
            super::write::flag_value(text, name).and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0).unwrap_or(default)
        };
        LabelLimits {
            max_name: flag("maxLabelNameLen", DEFAULT_MAX_NAME),
            max_value: flag("maxLabelValueLen", DEFAULT_MAX_VALUE),
            max_labels: flag("maxLabelsPerTimeseries", DEFAULT_MAX_LABELS),
        }
    }

    /// Why VictoriaMetrics would not store a point's label sets unchanged, if it would not (tags
    /// with an empty value are not stored, so not counted).
    pub fn check_point(&self, map: &LabelMap, p: &crate::model::PointRef<'_>, sep: &str) -> Result<(), String> {
        let mut n = 0;
        for (k, v) in p.tags.iter() {
            if v.is_empty() {
                continue;
            }
            n += 1;
            let name_len = k.len() + if map.escaped(k) { ESCAPE.len() } else { 0 };
            if name_len > self.max_name {
                return Err(format!(
                    "tag key of {} bytes on measurement {:?}: victoriametrics keeps label names up to {} bytes",
                    k.len(),
                    p.measurement,
                    self.max_name
                ));
            }
            if v.len() > self.max_value {
                return Err(format!(
                    "value of tag {k:?} on measurement {:?} has {} bytes: victoriametrics keeps label values up to {} bytes (-maxLabelValueLen)",
                    p.measurement,
                    v.len(),
                    self.max_value
                ));
            }
        }
        if n + 2 > self.max_labels {
            return Err(format!(
                "point of measurement {:?} has {n} tags: victoriametrics keeps {} labels a series, the metric name and database included (-maxLabelsPerTimeseries)",
                p.measurement, self.max_labels
            ));
        }
        for f in p.fields.keys() {
            let len = p.measurement.len() + sep.len() + f.len();
            if len > self.max_value {
                return Err(format!(
                    "field {f:?} on measurement {:?}: its metric name has {len} bytes, victoriametrics keeps up to {} (-maxLabelValueLen)",
                    p.measurement, self.max_value
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_round_trip() {
        let m = LabelMap::new("db");
        for (key, label) in [
            ("host", "host"),
            ("db", "influxgate_tag_db"),
            ("__name__", "influxgate_tag___name__"),
            ("__graphite__", "influxgate_tag___graphite__"),
            ("", "influxgate_tag_"),
            ("influxgate_tag_db", "influxgate_tag_influxgate_tag_db"),
            ("influxgate_tag_", "influxgate_tag_influxgate_tag_"),
            ("_x", "_x"),
            ("dbx", "dbx"),
            ("influxgate_ta", "influxgate_ta"),
        ] {
            assert_eq!(m.label_of(key), label, "{key:?}");
            assert_eq!(m.tag_of(label), Some(key), "{label:?}");
        }
        // Not tags: the name, the db label, reserved labels influxgate did not write.
        for label in ["__name__", "db", "__x", ""] {
            assert_eq!(m.tag_of(label), None, "{label:?}");
        }
        // Another db label: `db` is an ordinary tag then.
        let m = LabelMap::new("database");
        assert_eq!(m.label_of("db"), "db");
        assert_eq!(m.label_of("database"), "influxgate_tag_database");
        assert!(!LabelMap::valid_db_label("influxgate_tag_db"));
        assert!(!LabelMap::valid_db_label("__db"));
        assert!(LabelMap::valid_db_label("db"));
    }

    #[test]
    fn tags_of_labels() {
        let m = LabelMap::new("db");
        let l = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        let got = m.tags_in_db(l(&[("__name__", "cpu_v"), ("db", "d1"), ("influxgate_tag_db", "d2"), ("host", "h")]), "d1");
        assert_eq!(got, Some(l(&[("db", "d2"), ("host", "h")])));
        assert_eq!(m.tags_in_db(l(&[("__name__", "cpu_v"), ("db", "d1")]), "d2"), None);
        assert_eq!(m.tags_in_db(l(&[("__name__", "cpu_v"), ("host", "h")]), "d1"), None);
        assert_eq!(m.tags_in_db(l(&[("__name__", "cpu_v"), ("db", "d1"), ("__x", "1")]), "d1"), None);
        assert_eq!(m.tags_in_db(l(&[("db", "d1")]), "d1"), Some(vec![]));
    }

    /// Injective on arbitrary keys: two keys never share a label, and no key gets a reserved one.
    #[test]
    fn mapping_is_injective() {
        let m = LabelMap::new("db");
        let keys = ["", "_", "__", "___", "db", "d", "influxgate_tag_", "influxgate_tag_db", "influxgate_tag__", "x", "__name__"];
        let mut seen = std::collections::HashSet::new();
        for k in keys {
            let l = m.label_of(k).into_owned();
            assert!(!l.is_empty() && !l.starts_with("__") && l != "db", "{k:?} → {l:?}");
            assert!(seen.insert(l.clone()), "{l:?} twice");
            assert_eq!(m.tag_of(&l), Some(k));
        }
    }

    #[test]
    fn limits_from_flags() {
        let text = "flag{name=\"maxLabelValueLen\", value=\"100\", is_set=\"true\"} 1\nflag{name=\"maxLabelsPerTimeseries\", value=\"5\", is_set=\"true\"} 1\n";
        assert_eq!(LabelLimits::from_metrics(text), LabelLimits { max_name: 256, max_value: 100, max_labels: 5 });
        assert_eq!(LabelLimits::from_metrics(""), LabelLimits::default());
    }
}
