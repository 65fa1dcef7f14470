//! The cardinality limits of the embedded store: exact counts, whole-batch refusal with 1.x's
//! texts, counts over retention policies, slots freed by drops, after a reopen and under
//! concurrent writers.

use super::tests::{batch, collect, opts, pt, rows, scan_req};
use super::*;
use crate::backend::{CardinalityLimits, DeleteRequest, WriteBatch};
use crate::model::{FieldValue, Point};

fn limited(series: u64, values: u64) -> EmbeddedOptions {
    EmbeddedOptions {
        cardinality: CardinalityLimits { max_series_per_database: series, max_values_per_tag: values },
        ..opts()
    }
}

fn host(m: &str, h: &str, t: i64) -> Point {
    pt(m, &[("host", h)], vec![("v", FieldValue::Integer(t))], t)
}

fn hosts(m: &str, names: &[&str], t: i64) -> Vec<Point> {
    names.iter().map(|h| host(m, h, t)).collect()
}

fn refusal(r: Result<WriteOutcome>) -> (String, usize, String) {
    match r {
        Err(e @ BackendError::CardinalityLimit { .. }) => {
            let text = e.to_string();
            let BackendError::CardinalityLimit { reason, dropped } = e else { unreachable!() };
            (reason, dropped, text)
        }
        other => panic!("expected a cardinality refusal, got {other:?}"),
    }
}

async fn series_count(b: &EmbeddedBackend, db: &str) -> usize {
    b.series(db, None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().len()
}

#[tokio::test]
async fn series_limit_is_exact_and_refuses_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), limited(5, 0)).unwrap();
    b.write(batch("db", hosts("cpu", &["a", "b", "c"], 1))).await.unwrap();
    // One point of an existing series and three new series: 6 > 5, nothing of it is stored.
    let mut points = hosts("cpu", &["a"], 2);
    points.extend(hosts("cpu", &["d", "e", "f"], 2));
    let (reason, dropped, text) = refusal(b.write(batch("db", points)).await);
    assert_eq!(reason, "max-series-per-database limit exceeded: (5)");
    assert_eq!(dropped, 4);
    assert_eq!(text, "partial write: max-series-per-database limit exceeded: (5) dropped=4");
    assert_eq!(rows(&collect(&b, scan_req("db", "cpu", &["v"])).await).len(), 3);
    assert_eq!(series_count(&b, "db").await, 3);
    // Two points of one new series are one series; up to the limit exactly.
    let mut points = hosts("cpu", &["d", "d"], 3);
    points.extend(hosts("mem", &["a"], 3));
    b.write(batch("db", points)).await.unwrap();
    assert_eq!(series_count(&b, "db").await, 5);
    refusal(b.write(batch("db", hosts("disk", &["a"], 4))).await);
    // Existing series still write; another database has its own count.
    b.write(batch("db", hosts("cpu", &["a", "b", "c", "d"], 5))).await.unwrap();
    b.write(batch("db2", hosts("cpu", &["a", "b", "c", "d", "e"], 5))).await.unwrap();
    assert_eq!(rows(&collect(&b, scan_req("db", "cpu", &["v"])).await).len(), 8);
}

#[tokio::test]
async fn values_per_tag_limit_counts_per_measurement_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), limited(0, 3)).unwrap();
    b.write(batch("db", hosts("cpu", &["a", "b", "c"], 1))).await.unwrap();
    let (reason, dropped, _) = refusal(b.write(batch("db", hosts("cpu", &["a", "d"], 2))).await);
    assert_eq!(reason, r#"max-values-per-tag limit exceeded (3/3): measurement="cpu" tag="host" value="d""#);
    assert_eq!(dropped, 2);
    assert_eq!(rows(&collect(&b, scan_req("db", "cpu", &["v"])).await).len(), 3);
    // A new series whose values exist passes; other keys and measurements count on their own.
    let p = pt("cpu", &[("host", "a"), ("dc", "x")], vec![("v", FieldValue::Integer(1))], 3);
    b.write(batch("db", vec![p])).await.unwrap();
    b.write(batch("db", hosts("mem", &["d", "e", "f"], 3))).await.unwrap();
    // Values new in one batch count together (1.x would let this one pass).
    let (reason, _, _) = refusal(b.write(batch("db3", hosts("cpu", &["a", "b", "c", "\"q\"\n"], 1))).await);
    assert_eq!(reason, r#"max-values-per-tag limit exceeded (3/3): measurement="cpu" tag="host" value="\"q\"\n""#);
    assert!(b.databases().await.unwrap().iter().all(|d| d != "db3"));
}

#[tokio::test]
async fn limits_count_over_retention_policies() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), limited(2, 2)).unwrap();
    b.create_database("db").await.unwrap();
    let rp = RetentionPolicy { name: "other".into(), duration: 0, shard_group_duration: 0, replication: 1, default: false };
    b.create_retention_policy("db", rp).await.unwrap();
    let in_rp = |rp: &str, points: Vec<Point>| WriteBatch { db: "db".into(), rp: Some(rp.into()), points: points.into() };
    // The same series in two policies is one series of the database, as in 1.x's index.
    b.write(in_rp("autogen", hosts("cpu", &["a"], 1))).await.unwrap();
    b.write(in_rp("other", hosts("cpu", &["a"], 1))).await.unwrap();
    b.write(in_rp("autogen", hosts("cpu", &["b"], 1))).await.unwrap();
    b.write(in_rp("other", hosts("cpu", &["b"], 1))).await.unwrap();
    let (reason, _, _) = refusal(b.write(in_rp("other", hosts("mem", &["c"], 1))).await);
    assert_eq!(reason, "max-series-per-database limit exceeded: (2)");
    let (reason, _, _) = refusal(b.write(in_rp("other", hosts("cpu", &["c"], 1))).await);
    assert!(reason.starts_with("max-values-per-tag limit exceeded (2/2)"), "{reason}");
    // Dropping a series from one policy leaves it counted while the other holds it.
    b.drop_retention_policy("db", "other").await.unwrap();
    refusal(b.write(in_rp("autogen", hosts("mem", &["c"], 1))).await);
}

#[tokio::test]
async fn drops_free_their_slots() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), limited(2, 2)).unwrap();
    b.write(batch("db", hosts("cpu", &["a", "b"], 1))).await.unwrap();
    refusal(b.write(batch("db", hosts("cpu", &["c"], 1))).await);
    let drop_a = DeleteRequest {
        db: "db".into(),
        measurements: MeasurementFilter::All,
        tags: TagPredicate::Eq("host".into(), "a".into()),
        min_time: i64::MIN,
        max_time: i64::MAX,
        drop_series: true,
    };
    b.delete(drop_a).await.unwrap();
    b.write(batch("db", hosts("cpu", &["c"], 1))).await.unwrap();
    refusal(b.write(batch("db", hosts("cpu", &["a"], 1))).await);
    b.drop_database("db").await.unwrap();
    b.write(batch("db", hosts("cpu", &["x", "y"], 1))).await.unwrap();
    assert_eq!(series_count(&b, "db").await, 2);
}

#[tokio::test]
async fn limits_hold_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let b = EmbeddedBackend::open(dir.path(), limited(3, 0)).unwrap();
        b.write(batch("db", hosts("cpu", &["a", "b", "c"], 1))).await.unwrap();
    }
    let b = EmbeddedBackend::open(dir.path(), limited(3, 0)).unwrap();
    refusal(b.write(batch("db", hosts("cpu", &["d"], 2))).await);
    b.write(batch("db", hosts("cpu", &["a"], 2))).await.unwrap();
    drop(b);
    // A lowered limit keeps what is stored and refuses anything new, as 1.x.
    let b = EmbeddedBackend::open(dir.path(), limited(0, 2)).unwrap();
    let (reason, _, _) = refusal(b.write(batch("db", hosts("cpu", &["d"], 2))).await);
    assert_eq!(reason, r#"max-values-per-tag limit exceeded (3/2): measurement="cpu" tag="host" value="d""#);
    b.write(batch("db", hosts("cpu", &["b"], 3))).await.unwrap();
}

#[tokio::test]
async fn concurrent_writers_cannot_pass_the_limit_together() {
    let dir = tempfile::tempdir().unwrap();
    let b = std::sync::Arc::new(EmbeddedBackend::open(dir.path(), limited(10, 0)).unwrap());
    let mut hs = Vec::new();
    for w in 0..40 {
        let b = b.clone();
        hs.push(tokio::spawn(async move { b.write(batch("db", hosts("cpu", &[&format!("h{w}")], 1))).await.is_ok() }));
    }
    let mut ok = 0;
    for h in hs {
        ok += h.await.unwrap() as usize;
    }
    assert_eq!(ok, 10);
    assert_eq!(series_count(&b, "db").await, 10);
    assert_eq!(rows(&collect(&b, scan_req("db", "cpu", &["v"])).await).len(), 10);
}
