//! Expectations computed by the real InfluxDB 1.6.7 (`epoch=ns`); the query is in the comment
//! of each check. Data (precision s):
//!   cpu v=1.5,i=3i,s="x",b=true 0      cpu v=2.25,i=-7i,s="y",b=false 10
//!   cpu v=0.1,i=5i,s="x",b=true 20     cpu v=0.2,i=5i,s="z",b=false 30
//!   cpu v=0.3,i=9i,s="x",b=true 40     cpu v=-4,i=2i,s="y",b=true 70
//!   neg v=1.5,i=4i -15   neg v=2.5,i=8i -5   neg v=3.5,i=1i 5
use super::transform::default_derivative_unit;
use super::*;
use crate::model::FieldType;
use crate::query::result::Value;
use crate::rules::time_bounds::{MAX_TIME, MIN_TIME};

const S: i64 = 1_000_000_000;

fn cpu_v() -> Vec<Sample> {
    [(0, 1.5), (10, 2.25), (20, 0.1), (30, 0.2), (40, 0.3), (70, -4.0)]
        .iter()
        .map(|&(t, v)| Sample::new(t * S, Value::Float(v)))
        .collect()
}
fn cpu_i() -> Vec<Sample> {
    [(0, 3), (10, -7), (20, 5), (30, 5), (40, 9), (70, 2)]
        .iter()
        .map(|&(t, v)| Sample::new(t * S, Value::Integer(v)))
        .collect()
}
fn cpu_s() -> Vec<Sample> {
    [(0, "x"), (10, "y"), (20, "x"), (30, "z"), (40, "x"), (70, "y")]
        .iter()
        .map(|&(t, v)| Sample::new(t * S, Value::String(v.into())))
        .collect()
}
fn cpu_b() -> Vec<Sample> {
    [(0, true), (10, false), (20, true), (30, false), (40, true), (70, true)]
        .iter()
        .map(|&(t, v)| Sample::new(t * S, Value::Boolean(v)))
        .collect()
}

fn one(agg: Aggregate, pts: &[Sample]) -> Value {
    let out = reduce(&agg, pts, 0).expect("reduce");
    assert_eq!(out.len(), 1, "{:?}", out);
    out[0].value.clone()
}
fn f(x: f64) -> Value {
    Value::Float(x)
}
fn i(x: i64) -> Value {
    Value::Integer(x)
}
fn tv(out: &[Sample]) -> Vec<(i64, Value)> {
    out.iter().map(|s| (s.time, s.value.clone())).collect()
}
fn ts(v: &[(i64, Value)]) -> Vec<(i64, Value)> {
    v.iter().map(|(t, v)| (t * S, v.clone())).collect()
}

#[test]
fn aggregates_float() {
    // SELECT count(v),sum(v),mean(v),median(v),mode(v),spread(v),stddev(v) FROM cpu
    // → [0,6,0.34999999999999964,0.05833333333333327,0.25,-4,6.25,2.164813309887637]
    let p = cpu_v();
    assert_eq!(one(Aggregate::Count, &p), i(6));
    assert_eq!(one(Aggregate::Sum, &p), f(0.34999999999999964));
    assert_eq!(one(Aggregate::Mean, &p), f(0.05833333333333327));
    assert_eq!(one(Aggregate::Median, &p), f(0.25));
    assert_eq!(one(Aggregate::Mode, &p), f(-4.0));
    assert_eq!(one(Aggregate::Spread, &p), f(6.25));
    assert_eq!(one(Aggregate::Stddev, &p), f(2.164813309887637));
}

#[test]
fn aggregates_integer() {
    // SELECT count(i),sum(i),mean(i),median(i),mode(i),spread(i),stddev(i) FROM cpu
    // → [0,6,17,2.8333333333333335,4,5,16,5.382068994974579]
    let p = cpu_i();
    assert_eq!(one(Aggregate::Count, &p), i(6));
    assert_eq!(one(Aggregate::Sum, &p), i(17));
    assert_eq!(one(Aggregate::Mean, &p), f(2.8333333333333335));
    assert_eq!(one(Aggregate::Median, &p), f(4.0));
    assert_eq!(one(Aggregate::Mode, &p), i(5));
    assert_eq!(one(Aggregate::Spread, &p), i(16));
    assert_eq!(one(Aggregate::Stddev, &p), f(5.382068994974579));
}

#[test]
fn string_and_bool() {
    // SELECT mode(s), mode(b), count(s) FROM cpu → [0,"x",true,6]
    assert_eq!(one(Aggregate::Mode, &cpu_s()), Value::String("x".into()));
    assert_eq!(one(Aggregate::Mode, &cpu_b()), Value::Boolean(true));
    assert_eq!(one(Aggregate::Count, &cpu_s()), i(6));
    // SELECT first(s) FROM cpu → [0,"x"];  SELECT last(b) FROM cpu → [70s,true]
    let o = reduce(&Aggregate::First, &cpu_s(), 0).unwrap();
    assert_eq!(tv(&o), vec![(0, Value::String("x".into()))]);
    let o = reduce(&Aggregate::Last, &cpu_b(), 0).unwrap();
    assert_eq!(tv(&o), vec![(70 * S, Value::Boolean(true))]);
    // SELECT distinct(s) FROM cpu → [0,"x"],[0,"y"],[0,"z"]
    let o = reduce(&Aggregate::Distinct, &cpu_s(), 0).unwrap();
    assert_eq!(tv(&o), ts(&[(0, Value::String("x".into())), (0, Value::String("y".into())), (0, Value::String("z".into()))]));
    // SELECT min(b) FROM ... → the earliest false
    let o = reduce(&Aggregate::Min, &cpu_b(), 0).unwrap();
    assert_eq!(tv(&o), vec![(10 * S, Value::Boolean(false))]);
}

#[test]
fn distinct_integer_order() {
    // SELECT distinct(i) FROM cpu → 3,-7,5,9,2 (first-seen time order), time 0
    let o = reduce(&Aggregate::Distinct, &cpu_i(), 0).unwrap();
    assert_eq!(tv(&o), ts(&[(0, i(3)), (0, i(-7)), (0, i(5)), (0, i(9)), (0, i(2))]));
}

#[test]
fn unsupported_types() {
    // SELECT mean(s) FROM m → unsupported mean iterator type: *query.stringInterruptIterator
    let e = reduce(&Aggregate::Mean, &cpu_s(), 0).unwrap_err();
    assert_eq!(e.0, "unsupported mean iterator type: *query.stringInterruptIterator");
    // SELECT stddev(b) → ... *query.booleanInterruptIterator
    assert_eq!(
        Aggregate::Stddev.check_input_type(FieldType::Boolean).unwrap_err().0,
        "unsupported stddev iterator type: *query.booleanInterruptIterator"
    );
    assert_eq!(Aggregate::Max.check_input_type(FieldType::String).unwrap_err().0, "unsupported max iterator type: *query.stringInterruptIterator");
    assert!(Aggregate::Min.check_input_type(FieldType::Boolean).is_ok());
    assert_eq!(
        Transform::CumulativeSum.check_input_type(FieldType::String).unwrap_err().0,
        "unsupported cumulative sum iterator type: *query.stringInterruptIterator"
    );
    assert_eq!(
        Transform::MovingAverage(2).check_input_type(FieldType::String).unwrap_err().0,
        "unsupported moving average iterator type: *query.stringInterruptIterator"
    );
    assert_eq!(
        Transform::Difference { non_negative: false }.check_input_type(FieldType::Boolean).unwrap_err().0,
        "unsupported difference iterator type: *query.booleanInterruptIterator"
    );
    assert!(Transform::Elapsed { unit: 1 }.check_input_type(FieldType::String).is_ok());
    assert_eq!(
        Aggregate::Percentile(50.0).check_input_type(FieldType::String).unwrap_err().0,
        "unsupported percentile iterator type: *query.stringInterruptIterator"
    );
    assert_eq!(Aggregate::Top(2).check_input_type(FieldType::String).unwrap_err().0, "unsupported top iterator type: *query.stringInterruptIterator");
    // nested calls report the same wrapper: SELECT derivative(first(s)) ... GROUP BY time(20s)
    // → unsupported derivative iterator type: *query.stringInterruptIterator
    let firsts = reduce(&Aggregate::First, &cpu_s(), 0).unwrap();
    assert_eq!(
        Transform::Derivative { unit: S, non_negative: false }.apply(&firsts).unwrap_err().0,
        "unsupported derivative iterator type: *query.stringInterruptIterator"
    );
}

#[test]
fn selectors() {
    // SELECT max(v) FROM cpu → [10s,2.25];  SELECT min(i) FROM cpu → [10s,-7]
    assert_eq!(tv(&reduce(&Aggregate::Max, &cpu_v(), 0).unwrap()), vec![(10 * S, f(2.25))]);
    assert_eq!(tv(&reduce(&Aggregate::Min, &cpu_i(), 0).unwrap()), vec![(10 * S, i(-7))]);
    // SELECT first(v),last(v),max(v),min(v) FROM cpu → [0,1.5,-4,2.25,-4] (time 0: several calls)
    assert_eq!(one(Aggregate::First, &cpu_v()), f(1.5));
    assert_eq!(one(Aggregate::Last, &cpu_v()), f(-4.0));
    // SELECT percentile(v,50) FROM cpu → [30s,0.2]; percentile(i,90) → [30s,5]
    assert_eq!(tv(&reduce(&Aggregate::Percentile(50.0), &cpu_v(), 0).unwrap()), vec![(30 * S, f(0.2))]);
    assert_eq!(tv(&reduce(&Aggregate::Percentile(90.0), &cpu_i(), 0).unwrap()), vec![(30 * S, i(5))]);
    // SELECT percentile(v,5) FROM cpu → no series
    assert!(reduce(&Aggregate::Percentile(5.0), &cpu_v(), 0).unwrap().is_empty());
    // SELECT percentile(v,100) FROM cpu → [10s,2.25]
    assert_eq!(tv(&reduce(&Aggregate::Percentile(100.0), &cpu_v(), 0).unwrap()), vec![(10 * S, f(2.25))]);
    // SELECT top(v,3) FROM cpu → [0,1.5],[10s,2.25],[40s,0.3]
    assert_eq!(tv(&reduce(&Aggregate::Top(3), &cpu_v(), 0).unwrap()), ts(&[(0, f(1.5)), (10, f(2.25)), (40, f(0.3))]));
    // SELECT bottom(i,2) FROM cpu → [10s,-7],[70s,2]
    assert_eq!(tv(&reduce(&Aggregate::Bottom(2), &cpu_i(), 0).unwrap()), ts(&[(10, i(-7)), (70, i(2))]));
    // SELECT top(i,2) FROM cpu → [20s,5],[40s,9] (tie between 5@20s and 5@30s → earlier)
    assert_eq!(tv(&reduce(&Aggregate::Top(2), &cpu_i(), 0).unwrap()), ts(&[(20, i(5)), (40, i(9))]));
}

#[test]
fn output_times() {
    // SELECT max(v) FROM cpu WHERE time >= 5s → [10s, 2.25] (single selector keeps its time)
    assert_eq!(output_time(&Aggregate::Max, 10 * S, 5 * S, true, false), 10 * S);
    // SELECT max(v),min(v) FROM cpu → time 0
    assert_eq!(output_time(&Aggregate::Max, 10 * S, MIN_TIME, false, false), 0);
    // GROUP BY time: bucket start; top keeps the point time
    assert_eq!(output_time(&Aggregate::Max, 10 * S, 0, true, true), 0);
    assert_eq!(output_time(&Aggregate::Top(2), 10 * S, 0, true, true), 10 * S);
    assert_eq!(output_time(&Aggregate::Mean, 0, 20 * S, true, false), 20 * S);
    // SELECT integral(v) FROM cpu WHERE time >= 5s → [0,-39.75]
    let later: Vec<Sample> = cpu_v().into_iter().filter(|p| p.time >= 5 * S).collect();
    let o = reduce(&Aggregate::Integral { unit: S }, &later, 5 * S).unwrap();
    assert_eq!(tv(&o), vec![(0, f(-39.75))]);
    assert_eq!(output_time(&Aggregate::Integral { unit: S }, o[0].time, 5 * S, true, false), 0);
}

#[test]
fn sample_subset() {
    let o = reduce(&Aggregate::Sample(3), &cpu_v(), 0).unwrap();
    assert_eq!(o.len(), 3);
    assert!(o.windows(2).all(|w| w[0].time <= w[1].time));
    assert_eq!(reduce(&Aggregate::Sample(10), &cpu_v(), 0).unwrap().len(), 6);
}

#[test]
fn integral_cases() {
    // SELECT integral(v) FROM cpu → [0,-21];  SELECT integral(i,1m) FROM cpu → [0,4.25]
    assert_eq!(tv(&integral(&cpu_v(), S, None).unwrap()), vec![(0, f(-21.0))]);
    assert_eq!(tv(&integral(&cpu_i(), 60 * S, None).unwrap()), vec![(0, f(4.25))]);
    assert_eq!(one(Aggregate::Integral { unit: S }, &cpu_v()), f(-21.0));
    // SELECT integral(v) FROM cpu GROUP BY time(30s)
    // → [0,32],[30s,-20.16666666666667],[60s,-32.83333333333333]
    let w = Window::new(30 * S, 0, None);
    assert_eq!(
        tv(&integral(&cpu_v(), S, Some(&w)).unwrap()),
        ts(&[(0, f(32.0)), (30, f(-20.16666666666667)), (60, f(-32.83333333333333))])
    );
}

#[test]
fn transforms_raw() {
    // SELECT cumulative_sum(v), cumulative_sum(i) FROM cpu
    let o = Transform::CumulativeSum.apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(0, f(1.5)), (10, f(3.75)), (20, f(3.85)), (30, f(4.05)), (40, f(4.35)), (70, f(0.34999999999999964))]));
    let o = Transform::CumulativeSum.apply(&cpu_i()).unwrap();
    assert_eq!(tv(&o), ts(&[(0, i(3)), (10, i(-4)), (20, i(1)), (30, i(6)), (40, i(15)), (70, i(17))]));
    // SELECT derivative(v) FROM cpu
    let o = Transform::Derivative { unit: default_derivative_unit(None), non_negative: false }.apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, f(0.075)), (20, f(-0.215)), (30, f(0.01)), (40, f(0.009999999999999998)), (70, f(-0.14333333333333334))]));
    // SELECT derivative(i,1m) FROM cpu
    let o = Transform::Derivative { unit: 60 * S, non_negative: false }.apply(&cpu_i()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, f(-60.0)), (20, f(72.0)), (30, f(0.0)), (40, f(24.0)), (70, f(-14.0))]));
    // SELECT non_negative_derivative(v) FROM cpu
    let o = Transform::Derivative { unit: S, non_negative: true }.apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, f(0.075)), (30, f(0.01)), (40, f(0.009999999999999998))]));
    // SELECT difference(v), difference(i) FROM cpu
    let o = Transform::Difference { non_negative: false }.apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, f(0.75)), (20, f(-2.15)), (30, f(0.1)), (40, f(0.09999999999999998)), (70, f(-4.3))]));
    let o = Transform::Difference { non_negative: false }.apply(&cpu_i()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, i(-10)), (20, i(12)), (30, i(0)), (40, i(4)), (70, i(-7))]));
    // SELECT non_negative_difference(i) FROM cpu
    let o = Transform::Difference { non_negative: true }.apply(&cpu_i()).unwrap();
    assert_eq!(tv(&o), ts(&[(20, i(12)), (30, i(0)), (40, i(4))]));
    // SELECT elapsed(v), elapsed(s,1s) FROM cpu
    let o = Transform::Elapsed { unit: 1 }.apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, i(10 * S)), (20, i(10 * S)), (30, i(10 * S)), (40, i(10 * S)), (70, i(30 * S))]));
    let o = Transform::Elapsed { unit: S }.apply(&cpu_s()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, i(10)), (20, i(10)), (30, i(10)), (40, i(10)), (70, i(30))]));
    // SELECT moving_average(v,3) FROM cpu
    let o = Transform::MovingAverage(3).apply(&cpu_v()).unwrap();
    assert_eq!(tv(&o), ts(&[(20, f(1.2833333333333334)), (30, f(0.8500000000000001)), (40, f(0.2000000000000001)), (70, f(-1.1666666666666665))]));
    // SELECT moving_average(i,2) FROM cpu
    let o = Transform::MovingAverage(2).apply(&cpu_i()).unwrap();
    assert_eq!(tv(&o), ts(&[(10, f(-2.0)), (20, f(-1.0)), (30, f(5.0)), (40, f(7.0)), (70, f(5.5))]));
    // SELECT derivative(v) FROM neg → [-5s,0.1],[5s,0.1]
    let neg: Vec<Sample> = [(-15, 1.5), (-5, 2.5), (5, 3.5)].iter().map(|&(t, v)| Sample::new(t * S, f(v))).collect();
    let o = Transform::Derivative { unit: S, non_negative: false }.apply(&neg).unwrap();
    assert_eq!(tv(&o), ts(&[(-5, f(0.1)), (5, f(0.1))]));
}

/// mean(v) per 20s bucket over [0, 90s) as 1.x reduces it.
fn mean_buckets() -> Vec<Sample> {
    let w = Window::new(20 * S, 0, None);
    let p = cpu_v();
    let mut rows = Vec::new();
    for start in w.starts(0, 89 * S) {
        let bucket: Vec<Sample> = p.iter().filter(|s| w.start(s.time) == start).cloned().collect();
        rows.extend(reduce(&Aggregate::Mean, &bucket, start).unwrap());
    }
    rows
}

#[test]
fn transforms_on_buckets() {
    // SELECT mean(v) ... GROUP BY time(20s) → [0,1.875],[20s,0.15000000000000002],[40s,0.3],[60s,-4],[80s,null]
    let rows = mean_buckets();
    assert_eq!(tv(&rows), ts(&[(0, f(1.875)), (20, f(0.15000000000000002)), (40, f(0.3)), (60, f(-4.0))]));
    let w = Window::new(20 * S, 0, None);
    let filled = fill(&rows, &w, Some(0), 80 * S, &Fill::Null, FieldType::Float, false, 1000);
    // SELECT derivative(mean(v)) ... GROUP BY time(20s) → [20s,-1.725],[40s,0.14999999999999997],[60s,-4.3]
    let o = Transform::Derivative { unit: default_derivative_unit(Some(20 * S)), non_negative: false }.apply(&filled).unwrap();
    assert_eq!(tv(&o), ts(&[(20, f(-1.725)), (40, f(0.14999999999999997)), (60, f(-4.3))]));
    // derivative(mean(v),1s) → [20s,-0.08625000000000001],[40s,0.007499999999999998],[60s,-0.215]
    let o = Transform::Derivative { unit: S, non_negative: false }.apply(&filled).unwrap();
    assert_eq!(tv(&o), ts(&[(20, f(-0.08625000000000001)), (40, f(0.007499999999999998)), (60, f(-0.215))]));
    // derivative(mean(v)) WHERE time >= 0 AND time < 120s GROUP BY time(20s) fill(0): 1.x starts
    // the inner query one interval early → [0,1.875],[20s,-1.725],...,[80s,4],[100s,0]
    let filled0 = fill(&rows, &w, Some(-20 * S), 100 * S, &Fill::Number(i(0)), FieldType::Float, false, 1000);
    let o = Transform::Derivative { unit: 20 * S, non_negative: false }.apply(&filled0).unwrap();
    assert_eq!(tv(&o), ts(&[(0, f(1.875)), (20, f(-1.725)), (40, f(0.14999999999999997)), (60, f(-4.3)), (80, f(4.0)), (100, f(0.0))]));
}

#[test]
fn fills() {
    let rows = mean_buckets();
    let w = Window::new(20 * S, 0, None);
    let run = |fl: Fill, ty: FieldType, rows: &[Sample]| tv(&fill(rows, &w, Some(0), 80 * S, &fl, ty, false, 1000));
    // fill(null) / fill(previous) / fill(linear) / fill(7) at 80s
    assert_eq!(run(Fill::Null, FieldType::Float, &rows)[4], (80 * S, Value::Null));
    assert_eq!(run(Fill::Previous, FieldType::Float, &rows)[4], (80 * S, f(-4.0)));
    assert_eq!(run(Fill::Linear, FieldType::Float, &rows)[4], (80 * S, Value::Null));
    assert_eq!(run(Fill::Number(i(7)), FieldType::Float, &rows)[4], (80 * S, f(7.0)));
    assert_eq!(run(Fill::None, FieldType::Float, &rows).len(), 4);
    // SELECT max(i) ... GROUP BY time(20s) fill(1.7) → [80s,1]
    let irows: Vec<Sample> = ts(&[(0, i(3)), (20, i(5)), (40, i(9)), (60, i(2))]).into_iter().map(|(t, v)| Sample::new(t, v)).collect();
    assert_eq!(run(Fill::Number(f(1.7)), FieldType::Integer, &irows)[4], (80 * S, i(1)));
    // SELECT count(v) ... GROUP BY time(20s) → [80s,0]
    let crows: Vec<Sample> = ts(&[(0, i(2)), (20, i(2)), (40, i(1)), (60, i(1))]).into_iter().map(|(t, v)| Sample::new(t, v)).collect();
    let o = fill(&crows, &w, Some(0), 80 * S, &Fill::Null, FieldType::Integer, true, 1000);
    assert_eq!(tv(&o)[4], (80 * S, i(0)));
}

#[test]
fn fill_linear_negative_and_offsets() {
    // lin v=1 0, v=4 30: SELECT mean(v) ... WHERE time >= 0 AND time < 40s GROUP BY time(10s) fill(linear)
    // → 1,2,3,4
    let w = Window::new(10 * S, 0, None);
    let rows = vec![Sample::new(0, f(1.0)), Sample::new(30 * S, f(4.0))];
    let o = fill(&rows, &w, Some(0), 30 * S, &Fill::Linear, FieldType::Float, false, 100);
    assert_eq!(tv(&o), ts(&[(0, f(1.0)), (10, f(2.0)), (20, f(3.0)), (30, f(4.0))]));
    let rows = vec![Sample::new(0, i(1)), Sample::new(30 * S, i(4))];
    let o = fill(&rows, &w, Some(0), 30 * S, &Fill::Linear, FieldType::Integer, false, 100);
    assert_eq!(tv(&o), ts(&[(0, i(1)), (10, i(2)), (20, i(3)), (30, i(4))]));
    // lin u=10 -30, u=40 0: SELECT max(u) ... WHERE time >= -40s AND time < 10s GROUP BY time(7s) fill(linear)
    // → [-42s,null],[-35s,10],[-28s,16],[-21s,22],[-14s,28],[-7s,34],[0,40],[7s,null]
    let w7 = Window::new(7 * S, 0, None);
    let rows = vec![Sample::new(-35 * S, f(10.0)), Sample::new(0, f(40.0))];
    let start = w7.start(-40 * S);
    assert_eq!(start, -42 * S);
    let end = w7.start(10 * S - 1);
    let o = fill(&rows, &w7, Some(start), end, &Fill::Linear, FieldType::Float, false, 100);
    assert_eq!(
        tv(&o),
        ts(&[(-42, Value::Null), (-35, f(10.0)), (-28, f(16.0)), (-21, f(22.0)), (-14, f(28.0)), (-7, f(34.0)), (0, f(40.0)), (7, Value::Null)])
    );
    // fill(previous) → [-42s,null],[-35s,10],...10...,[0,40],[7s,40]
    let o = fill(&rows, &w7, Some(start), end, &Fill::Previous, FieldType::Float, false, 100);
    assert_eq!(tv(&o).last().cloned(), Some((7 * S, f(40.0))));
    assert_eq!(tv(&o)[2], (-28 * S, f(10.0)));
    // the bucket bound limits work
    let o = fill(&rows, &w7, Some(start), end, &Fill::Null, FieldType::Float, false, 3);
    assert!(o.len() <= 3 + rows.len());
}

#[test]
fn buckets() {
    // neg: GROUP BY time(10s) over [-20s,10s) → -20s,-10s,0
    assert_eq!(bucket_start(-15 * S, 10 * S, 0), -20 * S);
    assert_eq!(bucket_start(-5 * S, 10 * S, 0), -10 * S);
    assert_eq!(bucket_start(5 * S, 10 * S, 0), 0);
    assert_eq!(bucket_start(-10 * S, 10 * S, 0), -10 * S);
    // GROUP BY time(10s,3s) WHERE time >= -20s → first bucket -27s; -15s → -17s; 5s → 3s
    assert_eq!(bucket_start(-20 * S, 10 * S, 3 * S), -27 * S);
    assert_eq!(bucket_start(-15 * S, 10 * S, 3 * S), -17 * S);
    assert_eq!(bucket_start(5 * S, 10 * S, 3 * S), 3 * S);
    assert_eq!(bucket_start(i64::MIN + 5, 10 * S, 0), MIN_TIME);
    let w = Window::new(10 * S, 0, None);
    assert_eq!(w.starts(-20 * S, 9 * S).collect::<Vec<_>>(), vec![-20 * S, -10 * S, 0]);
}

#[test]
fn tz_buckets() {
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let day = 86_400 * S;
    let hour = 3_600 * S;
    // SELECT count(v) FROM dst WHERE time >= '2024-03-09T00:00:00Z' AND time < '2024-03-13T00:00:00Z'
    //   GROUP BY time(1d) tz('America/New_York')
    // → 1709874000,1709960400,1710046800,1710129600,1710216000 (s)
    let w = Window::new(day, 0, Some(ny));
    let got: Vec<i64> = w.starts(1709942400 * S, 1710287999 * S).map(|t| t / S).collect();
    assert_eq!(got, vec![1709874000, 1709960400, 1710046800, 1710129600, 1710216000]);
    // points → buckets: 1710043200 (04:00Z) → 1709960400; 1710054000 → 1710046800
    assert_eq!(w.start(1710043200 * S) / S, 1709960400);
    assert_eq!(w.start(1710054000 * S) / S, 1710046800);
    // fall back: 2024-11-02..05 → 1730433600,1730520000,1730606400,1730696400
    let got: Vec<i64> = w.starts(1730505600 * S, 1730764799 * S).map(|t| t / S).collect();
    assert_eq!(got, vec![1730433600, 1730520000, 1730606400, 1730696400]);
    // 1h buckets over the spring-forward night: 04:00Z..10:00Z
    let wh = Window::new(hour, 0, Some(ny));
    let got: Vec<i64> = wh.starts(1710043200 * S, 1710064799 * S).map(|t| t / S).collect();
    assert_eq!(got, vec![1710043200, 1710046800, 1710050400, 1710054000, 1710057600, 1710061200]);
    // 1h buckets over the fall-back night: 03:00Z..09:00Z
    let got: Vec<i64> = wh.starts(1730602800 * S, 1730624399 * S).map(|t| t / S).collect();
    assert_eq!(got, vec![1730602800, 1730606400, 1730610000, 1730613600, 1730617200, 1730620800]);
    // 12h tz('Asia/Kolkata') 2024-11-02..05
    let kol: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap();
    let w12 = Window::new(12 * hour, 0, Some(kol));
    let got: Vec<i64> = w12.starts(1730505600 * S, 1730764799 * S).map(|t| t / S).collect();
    assert_eq!(got, vec![1730485800, 1730529000, 1730572200, 1730615400, 1730658600, 1730701800, 1730745000]);
}

fn assert_ulps(v: Value, want: f64, ulps: u64) {
    let Value::Float(got) = v else { panic!("not a float: {:?}", v) };
    let d = (got.to_bits() as i64 - want.to_bits() as i64).unsigned_abs();
    assert!(d <= ulps, "{} vs {} ({} ulps)", got, want, d);
}

#[test]
fn math_functions() {
    use super::math::{call, output_type};
    // SELECT abs(v), ceil(v), floor(v), round(v), abs(i), ceil(i), round(i) FROM cpu
    assert_eq!(call("abs", &[f(-4.0)]), f(4.0));
    assert_eq!(call("ceil", &[f(2.25)]), f(3.0));
    assert_eq!(call("floor", &[f(-4.0)]), f(-4.0));
    assert_eq!(call("round", &[f(1.5)]), f(2.0));
    assert_eq!(call("round", &[f(2.25)]), f(2.0));
    assert_eq!(call("round", &[f(-2.5)]), f(-3.0));
    assert_eq!(call("abs", &[i(-7)]), i(-7)); // 1.x: integers pass through unchanged
    assert_eq!(call("round", &[i(3)]), i(3));
    // SELECT sqrt(i), log(v,2), pow(i,2), log2(v), log10(v), ln(v), exp(v) FROM cpu (t=0: v=1.5,i=3)
    assert_eq!(call("sqrt", &[i(3)]), f(1.7320508075688772));
    assert_eq!(call("log", &[f(1.5), i(2)]), f(0.5849625007211562));
    assert_eq!(call("pow", &[i(3), i(2)]), f(9.0));
    assert_eq!(call("log2", &[f(1.5)]), f(0.5849625007211563));
    assert_eq!(call("log2", &[f(2.25)]), f(1.1699250014423126));
    assert_eq!(call("log", &[f(2.25), i(2)]), f(1.1699250014423124));
    assert_eq!(call("log2", &[f(0.3)]), f(-1.736965594166206));
    assert_eq!(call("log", &[f(0.3), i(2)]), f(-1.7369655941662063));
    assert_eq!(call("log10", &[f(1.5)]), f(0.17609125905568124));
    assert_eq!(call("log10", &[f(0.1)]), f(-0.9999999999999999));
    assert_eq!(call("log10", &[f(0.2)]), f(-0.6989700043360187));
    assert_eq!(call("ln", &[f(1.5)]), f(0.4054651081081644));
    // exp: 1.x on amd64 uses Go's assembly exp, which can differ from libm by an ulp
    // (1.x: exp(1.5) = 4.481689070338065, exp(-4) = 0.01831563888873418).
    assert_ulps(call("exp", &[f(1.5)]), 4.481689070338065, 1);
    assert_ulps(call("exp", &[f(-4.0)]), 0.01831563888873418, 1);
    // sqrt(-7) / ln(-4) are NaN in Go: 1.x answers null
    assert_eq!(call("sqrt", &[i(-7)]), Value::Null);
    // SELECT sin(v), cos(v), tan(v), atan(v), atan2(v,i), asin(v), acos(v) FROM cpu (t=0, t=20s)
    assert_eq!(call("sin", &[f(1.5)]), f(0.9974949866040544));
    assert_eq!(call("cos", &[f(1.5)]), f(0.0707372016677029));
    assert_eq!(call("tan", &[f(1.5)]), f(14.101419947171719));
    assert_eq!(call("atan", &[f(1.5)]), f(0.982793723247329));
    assert_eq!(call("atan2", &[f(1.5), i(3)]), f(0.4636476090008061));
    assert_eq!(call("asin", &[f(0.1)]), f(0.1001674211615598));
    assert_eq!(call("acos", &[f(0.1)]), f(1.4706289056333368));
    assert_eq!(call("sin", &[f(2.25)]), f(0.7780731968879213));
    assert_eq!(call("cos", &[f(2.25)]), f(-0.628173622722739));
    assert_eq!(call("tan", &[f(-4.0)]), f(-1.1578212823495775));
    // non-numeric arguments give null: SELECT sin(s) / pow(v,s) / abs(b) → null
    assert_eq!(call("sin", &[Value::String("x".into())]), Value::Null);
    assert_eq!(call("pow", &[f(1.0), Value::String("x".into())]), Value::Null);
    assert_eq!(call("abs", &[Value::Boolean(true)]), Value::Null);
    assert_eq!(call("abs", &[Value::Null]), Value::Null);
    // types
    assert_eq!(output_type("abs", &[Some(FieldType::Integer)]).unwrap(), Some(FieldType::Integer));
    assert_eq!(output_type("sqrt", &[Some(FieldType::Integer)]).unwrap(), Some(FieldType::Float));
    assert_eq!(output_type("asin", &[Some(FieldType::Integer)]).unwrap_err().0, "invalid argument type for the first argument in asin(): integer");
}

#[test]
fn edge_cases() {
    // empty input and nulls
    assert!(reduce(&Aggregate::Mean, &[], 0).unwrap().is_empty());
    assert!(reduce(&Aggregate::Count, &[Sample::new(0, Value::Null)], 0).unwrap().is_empty());
    assert!(Transform::Derivative { unit: S, non_negative: false }.apply(&[]).unwrap().is_empty());
    // one point: stddev NaN, derivative nothing, spread 0, median the value
    let one_pt = vec![Sample::new(5, i(4))];
    assert!(matches!(reduce(&Aggregate::Stddev, &one_pt, 0).unwrap()[0].value, Value::Float(x) if x.is_nan()));
    assert_eq!(reduce(&Aggregate::Spread, &one_pt, 0).unwrap()[0].value, i(0));
    assert_eq!(reduce(&Aggregate::Median, &one_pt, 0).unwrap()[0].value, f(4.0));
    assert!(Transform::Difference { non_negative: false }.apply(&one_pt).unwrap().is_empty());
    // integer sum wraps like Go's int64
    let big = vec![Sample::new(0, i(i64::MAX)), Sample::new(1, i(1))];
    assert_eq!(reduce(&Aggregate::Sum, &big, 0).unwrap()[0].value, i(i64::MIN));
    // nulls inside a series are skipped by transformations
    let with_null = vec![Sample::new(0, f(1.0)), Sample::new(S, Value::Null), Sample::new(2 * S, f(3.0))];
    let o = Transform::Difference { non_negative: false }.apply(&with_null).unwrap();
    assert_eq!(tv(&o), vec![(2 * S, f(2.0))]);
    // same-time points: derivative keeps the first at a time
    let dup = vec![Sample::new(0, f(1.0)), Sample::new(S, f(2.0)), Sample::new(S, f(5.0)), Sample::new(2 * S, f(3.0))];
    let o = Transform::Derivative { unit: S, non_negative: false }.apply(&dup).unwrap();
    assert_eq!(tv(&o), vec![(S, f(1.0)), (2 * S, f(1.0))]);
    // moving_average(0) gives nothing, no panic
    assert!(Transform::MovingAverage(0).apply(&cpu_v()).unwrap().is_empty());
    // huge N does not allocate N
    assert!(Transform::MovingAverage(usize::MAX).apply(&cpu_v()).unwrap().is_empty());
    assert_eq!(reduce(&Aggregate::Top(usize::MAX), &cpu_v(), 0).unwrap().len(), 6);
    assert_eq!(reduce(&Aggregate::Sample(usize::MAX), &cpu_v(), 0).unwrap().len(), 6);
}
#[test]
#[allow(clippy::approx_constant)]
fn math_all_oracle_rows() {
    use super::math::call;
    // every cell of:
    //   SELECT sqrt(i), log(v,2), pow(i,2), log2(v), log10(v), ln(v), exp(v) FROM cpu
    //   SELECT sin(v), cos(v), tan(v), atan(v), atan2(v,i), asin(v), acos(v) FROM cpu
    // (1.x prints NaN as null)
    assert_eq!(call("sqrt", &[i(3)]), f(1.7320508075688772));
    assert_eq!(call("log", &[f(1.5), i(2)]), f(0.5849625007211562));
    assert_eq!(call("pow", &[i(3), i(2)]), f(9.0));
    assert_eq!(call("log2", &[f(1.5)]), f(0.5849625007211563));
    assert_eq!(call("log10", &[f(1.5)]), f(0.17609125905568124));
    assert_eq!(call("ln", &[f(1.5)]), f(0.4054651081081644));
    assert_ulps(call("exp", &[f(1.5)]), 4.481689070338065, 1);
    assert_eq!(call("sqrt", &[i(-7)]), Value::Null);
    assert_eq!(call("log", &[f(2.25), i(2)]), f(1.1699250014423124));
    assert_eq!(call("pow", &[i(-7), i(2)]), f(49.0));
    assert_eq!(call("log2", &[f(2.25)]), f(1.1699250014423126));
    assert_eq!(call("log10", &[f(2.25)]), f(0.3521825181113625));
    assert_eq!(call("ln", &[f(2.25)]), f(0.8109302162163288));
    assert_ulps(call("exp", &[f(2.25)]), 9.487735836358524, 1);
    assert_eq!(call("sqrt", &[i(5)]), f(2.23606797749979));
    assert_eq!(call("log", &[f(0.1), i(2)]), f(-3.321928094887362));
    assert_eq!(call("pow", &[i(5), i(2)]), f(25.0));
    assert_eq!(call("log2", &[f(0.1)]), f(-3.321928094887362));
    assert_eq!(call("log10", &[f(0.1)]), f(-0.9999999999999999));
    assert_eq!(call("ln", &[f(0.1)]), f(-2.3025850929940455));
    assert_ulps(call("exp", &[f(0.1)]), 1.1051709180756477, 1);
    assert_eq!(call("sqrt", &[i(5)]), f(2.23606797749979));
    assert_eq!(call("log", &[f(0.2), i(2)]), f(-2.321928094887362));
    assert_eq!(call("pow", &[i(5), i(2)]), f(25.0));
    assert_eq!(call("log2", &[f(0.2)]), f(-2.321928094887362));
    assert_eq!(call("log10", &[f(0.2)]), f(-0.6989700043360187));
    assert_eq!(call("ln", &[f(0.2)]), f(-1.6094379124341003));
    assert_ulps(call("exp", &[f(0.2)]), 1.2214027581601699, 1);
    assert_eq!(call("sqrt", &[i(9)]), f(3.0));
    assert_eq!(call("log", &[f(0.3), i(2)]), f(-1.7369655941662063));
    assert_eq!(call("pow", &[i(9), i(2)]), f(81.0));
    assert_eq!(call("log2", &[f(0.3)]), f(-1.736965594166206));
    assert_eq!(call("log10", &[f(0.3)]), f(-0.5228787452803376));
    assert_eq!(call("ln", &[f(0.3)]), f(-1.2039728043259361));
    assert_ulps(call("exp", &[f(0.3)]), 1.3498588075760032, 1);
    assert_eq!(call("sqrt", &[i(2)]), f(1.4142135623730951));
    assert_eq!(call("log", &[f(-4.0), i(2)]), Value::Null);
    assert_eq!(call("pow", &[i(2), i(2)]), f(4.0));
    assert_eq!(call("log2", &[f(-4.0)]), Value::Null);
    assert_eq!(call("log10", &[f(-4.0)]), Value::Null);
    assert_eq!(call("ln", &[f(-4.0)]), Value::Null);
    assert_ulps(call("exp", &[f(-4.0)]), 0.01831563888873418, 1);
    assert_eq!(call("sin", &[f(1.5)]), f(0.9974949866040544));
    assert_eq!(call("cos", &[f(1.5)]), f(0.0707372016677029));
    assert_eq!(call("tan", &[f(1.5)]), f(14.101419947171719));
    assert_eq!(call("atan", &[f(1.5)]), f(0.982793723247329));
    assert_eq!(call("atan2", &[f(1.5), i(3)]), f(0.4636476090008061));
    assert_eq!(call("asin", &[f(1.5)]), Value::Null);
    assert_eq!(call("acos", &[f(1.5)]), Value::Null);
    assert_eq!(call("sin", &[f(2.25)]), f(0.7780731968879213));
    assert_eq!(call("cos", &[f(2.25)]), f(-0.628173622722739));
    assert_eq!(call("tan", &[f(2.25)]), f(-1.2386276162240968));
    assert_eq!(call("atan", &[f(2.25)]), f(1.1525719972156674));
    assert_eq!(call("atan2", &[f(2.25), i(-7)]), f(2.830594372984252));
    assert_eq!(call("asin", &[f(2.25)]), Value::Null);
    assert_eq!(call("acos", &[f(2.25)]), Value::Null);
    assert_eq!(call("sin", &[f(0.1)]), f(0.09983341664682815));
    assert_eq!(call("cos", &[f(0.1)]), f(0.9950041652780257));
    assert_eq!(call("tan", &[f(0.1)]), f(0.10033467208545055));
    assert_eq!(call("atan", &[f(0.1)]), f(0.09966865249116204));
    assert_eq!(call("atan2", &[f(0.1), i(5)]), f(0.019997333973150535));
    assert_eq!(call("asin", &[f(0.1)]), f(0.1001674211615598));
    assert_eq!(call("acos", &[f(0.1)]), f(1.4706289056333368));
    assert_eq!(call("sin", &[f(0.2)]), f(0.19866933079506122));
    assert_eq!(call("cos", &[f(0.2)]), f(0.9800665778412416));
    assert_eq!(call("tan", &[f(0.2)]), f(0.2027100355086725));
    assert_eq!(call("atan", &[f(0.2)]), f(0.19739555984988078));
    assert_eq!(call("atan2", &[f(0.2), i(5)]), f(0.039978687123290044));
    assert_eq!(call("asin", &[f(0.2)]), f(0.20135792079033082));
    assert_eq!(call("acos", &[f(0.2)]), f(1.3694384060045657));
    assert_eq!(call("sin", &[f(0.3)]), f(0.29552020666133955));
    assert_eq!(call("cos", &[f(0.3)]), f(0.955336489125606));
    assert_eq!(call("tan", &[f(0.3)]), f(0.30933624960962325));
    assert_eq!(call("atan", &[f(0.3)]), f(0.2914567944778671));
    assert_eq!(call("atan2", &[f(0.3), i(9)]), f(0.033320995878247196));
    assert_eq!(call("asin", &[f(0.3)]), f(0.3046926540153975));
    assert_eq!(call("acos", &[f(0.3)]), f(1.266103672779499));
    assert_eq!(call("sin", &[f(-4.0)]), f(0.7568024953079282));
    assert_eq!(call("cos", &[f(-4.0)]), f(-0.6536436208636119));
    assert_eq!(call("tan", &[f(-4.0)]), f(-1.1578212823495775));
    assert_eq!(call("atan", &[f(-4.0)]), f(-1.3258176636680323));
    assert_eq!(call("atan2", &[f(-4.0), i(2)]), f(-1.1071487177940904));
    assert_eq!(call("asin", &[f(-4.0)]), Value::Null);
    assert_eq!(call("acos", &[f(-4.0)]), Value::Null);
}

#[test]
fn layered_series_partials() {
    // ms,t=a v=0.6 1s, v=0.1 2s; ms,t=b v=0.5 1s, v=0.6 2s, v=0.6 3s
    // SELECT mean(v), sum(v) FROM ms → [0,0.4800000000000001,2.4000000000000004]
    // (a plain mean over the 5 points would be 0.48, a plain sum 2.4)
    let a: Vec<Sample> = vec![Sample::new(S, f(0.6)), Sample::new(2 * S, f(0.1))];
    let b: Vec<Sample> = vec![Sample::new(S, f(0.5)), Sample::new(2 * S, f(0.6)), Sample::new(3 * S, f(0.6))];
    let shards = vec![vec![a.clone(), b.clone()]];
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Mean, &shards, 0).unwrap()), vec![(0, f(0.4800000000000001))]);
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Sum, &shards, 0).unwrap()), vec![(0, f(2.4000000000000004))]);
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Count, &shards, 0).unwrap()), vec![(0, i(5))]);
    // max keeps the point's time (ties → earliest)
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Max, &shards, 0).unwrap()), vec![(S, f(0.6))]);
    // ms2: a = 0.6,0.2,0.6; b = 0.4,0.0,0.8 → mean 0.43333333333333335, sum 2.6
    let a: Vec<Sample> = vec![Sample::new(S, f(0.6)), Sample::new(2 * S, f(0.2)), Sample::new(3 * S, f(0.6))];
    let b: Vec<Sample> = vec![Sample::new(S, f(0.4)), Sample::new(2 * S, f(0.0)), Sample::new(3 * S, f(0.8))];
    let shards = vec![vec![a, b]];
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Mean, &shards, 0).unwrap()), vec![(0, f(0.43333333333333335))]);
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Sum, &shards, 0).unwrap()), vec![(0, f(2.6))]);
    // SHOW SHARDS: autogen groups 1969-12-29..1970-01-05, 1970-01-05..1970-01-12 (Mondays)
    let week = crate::rules::shards::default_duration(0);
    assert_eq!(aggregate::shard_group_start(0, week), -3 * 86_400 * S);
    assert_eq!(aggregate::shard_group_start(5 * 86_400 * S, week), 4 * 86_400 * S);
    assert_eq!(aggregate::shard_group_start(4 * 86_400 * S - 1, week), -3 * 86_400 * S);
    // sh v=0.6 @1d, 0.7 @2d | 0.8 @5d, 0.9 @6d (two shards) → SELECT mean(v), sum(v) → 0.75, 3
    // sh2 same values all in one shard → mean 0.7499999999999999
    let d = 86_400 * S;
    let p = |t: i64, v: f64| Sample::new(t * d, f(v));
    let two = vec![vec![vec![p(1, 0.6), p(2, 0.7)]], vec![vec![p(5, 0.8), p(6, 0.9)]]];
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Mean, &two, 0).unwrap()), vec![(0, f(0.75))]);
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Sum, &two, 0).unwrap()), vec![(0, f(3.0))]);
    let one_shard = vec![vec![vec![p(1, 0.6), p(2, 0.7), p(3, 0.8), p(3, 0.9)]]];
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Mean, &one_shard, 0).unwrap()), vec![(0, f(0.7499999999999999))]);
}

#[test]
fn top_bottom_with_tags() {
    // tt,host=a v=5 1s, v=9 2s; tt,host=b v=7 1s, v=9 3s; tt,host=c v=1 2s, v=8 4s
    let s = |x: &str| Value::String(x.into());
    let g = |h: &str, pts: &[(i64, f64)]| (vec![s(h)], pts.iter().map(|&(t, v)| Sample::new(t * S, f(v))).collect::<Vec<_>>());
    let groups = vec![g("a", &[(1, 5.0), (2, 9.0)]), g("b", &[(1, 7.0), (3, 9.0)]), g("c", &[(2, 1.0), (4, 8.0)])];
    let row = |o: &[Sample]| o.iter().map(|x| (x.time / S, x.value.clone(), x.aux.clone())).collect::<Vec<_>>();
    // SELECT top(v,host,2) FROM tt → [2s,9,"a"],[3s,9,"b"]
    let o = aggregate::reduce_top_bottom_tagged(&Aggregate::Top(2), &groups, 0).unwrap();
    assert_eq!(row(&o), vec![(2, f(9.0), vec![s("a")]), (3, f(9.0), vec![s("b")])]);
    // SELECT top(v,host,5) FROM tt → a, b, [4s,8,"c"]
    let o = aggregate::reduce_top_bottom_tagged(&Aggregate::Top(5), &groups, 0).unwrap();
    assert_eq!(row(&o).len(), 3);
    assert_eq!(row(&o)[2], (4, f(8.0), vec![s("c")]));
    // SELECT bottom(v,host,2) FROM tt → [1s,5,"a"],[2s,1,"c"]
    let o = aggregate::reduce_top_bottom_tagged(&Aggregate::Bottom(2), &groups, 0).unwrap();
    assert_eq!(row(&o), vec![(1, f(5.0), vec![s("a")]), (2, f(1.0), vec![s("c")])]);
    // SELECT top(v,2) FROM tt (no tag) → [2s,9],[3s,9]
    let all: Vec<Sample> = groups.iter().flat_map(|g| g.1.clone()).collect();
    let mut all = all;
    all.sort_by_key(|p| p.time);
    let o = reduce(&Aggregate::Top(2), &all, 0).unwrap();
    assert_eq!(tv(&o), ts(&[(2, f(9.0)), (3, f(9.0))]));
    // SELECT percentile(v,50), host FROM tt → [1s,7,"b"]
    let all_aux: Vec<Sample> = {
        let mut v: Vec<Sample> = groups
            .iter()
            .flat_map(|(t, p)| p.iter().map(move |x| Sample { time: x.time, value: x.value.clone(), aux: t.clone() }))
            .collect();
        v.sort_by_key(|p| p.time);
        v
    };
    let o = reduce(&Aggregate::Percentile(50.0), &all_aux, 0).unwrap();
    assert_eq!(row(&o), vec![(1, f(7.0), vec![s("b")])]);
    // SELECT distinct(v) FROM tt WHERE time >= 2s → [2s,1],[2s,9],[2s,8]
    let later: Vec<Sample> = all.iter().filter(|p| p.time >= 2 * S).cloned().collect();
    let o = reduce(&Aggregate::Distinct, &later, 2 * S).unwrap();
    assert_eq!(tv(&o), ts(&[(2, f(1.0)), (2, f(9.0)), (2, f(8.0))]));
}

#[test]
fn pow_like_go() {
    use super::math::call;
    // SELECT pow(v,3), pow(v,10), pow(v,-3), pow(v,0.5), pow(v,2.5), pow(v,7), pow(v,1.3),
    //        pow(v*1.1,13) FROM cpu   (v = 1.5, 2.25, 0.1, 0.2, 0.3, -4)
    let rows: [(f64, [Option<f64>; 8]); 6] = [
        (1.5, [Some(3.375), Some(57.6650390625), Some(0.2962962962962963), Some(1.224744871391589), Some(2.7556759606310757), Some(17.0859375), Some(1.6940204031852832), Some(671.879321209089)]),
        (2.25, [Some(11.390625), Some(3325.256730079651), Some(0.0877914951989026), Some(1.5), Some(7.59375), Some(291.92926025390625), Some(2.869705126408029), Some(130760.8221469772)]),
        (0.1, [Some(0.0010000000000000002), Some(1.0000000000000011e-10), Some(999.9999999999998), Some(0.31622776601683794), Some(0.00316227766016838), Some(1.0000000000000007e-7), Some(0.05011872336272723), Some(3.4522712143931067e-13)]),
        (0.2, [Some(0.008000000000000002), Some(1.0240000000000011e-7), Some(124.99999999999997), Some(0.4472135954999579), Some(0.017888543819998323), Some(0.00001280000000000001), Some(0.12340677254400192), Some(2.828100578830833e-9)]),
        (0.3, [Some(0.027), Some(0.000005904899999999999), Some(37.03703703703704), Some(0.5477225575051661), Some(0.049295030175464945), Some(0.00021869999999999998), Some(0.20905359058078465), Some(5.504035399344854e-7)]),
        (-4.0, [Some(-64.0), Some(1048576.0), Some(-0.015625), None, None, Some(-16384.0), None, Some(-231677999.4178216)]),
    ];
    let exps = [3.0, 10.0, -3.0, 0.5, 2.5, 7.0, 1.3, 13.0];
    for (v, want) in rows {
        for (k, (&y, w)) in exps.iter().zip(want.iter()).enumerate() {
            let x = if k == 7 { v * 1.1 } else { v };
            let got = call("pow", &[f(x), f(y)]);
            match w {
                None => assert_eq!(got, Value::Null, "pow({x},{y}) (NaN: 1.x answers null)"),
                // fractional exponents go through exp(): Go uses its assembly exp, allow 2 ulps
                Some(w) if y.fract() != 0.0 && y.abs() != 0.5 => assert_ulps(got, *w, 2),
                Some(w) => assert_eq!(got, f(*w), "pow({x},{y})"),
            }
        }
    }
}

#[test]
fn no_panics_on_odd_inputs() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, f64::MAX, f64::MIN, 1e-310];
    let itimes = [i64::MIN, MIN_TIME, -1, 0, 1, MAX_TIME, i64::MAX];
    for round in 0..300 {
        let n = rng.gen_range(0..20);
        let mut t: i64 = if round % 3 == 0 { itimes[rng.gen_range(0..itimes.len())] } else { rng.gen_range(-1_000_000..1_000_000) };
        let mut pts = Vec::new();
        for _ in 0..n {
            let v = match (round % 4, rng.gen_range(0..10)) {
                (_, 0) => Value::Null,
                (0, _) => Value::Float(if rng.gen_bool(0.3) { specials[rng.gen_range(0..specials.len())] } else { rng.gen_range(-1e3..1e3) }),
                (1, _) => Value::Integer(if rng.gen_bool(0.3) { [i64::MIN, i64::MAX, 0][rng.gen_range(0..3)] } else { rng.gen_range(-100..100) }),
                (2, _) => Value::Unsigned(if rng.gen_bool(0.3) { u64::MAX } else { rng.gen_range(0..100) }),
                _ => Value::String(format!("{}", rng.gen_range(0..3))),
            };
            pts.push(Sample::new(t, v));
            t = t.saturating_add(rng.gen_range(0..3));
        }
        let aggs = [
            Aggregate::Count, Aggregate::Distinct, Aggregate::Integral { unit: 0 }, Aggregate::Mean, Aggregate::Median,
            Aggregate::Mode, Aggregate::Spread, Aggregate::Stddev, Aggregate::Sum, Aggregate::Bottom(3), Aggregate::First,
            Aggregate::Last, Aggregate::Max, Aggregate::Min, Aggregate::Percentile(f64::NAN), Aggregate::Percentile(1e300),
            Aggregate::Percentile(50.0), Aggregate::Sample(2), Aggregate::Top(0),
        ];
        for a in &aggs {
            let _ = reduce(a, &pts, 0);
            let _ = aggregate::reduce_layers(a, &[vec![pts.clone(), pts.clone()], vec![pts.clone()]], 0);
        }
        let trs = [
            Transform::CumulativeSum, Transform::Derivative { unit: 0, non_negative: true }, Transform::Difference { non_negative: true },
            Transform::Elapsed { unit: 0 }, Transform::MovingAverage(3), Transform::MovingAverage(1),
        ];
        for tr in &trs {
            let _ = tr.apply(&pts);
        }
        for every in [1, 7, 1_000_000_007, i64::MAX] {
            let tz = if round % 2 == 0 { Some(chrono_tz::Tz::America__New_York) } else { None };
            let w = Window::new(every, rng.gen_range(-10..10), tz);
            for p in &pts {
                let _ = w.bounds(p.time);
            }
            let _ = w.starts(i64::MIN, i64::MAX).take(5).count();
            let rows: Vec<Sample> = pts.iter().map(|p| Sample::new(w.start(p.time), p.value.clone())).collect();
            for fl in [Fill::Null, Fill::Previous, Fill::Linear, Fill::Number(f(1.5)), Fill::None] {
                let out = fill(&rows, &w, None, rows.last().map(|r| r.time).unwrap_or(0), &fl, FieldType::Float, false, 50);
                assert!(out.len() <= rows.len() + 51);
            }
            let _ = integral(&pts, 1, Some(&w));
        }
        for name in ["abs", "sin", "cos", "tan", "asin", "acos", "atan", "exp", "ln", "log2", "log10", "sqrt", "floor", "ceil", "round"] {
            for p in &pts {
                let _ = math::call(name, std::slice::from_ref(&p.value));
            }
        }
        for name in ["atan2", "log", "pow"] {
            for p in &pts {
                let _ = math::call(name, &[p.value.clone(), f(specials[rng.gen_range(0..specials.len())])]);
                let _ = math::call(name, &[f(specials[rng.gen_range(0..specials.len())]), p.value.clone()]);
            }
        }
    }
}

#[test]
fn transforms_descending() {
    let mut desc = cpu_v();
    desc.reverse();
    let run = |t: Transform| tv(&t.apply_ordered(&desc, false).unwrap());
    // SELECT derivative(v) FROM cpu ORDER BY time DESC
    assert_eq!(
        run(Transform::Derivative { unit: S, non_negative: false }),
        ts(&[(40, f(0.14333333333333334)), (30, f(-0.009999999999999998)), (20, f(-0.01)), (10, f(0.215)), (0, f(-0.075))])
    );
    // SELECT non_negative_derivative(v) FROM cpu ORDER BY time DESC
    assert_eq!(run(Transform::Derivative { unit: S, non_negative: true }), ts(&[(40, f(0.14333333333333334)), (10, f(0.215))]));
    // SELECT difference(v), elapsed(v), cumulative_sum(v) FROM cpu ORDER BY time DESC
    assert_eq!(
        run(Transform::Difference { non_negative: false }),
        ts(&[(40, f(4.3)), (30, f(-0.09999999999999998)), (20, f(-0.1)), (10, f(2.15)), (0, f(-0.75))])
    );
    assert_eq!(
        run(Transform::Elapsed { unit: 1 }),
        ts(&[(40, i(-30 * S)), (30, i(-10 * S)), (20, i(-10 * S)), (10, i(-10 * S)), (0, i(-10 * S))])
    );
    assert_eq!(
        run(Transform::CumulativeSum),
        ts(&[(70, f(-4.0)), (40, f(-3.7)), (30, f(-3.5)), (20, f(-3.4)), (10, f(-1.15)), (0, f(0.3500000000000001))])
    );
    // SELECT moving_average(v,2) FROM cpu ORDER BY time DESC
    assert_eq!(
        run(Transform::MovingAverage(2)),
        ts(&[(40, f(-1.85)), (30, f(0.24999999999999992)), (20, f(0.1499999999999999)), (10, f(1.1749999999999998)), (0, f(1.8749999999999998))])
    );
}

#[test]
fn merged_stream_order_for_stddev() {
    // sd2,t=a v=3.4 1s, 3.8 3s, 8.6 5s; sd2,t=b v=9.9 2s, 4.8 4s, 1.9 6s
    // SELECT stddev(v) FROM sd2 → 3.1515075757484707 (points merged by time; series after
    // series would give 3.15150757574847)
    let p = |t: i64, v: f64| Sample::new(t * S, f(v));
    let shards = vec![vec![vec![p(1, 3.4), p(3, 3.8), p(5, 8.6)], vec![p(2, 9.9), p(4, 4.8), p(6, 1.9)]]];
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Stddev, &shards, 0).unwrap()), vec![(0, f(3.1515075757484707))]);
    // SELECT spread(v), mode(v) FROM sd2 → 8, 1.9
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Spread, &shards, 0).unwrap()), vec![(0, f(8.0))]);
    assert_eq!(tv(&aggregate::reduce_layers(&Aggregate::Mode, &shards, 0).unwrap()), vec![(0, f(1.9))]);
}

#[test]
fn go_merge_orders() {
    use super::aggregate::{go_merge_order, go_parallel_merge_order};
    // one window, six inputs: Go's heap pops the first, then the rest from the end
    let one = vec![vec![0i64]; 6];
    let idx = |o: Vec<(usize, usize)>| o.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    assert_eq!(idx(go_merge_order(&one)), vec![0, 5, 4, 3, 2, 1]);
    // GOMAXPROCS=2: [0,1,2] and [3,4,5] merged apart, then together (1.6.7: mean of cpu)
    assert_eq!(idx(go_parallel_merge_order(&one, 2)), vec![0, 2, 1, 3, 5, 4]);
    assert_eq!(idx(go_parallel_merge_order(&one, 1)), vec![0, 5, 4, 3, 2, 1]);
    // windows come in order; an input is drained per window; empty inputs are skipped
    let w = vec![vec![0i64, 10], vec![], vec![0, 10, 20], vec![10]];
    let o = go_merge_order(&w);
    let keys: Vec<i64> = o.iter().map(|&(i, j)| w[i][j]).collect();
    assert_eq!(keys, vec![0, 0, 10, 10, 10, 20]);
    assert_eq!(o.len(), 6);
}
