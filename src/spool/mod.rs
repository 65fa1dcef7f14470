//! The write spool: nothing a client was answered 204 for is lost while a remote store
//! (VictoriaMetrics, ClickHouse) is down, restarting, or crashes before making a write durable.
//!
//! * **Spooling** ([`append`](mod@append)): when the store is unreachable, times out or answers
//!   5xx (a [`BackendError`] of [`Origin::Upstream`]), the write, already parsed and checked, is
//!   appended to an on-disk spool (segment files of checksummed records, fsynced) and answered 204.
//!   While older spooled writes exist, new writes are spooled behind them, so they reach the
//!   store in the order they were acknowledged. A write that would take the spool past
//!   `max_bytes` is answered 503 with `Retry-After` (nothing is dropped: the client keeps it).
//! * **Replay** ([`replay`](mod@replay)): one task writes the spooled records to the store in
//!   order, in batches of up to `replay_batch_points`, retrying with a backoff
//!   (`retry_backoff_min`..`retry_backoff_max`) while the store fails. A point the store refuses
//!   (4xx) goes to the dead-letter file ([`dead`](mod@dead)) with the reason. The replay cursor is
//!   persisted after each batch: a crash of influxgate replays at most the batch in flight again.
//! * **Durability** ([`window`](mod@window), [`watch`](mod@watch)): a store that acknowledges
//!   before its data is on disk (VictoriaMetrics: up to ~11 s later) could lose acknowledged
//!   writes in a crash. Such writes, and replayed batches, are kept until the store has been seen
//!   running, as the same instance, `durability_window` after acknowledging them; if it restarted
//!   meanwhile they are written again. A restart is told by the store's process start time.
//! * **Duplicates**: replay is at least once. A write that timed out may have reached the store
//!   before it is replayed, a batch acknowledged just before influxgate crashes is replayed
//!   again, and a write made durable just before the store crashed is written again after its
//!   restart. Writing the same point (series, time, value) twice overwrites it in InfluxDB 1.x;
//!   VictoriaMetrics keeps both samples unless it runs with `-dedup.minScrapeInterval` (then it
//!   keeps one per interval: `1ms` keeps one per millisecond, what influxgate writes). influxgate's
//!   own reads see one point per series and millisecond either way (a raw select keeps the last
//!   sample of a millisecond; aggregates fall back to it when a millisecond holds two samples).
//!
//! Bounds: disk `max_bytes` (spool) + `dead_letter_max_bytes`; memory `window_max_bytes` plus the
//! writes in flight (a write finding the window over its bound first moves its older half to disk,
//! and is answered 503 before it reaches the store when the spool is full too) plus one
//! replay batch (at most `replay_batch_points` points, or one spooled write when it is larger,
//! i.e. the parse of one `/write` body) plus a few counters per database with spooled points.
//! The embedded store writes locally (its commits are durable when answered) and has no spool.

pub mod append;
pub mod dead;
pub mod log;
pub mod metrics;
pub mod record;
pub mod replay;
pub mod segment;
pub mod warn;
pub mod watch;
pub mod window;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::{BackendError, SharedBackend, WriteBatch};
use crate::config::Config;

pub use append::{SpoolError, Written};
pub use record::Entry;
use segment::Pos;

/// What the spool needs to know of a remote store beyond [`crate::backend::Backend`].
#[async_trait]
pub trait Remote: Send + Sync {
    /// An id of the store process running now, which changes when it restarts; an error when the
    /// store cannot be asked.
    async fn instance(&self) -> Result<u64, BackendError>;
    /// The checks the store's `write` makes before calling the store (a 4xx for the client now
    /// rather than a dead letter later), without calling it.
    fn precheck(&self, batch: &WriteBatch) -> Result<(), BackendError>;
    /// Whether a write the store acknowledged survives a crash of the store process (then no
    /// durability window is kept, whatever `durability_window` says).
    fn durable_when_acknowledged(&self) -> bool {
        false
    }
}

/// Settings, from `[spool]` (and `backend.timeout`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub replay_batch_points: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long after acknowledging a write the store may still lose it in a crash; zero:
    /// acknowledged means durable.
    pub durability_window: Duration,
    pub window_max_bytes: u64,
    pub check_interval: Duration,
    pub dead_letter_max_bytes: u64,
    /// Bound on one store call (`backend.timeout`).
    pub store_timeout: Option<Duration>,
}

fn nanos(ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        let s = &c.spool;
        Settings {
            dir: s.dir.clone().unwrap_or_else(|| c.data_dir.join("spool")),
            max_bytes: s.max_bytes,
            segment_bytes: s.segment_bytes,
            replay_batch_points: s.replay_batch_points,
            backoff_min: nanos(s.retry_backoff_min),
            backoff_max: nanos(s.retry_backoff_max),
            durability_window: nanos(s.durability_window),
            window_max_bytes: s.window_max_bytes,
            check_interval: nanos(s.check_interval),
            dead_letter_max_bytes: s.dead_letter_max_bytes,
            store_timeout: Some(nanos(c.backend.timeout)).filter(|d| !d.is_zero()),
        }
    }
}

/// Spooled points not yet replayed (of one database, or all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pending {
    /// Of writes the store has not acknowledged.
    pub write: u64,
    /// Of writes the store acknowledged (`Kind::Acked`): missing from the store only if it
    /// restarted before making them durable.
    pub acked: u64,
}

impl Pending {
    fn add(&mut self, n: u64, acked: bool) {
        if acked {
            self.acked += n;
        } else {
            self.write += n;
        }
    }

    fn sub(&mut self, n: u64, acked: bool) {
        let v = if acked { &mut self.acked } else { &mut self.write };
        *v = v.saturating_sub(n);
    }
}

/// Points per database of replayed records: (database, points, acknowledged before).
type Counts = Vec<(String, u64, bool)>;

/// A replayed batch the store may not have made durable yet.
#[derive(Debug)]
struct Unconfirmed {
    start: Pos,
    /// When the store acknowledged it (Unix ms; for records acknowledged before they were
    /// spooled, the earliest of those times).
    time_ms: i64,
    instance: u64,
    /// Counted as pending again if the batch is replayed again.
    counts: Counts,
}

/// The spool's bookkeeping (files are in [`log::Log`]). Lock order: log, then core.
struct Core {
    /// New writes go to the spool: it holds writes the store has not acknowledged (or ones to
    /// write again after a restart of the store), so newer writes queue behind them.
    queueing: bool,
    /// End of the committed records.
    end: Pos,
    /// The next record to replay.
    cursor: Pos,
    /// Bumped when the cursor is moved back (the store restarted): a batch loaded before is void.
    generation: u64,
    unconfirmed: VecDeque<Unconfirmed>,
    pending: HashMap<String, Pending>,
    total: Pending,
    /// Acknowledged records in the spool are to be written again (the store restarted): they
    /// count as pending.
    at_risk: bool,
    oldest_ms: Option<i64>,
    bytes: u64,
    segments: u64,
    store_down: bool,
    /// The last append was refused for want of room (cleared by the next append or deletion).
    full: bool,
    /// The store instance last seen.
    instance: Option<u64>,
}

impl Core {
    fn add_pending(&mut self, db: &str, n: u64, acked: bool) {
        self.pending.entry(db.to_string()).or_default().add(n, acked);
        self.total.add(n, acked);
    }

    fn sub_pending(&mut self, db: &str, n: u64, acked: bool) {
        if let Some(v) = self.pending.get_mut(db) {
            v.sub(n, acked);
            if *v == Pending::default() {
                self.pending.remove(db);
            }
        }
        self.total.sub(n, acked);
    }

    /// Points not in the store (as far as influxgate can tell).
    fn missing(&self, p: Pending) -> u64 {
        p.write + if self.at_risk { p.acked } else { 0 }
    }

    /// Records past the cursor.
    fn has_records(&self) -> bool {
        self.cursor < self.end
    }
}

/// Health as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub pending_points: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    pub store_down: bool,
    /// The last write did not fit (503).
    pub full: bool,
}

pub struct Spool {
    settings: Settings,
    store: SharedBackend,
    remote: Option<Arc<dyn Remote>>,
    /// Acknowledged writes are kept until durable (a remote store, a non-zero
    /// `durability_window`, and its instance readable).
    checking: AtomicBool,
    /// Set when influxgate stops: the replay task moves the cursor no further (see `close`).
    closing: AtomicBool,
    log: Mutex<log::Log>,
    core: Mutex<Core>,
    window: Mutex<window::Window>,
    dead: Mutex<dead::DeadLetters>,
    wake: tokio::sync::Notify,
    counters: metrics::Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Spool {
    /// Opens the spool directory (recovering what a previous run left: damaged records are cut
    /// off and logged) and starts the replay task and, with a `remote`, the store watch. Needs a
    /// tokio runtime.
    pub fn open(settings: Settings, store: SharedBackend, remote: Option<Arc<dyn Remote>>) -> std::io::Result<Arc<Spool>> {
        let (log, rec) = log::Log::open(&settings.dir, settings.segment_bytes)?;
        let dead = dead::DeadLetters::open(&settings.dir, settings.dead_letter_max_bytes)?;
        let counters = metrics::Counters::default();
        metrics::add(&counters.damaged_records, rec.damaged);
        let mut total = Pending::default();
        for p in rec.pending.values() {
            total.add(p.write, false);
            total.add(p.acked, true);
        }
        if total.write + total.acked > 0 {
            tracing::info!(points = total.write, acknowledged = total.acked, dir = %settings.dir.display(), "spool: replaying writes spooled before the restart");
        }
        let core = Core {
            queueing: total.write > 0,
            end: rec.end,
            cursor: rec.cursor,
            generation: 0,
            unconfirmed: VecDeque::new(),
            pending: rec.pending,
            total,
            at_risk: false,
            oldest_ms: rec.oldest_ms,
            bytes: log.bytes(),
            segments: log.segment_count() as u64,
            store_down: false,
            full: false,
            instance: None,
        };
        let durable = remote.as_ref().map_or(true, |r| r.durable_when_acknowledged());
        let checking = AtomicBool::new(!durable && !settings.durability_window.is_zero());
        let spool = Arc::new(Spool {
            settings,
            store,
            remote,
            checking,
            closing: AtomicBool::new(false),
            log: Mutex::new(log),
            core: Mutex::new(core),
            window: Mutex::new(window::Window::default()),
            dead: Mutex::new(dead),
            wake: tokio::sync::Notify::new(),
            counters,
        });
        tokio::spawn(replay::run(spool.clone()));
        if spool.checking() {
            tokio::spawn(watch::run(spool.clone()));
        }
        Ok(spool)
    }

    /// Whether acknowledged writes are kept until the store made them durable.
    fn checking(&self) -> bool {
        self.checking.load(Ordering::Relaxed)
    }

    /// The store answers but its instance cannot be read (e.g. VictoriaMetrics' `/metrics` behind
    /// `-metricsAuthKey`): restarts cannot be told, acknowledgements are trusted from now on.
    fn stop_checking(&self, e: &BackendError) {
        if self.checking.swap(false, Ordering::Relaxed) {
            lock(&self.window).take();
            // Their segments go with the next replayed batch.
            self.core().unconfirmed.clear();
            tracing::error!(error = %e, "spool: cannot tell the store's restarts; writes it acknowledged are no longer kept until it made them durable");
        }
    }

    /// Moves acknowledged writes not known to be durable to the spool (at shutdown: influxgate
    /// is stopping, the store may crash before making them durable). The replay task is stopped
    /// first: it would otherwise take those records, acknowledged by the running instance, as
    /// nothing to send, move the cursor past them and keep them only in memory, which the exit
    /// loses (seen once in CI: 20,000 acknowledged points gone after SIGTERM and a store crash).
    pub async fn close(self: &Arc<Self>) {
        self.closing.store(true, Ordering::SeqCst);
        self.spill().await;
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    /// Spooled points of database `db` not yet written to the store.
    pub fn pending_points(&self, db: &str) -> u64 {
        let c = self.core();
        c.pending.get(db).map_or(0, |p| c.missing(*p))
    }

    pub fn health(&self) -> Health {
        let c = self.core();
        Health { pending_points: c.missing(c.total), bytes: c.bytes, max_bytes: self.settings.max_bytes, store_down: c.store_down, full: c.full }
    }

    /// Appends the spool's series to a `/metrics` text.
    pub fn render_metrics(&self, out: &mut String) {
        let (window_bytes, window_writes) = {
            let w = lock(&self.window);
            (w.bytes(), w.len() as u64)
        };
        let dead_letter_bytes = lock(&self.dead).bytes();
        let g = {
            let c = self.core();
            let age = c.oldest_ms.filter(|_| c.has_records()).map_or(0.0, |t| (now_ms() - t).max(0) as f64 / 1000.0);
            metrics::Gauges {
                bytes: c.bytes,
                segments: c.segments,
                pending_points: c.missing(c.total),
                acknowledged_points: c.total.acked,
                oldest_age_seconds: age,
                window_bytes,
                window_writes,
                unconfirmed_batches: c.unconfirmed.len() as u64,
                dead_letter_bytes,
                store_down: c.store_down,
            }
        };
        self.counters.render(&g, out);
    }

    /// Runs a store call under `backend.timeout`.
    async fn call<T>(&self, what: &str, fut: impl std::future::Future<Output = crate::backend::Result<T>>) -> crate::backend::Result<T> {
        match self.settings.store_timeout {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .unwrap_or_else(|_| Err(BackendError::Timeout(format!("{what} did not finish within {}s", d.as_secs_f64())))),
            None => fut.await,
        }
    }

    fn set_store_down(&self, down: bool) {
        self.core().store_down = down;
    }
}
