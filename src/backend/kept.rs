//! Store answers kept for a while (a TTL) within a byte bound, and forgotten exactly when
//! influxgate changes what they say: the one home of the read-your-writes rule that
//! VictoriaMetrics' catalog answers (`victoriametrics::memo`) and ClickHouse's lists
//! (`clickhouse::listing`) both keep.
//!
//! # The rule
//!
//! An answer is kept with the [`Ticket`] taken before its request was sent, and is fresh for
//! `ttl` from then. A change influxgate makes (a write bringing something new, DDL, a delete)
//! forgets what it touches before the client hears back, and bumps a generation: an answer to a
//! request sent before the forget (its ticket's generation is older) is not kept when it
//! arrives, since it may predate the change. So the next statement asks again and sees the
//! change, exactly as with nothing kept. Changes made by others (straight to the store) show at
//! most `ttl` after the answer was asked for.
//!
//! Forgets come in three widths: one key ([`Kept::forget`], [`Kept::forget_unless`]: only an
//! answer to that key asked before is refused), the keys a predicate picks
//! ([`Kept::forget_where`]) and everything ([`Kept::forget_all`]); the last two refuse every
//! answer asked before them, whatever its key (simpler than remembering the predicate, and only
//! costs a request asked again).
//!
//! # Memory
//!
//! Each answer counts the size its caller gives (its key and body); at most `max_bytes` are
//! kept. When an answer does not fit, expired ones are dropped to make room; one that still does
//! not fit is not kept (asked again when needed). The marks of per-key forgets are kept for one
//! `ttl` (an older ticket has expired by then anyway), so they number at most the keys forgotten
//! within one `ttl`.
//!
//! `ttl` zero keeps nothing; [`Kept::unexpiring`] keeps until forgotten (a statement's own memo).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// When a request was sent, and the generation then (module docs).
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    generation: u64,
    asked: Instant,
}

struct Entry<V> {
    value: V,
    size: usize,
    /// When its request was sent.
    asked: Instant,
}

struct State<K, V> {
    map: HashMap<K, Entry<V>>,
    bytes: usize,
    /// Bumped by every forget.
    generation: u64,
    /// Keys forgotten one by one within the TTL: the generation then, and when.
    marks: HashMap<K, (u64, Instant)>,
    /// The generation of the last forget of more than one key.
    all: u64,
}

/// Answers kept under keys `K` (module docs).
pub struct Kept<K, V> {
    state: Mutex<State<K, V>>,
    ttl: Duration,
    max_bytes: usize,
    hits: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> Kept<K, V> {
    /// Answers fresh for `ttl` (zero keeps nothing), at most `max_bytes` of them.
    pub fn new(ttl: Duration, max_bytes: usize) -> Kept<K, V> {
        let state = State { map: HashMap::new(), bytes: 0, generation: 0, marks: HashMap::new(), all: 0 };
        Kept { state: Mutex::new(state), ttl, max_bytes, hits: AtomicU64::new(0) }
    }

    /// Answers kept until forgotten, at most `max_bytes` of them.
    pub fn unexpiring(max_bytes: usize) -> Kept<K, V> {
        Kept::new(Duration::MAX, max_bytes)
    }

    /// False when nothing is kept (`ttl` zero).
    pub fn keeps(&self) -> bool {
        !self.ttl.is_zero()
    }

    fn state(&self) -> MutexGuard<'_, State<K, V>> {
        // Each update is whole under the lock: a panic cannot leave half of one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, at: Instant) -> bool {
        at.elapsed() < self.ttl
    }

    /// To take before sending the request whose answer is then kept with it.
    pub fn ticket(&self) -> Ticket {
        Ticket { generation: self.state().generation, asked: Instant::now() }
    }

    /// The fresh answer under `key` (counted in [`Kept::hits`]).
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.keeps() {
            return None;
        }
        let s = self.state();
        let v = s.map.get(key).filter(|e| self.fresh(e.asked))?.value.clone();
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(v)
    }

    /// Keeps `value` (`size` bytes, its key included) asked with ticket `t`, unless something
    /// forgot it since, it expired already, or it does not fit. True when kept.
    pub fn keep(&self, key: K, value: V, size: usize, t: Ticket) -> bool {
        if !self.keeps() || !self.fresh(t.asked) {
            return false;
        }
        let mut s = self.state();
        if s.all > t.generation || s.marks.get(&key).is_some_and(|(g, _)| *g > t.generation) {
            return false;
        }
        if !fits(&s, &key, size, self.max_bytes) {
            s.map.retain(|_, e| self.fresh(e.asked));
            s.bytes = s.map.values().map(|e| e.size).sum();
            if !fits(&s, &key, size, self.max_bytes) {
                return false;
            }
        }
        let old = s.map.insert(key, Entry { value, size, asked: t.asked }).map_or(0, |e| e.size);
        s.bytes = s.bytes - old + size;
        true
    }

    /// Forgets the answer under `key`, and refuses one to a request sent before now.
    pub fn forget(&self, key: &K) {
        if self.keeps() {
            let mut s = self.state();
            self.forget_key(&mut s, key);
        }
    }

    /// Forgets the answer under `key` unless it holds one for which `still_true` is (even past
    /// its TTL: the caller knows why an older answer still says what it needs).
    pub fn forget_unless(&self, key: &K, still_true: impl FnOnce(&V) -> bool) {
        if !self.keeps() {
            return;
        }
        let mut s = self.state();
        if !s.map.get(key).is_some_and(|e| still_true(&e.value)) {
            self.forget_key(&mut s, key);
        }
    }

    fn forget_key(&self, s: &mut State<K, V>, key: &K) {
        s.generation += 1;
        if let Some(e) = s.map.remove(key) {
            s.bytes -= e.size;
        }
        let ttl = self.ttl;
        s.marks.retain(|_, (_, at)| at.elapsed() < ttl);
        let mark = (s.generation, Instant::now());
        s.marks.insert(key.clone(), mark);
    }

    /// Forgets every answer whose key `pick` picks, and refuses any to a request sent before now.
    pub fn forget_where(&self, pick: impl Fn(&K) -> bool) {
        let mut s = self.state();
        s.generation += 1;
        s.all = s.generation;
        s.map.retain(|k, _| !pick(k));
        s.bytes = s.map.values().map(|e| e.size).sum();
    }

    /// Forgets every answer, and refuses any to a request sent before now.
    pub fn forget_all(&self) {
        let mut s = self.state();
        s.generation += 1;
        s.all = s.generation;
        s.map.clear();
        s.marks.clear();
        s.bytes = 0;
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.state().bytes
    }

    /// Answers taken from here so far (a diagnostic).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// Whether `size` more bytes under `key` (replacing what it holds) stay within `max`.
fn fits<K: Eq + Hash, V>(s: &State<K, V>, key: &K, size: usize, max: usize) -> bool {
    let old = s.map.get(key).map_or(0, |e| e.size);
    s.bytes - old + size <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    type K = (&'static str, &'static str);

    #[test]
    fn fresh_until_the_ttl_and_zero_keeps_nothing() {
        let k: Kept<K, u32> = Kept::new(Duration::from_millis(40), 1000);
        assert!(k.keep(("d", "a"), 1, 10, k.ticket()));
        assert_eq!((k.get(&("d", "a")), k.get(&("d", "b")), k.hits()), (Some(1), None, 1));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(k.get(&("d", "a")), None, "expired");
        let t = k.ticket();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!k.keep(("d", "a"), 1, 10, t), "asked longer ago than the ttl");
        let z: Kept<K, u32> = Kept::new(Duration::ZERO, 1000);
        assert!(!z.keep(("d", "a"), 1, 10, z.ticket()) && z.get(&("d", "a")).is_none());
        let u: Kept<K, u32> = Kept::unexpiring(1000);
        assert!(u.keep(("d", "a"), 1, 10, u.ticket()) && u.get(&("d", "a")) == Some(1));
    }

    #[test]
    fn an_answer_asked_before_a_forget_is_not_kept() {
        let k: Kept<K, u32> = Kept::new(Duration::from_secs(60), 1000);
        let t = k.ticket();
        k.forget(&("d", "a"));
        assert!(!k.keep(("d", "a"), 1, 10, t), "the key forgotten after the ticket");
        assert!(k.keep(("d", "b"), 2, 10, t), "another key's answer is kept");
        assert!(k.keep(("d", "a"), 3, 10, k.ticket()), "asked after the forget");
        let t = k.ticket();
        k.forget_where(|key| key.0 == "e");
        assert_eq!(k.get(&("d", "a")), Some(3), "not picked");
        assert!(!k.keep(("d", "c"), 4, 10, t), "any answer asked before a wide forget");
        k.forget_where(|key| key.0 == "d");
        assert!(k.get(&("d", "a")).is_none() && k.get(&("d", "b")).is_none());
        let t = k.ticket();
        k.keep(("d", "a"), 5, 10, k.ticket());
        k.forget_all();
        assert!(k.get(&("d", "a")).is_none() && k.bytes() == 0);
        assert!(!k.keep(("e", "a"), 6, 10, t));
    }

    #[test]
    fn forget_unless_keeps_what_still_holds() {
        let k: Kept<K, u32> = Kept::new(Duration::from_millis(30), 1000);
        k.keep(("d", "a"), 7, 10, k.ticket());
        std::thread::sleep(Duration::from_millis(40));
        k.forget_unless(&("d", "a"), |v| *v == 7);
        let t = k.ticket();
        k.forget_unless(&("d", "a"), |v| *v == 8);
        assert!(!k.keep(("d", "a"), 8, 10, t), "forgotten: the older answer is refused");
        k.forget_unless(&("d", "z"), |_| true);
        assert!(!k.keep(("d", "z"), 8, 10, t), "nothing held counts as not holding");
    }

    /// `max_bytes` is never passed; expired answers make room; one larger than the bound is not kept.
    #[test]
    fn the_byte_bound_is_kept() {
        let k: Kept<(u32, u32), u32> = Kept::new(Duration::from_millis(50), 350);
        let kept = (0..10).filter(|i| k.keep((0, *i), 0, 100, k.ticket())).count();
        assert_eq!(kept, 3);
        assert!(k.bytes() <= 350);
        assert!(k.keep((0, 0), 1, 150, k.ticket()), "replacing counts the old size out");
        assert_eq!(k.bytes(), 350);
        assert!(!k.keep((1, 0), 0, 400, k.ticket()), "larger than the bound");
        std::thread::sleep(Duration::from_millis(60));
        assert!(k.keep((2, 0), 0, 300, k.ticket()), "expired answers made room");
        assert_eq!(k.bytes(), 300);
    }
}
