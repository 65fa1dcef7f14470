//! How the engine runs queries, from the `[query]` section of the configuration, carried by value
//! in every [`super::QueryContext`] (the engine reads no global and no environment variable).

use crate::config::QueryConfig;

/// `W`, the most points one streaming window holds, unless configured otherwise
/// (`query.stream_window_points`; see [`super::stream`]).
pub const DEFAULT_WINDOW_POINTS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Raw SELECTs stream (`query.streaming`).
    pub streaming: bool,
    /// `W` (`query.stream_window_points`), at least 1.
    pub window_points: usize,
    /// The GOMAXPROCS of the InfluxDB 1.x whose float sums are reproduced, resolved (at least 1).
    /// 1.x splits a tag set's series into that many groups and combines their partial sums in that
    /// grouping, so the last bits of a float `sum`/`mean` depend on it.
    pub float_merge_parallelism: usize,
}

impl Settings {
    /// The settings of `[query]`; `float_merge_parallelism = 0` means this machine's CPU count,
    /// 1.x's default GOMAXPROCS.
    pub fn from_config(cfg: &QueryConfig) -> Settings {
        let procs = match cfg.float_merge_parallelism {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        Settings {
            streaming: cfg.streaming,
            window_points: cfg.stream_window_points.max(1),
            float_merge_parallelism: procs,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_config(&QueryConfig::default())
    }
}
