//! Counters and latency histograms, exposed at `/metrics` in the Prometheus text format.
//! `/metrics` needs no token (as 1.x's own `/metrics`); it reveals counts only, no data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    pub points_written: AtomicU64,
    pub write_bytes: AtomicU64,
    pub rate_limited: AtomicU64,
    pub overloaded: AtomicU64,
    /// Requests over their token's rates answered 503 (`on_limit`).
    pub throttle_unavailable: AtomicU64,
    /// Requests held for their token's rates (`on_limit = "delay"`), and for how long in all.
    pub throttle_held: AtomicU64,
    pub throttle_held_ns: AtomicU64,
    pub backend_errors: AtomicU64,
    pub auth_failures: AtomicU64,
    /// TLS handshakes that failed or timed out, plain HTTP to the HTTPS port included.
    pub tls_handshake_failures: AtomicU64,
    /// Certificate reloads done, and refused (the previous pair kept).
    pub tls_reloads: AtomicU64,
    pub tls_reload_failures: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((endpoint, status)).or_insert(0) += 1;
        }
        let secs = elapsed.as_secs_f64();
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(endpoint).or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
        match status {
            429 => {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            503 => {
                self.overloaded.fetch_add(1, Ordering::Relaxed);
            }
            401 | 403 => {
                self.auth_failures.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The exposition text. `inflight` and `buffered` are gauges read by the caller.
    pub fn render(&self, inflight: usize, buffered: u64, backend: &[crate::backend::BackendCounter]) -> String {
        let mut s = String::with_capacity(4096);
        s.push_str("# HELP influxgate_http_requests_total HTTP requests by endpoint and status.\n");
        s.push_str("# TYPE influxgate_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((ep, status), n) in m.iter() {
                let _ = writeln!(s, "influxgate_http_requests_total{{endpoint=\"{ep}\",status=\"{status}\"}} {n}");
            }
        }
        s.push_str("# HELP influxgate_http_request_duration_seconds Request latency by endpoint.\n");
        s.push_str("# TYPE influxgate_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (ep, h) in m.iter() {
                for (i, le) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "influxgate_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"{le}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    s,
                    "influxgate_http_request_duration_seconds_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(s, "influxgate_http_request_duration_seconds_sum{{endpoint=\"{ep}\"}} {}", h.sum);
                let _ = writeln!(s, "influxgate_http_request_duration_seconds_count{{endpoint=\"{ep}\"}} {}", h.count);
            }
        }
        let counters: [(&str, &str, &AtomicU64); 11] = [
            ("influxgate_points_written_total", "Points written to the backend.", &self.points_written),
            ("influxgate_write_bytes_total", "Decompressed /write body bytes accepted.", &self.write_bytes),
            ("influxgate_rate_limited_total", "Requests refused with 429 (per-token quota).", &self.rate_limited),
            (
                "influxgate_overloaded_total",
                "Requests refused with 503 (capacity, backend unavailable, or a token's rates as on_limit says).",
                &self.overloaded,
            ),
            (
                "influxgate_rate_limited_unavailable_total",
                "Requests over their token's rates answered 503 (on_limit; Telegraf's by default).",
                &self.throttle_unavailable,
            ),
            (
                "influxgate_rate_limit_held_total",
                "Requests held for their token's rates (on_limit = \"delay\").",
                &self.throttle_held,
            ),
            ("influxgate_backend_errors_total", "Backend calls that failed.", &self.backend_errors),
            ("influxgate_auth_failures_total", "Requests refused with 401 or 403.", &self.auth_failures),
            ("influxgate_tls_handshake_failures_total", "TLS handshakes failed or timed out.", &self.tls_handshake_failures),
            ("influxgate_tls_reloads_total", "TLS certificate reloads.", &self.tls_reloads),
            (
                "influxgate_tls_reload_failures_total",
                "TLS certificate reloads refused (the previous certificate kept).",
                &self.tls_reload_failures,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let held = self.throttle_held_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            s,
            "# HELP influxgate_rate_limit_held_seconds_total Time requests were held for their token's rates.\n\
             # TYPE influxgate_rate_limit_held_seconds_total counter\ninfluxgate_rate_limit_held_seconds_total {held}"
        );
        for c in backend {
            let _ = writeln!(s, "# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}", c.name, c.help, c.value);
        }
        let _ = writeln!(
            s,
            "# HELP influxgate_inflight_requests Requests being served.\n# TYPE influxgate_inflight_requests gauge\ninfluxgate_inflight_requests {inflight}"
        );
        let _ = writeln!(
            s,
            "# HELP influxgate_buffered_write_bytes Write bytes held in memory.\n# TYPE influxgate_buffered_write_bytes gauge\ninfluxgate_buffered_write_bytes {buffered}"
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let m = Metrics::default();
        m.observe("write", 204, Duration::from_millis(3));
        m.observe("write", 429, Duration::from_millis(1));
        m.observe("query", 503, Duration::from_secs(20));
        Metrics::add(&m.points_written, 5);
        let backend = [crate::backend::BackendCounter { name: "influxgate_vm_x_total", help: "x.", value: 7 }];
        let t = m.render(2, 10, &backend);
        assert!(t.contains("# TYPE influxgate_vm_x_total counter\ninfluxgate_vm_x_total 7"), "{t}");
        assert!(t.contains("influxgate_http_requests_total{endpoint=\"write\",status=\"204\"} 1"), "{t}");
        assert!(t.contains("influxgate_rate_limited_total 1"));
        assert!(t.contains("influxgate_overloaded_total 1"));
        assert!(t.contains("influxgate_points_written_total 5"));
        assert!(t.contains("influxgate_http_request_duration_seconds_bucket{endpoint=\"write\",le=\"0.005\"} 2"));
        assert!(t.contains("influxgate_http_request_duration_seconds_bucket{endpoint=\"query\",le=\"+Inf\"} 1"));
        assert!(t.contains("influxgate_http_request_duration_seconds_bucket{endpoint=\"query\",le=\"10\"} 0"));
        assert!(t.contains("influxgate_inflight_requests 2"));
    }
}
