//! What ClickHouse lists (a measurement's series, a policy database's tables, influxgate's
//! databases), kept for `listing_ttl_ms`, so the statements after it (and the second use inside
//! one statement) do not ask again.
//!
//! Measured before it (`scripts/bench-chprofile.sh`, 18.16, 50 hosts × 12 h): every TSBS query
//! cost five ClickHouse statements, of which one was its aggregate or scan: the series table's
//! list for the planner's `Backend::series` ([`scan::series`](super::scan::series)), the same list
//! again for the aggregate's `_series IN (...)` ([`series_table::narrow`](super::series_table::narrow)),
//! `system.databases` (does the database exist) and `system.tables` (does the measurement). 18.16
//! spends a millisecond or more of its own on any request, so on small shapes these were most of
//! the cost (`single-groupby-1-1-1`: 13.7 ms against influxd's 1.2). Each of those reads goes
//! through here, and answers from the kept list while it is fresh: a query then sends its
//! aggregate or scan only (1.3 statements a query, the 0.3 the lists asked again as they expire).
//! A statement reads each list once, both uses of the series list included, whenever the TTL is
//! not 0.
//!
//! # The guarantee (as VictoriaMetrics' `catalog_ttl_ms`, see `victoriametrics::memo`)
//!
//! Kept in a [`Kept`] (`backend::kept`: the TTL, the byte bound and the generation ticket, shared
//! with VictoriaMetrics' catalog answers); what is here is which list a change touches.
//!
//! * A write through this influxgate that brings a series the kept list of its table does not
//!   hold forgets that list before the write is answered (acknowledged or not: rows may have
//!   landed); one that makes a table or a database forgets the list of tables or databases; and
//!   an answer to a request sent before a forget is not kept (a generation taken when the request
//!   is sent, [`Ticket`]). So the next statement lists the new series, exactly as without lists
//!   kept. A write of series the list holds changes nothing it says, so steady writes keep it.
//! * `DROP DATABASE`, `DROP RETENTION POLICY`, `DROP MEASUREMENT`, `DROP SERIES`, `DELETE` and
//!   retention's partition drops forget what they touched before they answer (a delete also
//!   before it lists what to delete, so it lists afresh).
//! * A database, measurement or series written straight to ClickHouse (another program, or
//!   another influxgate in front of the same server or cluster), or deleted there, shows at most
//!   `listing_ttl_ms` after the list was asked. Points are never kept: new points of listed
//!   series are read as before. Table columns and policies are kept as before (`Inner`'s caches).
//! * When a request finds ClickHouse unreachable every kept list is dropped, so the statements
//!   after it ask, and fail (503), as they would without them. (A statement answered from kept
//!   lists alone, `SHOW SERIES` or `SHOW MEASUREMENTS`, sends no request: within the TTL of an
//!   outage's start, before any request failed, it answers from them.)
//!
//! `0` keeps nothing: each use asks (a query's series list twice, as before).
//!
//! # Why a write of a known series need not forget
//!
//! A list asked at `t0` holds every series with rows at `t0`. A series a later write brings that
//! the list holds already had rows at `t0`; unless it was deleted since (a delete through
//! influxgate forgets the list; one straight to ClickHouse is covered by the TTL), every request
//! sent after `t0` lists it too. So the check may use a list past its TTL, as long as it is held.
//!
//! # Memory
//!
//! A series list counts each series' id and tags (their lengths plus 48 bytes of vectors and
//! strings each), a list of names each name plus 24, and each its key plus 64; at most
//! `listing_max_bytes` are kept, expired lists dropped to make room (a list that still does not
//! fit is not kept: asked again when needed). A table with more than
//! [`MAX_LISTED`](super::series_table::MAX_LISTED) series is kept as a marker of a few bytes
//! saying so (statements then read it the old way, as before).

use std::sync::Arc;
use std::time::Duration;

use super::names::parse_series_id;
use super::series_table::{self, MAX_LISTED};
use super::Inner;
use crate::backend::kept::{Kept, Ticket};
use crate::backend::{BackendError, Result};

/// Default time a list is kept (`listing_ttl_ms`).
pub const DEFAULT_TTL: Duration = Duration::from_millis(1000);
/// Default bytes of lists kept (`listing_max_bytes`).
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;

/// One series of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its `_series` value.
    pub id: Vec<u8>,
    /// ClickHouse's `cityHash64(_series)`.
    pub hash: u64,
    /// Its tag set (`None`: an id influxgate did not write, which matches nothing).
    pub tags: Option<Vec<(String, String)>>,
}

/// A table's series list (sorted by id), or the marker of a table with too many series.
#[derive(Debug, Default)]
pub struct Listing {
    series: Vec<Listed>,
    /// False: more series than the list's limit; `series` is empty.
    complete: bool,
    bytes: usize,
}

impl Listing {
    /// A list of `rows` (id, `cityHash64`), the tags parsed once here.
    pub fn new(rows: Vec<(Vec<u8>, u64)>) -> Listing {
        let mut series: Vec<Listed> = rows
            .into_iter()
            .map(|(id, hash)| {
                let tags = parse_series_id(&id);
                Listed { id, hash, tags }
            })
            .collect();
        series.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes = series.iter().map(|s| s.id.len() + 48 + s.tags.iter().flatten().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>()).sum();
        Listing { series, complete: true, bytes }
    }

    /// The marker of a table with more series than asked.
    pub fn too_many() -> Listing {
        Listing::default()
    }

    /// Every series, sorted by id; `None` past the limit.
    pub fn series(&self) -> Option<&[Listed]> {
        self.complete.then_some(self.series.as_slice())
    }

    fn holds(&self, id: &[u8]) -> bool {
        self.complete && self.series.binary_search_by(|s| s.id.as_slice().cmp(id)).is_ok()
    }
}

/// What a list lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// A measurement table's series (key: policy database, measurement).
    Series,
    /// The tables of a policy database (key: the database, "").
    Tables,
    /// influxgate's ClickHouse databases (key: "", "").
    Databases,
}

type Key = (Kind, String, String);

#[derive(Clone)]
enum Value {
    Series(Arc<Listing>),
    Names(Arc<Vec<String>>),
}

/// The bytes a list counts (module docs).
fn cost(key: &Key, value_bytes: usize) -> usize {
    value_bytes + key.1.len() + key.2.len() + 64
}

/// The kept lists (module docs), in a [`Kept`].
pub struct Listings(Kept<Key, Value>);

impl Listings {
    /// `ttl` zero keeps nothing.
    pub fn new(ttl: Duration, max_bytes: usize) -> Listings {
        Listings(Kept::new(ttl, max_bytes))
    }

    fn series_key(chdb: &str, m: &str) -> Key {
        (Kind::Series, chdb.to_string(), m.to_string())
    }

    fn tables_key(chdb: &str) -> Key {
        (Kind::Tables, chdb.to_string(), String::new())
    }

    fn databases_key() -> Key {
        (Kind::Databases, String::new(), String::new())
    }

    /// The fresh series list of table `m` of `chdb`.
    pub fn series(&self, chdb: &str, m: &str) -> Option<Arc<Listing>> {
        match self.0.get(&Self::series_key(chdb, m))? {
            Value::Series(l) => Some(l),
            Value::Names(_) => None,
        }
    }

    fn names(&self, key: &Key) -> Option<Arc<Vec<String>>> {
        match self.0.get(key)? {
            Value::Names(n) => Some(n),
            Value::Series(_) => None,
        }
    }

    /// To take before sending the request whose answer is then kept with it.
    pub fn ticket(&self) -> Ticket {
        self.0.ticket()
    }

    /// Keeps the series list of table `m` of `chdb` asked with ticket `t` (see [`Kept::keep`]).
    pub fn keep_series(&self, chdb: &str, m: &str, list: Arc<Listing>, t: Ticket) {
        let key = Self::series_key(chdb, m);
        let size = cost(&key, list.bytes);
        self.0.keep(key, Value::Series(list), size, t);
    }

    fn keep_names(&self, key: Key, names: Arc<Vec<String>>, t: Ticket) {
        let size = cost(&key, names.iter().map(|x| x.len() + 24).sum());
        self.0.keep(key, Value::Names(names), size, t);
    }

    /// A write brought these series (`_series` values) to table `m` of `chdb`: forgets the
    /// table's list unless it holds every one (module docs).
    pub fn written<'a>(&self, chdb: &str, m: &str, mut ids: impl Iterator<Item = &'a [u8]>) {
        self.0.forget_unless(&Self::series_key(chdb, m), |v| match v {
            Value::Series(l) => ids.all(|id| l.holds(id)),
            Value::Names(_) => false,
        });
    }

    /// Forgets the series list of table `m` of `chdb` (its rows were deleted or dropped).
    pub fn forget_series(&self, chdb: &str, m: &str) {
        self.0.forget(&Self::series_key(chdb, m));
    }

    /// Forgets the list of tables of `chdb` (a table was made or dropped).
    pub fn forget_tables(&self, chdb: &str) {
        self.0.forget(&Self::tables_key(chdb));
    }

    /// Forgets the list of databases (a database or policy was made).
    pub fn forget_databases(&self) {
        self.0.forget(&Self::databases_key());
    }

    /// Forgets every list (a database or policy dropped, a delete, or ClickHouse unreachable).
    pub fn forget_all(&self) {
        self.0.forget_all();
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }

    /// Forgets every list when `e` says ClickHouse could not be reached (module docs): the one
    /// home of that rule, for the lists' own requests and for every `Backend` call.
    pub fn forget_if_unreachable(&self, e: &BackendError) {
        if matches!(e, BackendError::Unavailable(_) | BackendError::Timeout(_)) {
            self.forget_all();
        }
    }
}

/// A list's request failed: [`Listings::forget_if_unreachable`], and the error passed on.
fn unreachable(inner: &Inner, e: BackendError) -> BackendError {
    inner.listings.forget_if_unreachable(&e);
    e
}

/// The series list of table `m` of `chdb` (which has a series table): the kept one while fresh,
/// else read from the series table (up to [`MAX_LISTED`] series) and kept.
pub async fn listed(inner: &Inner, chdb: &str, m: &str) -> Result<Arc<Listing>> {
    if let Some(l) = inner.listings.series(chdb, m) {
        return Ok(l);
    }
    let t = inner.listings.ticket();
    let list = match series_table::list(inner, chdb, m, Some(MAX_LISTED)).await.map_err(|e| unreachable(inner, e))? {
        Some(rows) => Listing::new(rows),
        None => Listing::too_many(),
    };
    let list = Arc::new(list);
    inner.listings.keep_series(chdb, m, list.clone(), t);
    Ok(list)
}

/// A list of names under `key`: the kept one while fresh, else `ask`'s answer, kept.
async fn names<F>(inner: &Inner, key: Key, ask: F) -> Result<Arc<Vec<String>>>
where
    F: std::future::Future<Output = Result<Vec<String>>>,
{
    if let Some(n) = inner.listings.names(&key) {
        return Ok(n);
    }
    let t = inner.listings.ticket();
    let n = Arc::new(ask.await.map_err(|e| unreachable(inner, e))?);
    inner.listings.keep_names(key, n.clone(), t);
    Ok(n)
}

/// The tables of policy database `chdb` (`ask` reads them), kept.
pub async fn tables<F>(inner: &Inner, chdb: &str, ask: F) -> Result<Arc<Vec<String>>>
where
    F: std::future::Future<Output = Result<Vec<String>>>,
{
    names(inner, Listings::tables_key(chdb), ask).await
}

/// influxgate's ClickHouse databases (`ask` reads them), kept.
pub async fn databases<F>(inner: &Inner, ask: F) -> Result<Arc<Vec<String>>>
where
    F: std::future::Future<Output = Result<Vec<String>>>,
{
    names(inner, Listings::databases_key(), ask).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::clickhouse::names::series_id;

    fn id(host: &str) -> Vec<u8> {
        series_id(&[("host".to_string(), host.to_string())])
    }

    fn list(hosts: &[&str]) -> Arc<Listing> {
        Arc::new(Listing::new(hosts.iter().enumerate().map(|(i, h)| (id(h), i as u64)).collect()))
    }

    #[test]
    fn parsed_sorted_and_kept_until_the_ttl() {
        let l = Listings::new(Duration::from_millis(40), 1 << 20);
        assert!(l.series("d", "m").is_none());
        l.keep_series("d", "m", list(&["b", "a"]), l.ticket());
        let got = l.series("d", "m").unwrap();
        let s = got.series().unwrap();
        assert_eq!(s.iter().map(|x| x.tags.clone().unwrap()[0].1.clone()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(l.series("d", "n").is_none() && l.series("e", "m").is_none());
        std::thread::sleep(Duration::from_millis(50));
        assert!(l.series("d", "m").is_none(), "expired");
        assert!(Listings::new(Duration::ZERO, 1 << 20).series("d", "m").is_none());
        let z = Listings::new(Duration::ZERO, 1 << 20);
        z.keep_series("d", "m", list(&["a"]), z.ticket());
        assert!(z.series("d", "m").is_none(), "0 keeps nothing");
    }

    #[test]
    fn a_write_of_a_new_series_forgets_and_of_known_ones_does_not() {
        let l = Listings::new(Duration::from_secs(60), 1 << 20);
        l.keep_series("d", "m", list(&["a", "b"]), l.ticket());
        l.written("d", "m", [id("a").as_slice(), id("b").as_slice()].into_iter());
        assert!(l.series("d", "m").is_some(), "known series");
        l.written("d", "other", [id("c").as_slice()].into_iter());
        assert!(l.series("d", "m").is_some(), "another table");
        // A request sent before the write does not keep its (older) answer.
        let t = l.ticket();
        l.written("d", "m", [id("a").as_slice(), id("c").as_slice()].into_iter());
        assert!(l.series("d", "m").is_none(), "a new series");
        l.keep_series("d", "m", list(&["a", "b"]), t);
        assert!(l.series("d", "m").is_none(), "asked before the write");
        // Other tables' requests in flight are kept.
        let t = l.ticket();
        l.written("d", "m", [id("z").as_slice()].into_iter());
        l.keep_series("d", "n", list(&["a"]), t);
        assert!(l.series("d", "n").is_some());
        // A request sent after it is.
        l.keep_series("d", "m", list(&["a", "b", "c"]), l.ticket());
        assert!(l.series("d", "m").is_some());
        // The marker of a table with too many series knows no series.
        l.keep_series("d", "big", Arc::new(Listing::too_many()), l.ticket());
        assert!(l.series("d", "big").unwrap().series().is_none());
        l.written("d", "big", [id("a").as_slice()].into_iter());
        assert!(l.series("d", "big").is_none());
    }

    #[test]
    fn forgetting_tables_and_everything() {
        let l = Listings::new(Duration::from_secs(60), 1 << 20);
        l.keep_series("d", "m", list(&["a"]), l.ticket());
        l.keep_series("d", "n", list(&["a"]), l.ticket());
        let t = l.ticket();
        l.forget_series("d", "m");
        assert!(l.series("d", "m").is_none() && l.series("d", "n").is_some());
        l.forget_all();
        assert!(l.series("d", "n").is_none());
        assert_eq!(l.bytes(), 0);
        l.keep_series("d", "n", list(&["a"]), t);
        assert!(l.series("d", "n").is_none(), "asked before everything was forgotten");
    }

    #[test]
    fn names_lists_forgotten_by_their_changes() {
        let l = Listings::new(Duration::from_secs(60), 1 << 20);
        let names = |v: &[&str]| Arc::new(v.iter().map(|x| x.to_string()).collect());
        l.keep_names(Listings::tables_key("d"), names(&["m"]), l.ticket());
        l.keep_names(Listings::tables_key("e"), names(&["m"]), l.ticket());
        l.keep_names(Listings::databases_key(), names(&["influx_d"]), l.ticket());
        l.keep_series("d", "m", list(&["a"]), l.ticket());
        l.forget_tables("d");
        assert!(l.names(&Listings::tables_key("d")).is_none());
        assert!(l.names(&Listings::tables_key("e")).is_some() && l.series("d", "m").is_some());
        assert!(l.names(&Listings::databases_key()).is_some());
        l.forget_databases();
        assert!(l.names(&Listings::databases_key()).is_none() && l.names(&Listings::tables_key("e")).is_some());
        // A series key and a tables key never answer for each other.
        assert!(l.series("e", "").is_none());
    }

    /// `listing_max_bytes` bounds what is kept: past it a list is not kept, expired lists make
    /// room.
    #[test]
    fn the_byte_bound_is_kept() {
        let one = list(&["a"]).bytes + "d".len() + "m0".len() + 64;
        let l = Listings::new(Duration::from_millis(50), 3 * one + one / 2);
        for i in 0..10 {
            l.keep_series("d", &format!("m{i}"), list(&["a"]), l.ticket());
            assert!(l.bytes() <= 3 * one + one / 2, "{} bytes", l.bytes());
        }
        assert_eq!((0..10).filter(|i| l.series("d", &format!("m{i}")).is_some()).count(), 3);
        let hosts: Vec<String> = (0..100).map(|i| format!("h{i}")).collect();
        l.keep_series("d", "huge", list(&hosts.iter().map(String::as_str).collect::<Vec<_>>()), l.ticket());
        assert!(l.series("d", "huge").is_none(), "larger than the bound");
        std::thread::sleep(Duration::from_millis(60));
        l.keep_series("d", "later", list(&["a"]), l.ticket());
        assert!(l.series("d", "later").is_some(), "expired lists made room");
        assert!(l.bytes() <= 3 * one + one / 2);
    }
}
