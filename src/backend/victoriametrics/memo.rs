//! What VictoriaMetrics answered to catalog requests, kept for the rest of the statement and,
//! for `catalog_ttl_ms`, for the statements after it.
//!
//! A statement reads the catalog through `query::snapshot`, one call per kind of fact, but on
//! VictoriaMetrics several facts come from the same request: a measurement's metric names answer
//! `measurements`, `field_keys`, the series listing and every scan and aggregate of it; the label
//! names of its metrics are asked by the series listing and again by the rollups' guard. Before
//! the statement memo `SELECT max(f) FROM m WHERE host = 'h' ... GROUP BY time(1m)` cost nine
//! requests, of which seven asked for something already answered. [`Backend::statement_view`]
//! hands `query::snapshot` a view of the backend that keeps these answers in a [`Memo`] (see
//! [`VictoriaMetricsBackend`](super::VictoriaMetricsBackend)).
//!
//! Kept: the database's metric names (after the check of deleted names), the raw answers of
//! `/api/v1/labels`, `/api/v1/series` and `/api/v1/label/<db label>/values`, keyed by path and
//! form, and whole series listings as read (see [`listing`](mod@super::listing)). A write, delete or DDL made through the view empties the statement's memo (as the
//! snapshot empties itself).
//!
//! # Between statements ([`Shared`])
//!
//! The TTL, the byte bound and the generation ticket are [`Kept`]'s (`backend::kept`, the one
//! home of this rule, shared with ClickHouse's lists).
//!
//! With `catalog_ttl_ms` > 0 the answers are also kept for the statements that follow, each for
//! `catalog_ttl_ms` after its request was sent:
//!
//! * a write through influxgate (acknowledged or not), `CREATE`/`DROP DATABASE`, `DROP SERIES`,
//!   `DROP MEASUREMENT` and `DELETE` forget every answer about their database, and the list of
//!   databases, before the client hears back, and an answer to a request sent before that is not
//!   kept (a generation counter taken when the request is sent), so influxgate's own writes are
//!   seen by the next statement exactly as without these answers kept (with `flush_after_write`);
//! * a database, measurement, field or series written straight to VictoriaMetrics (Telegraf,
//!   another influxgate), or deleted there, is seen at most `catalog_ttl_ms` after
//!   VictoriaMetrics makes it searchable (itself within about a second, see
//!   [`flush`](mod@super::flush)). Samples are never kept: new points of series already listed
//!   are read as before.
//!
//! When VictoriaMetrics cannot be reached every kept answer is dropped, so that a statement
//! then fails at its first request (503) as it would without them.
//!
//! `0` keeps nothing between statements (each statement asks again, the behaviour before).
//!
//! # Memory
//!
//! An entry counts its key plus its body (names: each name's length plus 24). A statement's memo
//! keeps at most `statement_memo_bytes`; the shared one at most `catalog_max_bytes`, dropping
//! expired entries when full (an answer that still does not fit is not kept: asked again when
//! needed). Bodies are shared (`Arc`) between the two, so the total is at most
//! `catalog_max_bytes` plus `statement_memo_bytes` per statement running.
//!
//! [`Backend::statement_view`]: crate::backend::Backend::statement_view

use std::sync::Arc;
use std::time::Duration;

use super::listing::Whole;
use crate::backend::kept::Kept;
pub use crate::backend::kept::Ticket;

/// Default bytes of answers one statement keeps at most (`statement_memo_bytes`).
pub const MAX_BYTES: usize = 16 << 20;
/// Default bytes of answers kept between statements (`catalog_max_bytes`).
pub const SHARED_MAX_BYTES: usize = 16 << 20;
/// Default time an answer is kept between statements (`catalog_ttl_ms`).
pub const DEFAULT_TTL: Duration = Duration::from_millis(1000);

#[derive(Clone)]
enum Value {
    Names(Arc<Vec<String>>),
    Raw(Arc<Vec<u8>>),
    /// A whole series listing, read (see [`listing`](mod@super::listing)).
    Whole(Arc<Whole>),
}

/// (database, key): the key of a database's metric names is empty, of an answer `path?form`.
/// Answers not about one database (the list of databases) have an empty database.
type Key = (String, String);

/// The bytes an answer counts (module docs).
fn size_of(key: &Key, v: &Value) -> usize {
    let body = match v {
        Value::Names(n) => n.iter().map(|n| n.len() + 24).sum(),
        Value::Raw(b) => b.len(),
        Value::Whole(w) => w.bytes,
    };
    body + key.0.len() + key.1.len()
}

/// Catalog answers kept between statements (module docs), in a [`Kept`].
pub struct Shared(Kept<Key, Value>);

impl Shared {
    /// `None` when `ttl` is zero (nothing kept between statements).
    pub fn new(ttl: Duration, max_bytes: usize) -> Option<Arc<Shared>> {
        (!ttl.is_zero()).then(|| Arc::new(Shared(Kept::new(ttl, max_bytes))))
    }

    /// Forgets every answer about `db` (influxgate wrote, deleted or made DDL there) and the
    /// list of databases, and any answer to a request sent before now.
    pub fn forget(&self, db: &str) {
        self.0.forget_where(|key| key.0 == db || key.0.is_empty());
    }

    /// Forgets every answer (VictoriaMetrics could not be reached).
    pub fn forget_all(&self) {
        self.0.forget_all();
    }

    /// Answers taken from here so far (a diagnostic, in `/metrics`).
    pub fn hits(&self) -> u64 {
        self.0.hits()
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }
}

/// One statement's memo (module docs), backed by the shared one when there is one.
pub struct Memo {
    kept: Kept<Key, Value>,
    max_bytes: usize,
    shared: Option<Arc<Shared>>,
}

impl Memo {
    pub fn new(max_bytes: usize, shared: Option<Arc<Shared>>) -> Memo {
        Memo { kept: Kept::unexpiring(max_bytes), max_bytes, shared }
    }

    /// Bytes the statement keeps at most.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Forgets the statement's answers (the statement wrote or deleted).
    pub fn clear(&self) {
        self.kept.forget_all();
    }

    /// To take before sending a request whose answer is then kept with it.
    pub fn ticket(&self) -> Ticket {
        self.shared.as_ref().map_or_else(|| self.kept.ticket(), |s| s.0.ticket())
    }

    fn get(&self, key: Key) -> Option<Value> {
        if let Some(v) = self.kept.get(&key) {
            return Some(v);
        }
        let v = self.shared.as_ref()?.0.get(&key)?;
        self.kept.keep(key.clone(), v.clone(), size_of(&key, &v), self.kept.ticket());
        Some(v)
    }

    fn keep(&self, key: Key, value: Value, t: Ticket) {
        let size = size_of(&key, &value);
        if let Some(s) = &self.shared {
            s.0.keep(key.clone(), value.clone(), size, t);
        }
        self.kept.keep(key, value, size, self.kept.ticket());
    }

    pub fn names(&self, db: &str) -> Option<Arc<Vec<String>>> {
        match self.get((db.to_string(), String::new()))? {
            Value::Names(n) => Some(n),
            _ => None,
        }
    }

    pub fn keep_names(&self, db: &str, names: &[String], t: Ticket) {
        self.keep((db.to_string(), String::new()), Value::Names(Arc::new(names.to_vec())), t);
    }

    /// The answer to `key` (`path?form`) about database `db` ("" when about none).
    pub fn raw(&self, db: &str, key: &str) -> Option<Arc<Vec<u8>>> {
        match self.get((db.to_string(), key.to_string()))? {
            Value::Raw(b) => Some(b),
            _ => None,
        }
    }

    pub fn keep_raw(&self, db: &str, key: String, body: Arc<Vec<u8>>, t: Ticket) {
        self.keep((db.to_string(), key), Value::Raw(body), t);
    }

    /// The whole series listing kept under `key` (its request's `path?form`).
    pub fn whole(&self, db: &str, key: &str) -> Option<Arc<Whole>> {
        match self.get((db.to_string(), key.to_string()))? {
            Value::Whole(w) => Some(w),
            _ => None,
        }
    }

    pub fn keep_whole(&self, db: &str, key: String, whole: Arc<Whole>, t: Ticket) {
        self.keep((db.to_string(), key), Value::Whole(whole), t);
    }

    /// Keeps an answer for this statement only (not between statements).
    pub fn keep_statement_raw(&self, db: &str, key: String, body: Arc<Vec<u8>>) {
        let (key, v) = ((db.to_string(), key), Value::Raw(body));
        self.kept.keep(key.clone(), v.clone(), size_of(&key, &v), self.kept.ticket());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_cleared() {
        let m = Memo::new(MAX_BYTES, None);
        m.keep_names("d", &["cpu_usage".to_string()], m.ticket());
        m.keep_raw("d", "/api/v1/labels?x".into(), Arc::new(b"{}".to_vec()), m.ticket());
        assert_eq!(m.names("d").as_deref(), Some(&vec!["cpu_usage".to_string()]));
        assert!(m.raw("d", "/api/v1/labels?x").is_some());
        // An answer past the bound is not kept.
        m.keep_raw("d", "big".into(), Arc::new(vec![0; MAX_BYTES]), m.ticket());
        assert!(m.raw("d", "big").is_none());
        m.clear();
        assert!(m.names("d").is_none() && m.raw("d", "/api/v1/labels?x").is_none());
    }

    /// `statement_memo_bytes` is the statement's bound, whatever it is set to.
    #[test]
    fn statement_bound_is_the_setting() {
        let m = Memo::new(100, None);
        m.keep_raw("d", "a".into(), Arc::new(vec![0; 98]), m.ticket());
        assert!(m.raw("d", "a").is_some());
        m.keep_raw("d", "b".into(), Arc::new(vec![0; 10]), m.ticket());
        assert!(m.raw("d", "b").is_none(), "past 100 bytes");
        assert!(m.kept.bytes() <= 100);
    }

    #[test]
    fn shared_between_statements_until_forgotten() {
        let s = Shared::new(Duration::from_secs(60), 1 << 20).unwrap();
        let m1 = Memo::new(MAX_BYTES, Some(s.clone()));
        m1.keep_names("d", &["cpu_usage".to_string()], m1.ticket());
        m1.keep_raw("", "/dbs".into(), Arc::new(b"[]".to_vec()), m1.ticket());
        let m2 = Memo::new(MAX_BYTES, Some(s.clone()));
        assert!(m2.names("d").is_some(), "the next statement reads it");
        assert!(m2.raw("", "/dbs").is_some());
        assert_eq!(s.hits(), 2);
        s.forget("other");
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).raw("", "/dbs").is_none(), "any write forgets the databases");
        // A request sent before a write does not keep its answer.
        let t = m2.ticket();
        s.forget("d");
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).names("d").is_none());
        m2.keep_names("d", &["old".to_string()], t);
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).names("d").is_none());
        // Another database's answers stay.
        let m3 = Memo::new(MAX_BYTES, Some(s.clone()));
        m3.keep_names("e", &["x".to_string()], m3.ticket());
        s.forget("d");
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).names("e").is_some());
    }

    #[test]
    fn shared_entries_expire() {
        assert!(Shared::new(Duration::ZERO, 1 << 20).is_none(), "0 = per statement");
        let s = Shared::new(Duration::from_millis(30), 1 << 20).unwrap();
        let m = Memo::new(MAX_BYTES, Some(s.clone()));
        m.keep_names("d", &["a".to_string()], m.ticket());
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).names("d").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).names("d").is_none());
    }

    /// `catalog_max_bytes` bounds the shared memo: past it an answer is not kept, and expired
    /// entries make room.
    #[test]
    fn shared_bound_exceeded() {
        let s = Shared::new(Duration::from_millis(50), 1000).unwrap();
        let m = Memo::new(MAX_BYTES, Some(s.clone()));
        for i in 0..20 {
            m.keep_raw("d", format!("k{i}"), Arc::new(vec![0; 200]), m.ticket());
            assert!(s.bytes() <= 1000, "{} bytes", s.bytes());
        }
        let fresh = Memo::new(MAX_BYTES, Some(s.clone()));
        let kept = (0..20).filter(|i| fresh.raw("d", &format!("k{i}")).is_some()).count();
        assert!(kept > 0 && kept < 5, "{kept} of 20 kept");
        m.keep_raw("d", "huge".into(), Arc::new(vec![0; 2000]), m.ticket());
        assert!(s.bytes() <= 1000);
        std::thread::sleep(Duration::from_millis(60));
        m.keep_raw("d", "later".into(), Arc::new(vec![0; 900]), m.ticket());
        assert!(Memo::new(MAX_BYTES, Some(s.clone())).raw("d", "later").is_some(), "expired entries made room");
    }
}
