//! Aggregate pushdown on ClickHouse: `fn(field)` per series (`_series`) per time bucket computed
//! by one `GROUP BY` statement, only where the answer is provably the evaluator's over the points
//! a [`scan`](mod@super::scan) returns; otherwise `BackendError::Unsupported`, and the planner
//! evaluates over the scan.
//!
//! # The statement
//!
//! ```text
//! SELECT _series, <bucket>, <the function's columns> FROM <table>
//! WHERE time >= lo AND time <= hi AND <tags pushed down> AND <field> IS NOT NULL
//! GROUP BY _series, <bucket> ORDER BY _series, <bucket> LIMIT MAX_ROWS + 1
//! ```
//!
//! `<bucket>` is `time - ((time - offset) mod every)` with a Euclidean remainder, written with
//! C remainders only (`modulo(modulo(time, every) + 2·every - offset', every)`, `offset'` the
//! offset reduced into `[0, every)`; the sum stays in `(0, 3·every)`, so `every` is at most
//! `i64::MAX / 4`), every constant an explicit Int64 ([`int`]) as 18.16 needs. A bucket of
//! points within `every` of `i64::MIN` may start before it; ClickHouse wraps such a start to a
//! large positive number, which is told by its being after the bucket's `min(time)` (a column of
//! every statement), and refused. The planner only
//! asks buckets inside one 1.x shard group (see `query::select::pushdown`), so a series' bucket is
//! exactly one partial 1.x computes per series per shard group. The predicate narrows the rows as
//! in a scan and `TagPredicate::matches` decides per series afterwards (regexes are not in the
//! SQL). On a cluster the statement reads the Distributed table: every shard aggregates its own
//! series and the initiator merges the partial states (all the functions below merge exactly:
//! `argMin`/`argMax`/`min`/`max` keep their order, `count`/`uniqExact`/`sumWithOverflow` add,
//! `groupArray` concatenates and is sorted afterwards); `skip_unavailable_shards` stays 0.
//!
//! # Rewritten points
//!
//! 1.x keeps one point per series and time; a MergeTree keeps every row written, and a scan
//! merges rows of one series and time, each field taking its value from the latest row (`_seq`)
//! that has it. With `<field> IS NOT NULL` in the filter, the rows left for a point are those
//! carrying the field, and the merged value is the one of the largest `_seq` among them.
//! `count`, `first` and `last` are exact over such rows (below); the others would count a
//! replaced value, so their statement also counts rows (`count()`) and distinct times
//! (`uniqExact(time)`) per bucket, and a bucket where they differ makes the request
//! `Unsupported`: they are exact over buckets without rewritten points.
//!
//! # Exactness of each function (compared with `query::functions::aggregate::reduce`)
//!
//! Within one series a bucket's merged points have distinct times, so the evaluator's time ties
//! (`first`/`last`) never occur; values are compared as Go compares them (`==` on floats, so
//! `-0` and `0` are equal). Non-finite floats are never stored by influxgate (it refuses them), so
//! no NaN reaches a comparison.
//!
//! * `count`: `uniqExact(time)` — the number of distinct times carrying the field, which is the
//!   number of merged points, rewritten or not.
//! * `first`: `argMin(v, (time, bitNot(_seq)))` and `min(time)` — the earliest time, and of its
//!   rows the latest written (`bitNot` reverses UInt64 order): the merged point's value.
//! * `last`: `argMax(v, (time, _seq))` and `max(time)`, likewise.
//! * `min`: `argMin(v, (v, time))` and `argMin(time, (v, time))` — the smallest value and, of
//!   equal ones, the earliest: the evaluator's `v < best || (v == best && t < best_t)` with the
//!   value and time of one point (tuples compare their floats with `<` and `==`).
//! * `max`: `argMax` over `(v, bitNot(time))` — the largest value, of equal ones the earliest
//!   (`bitNot(t) = -t - 1` reverses Int64 order without overflow).
//! * `sum` of an integer or unsigned field: `sumWithOverflow`, the wrapping two's-complement sum
//!   of the column's type, as the evaluator's `wrapping_add` (order does not matter).
//! * `sum` of a float field: the evaluator adds in time order from `+0.0`. ClickHouse's `sum`
//!   adds in whatever order threads and shards deliver rows (and current releases add several
//!   lanes at once), so it is not used: `arrayCumSum` over the values sorted by time
//!   (`arraySort(groupArray((time, v)))`) adds them one by one in that order; its last element is
//!   the sum. 18.16's `arrayCumSum` starts from the first value, not from `+0.0`; `0.0 + a == a`
//!   for every `a` but `-0.0`, and a running sum that is `-0.0` one way is `+0.0` the other (the
//!   only difference the two can have, which the next non-`-0.0` value removes), so a `-0.0`
//!   result is read as `+0.0`. The values of a bucket are held by the server while it sorts.
//! * `mean`: the sum as above and the count; the division `sum / n` (as f64) is done here, as
//!   the evaluator does it (integer sums converted to f64 first).
//!
//! # What falls back
//!
//! String and boolean fields (the planner does not ask them), rewritten points for
//! `min`/`max`/`sum`/`mean`, buckets wider than [`MAX_EVERY`], answers longer than
//! [`MAX_ROWS`] rows (the planner's scan has its own limits), and any statement ClickHouse
//! refuses for another reason than being unavailable (a memory limit, say): all `Unsupported`.

use super::catalog;
use super::dialect::{ident, int, table};
use super::names::{parse_series_id, SERIES, SEQ, TIME};
use super::rowbinary::Cursor;
use super::scan::{predicate_sql, Rows};
use super::schema;
use super::Inner;
use crate::backend::{AggregateFn, AggregateRequest, AggregateRow, AggregateSeries, BackendError, Result};
use crate::model::{FieldType, FieldValue};

/// Rows (series × buckets) one answer may hold; past it the request is not pushed down.
pub const MAX_ROWS: u64 = 1_000_000;
/// The widest bucket pushed down (ns), see the module docs.
pub const MAX_EVERY: i64 = i64::MAX / 4;

/// Whether the function's statement checks for rewritten points (module docs).
fn checks_rewrites(f: AggregateFn) -> bool {
    matches!(f, AggregateFn::Min | AggregateFn::Max | AggregateFn::Sum | AggregateFn::Mean)
}

/// The bucket start of `time` (module docs); `every == 0`: `min_time`.
fn bucket_sql(every: i64, offset: i64, min_time: i64) -> String {
    if every == 0 {
        return int(min_time);
    }
    let off = offset.rem_euclid(every);
    let t = ident(TIME);
    format!("minus({t}, modulo(modulo({t}, {e}) + {s}, {e}))", e = int(every), s = int(2 * every - off))
}

/// The columns after `_series` and the bucket, for `f` over the (quoted) column `col` of type `ty`.
fn columns_sql(f: AggregateFn, col: &str, ty: FieldType) -> Vec<String> {
    let (t, seq) = (ident(TIME), ident(SEQ));
    let v = format!("assumeNotNull({col})");
    let sum = match ty {
        FieldType::Float => {
            format!("arrayElement(arrayCumSum(arrayMap(x -> tupleElement(x, 2), arraySort(groupArray(tuple({t}, {v}))))), -1)")
        }
        _ => format!("sumWithOverflow({v})"),
    };
    let mut cols = match f {
        AggregateFn::Count => vec![format!("uniqExact({t})")],
        AggregateFn::First => vec![format!("argMin({v}, tuple({t}, bitNot({seq})))"), format!("min({t})")],
        AggregateFn::Last => vec![format!("argMax({v}, tuple({t}, {seq}))"), format!("max({t})")],
        AggregateFn::Min => vec![format!("argMin({v}, tuple({v}, {t}))"), format!("argMin({t}, tuple({v}, {t}))")],
        AggregateFn::Max => {
            vec![format!("argMax({v}, tuple({v}, bitNot({t})))"), format!("argMax({t}, tuple({v}, bitNot({t})))")]
        }
        AggregateFn::Sum | AggregateFn::Mean => vec![sum],
    };
    if checks_rewrites(f) {
        cols.push("count()".into());
        cols.push(format!("uniqExact({t})"));
    }
    // the earliest time: shows a bucket start that wrapped past i64::MIN (module docs)
    cols.push(format!("min({t})"));
    cols
}

/// The whole statement (module docs).
fn statement(req: &AggregateRequest, chdb: &str, s: &schema::TableSchema, col: &str, ty: FieldType) -> String {
    let scan = &req.scan;
    let b = bucket_sql(req.every, req.offset, scan.min_time);
    let t = ident(TIME);
    let c = ident(col);
    format!(
        "SELECT {series}, {b}, {cols} FROM {tbl} WHERE {t} >= {lo} AND {t} <= {hi} AND {pred} AND {c} IS NOT NULL \
         GROUP BY {series}, {b} ORDER BY {series}, {b} LIMIT {limit} FORMAT RowBinary",
        series = ident(SERIES),
        cols = columns_sql(req.func, &c, ty).join(", "),
        tbl = table(chdb, &scan.measurement),
        lo = int(scan.min_time),
        hi = int(scan.max_time),
        pred = predicate_sql(&scan.tags, s),
        limit = MAX_ROWS + 1,
    )
}

/// A non-NULL value of the field's type.
fn value(c: &mut Cursor<'_>, ty: FieldType) -> Option<FieldValue> {
    match ty {
        FieldType::Float => c.f64().map(FieldValue::Float),
        FieldType::Integer => c.i64().map(FieldValue::Integer),
        FieldType::Unsigned => c.u64().map(FieldValue::Unsigned),
        FieldType::String | FieldType::Boolean => None,
    }
}

/// What one answer row says: the bucket's row, or that the bucket holds rewritten points, or
/// that its start is before `i64::MIN` (wrapped).
enum Decoded {
    Row(AggregateRow),
    Rewritten,
    Wrapped,
}

/// Decodes one answer row after `_series`: `None` when the bytes end inside it.
fn decode(c: &mut Cursor<'_>, f: AggregateFn, ty: FieldType) -> Option<Decoded> {
    let bucket_start = c.i64()?;
    let row = |value: FieldValue, point_time: Option<i64>, count: u64| AggregateRow { bucket_start, point_time, value, count };
    let (mut value, point_time, count) = match f {
        AggregateFn::Count => {
            let n = c.u64()?;
            (FieldValue::Integer(n as i64), None, n)
        }
        AggregateFn::First | AggregateFn::Last => (value(c, ty)?, Some(c.i64()?), 1),
        AggregateFn::Min | AggregateFn::Max => (value(c, ty)?, Some(c.i64()?), 0),
        AggregateFn::Sum | AggregateFn::Mean => (value(c, ty)?, None, 0),
    };
    let counts = if checks_rewrites(f) { Some((c.u64()?, c.u64()?)) } else { None };
    if bucket_start > c.i64()? {
        return Some(Decoded::Wrapped);
    }
    if let Some((rows, times)) = counts {
        if rows != times {
            return Some(Decoded::Rewritten);
        }
        if let (FieldValue::Float(x), AggregateFn::Sum | AggregateFn::Mean) = (&value, f) {
            // -0.0 → +0.0, every other value unchanged (module docs: 18.16's arrayCumSum).
            value = FieldValue::Float(x + 0.0);
        }
        if f == AggregateFn::Mean {
            let s = match value {
                FieldValue::Float(x) => x,
                FieldValue::Integer(i) => i as f64,
                FieldValue::Unsigned(u) => u as f64,
                _ => f64::NAN,
            };
            value = FieldValue::Float(s / times as f64);
        }
        return Some(Decoded::Row(row(value, point_time, times)));
    }
    Some(Decoded::Row(row(value, point_time, count)))
}

/// A statement ClickHouse refused: not pushed down, unless the store is unavailable or slow.
fn not_pushed(e: BackendError) -> BackendError {
    match e {
        BackendError::Unavailable(_) | BackendError::Timeout(_) => e,
        other => BackendError::Unsupported(format!("aggregate not pushed down to clickhouse: {other}")),
    }
}

fn refused(why: &str) -> BackendError {
    BackendError::Unsupported(format!("aggregate not pushed down to clickhouse: {why}"))
}

/// `Backend::aggregate` for ClickHouse, see the module docs.
pub async fn aggregate(inner: &Inner, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
    let scan = &req.scan;
    if scan.fields.len() != 1 {
        return Err(BackendError::Invalid("aggregate pushdown takes exactly one field".into()));
    }
    if req.every < 0 {
        return Err(BackendError::Invalid("negative bucket width".into()));
    }
    if req.every > MAX_EVERY {
        return Err(refused("bucket too wide"));
    }
    let info = catalog::need(inner, &scan.db).await?;
    let chdb = inner.names.policy(&scan.db, &info.resolve(scan.rp.as_deref())?.name);
    let Some(s) = schema::get(inner, &chdb, &scan.measurement).await? else { return Ok(Vec::new()) };
    let Some((col, ty)) = s.fields.get(&scan.fields[0]).cloned() else { return Ok(Vec::new()) };
    if matches!(ty, FieldType::String | FieldType::Boolean) {
        return Err(refused("not a numeric field"));
    }
    if scan.min_time > scan.max_time {
        return Ok(Vec::new());
    }
    let sql = statement(&req, &chdb, &s, &col, ty);
    let settings = inner.select_settings();
    let ans = inner.retry_missing(|| inner.client.stream(&sql, &settings)).await.map_err(not_pushed)?;
    let mut rows = Rows::new(ans);
    let mut out: Vec<AggregateSeries> = Vec::new();
    // The current series' id (none before the first row; a series without tags has the empty
    // id) and whether the predicate keeps it.
    let mut current: (Option<Vec<u8>>, bool) = (None, false);
    let mut n: u64 = 0;
    loop {
        let next = rows
            .next(|c| {
                let Some(id) = c.bytes()? else { return Ok(None) };
                let id = (current.0.as_deref() != Some(id)).then(|| id.to_vec());
                Ok(decode(c, req.func, ty).map(|d| (id, d)))
            })
            .await
            .map_err(not_pushed)?;
        let Some((id, decoded)) = next else { break };
        n += 1;
        if n > MAX_ROWS {
            return Err(refused("too many series and buckets"));
        }
        if let Some(id) = id {
            let tags = parse_series_id(&id).filter(|t| scan.tags.matches(t));
            current = (Some(id), tags.is_some());
            if let Some(tags) = tags {
                out.push(AggregateSeries { tags, rows: Vec::new() });
            }
        }
        match decoded {
            Decoded::Rewritten => return Err(refused("rewritten points")),
            Decoded::Wrapped => return Err(refused("a bucket starting before the earliest time")),
            Decoded::Row(r) if current.1 => {
                if let Some(s) = out.last_mut() {
                    s.rows.push(r);
                }
            }
            Decoded::Row(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket expression evaluated as ClickHouse does (C remainders).
    fn bucket(t: i64, every: i64, offset: i64) -> i64 {
        let off = offset.rem_euclid(every);
        t - ((t % every) + (2 * every - off)) % every
    }

    #[test]
    fn buckets_are_euclidean() {
        for every in [1, 7, 60_000_000_000, 604_800_000_000_000, MAX_EVERY] {
            for offset in [0, 1, -5, every - 1, 3 * every + 2] {
                for t in [0, 1, -1, every, -every, 1_704_067_200_000_000_000, -630_720_000_000_000_000, i64::MAX / 2, i64::MIN / 2] {
                    let want = t - (t - offset.rem_euclid(every)).rem_euclid(every);
                    assert_eq!(bucket(t, every, offset), want, "t={t} every={every} offset={offset}");
                }
            }
        }
        assert_eq!(bucket_sql(0, 0, -5), "toInt64('-5')");
        assert!(bucket_sql(10, 3, 0).contains("toInt64('17')"));
    }

    #[test]
    fn hostile_column_is_quoted() {
        let cols = columns_sql(AggregateFn::Max, &ident("a`b"), FieldType::Float);
        assert!(cols[0].contains("assumeNotNull(`a\\`b`)"), "{cols:?}");
        assert_eq!(cols.len(), 5);
    }
}
