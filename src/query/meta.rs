//! Meta and DDL statements: SHOW ..., CREATE/DROP/ALTER ..., DELETE, answered as 1.6.7 does.

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::{Backend, BackendError, DeleteRequest, MeasurementFilter, RetentionPolicy, RetentionPolicyUpdate, TagPredicate};
use crate::influxql::ast as a;
use crate::model::series_key;

use super::cond;
use super::error::QResult;
use super::ir::Expr;
use super::lower;
use super::result::{Series, Value};
use super::QueryContext;

use crate::rules::durations::go_string;
use crate::rules::{limits, shards};

type R = QResult<Vec<Series>>;

fn db_required(ctx: &QueryContext, db: &Option<String>) -> QResult<String> {
    match db.as_deref().filter(|d| !d.is_empty()).or(ctx.db.as_deref().filter(|d| !d.is_empty())) {
        Some(d) => Ok(d.to_string()),
        None => Err("database name required".into()),
    }
}

async fn db_exists(backend: &dyn Backend, db: &str) -> QResult<bool> {
    Ok(backend.databases().await?.iter().any(|d| d == db))
}

fn series(name: &str, columns: &[&str], values: Vec<Vec<Value>>) -> Series {
    Series {
        name: name.to_string(),
        tags: vec![],
        columns: columns.iter().map(|c| c.to_string()).collect(),
        values,
        partial: false,
    }
}

/// The tag predicate of a SHOW statement's WHERE (time conditions are ignored, as in 1.x).
fn show_predicate(ctx: &QueryContext, cond: &Option<a::Expr>) -> QResult<TagPredicate> {
    Ok(show_condition(ctx, cond)?.0)
}

/// A SHOW statement's WHERE: its tag predicate and, when it mentions time, the time range.
fn show_condition(ctx: &QueryContext, cond: &Option<a::Expr>) -> QResult<(TagPredicate, Option<cond::TimeRange>)> {
    let Some(c) = cond else { return Ok((TagPredicate::True, None)) };
    let e = lower::expr(c);
    let has_time = cond::mentions_time(&e);
    let (rest, tr) = cond::split_time(&e, ctx.now)?;
    let tr = if has_time { Some(tr) } else { None };
    let Some(rest) = rest else { return Ok((TagPredicate::True, tr)) };
    Ok((cond::tag_predicate(&rest, &|_| true).unwrap_or(TagPredicate::True), tr))
}

/// Keeps the series that have points in the shard groups the time range touches (1.x answers
/// SHOW SERIES / TAG KEYS / TAG VALUES with a time condition from those shards).
async fn filter_by_time(
    backend: &dyn Backend,
    db: &str,
    rp: Option<&str>,
    by_m: &mut BTreeMap<String, Vec<Vec<(String, String)>>>,
    tr: cond::TimeRange,
) -> QResult<()> {
    use futures::StreamExt;
    let rps = backend.retention_policies(db).await?;
    let info = match rp {
        Some(r) => rps.iter().find(|x| x.name == r),
        None => rps.iter().find(|x| x.default),
    };
    let d = super::functions::aggregate::rp_shard_group_duration(info);
    let lo = tr.min.map(|t| super::functions::aggregate::shard_group_start(t, d)).unwrap_or(i64::MIN);
    let hi = tr.max.map(|t| super::functions::aggregate::shard_group_start(t, d).saturating_add(d - 1)).unwrap_or(i64::MAX);
    for (m, sers) in by_m.iter_mut() {
        let fields: Vec<String> = backend.field_keys(db, rp, m).await?.into_iter().map(|f| f.0).collect();
        let mut seen: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
        if lo <= hi && !fields.is_empty() {
            let req = crate::backend::ScanRequest::new(db, rp, m, TagPredicate::True, lo, hi, fields);
            let mut st = backend.scan(req).await?;
            while let Some(chunk) = st.next().await {
                let chunk = chunk?;
                if !chunk.times.is_empty() {
                    seen.insert(chunk.tags);
                }
            }
        }
        sers.retain(|t| seen.contains(t));
    }
    by_m.retain(|_, v| !v.is_empty());
    Ok(())
}

/// What 1.x's exact series count of a measurement is (`SELECT count(_seriesKey)` over every
/// shard): each series once per shard group holding any of its points. The shard groups follow
/// from the points' times and the retention policy's shard group duration; the points' times
/// come from a time-only scan (one series after another, in time order, so counting changes of
/// the shard group start is enough).
async fn series_shard_count(backend: &dyn Backend, db: &str, rp: Option<&str>, m: &str, pred: &TagPredicate) -> QResult<usize> {
    use futures::StreamExt;
    let rps = backend.retention_policies(db).await?;
    let info = match rp {
        Some(r) => rps.iter().find(|x| x.name == r),
        None => rps.iter().find(|x| x.default),
    };
    let d = super::functions::aggregate::rp_shard_group_duration(info);
    let req = crate::backend::ScanRequest::new(db, rp, m, pred.clone(), i64::MIN, i64::MAX, Vec::new());
    let mut st = backend.scan(req).await?;
    let mut n = 0usize;
    let mut last_tags: Option<Vec<(String, String)>> = None;
    let mut last_sg: Option<i64> = None;
    while let Some(chunk) = st.next().await {
        let chunk = chunk?;
        if last_tags.as_ref() != Some(&chunk.tags) {
            last_sg = None;
            last_tags = Some(chunk.tags.clone());
        }
        for &t in &chunk.times {
            let sg = super::functions::aggregate::shard_group_start(t, d);
            if last_sg != Some(sg) {
                n += 1;
                last_sg = Some(sg);
            }
        }
    }
    Ok(n)
}

/// Measurement names of `db` selected by FROM sources (all when none).
async fn source_names(backend: &dyn Backend, db: &str, rp: Option<&str>, sources: &[a::Source]) -> QResult<Vec<String>> {
    let all = backend.measurements(db, rp).await?;
    if sources.is_empty() {
        return Ok(all);
    }
    let mut out = BTreeSet::new();
    for s in sources {
        if let a::Source::Measurement(m) = s {
            match &m.regex {
                Some(r) => out.extend(all.iter().filter(|n| r.regex.is_match(n)).cloned()),
                None => {
                    if all.contains(&m.name) {
                        out.insert(m.name.clone());
                    }
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

fn key_matches(k: &a::TagKeyExpr, key: &str) -> bool {
    match k {
        a::TagKeyExpr::Eq(x) => key == x,
        a::TagKeyExpr::Neq(x) => key != x,
        a::TagKeyExpr::EqRegex(r) => r.regex.is_match(key),
        a::TagKeyExpr::NeqRegex(r) => !r.regex.is_match(key),
        a::TagKeyExpr::In(v) => v.iter().any(|x| x == key),
    }
}

pub async fn show_databases(backend: &dyn Backend, ctx: &QueryContext) -> R {
    let dbs = backend.databases().await?;
    let values: Vec<Vec<Value>> =
        dbs.into_iter().filter(|d| ctx.is_admin || (ctx.can_read)(d)).map(|d| vec![Value::String(d)]).collect();
    if values.is_empty() {
        return Ok(vec![series("databases", &["name"], vec![])]);
    }
    Ok(vec![series("databases", &["name"], values)])
}

pub async fn create_database(backend: &dyn Backend, s: &a::CreateDatabaseStatement) -> R {
    if let Some(rp) = &s.retention_policy {
        let d = rp.duration.unwrap_or(0);
        shards::check_duration(d)?;
        let sgd = shards::normalize(rp.shard_duration.unwrap_or(0), d);
        shards::check_fits(d, sgd)?;
        backend.create_database(&s.name).await?;
        let name = rp.name.clone().unwrap_or_else(|| "autogen".into());
        let policy = RetentionPolicy {
            name,
            duration: d,
            shard_group_duration: sgd,
            replication: rp.replication.unwrap_or(1),
            default: true,
        };
        match backend.create_retention_policy(&s.name, policy.clone()).await {
            Ok(()) => {
                // 1.x creates the database with this policy only.
                if policy.name != "autogen" {
                    let _ = backend.drop_retention_policy(&s.name, "autogen").await;
                }
            }
            Err(BackendError::RetentionPolicyConflict(_)) => {
                let upd = RetentionPolicyUpdate {
                    duration: Some(policy.duration),
                    shard_group_duration: Some(policy.shard_group_duration),
                    replication: Some(policy.replication),
                    make_default: true,
                };
                backend.alter_retention_policy(&s.name, &policy.name, upd).await?;
            }
            Err(e) => return Err(e.into()),
        }
        return Ok(vec![]);
    }
    backend.create_database(&s.name).await?;
    Ok(vec![])
}

pub async fn drop_database(backend: &dyn Backend, name: &str) -> R {
    backend.drop_database(name).await?;
    Ok(vec![])
}

pub async fn show_retention_policies(backend: &dyn Backend, ctx: &QueryContext, db: &Option<String>) -> R {
    let db = db_required(ctx, db)?;
    let rps = match backend.retention_policies(&db).await {
        Ok(r) => r,
        Err(BackendError::DatabaseNotFound(_)) => return Err(format!("database not found: {db}").into()),
        Err(e) => return Err(e.into()),
    };
    let values = rps
        .into_iter()
        .map(|r| {
            vec![
                Value::String(r.name),
                Value::String(go_string(r.duration)),
                Value::String(go_string(r.shard_group_duration)),
                Value::Integer(r.replication as i64),
                Value::Boolean(r.default),
            ]
        })
        .collect();
    Ok(vec![series("", &["name", "duration", "shardGroupDuration", "replicaN", "default"], values)])
}

pub async fn create_retention_policy(backend: &dyn Backend, s: &a::CreateRetentionPolicyStatement) -> R {
    shards::check_duration(s.duration)?;
    let sgd = shards::normalize(s.shard_duration, s.duration);
    shards::check_fits(s.duration, sgd)?;
    if !db_exists(backend, &s.database).await? {
        return Err(format!("database not found: {}", s.database).into());
    }
    let rp = RetentionPolicy {
        name: s.name.clone(),
        duration: s.duration,
        shard_group_duration: sgd,
        replication: s.replication.max(1),
        default: s.default,
    };
    backend.create_retention_policy(&s.database, rp).await?;
    Ok(vec![])
}

pub async fn alter_retention_policy(backend: &dyn Backend, s: &a::AlterRetentionPolicyStatement) -> R {
    if let Some(d) = s.duration {
        shards::check_duration(d)?;
    }
    if !db_exists(backend, &s.database).await? {
        return Err(format!("database not found: {}", s.database).into());
    }
    let rps = backend.retention_policies(&s.database).await?;
    let Some(cur) = rps.iter().find(|r| r.name == s.name) else {
        return Err(format!("retention policy not found: {}", s.name).into());
    };
    let d = s.duration.unwrap_or(cur.duration);
    let sgd = s.shard_duration.map(|x| shards::normalize(x, d));
    shards::check_fits(d, sgd.unwrap_or(cur.shard_group_duration))?;
    let upd = RetentionPolicyUpdate {
        duration: s.duration,
        shard_group_duration: sgd,
        replication: s.replication,
        make_default: s.default,
    };
    backend.alter_retention_policy(&s.database, &s.name, upd).await?;
    Ok(vec![])
}

pub async fn drop_retention_policy(backend: &dyn Backend, db: &str, name: &str) -> R {
    if !db_exists(backend, db).await? {
        return Err(format!("database not found: {db}").into());
    }
    match backend.drop_retention_policy(db, name).await {
        Ok(()) | Err(BackendError::RetentionPolicyNotFound(_)) => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}

pub async fn show_measurements(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowMeasurementsStatement) -> R {
    let db = db_required(ctx, &s.database)?;
    if !db_exists(backend, &db).await? {
        return Ok(vec![]);
    }
    let rp = ctx.rp.as_deref();
    let (pred, tr) = show_condition(ctx, &s.condition)?;
    if tr.is_some() {
        return Err("SHOW MEASUREMENTS doesn't support time in WHERE clause".into());
    }
    let mut names: Vec<String> = if matches!(pred, TagPredicate::True) {
        backend.measurements(&db, rp).await?
    } else {
        let ser = backend.series(&db, rp, &MeasurementFilter::All, &TagPredicate::True).await?;
        measurements_matching(&pred, &ser).into_iter().collect()
    };
    if let Some(m) = &s.with_measurement {
        match &m.regex {
            Some(r) => names.retain(|n| r.regex.is_match(n)),
            None => names.retain(|n| *n == m.name),
        }
    }
    names.sort();
    let names = limits::apply(names, s.limit, s.offset);
    if names.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![series("measurements", &["name"], names.into_iter().map(|n| vec![Value::String(n)]).collect())])
}

/// Series of the selected measurements, grouped by measurement (sorted).
async fn series_by_measurement(
    backend: &dyn Backend,
    db: &str,
    rp: Option<&str>,
    sources: &[a::Source],
    pred: &TagPredicate,
) -> QResult<BTreeMap<String, Vec<Vec<(String, String)>>>> {
    let names = source_names(backend, db, rp, sources).await?;
    let mut out: BTreeMap<String, Vec<Vec<(String, String)>>> = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let filter = if sources.is_empty() { MeasurementFilter::All } else { MeasurementFilter::Names(names) };
    for s in backend.series(db, rp, &filter, pred).await? {
        out.entry(s.measurement).or_default().push(s.tags);
    }
    Ok(out)
}

async fn need_db(backend: &dyn Backend, ctx: &QueryContext, db: &Option<String>) -> QResult<String> {
    let db = db_required(ctx, db)?;
    if !db_exists(backend, &db).await? {
        return Err(format!("database not found: {db}").into());
    }
    Ok(db)
}

pub async fn show_tag_keys(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowTagKeysStatement) -> R {
    let db = need_db(backend, ctx, &s.database).await?;
    let (pred, tr) = show_condition(ctx, &s.condition)?;
    let mut by_m = series_by_measurement(backend, &db, ctx.rp.as_deref(), &s.sources, &pred).await?;
    if let Some(tr) = tr {
        filter_by_time(backend, &db, ctx.rp.as_deref(), &mut by_m, tr).await?;
    }
    let mut out = Vec::new();
    for (m, sers) in by_m {
        let keys: BTreeSet<String> = sers.into_iter().flatten().map(|(k, _)| k).collect();
        let keys = limits::apply(keys.into_iter().collect::<Vec<_>>(), s.limit, s.offset);
        if keys.is_empty() {
            continue;
        }
        out.push(series(&m, &["tagKey"], keys.into_iter().map(|k| vec![Value::String(k)]).collect()));
    }
    // 1.6.7 ignores SLIMIT/SOFFSET here.
    Ok(out)
}

pub async fn show_tag_values(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowTagValuesStatement) -> R {
    let db = need_db(backend, ctx, &s.database).await?;
    let (pred, tr) = show_condition(ctx, &s.condition)?;
    let mut by_m = series_by_measurement(backend, &db, ctx.rp.as_deref(), &s.sources, &pred).await?;
    if let Some(tr) = tr {
        filter_by_time(backend, &db, ctx.rp.as_deref(), &mut by_m, tr).await?;
    }
    let mut out = Vec::new();
    for (m, sers) in by_m {
        let kv: BTreeSet<(String, String)> =
            sers.into_iter().flatten().filter(|(k, _)| key_matches(&s.tag_key, k)).collect();
        let kv = limits::apply(kv.into_iter().collect::<Vec<_>>(), s.limit, s.offset);
        if kv.is_empty() {
            continue;
        }
        out.push(series(
            &m,
            &["key", "value"],
            kv.into_iter().map(|(k, v)| vec![Value::String(k), Value::String(v)]).collect(),
        ));
    }
    Ok(out)
}

pub async fn show_field_keys(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowFieldKeysStatement) -> R {
    let db = need_db(backend, ctx, &s.database).await?;
    let rp = ctx.rp.as_deref();
    let names = source_names(backend, &db, rp, &s.sources).await?;
    let mut out = Vec::new();
    for m in names {
        let fields = backend.field_keys(&db, rp, &m).await?;
        let fields = limits::apply(fields, s.limit, s.offset);
        if fields.is_empty() {
            continue;
        }
        out.push(series(
            &m,
            &["fieldKey", "fieldType"],
            fields.into_iter().map(|(k, t)| vec![Value::String(k), Value::String(t.as_str().into())]).collect(),
        ));
    }
    Ok(out)
}

pub async fn show_series(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowSeriesStatement) -> R {
    let db = need_db(backend, ctx, &s.database).await?;
    let (pred, tr) = show_condition(ctx, &s.condition)?;
    let mut by_m = series_by_measurement(backend, &db, ctx.rp.as_deref(), &s.sources, &pred).await?;
    if let Some(tr) = tr {
        filter_by_time(backend, &db, ctx.rp.as_deref(), &mut by_m, tr).await?;
    }
    let mut keys: Vec<String> = Vec::new();
    for (m, sers) in by_m {
        for tags in sers {
            keys.push(series_key(&m, &tags));
        }
    }
    keys.sort();
    keys.dedup();
    let keys = limits::apply(keys, s.limit, s.offset);
    if keys.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![series("", &["key"], keys.into_iter().map(|k| vec![Value::String(k)]).collect())])
}

pub async fn show_cardinality(backend: &dyn Backend, ctx: &QueryContext, s: &a::ShowCardinalityStatement) -> R {
    let db = db_required(ctx, &s.database)?;
    let rp = ctx.rp.as_deref();
    let exists = db_exists(backend, &db).await?;
    let estimate = !s.exact && s.sources.is_empty() && s.condition.is_none() && s.dimensions.is_empty();
    if let Some(c) = &s.condition {
        if cond::mentions_time(&lower::expr(c)) {
            let kind = match s.kind {
                a::CardinalityKind::Series => "SERIES",
                a::CardinalityKind::Measurement => "MEASUREMENT",
                a::CardinalityKind::TagKey => "TAG KEY",
                a::CardinalityKind::TagValues => "TAG VALUES",
                a::CardinalityKind::FieldKey => "FIELD KEY",
            };
            return Err(format!("SHOW {kind} EXACT CARDINALITY doesn't support time in WHERE clause").into());
        }
    }
    let count = |n: usize| vec![vec![Value::Integer(n as i64)]];
    match s.kind {
        a::CardinalityKind::Measurement => {
            let n = if exists { backend.measurements(&db, rp).await?.len() } else { 0 };
            if estimate {
                return Ok(vec![series("", &["cardinality estimation"], count(n))]);
            }
            if !exists {
                return Err(format!("database not found: {db}").into());
            }
            let pred = show_predicate(ctx, &s.condition)?;
            let by_m = series_by_measurement(backend, &db, rp, &s.sources, &pred).await?;
            Ok(vec![series("", &["count"], count(by_m.len()))])
        }
        a::CardinalityKind::Series if estimate => {
            let n = if exists { backend.series(&db, rp, &MeasurementFilter::All, &TagPredicate::True).await?.len() } else { 0 };
            Ok(vec![series("", &["cardinality estimation"], count(n))])
        }
        kind => {
            if !exists {
                return Err(format!("database not found: {db}").into());
            }
            let pred = show_predicate(ctx, &s.condition)?;
            let by_m = series_by_measurement(backend, &db, rp, &s.sources, &pred).await?;
            let mut out = Vec::new();
            for (m, sers) in by_m {
                let n = match kind {
                    a::CardinalityKind::Series => series_shard_count(backend, &db, rp, &m, &pred).await?,
                    a::CardinalityKind::TagKey => sers.iter().flatten().map(|(k, _)| k).collect::<BTreeSet<_>>().len(),
                    a::CardinalityKind::TagValues => {
                        let Some(tk) = &s.tag_key else { return Err("tag key required".into()) };
                        sers.iter()
                            .flatten()
                            .filter(|(k, _)| key_matches(tk, k))
                            .map(|(_, v)| v)
                            .collect::<BTreeSet<_>>()
                            .len()
                    }
                    a::CardinalityKind::FieldKey => backend.field_keys(&db, rp, &m).await?.len(),
                    a::CardinalityKind::Measurement => 0,
                };
                if n > 0 {
                    out.push(series(&m, &["count"], count(n)));
                }
            }
            Ok(limits::apply(out, s.limit, s.offset))
        }
    }
}

fn sources_filter(sources: &[a::Source]) -> MeasurementFilter {
    if sources.is_empty() {
        return MeasurementFilter::All;
    }
    let mut names = Vec::new();
    let mut regexes = Vec::new();
    for s in sources {
        if let a::Source::Measurement(m) = s {
            match &m.regex {
                Some(r) => regexes.push(r.source.clone()),
                None => names.push(m.name.clone()),
            }
        }
    }
    if regexes.is_empty() {
        return MeasurementFilter::Names(names);
    }
    // One regex matching any of the names or regexes.
    let mut parts: Vec<String> = regexes.iter().map(|r| format!("(?:{r})")).collect();
    parts.extend(names.iter().map(|n| format!("^{}$", regex::escape(n))));
    match regex::Regex::new(&parts.join("|")) {
        Ok(re) => MeasurementFilter::Regex(re),
        Err(_) => MeasurementFilter::Names(names),
    }
}

fn delete_db(ctx: &QueryContext) -> QResult<String> {
    match ctx.db.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => Ok(d.to_string()),
        None => Err("database not found: ".into()),
    }
}

async fn check_delete_db(backend: &dyn Backend, db: &str) -> QResult<()> {
    if !db_exists(backend, db).await? {
        return Err(format!("database not found: {db}").into());
    }
    Ok(())
}

pub async fn drop_measurement(backend: &dyn Backend, ctx: &QueryContext, name: &str) -> R {
    let db = delete_db(ctx)?;
    check_delete_db(backend, &db).await?;
    backend
        .delete(DeleteRequest {
            db,
            measurements: MeasurementFilter::Names(vec![name.to_string()]),
            tags: TagPredicate::True,
            min_time: i64::MIN,
            max_time: i64::MAX,
            drop_series: true,
        })
        .await
        ?;
    Ok(vec![])
}

pub async fn delete(backend: &dyn Backend, ctx: &QueryContext, s: &a::DeleteStatement, drop_series: bool) -> R {
    let db = delete_db(ctx)?;
    check_delete_db(backend, &db).await?;
    let (pred, tr) = match &s.condition {
        None => (TagPredicate::True, cond::TimeRange::unbounded()),
        Some(c) => {
            let e = lower::expr(c);
            if drop_series && cond::mentions_time(&e) {
                return Err("DROP SERIES doesn't support time in WHERE clause".into());
            }
            let (rest, tr) = cond::split_time(&e, ctx.now)?;
            let pred = match rest {
                None => TagPredicate::True,
                Some(r) => match cond::tag_predicate(&r, &|_| true) {
                    Some(p) => p,
                    None => return Err(unsupported_condition(&r).into()),
                },
            };
            (pred, tr)
        }
    };
    backend
        .delete(DeleteRequest {
            db,
            measurements: sources_filter(&s.sources),
            tags: pred,
            min_time: tr.min.unwrap_or(i64::MIN),
            max_time: tr.max.unwrap_or(i64::MAX),
            drop_series,
        })
        .await
        ?;
    Ok(vec![])
}

fn unsupported_condition(_e: &Expr) -> String {
    // 1.6.7 reports it from the first shard.
    "shard 1: fields not supported in WHERE clause during deletion".into()
}

/// 1.6.7's SHOW MEASUREMENTS WHERE: each comparison selects the measurements having a series
/// with that tag value; `tag = ''`, `tag != 'v'` and `!~` select none, `tag != ''` those having
/// the tag at all; AND and OR intersect and unite.
fn measurements_matching(p: &TagPredicate, series: &[crate::backend::SeriesInfo]) -> BTreeSet<String> {
    type SeriesTest<'a> = &'a dyn Fn(&[(String, String)]) -> bool;
    let with = |f: SeriesTest| -> BTreeSet<String> {
        series.iter().filter(|s| f(&s.tags)).map(|s| s.measurement.clone()).collect()
    };
    match p {
        TagPredicate::True => series.iter().map(|s| s.measurement.clone()).collect(),
        TagPredicate::Eq(k, v) if v.is_empty() => BTreeSet::new(),
        TagPredicate::Eq(k, v) => with(&|t| t.iter().any(|(tk, tv)| tk == k && tv == v)),
        TagPredicate::Ne(k, v) if v.is_empty() => with(&|t| t.iter().any(|(tk, tv)| tk == k && !tv.is_empty())),
        TagPredicate::Ne(_, _) | TagPredicate::NotMatch(_, _) => BTreeSet::new(),
        TagPredicate::Match(k, re) => with(&|t| t.iter().any(|(tk, tv)| tk == k && re.is_match(tv))),
        TagPredicate::And(a, b) => {
            let x = measurements_matching(a, series);
            let y = measurements_matching(b, series);
            x.intersection(&y).cloned().collect()
        }
        TagPredicate::Or(a, b) => {
            let mut x = measurements_matching(a, series);
            x.extend(measurements_matching(b, series));
            x
        }
    }
}
