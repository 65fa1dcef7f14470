//! Dead letters: points the store refused on replay (a 4xx: a field it cannot store, a cardinality
//! limit, ...). Retrying them would block the spool forever and dropping them silently would lose
//! data a client was told was accepted, so each refusal is appended to `<dir>/dead-letters.jsonl`
//! and counted (`influxgate_spool_dead_letter_points_total`).
//!
//! One JSON object per line and refusal: `time` (RFC 3339, when refused), `db`, `rp` (or null),
//! `reason` (the store's error text), `points`, and `lines`: the refused points as line protocol
//! with nanosecond timestamps, ready to be fixed and written again
//! (`curl --data-binary @- 'http://host:8086/write?db=<db>&precision=ns'`).
//!
//! The file is bounded by `spool.dead_letter_max_bytes`; past it a refusal is not written but
//! logged at error level with its reason and counted in
//! `influxgate_spool_dead_letter_dropped_points_total` (so still never silent).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::lineproto::PointLine;
use crate::model::Point;

pub const FILE: &str = "dead-letters.jsonl";

pub struct DeadLetters {
    path: PathBuf,
    max_bytes: u64,
    file: Option<File>,
    bytes: u64,
}

/// One refusal.
pub struct Refusal<'a> {
    pub db: &'a str,
    pub rp: Option<&'a str>,
    pub reason: &'a str,
    pub points: usize,
    /// The refused points as line protocol ([`lines_of`]).
    pub lines: String,
}

/// Points as line protocol with nanosecond timestamps, one per line.
pub fn lines_of(points: &[Point]) -> String {
    use std::fmt::Write as _;
    let mut lines = String::new();
    for p in points {
        let _ = writeln!(lines, "{}", PointLine(p));
    }
    lines
}

impl DeadLetters {
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<DeadLetters> {
        let path = dir.join(FILE);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(DeadLetters { path, max_bytes, file: None, bytes })
    }

    /// Size of the file.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends (and syncs) a refusal; `Ok(false)` when it would pass the size bound.
    pub fn append(&mut self, r: &Refusal) -> io::Result<bool> {
        let obj = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "db": r.db,
            "rp": r.rp,
            "reason": r.reason,
            "points": r.points,
            "lines": r.lines,
        });
        let mut text = serde_json::to_vec(&obj).map_err(io::Error::other)?;
        text.push(b'\n');
        if self.bytes + text.len() as u64 > self.max_bytes {
            return Ok(false);
        }
        if self.file.is_none() {
            self.file = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        }
        let Some(f) = self.file.as_mut() else { return Err(io::Error::other("dead letter file not open")) };
        f.write_all(&text)?;
        f.sync_data()?;
        self.bytes += text.len() as u64;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldValue;

    #[test]
    fn writes_replayable_lines_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DeadLetters::open(dir.path(), 600).unwrap();
        let p = Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), "a b".into())],
            fields: vec![("s".into(), FieldValue::String("x\"y".into()))],
            time: 5,
        };
        let r = Refusal { db: "db", rp: None, reason: "string field", points: 1, lines: lines_of(std::slice::from_ref(&p)) };
        assert!(d.append(&r).unwrap());
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["lines"], "cpu,host=a\\ b s=\"x\\\"y\" 5\n");
        assert_eq!(v["points"], 1);
        assert_eq!(v["reason"], "string field");
        assert!(v["rp"].is_null());
        // The bound: a refusal that would pass it is not written.
        let many: Vec<Point> = (0..50).map(|_| p.clone()).collect();
        let r = Refusal { db: "db", rp: None, reason: "x", points: many.len(), lines: lines_of(&many) };
        assert!(!d.append(&r).unwrap());
        assert_eq!(d.bytes(), std::fs::metadata(dir.path().join(FILE)).unwrap().len());
    }
}
