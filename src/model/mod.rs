//! Data model shared by every layer: what a point is once parsed, and the types a field can have.

use std::fmt;

mod points;

pub use points::{FieldRef, Fields, PointRef, Points, PointsBuilder, Tags, MAX_TEXT as MAX_BATCH_TEXT};

/// The type of a field, named as InfluxDB 1.x names it in `SHOW FIELD KEYS` and in error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "float" => FieldType::Float,
            "integer" => FieldType::Integer,
            "unsigned" => FieldType::Unsigned,
            "string" => FieldType::String,
            "boolean" => FieldType::Boolean,
            _ => return None,
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

impl FieldValue {
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::String(_) => FieldType::String,
            FieldValue::Boolean(_) => FieldType::Boolean,
        }
    }
}

/// One point, owned, ready for a backend. Tags are sorted by key and unique (the parser guarantees
/// it, as 1.x does); fields keep their written order, keys unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub measurement: String,
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
}

/// The series key of a point in 1.x's canonical form: `measurement,k1=v1,k2=v2` with line-protocol
/// escaping. Two points belong to the same series exactly when these strings are equal.
pub fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    series_key_of(measurement, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`series_key`] of tags given as pairs of `&str` (a [`Tags`]' iterator).
pub fn series_key_of<'a>(measurement: &str, tags: impl ExactSizeIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::with_capacity(measurement.len() + tags.len() * 16);
    escape_into(&mut s, measurement, &[',', ' ']);
    for (k, v) in tags {
        s.push(',');
        escape_into(&mut s, k, &[',', '=', ' ']);
        s.push('=');
        escape_into(&mut s, v, &[',', '=', ' ']);
    }
    s
}

fn escape_into(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}
