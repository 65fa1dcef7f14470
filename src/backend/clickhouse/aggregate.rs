//! Aggregate pushdown on ClickHouse: `fn(field)` per series (`_series`) per time bucket computed
//! by one `GROUP BY` statement, only where the answer is provably the evaluator's over the points
//! a [`scan`](mod@super::scan) returns; otherwise `BackendError::Unsupported`, and the planner
//! evaluates over the scan.
//!
//! # The statement
//!
//! The calls of one InfluxQL statement over the same series, time range and buckets (`max(a),
//! max(b), …`, `last(*)`: one request per field and function) are one statement, one pass over
//! the rows whatever their number (`Backend::aggregate_many`):
//!
//! ```text
//! SELECT _series, <bucket>, <call 1's columns>, <call 2's columns>, …, min(time) FROM <table>
//! WHERE time >= lo AND time <= hi AND <tags pushed down> AND (<field 1> IS NOT NULL OR …)
//! GROUP BY _series, <bucket> ORDER BY _series, <bucket> LIMIT MAX_ROWS + 1
//! ```
//!
//! Where the measurement has a series table ([`series_table`](mod@super::series_table)), the
//! series the predicate matches are added as `_series IN (...)` (the order key `(_series, time)`
//! then serves both the series and the time range), and where their `cityHash64(_series)` are
//! distinct the group key is a number instead of a string: `_sid` (that hash, a MATERIALIZED
//! column of tables made since on one server) as the first column, looked up in the series list and the
//! series sorted by tags here, so `_series` is not read at all; in older tables
//! `cityHash64(_series)` with `any(_series)` as the first column, ordered by it.
//!
//! Each call's columns aggregate only the rows carrying its field (the `-If` combinator with
//! `isNotNull(<field>)`, as old as ClickHouse's aggregate functions), the first of them counting
//! those rows: a bucket where it is 0 has no point of that field and is not answered for the
//! call. Below, `f(x)` stands for `fIf(x, isNotNull(<field>))`.
//!
//! `<bucket>` is `time - ((time - offset) mod every)` with a Euclidean remainder, written with
//! C remainders only (`modulo(modulo(time, every) + 2·every - offset', every)`, `offset'` the
//! offset reduced into `[0, every)`; the sum stays in `(0, 3·every)`, so `every` is at most
//! `i64::MAX / 4`), every constant an explicit Int64 ([`int`]) as 18.16 needs. A bucket of
//! points within `every` of `i64::MIN` may start before it; ClickHouse wraps such a start to a
//! large positive number, which is told by its being after the bucket's `min(time)` (a column of
//! every statement, over the rows of every field: a start after it is after the field's too),
//! and refused. The planner only
//! asks buckets inside one 1.x shard group (see `query::select::pushdown`), so a series' bucket is
//! exactly one partial 1.x computes per series per shard group. The predicate narrows the rows as
//! in a scan and `TagPredicate::matches` decides per series afterwards (regexes are not in the
//! SQL). On a cluster the statement reads the Distributed table: every shard aggregates its own
//! series and the initiator merges the partial states (all the functions below merge exactly:
//! `argMin`/`argMax`/`min`/`max` keep their order, `count`/`uniqExact`/`sumWithOverflow` add,
//! `groupArray` concatenates and is sorted afterwards); `skip_unavailable_shards` stays 0.
//!
//! # Reading fewer bytes: `PREWHERE` on time and `_sid`
//!
//! Where the series table listed the matched series and the table has `_sid`
//! ([`Narrowing::sids`]), every statement of the group also carries `PREWHERE time >= lo AND
//! time <= hi AND _sid IN (<their numbers>)`, with the `WHERE` kept whole. Each condition is
//! implied by the `WHERE` (`_sid` is `cityHash64(_series)`), so the rows are the same. Why: the
//! order key `(_series, time)` selects whole granules (8192 rows, other series' and other times'
//! rows with them), and the `WHERE` reads `_series` (100–200 bytes a row) over all of them,
//! most of the bytes a small statement reads. 18.16 reads `PREWHERE`'s columns first (8 bytes
//! a row each) and the others only where it matched. Measured on 100 hosts × 30 h (1.08M rows,
//! ClickHouse 18.16, `system.query_log`): `cpu-max-all-8`'s statement 62.5 MB → 9.8 MB read and
//! 52 → 36 ms of ClickHouse CPU; `single-groupby-1-1-1`'s 5.1 MB → 0.46 MB. Not on a cluster
//! (no `_sid` there, see `schema`).
//!
//! # One thread for a few series: `max_threads = 1`
//!
//! A statement over at most `single_thread_series` listed series ([`Narrowing::listed`], 1 by
//! default; 0: never) runs with the setting `max_threads = 1`. Such a statement reads a granule
//! or two per part; 18.16 otherwise starts a stream per core and merges their partial states.
//! Measured (ClickHouse 18.16, 100 hosts × 30 h, same run, `system.query_log` and its
//! `ProfileEvents`; BENCHMARKS.md, "Since the table"): 14–17 % less ClickHouse CPU per
//! single-series statement (`cpu-max-all-1` 7.3 → 6.3 ms). Over 8 series it was measured slower
//! (wall time), hence the bound. Settings change how the server works, not what it answers.
//!
//! # Rewritten points: up to three statements
//!
//! 1.x keeps one point per series and time; a MergeTree keeps every row written, and a scan
//! merges rows of one series and time, each field taking its value from the latest row (`_seq`)
//! that has it. With `isNotNull(<field>)` as each call's condition, the rows left for a point are
//! those carrying the field, and the merged value is the one of the largest `_seq` among them.
//!
//! **Fast** (asked first): each bucket also counts its rows (`count()`) and their distinct times
//! (`uniqExact(time)`), once for all calls. Where they are equal no time of the bucket has two
//! rows, every row is a point, and each function is its plain form over the rows: `count` is
//! `countIf`, `first`/`last` `argMin(v, time)`/`argMax(v, time)` (no ties), `min`/`max` the
//! tuple forms below, or, where the request does not show the point's time (`point_time` false,
//! GROUP BY time), plain `min(v)`/`max(v)` with the bucket's start for the time (as on
//! VictoriaMetrics), `sum`/`mean` as below with `count` the rows. A bucket where they differ
//! sends the whole group to the careful statement.
//!
//! **Careful**: `count` is `uniqExact(time)` (merged points, rewritten or not); `first`/`last`
//! break time ties by `_seq` (below), exact over rewrites. For the others, a point written twice
//! with the same value (a write retried after a timeout whose first attempt was stored after all)
//! is the common rewrite: each call also counts its distinct times and distinct `(time, v)` pairs
//! (`uniqExact(time, v)`), and where they are equal every time carries one value, the merged
//! point's. Then `min`/`max` over the rows are the ones over the points (a repeated row changes
//! neither the extreme nor the earliest time of it), and `sum`/`mean` add the distinct pairs
//! (`groupUniqArray`, sorted by time for floats as below; `arrayReduce('sumWithOverflow', …)`
//! for integers), `mean` dividing by the distinct times. A bucket where a time carries two values
//! of a field (`0` and `-0` count as two, conservatively) sends the group to the merged statement.
//!
//! **Merged** ([`merged_points`]): the points merged first, as a scan merges them, by a subquery
//! grouped by series and time, each field the value of the latest row (`argMaxIf(v, _seq)`)
//! carrying it; then the fast forms over those points, whose times are distinct per series.
//! Exact over any rewrite; it groups every row by (series, time), so it costs about twice the
//! careful statement (620 ms of ClickHouse CPU for `double-groupby-1` over 1.30 M rows), where
//! the scan it replaces shipped every row to influxgate (about 6.9 s for that query: points of
//! 50 hosts × 12 h rewritten with other values under 100 hosts × 30 h).
//!
//! # Exactness of each function (compared with `query::functions::aggregate::reduce`)
//!
//! Within one series a bucket's merged points have distinct times, so the evaluator's time ties
//! (`first`/`last`) never occur; values are compared as Go compares them (`==` on floats, so
//! `-0` and `0` are equal). Non-finite floats are never stored by influxgate (it refuses them), so
//! no NaN reaches a comparison. The careful forms:
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
//! String and boolean fields (the planner does not ask them), buckets wider than [`MAX_EVERY`], answers longer than
//! [`MAX_ROWS`] rows (the planner's scan has its own limits), and any statement ClickHouse
//! refuses for another reason than being unavailable (a memory limit, say): all `Unsupported`.

use std::collections::{HashMap, HashSet};

use super::catalog;
use super::dialect::{ident, int, table};
use super::names::{parse_series_id, SERIES, SEQ, SID, TIME};
use super::rowbinary::Cursor;
use super::scan::{predicate_sql, Rows};
use super::schema;
use super::series_table::{self, Narrowing};
use super::Inner;
use crate::backend::{
    aggregate_grouped, AggregateFn, AggregateRequest, AggregateRow, AggregateSeries, BackendError, GroupAnswer, Result, AGGREGATE_CONCURRENCY,
};
use crate::model::{FieldType, FieldValue};

mod edge;

/// Rows (series × buckets) one answer may hold; past it the request is not pushed down.
pub const MAX_ROWS: u64 = 1_000_000;
/// Default of `single_thread_series` (module docs, "One thread for a few series").
pub const DEFAULT_SINGLE_THREAD_SERIES: usize = 1;

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

/// One call of a statement: `func` over the field column `col` (unquoted) of type `ty`;
/// `point_time`: the request's (a min/max point's own time is shown).
#[derive(Debug, Clone)]
struct Call {
    col: String,
    ty: FieldType,
    func: AggregateFn,
    point_time: bool,
    /// Only each series' latest bucket is wanted (`AggregateRequest::latest_only`).
    latest_only: bool,
}

/// Which statement (module docs, "Rewritten points"): `Fast` assumes the bucket's rows have
/// distinct times and says whether they do; `Careful` is exact over points rewritten with the
/// same value and says where a time carries two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fast,
    Careful,
    /// Over the merged points ([`merged_points`]): the fast forms, exact over any rewrite.
    Merged,
}

/// The columns of one call (module docs): the bucket's rows carrying the field, then the
/// function's columns, then (`Careful`, where rewrites matter) the distinct times and the
/// distinct (time, value) pairs; each over the rows where the field is not NULL (`-If`).
fn columns_sql(call: &Call, mode: Mode) -> Vec<String> {
    let (t, seq) = (ident(TIME), ident(SEQ));
    let col = ident(&call.col);
    let has = format!("isNotNull({col})");
    let v = format!("assumeNotNull({col})");
    let careful = mode == Mode::Careful;
    let group = if careful { "groupUniqArrayIf" } else { "groupArrayIf" };
    let sum = match call.ty {
        FieldType::Float => format!(
            "arrayElement(arrayCumSum(arrayMap(x -> tupleElement(x, 2), arraySort({group}(tuple({t}, {v}), {has})))), -1)"
        ),
        _ if careful => format!("arrayReduce('sumWithOverflow', arrayMap(x -> tupleElement(x, 2), {group}(tuple({t}, {v}), {has})))"),
        _ => format!("sumWithOverflowIf({v}, {has})"),
    };
    let (first, last) = if careful { (format!("tuple({t}, bitNot({seq}))"), format!("tuple({t}, {seq})")) } else { (t.clone(), t.clone()) };
    let mut cols = vec![format!("countIf({has})")];
    cols.extend(match call.func {
        AggregateFn::Count if careful => vec![format!("uniqExactIf({t}, {has})")],
        AggregateFn::Count => vec![],
        AggregateFn::First => vec![format!("argMinIf({v}, {first}, {has})"), format!("minIf({t}, {has})")],
        AggregateFn::Last => vec![format!("argMaxIf({v}, {last}, {has})"), format!("maxIf({t}, {has})")],
        AggregateFn::Min if careful || call.point_time => {
            vec![format!("argMinIf({v}, tuple({v}, {t}), {has})"), format!("argMinIf({t}, tuple({v}, {t}), {has})")]
        }
        AggregateFn::Max if careful || call.point_time => vec![
            format!("argMaxIf({v}, tuple({v}, bitNot({t})), {has})"),
            format!("argMaxIf({t}, tuple({v}, bitNot({t})), {has})"),
        ],
        AggregateFn::Min => vec![format!("minIf({v}, {has})")],
        AggregateFn::Max => vec![format!("maxIf({v}, {has})")],
        AggregateFn::Sum | AggregateFn::Mean => vec![sum],
    });
    if careful && checks_rewrites(call.func) {
        cols.push(format!("uniqExactIf({t}, {has})"));
        cols.push(format!("uniqExactIf({t}, {v}, {has})"));
    }
    cols
}

/// The rows a group reads, `lo..=hi` of time: where the series table listed the series the
/// predicate matches, `_series IN (...)` alone (those series' rows pass the tag conditions by
/// construction, and a tag condition is read and evaluated on every row of the granules the
/// list selects: a fifth of `cpu-max-all-8`'s ClickHouse CPU at 1.08M lines), else the tag
/// conditions.
fn where_sql(req: &AggregateRequest, s: &schema::TableSchema, narrow: &Narrowing, (lo, hi): (i64, i64)) -> String {
    let t = ident(TIME);
    let pred = narrow.cond.clone().unwrap_or_else(|| predicate_sql(&req.scan.tags, s));
    format!("{t} >= {} AND {t} <= {} AND {pred}", int(lo), int(hi))
}

/// ` PREWHERE` of a group's rows over `lo..=hi` where the series table gave the matched series'
/// numbers (`Narrowing::sids`), else nothing (module docs, "Reading fewer bytes"). Implied by
/// [`where_sql`], which is kept whole: the answer is the same rows'.
fn prewhere_sql(narrow: &Narrowing, (lo, hi): (i64, i64)) -> String {
    let t = ident(TIME);
    narrow.sids.as_ref().map_or_else(String::new, |sids| format!(" PREWHERE {t} >= {} AND {t} <= {} AND {sids}", int(lo), int(hi)))
}

/// The settings of a group's statements: with `max_threads = 1` over at most
/// `single_thread_series` listed series (module docs).
fn settings(inner: &Inner, narrow: &Narrowing) -> Vec<(&'static str, String)> {
    let mut s = inner.select_settings();
    let bound = inner.opts.single_thread_series;
    if narrow.sids.is_some() && narrow.listed <= bound {
        s.push(("max_threads", "1".into()));
    }
    s
}

/// What every statement of one group shares: `req` is any request of it; `narrow`, what the
/// series table adds (the series matched, and whether the group key may be the series' number).
struct Group<'a> {
    req: &'a AggregateRequest,
    chdb: &'a str,
    s: &'a schema::TableSchema,
    calls: &'a [Call],
    narrow: &'a Narrowing,
}

/// The whole statement of a group (module docs); `range`, the times read (the request's, or
/// narrower: [`edge`]).
fn statement(g: &Group<'_>, mode: Mode, range: (i64, i64)) -> String {
    let (req, s, narrow) = (g.req, g.s, g.narrow);
    let scan = &req.scan;
    let b = bucket_sql(req.every, req.offset, scan.min_time);
    let t = ident(TIME);
    let mut read: Vec<String> = Vec::new();
    for c in g.calls {
        let has = format!("isNotNull({})", ident(&c.col));
        if !read.contains(&has) {
            read.push(has);
        }
    }
    let tbl = table(g.chdb, &scan.measurement);
    // the table and the rows read from it: `<table> [PREWHERE …] WHERE …`
    let rows = format!("{tbl}{} WHERE {} AND ({})", prewhere_sql(narrow, range), where_sql(req, s, narrow, range), read.join(" OR "));
    let (source, calls) = if mode == Mode::Merged { merged_points(g, &rows) } else { (rows, g.calls.to_vec()) };
    let mut cols: Vec<String> = calls.iter().flat_map(|c| columns_sql(c, mode)).collect();
    if mode == Mode::Fast {
        // whether the bucket's rows have distinct times (module docs)
        cols.push("count()".into());
        cols.push(format!("uniqExact({t})"));
    }
    // the earliest time: shows a bucket start that wrapped past i64::MIN (module docs)
    cols.push(format!("min({t})"));
    let series = ident(SERIES);
    // Grouped by the series' number where it is exact: the first column is then any row's
    // `_series`, and the answer is still ordered by `_series`.
    let (first, key) = if narrow.ids.is_some() {
        (ident(SID), ident(SID))
    } else if narrow.numeric {
        (format!("any({series})"), format!("cityHash64({series})"))
    } else {
        (series.clone(), series.clone())
    };
    format!(
        "SELECT {first}, {b}, {cols} FROM {source} \
         GROUP BY {key}, {b} ORDER BY {first}, {b} LIMIT {limit} FORMAT RowBinary",
        cols = cols.join(", "),
        limit = MAX_ROWS + 1,
    )
}

/// The merged points of a group (module docs, "Rewritten points"): a subquery of one row per
/// series and time, each field column read (`\m<k>`, a name no table column has: only marked
/// columns hold a backslash, and they end in `\field` or `\tag`) the value of the latest row
/// (`_seq`) carrying it, NULL where none does; and the calls over those columns. `rows`: the
/// table and its conditions (`<table> [PREWHERE …] WHERE …`).
fn merged_points(g: &Group<'_>, rows: &str) -> (String, Vec<Call>) {
    let (t, seq) = (ident(TIME), ident(SEQ));
    let key = if g.narrow.ids.is_some() { ident(SID) } else { ident(SERIES) };
    let mut read: Vec<&str> = Vec::new();
    let calls = g
        .calls
        .iter()
        .map(|c| {
            let k = read.iter().position(|r| *r == c.col).unwrap_or_else(|| {
                read.push(&c.col);
                read.len() - 1
            });
            Call { col: format!("\\m{k}"), ..c.clone() }
        })
        .collect();
    let cols: Vec<String> = read
        .iter()
        .enumerate()
        .map(|(k, col)| {
            let (v, has) = (ident(col), format!("isNotNull({})", ident(col)));
            format!("if(countIf({has}) > 0, argMaxIf(assumeNotNull({v}), {seq}, {has}), NULL) AS {}", ident(&format!("\\m{k}")))
        })
        .collect();
    let sql = format!("(SELECT {key}, {t}, {} FROM {rows} GROUP BY {key}, {t})", cols.join(", "));
    (sql, calls)
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

/// What one answer row says: each call's row (`None`: no point of its field in the bucket), or
/// that the bucket holds rewritten points (`Fast`: any; `Careful`: rewritten to another value),
/// or that its start is before `i64::MIN` (wrapped).
enum Decoded {
    Rows(Vec<Option<AggregateRow>>),
    Rewritten,
    Wrapped,
}

/// One call's columns: its row, and (`Careful`) whether a time of the bucket carries two values
/// of its field.
fn decode_call(c: &mut Cursor<'_>, call: &Call, mode: Mode, bucket_start: i64) -> Option<(Option<AggregateRow>, bool)> {
    let f = call.func;
    let rows = c.u64()?;
    let careful = mode == Mode::Careful;
    let (mut value, point_time, mut count) = match f {
        AggregateFn::Count => {
            let n = if careful { c.u64()? } else { rows };
            (FieldValue::Integer(n as i64), None, n)
        }
        AggregateFn::First | AggregateFn::Last => (value(c, call.ty)?, Some(c.i64()?), 1),
        AggregateFn::Min | AggregateFn::Max if careful || call.point_time => (value(c, call.ty)?, Some(c.i64()?), rows),
        // the point's time is not shown: the bucket's start stands for it (as on VictoriaMetrics)
        AggregateFn::Min | AggregateFn::Max => (value(c, call.ty)?, Some(bucket_start), rows),
        AggregateFn::Sum | AggregateFn::Mean => (value(c, call.ty)?, None, rows),
    };
    let mut rewritten = false;
    if checks_rewrites(f) {
        if careful {
            count = c.u64()?;
            rewritten = c.u64()? != count;
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
            value = FieldValue::Float(s / count as f64);
        }
    }
    let row = (rows > 0).then_some(AggregateRow { bucket_start, point_time, value, count });
    Some((row, rewritten))
}

/// Decodes one answer row after `_series`: `None` when the bytes end inside it.
fn decode(c: &mut Cursor<'_>, calls: &[Call], mode: Mode) -> Option<Decoded> {
    let bucket_start = c.i64()?;
    let mut rows = Vec::with_capacity(calls.len());
    let mut rewritten = false;
    for call in calls {
        let (row, r) = decode_call(c, call, mode, bucket_start)?;
        rewritten |= r;
        rows.push(row);
    }
    if mode == Mode::Fast {
        rewritten = c.u64()? != c.u64()?;
    }
    if bucket_start > c.i64()? {
        return Some(Decoded::Wrapped);
    }
    if rewritten {
        return Some(Decoded::Rewritten);
    }
    Some(Decoded::Rows(rows))
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

/// `Backend::aggregate` for ClickHouse: a group of one.
pub async fn aggregate(inner: &Inner, req: AggregateRequest) -> Result<Vec<AggregateSeries>> {
    Ok(aggregate_group(inner, &[&req]).await?.pop().unwrap_or_default())
}

/// `Backend::aggregate_many` for ClickHouse: requests over the same series, range and buckets
/// (whatever their field and function) are answered by one statement ([`aggregate_group`]), the
/// groups [`AGGREGATE_CONCURRENCY`] at once; in the order asked. A group answers all or none: a
/// request refused (rewritten points of one field, say) refuses its group.
pub async fn aggregate_many(inner: &Inner, reqs: Vec<AggregateRequest>) -> Vec<Result<Vec<AggregateSeries>>> {
    let key = |r: &AggregateRequest| {
        let mut scan = r.scan.clone();
        scan.fields.clear();
        format!("{scan:?} {} {}", r.every, r.offset)
    };
    aggregate_grouped(&reqs, key, AGGREGATE_CONCURRENCY, |group| async move { aggregate_group(inner, &group).await }).await
}

/// Answers requests that differ only in their field and function with one statement; in the
/// order given. A request whose field the table lacks answers no series.
async fn aggregate_group(inner: &Inner, reqs: &[&AggregateRequest]) -> GroupAnswer {
    let Some(req) = reqs.first().copied() else { return Ok(Vec::new()) };
    let scan = &req.scan;
    if reqs.iter().any(|r| r.scan.fields.len() != 1) {
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
    let mut out: Vec<Vec<AggregateSeries>> = vec![Vec::new(); reqs.len()];
    let Some(s) = schema::get(inner, &chdb, &scan.measurement).await? else { return Ok(out) };
    // Request i → its call (none where the table has no such field).
    let mut calls: Vec<Call> = Vec::new();
    let mut slot: Vec<Option<usize>> = Vec::with_capacity(reqs.len());
    for r in reqs {
        let Some((col, ty)) = s.fields.get(&r.scan.fields[0]).cloned() else {
            slot.push(None);
            continue;
        };
        if matches!(ty, FieldType::String | FieldType::Boolean) {
            return Err(refused("not a numeric field"));
        }
        slot.push(Some(calls.len()));
        calls.push(Call { col, ty, func: r.func, point_time: r.point_time, latest_only: r.latest_only });
    }
    if calls.is_empty() || scan.min_time > scan.max_time {
        return Ok(out);
    }
    let narrow = series_table::narrow(inner, &chdb, &scan.measurement, &s, &scan.tags).await?;
    let g = Group { req, chdb: &chdb, s: &s, calls: &calls, narrow: &narrow };
    let mut by_call = match edge::answer(inner, &g).await? {
        Some(a) => a,
        None => match answer(inner, &g, (scan.min_time, scan.max_time), None).await? {
            Some(a) => a,
            None => return Err(refused("points rewritten with another value")),
        },
    };
    for (o, k) in out.iter_mut().zip(slot) {
        if let Some(k) = k {
            *o = std::mem::take(&mut by_call[k]);
        }
    }
    Ok(out)
}

/// A group's answer over the times `range`: the fast statement, and where a bucket holds
/// rewritten points the careful one (module docs, "Rewritten points"); `None` when a point is
/// rewritten with another value. `complete`: as [`read_answer`]'s, of the statement answered.
async fn answer(inner: &Inner, g: &Group<'_>, range: (i64, i64), mut complete: Option<&mut HashSet<(u64, i64)>>) -> Result<Option<Vec<Vec<AggregateSeries>>>> {
    let (pred, ids) = (&g.req.scan.tags, g.narrow.ids.as_ref());
    for mode in [Mode::Fast, Mode::Careful] {
        let a = read_answer(inner, (&statement(g, mode, range), g.narrow), pred, g.calls, mode, ids, complete.as_deref_mut()).await?;
        if a.is_some() {
            return Ok(a);
        }
    }
    read_answer(inner, (&statement(g, Mode::Merged, range), g.narrow), pred, g.calls, Mode::Merged, ids, complete).await
}

/// The series being read: its id (none before the first row; a series without tags has the empty
/// id), its tags when the predicate keeps it, and its number (series read so far).
type CurrentSeries = (Option<Vec<u8>>, Option<Vec<(String, String)>>, usize);

/// Runs a group's statement and reads its answer: per call, the series the predicate keeps
/// that have a point of its field, each with its buckets; `None` when a bucket holds rewritten
/// points (`Careful`: rewritten to another value). `complete` (with `ids`): filled with the
/// `(_sid, bucket start)` of every answer row where each call has a point, whether or not the
/// predicate keeps the series. `narrow`: the group's (it decides the [`settings`]).
async fn read_answer(
    inner: &Inner,
    (sql, narrow): (&str, &Narrowing),
    pred: &crate::backend::TagPredicate,
    calls: &[Call],
    mode: Mode,
    ids: Option<&HashMap<u64, Vec<u8>>>,
    mut complete: Option<&mut HashSet<(u64, i64)>>,
) -> Result<Option<Vec<Vec<AggregateSeries>>>> {
    if let Some(c) = complete.as_deref_mut() {
        c.clear();
    }
    let settings = settings(inner, narrow);
    let ans = inner.retry_missing(|| inner.client.stream(sql, &settings)).await.map_err(not_pushed)?;
    let mut rows = Rows::new(ans);
    let mut out: Vec<Vec<AggregateSeries>> = vec![Vec::new(); calls.len()];
    let mut current: CurrentSeries = (None, None, 0);
    // Per call, the number of the last series it was given.
    let mut given: Vec<usize> = vec![0; calls.len()];
    let mut n: u64 = 0;
    loop {
        let next = rows
            .next(|c| {
                // The first column: `_series`, or `_sid` to look up (a series newer than the
                // list: asked again by the scan).
                let (id, h) = match ids {
                    None => (c.bytes()?, 0),
                    Some(ids) => match c.u64() {
                        None => (None, 0),
                        Some(h) => (Some(ids.get(&h).ok_or_else(|| refused("a series newer than its series list"))?.as_slice()), h),
                    },
                };
                let Some(id) = id else { return Ok(None) };
                let id = (current.0.as_deref() != Some(id)).then(|| id.to_vec());
                Ok(decode(c, calls, mode).map(|d| (id, h, d)))
            })
            .await
            .map_err(not_pushed)?;
        let Some((id, h, decoded)) = next else { break };
        n += 1;
        if n > MAX_ROWS {
            return Err(refused("too many series and buckets"));
        }
        if let Some(id) = id {
            let tags = parse_series_id(&id).filter(|t| pred.matches(t));
            current = (Some(id), tags, current.2 + 1);
        }
        let rs = match decoded {
            Decoded::Rewritten => return Ok(None),
            Decoded::Wrapped => return Err(refused("a bucket starting before the earliest time")),
            Decoded::Rows(rs) => rs,
        };
        if let (Some(c), Some(Some(r))) = (complete.as_deref_mut(), rs.first()) {
            if rs.iter().all(Option::is_some) {
                c.insert((h, r.bucket_start));
            }
        }
        let Some(tags) = &current.1 else { continue };
        for ((o, g), r) in out.iter_mut().zip(given.iter_mut()).zip(rs) {
            let Some(r) = r else { continue };
            if *g != current.2 {
                *g = current.2;
                o.push(AggregateSeries { tags: tags.clone(), rows: Vec::new() });
            }
            if let Some(s) = o.last_mut() {
                s.rows.push(r);
            }
        }
    }
    if ids.is_some() {
        // Ordered by `_sid`: each series' rows together, the series put in tag order here.
        for o in &mut out {
            o.sort_by(|a, b| a.tags.cmp(&b.tags));
        }
    }
    Ok(Some(out))
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
    fn prewhere_only_with_listed_numbers() {
        assert_eq!(prewhere_sql(&Narrowing::default(), (1, 2)), "");
        let n = Narrowing { sids: Some("`_sid` IN (7, 18446744073709551615)".into()), ..Narrowing::default() };
        assert_eq!(
            prewhere_sql(&n, (-5, 9)),
            " PREWHERE `time` >= toInt64('-5') AND `time` <= toInt64('9') AND `_sid` IN (7, 18446744073709551615)"
        );
    }

    #[test]
    fn hostile_column_is_quoted() {
        let call = Call { col: "a`b".into(), ty: FieldType::Float, func: AggregateFn::Max, point_time: true, latest_only: false };
        let cols = columns_sql(&call, Mode::Careful);
        assert!(cols[1].contains("assumeNotNull(`a\\`b`)"), "{cols:?}");
        assert!(cols[0].contains("isNotNull(`a\\`b`)"), "{cols:?}");
        assert_eq!(cols.len(), 5);
        assert_eq!(columns_sql(&Call { point_time: false, ..call }, Mode::Fast).len(), 2);
    }
}
