//! Time buckets of `GROUP BY time(every[, offset])` with optional `tz()`, as 1.x computes them
//! (`IteratorOptions.Window` / `Zone`): floor to a multiple of `every` after subtracting the
//! offset, in local time when a zone is given, with 1.x's DST adjustments.

use crate::rules::time_bounds::{MAX_TIME, MIN_TIME};
use chrono::{Offset, TimeZone};
use chrono_tz::Tz;

/// The start of the bucket holding `t` for `GROUP BY time(every, offset)` in UTC, flooring
/// correctly for negative times. `every` must be > 0 (returns `t` otherwise).
pub fn bucket_start(t: i64, every: i64, offset: i64) -> i64 {
    Window::new(every, offset, None).start(t)
}

/// The bucketing of a query: `every` > 0 ns, `offset` ns (may be negative), optional zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub every: i64,
    pub offset: i64,
    pub tz: Option<Tz>,
}

/// The zone offset (ns) in `tz` at the instant `ns` (0 without a zone).
pub fn zone_offset(tz: Option<Tz>, ns: i64) -> i64 {
    let Some(tz) = tz else { return 0 };
    let secs = ns.div_euclid(1_000_000_000);
    // chrono cannot represent the extremes of i64 ns; clamp to what it can (offsets there are
    // the zone's earliest/latest rule anyway).
    let secs = secs.clamp(-800_000_000_000, 800_000_000_000);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(dt) => {
            let off = tz.offset_from_utc_datetime(&dt.naive_utc()).fix().local_minus_utc();
            off as i64 * 1_000_000_000
        }
        None => 0,
    }
}

impl Window {
    pub fn new(every: i64, offset: i64, tz: Option<Tz>) -> Window {
        Window { every, offset, tz }
    }

    /// The `[start, end)` of the bucket holding `t` (1.x's `Window`).
    pub fn bounds(&self, t: i64) -> (i64, i64) {
        let every = self.every;
        if every <= 0 {
            return (t, t);
        }
        let t = t.wrapping_sub(self.offset);
        let zone = zone_offset(self.tz, t);
        let mut dt = t.wrapping_add(zone) % every;
        if dt < 0 {
            dt += every;
        }
        let mut start = if MIN_TIME.wrapping_add(dt) >= t { MIN_TIME } else { t.wrapping_sub(dt) };
        if self.tz.is_some() {
            let start_off = zone_offset(self.tz, start);
            let o = zone - start_off;
            if o != 0 && o.abs() < every {
                start = start.wrapping_add(o);
            }
        }
        start = start.wrapping_add(self.offset);

        let dt2 = every - dt;
        let mut end = if MAX_TIME.wrapping_sub(dt2) <= t { MAX_TIME } else { t.wrapping_add(dt2) };
        if self.tz.is_some() {
            let end_off = zone_offset(self.tz, end);
            let o = zone - end_off;
            if o != 0 && o.abs() < every {
                // Added time (o > 0) belongs to the previous interval; skipped time only
                // when the switch happens within this interval.
                if o > 0 || zone_offset(self.tz, end.wrapping_add(o)) == end_off {
                    end = end.wrapping_add(o);
                }
            }
        }
        end = end.wrapping_add(self.offset);
        (start, end)
    }

    /// The start of the bucket holding `t`.
    pub fn start(&self, t: i64) -> i64 {
        self.bounds(t).0
    }

    /// Bucket starts from the bucket of `min` to the bucket of `max` (inclusive), stepping as
    /// 1.x's fill iterator does (adding `every`, then correcting across zone-offset changes).
    /// Lazy: the caller bounds how many it takes.
    pub fn starts(&self, min: i64, max: i64) -> BucketStarts {
        let first = self.start(min);
        let last = self.start(max);
        BucketStarts { w: *self, next: first, last, offset: zone_offset(self.tz, first), done: self.every <= 0 }
    }

    /// The next bucket start after `start` as the fill iterator computes it, given the zone
    /// offset in force at `start` (`*offset` is updated).
    pub fn advance(&self, start: i64, offset: &mut i64) -> i64 {
        let mut next = start.saturating_add(self.every);
        if self.tz.is_some() {
            let o = zone_offset(self.tz, next - 1);
            if o != *offset {
                let diff = *offset - o;
                if diff.abs() < self.every {
                    next = next.saturating_add(diff);
                }
                *offset = o;
            }
        }
        next
    }
}

/// Iterator over bucket starts, see [`Window::starts`].
#[derive(Debug, Clone)]
pub struct BucketStarts {
    w: Window,
    next: i64,
    last: i64,
    offset: i64,
    done: bool,
}

impl Iterator for BucketStarts {
    type Item = i64;
    fn next(&mut self) -> Option<i64> {
        if self.done || self.next > self.last {
            return None;
        }
        let cur = self.next;
        let n = self.w.advance(cur, &mut self.offset);
        if n <= cur {
            self.done = true;
        }
        self.next = n;
        Some(cur)
    }
}
