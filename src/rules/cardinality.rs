//! 1.x's cardinality limits (`max-series-per-database`, `max-values-per-tag`; `tsdb/index/inmem`
//! in 1.6.7): what they count and the reasons they give, which a store wraps into
//! `BackendError::CardinalityLimit` (1.x's `partial write: <reason> dropped=N`).
//!
//! 1.x's inmem index is one per database, shared by its shards and retention policies: a series is
//! a distinct measurement + tag set in the database (a series key holds no policy), and a tag's
//! values are the distinct values of one tag key in one measurement of the database.

use super::quote::go_quote;

/// The reason when a write would create series past `max` in a database.
pub fn series_reason(max: u64) -> String {
    format!("max-series-per-database limit exceeded: ({max})")
}

/// The reason when `value` would be the (`n`+1)th value of `tag` in `measurement`, past `max`.
pub fn values_reason(n: u64, max: u64, measurement: &str, tag: &str, value: &str) -> String {
    format!(
        "max-values-per-tag limit exceeded ({n}/{max}): measurement={} tag={} value={}",
        go_quote(measurement),
        go_quote(tag),
        go_quote(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_1x() {
        assert_eq!(series_reason(5), "max-series-per-database limit exceeded: (5)");
        assert_eq!(
            values_reason(3, 3, "cpu", "host", "\"q\"\n"),
            r#"max-values-per-tag limit exceeded (3/3): measurement="cpu" tag="host" value="\"q\"\n""#
        );
    }
}
