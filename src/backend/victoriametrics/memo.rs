//! What VictoriaMetrics answered to one statement's catalog requests, kept for the rest of the
//! statement.
//!
//! A statement reads the catalog through `query::snapshot`, one call per kind of fact, but on
//! VictoriaMetrics several facts come from the same request: a measurement's metric names answer
//! `measurements`, `field_keys`, the series listing and every scan and aggregate of it; the label
//! names of its metrics are asked by the series listing and again by the rollups' guard. Before
//! this memo `SELECT max(f) FROM m WHERE host = 'h' ... GROUP BY time(1m)` cost nine requests, of
//! which seven asked for something already answered. [`Backend::statement_view`] hands
//! `query::snapshot` a view of the backend that keeps these answers (see
//! [`VictoriaMetricsBackend`](super::VictoriaMetricsBackend)); the store itself keeps nothing
//! between statements, so a name written straight to VictoriaMetrics is seen by the next
//! statement exactly as before.
//!
//! Kept: the database's metric names (after the check of deleted names), and the raw answers of
//! `/api/v1/labels`, `/api/v1/series` and `/api/v1/label/<db label>/values`, keyed by path and
//! form. A write, delete or DDL made through the view empties it (as the snapshot empties
//! itself). Memory: at most [`MAX_BYTES`] of answers per statement; answers past it are not
//! kept (asked again when needed).
//!
//! [`Backend::statement_view`]: crate::backend::Backend::statement_view

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bytes of answers one statement keeps at most.
pub const MAX_BYTES: usize = 16 << 20;

#[derive(Default)]
struct Kept {
    /// Per database, its metric names (every one; see `Inner::metric_names_re`).
    names: HashMap<String, Arc<Vec<String>>>,
    /// `path?form` → the answer's body.
    raw: HashMap<String, Arc<Vec<u8>>>,
    bytes: usize,
}

/// One statement's memo (module docs).
#[derive(Default)]
pub struct Memo {
    kept: Mutex<Kept>,
}

impl Memo {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Each update is one insert: a panic cannot leave a half-made entry.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets everything (the statement wrote or deleted).
    pub fn clear(&self) {
        *self.kept() = Kept::default();
    }

    pub fn names(&self, db: &str) -> Option<Arc<Vec<String>>> {
        self.kept().names.get(db).cloned()
    }

    pub fn keep_names(&self, db: &str, names: &[String]) {
        let size: usize = names.iter().map(|n| n.len() + 24).sum();
        let mut k = self.kept();
        if k.bytes + size <= MAX_BYTES {
            k.bytes += size;
            k.names.insert(db.to_string(), Arc::new(names.to_vec()));
        }
    }

    pub fn raw(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.kept().raw.get(key).cloned()
    }

    pub fn keep_raw(&self, key: String, body: Arc<Vec<u8>>) {
        let mut k = self.kept();
        let size = key.len() + body.len();
        if k.bytes + size <= MAX_BYTES {
            k.bytes += size;
            k.raw.insert(key, body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_cleared() {
        let m = Memo::default();
        m.keep_names("d", &["cpu_usage".to_string()]);
        m.keep_raw("/api/v1/labels?x".into(), Arc::new(b"{}".to_vec()));
        assert_eq!(m.names("d").as_deref(), Some(&vec!["cpu_usage".to_string()]));
        assert!(m.raw("/api/v1/labels?x").is_some());
        // An answer past the bound is not kept.
        m.keep_raw("big".into(), Arc::new(vec![0; MAX_BYTES]));
        assert!(m.raw("big").is_none());
        m.clear();
        assert!(m.names("d").is_none() && m.raw("/api/v1/labels?x").is_none());
    }
}
