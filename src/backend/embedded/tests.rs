use futures::StreamExt;
use rand::{Rng, SeedableRng};

use super::*;
use crate::backend::{AggregateRow, Backend, BackendError, DeleteRequest, ScanRequest, WriteBatch};
use crate::model::{FieldValue, Point};

pub(super) fn opts() -> EmbeddedOptions {
    EmbeddedOptions { default_retention: 0, sync_full: false, retention_check_interval: 0, ..EmbeddedOptions::default() }
}

pub(super) fn tags(t: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

pub(super) fn pt(m: &str, t: &[(&str, &str)], f: Vec<(&str, FieldValue)>, time: i64) -> Point {
    Point {
        measurement: m.to_string(),
        tags: tags(t),
        fields: f.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        time,
    }
}

pub(super) fn batch(db: &str, points: Vec<Point>) -> WriteBatch {
    WriteBatch { db: db.to_string(), rp: None, points: points.into() }
}

pub(super) fn scan_req(db: &str, m: &str, fields: &[&str]) -> ScanRequest {
    ScanRequest::new(db, None, m, TagPredicate::True, i64::MIN, i64::MAX, fields.iter().map(|s| s.to_string()).collect())
}

pub(super) async fn collect(b: &EmbeddedBackend, req: ScanRequest) -> Vec<SeriesChunk> {
    let mut s = b.scan(req).await.expect("scan");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.push(c.expect("chunk"));
    }
    out
}

/// (tags, time, values)
pub(super) type Row = (Vec<(String, String)>, i64, Vec<Option<FieldValue>>);

/// (tags, time, values) rows, chunks concatenated.
pub(super) fn rows(chunks: &[SeriesChunk]) -> Vec<Row> {
    let mut out = Vec::new();
    for c in chunks {
        for (j, t) in c.times.iter().enumerate() {
            out.push((c.tags.clone(), *t, c.columns.iter().map(|col| col[j].clone()).collect()));
        }
    }
    out
}

#[tokio::test]
async fn round_trip_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let p = pt(
        "m",
        &[("host", "a")],
        vec![
            ("f", FieldValue::Float(1.5)),
            ("fi", FieldValue::Float(2.0)),
            ("i", FieldValue::Integer(-7)),
            ("u", FieldValue::Unsigned(u64::MAX)),
            ("s", FieldValue::String("hé\0llo \"x\"".into())),
            ("b", FieldValue::Boolean(true)),
            ("b2", FieldValue::Boolean(false)),
        ],
        10,
    );
    assert_eq!(b.write(batch("db", vec![p])).await.unwrap().points_written, 1);
    let got = collect(&b, scan_req("db", "m", &["f", "fi", "i", "u", "s", "b", "b2", "nope"])).await;
    assert_eq!(
        rows(&got),
        vec![(
            tags(&[("host", "a")]),
            10,
            vec![
                Some(FieldValue::Float(1.5)),
                Some(FieldValue::Float(2.0)),
                Some(FieldValue::Integer(-7)),
                Some(FieldValue::Unsigned(u64::MAX)),
                Some(FieldValue::String("hé\0llo \"x\"".into())),
                Some(FieldValue::Boolean(true)),
                Some(FieldValue::Boolean(false)),
                None,
            ]
        )]
    );
    let fk = b.field_keys("db", None, "m").await.unwrap();
    assert_eq!(
        fk,
        vec![
            ("b".to_string(), FieldType::Boolean),
            ("b2".to_string(), FieldType::Boolean),
            ("f".to_string(), FieldType::Float),
            ("fi".to_string(), FieldType::Float),
            ("i".to_string(), FieldType::Integer),
            ("s".to_string(), FieldType::String),
            ("u".to_string(), FieldType::Unsigned),
        ]
    );
    assert_eq!(b.databases().await.unwrap(), vec!["db".to_string()]);
    let rps = b.retention_policies("db").await.unwrap();
    assert_eq!(rps.len(), 1);
    assert_eq!(rps[0].name, "autogen");
    assert_eq!(rps[0].shard_group_duration, 7 * 24 * 3600 * 1_000_000_000);
    assert!(rps[0].default);
    b.health().await.unwrap();
}

#[tokio::test]
async fn merge_same_series_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    b.write(batch("db", vec![pt("m", &[], vec![("a", FieldValue::Integer(1)), ("b", FieldValue::Integer(2))], 5)]))
        .await
        .unwrap();
    // Second write carries only `b` and a new field `c`; then, in the same batch, `a` again.
    b.write(batch(
        "db",
        vec![
            pt("m", &[], vec![("b", FieldValue::Integer(20)), ("c", FieldValue::Integer(30))], 5),
            pt("m", &[], vec![("a", FieldValue::Integer(100))], 5),
            pt("m", &[], vec![("a", FieldValue::Integer(101))], 5),
        ],
    ))
    .await
    .unwrap();
    let got = rows(&collect(&b, scan_req("db", "m", &["a", "b", "c"])).await);
    assert_eq!(
        got,
        vec![(
            vec![],
            5,
            vec![Some(FieldValue::Integer(101)), Some(FieldValue::Integer(20)), Some(FieldValue::Integer(30))]
        )]
    );
}

/// -0.0 reads back as -0.0 (1.x keeps the sign; a REAL-affinity column would not).
#[tokio::test]
async fn negative_zero_keeps_its_sign() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    b.write(batch("db", vec![pt("m", &[], vec![("v", FieldValue::Float(-0.0)), ("w", FieldValue::Float(2.0))], 1)]))
        .await
        .unwrap();
    let got = rows(&collect(&b, scan_req("db", "m", &["v", "w"])).await);
    match &got[0].2[..] {
        [Some(FieldValue::Float(v)), Some(FieldValue::Float(w))] => {
            assert!(*v == 0.0 && v.is_sign_negative(), "{v}");
            assert_eq!(*w, 2.0);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn field_type_conflict_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    b.write(batch("db", vec![pt("m", &[], vec![("a", FieldValue::Integer(1))], 1)])).await.unwrap();
    // Conflict with the stored type.
    let e = b
        .write(batch(
            "db",
            vec![
                pt("m", &[("t", "new")], vec![("z", FieldValue::Float(1.0))], 2),
                pt("m2", &[], vec![("q", FieldValue::Float(1.0))], 2),
                pt("m", &[], vec![("a", FieldValue::Float(1.0))], 3),
            ],
        ))
        .await
        .unwrap_err();
    match e {
        BackendError::FieldTypeConflict { measurement, field, input, existing, dropped } => {
            assert_eq!((measurement.as_str(), field.as_str()), ("m", "a"));
            assert_eq!((input, existing, dropped), (FieldType::Float, FieldType::Integer, 3));
        }
        other => panic!("{other:?}"),
    }
    // Conflict within the batch.
    let e = b
        .write(batch(
            "db",
            vec![
                pt("m3", &[], vec![("x", FieldValue::String("s".into()))], 2),
                pt("m3", &[], vec![("x", FieldValue::Boolean(true))], 3),
            ],
        ))
        .await
        .unwrap_err();
    // (1.6.7 answers a conflict between points of one body on a new field with the bare text.)
    assert!(matches!(&e, BackendError::Invalid(m) if m == "field type conflict"), "{e:?}");
    assert_eq!(b.measurements("db", None).await.unwrap(), vec!["m".to_string()]);
    assert_eq!(b.series("db", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().len(), 1);
    assert_eq!(b.field_keys("db", None, "m").await.unwrap(), vec![("a".to_string(), FieldType::Integer)]);
    assert_eq!(rows(&collect(&b, scan_req("db", "m", &["a", "z"])).await).len(), 1);
    // Failed writes to a new database create nothing.
    assert!(b.write(batch("newdb", vec![
        pt("m", &[], vec![("x", FieldValue::Integer(1))], 1),
        pt("m", &[], vec![("x", FieldValue::Float(1.0))], 2),
    ])).await.is_err());
    assert_eq!(b.databases().await.unwrap(), vec!["db".to_string()]);
}

#[tokio::test]
async fn reopen_keeps_data_and_catalog() {
    let dir = tempfile::tempdir().unwrap();
    {
        let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
        b.write(batch("db", vec![pt("cpu", &[("host", "a")], vec![("v", FieldValue::Float(1.0))], 1)])).await.unwrap();
        b.create_retention_policy(
            "db",
            RetentionPolicy { name: "week".into(), duration: 7 * 24 * 3600 * 1_000_000_000, shard_group_duration: 0, replication: 1, default: true },
        )
        .await
        .unwrap();
        b.write(WriteBatch {
            db: "db".into(),
            rp: Some("autogen".into()),
            points: vec![pt("cpu", &[("host", "b")], vec![("w", FieldValue::Boolean(true))], 2)].into(),
        })
        .await
        .unwrap();
    }
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let rps = b.retention_policies("db").await.unwrap();
    assert_eq!(rps.iter().map(|r| (r.name.as_str(), r.default)).collect::<Vec<_>>(), vec![("autogen", false), ("week", true)]);
    assert_eq!(rps[1].shard_group_duration, 24 * 3600 * 1_000_000_000);
    let mut req = scan_req("db", "cpu", &["v", "w"]);
    req.rp = Some("autogen".into());
    let got = rows(&collect(&b, req).await);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].2, vec![None, Some(FieldValue::Boolean(true))]);
    // The default RP is now `week`, which has no cpu ("" means the default too).
    assert!(collect(&b, scan_req("db", "cpu", &["v"])).await.is_empty());
    let mut req = scan_req("db", "cpu", &["v"]);
    req.rp = Some(String::new());
    assert!(collect(&b, req).await.is_empty());
    // Writes after reopen keep extending the same tables.
    b.write(WriteBatch {
        db: "db".into(),
        rp: Some("autogen".into()),
        points: vec![pt("cpu", &[("host", "a")], vec![("x", FieldValue::Integer(3))], 3)].into(),
    })
    .await
    .unwrap();
    assert_eq!(b.field_keys("db", Some("autogen"), "cpu").await.unwrap().len(), 3);
}

#[tokio::test]
async fn scan_order_chunks_and_time_edges() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut points = Vec::new();
    // Written in scrambled order; 2500 points in series host=b, a few in host=a.
    for i in (0..2500).rev() {
        points.push(pt("m", &[("host", "b")], vec![("v", FieldValue::Integer(i))], i * 10));
    }
    points.push(pt("m", &[("host", "a")], vec![("v", FieldValue::Integer(-1))], 5));
    points.push(pt("m", &[("host", "a")], vec![("other", FieldValue::Integer(0))], 6));
    b.write(batch("db", points)).await.unwrap();
    let chunks = collect(&b, scan_req("db", "m", &["v"])).await;
    let sizes: Vec<(String, usize)> = chunks.iter().map(|c| (c.tags[0].1.clone(), c.times.len())).collect();
    assert_eq!(sizes, vec![("a".into(), 1), ("b".into(), 1024), ("b".into(), 1024), ("b".into(), 452)]);
    let r = rows(&chunks);
    assert!(r[1..].windows(2).all(|w| w[0].1 < w[1].1));
    // Inclusive edges.
    let mut req = scan_req("db", "m", &["v"]);
    req.min_time = 10;
    req.max_time = 30;
    req.tags = TagPredicate::Eq("host".into(), "b".into());
    assert_eq!(rows(&collect(&b, req.clone()).await).iter().map(|r| r.1).collect::<Vec<_>>(), vec![10, 20, 30]);
    req.min_time = 11;
    req.max_time = 19;
    assert!(collect(&b, req.clone()).await.is_empty());
    req.min_time = 30;
    req.max_time = 10;
    assert!(collect(&b, req).await.is_empty());
    // Time only.
    let r = rows(&collect(&b, scan_req("db", "m", &[])).await);
    assert_eq!(r.len(), 2502);
    // Rows whose requested fields are all null are skipped.
    let r = rows(&collect(&b, scan_req("db", "m", &["other"])).await);
    assert_eq!(r.len(), 1);
    // Errors.
    assert!(matches!(b.scan(scan_req("nodb", "m", &["v"])).await.err(), Some(BackendError::DatabaseNotFound(_))));
    let mut req = scan_req("db", "m", &["v"]);
    req.rp = Some("x".into());
    assert!(matches!(b.scan(req).await.err(), Some(BackendError::RetentionPolicyNotFound(n)) if n == "x"));
    // A dropped stream stops the reader (no hang).
    let s = b.scan(scan_req("db", "m", &["v"])).await.unwrap();
    drop(s);
}

#[tokio::test]
async fn tag_predicates_missing_tag_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    b.write(batch(
        "db",
        vec![
            pt("m", &[("host", "a"), ("dc", "x")], vec![("v", FieldValue::Integer(1))], 1),
            pt("m", &[("dc", "y")], vec![("v", FieldValue::Integer(2))], 1),
            pt("m", &[("host", "b")], vec![("v", FieldValue::Integer(3))], 1),
        ],
    ))
    .await
    .unwrap();
    let q = |p: TagPredicate| {
        let b = &b;
        async move {
            let mut req = scan_req("db", "m", &["v"]);
            req.tags = p;
            rows(&collect(b, req).await).into_iter().map(|r| r.2[0].clone()).collect::<Vec<_>>()
        }
    };
    let i = |x| Some(FieldValue::Integer(x));
    assert_eq!(q(TagPredicate::Eq("host".into(), "".into())).await, vec![i(2)]);
    assert_eq!(q(TagPredicate::Ne("host".into(), "".into())).await.len(), 2);
    assert_eq!(q(TagPredicate::Match("host".into(), regex::Regex::new("^$").unwrap())).await, vec![i(2)]);
    assert_eq!(
        q(TagPredicate::Or(
            Box::new(TagPredicate::Eq("dc".into(), "x".into())),
            Box::new(TagPredicate::Eq("host".into(), "b".into()))
        ))
        .await
        .len(),
        2
    );
    let s = b
        .series("db", None, &MeasurementFilter::All, &TagPredicate::NotMatch("dc".into(), regex::Regex::new("y").unwrap()))
        .await
        .unwrap();
    assert_eq!(s.len(), 2);
    assert!(s.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn hostile_names_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let m = "x\"; DROP TABLE series; --";
    let tk = "k'\"[]`\0";
    let tv = "v]\"; DELETE FROM databases; \0";
    let fk = "f\"]) VALUES(1); --\0";
    let db = "d\"b'; DROP TABLE databases";
    {
        let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
        b.write(batch(db, vec![pt(m, &[(tk, tv)], vec![(fk, FieldValue::String("'); --".into()))], 1)]))
            .await
            .unwrap();
    }
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    assert_eq!(b.databases().await.unwrap(), vec![db.to_string()]);
    assert_eq!(b.measurements(db, None).await.unwrap(), vec![m.to_string()]);
    let s = b.series(db, None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap();
    assert_eq!(s, vec![SeriesInfo { measurement: m.to_string(), tags: tags(&[(tk, tv)]) }]);
    assert_eq!(b.field_keys(db, None, m).await.unwrap(), vec![(fk.to_string(), FieldType::String)]);
    let r = rows(&collect(&b, scan_req(db, m, &[fk])).await);
    assert_eq!(r, vec![(tags(&[(tk, tv)]), 1, vec![Some(FieldValue::String("'); --".into()))])]);
}

#[tokio::test]
async fn retention_deletes_old_points() {
    const H: i64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    b.write(batch(
        "db",
        vec![
            pt("m", &[("h", "old")], vec![("v", FieldValue::Integer(1))], now - 2 * H),
            pt("m", &[("h", "mixed")], vec![("v", FieldValue::Integer(2))], now - 2 * H),
            pt("m", &[("h", "mixed")], vec![("v", FieldValue::Integer(3))], now),
            pt("gone", &[], vec![("v", FieldValue::Integer(3))], 0),
        ],
    ))
    .await
    .unwrap();
    let upd = RetentionPolicyUpdate { duration: Some(H), shard_group_duration: Some(H), ..Default::default() };
    b.alter_retention_policy("db", "autogen", upd).await.unwrap();
    b.enforce_retention().await.unwrap();
    let r = rows(&collect(&b, scan_req("db", "m", &["v"])).await);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].2, vec![Some(FieldValue::Integer(3))]);
    assert_eq!(b.measurements("db", None).await.unwrap(), vec!["m".to_string()]);
    assert_eq!(b.series("db", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap().len(), 1);
    // Writes of points the RP no longer keeps: those are dropped, the others written (1.x).
    let e = b
        .write(batch(
            "db",
            vec![
                pt("m", &[("h", "old")], vec![("v", FieldValue::Integer(1))], now - 2 * H),
                pt("m", &[("h", "new")], vec![("v", FieldValue::Integer(4))], now),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "partial write: points beyond retention policy dropped=1");
    assert_eq!(rows(&collect(&b, scan_req("db", "m", &["v"])).await).len(), 2);
    // A database created by a write gets default_retention.
    drop(b);
    let b = EmbeddedBackend::open(
        dir.path(),
        EmbeddedOptions { default_retention: H, sync_full: true, retention_check_interval: 20_000_000, ..EmbeddedOptions::default() },
    )
    .unwrap();
    b.write(batch("db2", vec![pt("m", &[], vec![("v", FieldValue::Integer(1))], now)])).await.unwrap();
    let rps = b.retention_policies("db2").await.unwrap();
    assert_eq!((rps[0].duration, rps[0].shard_group_duration), (H, H));
    // Background task: make the old data expire by shortening an infinite RP.
    b.write(batch("db3", vec![pt("m", &[], vec![("v", FieldValue::Integer(1))], now - 3 * H)])).await.unwrap_err();
    b.create_database("db4").await.unwrap();
    b.alter_retention_policy("db4", "autogen", RetentionPolicyUpdate { duration: Some(0), ..Default::default() })
        .await
        .unwrap();
    b.write(batch("db4", vec![
        pt("m", &[], vec![("v", FieldValue::Integer(1))], now - 3 * H),
        pt("m", &[], vec![("v", FieldValue::Integer(2))], now),
    ]))
    .await
    .unwrap();
    b.alter_retention_policy("db4", "autogen", RetentionPolicyUpdate { duration: Some(H), shard_group_duration: Some(H), ..Default::default() })
        .await
        .unwrap();
    let mut left = usize::MAX;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        left = rows(&collect(&b, scan_req("db4", "m", &["v"])).await).len();
        if left == 1 {
            break;
        }
    }
    assert_eq!(left, 1);
}

#[tokio::test]
async fn delete_and_drop_series() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut points = Vec::new();
    for h in ["a", "b"] {
        for t in 0..10 {
            points.push(pt("cpu", &[("host", h)], vec![("v", FieldValue::Integer(t))], t));
        }
    }
    points.push(pt("mem", &[("host", "a")], vec![("v", FieldValue::Integer(0))], 0));
    b.write(batch("db", points)).await.unwrap();
    let del = |m: MeasurementFilter, tags: TagPredicate, min: i64, max: i64, drop_series: bool| DeleteRequest {
        db: "db".into(),
        measurements: m,
        tags,
        min_time: min,
        max_time: max,
        drop_series,
    };
    b.delete(del(MeasurementFilter::All, TagPredicate::Eq("host".into(), "a".into()), 3, 5, false)).await.unwrap();
    let r = rows(&collect(&b, scan_req("db", "cpu", &["v"])).await);
    assert_eq!(r.len(), 17);
    // Deleting all of a series' points removes the series (and the emptied measurement).
    b.delete(del(MeasurementFilter::Names(vec!["mem".into()]), TagPredicate::True, i64::MIN, i64::MAX, false))
        .await
        .unwrap();
    assert_eq!(b.measurements("db", None).await.unwrap(), vec!["cpu".to_string()]);
    b.delete(del(MeasurementFilter::All, TagPredicate::Eq("host".into(), "b".into()), i64::MIN, i64::MAX, true))
        .await
        .unwrap();
    let s = b.series("db", None, &MeasurementFilter::All, &TagPredicate::True).await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].tags, tags(&[("host", "a")]));
    b.delete(del(MeasurementFilter::All, TagPredicate::True, i64::MIN, i64::MAX, true)).await.unwrap();
    assert!(b.measurements("db", None).await.unwrap().is_empty());
    assert!(b.field_keys("db", None, "cpu").await.unwrap().is_empty());
    // The measurement can come back with other field types.
    b.write(batch("db", vec![pt("cpu", &[], vec![("v", FieldValue::String("s".into()))], 1)])).await.unwrap();
    b.drop_database("db").await.unwrap();
    assert!(b.databases().await.unwrap().is_empty());
    b.drop_database("db").await.unwrap();
}

#[tokio::test]
async fn retention_policy_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let h = 3_600_000_000_000i64;
    let rp = |name: &str, d: i64, sgd: i64, def: bool| RetentionPolicy {
        name: name.into(),
        duration: d,
        shard_group_duration: sgd,
        replication: 1,
        default: def,
    };
    assert!(matches!(b.create_retention_policy("db", rp("r", 0, 0, false)).await, Err(BackendError::DatabaseNotFound(_))));
    b.create_database("db").await.unwrap();
    b.create_database("db").await.unwrap();
    b.create_retention_policy("db", rp("r", 2 * h, 0, false)).await.unwrap();
    b.create_retention_policy("db", rp("r", 2 * h, 0, false)).await.unwrap();
    assert!(matches!(b.create_retention_policy("db", rp("r", 3 * h, 0, false)).await, Err(BackendError::RetentionPolicyConflict(_))));
    assert_eq!(
        b.create_retention_policy("db", rp("r", 2 * h, 0, true)).await.unwrap_err().to_string(),
        "retention policy conflicts with an existing policy"
    );
    assert_eq!(
        b.create_retention_policy("db", rp("s", h / 2, 0, false)).await.unwrap_err().to_string(),
        "retention policy duration must be at least 1h0m0s"
    );
    assert_eq!(
        b.create_retention_policy("db", rp("s", 2 * h, 3 * h, false)).await.unwrap_err().to_string(),
        "retention policy duration must be greater than the shard duration"
    );
    let upd = RetentionPolicyUpdate { duration: Some(30 * 24 * h), shard_group_duration: None, replication: None, make_default: true };
    b.alter_retention_policy("db", "r", upd).await.unwrap();
    let rps = b.retention_policies("db").await.unwrap();
    assert_eq!(rps[1].duration, 30 * 24 * h);
    assert_eq!(rps[1].shard_group_duration, h);
    assert!(rps[1].default && !rps[0].default);
    assert!(matches!(
        b.alter_retention_policy("db", "zz", RetentionPolicyUpdate::default()).await,
        Err(BackendError::RetentionPolicyNotFound(n)) if n == "zz"
    ));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    b.write(batch("db", vec![pt("m", &[], vec![("v", FieldValue::Integer(1))], now)])).await.unwrap();
    assert_eq!(rows(&collect(&b, scan_req("db", "m", &["v"])).await).len(), 1);
    // Dropping the default RP leaves the default name dangling, as in 1.x.
    b.drop_retention_policy("db", "r").await.unwrap();
    b.drop_retention_policy("db", "r").await.unwrap();
    assert!(matches!(
        b.write(batch("db", vec![pt("m", &[], vec![("v", FieldValue::Integer(1))], 1)])).await,
        Err(BackendError::RetentionPolicyNotFound(n)) if n == "r"
    ));
    assert!(matches!(
        b.write(WriteBatch { db: "nodb".into(), rp: Some("x".into()), points: vec![pt("m", &[], vec![("v", FieldValue::Integer(1))], 1)].into() }).await,
        Err(BackendError::RetentionPolicyNotFound(n)) if n == "x"
    ));
    assert_eq!(b.databases().await.unwrap(), vec!["db".to_string()]);
}

/// Naive reference: aggregate the scan's rows in time order.
fn naive(chunks: &[SeriesChunk], func: AggregateFn, every: i64, offset: i64, min_time: i64) -> Vec<AggregateSeries> {
    let mut out: Vec<AggregateSeries> = Vec::new();
    for c in chunks {
        if out.last().map(|s| s.tags != c.tags).unwrap_or(true) {
            out.push(AggregateSeries { tags: c.tags.clone(), rows: Vec::new() });
        }
        let s = out.last_mut().unwrap();
        for (j, t) in c.times.iter().enumerate() {
            let Some(v) = c.columns[0][j].clone() else { continue };
            let start = if every == 0 { min_time } else { t - (t - offset).rem_euclid(every) };
            if s.rows.last().map(|r| r.bucket_start != start).unwrap_or(true) {
                s.rows.push(AggregateRow { bucket_start: start, point_time: None, value: v.clone(), count: 0 });
                let r = s.rows.last_mut().unwrap();
                r.value = match func {
                    AggregateFn::Count => FieldValue::Integer(0),
                    AggregateFn::Sum if matches!(v, FieldValue::Float(_)) => FieldValue::Float(0.0),
                    AggregateFn::Sum => FieldValue::Integer(0),
                    AggregateFn::Mean => FieldValue::Float(0.0),
                    _ => v.clone(),
                };
                if matches!(func, AggregateFn::Min | AggregateFn::Max | AggregateFn::First | AggregateFn::Last) {
                    r.point_time = Some(*t);
                }
            }
            let r = s.rows.last_mut().unwrap();
            r.count += 1;
            let (FieldValue::Integer(x), cur) = (v.clone(), r.value.clone()) else {
                // float field
                if let (FieldValue::Float(x), FieldValue::Float(c)) = (&v, &r.value) {
                    match func {
                        AggregateFn::Min if x < c => { r.value = v.clone(); r.point_time = Some(*t) }
                        AggregateFn::Max if x > c => { r.value = v.clone(); r.point_time = Some(*t) }
                        AggregateFn::Last => { r.value = v.clone(); r.point_time = Some(*t) }
                        // a float sum adds the values one by one in time order
                        AggregateFn::Sum | AggregateFn::Mean => r.value = FieldValue::Float(c + x),
                        _ => {}
                    }
                } else if func == AggregateFn::Last {
                    r.value = v.clone();
                    r.point_time = Some(*t);
                }
                continue;
            };
            match (func, cur) {
                (AggregateFn::Count, _) => r.value = FieldValue::Integer(r.count as i64),
                (AggregateFn::Sum, FieldValue::Integer(c)) => r.value = FieldValue::Integer(c.wrapping_add(x)),
                (AggregateFn::Mean, FieldValue::Float(c)) => r.value = FieldValue::Float(c + x as f64),
                (AggregateFn::Min, FieldValue::Integer(c)) if x < c => { r.value = v; r.point_time = Some(*t) }
                (AggregateFn::Max, FieldValue::Integer(c)) if x > c => { r.value = v; r.point_time = Some(*t) }
                (AggregateFn::Last, _) => { r.value = v; r.point_time = Some(*t) }
                _ => {}
            }
        }
    }
    for s in out.iter_mut() {
        for r in s.rows.iter_mut() {
            if func == AggregateFn::Mean {
                if let FieldValue::Float(x) = r.value {
                    r.value = FieldValue::Float(x / r.count as f64);
                }
            }
            if func == AggregateFn::Count {
                r.value = FieldValue::Integer(r.count as i64);
            }
            // first/last answer from key lookups: count 1 (see read.rs)
            if matches!(func, AggregateFn::First | AggregateFn::Last) {
                r.count = 1;
            }
        }
    }
    out.retain(|s| !s.rows.is_empty());
    out
}

#[tokio::test]
async fn aggregate_equals_naive() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut points = Vec::new();
    for _ in 0..3000 {
        let host = ["a", "b", "c", "d"][rng.gen_range(0..4)];
        let t: i64 = rng.gen_range(-500..500);
        let mut f = Vec::new();
        if rng.gen_bool(0.8) {
            f.push(("i", FieldValue::Integer(rng.gen_range(-5..5))));
        }
        if rng.gen_bool(0.8) {
            f.push(("f", FieldValue::Float(rng.gen_range(-5..5) as f64 / 2.0)));
        }
        if f.is_empty() {
            f.push(("s", FieldValue::String("x".into())));
        }
        points.push(pt("m", &[("host", host)], f, t));
    }
    b.write(batch("db", points)).await.unwrap();
    for _ in 0..40 {
        let every = [0, 1, 7, 50, 1000][rng.gen_range(0..5)];
        let offset = if every > 0 { rng.gen_range(0..every) } else { 0 };
        let min_time = rng.gen_range(-600..100);
        let max_time = rng.gen_range(-100..600);
        let tagp = if rng.gen_bool(0.5) { TagPredicate::True } else { TagPredicate::Ne("host".into(), "b".into()) };
        for field in ["i", "f", "s"] {
            for func in [AggregateFn::Count, AggregateFn::Sum, AggregateFn::Mean, AggregateFn::Min, AggregateFn::Max, AggregateFn::First, AggregateFn::Last] {
                let mut req = scan_req("db", "m", &[field]);
                req.min_time = min_time;
                req.max_time = max_time;
                req.tags = tagp.clone();
                let got = b.aggregate(AggregateRequest { scan: req.clone(), func, every, offset, point_time: true, latest_only: false }).await;
                let supported = match field {
                    "i" => true,
                    "f" => true,
                    _ => matches!(func, AggregateFn::Count | AggregateFn::First | AggregateFn::Last),
                };
                if !supported {
                    assert!(matches!(got, Err(BackendError::Unsupported(_))), "{field} {func:?}");
                    continue;
                }
                let got = got.unwrap();
                let want = naive(&collect(&b, req).await, func, every, offset, min_time);
                assert_eq!(got, want, "{field} {func:?} every={every} offset={offset} [{min_time},{max_time}]");
            }
        }
    }
}

/// A statement's calls asked together (read in one pass per series and bucket width) answer
/// what each answers asked alone; a refused or empty call does not disturb the others.
#[tokio::test]
async fn aggregate_many_equals_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut points = Vec::new();
    for _ in 0..4000 {
        let host = ["a", "b", "c", "d", "e"][rng.gen_range(0..5)];
        let t: i64 = rng.gen_range(-500..500);
        let mut f = Vec::new();
        for (name, p) in [("x", 0.9), ("y", 0.5), ("z", 0.2)] {
            if rng.gen_bool(p) {
                f.push((name, FieldValue::Float(rng.gen_range(-50..50) as f64 / 8.0)));
            }
        }
        if rng.gen_bool(0.6) {
            f.push(("i", FieldValue::Integer(rng.gen_range(-5..5))));
        }
        if f.is_empty() {
            f.push(("s", FieldValue::String("x".into())));
        }
        points.push(pt("m", &[("host", host)], f, t));
    }
    b.write(batch("db", points)).await.unwrap();
    use AggregateFn::*;
    for round in 0..20 {
        let every = [0, 3, 50, 1000][round % 4];
        let offset = if every > 0 { rng.gen_range(0..every) } else { 0 };
        let (min_time, max_time) = (rng.gen_range(-600..0), rng.gen_range(0..600));
        let tags = if round % 2 == 0 { TagPredicate::True } else { TagPredicate::Ne("host".into(), "c".into()) };
        let calls = [("x", Max), ("y", Max), ("x", Min), ("z", Mean), ("y", Sum), ("i", Count), ("s", Count), ("x", First), ("z", Last), ("s", Max), ("nope", Max), ("i", Mean)];
        let reqs: Vec<AggregateRequest> = calls
            .iter()
            .map(|(field, func)| {
                let mut req = scan_req("db", "m", &[field]);
                (req.min_time, req.max_time, req.tags) = (min_time, max_time, tags.clone());
                AggregateRequest { scan: req, func: *func, every, offset, point_time: true, latest_only: false }
            })
            .collect();
        let many = b.aggregate_many(reqs.clone()).await;
        assert_eq!(many.len(), reqs.len());
        for (req, got) in reqs.into_iter().zip(many) {
            let label = format!("{:?} {:?} every={every}", req.scan.fields, req.func);
            match (got, b.aggregate(req).await) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{label}"),
                (Err(BackendError::Unsupported(_)), Err(BackendError::Unsupported(_))) => {}
                (g, w) => panic!("{label}: {g:?} vs {w:?}"),
            }
        }
    }
}

#[tokio::test]
async fn concurrent_writers_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let b = std::sync::Arc::new(EmbeddedBackend::open(dir.path(), opts()).unwrap());
    let mut hs = Vec::new();
    for w in 0..8 {
        let b = b.clone();
        hs.push(tokio::spawn(async move {
            for i in 0..50 {
                let p = pt("m", &[("w", &w.to_string())], vec![("v", FieldValue::Integer(i))], i);
                b.write(batch("db", vec![p])).await.unwrap();
            }
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    assert_eq!(rows(&collect(&b, scan_req("db", "m", &["v"])).await).len(), 400);
}

#[tokio::test]
async fn merge_within_multi_row_statements() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    // 100 points over 3 timestamps of one series; fields rotate, values grow: the last write of
    // each field at each time must win, and fields not carried must survive.
    let mut points = Vec::new();
    let names = ["a", "b", "c"];
    let mut want: std::collections::BTreeMap<(i64, &str), i64> = Default::default();
    for i in 0..100i64 {
        let t = i % 3;
        let f = names[(i / 3 % 3) as usize];
        points.push(pt("m", &[("h", "x")], vec![(f, FieldValue::Integer(i))], t));
        want.insert((t, f), i);
    }
    b.write(batch("db", points)).await.unwrap();
    let got = rows(&collect(&b, scan_req("db", "m", &["a", "b", "c"])).await);
    assert_eq!(got.len(), 3);
    for (_, t, vals) in got {
        for (k, f) in names.iter().enumerate() {
            assert_eq!(vals[k], want.get(&(t, *f)).map(|v| FieldValue::Integer(*v)), "t={t} f={f}");
        }
    }
}

#[tokio::test]
async fn field_slots_follow_names_across_points() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    b.write(batch("db", vec![pt("m2", &[], vec![("b", FieldValue::Integer(0))], 0)])).await.unwrap();
    let i = |x| FieldValue::Integer(x);
    let mut points = Vec::new();
    for t in 1..40i64 {
        let (a, bb) = (t * 10, t * 10 + 1);
        match t % 4 {
            0 => points.push(pt("m1", &[], vec![("a", i(a)), ("b", i(bb))], t)),
            1 => points.push(pt("m1", &[], vec![("b", i(bb)), ("a", i(a))], t)),
            2 => points.push(pt("m2", &[], vec![("a", i(a)), ("b", i(bb))], t)),
            _ => {
                points.push(pt("m2", &[], vec![("b", i(bb)), ("a", i(a))], t));
                points.push(pt("m2", &[], vec![("b", i(bb))], t));
            }
        }
    }
    b.write(batch("db", points)).await.unwrap();
    for m in ["m1", "m2"] {
        for (_, t, vals) in rows(&collect(&b, scan_req("db", m, &["a", "b"])).await) {
            if t == 0 {
                continue;
            }
            assert_eq!(vals, vec![Some(i(t * 10)), Some(i(t * 10 + 1))], "{m} t={t}");
        }
    }
}

#[tokio::test]
async fn databases_in_creation_order() {
    // 1.x lists SHOW DATABASES in creation order; a dropped and re-created one goes last.
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    for d in ["zeta", "alpha", "mid"] {
        b.create_database(d).await.unwrap();
    }
    b.create_database("zeta").await.unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["zeta", "alpha", "mid"]);
    b.drop_database("zeta").await.unwrap();
    b.create_database("zeta").await.unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["alpha", "mid", "zeta"]);
    drop(b);
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    assert_eq!(b.databases().await.unwrap(), vec!["alpha", "mid", "zeta"]);
}

/// first/last over the whole range (one key lookup per series) skip rows lacking the field,
/// honour both range ends, and leave out series with no point holding the field.
#[tokio::test]
async fn first_last_whole_range_skip_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut points = Vec::new();
    for t in 0..20i64 {
        // host a: v only at odd times 3..=15, other rows carry only w
        let f = if t % 2 == 1 && (3..=15).contains(&t) { vec![("v", FieldValue::Integer(t * 10))] } else { vec![("w", FieldValue::Integer(t))] };
        points.push(pt("m", &[("host", "a")], f, t));
        // host b: never v
        points.push(pt("m", &[("host", "b")], vec![("w", FieldValue::Integer(t))], t));
        // host c: v everywhere
        points.push(pt("m", &[("host", "c")], vec![("v", FieldValue::Integer(-t))], t));
    }
    b.write(batch("db", points)).await.unwrap();
    let agg = |func, min_time, max_time| {
        let mut req = scan_req("db", "m", &["v"]);
        req.min_time = min_time;
        req.max_time = max_time;
        b.aggregate(AggregateRequest { scan: req, func, every: 0, offset: 0, point_time: true, latest_only: false })
    };
    let pick = |got: &Vec<AggregateSeries>| -> Vec<(String, i64, i64, FieldValue)> {
        got.iter()
            .map(|s| {
                let r = &s.rows[0];
                (s.tags[0].1.clone(), r.bucket_start, r.point_time.unwrap(), r.value.clone())
            })
            .collect()
    };
    let got = agg(AggregateFn::Last, 0, 19).await.unwrap();
    assert_eq!(
        pick(&got),
        vec![("a".into(), 0, 15, FieldValue::Integer(150)), ("c".into(), 0, 19, FieldValue::Integer(-19))]
    );
    let got = agg(AggregateFn::First, 0, 19).await.unwrap();
    assert_eq!(pick(&got), vec![("a".into(), 0, 3, FieldValue::Integer(30)), ("c".into(), 0, 0, FieldValue::Integer(0))]);
    // inclusive ends
    let got = agg(AggregateFn::Last, 5, 13).await.unwrap();
    assert_eq!(pick(&got), vec![("a".into(), 5, 13, FieldValue::Integer(130)), ("c".into(), 5, 13, FieldValue::Integer(-13))]);
    let got = agg(AggregateFn::First, 5, 13).await.unwrap();
    assert_eq!(pick(&got), vec![("a".into(), 5, 5, FieldValue::Integer(50)), ("c".into(), 5, 5, FieldValue::Integer(-5))]);
    // a range where a holds no v
    let got = agg(AggregateFn::Last, 16, 19).await.unwrap();
    assert_eq!(pick(&got), vec![("c".into(), 16, 19, FieldValue::Integer(-19))]);
    let got = agg(AggregateFn::First, 16, 16).await.unwrap();
    assert_eq!(pick(&got), vec![("c".into(), 16, 16, FieldValue::Integer(-16))]);
}

/// The chunk contract (`SeriesChunk`): series sets, both orders and per-series limits.
#[tokio::test]
async fn scans_keep_the_chunk_contract() {
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut points = Vec::new();
    for h in 0..5 {
        for t in 0..(3 + h * 7) {
            // Points without the first field, and some without either: the rows a scan skips.
            let mut f = vec![("b", FieldValue::Integer(t))];
            if t % 3 != 0 {
                f.push(("a", FieldValue::Float(t as f64)));
            }
            if t % 5 == 4 {
                f.clear();
                f.push(("c", FieldValue::Boolean(true)));
            }
            points.push(pt("m", &[("host", &format!("h{h}"))], f, t * 10 + h));
        }
    }
    b.write(batch("db", points)).await.unwrap();
    for fields in [vec!["a".to_string(), "b".to_string()], vec!["a".to_string()], Vec::new()] {
        let n = crate::backend::ordered::check_store(&b, "db", "m", &fields).await.unwrap_or_else(|e| panic!("{fields:?}: {e}"));
        assert_eq!(n, 32, "every variant checked");
    }
}

/// A scan's field filter keeps exactly the rows `FieldCondition::holds` accepts over the requested
/// fields' values (a field not requested reads as absent), whatever the filter's fields' types,
/// and a per-series limit counts kept rows only, in both orders.
#[tokio::test]
async fn scan_filter_keeps_what_holds_accepts() {
    use crate::backend::{CmpOp, FieldCondition, FieldLiteral, ScanOrder};
    let dir = tempfile::tempdir().unwrap();
    let b = EmbeddedBackend::open(dir.path(), opts()).unwrap();
    let mut points = Vec::new();
    for h in 0..3 {
        for t in 0..40i64 {
            let mut f = Vec::new();
            if t % 4 != 0 {
                f.push(("a", FieldValue::Float((t * 7 % 13) as f64)));
            }
            f.push(("n", FieldValue::Integer(t % 5)));
            if t % 3 == 0 {
                f.push(("s", FieldValue::String(format!("v{}", t % 2))));
            }
            points.push(pt("m", &[("host", &format!("h{h}"))], f, t * 10 + h));
        }
    }
    b.write(batch("db", points)).await.unwrap();
    let cmp = |f: &str, op, lit| FieldCondition::Cmp(f.to_string(), op, lit);
    let conds = [
        cmp("a", CmpOp::Gt, FieldLiteral::Float(8.0)),
        cmp("s", CmpOp::Eq, FieldLiteral::String("v1".into())),
        FieldCondition::Or(Box::new(cmp("a", CmpOp::Le, FieldLiteral::Float(2.0))), Box::new(cmp("n", CmpOp::Eq, FieldLiteral::Integer(3)))),
        FieldCondition::And(Box::new(cmp("n", CmpOp::Ge, FieldLiteral::Integer(1))), Box::new(cmp("a", CmpOp::Ne, FieldLiteral::Float(6.0)))),
    ];
    let mut nonempty = 0;
    for fields in [vec!["a", "n", "s"], vec!["a", "n"], vec!["s"]] {
        for cond in &conds {
            for (order, limit) in [(ScanOrder::Asc, None), (ScanOrder::Desc, None), (ScanOrder::Asc, Some(3)), (ScanOrder::Desc, Some(2))] {
                let mut all = scan_req("db", "m", &fields);
                all.order = order;
                let mut want = Vec::new();
                let mut kept: std::collections::BTreeMap<Vec<(String, String)>, usize> = Default::default();
                for (tags, t, vals) in rows(&collect(&b, all).await) {
                    let value = |f: &str| fields.iter().position(|n| *n == f).and_then(|i| vals[i].as_ref());
                    let n = kept.entry(tags.clone()).or_default();
                    if cond.holds(&value) && limit.is_none_or(|l| *n < l) {
                        *n += 1;
                        want.push((tags, t, vals));
                    }
                }
                let mut req = scan_req("db", "m", &fields);
                req.order = order;
                req.limit = limit;
                req.where_fields = cond.clone();
                let got = rows(&collect(&b, req).await);
                nonempty += usize::from(!want.is_empty());
                assert_eq!(got, want, "{fields:?} {cond:?} {order:?} {limit:?}");
            }
        }
    }
    // Every condition keeps some rows when its fields are requested: 4 + 3 + 1 of the 12 pairs
    // (a condition on a field not requested keeps none), in 4 orders and limits each.
    assert_eq!(nonempty, 8 * 4);
}
