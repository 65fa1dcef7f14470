//! The durability window: writes the store acknowledged but may not have made durable yet.
//!
//! VictoriaMetrics acknowledges a write once the samples are in its memory and writes them to
//! disk later (1.79: in-memory parts older than 5 s are flushed by a 5 s ticker, so a sample
//! survives a `kill -9` of VictoriaMetrics only some 5–11 s after its acknowledgement, also after
//! `/internal/force_flush`, which makes samples searchable, not durable; measured in
//! `tests/spool.rs`). So each acknowledged write is kept here, with the store instance that
//! acknowledged it, until a check of the store (every `spool.check_interval`) finds the same
//! instance running at least `spool.durability_window` after the acknowledgement: then the
//! store has made it durable, and it is let go.
//!
//! If the check finds the store unreachable or another instance (it restarted), or a write fails,
//! the window's writes go to the spool, before anything spooled after them, as records marked
//! *acknowledged by instance I*; replay writes such a record again only if another instance runs
//! then (see [`record::Kind::Acked`](super::record::Kind)). So a store that crashed loses nothing
//! acknowledged, and one that only was unreachable for a while gets nothing twice.
//!
//! Memory: the window holds the bodies of `durability_window` of writes (they are held by the
//! write path anyway while it runs; here a little longer), at most `spool.window_max_bytes`; past
//! that its older half goes to the spool (on disk), where replay checks it like any acknowledged
//! record, without making new writes queue (they are in the store already).

use std::collections::VecDeque;

use super::record::Entry;

/// A write the store acknowledged.
#[derive(Debug, Clone)]
pub struct Acked {
    pub entry: Entry,
    /// When acknowledged, Unix ms.
    pub time_ms: i64,
    /// The store instance that acknowledged it (0: not known yet, taken as the first one seen).
    pub instance: u64,
}

#[derive(Default)]
pub struct Window {
    entries: VecDeque<Acked>,
    bytes: u64,
}

impl Window {
    pub fn push(&mut self, a: Acked) {
        self.bytes += a.entry.body.len() as u64;
        self.entries.push_back(a);
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lets go of the writes `instance` acknowledged at or before `durable_before` (Unix ms): it
    /// has been seen running since they became durable.
    pub fn confirm(&mut self, instance: u64, durable_before: i64) {
        while let Some(a) = self.entries.front() {
            if (a.instance != instance && a.instance != 0) || a.time_ms > durable_before {
                break;
            }
            self.bytes -= a.entry.body.len() as u64;
            self.entries.pop_front();
        }
    }

    /// Every write, oldest first (for the spool).
    pub fn take(&mut self) -> Vec<Acked> {
        self.bytes = 0;
        self.entries.drain(..).collect()
    }

    /// The oldest writes, until at most `keep` bytes are left.
    pub fn take_oldest(&mut self, keep: u64) -> Vec<Acked> {
        let mut out = Vec::new();
        while self.bytes > keep {
            let Some(a) = self.entries.pop_front() else { break };
            self.bytes -= a.entry.body.len() as u64;
            out.push(a);
        }
        out
    }

    /// Attributes the writes acknowledged before any instance was known (0) to `instance`, the
    /// first one seen (as [`Window::confirm`] takes them): spooled with 0 they would count as
    /// acknowledged by another instance, be written again and make new writes queue.
    pub fn attribute(&mut self, instance: u64) {
        for a in self.entries.iter_mut().filter(|a| a.instance == 0) {
            a.instance = instance;
        }
    }

    /// Puts writes taken by [`Window::take`] back in front (the spool could not take them).
    pub fn put_back(&mut self, taken: Vec<Acked>) {
        for a in taken.into_iter().rev() {
            self.bytes += a.entry.body.len() as u64;
            self.entries.push_front(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineproto::Precision;

    fn acked(time_ms: i64, instance: u64) -> Acked {
        Acked {
            entry: Entry {
                db: "db".into(),
                rp: None,
                precision: Precision::Nanosecond,
                now_ns: 0,
                body: bytes::Bytes::from_static(b"m v=1\n"),
                points: 1,
            },
            time_ms,
            instance,
        }
    }

    #[test]
    fn confirms_in_order_and_only_for_the_same_instance() {
        let mut w = Window::default();
        w.push(acked(100, 0));
        w.push(acked(200, 7));
        w.push(acked(300, 7));
        assert_eq!(w.bytes(), 18);
        w.confirm(7, 199);
        assert_eq!(w.len(), 2);
        w.confirm(8, 1000);
        assert_eq!(w.len(), 2, "another instance confirms nothing");
        w.confirm(7, 300);
        assert!(w.is_empty());
        assert_eq!(w.bytes(), 0);
    }

    #[test]
    fn attributes_only_the_unknown() {
        let mut w = Window::default();
        w.push(acked(1, 0));
        w.push(acked(2, 7));
        w.attribute(9);
        let got: Vec<u64> = w.take().iter().map(|a| a.instance).collect();
        assert_eq!(got, vec![9, 7]);
    }

    #[test]
    fn take_and_put_back_keep_the_order() {
        let mut w = Window::default();
        for t in 1..=3 {
            w.push(acked(t, 1));
        }
        let taken = w.take();
        assert!(w.is_empty());
        w.push(acked(4, 1));
        w.put_back(taken);
        let times: Vec<i64> = w.take().iter().map(|a| a.time_ms).collect();
        assert_eq!(times, vec![1, 2, 3, 4]);
        for t in 1..=4 {
            w.push(acked(t, 1));
        }
        let old: Vec<i64> = w.take_oldest(12).iter().map(|a| a.time_ms).collect();
        assert_eq!((old, w.len(), w.bytes()), (vec![1, 2], 2, 12));
    }
}
