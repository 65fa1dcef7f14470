//! The write path through the spool: to the store, or to disk behind what is spooled already.
//!
//! [`Spool::write`]: while the spool holds records (or is being replayed) the write is spooled
//! behind them, after the store's own checks ([`Remote::precheck`](super::Remote)); otherwise
//! it goes to the store, and is spooled only if the store fails (unreachable, timeout, 5xx). An
//! acknowledged write enters the durability window ([`window`](super::window)). Every append
//! first moves the window's writes to the spool (they are older than the write being spooled), so
//! the spool keeps the order in which writes were acknowledged.
//!
//! An append is written and `fdatasync`ed before [`Spool::write`] returns (the caller answers
//! 204 only then). Appends run one at a time on a blocking thread. The one exception is the
//! window's overflow while the store is up (a window over `window_max_bytes`): those writes the
//! store acknowledged are only kept in case it crashes before making them durable, which the
//! window in memory covers no better, so they are written without `fdatasync` (the next synced
//! append syncs them first; see [`Log::append`]). Bodies are written as they are held, not copied
//! into a frame.

use std::sync::Arc;
use std::time::Duration;

use super::log::Log;
use super::metrics::add;
use super::record::{Entry, Framed, Kind, Record};
use super::window::Acked;
use super::{lock, now_ms, Spool};
use crate::backend::{BackendError, Origin, RawBody, WriteBatch, WriteOutcome};

/// What became of a write.
#[derive(Debug)]
pub enum Written {
    /// The store took it.
    Stored(WriteOutcome),
    /// It is on disk in the spool; `cause`: the store's failure that sent it there (none when it
    /// queued behind spooled writes).
    Spooled { cause: Option<BackendError> },
}

#[derive(Debug)]
pub enum SpoolError {
    /// The store refused the write (a 4xx), or failed in a way spooling does not cover.
    Store(BackendError),
    /// The spool is at `max_bytes`: 503, come back later.
    Full { message: String, retry_after: Duration },
    /// The spool's files failed (disk full, ...): 503, nothing was acknowledged.
    Io(String),
}

/// Spooled bytes are written and synced in pieces of about this size (bounds the frame headers
/// held at once, and how long the core's counts lag the disk).
const APPEND_PIECE: u64 = 16 << 20;

impl Spool {
    /// Writes a checked batch (`entry` is its body and parameters) to the store or the spool.
    pub async fn write(self: &Arc<Self>, entry: Entry, batch: WriteBatch) -> Result<Written, SpoolError> {
        if self.core().queueing {
            if let Some(r) = &self.remote {
                r.precheck(&batch).map_err(SpoolError::Store)?;
            }
            drop(batch);
            self.spool(entry, None).await?;
            return Ok(Written::Spooled { cause: None });
        }
        self.make_room().await?;
        let body = RawBody { bytes: entry.body.clone(), precision: entry.precision };
        match self.call("write", self.store.write_body(batch, body)).await {
            Ok(o) => {
                self.remember(entry).await;
                Ok(Written::Stored(o))
            }
            Err(e) if e.origin() == Origin::Upstream => {
                self.set_store_down(true);
                tracing::warn!(error = %e, "store write failed: spooling the write");
                self.spool(entry, Some(&e)).await?;
                Ok(Written::Spooled { cause: Some(e) })
            }
            Err(e) => Err(SpoolError::Store(e)),
        }
    }

    async fn spool(self: &Arc<Self>, entry: Entry, cause: Option<&BackendError>) -> Result<(), SpoolError> {
        let points = u64::from(entry.points);
        let rec = Record { kind: Kind::Write, time_ms: now_ms(), entry };
        match self.append(vec![rec]).await {
            Ok(()) => {
                add(&self.counters.spooled_writes, 1);
                add(&self.counters.spooled_points, points);
                Ok(())
            }
            Err(SpoolError::Full { message, retry_after }) => {
                add(&self.counters.full_refusals, 1);
                let message = match cause {
                    Some(e) => format!("{e}; {message}"),
                    None => message,
                };
                Err(SpoolError::Full { message, retry_after })
            }
            Err(e) => Err(e),
        }
    }

    /// Keeps an acknowledged write until the store has made it durable (with a store that needs
    /// that); a window over its bound sends its older half to disk.
    async fn remember(self: &Arc<Self>, entry: Entry) {
        if !self.checking() {
            return;
        }
        let instance = self.core().instance.unwrap_or(0);
        lock(&self.window).push(Acked { entry, time_ms: now_ms(), instance });
        // A full spool leaves the window over its bound: the next writes wait (`make_room`).
        let _ = self.make_room().await;
    }

    /// A window over `window_max_bytes` sends its older half to the spool. If the spool is full
    /// too, the write is answered 503 before it reaches the store (it could not be kept until
    /// durable): memory stays within `window_max_bytes` plus the writes in flight.
    async fn make_room(self: &Arc<Self>) -> Result<(), SpoolError> {
        if lock(&self.window).bytes() <= self.settings.window_max_bytes {
            return Ok(());
        }
        match self.append_taking(Vec::new(), Some(self.settings.window_max_bytes / 2)).await {
            Err(SpoolError::Full { message, retry_after }) => {
                add(&self.counters.full_refusals, 1);
                Err(SpoolError::Full { message: format!("acknowledged writes cannot be kept until the store made them durable: {message}"), retry_after })
            }
            other => other,
        }
    }

    /// Moves the durability window to the spool (the store may have lost its writes).
    pub(super) async fn spill(self: &Arc<Self>) {
        if lock(&self.window).is_empty() {
            return;
        }
        if let Err(e) = self.append(Vec::new()).await {
            tracing::warn!("spool: cannot move acknowledged writes to disk yet: {e:?}");
        }
    }

    /// Appends the window's writes, then `new`, on a blocking thread.
    pub(super) async fn append(self: &Arc<Self>, new: Vec<Record>) -> Result<(), SpoolError> {
        self.append_taking(new, None).await
    }

    /// [`Spool::append`] taking only the window's oldest writes down to `keep` bytes, if given.
    async fn append_taking(self: &Arc<Self>, new: Vec<Record>, keep: Option<u64>) -> Result<(), SpoolError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut log = lock(&me.log);
            me.append_locked(&mut log, new, keep)
        })
        .await
        .map_err(|e| SpoolError::Io(format!("spool append task failed: {e}")))?
    }

    /// [`Spool::append_taking`] with the log locked. New writes (not acknowledged by the store)
    /// make later writes queue behind them; acknowledged ones do not.
    pub(super) fn append_locked(&self, log: &mut Log, new: Vec<Record>, keep: Option<u64>) -> Result<(), SpoolError> {
        let taken = match keep {
            None => lock(&self.window).take(),
            Some(keep) => lock(&self.window).take_oldest(keep),
        };
        let queue = !new.is_empty();
        // Only the window's overflow, taken while the store is up, is written without a sync: it
        // replaces memory (the window), whose writes a crash of influxgate loses as well, and is
        // deleted once the store made it durable, mostly before the kernel writes it out. What
        // is spooled because the store failed or restarted, or at shutdown, is synced.
        let sync = keep.is_none();
        let mut records: Vec<Record> = taken
            .iter()
            .map(|a| Record { kind: Kind::Acked { instance: a.instance }, time_ms: a.time_ms, entry: a.entry.clone() })
            .collect();
        records.extend(new);
        if records.is_empty() {
            return Ok(());
        }
        let n: u64 = records.iter().map(Record::framed_len).sum();
        if log.bytes() + n > self.settings.max_bytes {
            lock(&self.window).put_back(taken);
            self.core().full = true;
            let retry_after = self.settings.backoff_max.max(Duration::from_secs(1));
            return Err(SpoolError::Full {
                message: format!(
                    "the write spool is full ({} of max_bytes {} bytes): retry later",
                    log.bytes(),
                    self.settings.max_bytes
                ),
                retry_after,
            });
        }
        let mut written = 0usize;
        while written < records.len() {
            let mut size = 0u64;
            let piece: Vec<Framed> = records[written..]
                .iter()
                .take_while(|r| {
                    let ok = size == 0 || size + r.framed_len() <= APPEND_PIECE;
                    size += r.framed_len();
                    ok
                })
                .map(Record::framed)
                .collect();
            let end = match log.append(&piece, sync) {
                Ok(end) => end,
                Err(e) => {
                    // What was not written stays in the window (for acknowledged writes) or is
                    // refused (the new write: its client gets an error, not a 204).
                    let unwritten = taken.into_iter().skip(written).collect::<Vec<Acked>>();
                    lock(&self.window).put_back(unwritten);
                    tracing::error!("spool: cannot append to {}: {e}", log.dir().display());
                    return Err(SpoolError::Io(format!("cannot write to the spool: {e}")));
                }
            };
            let mut c = self.core();
            for r in &records[written..written + piece.len()] {
                c.add_pending(&r.entry.db, u64::from(r.entry.points), matches!(r.kind, Kind::Acked { .. }));
            }
            if c.oldest_ms.is_none() {
                c.oldest_ms = Some(records[written].time_ms);
            }
            c.end = end;
            c.bytes = log.bytes();
            c.segments = log.segment_count() as u64;
            c.queueing |= queue;
            c.full = false;
            written += piece.len();
        }
        self.wake.notify_one();
        Ok(())
    }
}
