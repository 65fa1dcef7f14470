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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    use rusqlite::{Connection, OpenFlags};

    use futures::StreamExt;

    use super::super::tests::{batch, opts, pt, scan_req};
    use super::super::{EmbeddedBackend, EmbeddedOptions};
    use crate::backend::Backend;
    use crate::model::FieldValue;

    const MAX: u64 = 1 << 20;

    /// ~250 KB of pages: 1000 points with a 200-byte string each.
    fn big_batch(i: i64) -> crate::backend::WriteBatch {
        let s = "x".repeat(200);
        batch("db", (0..1000).map(|j| pt("m", &[("h", "a")], vec![("s", FieldValue::String(s.clone()))], i * 1000 + j)).collect())
    }

    /// A reader holding an old snapshot keeps the checkpoint from finishing: the WAL still stops
    /// at twice the limit (writes wait instead), and is truncated once the reader is done.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_old_snapshot_delays_writes_not_the_wal_bound() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(EmbeddedBackend::open(dir.path(), EmbeddedOptions { wal_max_bytes: MAX, ..opts() }).unwrap());
        b.write(big_batch(0)).await.unwrap();
        let db = dir.path().join("influxgate.sqlite");
        let wal = dir.path().join("influxgate.sqlite-wal");
        let reader = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let n: i64 = reader.query_row("SELECT count(*) FROM series", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        let (largest, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let writes = {
            let (b, wal, largest, done) = (b.clone(), wal.clone(), largest.clone(), done.clone());
            tokio::spawn(async move {
                for i in 1..=40 {
                    b.write(big_batch(i)).await.unwrap();
                    largest.fetch_max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), Ordering::Relaxed);
                }
                done.store(true, Ordering::Relaxed);
            })
        };
        // 40 batches are ~10 MB of WAL; the writer stops taking them past 2 MB.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while largest.load(Ordering::Relaxed) <= 2 * MAX && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(!done.load(Ordering::Relaxed), "all writes went through while a reader held an old snapshot");
        reader.execute_batch("COMMIT").unwrap();
        writes.await.unwrap();
        let bound = 2 * MAX + (512 << 10);
        assert!(largest.load(Ordering::Relaxed) <= bound, "WAL reached {} > {bound}", largest.load(Ordering::Relaxed));
        assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) <= bound);
    }

    /// A scan whose consumer stops reading (a slow HTTP client) holds no snapshot: writes and
    /// the WAL's truncation go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_scan_holds_no_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let b = EmbeddedBackend::open(dir.path(), EmbeddedOptions { wal_max_bytes: MAX, ..opts() }).unwrap();
        for i in 0..10 {
            b.write(big_batch(i)).await.unwrap();
        }
        // 10 chunks of 1024 rows; the channel holds 4, so the scan thread is left waiting.
        let mut scan = b.scan(scan_req("db", "m", &["s"])).await.unwrap();
        assert!(scan.next().await.is_some());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let wal = dir.path().join("influxgate.sqlite-wal");
        let mut largest = 0;
        let writes = async {
            for i in 10..50 {
                b.write(big_batch(i)).await.unwrap();
                largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            }
        };
        let r = tokio::time::timeout(std::time::Duration::from_secs(20), writes).await;
        assert!(r.is_ok(), "writes stalled behind a scan whose consumer stopped reading");
        assert!(largest <= 2 * MAX + (512 << 10), "WAL reached {largest}");
        drop(scan);
    }
}
