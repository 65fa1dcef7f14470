//! Keeping SQLite's write-ahead log bounded under any read load (`[backend] wal_max_bytes`).
//!
//! # Why SQLite's own checkpoints are not enough
//!
//! A commit appends the pages it changed to the WAL; a checkpoint copies them into the database
//! file. SQLite's automatic checkpoint (PASSIVE, run by the committing connection) copies only
//! the frames no reader still needs and never waits, and the WAL starts over from its beginning
//! only when a commit finds it fully copied and no reader using it. Queries run on their own
//! connections. When they overlap, some reader always holds a snapshot: the WAL never starts over
//! and grows with every commit (520 MB in 30 s of mixed load in the hardening issue; the file
//! is never shrunk either).
//!
//! # What the writer does
//!
//! * SQLite's automatic checkpoint runs at `wal_max_bytes / 2` (in pages), so without readers the
//!   WAL starts over before reaching the limit, and with readers most frames are copied early;
//!   `journal_size_limit = wal_max_bytes` shrinks a file that starts over.
//! * After every commit the writer stats the WAL file. Past `wal_max_bytes` it runs
//!   `PRAGMA wal_checkpoint(TRUNCATE)` with a busy timeout of [`WAIT`]: SQLite copies every frame,
//!   waiting for the readers still on an older snapshot (queries that began before the last
//!   commit), then truncates the WAL to 0 bytes. Queries that start meanwhile read the newest
//!   snapshot: they neither delay the checkpoint nor wait for it ("does not impede readers").
//! * If a query outlasts the wait, the writer goes on and tries again after the next commit, at
//!   most every [`RETRY`]. Once the WAL is past `2 × wal_max_bytes`, it retries before taking any
//!   other job: writes queue (and answer 503 past `backend.timeout`) until the older readers are
//!   done. Readers never hold a snapshot while they wait for a client: a scan ends its statement
//!   before it hands a chunk on (`read.rs`), so a slow client cannot stall the writer.
//!
//! Bound: the WAL file never exceeds `2 × wal_max_bytes` plus the pages of one transaction (a
//! group commit of at most `MAX_GROUP_POINTS` points, or one DDL statement).
//!
//! Durability does not change: a checkpoint copies committed frames only and, with
//! `synchronous` FULL or NORMAL alike, fsyncs the database file before the WAL is reset or
//! truncated; a 204 still means the commit reached the WAL and (with `sync = "full"`) its fsync.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long one checkpoint waits for readers of older snapshots.
pub(crate) const WAIT: Duration = Duration::from_secs(1);
/// Below the hard limit, attempts after a failed one are at least this far apart, so long
/// queries cost the writer at most `WAIT` per `RETRY`.
pub(crate) const RETRY: Duration = Duration::from_secs(2);
/// The writer's busy timeout outside checkpoints.
pub(crate) const BUSY: Duration = Duration::from_secs(10);

pub(crate) struct Checkpointer {
    wal: PathBuf,
    max: u64,
    failed_at: Option<Instant>,
}

impl Checkpointer {
    /// Sets SQLite's automatic checkpoint and journal size limit for `max` (see the module doc).
    pub fn new(conn: &Connection, db_path: &std::path::Path, max: u64) -> rusqlite::Result<Checkpointer> {
        let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages = (max / 2 / page.max(512) as u64).max(1);
        conn.execute_batch(&format!("PRAGMA wal_autocheckpoint = {pages}; PRAGMA journal_size_limit = {max};"))?;
        let mut wal = db_path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Checkpointer { wal: PathBuf::from(wal), max, failed_at: None })
    }

    fn wal_size(&self) -> u64 {
        std::fs::metadata(&self.wal).map(|m| m.len()).unwrap_or(0)
    }

    /// Called after each commit (no transaction open): truncates the WAL when it is past the
    /// limit, and past twice the limit keeps trying until it can.
    pub fn after_commit(&mut self, conn: &Connection) {
        let size = self.wal_size();
        if size <= self.max {
            return;
        }
        let hard = size > self.max.saturating_mul(2);
        if !hard && self.failed_at.is_some_and(|t| t.elapsed() < RETRY) {
            return;
        }
        loop {
            match truncate(conn) {
                Ok(true) => {
                    self.failed_at = None;
                    return;
                }
                Ok(false) => self.failed_at = Some(Instant::now()),
                Err(e) => {
                    tracing::warn!("WAL checkpoint failed: {e}");
                    self.failed_at = Some(Instant::now());
                    return;
                }
            }
            if !hard || self.wal_size() <= self.max.saturating_mul(2) {
                return;
            }
            tracing::debug!("WAL past twice wal_max_bytes: writes wait for readers of older snapshots");
        }
    }
}

/// One `wal_checkpoint(TRUNCATE)` waiting at most [`WAIT`]; true when the WAL was truncated.
fn truncate(conn: &Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(WAIT)?;
    let r = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
    conn.busy_timeout(BUSY)?;
    Ok(r? == 0)
}
