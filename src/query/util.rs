//! Small helpers shared by the planner and the meta statements.

/// Formats nanoseconds as Go's `time.Duration.String()` does (`0s`, `1h0m0s`, `1.5s`, `250ms`),
/// which is how 1.x prints durations in `SHOW RETENTION POLICIES` and in error texts.
pub fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    const SEC: u64 = 1_000_000_000;
    if u < SEC {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
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

/// A duration as InfluxQL literals print it (`10m`, `1h`, `1500ms`): the largest unit dividing it.
pub fn influxql_duration(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let units: [(i64, &str); 7] = [
        (7 * 24 * 3_600_000_000_000, "w"),
        (24 * 3_600_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    for (n, u) in units {
        if d % n == 0 {
            return format!("{}{}", d / n, u);
        }
    }
    format!("{d}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let s = 1_000_000_000i64;
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(168 * 3600 * s), "168h0m0s");
        assert_eq!(go_duration(3600 * s), "1h0m0s");
        assert_eq!(go_duration(90 * s), "1m30s");
        assert_eq!(go_duration(s + s / 2), "1.5s");
        assert_eq!(go_duration(-s), "-1s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(15), "15ns");
        assert_eq!(go_duration(3600 * s + 1), "1h0m0.000000001s");
    }

    #[test]
    fn influxql_durations() {
        assert_eq!(influxql_duration(-1_000_000_000), "-1s");
        assert_eq!(influxql_duration(600_000_000_000), "10m");
        assert_eq!(influxql_duration(7), "7ns");
    }
}
