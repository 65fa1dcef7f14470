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
//! * [`VictoriaMetricsBackend::instance`]: the running process's start time,
//!   `vm_app_start_timestamp` in its `/metrics` (seconds), which changes when it restarts;
//! * [`VictoriaMetricsBackend::precheck`]: the checks `write` makes before calling
//!   VictoriaMetrics (retention policy, values, label sets), for a write spooled while it is down.

use async_trait::async_trait;

use super::{checks, labels::LabelLimits, net_err, read_bounded, VictoriaMetricsBackend};
use crate::backend::{BackendError, Result, WriteBatch};

/// The largest `/metrics` answer read for the start time.
const MAX_METRICS: usize = 16 << 20;

/// The value of a sample line `name value` in a Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

impl VictoriaMetricsBackend {
    /// An id of the running VictoriaMetrics process: its start time (Unix seconds).
    pub async fn instance(&self) -> Result<u64> {
        let inner = &self.inner;
        let resp = inner
            .client
            .get(format!("{}/metrics", inner.base))
            .timeout(inner.opts.timeout)
            .send()
            .await
            .map_err(|e| net_err(e, "/metrics"))?;
        let status = resp.status();
        if !status.is_success() {
            let msg = format!("victoriametrics /metrics: {status}");
            return Err(match status.as_u16() {
                502..=504 => BackendError::Unavailable(msg),
                _ => BackendError::Internal(msg),
            });
        }
        let body = read_bounded(resp, MAX_METRICS, true, "/metrics", inner.opts.timeout).await?;
        let text = String::from_utf8_lossy(&body);
        let started = sample(&text, "vm_app_start_timestamp").or_else(|| sample(&text, "process_start_time_seconds"));
        match started {
            Some(t) if t.is_finite() && t > 0.0 => Ok(t as u64),
            _ => Err(BackendError::Internal("victoriametrics /metrics shows no vm_app_start_timestamp".into())),
        }
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
    fn start_time_from_metrics() {
        let text = "vm_app_start_timestamp_x 5\nvm_app_start_timestamp 1796300221\nprocess_start_time_seconds 1796300220\n";
        assert_eq!(sample(text, "vm_app_start_timestamp"), Some(1796300221.0));
        assert_eq!(sample(text, "process_start_time_seconds"), Some(1796300220.0));
        assert_eq!(sample("vm_app_start_timestamp_x 5\n", "vm_app_start_timestamp"), None);
    }
}
