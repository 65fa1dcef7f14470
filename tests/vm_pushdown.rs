//! Aggregate pushdown on the VictoriaMetrics backend (MetricsQL rollups) gives exactly the
//! evaluator's answers over raw samples: every query runs twice against one real
//! `victoria-metrics`, once with pushdown and once with it switched off (a wrapper whose
//! capabilities list no aggregates), and `aggregate()` itself is compared with a fold of `scan()`.
//! Needs `/usr/bin/victoria-metrics` (Debian package `victoria-metrics`).

mod common;

use common::pushdown::{self, Switch};
use common::vm::Vm;
use std::sync::Arc;

use futures::StreamExt;
use influxgate::backend::victoriametrics::{VictoriaMetricsBackend, VmOptions};
use influxgate::backend::{
    AggregateFn, AggregateRequest, AggregateRow, AggregateSeries, Backend, BackendError, ScanRequest, SeriesChunk,
    TagPredicate, WriteBatch,
};
use influxgate::model::FieldValue;

/// VictoriaMetrics with its default flags (notably `-search.latencyOffset=30s`).
async fn start_vm() -> Vm {
    Vm::start(&[])
}

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
const S: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;

/// Hosts (one with a hostile value, one without `region`), points exactly on minute edges, one
/// millisecond before and after them, gaps, a float field with distinct values (`v`), an
/// integer-valued field full of ties (`w`), and a field only some points have (`z`).
fn data() -> String {
    let hosts = ["h0,region=us", "h1,region=us", "h2,region=eu", "h3", r#"a"}\,\ x\="y,region=eu"#];
    let mut s = String::new();
    let mut x: u64 = 7;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 11
    };
    for i in 0..600i64 {
        // every 10 s, but some points on edges ± 1 ms
        let t = pushdown::edge_time(T0, i);
        for (h, tags) in hosts.iter().enumerate() {
            if (i + h as i64) % 11 == 0 || (h == 3 && (120..180).contains(&i)) {
                continue; // gaps; h3 has a 10-minute hole
            }
            let v = (next() % 1_000_000) as f64 / 1000.0 + 0.000_1;
            let w = (next() % 5) as f64;
            let u = (next() % 40) as f64;
            let mut line = format!("cpu,host={tags} v={v},w={w},u={u}");
            if i % 4 == 0 {
                line.push_str(&format!(",z={}", (next() % 100) as f64 * 0.1));
            }
            s.push_str(&format!("{line} {t}\n"));
        }
    }
    s
}

fn ts(rfc: &str) -> String {
    format!("'{rfc}'")
}

const AGGS: &[&str] =
    &["count(v)", "sum(v)", "mean(v)", "first(v)", "last(v)", "max(v)", "min(v)", "count(z)", "sum(z)", "max(w)", "min(w)", "mean(w)", "max(u)", "min(u)"];

fn queries() -> Vec<String> {
    let mut q = Vec::new();
    let ranges = [
        format!("time >= {} AND time < {}", ts("2024-01-01T00:00:00Z"), ts("2024-01-01T01:00:00Z")),
        // clipped first and last buckets, bounds on the edges' neighbours
        format!("time >= {} AND time <= {}", ts("2024-01-01T00:00:29.999Z"), ts("2024-01-01T00:47:00.001Z")),
        format!("time > {} AND time < {}", ts("2024-01-01T00:10:00Z"), ts("2024-01-01T00:20:00Z")),
        // one point's range only
        format!("time >= {} AND time <= {}", ts("2024-01-01T00:00:30.001Z"), ts("2024-01-01T00:00:30.001Z")),
    ];
    let groups = ["time(1m)", "time(1m), host", "time(10m, 3m), *", "time(7m)", "time(1h)", "time(30s) fill(none)", "time(1m) fill(0)", "time(1m, 30s) tz('Europe/Paris')"];
    for agg in AGGS {
        for r in &ranges {
            for g in &groups {
                q.push(format!("SELECT {agg} FROM cpu WHERE {r} GROUP BY {g}"));
            }
        }
    }
    let r0 = &ranges[0];
    for w in [
        "host =~ /h[12]/",
        "host !~ /0/",
        "region = ''",
        "host = 'a\"}, x=\"y' OR host = 'h3'",
        "host =~ /^a\"/",
        "(host = 'h0' OR host = 'h2') AND region =~ /u|e/",
        "host = 'nosuch'",
    ] {
        for agg in ["count(v)", "mean(v)", "max(v)", "last(v)", "sum(w)"] {
            q.push(format!("SELECT {agg} FROM cpu WHERE {r0} AND ({w}) GROUP BY time(5m), host"));
        }
    }
    for nq in [
        "SELECT last(*) FROM cpu GROUP BY *",
        "SELECT first(*) FROM cpu GROUP BY *",
        "SELECT last(v) FROM cpu",
        "SELECT first(v), last(v) FROM cpu GROUP BY region",
        "SELECT count(v), sum(v), mean(v) FROM cpu",
        "SELECT max(v) FROM cpu GROUP BY host",
        "SELECT min(v) FROM cpu",
        "SELECT max(w) FROM cpu GROUP BY host",
        "SELECT count(v) FROM cpu WHERE time >= '2024-01-01T00:30:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
        "SELECT max(v) FROM cpu WHERE time < '2024-01-01T00:50:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
        "SELECT mean(v), count(v) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' GROUP BY time(1h), host",
        "SELECT count(v) FROM cpu WHERE time >= '2023-12-31T00:00:00Z' AND time < '2024-01-02T00:00:00Z' GROUP BY time(1d, 5h)",
        "SELECT sum(v) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' GROUP BY time(1500u) LIMIT 3",
    ] {
        q.push(nq.to_string());
    }
    // Several fields with one function: answered together (one rollup query for all metrics).
    for sel in ["max(v), max(w), max(u), max(z)", "min(u), min(v)", "count(v), count(z), count(w)", "last(z), last(v)", "first(w), first(z)", "mean(v), mean(w), max(v), max(u)", "sum(v), sum(v), sum(z)"] {
        q.push(format!("SELECT {sel} FROM cpu WHERE {r0} GROUP BY time(5m), host"));
        q.push(format!("SELECT {sel} FROM cpu WHERE {r0} AND host =~ /h[12]/ GROUP BY time(7m)"));
        q.push(format!("SELECT {sel} FROM cpu GROUP BY host"));
        q.push(format!("SELECT {sel} FROM cpu WHERE time < '2024-01-01T00:50:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5"));
    }
    q
}

struct Setup {
    _vm: Vm,
    on: Switch<VictoriaMetricsBackend>,
    off: Switch<VictoriaMetricsBackend>,
}

async fn setup(extra: &str) -> Setup {
    setup_with(extra, VmOptions::default()).await
}

async fn setup_with(extra: &str, opts: VmOptions) -> Setup {
    let vm = start_vm().await;
    let b = Arc::new(VictoriaMetricsBackend::new(&vm.url, opts).unwrap());
    let lp = data() + extra;
    let points = influxgate::lineproto::parse_body_str(&lp, influxgate::lineproto::Precision::Nanosecond, 0).unwrap();
    b.create_database("db").await.unwrap();
    for chunk in points.chunks(2000) {
        b.write(WriteBatch { db: "db".into(), rp: None, points: chunk.iter().collect() }).await.unwrap();
    }
    let (on, off) = Switch::pair(b);
    Setup { _vm: vm, on, off }
}

async fn compare(s: &Setup, queries: &[String], now: i64) -> (Vec<String>, usize) {
    pushdown::compare(&s.on, &s.off, "db", queries, now).await
}

#[tokio::test]
async fn pushdown_answers_equal_raw_evaluation() {
    let s = setup("").await;
    let qs = queries();
    let (failures, pushed) = compare(&s, &qs, T0 + 2 * 3600 * S).await;
    eprintln!("{pushed} of {} queries pushed down", qs.len());
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), qs.len(), failures.join("\n"));
    // Most of them were answered by rollups (not all: tz, ties of `w`, 1500us buckets fall back).
    assert!(pushed * 2 > qs.len(), "only {pushed} of {} queries pushed down", qs.len());
}

/// Buckets near now (instant queries, not query_range, because of VictoriaMetrics'
/// `-search.latencyOffset` adjustment of recent points), on a server with default flags.
#[tokio::test]
async fn recent_buckets() {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut extra = String::new();
    for i in 0..120i64 {
        let t = (now_ms - 20 * 60_000 + i * 10_000) * MS;
        extra.push_str(&format!("recent,host=h{} v={}.25 {t}\n", i % 3, i * 7 % 13));
    }
    let s = setup(&extra).await;
    let qs: Vec<String> = [
        "SELECT count(v), sum(v), mean(v), first(v), last(v) FROM recent WHERE time > now() - 30m GROUP BY time(1m)",
        "SELECT count(v) FROM recent WHERE time > now() - 30m GROUP BY time(2m), host",
        "SELECT last(v) FROM recent GROUP BY host",
        "SELECT max(v) FROM recent WHERE time > now() - 25m GROUP BY time(10m)",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    let (failures, pushed) = compare(&s, &qs, now_ms * MS).await;
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
    assert!(pushed >= 3, "only {pushed} pushed down");
}

/// Data pushdown must not take: two samples at one millisecond, a `rollup` tag.
#[tokio::test]
async fn refused_shapes_fall_back() {
    let extra = "dup,host=a v=1 1704067200000000000\ndup,host=a v=2 1704067200000000000\ndup,host=a v=3 1704067210000000000\n\
                 rl,rollup=min v=1 1704067200000000000\nrl,rollup=max v=2 1704067200000000000\n\
                 early,host=a v=1 5000000000\nearly,host=a v=2 1704067200000000000\n\
                 dup2,host=b v=1 1704067200000000000\ndup2,host=b v=5 1704067210000000000\ndup2,host=b v=2 1704067210000000000\n\
                 dup2,host=b v=7 1704067220000000000\ndup2,host=b v=3 1704067220000000000\n";
    let s = setup(extra).await;
    for m in ["dup", "rl", "early"] {
        let req = pushdown::request(m, "v", AggregateFn::Count, (0, T0 + 3600 * S), 60 * S, true);
        pushdown::assert_refused(s.on.inner.as_ref(), req, m).await;
    }
    let qs: Vec<String> = [
        "SELECT count(v), sum(v), last(v) FROM dup",
        "SELECT count(v), max(v) FROM rl GROUP BY rollup",
        "SELECT count(v), first(v) FROM early",
    ]
        .iter()
        .map(|q| q.to_string())
        .collect();
    let (failures, pushed) = compare(&s, &qs, T0 + 2 * 3600 * S).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(pushed, 0);
    // last() is exact on samples sharing a millisecond (the scan keeps the last one too)
    let qs: Vec<String> = [
        "SELECT last(v) FROM dup2 WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:01:00Z' GROUP BY time(10s)",
        "SELECT last(v) FROM dup2",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    let (failures, pushed) = compare(&s, &qs, T0 + 2 * 3600 * S).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(pushed, 2);
}

/// A fold of the raw samples into the rows `aggregate()` must give (first/last: count 1).
fn reference(chunks: &[SeriesChunk], func: AggregateFn, every: i64, offset: i64, min_time: i64) -> Vec<AggregateSeries> {
    let mut out: Vec<AggregateSeries> = Vec::new();
    for c in chunks {
        if out.last().map(|s| &s.tags) != Some(&c.tags) {
            out.push(AggregateSeries { tags: c.tags.clone(), rows: Vec::new() });
        }
        let ser = out.last_mut().unwrap();
        for (j, t) in c.times.iter().enumerate() {
            let Some(FieldValue::Float(v)) = c.columns[0][j] else { continue };
            let b = if every == 0 { min_time } else { t - (t - offset).rem_euclid(every) };
            if ser.rows.last().map(|r| r.bucket_start) != Some(b) {
                ser.rows.push(AggregateRow { bucket_start: b, point_time: None, value: FieldValue::Float(0.0), count: 0 });
            }
            let r = ser.rows.last_mut().unwrap();
            let first = r.count == 0;
            r.count += 1;
            let cur = match r.value {
                FieldValue::Float(x) => x,
                _ => 0.0,
            };
            match func {
                AggregateFn::Count => r.value = FieldValue::Integer(r.count as i64),
                AggregateFn::Sum | AggregateFn::Mean => r.value = FieldValue::Float(cur + v),
                AggregateFn::First if first => {
                    r.value = FieldValue::Float(v);
                    r.point_time = Some(*t);
                }
                AggregateFn::Last => {
                    r.value = FieldValue::Float(v);
                    r.point_time = Some(*t);
                }
                AggregateFn::Max if first || v > cur => {
                    r.value = FieldValue::Float(v);
                    r.point_time = Some(*t);
                }
                AggregateFn::Min if first || v < cur => {
                    r.value = FieldValue::Float(v);
                    r.point_time = Some(*t);
                }
                _ => {}
            }
        }
    }
    for s in &mut out {
        for r in &mut s.rows {
            if let (AggregateFn::Mean, FieldValue::Float(x)) = (func, &r.value) {
                r.value = FieldValue::Float(x / r.count as f64);
            }
            if matches!(func, AggregateFn::First | AggregateFn::Last) {
                r.count = 1;
            }
        }
    }
    out.retain(|s| !s.rows.is_empty());
    out
}

/// `aggregate()` against a fold of `scan()` over the same samples, row by row, bit for bit.
#[tokio::test]
async fn aggregate_equals_fold_of_scan() {
    let s = setup("").await;
    let b = &s.on.inner;
    let funcs = [AggregateFn::Count, AggregateFn::Sum, AggregateFn::Mean, AggregateFn::First, AggregateFn::Last, AggregateFn::Max, AggregateFn::Min];
    let windows: &[(i64, i64, i64, i64)] = &[
        // (min, max, every, offset)
        (T0, T0 + 3600 * S - 1, 60 * S, 0),
        (T0 + 29 * S + 999 * MS, T0 + 47 * 60 * S + MS, 60 * S, 0),
        (T0 + 10 * 60 * S + 1, T0 + 20 * 60 * S - 1, 7 * 60 * S, 3 * 60 * S),
        (T0 - 3600 * S, T0 + 7200 * S, 3600 * S, 0),
        (0, T0 + 7200 * S, 7 * 24 * 3600 * S, 4 * 24 * 3600 * S),
        (T0, T0 + 3600 * S, 0, 0),
        (T0 + 10 * S - MS, T0 + 10 * S - MS, 10 * S, 0),
        // many buckets: the whole range first (phase A), then the buckets with samples
        (0, T0 + 7200 * S, 60 * S, 0),
        (T0 - 30 * 24 * 3600 * S, T0 + 7200 * S, 600 * S, 120 * S),
    ];
    let preds = [
        TagPredicate::True,
        TagPredicate::Match("host".into(), regex::Regex::new("h[13]").unwrap()),
        TagPredicate::Eq("host".into(), "a\"}, x=\"y".into()),
        TagPredicate::Ne("region".into(), "".into()),
    ];
    let mut checked = 0;
    let mut refused = 0;
    let mut untimed = 0;
    let mut failures = Vec::new();
    let cases = funcs.iter().map(|f| (*f, "v")).chain([
        (AggregateFn::Max, "w"),
        (AggregateFn::Min, "w"),
        (AggregateFn::Sum, "w"),
        (AggregateFn::Max, "u"),
        (AggregateFn::Min, "u"),
    ]);
    for (func, field) in cases {
        for &(min, max, every, offset) in windows {
            for pred in &preds {
                let scan = ScanRequest::new("db", None, "cpu", pred.clone(), min, max, vec![field.into()]);
                let chunks: Vec<SeriesChunk> =
                    b.scan(scan.clone()).await.unwrap().map(|c| c.unwrap()).collect::<Vec<_>>().await;
                let want = reference(&chunks, func, every, offset, min);
                let got = b.aggregate(AggregateRequest { scan: scan.clone(), func, every, offset, point_time: true, latest_only: false }).await;
                if matches!(func, AggregateFn::Min | AggregateFn::Max) && every > 0 {
                    // GROUP BY time: the point's own time is not shown, so ties never refuse and
                    // the values and buckets are those of the raw fold.
                    let loose = AggregateRequest { scan: scan.clone(), func, every, offset, point_time: false, latest_only: false };
                    match b.aggregate(loose).await {
                        Ok(got) => {
                            untimed += 1;
                            if without_point_times(&got) != without_point_times(&want) {
                                failures.push(format!("{func:?}({field}) without point times {min}..{max} every {every} offset {offset} {pred:?}\n  got:  {got:?}\n  want: {want:?}"));
                            }
                        }
                        Err(e) => failures.push(format!("{func:?}({field}) without point times {min}..{max} every {every}: {e}")),
                    }
                }
                match got {
                    Ok(got) => {
                        checked += 1;
                        if got != want {
                            failures.push(format!("{func:?}({field}) {min}..{max} every {every} offset {offset} {pred:?}\n  got:  {got:?}\n  want: {want:?}"));
                        }
                    }
                    // min/max may refuse when the extreme could be tied
                    Err(BackendError::Unsupported(_)) if matches!(func, AggregateFn::Min | AggregateFn::Max) => {
                        refused += 1
                    }
                    Err(e) => failures.push(format!("{func:?} {min}..{max} every {every}: {e}")),
                }
            }
        }
    }
    eprintln!("{checked} aggregate() answers compared, {refused} min/max refused (ties), {untimed} min/max without point times compared");
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 280, "{checked}");
}

/// `rows` with every `point_time` dropped (what a GROUP BY time query uses of min/max).
fn without_point_times(series: &[AggregateSeries]) -> Vec<AggregateSeries> {
    series
        .iter()
        .map(|s| AggregateSeries {
            tags: s.tags.clone(),
            rows: s.rows.iter().map(|r| AggregateRow { point_time: None, ..r.clone() }).collect(),
        })
        .collect()
}

/// VictoriaMetrics' count of rollup queries (`/api/v1/query` and `/api/v1/query_range`) so far.
async fn rollup_queries(vm: &Vm) -> u64 {
    // It counts a request a moment after answering it.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let text = reqwest::get(format!("{}/metrics", vm.url)).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("vm_http_requests_total{path=\"/api/v1/query\"}")
                || l.starts_with("vm_http_requests_total{path=\"/api/v1/query_range\"}")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The calls of one statement that differ only in their field are answered together: each gets
/// what `aggregate` answers it alone, and the group costs the rollup queries of one call.
#[tokio::test]
async fn calls_differing_in_field_share_queries() {
    let s = setup("").await;
    let b = &s.on.inner;
    let fields = ["v", "w", "u", "z", "nosuch", "v"];
    let cases: &[(AggregateFn, (i64, i64), i64, bool)] = &[
        (AggregateFn::Max, (T0, T0 + 3600 * S - 1), 5 * 60 * S, false),
        (AggregateFn::Min, (T0 + 29 * S, T0 + 47 * 60 * S), 60 * S, false),
        (AggregateFn::Last, (0, T0 + 7200 * S), 7 * 24 * 3600 * S, true),
        (AggregateFn::Mean, (T0, T0 + 3600 * S - 1), 10 * 60 * S, false),
        (AggregateFn::Max, (T0, T0 + 3600 * S - 1), 3600 * S, true),
    ];
    for &(func, range, every, point_time) in cases {
        let reqs: Vec<AggregateRequest> =
            fields.iter().map(|f| pushdown::request("cpu", f, func, range, every, point_time)).collect();
        let q0 = rollup_queries(&s._vm).await;
        let one = b.aggregate(reqs[0].clone()).await;
        let q1 = rollup_queries(&s._vm).await;
        let together = b.aggregate_many(reqs.clone()).await;
        let q2 = rollup_queries(&s._vm).await;
        assert_eq!(together.len(), reqs.len());
        let mut alone = Vec::new();
        for req in &reqs {
            alone.push(b.aggregate(req.clone()).await);
        }
        // A call refused alone may refuse the group (the planner then scans the statement).
        let some_refused = alone.iter().any(|a| matches!(a, Err(BackendError::Unsupported(_))));
        for ((req, got), alone) in reqs.iter().zip(&together).zip(&alone) {
            match (alone, got) {
                (Ok(a), Ok(g)) => assert_eq!(a, g, "{func:?} {:?}", req.scan.fields),
                (_, Err(BackendError::Unsupported(_))) if some_refused => {}
                other => panic!("{func:?} {:?}: {other:?}", req.scan.fields),
            }
        }
        // Unless the group was refused, it asked no more rollup queries than one call alone.
        if one.is_ok() {
            assert!(q2 - q1 <= q1 - q0, "{func:?}: {} rollup queries for the group, {} for one call", q2 - q1, q1 - q0);
        }
    }
}

/// `last()` without GROUP BY time from a recent window (`victoriametrics::latest`): series that
/// stop hours before the probed one (asked again over the older part, by exact selectors and,
/// past 64 of them, by the request's selectors), fields of one series with different last
/// times, ties between series, integer values, several shard groups, no series at all; with the
/// default window (1 h), a window of one minute (more series older than it) and none
/// (`last_window_ms = 0`: the whole range at once).
#[tokio::test]
async fn last_from_recent_window() {
    for window in [None, Some(60_000), Some(0)] {
        last_from_window(window).await;
    }
}

async fn last_from_window(window_ms: Option<u64>) {
    const H: i64 = 3600 * S;
    let mut extra = String::new();
    // lp: `a` (listed first, so probed) runs 5 h; `b` stops 3 h earlier; `c` has `x` to the end
    // and `y` stopping after 1.5 h; `d` and `e` end at the same time; `f` has one point 30 days
    // earlier (another shard group) and a few recent ones; `g` only the old point.
    for i in 0..(5 * 360i64) {
        let t = T0 + i * 10 * S;
        extra.push_str(&format!("lp,host=a v={}i,w={} {t}\n", i % 97, i as f64 * 0.5));
        if t < T0 + 2 * H {
            extra.push_str(&format!("lp,host=b v={}i,w=0.25 {t}\n", i % 13));
        }
        let y = if t < T0 + H + H / 2 { format!(",y={}", i % 7) } else { String::new() };
        extra.push_str(&format!("lp,host=c x={}{y} {t}\n", i % 5));
        if t < T0 + 4 * H && i % 3 == 0 {
            extra.push_str(&format!("lp,host=d v={}i {t}\n", i % 11));
        }
    }
    extra.push_str(&format!("lp,host=d v=3i {}\nlp,host=e v=4i {}\n", T0 + 4 * H, T0 + 4 * H));
    extra.push_str(&format!("lp,host=f v=1i {}\nlp,host=g v=2i {}\n", T0 - 30 * 24 * H, T0 - 30 * 24 * H));
    for k in 0..5i64 {
        extra.push_str(&format!("lp,host=f v={}i {}\n", 10 + k, T0 + 3 * H + k * S));
    }
    // many: `a` runs 5 h, 70 others stop after 1 h (more than the older part names one by one).
    // few: its first series stops early, so the window starts there and holds every series.
    for i in 0..(5 * 60i64) {
        let t = T0 + i * 60 * S;
        extra.push_str(&format!("many,host=a v={i} {t}\nfew,host=z v={i} {t}\n"));
        if t < T0 + H {
            for h in 0..70 {
                extra.push_str(&format!("many,host=h{h:02} v={} {t}\n", (i * 31 + h) % 17));
            }
            extra.push_str(&format!("few,host=a v={} {t}\n", i % 9));
        }
    }
    let mut opts = VmOptions::default();
    if let Some(w) = window_ms {
        opts.last_window_ms = w;
    }
    let s = setup_with(&extra, opts).await;
    let qs: Vec<String> = [
        "SELECT last(*) FROM lp GROUP BY *",
        "SELECT last(v) FROM lp",
        "SELECT last(v), last(w) FROM lp GROUP BY host",
        "SELECT last(x), last(y) FROM lp GROUP BY *",
        "SELECT last(y) FROM lp",
        "SELECT last(v) FROM lp WHERE host =~ /[bde]/ GROUP BY host",
        "SELECT last(v) FROM lp WHERE host = 'd' OR host = 'e'",
        "SELECT last(v) FROM lp WHERE time < '2024-01-01T03:30:00Z' GROUP BY host",
        "SELECT last(v) FROM lp WHERE time >= '2023-12-01T00:00:00Z' AND time < '2024-01-01T00:10:00Z' GROUP BY host",
        "SELECT last(v) FROM lp WHERE host = 'nosuch'",
        "SELECT last(*) FROM many GROUP BY *",
        "SELECT last(v) FROM many",
        "SELECT last(v) FROM many WHERE host =~ /^h0/ GROUP BY host",
        "SELECT last(*) FROM few GROUP BY *",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    let before = s.on.inner.latest_windows();
    let (failures, pushed) = compare(&s, &qs, T0 + 10 * H).await;
    let after = s.on.inner.latest_windows();
    assert!(failures.is_empty(), "window {window_ms:?}: {} differ:\n{}", failures.len(), failures.join("\n"));
    assert!(pushed >= qs.len() - 2, "only {pushed} of {} pushed down", qs.len());
    if window_ms == Some(0) {
        assert_eq!(after, before, "no recent window asked");
    } else {
        assert!(after.0 - before.0 >= 10, "{before:?} → {after:?}");
        assert!(after.1 - before.1 >= 4, "{before:?} → {after:?}");
    }
    // The store's answer: each series' latest row of the fold of its scan (without a window: every
    // bucket's row, which `latest_only` allows too).
    for (m, f) in [("lp", "v"), ("lp", "y"), ("many", "v"), ("few", "v")] {
        let (min, max) = (0, T0 + 10 * H);
        let every = 7 * 24 * H;
        let scan = ScanRequest::new("db", None, m, TagPredicate::True, min, max, vec![f.into()]);
        let chunks: Vec<SeriesChunk> = s.on.inner.scan(scan.clone()).await.unwrap().map(|c| c.unwrap()).collect::<Vec<_>>().await;
        let mut want = reference(&chunks, AggregateFn::Last, every, 4 * 24 * H, min);
        for series in want.iter_mut().filter(|_| window_ms != Some(0)) {
            series.rows = series.rows.split_off(series.rows.len().saturating_sub(1));
        }
        let req = AggregateRequest { scan, func: AggregateFn::Last, every, offset: 4 * 24 * H, point_time: true, latest_only: true };
        let got = s.on.inner.aggregate(req).await.unwrap();
        assert_eq!(got, want, "{m}.{f}, window {window_ms:?}");
    }
}
