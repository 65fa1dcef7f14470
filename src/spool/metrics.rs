//! The spool's counters and gauges, rendered into `/metrics` (Prometheus text format).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters (monotonic); gauges are read from the spool's state when rendering.
#[derive(Default)]
pub struct Counters {
    pub spooled_writes: AtomicU64,
    pub spooled_points: AtomicU64,
    pub replayed_points: AtomicU64,
    pub replay_errors: AtomicU64,
    pub dead_letter_points: AtomicU64,
    pub dead_letter_dropped_points: AtomicU64,
    pub damaged_records: AtomicU64,
    pub full_refusals: AtomicU64,
    pub store_restarts: AtomicU64,
    pub resent_points: AtomicU64,
}

/// The spool's state at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    pub bytes: u64,
    pub segments: u64,
    pub pending_points: u64,
    pub acknowledged_points: u64,
    pub oldest_age_seconds: f64,
    pub window_bytes: u64,
    pub window_writes: u64,
    pub unconfirmed_batches: u64,
    pub dead_letter_bytes: u64,
    pub store_down: bool,
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub fn render(&self, g: &Gauges, s: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 10] = [
            ("influxgate_spool_writes_total", "Writes spooled to disk (the store was unavailable, or older writes were still spooled).", &self.spooled_writes),
            ("influxgate_spool_points_total", "Points spooled to disk.", &self.spooled_points),
            ("influxgate_spool_replayed_points_total", "Spooled points written to the store.", &self.replayed_points),
            ("influxgate_spool_replay_errors_total", "Replay attempts that failed (store unavailable or refusing).", &self.replay_errors),
            ("influxgate_spool_dead_letter_points_total", "Points the store refused on replay, written to the dead-letter file.", &self.dead_letter_points),
            ("influxgate_spool_dead_letter_dropped_points_total", "Refused points not written to the dead-letter file because it reached dead_letter_max_bytes (logged).", &self.dead_letter_dropped_points),
            ("influxgate_spool_torn_records_total", "Damaged records found in spool segments (a torn last record after a crash, or corruption), cut off and logged.", &self.damaged_records),
            ("influxgate_spool_full_total", "Writes answered 503 because the spool reached max_bytes.", &self.full_refusals),
            ("influxgate_spool_store_restarts_total", "Restarts of the store detected (writes it had not made durable were written again).", &self.store_restarts),
            ("influxgate_spool_resent_points_total", "Acknowledged points written again after the store restarted before making them durable.", &self.resent_points),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.load(Ordering::Relaxed));
        }
        let gauges: [(&str, &str, f64); 10] = [
            ("influxgate_spool_bytes", "Bytes of spool segment files.", g.bytes as f64),
            ("influxgate_spool_segments", "Spool segment files.", g.segments as f64),
            ("influxgate_spool_pending_points", "Spooled points not yet written to the store.", g.pending_points as f64),
            ("influxgate_spool_acknowledged_points", "Spooled points the store acknowledged, kept until it made them durable (written again if it restarted).", g.acknowledged_points as f64),
            ("influxgate_spool_oldest_entry_age_seconds", "Age of the oldest spooled write not yet replayed (0 when none).", g.oldest_age_seconds),
            ("influxgate_spool_window_bytes", "Body bytes of acknowledged writes kept until the store has made them durable.", g.window_bytes as f64),
            ("influxgate_spool_window_writes", "Acknowledged writes kept until the store has made them durable.", g.window_writes as f64),
            ("influxgate_spool_unconfirmed_batches", "Replayed batches the store may not have made durable yet.", g.unconfirmed_batches as f64),
            ("influxgate_spool_dead_letter_bytes", "Size of the dead-letter file.", g.dead_letter_bytes as f64),
            ("influxgate_spool_store_down", "1 while the store is unreachable or failing.", f64::from(u8::from(g.store_down))),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let c = Counters::default();
        add(&c.damaged_records, 2);
        let g = Gauges { bytes: 10, oldest_age_seconds: 1.5, store_down: true, ..Gauges::default() };
        let mut s = String::new();
        c.render(&g, &mut s);
        assert!(s.contains("\ninfluxgate_spool_torn_records_total 2\n"), "{s}");
        assert!(s.contains("\ninfluxgate_spool_bytes 10\n"), "{s}");
        assert!(s.contains("\ninfluxgate_spool_oldest_entry_age_seconds 1.5\n"), "{s}");
        assert!(s.contains("\ninfluxgate_spool_store_down 1\n"), "{s}");
        assert_eq!(s.matches("# TYPE").count(), 20);
    }
}
