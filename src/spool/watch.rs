//! Watching the store for restarts, and letting go of what it has made durable.
//!
//! Every `check_interval`, while the durability window or unconfirmed replayed batches hold
//! anything, the store is asked which instance runs ([`Remote::instance`](super::Remote); for
//! VictoriaMetrics its process start time, `vm_app_start_timestamp`; the replay task asks too,
//! before each batch). Asked at time `T`:
//!
//! * the same instance as before: what it acknowledged at or before `T - durability_window` is
//!   durable — dropped from the window, and unconfirmed batches confirmed (their segments are
//!   deleted once the replay cursor is past them);
//! * another instance (the store restarted): the unconfirmed batches are replayed again (the
//!   cursor moves back to the first of them) and the window's writes are spooled behind them, to
//!   be written again;
//! * no answer: the window's writes are spooled (as acknowledged by the instance that took them;
//!   replay writes them again only if another instance answers then);
//! * an answer without an instance (VictoriaMetrics' `/metrics` behind `-metricsAuthKey`):
//!   restarts cannot be told; logged once, and acknowledgements are trusted from then on.
//!
//! Why this is enough: a write is lost only if the store dies before making it durable, i.e.
//! within `durability_window` of acknowledging it; the write is kept until a check *after* that
//! finds the same instance alive, and any check in between that finds the store down or another
//! instance sends it to the spool.

use std::sync::Arc;

use super::log::Log;
use crate::backend::Origin;
use super::metrics::add;
use super::{lock, now_ms, Core, Spool};

pub(super) async fn run(spool: Arc<Spool>) {
    let Some(remote) = spool.remote.clone() else { return };
    let window_ms = i64::try_from(spool.settings.durability_window.as_millis()).unwrap_or(i64::MAX);
    // Learn the running instance at once, so that the first writes are attributed to it.
    if let Ok(id) = spool.call("store check", remote.instance()).await {
        spool.observe(id).await;
    }
    while spool.checking() {
        tokio::time::sleep(spool.settings.check_interval).await;
        let busy = !lock(&spool.window).is_empty() || !spool.core().unconfirmed.is_empty();
        if !busy {
            continue;
        }
        let asked_at = now_ms();
        match spool.call("store check", remote.instance()).await {
            Ok(id) => {
                spool.observe(id).await;
                spool.confirm(id, asked_at.saturating_sub(window_ms)).await;
            }
            Err(e) if e.origin() == Origin::Upstream => {
                spool.note_failure(&e);
                spool.spill().await;
            }
            Err(e) => spool.stop_checking(&e),
        }
    }
}

impl Spool {
    /// Notes the store instance running now; another one than before means the store restarted.
    pub(super) async fn observe(self: &Arc<Self>, id: u64) {
        let restarted = {
            let mut c = self.core();
            c.store_down = false;
            match c.instance {
                None => {
                    c.instance = Some(id);
                    drop(c);
                    lock(&self.window).attribute(id);
                    false
                }
                Some(known) => known != id,
            }
        };
        if restarted {
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.restarted(id)).await;
        }
    }

    /// The store restarted as instance `id`: replay again what it may have lost, and let new
    /// writes queue behind it.
    fn restarted(&self, id: u64) {
        let mut log = lock(&self.log);
        {
            let mut c = self.core();
            let Some(old) = c.instance.filter(|old| *old != id) else { return };
            c.instance = Some(id);
            add(&self.counters.store_restarts, 1);
            let again: u64 = c.unconfirmed.iter().flat_map(|u| u.counts.iter().map(|(_, n, _)| *n)).sum();
            tracing::warn!(old, new = id, replayed_again = again, "spool: the store restarted; writing again what it had acknowledged but may not have made durable");
            // Acknowledged records still in the spool are written again too.
            c.at_risk = true;
            if let Some(first) = c.unconfirmed.front() {
                c.cursor = first.start;
                c.generation += 1;
                add(&self.counters.resent_points, again);
                let batches: Vec<_> = c.unconfirmed.drain(..).collect();
                for u in batches {
                    for (db, n, acked) in u.counts {
                        c.add_pending(&db, n, acked);
                    }
                }
                if let Err(e) = log.save_cursor(c.cursor) {
                    tracing::error!("spool: cannot save the replay cursor: {e}");
                }
            }
        }
        // The window's writes were acknowledged by the old instance (or one not known yet):
        // spooled behind the batches just rewound, they are written again.
        if let Err(e) = self.append_locked(&mut log, Vec::new(), None) {
            tracing::warn!("spool: cannot move acknowledged writes to disk yet: {e:?}");
        }
        let mut c = self.core();
        c.queueing |= c.has_records();
        drop(c);
        self.wake.notify_one();
    }

    /// Instance `id` was seen alive: what it acknowledged at or before `durable_before` is
    /// durable.
    async fn confirm(self: &Arc<Self>, id: u64, durable_before: i64) {
        lock(&self.window).confirm(id, durable_before);
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut log = lock(&me.log);
            let mut c = me.core();
            if c.instance != Some(id) {
                return;
            }
            let before = c.unconfirmed.len();
            while c.unconfirmed.front().is_some_and(|u| u.instance == id && u.time_ms <= durable_before) {
                c.unconfirmed.pop_front();
            }
            if c.unconfirmed.len() != before {
                me.collect(&mut log, &mut c);
            }
        })
        .await;
    }

    /// Deletes the segments wholly replayed and durable; all of them once nothing is left.
    pub(super) fn collect(&self, log: &mut Log, c: &mut Core) {
        let durable = c.unconfirmed.front().map_or(c.cursor, |u| u.start);
        if let Err(e) = log.remove_before(durable) {
            tracing::error!("spool: cannot remove replayed segments: {e}");
        }
        if !c.has_records() && c.unconfirmed.is_empty() && log.segment_count() > 0 {
            match log.reset() {
                Ok(p) => {
                    c.cursor = p;
                    c.end = p;
                    if let Err(e) = log.save_cursor(p) {
                        tracing::error!("spool: cannot save the replay cursor: {e}");
                    }
                }
                Err(e) => tracing::error!("spool: cannot remove replayed segments: {e}"),
            }
        }
        let bytes = log.bytes();
        c.full &= bytes >= c.bytes;
        c.bytes = bytes;
        c.segments = log.segment_count() as u64;
    }
}
