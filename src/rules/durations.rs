//! Durations (nanoseconds in an `i64`) as 1.x reads and prints them. 1.x has two printed forms,
//! and which one a text uses is part of its answer:
//!
//! * the InfluxQL literal ([`influxql_literal`], 1.6.7's `influxql.FormatDuration`): one integer
//!   and the largest unit dividing the value exactly, `w d h m s ms u ns` (`10m`, `1500u`,
//!   `-1h`, `0s`). It prints InfluxQL (`Display` of the AST, `SHOW CONTINUOUS QUERIES`, DDL) and
//!   InfluxQL's own error texts (`duration argument must be positive, got -1s`, the CQ `FOR`
//!   check), and a bound parameter given as an integer becomes this text.
//! * Go's `time.Duration.String()` ([`go_string`]): hours, minutes and seconds with a decimal
//!   fraction (`168h0m0s`, `1m30s`, `1.5s`), below one second one unit (`1.5ms`, `250µs`,
//!   `15ns`). `SHOW RETENTION POLICIES` prints its durations so, and errors that format a
//!   `time.Duration` with `%s` (`retention policy duration must be at least 1h0m0s`).
//!   `SHOW QUERIES` first rounds the running time down to whole seconds, milliseconds or
//!   microseconds ([`go_string_truncated`]).
//!
//! InfluxQL reads durations as [`parse_influxql`] (1.6.7's `influxql.ParseDuration`): runs of
//! digits each followed by a unit (`1h30m`); `u` and `µ` both mean microseconds; a sum past
//! `i64::MAX` is refused, naming the last run read.

pub const NANOSECOND: i64 = 1;
pub const MICROSECOND: i64 = 1_000;
pub const MILLISECOND: i64 = 1_000_000;
pub const SECOND: i64 = 1_000_000_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const WEEK: i64 = 7 * DAY;

/// An InfluxQL duration literal (`10m`, `1h30m`, `5ms`, `3u`/`3µ`, `2w`) in nanoseconds.
/// Errors, 1.x's texts: `invalid duration`, `overflowed duration <n><unit>: choose a smaller
/// duration or INF`.
pub fn parse_influxql(s: &str) -> Result<i64, String> {
    const INVALID: &str = "invalid duration";
    if s.len() < 2 {
        return Err(INVALID.into());
    }
    let a: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut negative = false;
    if a[0] == '-' {
        negative = true;
        i += 1;
    }
    let mut d: i64 = 0;
    let mut measure: i64 = 0;
    let mut unit = String::new();
    while i < a.len() {
        let start = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        if i >= a.len() || i == start {
            return Err(INVALID.into());
        }
        let digits: String = a[start..i].iter().collect();
        let n: i64 = digits.parse().map_err(|_| INVALID.to_string())?;
        measure = n;
        unit = a[i].to_string();
        let mult = match a[i] {
            'n' => {
                if i + 1 < a.len() && a[i + 1] == 's' {
                    unit = "ns".into();
                    d = d.wrapping_add(n.wrapping_mul(NANOSECOND));
                    i += 2;
                    continue;
                }
                return Err(INVALID.into());
            }
            'u' | 'µ' => MICROSECOND,
            'm' => {
                if i + 1 < a.len() && a[i + 1] == 's' {
                    unit = "ms".into();
                    d = d.wrapping_add(n.wrapping_mul(MILLISECOND));
                    i += 2;
                    continue;
                }
                MINUTE
            }
            's' => SECOND,
            'h' => HOUR,
            'd' => DAY,
            'w' => WEEK,
            _ => return Err(INVALID.into()),
        };
        d = d.wrapping_add(n.wrapping_mul(mult));
        i += 1;
    }
    if d < 0 && !negative {
        return Err(format!(
            "overflowed duration {}{}: choose a smaller duration or INF",
            measure, unit
        ));
    }
    if negative {
        d = d.wrapping_neg();
    }
    Ok(d)
}

/// The InfluxQL literal of `d` (1.x's `FormatDuration`): the largest unit that divides it.
pub fn influxql_literal(d: i64) -> String {
    const UNITS: [(i64, &str); 7] =
        [(WEEK, "w"), (DAY, "d"), (HOUR, "h"), (MINUTE, "m"), (SECOND, "s"), (MILLISECOND, "ms"), (MICROSECOND, "u")];
    if d == 0 {
        return "0s".into();
    }
    match UNITS.iter().find(|(n, _)| d % n == 0) {
        Some((n, unit)) => format!("{}{unit}", d / n),
        None => format!("{d}ns"),
    }
}

/// `d` as Go's `time.Duration.String()` prints it (`0s`, `1h0m0s`, `1.5s`, `250ms`, `1.5µs`).
pub fn go_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    const SEC: u64 = SECOND as u64;
    if u < SEC {
        let (unit, div) = if u < MICROSECOND as u64 {
            ("ns", 1)
        } else if u < MILLISECOND as u64 {
            ("µs", MICROSECOND as u64)
        } else {
            ("ms", MILLISECOND as u64)
        };
        s.push_str(&frac(u, div));
        s.push_str(unit);
        return s;
    }
    let h = u / (3600 * SEC);
    let m = (u / (60 * SEC)) % 60;
    let rest = u % (60 * SEC);
    if h > 0 {
        s.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        s.push_str(&format!("{m}m"));
    }
    s.push_str(&frac(rest, SEC));
    s.push('s');
    s
}

/// `v / div` with the fraction printed without trailing zeros.
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let f = v % div;
    if f == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let mut fs = format!("{:0width$}", f, width = width);
    while fs.ends_with('0') {
        fs.pop();
    }
    format!("{whole}.{fs}")
}

/// 1.x's `SHOW QUERIES` duration: the running time rounded down to whole seconds, milliseconds or
/// microseconds (the largest unit it reaches), then printed by [`go_string`].
pub fn go_string_truncated(d: i64) -> String {
    let unit = [SECOND, MILLISECOND, MICROSECOND].into_iter().find(|u| d >= *u).unwrap_or(NANOSECOND);
    go_string(d - d % unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_influxql_literals() {
        assert_eq!(parse_influxql("1h30m"), Ok(90 * MINUTE));
        assert_eq!(parse_influxql("5ms"), Ok(5 * MILLISECOND));
        assert_eq!(parse_influxql("5ns"), Ok(5));
        assert_eq!(parse_influxql("3u"), parse_influxql("3µ"));
        assert_eq!(parse_influxql("2w"), Ok(2 * WEEK));
        assert_eq!(parse_influxql("-10s"), Ok(-10 * SECOND));
        for bad in ["1y", "5", "", "m", "1n", "1h5"] {
            assert_eq!(parse_influxql(bad), Err("invalid duration".into()), "{bad}");
        }
        // the largest value, and one past it
        assert_eq!(parse_influxql("9223372036854775807ns"), Ok(i64::MAX));
        assert_eq!(
            parse_influxql("9223372036854775807ns1ns"),
            Err("overflowed duration 1ns: choose a smaller duration or INF".into())
        );
    }

    #[test]
    fn influxql_literals_take_the_largest_exact_unit() {
        let cases = [
            (0, "0s"),
            (WEEK, "1w"),
            (DAY, "1d"),
            (8 * DAY, "8d"),
            (HOUR, "1h"),
            (90 * SECOND, "90s"),
            (1_500_000, "1500u"),
            (1, "1ns"),
            (-HOUR, "-1h"),
            (-SECOND, "-1s"),
            (i64::MIN, "-9223372036854775808ns"),
        ];
        for (d, s) in cases {
            assert_eq!(influxql_literal(d), s);
            if d != 0 && d != i64::MIN {
                assert_eq!(parse_influxql(s), Ok(d), "{s} reads back");
            }
        }
    }

    #[test]
    fn go_strings() {
        assert_eq!(go_string(0), "0s");
        assert_eq!(go_string(WEEK), "168h0m0s");
        assert_eq!(go_string(HOUR), "1h0m0s");
        assert_eq!(go_string(90 * SECOND), "1m30s");
        assert_eq!(go_string(SECOND + SECOND / 2), "1.5s");
        assert_eq!(go_string(-SECOND), "-1s");
        assert_eq!(go_string(SECOND - 1), "999.999999ms");
        assert_eq!(go_string(1_500_000), "1.5ms");
        assert_eq!(go_string(1_500), "1.5µs");
        assert_eq!(go_string(999), "999ns");
        assert_eq!(go_string(HOUR + 1), "1h0m0.000000001s");
        assert_eq!(go_string(i64::MIN), "-2562047h47m16.854775808s");
    }

    #[test]
    fn show_queries_rounds_down_to_its_largest_unit() {
        assert_eq!(go_string_truncated(2 * SECOND + 345 * MILLISECOND), "2s");
        assert_eq!(go_string_truncated(SECOND), "1s");
        assert_eq!(go_string_truncated(SECOND - 1), "999ms");
        assert_eq!(go_string_truncated(1_234_567), "1ms");
        assert_eq!(go_string_truncated(1_234), "1µs");
        assert_eq!(go_string_truncated(999), "999ns");
        assert_eq!(go_string_truncated(0), "0s");
    }
}
