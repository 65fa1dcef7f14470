//! Process-wide query settings from the `[query]` section of the configuration.
//!
//! They are set once when the server starts (`install`); code that runs without a server (unit
//! tests, benches) gets the defaults. A diagnostic environment variable still overrides each one,
//! so a test can compare two settings against the same binary without writing two config files.

use std::sync::OnceLock;

use crate::config::QueryConfig;

static INSTALLED: OnceLock<QueryConfig> = OnceLock::new();

/// Makes `cfg` the process's query settings; a second call is ignored (the first one wins).
pub fn install(cfg: &QueryConfig) {
    let _ = INSTALLED.set(cfg.clone());
}

fn config() -> &'static QueryConfig {
    static DEFAULT: OnceLock<QueryConfig> = OnceLock::new();
    INSTALLED.get().unwrap_or_else(|| DEFAULT.get_or_init(QueryConfig::default))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Whether raw SELECTs stream (`query.streaming`; `INFLUXGATE_STREAMING=off|0|false` turns it off).
pub fn streaming() -> bool {
    static V: OnceLock<bool> = OnceLock::new();
    *V.get_or_init(|| match env("INFLUXGATE_STREAMING").as_deref() {
        Some("off" | "0" | "false") => false,
        Some(_) => true,
        None => config().streaming,
    })
}

/// Most points one streaming window holds (`query.stream_window_points`;
/// `INFLUXGATE_STREAM_WINDOW_POINTS` overrides).
pub fn stream_window_points() -> usize {
    static V: OnceLock<usize> = OnceLock::new();
    *V.get_or_init(|| {
        env("INFLUXGATE_STREAM_WINDOW_POINTS")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(config().stream_window_points)
    })
}

/// The GOMAXPROCS of the InfluxDB 1.x whose float sums are reproduced (`query.float_merge_parallelism`,
/// 0 = this machine's CPU count, as 1.x's default GOMAXPROCS; `INFLUXGATE_FLOAT_MERGE_PARALLELISM`
/// overrides). 1.x splits a tag set's series into that many groups and combines their partial
/// sums in that grouping, so the last bits of a float `sum`/`mean` depend on it.
pub fn float_merge_parallelism() -> usize {
    static V: OnceLock<usize> = OnceLock::new();
    *V.get_or_init(|| {
        let n = env("INFLUXGATE_FLOAT_MERGE_PARALLELISM")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(config().float_merge_parallelism);
        if n > 0 {
            n
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        }
    })
}
