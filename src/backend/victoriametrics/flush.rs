//! Read-your-writes without a flush per write.
//!
//! VictoriaMetrics acknowledges `/write` once the samples are buffered; they become searchable when
//! its buffers are moved into in-memory parts, once a second or at once on `/internal/force_flush`.
//! InfluxDB 1.x answers a query with every write acknowledged before it, so influxgate flushed after
//! every write (a flush per request costs VictoriaMetrics about as much as a small write). Now a
//! write only notes that it left unflushed samples, and the first request that reads from
//! VictoriaMetrics after it flushes once, for all the writes before it:
//!
//! * every write, once VictoriaMetrics acknowledged a piece of it, raises `written`;
//! * a read (any request other than a write or a flush: series lists, exports, label values,
//!   deletes) first compares `written` with `flushed`, the `written` value read *before* the last
//!   completed flush was sent. If `flushed` is behind, it flushes (one flush at a time; those
//!   waiting re-check when it ends, so concurrent reads share one flush) and only then reads.
//!
//! The guarantee: a read that starts after a write was acknowledged to the client sees that write,
//! as with a flush per write, because its flush was sent after VictoriaMetrics had acknowledged
//! the write. A stream of writes with no reads costs no flush at all; VictoriaMetrics makes them
//! searchable within about a second by itself.
//!
//! What one process knows is its own writes. A process starts *behind* (its first read flushes),
//! so writes acknowledged by an earlier run, or by another influxgate on the same VictoriaMetrics,
//! before it started are seen; a write through another influxgate while this one runs is seen by
//! this one's queries once VictoriaMetrics flushes by itself (about a second), or at its next
//! flush. (With a flush per write, it was seen at once.)

use std::sync::atomic::{AtomicU64, Ordering};

/// VictoriaMetrics' endpoint that makes buffered samples searchable at once.
pub(super) const FORCE_FLUSH: &str = "/internal/force_flush";

/// Whether a request to `path` writes (or flushes) rather than reads: it needs no flush first.
pub(super) fn is_write(path: &str) -> bool {
    path == FORCE_FLUSH || path.starts_with("/write") || path.starts_with("/api/v1/import")
}

/// The write and flush generations (see the module doc).
pub(super) struct Flushes {
    /// Raised after each acknowledged write request.
    written: AtomicU64,
    /// The `written` value read before the last completed flush was sent.
    flushed: AtomicU64,
    /// Flushes sent (for `/metrics`).
    pub(super) sent: AtomicU64,
    /// One flush at a time.
    lock: tokio::sync::Mutex<()>,
}

impl Default for Flushes {
    /// Behind: writes before this process started may not be searchable yet.
    fn default() -> Self {
        Flushes { written: AtomicU64::new(1), flushed: AtomicU64::new(0), sent: AtomicU64::new(0), lock: tokio::sync::Mutex::new(()) }
    }
}

impl Flushes {
    /// Notes that VictoriaMetrics acknowledged a write (its samples may not be searchable yet).
    pub(super) fn note_written(&self) {
        self.written.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether writes acknowledged so far may not be searchable yet.
    fn behind(&self) -> Option<u64> {
        let w = self.written.load(Ordering::SeqCst);
        (self.flushed.load(Ordering::SeqCst) < w).then_some(w)
    }

    /// Runs `flush` if a write acknowledged before this call may not be searchable yet; returns
    /// once a flush sent after every such write has completed.
    pub(super) async fn before_read<F, Fut, E>(&self, flush: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        if self.behind().is_none() {
            return Ok(());
        }
        let _one = self.lock.lock().await;
        // Another read's flush may have covered this read's writes while it waited.
        let Some(w) = self.behind() else { return Ok(()) };
        self.sent.fetch_add(1, Ordering::Relaxed);
        flush().await?;
        self.flushed.fetch_max(w, Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn one_flush_for_many_writes_and_none_without_writes() {
        let f = Flushes::default();
        let calls = AtomicUsize::new(0);
        let flush = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        };
        f.before_read(flush).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the first read flushes what came before the process");
        f.before_read(flush).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "nothing written since, nothing to flush");
        for _ in 0..10 {
            f.note_written();
        }
        f.before_read(flush).await.unwrap();
        f.before_read(flush).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "ten writes, two reads: one flush");
        f.note_written();
        f.before_read(flush).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(f.sent.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn writes_and_reads() {
        for w in ["/write?db=x&precision=ms", "/api/v1/import", FORCE_FLUSH] {
            assert!(is_write(w), "{w}");
        }
        for r in ["/api/v1/export", "/api/v1/series", "/api/v1/labels", "/api/v1/admin/tsdb/delete_series", "/api/v1/query_range"] {
            assert!(!is_write(r), "{r}");
        }
    }

    #[tokio::test]
    async fn a_failed_flush_is_retried_by_the_next_read() {
        let f = Flushes::default();
        f.note_written();
        assert!(f.before_read(|| async { Err::<(), &str>("down") }).await.is_err());
        let calls = AtomicUsize::new(0);
        let flush = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<(), ()>(())
        };
        f.before_read(flush).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
