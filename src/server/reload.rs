//! Reloading the configuration file without a restart: on SIGHUP, and when the file's
//! modification time or size changes (looked at every `server.config_check_interval`; polling a
//! single file's metadata needs no watcher dependency). A change is loaded once the file has
//! stayed unchanged for one whole interval, so within two: a file rewritten in place is empty
//! between its truncation and its write, and loading that moment would revoke every token (an
//! empty file is a valid configuration) until the next look.
//!
//! What a reload applies: `[[tokens]]` (added, changed, revoked: a revoked token is refused from
//! the next request on, also on an open keep-alive connection) and the `[limits]` rates, shares
//! and request/write-byte caps (`requests_per_second`, `burst`, `write_bytes_per_second`,
//! `on_limit`, `max_delay`, `token_max_inflight_requests`, `token_max_buffered_write_bytes`,
//! `max_inflight_requests`, `max_buffered_write_bytes`). A token whose settings are unchanged
//! keeps its rate buckets and what its requests hold. Everything else needs a restart; a reload
//! that changes it logs which settings wait for one.
//!
//! A file that does not parse or validate, or that would leave no token, is refused: the reason
//! is logged at error level and the running configuration stays in effect.
//!
//! A SIGHUP listener of its own: tokio hands a signal to every listener, so others (a TLS
//! certificate reload) can listen to SIGHUP too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{Config, Overrides};

use super::access::Access;
use super::auth::TokenStore;
use super::limits::config_duration;
use super::settle::Settling;
use super::State;

/// Where the running configuration came from, to read it again.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The file (`None`: built-in defaults, nothing to reload).
    pub path: Option<PathBuf>,
    /// The command line's settings over the file.
    pub overrides: Overrides,
    /// `--admin-token` / `INFLUXGATE_ADMIN_TOKEN`, kept across reloads.
    pub admin_token: Option<String>,
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Tokens(#[from] super::auth::TokenSetupError),
}

/// The file's identity for change detection.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Reads the file again and applies what may change while running. Returns the number of tokens
/// now in effect.
pub fn reload(state: &State, source: &Source) -> Result<usize, ReloadError> {
    let Some(path) = &source.path else { return Ok(state.access.get().tokens().len()) };
    let mut cfg = Config::load(path)?;
    source.overrides.apply(&mut cfg);
    cfg.validate()?;
    let tokens = TokenStore::reload(&cfg, source.admin_token.as_deref())?;
    let n = tokens.len();
    let waiting = restart_only_changes(&state.config, &cfg);
    if !waiting.is_empty() {
        tracing::warn!(settings = %waiting.join(", "), "config reload: these settings changed and take effect only after a restart");
    }
    let previous = state.access.get();
    state.access.replace(Access::new(&cfg.limits, tokens, Some(&previous)));
    state.limits.set_caps(&cfg.limits);
    Ok(n)
}

/// Settings that differ between the running configuration and a reloaded one but are only read
/// at start.
pub fn restart_only_changes(running: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&running.limits, &new.limits);
    let debug = |x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| format!("{x:?}") != format!("{y:?}");
    let checks: [(&'static str, bool); 17] = [
        ("listen", running.listen != new.listen),
        ("data_dir", running.data_dir != new.data_dir),
        ("[backend]", debug(&running.backend, &new.backend)),
        ("[query]", running.query != new.query),
        ("[spool]", running.spool != new.spool),
        ("[log]", running.log != new.log),
        ("[server]", running.server != new.server),
        ("[tls]", running.tls != new.tls),
        ("limits.max_body_bytes", a.max_body_bytes != b.max_body_bytes),
        ("limits.max_connections", a.max_connections != b.max_connections),
        ("limits.idle_timeout", a.idle_timeout != b.idle_timeout),
        ("limits.header_timeout", a.header_timeout != b.header_timeout),
        ("limits.body_timeout", a.body_timeout != b.body_timeout),
        ("limits.send_timeout", a.send_timeout != b.send_timeout),
        ("limits.error_line_max_bytes", a.error_line_max_bytes != b.error_line_max_bytes),
        ("limits.max_series_per_database", a.max_series_per_database != b.max_series_per_database),
        ("limits.max_values_per_tag", a.max_values_per_tag != b.max_values_per_tag),
    ];
    checks.iter().filter(|(_, changed)| *changed).map(|(name, _)| *name).collect()
}

fn reload_logged(state: &State, source: &Source, why: &str) {
    match reload(state, source) {
        Ok(n) => tracing::info!(tokens = n, trigger = why, "configuration reloaded"),
        Err(e) => tracing::error!(trigger = why, "config reload refused, the running configuration stays in effect: {e}"),
    }
}

/// Reloads on SIGHUP and when the file changes, until the server stops (the task is aborted).
/// The SIGHUP listener is installed before this returns, so a SIGHUP never kills the process
/// once the server has started.
pub fn spawn(state: Arc<State>, source: Source) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP ({e}): the configuration is reloaded only when its file changes");
            None
        }
    };
    let every = config_duration(state.config.server.config_check_interval);
    // A change is loaded once it has held for one whole interval (`server::settle`).
    let mut settling = Settling::new(source.path.as_deref().and_then(stamp));
    tokio::spawn(async move {
        let mut tick = (!every.is_zero() && source.path.is_some()).then(|| {
            let mut t = tokio::time::interval(every.max(Duration::from_millis(10)));
            // Looks stay an interval apart when one comes late (the default would fire the missed
            // ones at once), which is what "unchanged for one whole interval" counts on.
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            let poll = async {
                match tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(unix)]
            let hangup = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hangup = std::future::pending::<Option<()>>();
            tokio::select! {
                Some(()) = hangup => {
                    settling.loaded(source.path.as_deref().and_then(stamp));
                    reload_logged(&state, &source, "SIGHUP");
                }
                () = poll => {
                    match source.path.as_deref().and_then(stamp) {
                        None => settling.missing(),
                        now => {
                            if settling.look(now) {
                                reload_logged(&state, &source, "file changed");
                            }
                        }
                    }
                }
            }
        }
    })
}
