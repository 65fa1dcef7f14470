//! Query governance: what stops a query, and what it may hold.
//!
//! Every query runs with a [`Governor`]: a flag that anything may raise to stop it (its deadline,
//! `KILL QUERY`, the client hanging up) and a memory account it charges as it builds points,
//! buckets and rows. The evaluator polls the flag in every loop whose length depends on the data
//! (per series, per window, per bucket, per optimiser step), so CPU-bound work stops too, not only
//! work that awaits the store; polling is one relaxed atomic load, because the deadline is raised
//! by a timer rather than by reading the clock in the loops.
//!
//! 1.x's texts (`query/task_manager.go`, `query/errors.go`, 1.6.7): a deadline passed answers
//! `query-timeout limit exceeded`, a killed query `query interrupted`, a query over
//! `max-concurrent-queries` `max-concurrent-queries limit exceeded(N, LIMIT)`, `KILL QUERY` of an
//! unknown id `no such query id: N`. 1.x has no memory budget (its nearest, `max-select-point`,
//! counts points); ours is worded the same way: `max-memory-bytes limit exceeded: (USED/LIMIT)`.
//!
//! ## What the memory account counts, and the bound it gives
//!
//! Everything of a query that grows with the points read, the buckets made or the answer is
//! charged as it grows (a [`Tally`] every 256 items, or a [`Charge`] before something of known
//! size is made) and given back when it is freed: the loaded points (`select::load`: 8 bytes a
//! time, 24 a value, each series' tags), a group's row references (16 bytes a point), each call's
//! points (`Sample`: 56 bytes, its aux values, and 24 for its rank, source and the references the
//! reducers sort), partial results and their merge orders, filled buckets (before `fill` makes
//! them), transformations' inputs and outputs, raw merge items, the catalog's series keys, the
//! store's pushed-down partials, and the answer's rows (a vector and a block per row, see
//! [`row_bytes`]) with the text the encoder makes of them ([`text_bytes`]); the server charges
//! the encoded body. Sizes are those of the structures on a 64-bit target with glibc's malloc
//! ([`heap_bytes`]); copies that were pure waste (a vector per loaded point, clones of every point
//! per window, per shard, per tag) were removed rather than charged.
//!
//! Bound: a query's peak RSS growth stays within 1.5 × its account's peak + 16 MiB (the constant
//! covers the thread, the store's read connection and its page cache, a scan chunk in flight), so
//! with `max_memory_bytes = M` one query grows the server by at most 1.5 M + 16 MiB. Measured per
//! shape (raw buffered, mean/sum/count/max with and without GROUP BY time over one and 2000
//! series, percentile/median, top, derivative of buckets and of points, fill(0) over 5M buckets,
//! subqueries): RSS growth / account peak = 0.80–1.16 (BENCHMARKS.md §6, before: 1.4–4.8);
//! `tests/hostile/query_memory.rs` holds the bound at a 48 MiB budget. Not counted: capacity the
//! allocator keeps after a free, and the store's pushed-down answer until it has arrived (the
//! store builds it whole; at most one row per non-empty bucket of each series).
//!
//! [`Registry`] holds the running queries for `SHOW QUERIES` / `KILL QUERY` and enforces
//! `max_concurrent_queries`; a [`Ticket`] leaves the registry when dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod sizes;

pub use sizes::{heap_bytes, row_bytes, rows_bytes, sample_bytes, tags_bytes, text_bytes, value_bytes};

/// Why a query was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Interrupt {
    /// Its deadline (`query.timeout`) passed.
    Timeout = 1,
    /// `KILL QUERY`.
    Killed = 2,
    /// The client closed the connection; nobody reads the answer.
    ClientGone = 3,
}

impl Interrupt {
    fn from_u8(v: u8) -> Option<Interrupt> {
        match v {
            1 => Some(Interrupt::Timeout),
            2 => Some(Interrupt::Killed),
            3 => Some(Interrupt::ClientGone),
            _ => None,
        }
    }

    /// The statement error 1.x answers.
    pub fn message(self) -> &'static str {
        match self {
            Interrupt::Timeout => "query-timeout limit exceeded",
            Interrupt::Killed | Interrupt::ClientGone => "query interrupted",
        }
    }
}

#[derive(Debug)]
struct Inner {
    stop: AtomicU8,
    /// Wakes [`Governor::stopped`] when `stop` is set.
    notify: tokio::sync::Notify,
    used: AtomicU64,
    peak: AtomicU64,
    /// 0 = no limit.
    limit: u64,
}

impl Drop for Inner {
    /// The account's peak, for comparing it with what the process really held
    /// (`RUST_LOG=influxgate::query::govern=debug`; `examples/query_memory.rs` reads it).
    fn drop(&mut self) {
        let peak = *self.peak.get_mut();
        if peak > 0 {
            let held = *self.used.get_mut();
            tracing::debug!(peak_bytes = peak, held_at_end = held, limit_bytes = self.limit, "query memory");
        }
    }
}

/// A query's stop flag and memory account; clones share them.
#[derive(Debug, Clone)]
pub struct Governor(Arc<Inner>);

impl Default for Governor {
    fn default() -> Self {
        Governor::new(0)
    }
}

impl Governor {
    /// A governor allowing `max_memory_bytes` (0 = no limit), not stopped.
    pub fn new(max_memory_bytes: u64) -> Governor {
        Governor(Arc::new(Inner {
            stop: AtomicU8::new(0),
            notify: tokio::sync::Notify::new(),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            limit: max_memory_bytes,
        }))
    }

    /// Stops the query; the first reason given is the one reported.
    pub fn interrupt(&self, why: Interrupt) {
        let _ = self.0.stop.compare_exchange(0, why as u8, Ordering::AcqRel, Ordering::Acquire);
        self.0.notify.notify_waiters();
    }

    /// Completes once the query is stopped, with the reason: for racing a statement's future, so
    /// a query waiting on the store stops too.
    pub async fn stopped(&self) -> Interrupt {
        loop {
            let notified = self.0.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(why) = self.interrupted() {
                return why;
            }
            notified.await;
        }
    }

    /// Why the query was stopped, if it was.
    pub fn interrupted(&self) -> Option<Interrupt> {
        Interrupt::from_u8(self.0.stop.load(Ordering::Relaxed))
    }

    /// `Err` with 1.x's text once the query is stopped.
    #[inline]
    pub fn check(&self) -> Result<(), String> {
        match self.interrupted() {
            None => Ok(()),
            Some(why) => Err(why.message().to_string()),
        }
    }

    /// Accounts `bytes` more held by the query; `Err` (and nothing accounted) past the limit, or
    /// when the query was stopped.
    pub fn charge(&self, bytes: u64) -> Result<(), String> {
        self.check()?;
        let before = self.0.used.fetch_add(bytes, Ordering::AcqRel);
        let now = before.saturating_add(bytes);
        if self.0.limit > 0 && now > self.0.limit {
            self.0.used.fetch_sub(bytes, Ordering::AcqRel);
            return Err(format!("max-memory-bytes limit exceeded: ({now}/{})", self.0.limit));
        }
        self.0.peak.fetch_max(now, Ordering::AcqRel);
        Ok(())
    }

    /// Gives back `bytes` charged before.
    pub fn release(&self, bytes: u64) {
        let _ = self.0.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| Some(u.saturating_sub(bytes)));
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.0.used.load(Ordering::Acquire)
    }

    /// The most bytes held at once so far.
    pub fn peak(&self) -> u64 {
        self.0.peak.load(Ordering::Acquire)
    }

    /// Charges `bytes` held only as long as the returned [`Charge`] lives.
    pub fn hold(&self, bytes: u64) -> Result<Charge, String> {
        self.charge(bytes)?;
        Ok(Charge { governor: self.clone(), bytes })
    }

    /// A closure for code that only needs to know whether to stop (the `functions` layer).
    pub fn stopper(&self) -> impl Fn() -> Option<&'static str> + '_ {
        move || self.interrupted().map(Interrupt::message)
    }
}

/// Memory charged to a query while this lives (intermediate data: points read, buckets of one
/// group); released when dropped.
#[derive(Debug)]
pub struct Charge {
    governor: Governor,
    bytes: u64,
}

impl Charge {
    /// Charges `bytes` more to this hold.
    pub fn add(&mut self, bytes: u64) -> Result<(), String> {
        self.governor.charge(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Charges what `bytes` exceeds this hold by: for a structure growing in steps.
    pub fn grow_to(&mut self, bytes: u64) -> Result<(), String> {
        match bytes.checked_sub(self.bytes) {
            Some(more) if more > 0 => self.add(more),
            _ => Ok(()),
        }
    }

    /// Takes over what `other` holds (nothing is charged again).
    pub fn absorb(&mut self, mut other: Charge) {
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keeps `bytes` of this hold charged until the query ends (what the query answers) and gives
    /// back the rest.
    pub fn keep(mut self, bytes: u64) {
        let kept = bytes.min(self.bytes);
        self.shrink(self.bytes - kept);
        self.bytes = 0;
    }

    /// Gives back up to `bytes` of this hold early.
    pub fn shrink(&mut self, bytes: u64) {
        let b = bytes.min(self.bytes);
        self.governor.release(b);
        self.bytes -= b;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.governor.release(self.bytes);
    }
}

/// Charges a structure that grows item by item: what was added, every [`Tally::STEP`] items (a
/// charge is two atomic operations) and when [`Tally::settle`]d; released when dropped.
#[derive(Debug)]
pub struct Tally {
    held: Charge,
    bytes: u64,
    pending: u32,
}

impl Tally {
    /// Items added between two charges.
    pub const STEP: u32 = 256;

    pub fn new(governor: &Governor) -> Result<Tally, String> {
        Ok(Tally { held: governor.hold(0)?, bytes: 0, pending: 0 })
    }

    /// Accounts one item of `bytes`.
    pub fn add(&mut self, bytes: u64) -> Result<(), String> {
        self.bytes += bytes;
        self.pending += 1;
        if self.pending >= Self::STEP {
            self.pending = 0;
            self.held.grow_to(self.bytes)?;
        }
        Ok(())
    }

    /// Charges everything added so far; the hold lives on.
    pub fn settle(mut self) -> Result<Charge, String> {
        self.held.grow_to(self.bytes)?;
        Ok(self.held)
    }
}

/// One running query, as `SHOW QUERIES` lists it.
#[derive(Debug, Clone)]
pub struct RunningQuery {
    pub id: u64,
    pub text: String,
    pub database: String,
    pub duration: Duration,
    /// `KILL QUERY` was asked; the query has not stopped yet.
    pub killed: bool,
}

struct Entry {
    text: String,
    database: String,
    started: Instant,
    governor: Governor,
}

/// The queries running now.
pub struct Registry {
    next: AtomicU64,
    running: Mutex<BTreeMap<u64, Entry>>,
    /// 0 = no limit.
    max_concurrent: usize,
}

/// A query's place in the [`Registry`]; dropping it removes the query.
pub struct Ticket {
    registry: Arc<Registry>,
    id: u64,
}

impl Ticket {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    pub fn new(max_concurrent: usize) -> Arc<Registry> {
        Arc::new(Registry { next: AtomicU64::new(1), running: Mutex::new(BTreeMap::new()), max_concurrent })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a query, or refuses it with 1.x's text when `max_concurrent` run already.
    pub fn attach(self: &Arc<Self>, text: String, database: String, governor: Governor) -> Result<Ticket, String> {
        let mut running = self.lock();
        if self.max_concurrent > 0 && running.len() >= self.max_concurrent {
            return Err(format!("max-concurrent-queries limit exceeded({}, {})", running.len(), self.max_concurrent));
        }
        let id = self.next.fetch_add(1, Ordering::AcqRel);
        running.insert(id, Entry { text, database, started: Instant::now(), governor });
        Ok(Ticket { registry: self.clone(), id })
    }

    /// The running queries by id.
    pub fn list(&self) -> Vec<RunningQuery> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(id, e)| RunningQuery {
                id: *id,
                text: e.text.clone(),
                database: e.database.clone(),
                duration: now.saturating_duration_since(e.started),
                killed: e.governor.interrupted() == Some(Interrupt::Killed),
            })
            .collect()
    }

    /// `KILL QUERY id`.
    pub fn kill(&self, id: u64) -> Result<(), String> {
        match self.lock().get(&id) {
            Some(e) => {
                e.governor.interrupt(Interrupt::Killed);
                Ok(())
            }
            None => Err(format!("no such query id: {id}")),
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_interrupt_wins_and_stops_charges() {
        let g = Governor::new(0);
        assert!(g.check().is_ok());
        g.interrupt(Interrupt::Timeout);
        g.interrupt(Interrupt::Killed);
        assert_eq!(g.check().unwrap_err(), "query-timeout limit exceeded");
        assert_eq!(g.charge(1).unwrap_err(), "query-timeout limit exceeded");
        let stop = g.stopper();
        assert_eq!(stop(), Some("query-timeout limit exceeded"));
    }

    #[tokio::test]
    async fn stopped_wakes_a_waiting_query() {
        let g = Governor::new(0);
        let g2 = g.clone();
        let waiter = tokio::spawn(async move { g2.stopped().await });
        tokio::task::yield_now().await;
        g.interrupt(Interrupt::Killed);
        assert_eq!(waiter.await.unwrap(), Interrupt::Killed);
        assert_eq!(g.stopped().await, Interrupt::Killed);
    }

    #[test]
    fn memory_limit_refuses_past_it_and_keeps_the_account() {
        let g = Governor::new(100);
        g.charge(60).unwrap();
        assert_eq!(g.charge(41).unwrap_err(), "max-memory-bytes limit exceeded: (101/100)");
        assert_eq!(g.used(), 60);
        g.charge(40).unwrap();
        g.release(70);
        assert_eq!(g.used(), 30);
        assert_eq!(g.peak(), 100);
        g.release(1000);
        assert_eq!(g.used(), 0);
        let unlimited = Governor::new(0);
        unlimited.charge(u64::MAX / 2).unwrap();
        let g = Governor::new(100);
        {
            let mut held = g.hold(50).unwrap();
            held.add(30).unwrap();
            assert!(held.add(30).is_err());
            held.shrink(20);
            assert_eq!(g.used(), 60);
        }
        assert_eq!(g.used(), 0);
    }

    #[test]
    fn holds_grow_keep_and_merge() {
        let g = Governor::new(1000);
        let mut a = g.hold(100).unwrap();
        a.grow_to(50).unwrap();
        assert_eq!(g.used(), 100);
        a.grow_to(300).unwrap();
        assert_eq!((g.used(), a.bytes()), (300, 300));
        let mut t = Tally::new(&g).unwrap();
        for _ in 0..Tally::STEP - 1 {
            t.add(1).unwrap();
        }
        // Charged every STEP items, and when settled.
        assert_eq!(g.used(), 300);
        t.add(1).unwrap();
        assert_eq!(g.used(), 300 + Tally::STEP as u64);
        t.add(5).unwrap();
        a.absorb(t.settle().unwrap());
        assert_eq!((g.used(), a.bytes()), (300 + Tally::STEP as u64 + 5, 300 + Tally::STEP as u64 + 5));
        // The answer's part stays charged, the rest is given back.
        a.keep(200);
        assert_eq!(g.used(), 200);
        let mut t = Tally::new(&g).unwrap();
        assert!((0..1000).try_for_each(|_| t.add(10)).unwrap_err().starts_with("max-memory-bytes limit exceeded"));
        drop(t);
        assert_eq!(g.used(), 200);
    }

    #[test]
    fn registry_concurrency_show_and_kill() {
        let r = Registry::new(2);
        let g1 = Governor::new(0);
        let t1 = r.attach("SELECT 1".into(), "db".into(), g1.clone()).unwrap();
        let t2 = r.attach("SELECT 2".into(), "".into(), Governor::new(0)).unwrap();
        assert_eq!(
            r.attach("SELECT 3".into(), "".into(), Governor::new(0)).err().unwrap(),
            "max-concurrent-queries limit exceeded(2, 2)"
        );
        let ids: Vec<u64> = r.list().iter().map(|q| q.id).collect();
        assert_eq!(ids, vec![t1.id(), t2.id()]);
        r.kill(t1.id()).unwrap();
        assert_eq!(g1.interrupted(), Some(Interrupt::Killed));
        assert_eq!(r.kill(999).unwrap_err(), "no such query id: 999");
        drop(t1);
        assert_eq!(r.len(), 1);
        let t3 = r.attach("SELECT 3".into(), "".into(), Governor::new(0)).unwrap();
        assert!(t3.id() > t2.id());
        let unlimited = Registry::new(0);
        let _many: Vec<Ticket> =
            (0..100).map(|_| unlimited.attach(String::new(), String::new(), Governor::new(0)).unwrap()).collect();
    }
}
