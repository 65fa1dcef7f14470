//! Replay: one task writes the spooled records to the store, oldest first.
//!
//! A round asks the store which instance runs (with a [`Remote`](super::Remote); a failure means
//! the store is still down: wait `retry_backoff_min`, doubling to `retry_backoff_max`), loads the
//! next records from the cursor — consecutive records of one database and retention policy, up to
//! `replay_batch_points` points (a larger record alone) and 16 MiB of bodies — parses them with
//! the time each write was given for points without a timestamp, and writes them as one batch.
//! A record the running instance itself acknowledged (`Kind::Acked`) is not written again.
//!
//! When the store answers:
//! * `Ok`: the cursor moves past the batch and is persisted; the batch stays *unconfirmed*
//!   (its segments kept) until the store is seen running `durability_window` later (see
//!   [`watch`](super::watch)).
//! * unreachable, timeout, 5xx (`Origin::Upstream`): the batch is tried again after the backoff.
//! * a 4xx (`Origin::Downstream`), or an unexpected error (`Origin::Internal`) three times: a
//!   batch of several records is replayed again record by record; a single record's refused point
//!   (`InvalidPoint`) goes to the dead-letter file and the rest is written, a record refused as a
//!   whole goes to the dead-letter file. Nothing is retried forever, nothing dropped silently.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::dead::{lines_of, Refusal};
use super::metrics::add;
use super::record::{Kind, Record};
use super::segment::{Next, Pos, Reader};
use super::{lock, now_ms, Counts, Spool, Unconfirmed};
use crate::backend::{BackendError, Origin, WriteBatch};
use crate::lineproto::{self, ParseOptions};
use crate::model::{Point, Points};

/// Body bytes one replay batch holds at most (a larger record goes alone).
const MAX_BATCH_BYTES: usize = 16 << 20;
/// Times an unexpected store error is retried before the record counts as refused.
const INTERNAL_RETRIES: u32 = 3;

/// A record and where it lies.
struct Item {
    rec: Record,
    /// Written to the store (else: acknowledged by the running instance already).
    send: bool,
}

struct Batch {
    start: Pos,
    end: Pos,
    generation: u64,
    db: String,
    rp: Option<String>,
    items: Vec<Item>,
    /// The parsed points of the records sent.
    points: Vec<Point>,
}

enum Load {
    /// Nothing committed past the cursor.
    Empty,
    /// The cursor moves to `to` without writing (the end of a segment; a damaged record).
    Skip { to: Pos },
    Batch(Batch),
    /// A record whose body no longer parses (the parser changed): dead letter.
    Unparsable { rec: Record, start: Pos, end: Pos, generation: u64, why: String },
}

/// What a round did.
enum Round {
    Progress,
    Idle,
    Retry,
}

/// The replay task's state between rounds.
struct State {
    reader: Option<Reader>,
    /// A record read past the end of the last batch: (record, start, end).
    peeked: Option<(Record, Pos, Pos)>,
    backoff: Duration,
    /// Replay one record at a time while the cursor is before this (a refused batch).
    split_until: Option<Pos>,
    internal_failures: u32,
}

pub(super) async fn run(spool: Arc<Spool>) {
    let mut st = State { reader: None, peeked: None, backoff: spool.settings.backoff_min, split_until: None, internal_failures: 0 };
    loop {
        if spool.closing() {
            // Stopping: nothing more is written or committed (see `Spool::close`).
            return std::future::pending().await;
        }
        if !spool.core().has_records() {
            spool.wake.notified().await;
            continue;
        }
        match spool.round(&mut st).await {
            Round::Progress => st.backoff = spool.settings.backoff_min,
            Round::Idle => {}
            Round::Retry => {
                tokio::time::sleep(st.backoff).await;
                st.backoff = (st.backoff * 2).min(spool.settings.backoff_max);
            }
        }
    }
}

fn is_acked(rec: &Record) -> bool {
    matches!(rec.kind, Kind::Acked { .. })
}

fn parse(rec: &Record) -> Result<Vec<Point>, String> {
    let e = &rec.entry;
    let opts = ParseOptions { quote_max: 1024, ..ParseOptions::new(e.precision, e.now_ns) };
    lineproto::parse_body_with(&e.body, &opts).map_err(|e| e.message)
}

impl Spool {
    async fn round(self: &Arc<Self>, st: &mut State) -> Round {
        let current = match self.remote.as_ref().filter(|_| self.checking()) {
            Some(r) => match self.call("store check", r.instance()).await {
                Ok(id) => {
                    self.observe(id).await;
                    Some(id)
                }
                Err(e) if e.origin() == Origin::Upstream => {
                    self.note_failure(&e);
                    return Round::Retry;
                }
                Err(e) => {
                    self.stop_checking(&e);
                    None
                }
            },
            None => None,
        };
        let (from, end, generation) = {
            let c = self.core();
            (c.cursor, c.end, c.generation)
        };
        let one = st.split_until.is_some_and(|p| from < p);
        if !one {
            st.split_until = None;
        }
        let (reader, peeked) = (st.reader.take(), st.peeked.take());
        let (dir, max_points) = (self.settings.dir.clone(), self.settings.replay_batch_points);
        let loaded = tokio::task::spawn_blocking(move || {
            let mut cur = Cur { reader, peeked, dir };
            let r = cur.load(from, end, generation, max_points, one, current);
            (cur.reader, cur.peeked, r)
        })
        .await;
        let loaded = match loaded {
            Ok((reader, peeked, r)) => {
                st.reader = reader;
                st.peeked = peeked;
                r
            }
            Err(e) => Err(io::Error::other(e.to_string())),
        };
        match loaded {
            Err(e) => {
                tracing::error!("spool: cannot read {}: {e}", self.settings.dir.display());
                st.reader = None;
                Round::Retry
            }
            Ok(Load::Empty) => {
                if self.finish().await {
                    Round::Idle
                } else {
                    // Appended to meanwhile: go on after a moment.
                    Round::Retry
                }
            }
            Ok(Load::Skip { to }) => {
                self.commit(from, to, generation, Vec::new(), None, current).await;
                Round::Progress
            }
            Ok(Load::Unparsable { rec, start, end, generation, why }) => {
                let lines = String::from_utf8_lossy(&rec.entry.body).into_owned();
                self.dead_letter(&rec, &format!("cannot be parsed again: {why}"), rec.entry.points as usize, lines);
                let counts = vec![(rec.entry.db.clone(), u64::from(rec.entry.points), is_acked(&rec))];
                self.commit(start, end, generation, counts, None, current).await;
                Round::Progress
            }
            Ok(Load::Batch(b)) => {
                if let Some(first) = b.items.first() {
                    let mut c = self.core();
                    if c.generation == b.generation {
                        c.oldest_ms = Some(first.rec.time_ms);
                        // Acknowledged writes another instance took: the store may have lost
                        // them; new writes queue behind them.
                        if b.items.iter().any(|i| i.send && is_acked(&i.rec)) {
                            c.at_risk = true;
                            c.queueing = true;
                        }
                    }
                }
                self.send(b, current, st).await
            }
        }
    }

    /// Writes a loaded batch; see the module docs for what each answer does.
    async fn send(self: &Arc<Self>, b: Batch, current: Option<u64>, st: &mut State) -> Round {
        let sending = b.items.iter().filter(|i| i.send).count();
        let counts: Counts = b.items.iter().map(|i| (i.rec.entry.db.clone(), u64::from(i.rec.entry.points), is_acked(&i.rec))).collect();
        // Records acknowledged earlier count as acknowledged then (for the durability window).
        let acked_at = b.items.iter().filter(|i| !i.send).map(|i| i.rec.time_ms).min();
        if sending == 0 {
            self.commit(b.start, b.end, b.generation, counts, acked_at, current).await;
            return Round::Progress;
        }
        let n = b.points.len() as u64;
        let resent: u64 = b.items.iter().filter(|i| i.send && matches!(i.rec.kind, Kind::Acked { .. })).map(|i| u64::from(i.rec.entry.points)).sum();
        let batch = WriteBatch { db: b.db.clone(), rp: b.rp.clone(), points: Points::from(b.points) };
        match self.call("replay", self.store.write(batch)).await {
            Ok(_) => {
                st.internal_failures = 0;
                add(&self.counters.replayed_points, n);
                add(&self.counters.resent_points, resent);
                self.commit(b.start, b.end, b.generation, counts, acked_at, current).await;
                Round::Progress
            }
            Err(e) if e.origin() == Origin::Upstream => {
                add(&self.counters.replay_errors, 1);
                self.note_failure(&e);
                Round::Retry
            }
            Err(e) => {
                add(&self.counters.replay_errors, 1);
                if e.origin() == Origin::Internal && st.internal_failures < INTERNAL_RETRIES {
                    st.internal_failures += 1;
                    tracing::warn!(error = %e, "spool replay: the store failed unexpectedly; retrying");
                    return Round::Retry;
                }
                st.internal_failures = 0;
                if sending > 1 {
                    st.split_until = Some(b.end);
                    return Round::Progress;
                }
                if let Some(item) = b.items.iter().find(|i| i.send) {
                    self.refuse(&item.rec, e, st.backoff).await;
                }
                self.commit(b.start, b.end, b.generation, counts, acked_at, current).await;
                Round::Progress
            }
        }
    }

    /// One record the store refused: refused points go to the dead-letter file, the others are
    /// written (waiting out the store's unavailability: what was refused is not refused twice).
    async fn refuse(self: &Arc<Self>, rec: &Record, first: BackendError, backoff: Duration) {
        let Ok(mut points) = parse(rec) else { return };
        let mut err = first;
        loop {
            match err {
                BackendError::InvalidPoint { index, message } if index < points.len() => {
                    let p = points.remove(index);
                    self.dead_letter(rec, &message, 1, lines_of(std::slice::from_ref(&p)));
                }
                other => {
                    self.dead_letter(rec, &other.to_string(), points.len(), lines_of(&points));
                    return;
                }
            }
            if points.is_empty() {
                return;
            }
            err = match self.write_until_answered(rec, &points, backoff).await {
                Ok(()) => return,
                Err(e) => e,
            };
        }
    }

    /// Writes `points` of `rec`'s database, waiting while the store is unavailable; `Err`: the
    /// store refused them.
    async fn write_until_answered(&self, rec: &Record, points: &[Point], backoff: Duration) -> Result<(), BackendError> {
        let mut wait = backoff;
        loop {
            let batch = WriteBatch { db: rec.entry.db.clone(), rp: rec.entry.rp.clone(), points: points.iter().collect() };
            match self.call("replay", self.store.write(batch)).await {
                Ok(_) => {
                    add(&self.counters.replayed_points, points.len() as u64);
                    return Ok(());
                }
                Err(e) if e.origin() == Origin::Upstream => {
                    add(&self.counters.replay_errors, 1);
                    self.note_failure(&e);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.settings.backoff_max);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn dead_letter(&self, rec: &Record, reason: &str, points: usize, lines: String) {
        let e = &rec.entry;
        let r = Refusal { db: &e.db, rp: e.rp.as_deref(), reason, points, lines };
        let written = lock(&self.dead).append(&r);
        match written {
            Ok(true) => {
                add(&self.counters.dead_letter_points, points as u64);
                tracing::warn!(db = %e.db, points, %reason, "spool replay: the store refused points: written to the dead-letter file");
            }
            Ok(false) | Err(_) => {
                add(&self.counters.dead_letter_dropped_points, points as u64);
                tracing::error!(db = %e.db, points, %reason, lines = %r.lines, error = ?written.err(),
                    "spool replay: the store refused points and the dead-letter file cannot take them (dead_letter_max_bytes): logged here only");
            }
        }
    }

    pub(super) fn note_failure(&self, e: &BackendError) {
        let was_down = std::mem::replace(&mut self.core().store_down, true);
        if !was_down {
            tracing::warn!(error = %e, "spool: the store is unavailable; writes are spooled until it is back");
        }
    }

    /// Moves the cursor past a replayed (or skipped) range, unless it was moved back meanwhile.
    async fn commit(self: &Arc<Self>, start: Pos, end: Pos, generation: u64, counts: Counts, acked_at: Option<i64>, instance: Option<u64>) {
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut log = lock(&me.log);
            if me.closing() {
                // After `close` began (checked under the log's lock, which its spill takes): the
                // records stay before the cursor, for the next start.
                return;
            }
            let mut c = me.core();
            if c.generation != generation || c.cursor != start {
                return;
            }
            c.cursor = end;
            for (db, n, acked) in &counts {
                c.sub_pending(db, *n, *acked);
            }
            if !c.has_records() {
                c.oldest_ms = None;
            }
            c.store_down = false;
            if let (true, Some(id), false) = (me.checking(), instance, counts.is_empty()) {
                let time_ms = acked_at.unwrap_or(i64::MAX).min(now_ms());
                c.unconfirmed.push_back(Unconfirmed { start, time_ms, instance: id, counts });
            }
            if let Err(e) = log.save_cursor(end) {
                tracing::error!("spool: cannot save the replay cursor: {e}");
            }
            me.collect(&mut log, &mut c);
        })
        .await;
    }

    /// Nothing left to replay: writes go to the store again. False if records were appended
    /// meanwhile.
    async fn finish(self: &Arc<Self>) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut log = lock(&me.log);
            let mut c = me.core();
            if c.has_records() {
                return false;
            }
            if c.queueing {
                tracing::info!("spool: replay done; writes go to the store again");
            }
            c.queueing = false;
            c.at_risk = false;
            c.oldest_ms = None;
            me.collect(&mut log, &mut c);
            true
        })
        .await
        .unwrap_or(false)
    }
}

/// The replay task's reading position, used on a blocking thread.
struct Cur {
    reader: Option<Reader>,
    peeked: Option<(Record, Pos, Pos)>,
    dir: std::path::PathBuf,
}

/// What reading at a position found.
enum At {
    Record(Record, Pos, Pos),
    End,
    /// Go on at this position (the next segment, or past damage).
    Jump(Pos),
}

impl Cur {
    fn next(&mut self, pos: Pos, end: Pos) -> io::Result<At> {
        if let Some((r, s, e)) = self.peeked.take() {
            if s == pos {
                return Ok(At::Record(r, s, e));
            }
        }
        let after = if pos.seg < end.seg { Pos::start_of(pos.seg + 1) } else { end };
        let positioned = matches!(&self.reader, Some(r) if r.id == pos.seg && r.off == pos.off);
        if !positioned {
            match Reader::open(&self.dir, pos.seg, pos.off) {
                Ok(r) => self.reader = Some(r),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(if pos.seg < end.seg { At::Jump(after) } else { At::End });
                }
                Err(e) => return Err(e),
            }
        }
        let Some(r) = self.reader.as_mut() else { return Ok(At::End) };
        let limit = if pos.seg == end.seg { end.off } else { u64::MAX };
        Ok(match r.next(limit)? {
            Next::Record(rec, len) => At::Record(rec, pos, Pos { seg: pos.seg, off: pos.off + len }),
            Next::End if pos.seg < end.seg => At::Jump(after),
            Next::End => At::End,
            Next::Damaged { at, why, .. } => {
                tracing::error!(segment = pos.seg, offset = at, %why, "spool: damaged record found while replaying: skipping the rest of the segment");
                self.reader = None;
                At::Jump(after)
            }
        })
    }

    /// The next batch from `from` (see the module docs).
    fn load(&mut self, from: Pos, end: Pos, generation: u64, max_points: usize, one: bool, current: Option<u64>) -> io::Result<Load> {
        let mut b = Batch { start: from, end: from, generation, db: String::new(), rp: None, items: Vec::new(), points: Vec::new() };
        let mut key: Option<(String, Option<String>)> = None;
        let (mut bytes, mut held) = (0usize, 0usize);
        loop {
            let (rec, start, stop) = match self.next(b.end, end)? {
                At::Record(r, s, e) => (r, s, e),
                At::End => break,
                At::Jump(to) if b.items.is_empty() => return Ok(Load::Skip { to }),
                At::Jump(_) => break,
            };
            // Records not sent (acknowledged by the running instance) are held too: bound all.
            if !b.items.is_empty() && held + rec.entry.body.len() > MAX_BATCH_BYTES {
                self.peeked = Some((rec, start, stop));
                break;
            }
            held += rec.entry.body.len();
            let send = match rec.kind {
                Kind::Write => true,
                Kind::Acked { instance } => current != Some(instance),
            };
            if send {
                let k = (rec.entry.db.clone(), rec.entry.rp.clone());
                let full = b.points.len() + rec.entry.points as usize > max_points || bytes + rec.entry.body.len() > MAX_BATCH_BYTES;
                let has_send = key.is_some();
                if has_send && (key.as_ref() != Some(&k) || one || full) {
                    self.peeked = Some((rec, start, stop));
                    break;
                }
                match parse(&rec) {
                    Ok(p) => b.points.extend(p),
                    Err(why) if b.items.is_empty() => {
                        return Ok(Load::Unparsable { rec, start, end: stop, generation, why });
                    }
                    Err(_) => {
                        self.peeked = Some((rec, start, stop));
                        break;
                    }
                }
                bytes += rec.entry.body.len();
                key = Some(k);
            }
            b.items.push(Item { rec, send });
            b.end = stop;
        }
        if b.items.is_empty() {
            return Ok(Load::Empty);
        }
        if let Some((db, rp)) = key {
            b.db = db;
            b.rp = rp;
        }
        Ok(Load::Batch(b))
    }
}
