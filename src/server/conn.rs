//! Client connections: how many may be open, how long one may sit idle, what happens at the cap.
//!
//! * **Idle timeout.** A connection serving no request is closed `limits.idle_timeout` after it was
//!   accepted or finished its last response, whether or not part of a next request has arrived.
//!   hyper's `header_timeout` starts only at a request's first byte, so without this an idle socket,
//!   or one trickling a request head, would be held forever. A request is in progress from the moment
//!   hyper hands it to the service until its response body has been sent whole or dropped, so a long
//!   streamed (chunked) answer is never cut. HTTP/1.1 keep-alive and HTTP/2 streams count alike.
//! * **Cap.** At most `limits.max_connections` are open, and never more than the open-file limit
//!   minus [`FD_RESERVE`] (the store's files and connections, the listener, the 503 answers below),
//!   so accepting can never run out of file descriptors. At the cap the connection idle the longest
//!   is closed to make room; when every connection is serving a request, the new one is answered a
//!   minimal `503` with `Retry-After: 1` and a JSON error, and closed (over TLS, closed at once:
//!   that answer would need a handshake first). An attacker holding
//!   `max_connections` idle sockets therefore only ever loses its own oldest ones.
//! * **Send timeout.** An answer its client reads nothing of for `limits.send_timeout` has its
//!   connection closed, which drops the response and stops the query feeding it
//!   ([`super::send_watch`]). Until its last byte is written, an answer keeps its connection from
//!   counting as idle, and the idle time counts from that last byte.
//! * **TLS handshake.** With `[tls]`, a connection takes its slot before its handshake and is
//!   idle during it, so handshakes count against the cap, and a client that never finishes one
//!   holds its slot at most `tls.handshake_timeout` ([`super::tls`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::time::Instant;

use crate::config::LimitsConfig;

use super::limits::config_duration;
use super::send_watch::{QueueProbe, SendProgress, Stall, Watched};
use super::tls::Tls;
use super::{handle, Body, BoxError, State};

/// File descriptors kept free below the open-file limit.
pub const FD_RESERVE: u64 = 256;
/// Connections being answered 503 at once (each for at most [`REJECT_WITHIN`]); more are closed
/// without an answer. Part of [`FD_RESERVE`].
const REJECTING_MAX: usize = 64;
const REJECT_WITHIN: Duration = Duration::from_secs(1);
/// Set in [`Activity::state`] once the connection was chosen to be closed.
const CLOSING: u64 = 1 << 63;

/// The connection cap in effect: `max_connections`, and `open_files - FD_RESERVE` (at least 1).
pub fn effective_cap(max_connections: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => max_connections.min(usize::try_from(n.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX)),
        None => max_connections,
    }
}

/// What one connection is doing, shared by its task, its requests and the registry.
#[derive(Debug)]
struct Activity {
    /// Requests in progress, plus [`CLOSING`].
    state: AtomicU64,
    /// When it last became idle, in nanoseconds since the registry's epoch.
    idle_since: AtomicU64,
    /// Notified when the registry closes it to make room.
    evicted: Notify,
    /// Its writes.
    send: Arc<SendProgress>,
}

impl Activity {
    /// No request in progress and no answer waiting to be written.
    fn is_idle(&self) -> bool {
        self.state.load(Ordering::Acquire) == 0 && !self.send.blocked()
    }

    /// Marks it closing if it is idle; false if a request is in progress (or it is closing already).
    fn try_close(&self) -> bool {
        self.state.compare_exchange(0, CLOSING, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// A request in progress on a connection; dropped when its response body is done.
struct Busy {
    activity: Arc<Activity>,
    epoch: Instant,
}

impl Busy {
    fn new(activity: Arc<Activity>, epoch: Instant) -> Busy {
        activity.state.fetch_add(1, Ordering::AcqRel);
        Busy { activity, epoch }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        // The time first, so that whoever sees the count at 0 sees this time too.
        let now = nanos_since(self.epoch, Instant::now());
        self.activity.idle_since.store(now, Ordering::Release);
        self.activity.state.fetch_sub(1, Ordering::AcqRel);
    }
}

fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// A response body that holds its request's [`Busy`] until it ends or is dropped.
struct TrackedBody {
    inner: Body,
    busy: Option<Busy>,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.busy = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections.
pub struct Connections {
    cap: usize,
    idle_timeout: Duration,
    header_timeout: Duration,
    send_timeout: Duration,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    rejecting: Arc<Semaphore>,
}

/// A connection's place among the open ones; given up on drop.
pub struct Slot {
    conns: Arc<Connections>,
    id: u64,
    activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.lock().remove(&self.id);
    }
}

impl Connections {
    pub fn new(cfg: &LimitsConfig, open_files: Option<u64>) -> Arc<Connections> {
        Arc::new(Connections {
            cap: effective_cap(cfg.max_connections, open_files),
            idle_timeout: config_duration(cfg.idle_timeout),
            header_timeout: config_duration(cfg.header_timeout),
            send_timeout: config_duration(cfg.send_timeout),
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            rejecting: Arc::new(Semaphore::new(REJECTING_MAX)),
        })
    }

    /// The cap in effect.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for a new connection: free, or made by closing the connection idle the longest;
    /// `None` when every open connection is serving a request.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut open = self.lock();
        while open.len() >= self.cap {
            let oldest = open
                .iter()
                .filter(|(_, a)| a.is_idle())
                .min_by_key(|(_, a)| a.idle_since.load(Ordering::Acquire))
                .map(|(id, a)| (*id, a.clone()))?;
            // It may have started a request since: then look again.
            if oldest.1.try_close() {
                open.remove(&oldest.0);
                oldest.1.evicted.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let now = nanos_since(self.epoch, Instant::now());
        let activity = Arc::new(Activity {
            state: AtomicU64::new(0),
            idle_since: AtomicU64::new(now),
            evicted: Notify::new(),
            send: SendProgress::new(self.epoch),
        });
        open.insert(id, activity.clone());
        Some(Slot { conns: self.clone(), id, activity })
    }

    /// Answers a connection that found no place `503 Service Unavailable` and closes it, in the
    /// background and within [`REJECT_WITHIN`] (closed at once when [`REJECTING_MAX`] are already
    /// being answered).
    pub fn reject(&self, stream: TcpStream) {
        let Ok(permit) = self.rejecting.clone().try_acquire_owned() else { return };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REJECT_WITHIN, write_and_drain(stream, &unavailable_answer())).await;
        });
    }

    /// Serves one connection until it ends, is idle for `idle_timeout`, makes no progress sending
    /// an answer for `send_timeout`, is closed to make room, or the server stops (`stop` changes:
    /// in-progress requests are let finish).
    /// With `tls`, the connection's handshake comes first (bounded by `tls.handshake_timeout`,
    /// and given up when the connection is closed to make room or the server stops).
    pub async fn serve(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        state: Arc<State>,
        slot: Slot,
        mut stop: watch::Receiver<bool>,
        tls: Option<Arc<Tls>>,
    ) {
        let queue = QueueProbe::new(&stream);
        let io = Watched::new(stream, slot.activity.send.clone());
        let Some(tls) = tls else { return self.serve_io(io, queue, peer, state, slot, stop).await };
        let handshake = tokio::select! {
            r = tls.accept(io) => r,
            _ = slot.activity.evicted.notified() => return,
            _ = stop.changed() => return,
        };
        match handshake {
            Ok(io) => self.serve_io(io, queue, peer, state, slot, stop).await,
            Err(e) => {
                super::metrics::Metrics::add(&state.metrics.tls_handshake_failures, 1);
                tracing::debug!(%peer, "TLS handshake failed: {e}");
            }
        }
    }

    async fn serve_io<I>(&self, io: I, queue: QueueProbe, peer: SocketAddr, state: Arc<State>, slot: Slot, mut stop: watch::Receiver<bool>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (activity, epoch) = (slot.activity.clone(), self.epoch);
        let svc = hyper::service::service_fn(move |req| {
            let state = state.clone();
            let busy = Busy::new(activity.clone(), epoch);
            async move {
                let resp = handle(state, req).await;
                Ok::<_, Infallible>(resp.map(|inner| TrackedBody { inner, busy: Some(busy) }.boxed_unsync()))
            }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.header_timeout);
        builder.http2().timer(TokioTimer::new());
        let conn = builder.serve_connection(TokioIo::new(io), svc);
        let mut conn = std::pin::pin!(conn);
        let activity = &slot.activity;
        let mut stall = Stall::default();
        let mut check_at = Instant::now() + self.idle_timeout.min(self.send_look_every());
        let res = loop {
            tokio::select! {
                r = conn.as_mut() => break r,
                _ = activity.evicted.notified() => break Ok(()),
                _ = tokio::time::sleep_until(check_at) => match self.look(activity, &mut stall, queue) {
                    Some(t) => check_at = t,
                    None => break Ok(()),
                },
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    break conn.as_mut().await;
                }
            }
        };
        if let Err(e) = res {
            tracing::debug!(%peer, "connection ended with error: {e}");
        }
    }

    /// How often a connection is looked at for a stalled answer.
    fn send_look_every(&self) -> Duration {
        (self.send_timeout / 4).max(Duration::from_millis(1))
    }

    /// Looks at a connection: when to look again, or `None` when it is to be closed — its answer
    /// made no progress for `send_timeout`, or it has been idle for `idle_timeout` (counted from
    /// its last request's end or its last byte written, whichever is later; it is now closing).
    fn look(&self, activity: &Activity, stall: &mut Stall, queue: QueueProbe) -> Option<Instant> {
        let now = Instant::now();
        let unsent = if activity.send.blocked() { queue.unsent() } else { None };
        let stalled = stall.look(&activity.send, unsent, now);
        if stalled >= self.send_timeout {
            tracing::info!("closing a connection whose client read nothing of its answer for {stalled:?} (send_timeout)");
            return None;
        }
        let next = now + self.send_look_every();
        if !activity.is_idle() {
            return Some(next);
        }
        let last = activity.idle_since.load(Ordering::Acquire).max(activity.send.last_write());
        let due = self.epoch + Duration::from_nanos(last) + self.idle_timeout;
        if now < due {
            return Some(due.min(next));
        }
        if activity.try_close() {
            None
        } else {
            Some(next)
        }
    }
}

/// The whole answer to a connection refused at the cap.
fn unavailable_answer() -> Vec<u8> {
    let msg = "too many open connections; retry later";
    let body = serde_json::json!({ "code": "unavailable", "message": msg, "error": msg }).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n\
         X-Influxdb-Error: {msg}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes a whole answer, then closes the connection.
pub async fn write_and_drain<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) -> std::io::Result<()> {
    stream.write_all(answer).await?;
    stream.shutdown().await?;
    // Read what the client sent until it closes (closing with unread data would reset the
    // connection and could destroy the answer before the client reads it).
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    while total < 64 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n;
    }
    Ok(())
}

/// The soft open-file limit, after raising it to the hard limit (Go's runtime does this at start
/// since Go 1.19, so InfluxDB and other Go servers run with the hard limit). `None` where unknown.
#[cfg(unix)]
#[allow(clippy::useless_conversion)] // rlim_t is u64 on Linux, not on every unix
pub fn raise_open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Some(u64::from(lim.rlim_cur))
}

/// The soft open-file limit now; `None` where unknown.
#[cfg(unix)]
#[allow(clippy::useless_conversion)] // rlim_t is u64 on Linux, not on every unix
pub fn open_file_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given, which lives for the call.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then(|| u64::from(lim.rlim_cur))
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(not(unix))]
pub fn open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(max: usize) -> Arc<Connections> {
        Connections::new(&LimitsConfig { max_connections: max, ..LimitsConfig::default() }, None)
    }

    #[test]
    fn cap_follows_the_open_file_limit() {
        assert_eq!(effective_cap(4096, None), 4096);
        assert_eq!(effective_cap(4096, Some(1024)), 768);
        assert_eq!(effective_cap(100, Some(1 << 20)), 100);
        assert_eq!(effective_cap(4096, Some(100)), 1);
        assert_eq!(effective_cap(4096, Some(u64::MAX)), 4096);
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_makes_room() {
        let c = conns(3);
        let a = c.admit().unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let b = c.admit().unwrap();
        let d = c.admit().unwrap();
        // `a` is serving a request: `b`, idle the longest after it, is closed instead.
        let busy = Busy::new(a.activity.clone(), c.epoch);
        let e = c.admit().unwrap();
        assert_eq!(c.open(), 3);
        assert_eq!(b.activity.state.load(Ordering::Acquire), CLOSING);
        assert_eq!(a.activity.state.load(Ordering::Acquire), 1);
        // Every open connection busy: no place.
        let _busy = [Busy::new(d.activity.clone(), c.epoch), Busy::new(e.activity.clone(), c.epoch)];
        assert!(c.admit().is_none());
        drop(busy);
        // `a` finished its request: now it is the one idle, and it makes room.
        let _f = c.admit().unwrap();
        assert_eq!(a.activity.state.load(Ordering::Acquire), CLOSING);
        drop((a, b));
        assert_eq!(c.open(), 3);
    }

    #[tokio::test]
    async fn idle_deadline_counts_from_the_last_answer() {
        let c = Connections::new(&LimitsConfig { idle_timeout: 50_000_000, ..LimitsConfig::default() }, None);
        let s = c.admit().unwrap();
        let t0 = Instant::now();
        let (mut stall, queue) = (Stall::default(), QueueProbe::default());
        let due = c.look(&s.activity, &mut stall, queue).unwrap();
        assert!(due > t0 && due <= t0 + Duration::from_millis(50), "{:?}", due - t0);
        let busy = Busy::new(s.activity.clone(), c.epoch);
        tokio::time::sleep(Duration::from_millis(60)).await;
        // Busy past the timeout: not closed.
        assert!(c.look(&s.activity, &mut stall, queue).is_some());
        drop(busy);
        let due = c.look(&s.activity, &mut stall, queue).unwrap();
        assert!(due >= Instant::now() + Duration::from_millis(40));
        tokio::time::sleep_until(due).await;
        assert!(c.look(&s.activity, &mut stall, queue).is_none());
        assert_eq!(s.activity.state.load(Ordering::Acquire), CLOSING);
    }
}
