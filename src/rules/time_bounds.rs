//! The earliest and latest time 1.x represents, for points it accepts and for the time ranges of
//! its queries (1.6.7: `models.MinNanoTime`/`MaxNanoTime`, which `influxql.MinTime`/`MaxTime`
//! and the line-protocol parser use alike).
//!
//! Times are nanoseconds since the epoch in an `i64`, but not all of its values are times:
//!
//! * `i64::MIN` and `i64::MIN + 1` are kept free for the engine: one sorts before every time,
//!   the other marks "no time" (an unset default that no user value can collide with). So the
//!   first time is `i64::MIN + 2`, 1677-09-21T00:12:43.145224194Z.
//! * `i64::MAX` is kept free so that a range ending after the last time can still be written
//!   with an exclusive end (a shard group's). So the last time is `i64::MAX - 1`,
//!   2262-04-11T23:47:16.854775806Z.
//!
//! A point outside `MIN_TIME..=MAX_TIME` is refused (`time outside range -9223372036854775806 -
//! 9223372036854775806`); a query without a lower (upper) time bound reads from `MIN_TIME` (to
//! `MAX_TIME`), and aggregates without `GROUP BY time` answer at `MIN_TIME`'s window as 1.x
//! does (printed as time 0).

/// The earliest time 1.x accepts or reads (ns since the epoch).
pub const MIN_TIME: i64 = i64::MIN + 2;
/// The latest time 1.x accepts or reads (ns since the epoch).
pub const MAX_TIME: i64 = i64::MAX - 1;

/// Whether `t` (ns) is a time 1.x can store.
pub fn in_range(t: i64) -> bool {
    (MIN_TIME..=MAX_TIME).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_leave_the_sentinels_free() {
        assert!(!in_range(i64::MIN));
        assert!(!in_range(i64::MIN + 1));
        assert!(in_range(MIN_TIME));
        assert!(in_range(0));
        assert!(in_range(MAX_TIME));
        assert!(!in_range(i64::MAX));
        // the texts 1.x prints for them
        assert_eq!(MIN_TIME.to_string(), "-9223372036854775806");
        assert_eq!(MAX_TIME.to_string(), "9223372036854775806");
    }
}
