//! Whether a connection's answer is still reaching its client: the bound `limits.send_timeout`.
//!
//! A client that stops reading leaves the server's writes pending once the socket's send buffer is
//! full; without a bound, the request (its in-flight slot, the query feeding the answer) would be
//! held forever, since a request in progress is never idle. [`Watched`] wraps the socket and
//! records every write: bytes written, the time of the last one, and whether the last attempt
//! found the socket full. While it is full, [`Stall`] counts as progress any byte written and any
//! byte the client took from the socket's queue (Linux's `SIOCOUTQ`, bytes not yet acknowledged:
//! it shrinks as the client reads, long before the kernel lets the server write again), so a slow
//! reader is never cut, however large the buffers; a client that takes nothing for
//! `send_timeout` is. The connection task looks every `send_timeout / 4`, so a stalled connection
//! is closed between `send_timeout` and 1.25 × `send_timeout` after its last progress. A query
//! still computing its answer writes nothing and is not blocked, so it is not cut either.
//!
//! Not covered: an HTTP/2 client that keeps reading the connection but withholds flow-control
//! credit from one stream (its socket never fills); that stream stays within its token's
//! in-flight slots.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the writes of one connection have done so far.
#[derive(Debug)]
pub struct SendProgress {
    epoch: Instant,
    written: AtomicU64,
    /// When the last byte was written, in nanoseconds since `epoch`.
    last_write: AtomicU64,
    /// The last write found the socket full (the answer is waiting for the client).
    blocked: AtomicBool,
}

impl SendProgress {
    pub fn new(epoch: Instant) -> Arc<SendProgress> {
        Arc::new(SendProgress {
            epoch,
            written: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            blocked: AtomicBool::new(false),
        })
    }

    fn record(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Pending => self.blocked.store(true, Ordering::Release),
            Poll::Ready(Ok(n)) if *n > 0 => {
                let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.last_write.store(now, Ordering::Release);
                self.written.fetch_add(*n as u64, Ordering::AcqRel);
                self.blocked.store(false, Ordering::Release);
            }
            Poll::Ready(_) => self.blocked.store(false, Ordering::Release),
        }
    }

    /// Whether an answer is waiting for the client to read.
    pub fn blocked(&self) -> bool {
        self.blocked.load(Ordering::Acquire)
    }

    /// When the last byte was written, in nanoseconds since the epoch it was made with.
    pub fn last_write(&self) -> u64 {
        self.last_write.load(Ordering::Acquire)
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }
}

/// A socket whose writes are recorded in a [`SendProgress`].
pub struct Watched<S> {
    inner: S,
    progress: Arc<SendProgress>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, progress: Arc<SendProgress>) -> Watched<S> {
        Watched { inner, progress }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress.record(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress.record(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How long a blocked answer has made no progress, kept by the connection task between looks.
#[derive(Debug, Default)]
pub struct Stall {
    written: u64,
    unsent: Option<u64>,
    since: Option<Instant>,
}

impl Stall {
    /// Looks at the connection at `now` (`unsent`: bytes in its socket's send queue, where
    /// known); how long its answer has been blocked without progress (zero when not blocked).
    pub fn look(&mut self, progress: &SendProgress, unsent: Option<u64>, now: Instant) -> Duration {
        let written = progress.written();
        let drained = matches!((unsent, self.unsent), (Some(u), Some(before)) if u < before);
        let moved = written != self.written || drained;
        self.written = written;
        self.unsent = unsent;
        if !progress.blocked() {
            self.since = None;
            return Duration::ZERO;
        }
        let since = match self.since {
            Some(t) if !moved => t,
            _ => *self.since.insert(now),
        };
        now.saturating_duration_since(since)
    }
}

/// Reads how many bytes wait in a socket's send queue, not yet acknowledged by the peer (Linux's
/// `SIOCOUTQ`; `None` elsewhere, and for the default probe, which has no socket). To be called
/// only while the socket is open.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueProbe {
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::RawFd>,
}

impl QueueProbe {
    pub fn new(stream: &tokio::net::TcpStream) -> QueueProbe {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            QueueProbe { fd: Some(stream.as_raw_fd()) }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = stream;
            QueueProbe {}
        }
    }

    #[cfg(target_os = "linux")]
    pub fn unsent(&self) -> Option<u64> {
        let fd = self.fd?;
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int through the pointer it is given, which
        // lives for the call; the fd is the connection's socket, open while its task runs.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
        (rc == 0).then(|| u64::try_from(n).unwrap_or(0))
    }

    #[cfg(not(target_os = "linux"))]
    pub fn unsent(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_counts_from_the_last_progress_while_blocked() {
        let t0 = Instant::now();
        let p = SendProgress::new(t0);
        let mut s = Stall::default();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        p.record(&Poll::Ready(Ok(100)));
        assert_eq!(s.look(&p, Some(0), at(10)), Duration::ZERO);
        // Blocked: counted from the first look that sees it, as long as nothing moves.
        p.record(&Poll::Pending);
        assert_eq!(s.look(&p, Some(500), at(20)), Duration::ZERO);
        assert_eq!(s.look(&p, Some(500), at(70)), Duration::from_millis(50));
        // The client read some (the queue shrank): progress, though nothing was written.
        assert_eq!(s.look(&p, Some(400), at(80)), Duration::ZERO);
        assert_eq!(s.look(&p, Some(400), at(130)), Duration::from_millis(50));
        // A write got through, then the socket filled again: progress.
        p.record(&Poll::Ready(Ok(10)));
        p.record(&Poll::Pending);
        assert_eq!(s.look(&p, Some(410), at(140)), Duration::ZERO);
        // Unknown queue (not Linux): only writes count.
        assert_eq!(s.look(&p, None, at(190)), Duration::from_millis(50));
        // Not blocked: no stall.
        p.record(&Poll::Ready(Ok(1)));
        assert_eq!(s.look(&p, None, at(500)), Duration::ZERO);
        assert_eq!(p.written(), 111);
    }
}
