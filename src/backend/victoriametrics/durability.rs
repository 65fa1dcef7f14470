//! What the write spool needs to know of VictoriaMetrics (see `crate::spool`).
//!
//! VictoriaMetrics 1.79 acknowledges `/write` once the samples are buffered in memory. It moves
//! buffered rows into in-memory parts every second (`/internal/force_flush` does it at once, which
//! makes them searchable) and writes in-memory parts older than 5 s to disk on a 5 s ticker, so an
//! acknowledged sample survives a `kill -9` of VictoriaMetrics only after 5–11 s (measured: samples
//! flushed with `force_flush` were all lost when VictoriaMetrics was killed 7.5 s later in one phase
//! of the ticker and all kept 10.5 s later in every phase; without `force_flush`, 11.5 s). Newer
//! versions flush every `-inmemoryDataFlushInterval` (5 s). Hence the spool's durability window.
//!
//! * [`VictoriaMetricsBackend::instance`]: an id of the running process: its start time,
//!   `vm_app_start_timestamp` in its `/metrics` (whole seconds), × 1000, plus a count of
//!   processes taken to be replaced within their first seconds: one that was unreachable since the
//!   last check while at most 2 s old may have been replaced by one started in the same second,
//!   which its start time cannot tell (its counters cannot either: VictoriaMetrics caches its
//!   `/metrics` for a second). A restart within the first second of a process that nothing saw
//!   unreachable goes unnoticed;
//! * [`VictoriaMetricsBackend::precheck`]: the checks `write` makes before calling
//!   VictoriaMetrics (retention policy, values, label sets), for a write spooled while it is down.

use async_trait::async_trait;

use super::{checks, labels::LabelLimits, read_bounded, VictoriaMetricsBackend};
use crate::backend::{BackendError, Result, WriteBatch};

/// The largest `/metrics` answer read for the start time.
const MAX_METRICS: usize = 16 << 20;

/// What the last instance check saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The process's start time, Unix seconds.
    started: u64,
    /// When checked, Unix ms.
    at_ms: i64,
    /// Replacements of a process by one started in the same second, seen so far.
    again: u64,
}

impl Seen {
    /// The next observation, from the previous one; `unreachable_ms`: when VictoriaMetrics last
    /// could not be reached (0: never).
    fn next(prev: Option<Seen>, started: u64, at_ms: i64, unreachable_ms: i64) -> Seen {
        let young = i64::try_from(started).unwrap_or(i64::MAX).saturating_add(2).saturating_mul(1000);
        let again = match prev {
            Some(p) if p.started != started => 0,
            // Unreachable since the last check while this process was at most 2 s old: it may
            // have been replaced by one started in the same second (which the start time cannot
            // tell); taken as another process (at worst, writes are written twice).
            Some(p) if unreachable_ms > p.at_ms && unreachable_ms < young => p.again + 1,
            Some(p) => p.again,
            None => 0,
        };
        Seen { started, at_ms, again }
    }

    fn id(&self) -> u64 {
        self.started.saturating_mul(1000).saturating_add(self.again.min(999))
    }
}

/// The value of a sample line `name value` in a Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

impl VictoriaMetricsBackend {
    /// An id of the running VictoriaMetrics process: its start time (Unix seconds).
    pub async fn instance(&self) -> Result<u64> {
        let inner = &self.inner;
        // One check at a time (see `Seen`).
        let mut seen = inner.instance_seen.lock().await;
        let rb = inner.client.get(format!("{}/metrics", inner.base)).timeout(inner.opts.timeout);
        let resp = inner.request(rb, "/metrics").await?;
        let status = resp.status();
        if !status.is_success() {
            let msg = format!("victoriametrics /metrics: {status}");
            return Err(match status.as_u16() {
                500..=599 => BackendError::Unavailable(msg),
                _ => BackendError::Internal(msg),
            });
        }
        let body = read_bounded(resp, MAX_METRICS, true, "/metrics", inner.opts.timeout).await?;
        let text = String::from_utf8_lossy(&body);
        let started = sample(&text, "vm_app_start_timestamp").or_else(|| sample(&text, "process_start_time_seconds"));
        let Some(started) = started.filter(|t| t.is_finite() && *t > 0.0) else {
            return Err(BackendError::Internal("victoriametrics /metrics shows no vm_app_start_timestamp".into()));
        };
        let at_ms = chrono::Utc::now().timestamp_millis();
        let now = Seen::next(*seen, started as u64, at_ms, inner.unreachable_ms.load(std::sync::atomic::Ordering::Relaxed));
        *seen = Some(now);
        Ok(now.id())
    }

    /// The checks [`write`](super::write) makes before sending anything, made without calling
    /// VictoriaMetrics (label bounds as last read from its flags, else its defaults).
    pub fn precheck(&self, batch: &WriteBatch) -> Result<()> {
        self.check_write_rp(batch.rp.as_deref())?;
        let limits = self
            .inner
            .write_setup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or_else(LabelLimits::default, |s| s.limits);
        checks::check_points(&self.inner, batch, &limits)
    }
}

#[async_trait]
impl crate::spool::Remote for VictoriaMetricsBackend {
    async fn instance(&self) -> Result<u64> {
        VictoriaMetricsBackend::instance(self).await
    }

    fn precheck(&self, batch: &WriteBatch) -> Result<()> {
        VictoriaMetricsBackend::precheck(self, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_within_the_same_second_is_another_instance() {
        let a = Seen::next(None, 100, 100_300, 0);
        let b = Seen::next(Some(a), 100, 100_600, 0);
        assert_eq!(a.id(), b.id(), "the same process");
        let c = Seen::next(Some(b), 100, 100_900, 100_700);
        assert_ne!(c.id(), b.id(), "unreachable while young: taken as another process");
        let d = Seen::next(Some(c), 100, 105_000, 104_000);
        assert_eq!(d.id(), c.id(), "unreachable when older: its start time tells");
        let e = Seen::next(Some(d), 104, 105_500, 104_000);
        assert_eq!(e.id(), 104_000);
    }

    #[test]
    fn start_time_from_metrics() {
        let text = "vm_app_start_timestamp_x 5\nvm_app_start_timestamp 1796300221\nprocess_start_time_seconds 1796300220\nvm_http_requests_total{path=\"/metrics\"} 3\n";
        assert_eq!(sample(text, "vm_http_requests_total{path=\"/metrics\"}"), Some(3.0));
        assert_eq!(sample(text, "vm_app_start_timestamp"), Some(1796300221.0));
        assert_eq!(sample(text, "process_start_time_seconds"), Some(1796300220.0));
        assert_eq!(sample("vm_app_start_timestamp_x 5\n", "vm_app_start_timestamp"), None);
    }
}
