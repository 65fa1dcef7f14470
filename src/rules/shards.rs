//! Shard groups: 1.x stores a retention policy's points in shard groups of a fixed duration, and
//! evaluates aggregates per shard group before combining them, so the grouping decides the last
//! bits of float sums and which of tied points a selector keeps. 1.6.7's rules
//! (`meta.shardGroupDuration`, `RetentionPolicyInfo.Apply`/`normalisedShardDuration`,
//! `time.Truncate` in `ShardGroupInfo`):
//!
//! * a policy without its own `SHARD DURATION` gets: 1 hour when it keeps less than 2 days, 1 day
//!   when it keeps less than 180 days, else (and when it keeps everything, duration 0) 7 days;
//! * a `SHARD DURATION` of 0 means that default; one below 1 hour becomes 1 hour;
//! * a policy's duration is 0 (infinite) or at least 1 hour (`retention policy duration must be
//!   at least 1h0m0s`), and not shorter than its shard groups (`retention policy duration must
//!   be greater than the shard duration`), checked in that order ([`check_duration`],
//!   [`check_fits`]);
//! * a shard group starts at a multiple of its duration counted from 0001-01-01 UTC (so 7-day
//!   groups start on Mondays: 1969-12-29, 1970-01-05).

use super::durations::{DAY, HOUR};

/// The shortest retention duration 1.x accepts (other than 0, infinite).
pub const MIN_RP_DURATION: i64 = HOUR;

/// 1.x's check of a policy's duration (0: infinite).
pub fn check_duration(duration: i64) -> Result<(), String> {
    if duration != 0 && duration < MIN_RP_DURATION {
        return Err(format!("retention policy duration must be at least {}", super::durations::go_string(MIN_RP_DURATION)));
    }
    Ok(())
}

/// 1.x's check that a policy keeps its points at least as long as one shard group.
pub fn check_fits(duration: i64, shard_group_duration: i64) -> Result<(), String> {
    if duration != 0 && shard_group_duration > duration {
        return Err("retention policy duration must be greater than the shard duration".into());
    }
    Ok(())
}

/// The default shard group duration of a policy keeping `duration` (ns; 0 = infinite).
pub fn default_duration(duration: i64) -> i64 {
    if duration == 0 || duration >= 180 * DAY {
        7 * DAY
    } else if duration >= 2 * DAY {
        DAY
    } else {
        HOUR
    }
}

/// A requested `SHARD DURATION` as 1.x keeps it, for a policy keeping `duration`.
pub fn normalize(shard_duration: i64, duration: i64) -> i64 {
    if shard_duration == 0 {
        default_duration(duration)
    } else if shard_duration < HOUR {
        HOUR
    } else {
        shard_duration
    }
}

/// The shard group duration of a retention policy (`None`: the database has none): its own
/// `SHARD DURATION`, else the default for its duration.
pub fn of_policy(rp: Option<&crate::backend::RetentionPolicy>) -> i64 {
    match rp {
        Some(r) if r.shard_group_duration > 0 => r.shard_group_duration,
        Some(r) => default_duration(r.duration),
        None => default_duration(0),
    }
}

/// The start of the shard group of `duration` holding `t`.
pub fn group_start(t: i64, duration: i64) -> i64 {
    if duration <= 0 {
        return t;
    }
    const YEAR1_TO_EPOCH_NS: i128 = 719_162 * 86_400 * 1_000_000_000;
    let abs = t as i128 + YEAR1_TO_EPOCH_NS;
    let start = abs - abs.rem_euclid(duration as i128) - YEAR1_TO_EPOCH_NS;
    start.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_at_their_boundaries() {
        assert_eq!(default_duration(0), 7 * DAY);
        assert_eq!(default_duration(HOUR), HOUR);
        assert_eq!(default_duration(2 * DAY - 1), HOUR);
        assert_eq!(default_duration(2 * DAY), DAY);
        assert_eq!(default_duration(180 * DAY - 1), DAY);
        // exactly 180 days is 7-day groups (1.x compares with >=)
        assert_eq!(default_duration(180 * DAY), 7 * DAY);
        assert_eq!(normalize(0, 3 * DAY), DAY);
        assert_eq!(normalize(1, 3 * DAY), HOUR);
        assert_eq!(normalize(5 * HOUR, 3 * DAY), 5 * HOUR);
    }

    #[test]
    fn policy_checks_at_their_boundaries() {
        assert_eq!(check_duration(0), Ok(()));
        assert_eq!(check_duration(HOUR), Ok(()));
        assert_eq!(check_duration(HOUR - 1), Err("retention policy duration must be at least 1h0m0s".into()));
        assert_eq!(check_fits(0, 7 * DAY), Ok(()));
        assert_eq!(check_fits(DAY, DAY), Ok(()));
        assert_eq!(check_fits(DAY, DAY + 1), Err("retention policy duration must be greater than the shard duration".into()));
    }

    #[test]
    fn groups_start_on_mondays_from_year_one() {
        // 1970-01-01 was a Thursday: its 7-day group starts on Monday 1969-12-29.
        assert_eq!(group_start(0, 7 * DAY), -3 * DAY);
        assert_eq!(group_start(4 * DAY, 7 * DAY), 4 * DAY);
        assert_eq!(group_start(HOUR + 5, HOUR), HOUR);
        assert_eq!(group_start(-1, DAY), -DAY);
        assert_eq!(group_start(42, 0), 42);
    }
}
