//! Writes: a batch becomes one `INSERT ... FORMAT RowBinary` per measurement table.
//!
//! In this order, as the embedded store and 1.x do it:
//!
//! 1. the target policy (the database's default for none; a database that does not exist is made
//!    by the write, with `autogen`, but only once the batch passed every check below);
//! 2. points older than the policy keeps (now − duration) are left out, and the write answers
//!    1.x's `partial write: points beyond retention policy dropped=N` after storing the rest;
//! 3. the cardinality limits ([`cardinality`](mod@super::cardinality)), then every field's type,
//!    in point order: a type other than the stored one is 1.x's `field type conflict: input field
//!    "f" on measurement "m" is type T, already exists as type U` for the whole batch; two points of
//!    the batch disagreeing on a new field is 1.x's bare `field type conflict`. Nothing is stored
//!    when any point fails, and no table is made or altered;
//! 4. tables and columns the batch needs are made ([`schema`](mod@super::schema));
//! 5. one insert per table, its rows in batch order, with `_seq` numbering them so a later point
//!    for the same series and time wins on read; writes to the same table at the same time share
//!    inserts ([`group`](mod@super::group)).
//!
//! A failure after some tables were written answers an error (503 for an unavailable store): the
//! client sends the batch again, and rows written twice read back once.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::catalog::{self, DbInfo};
use super::client::{error_code, UNKNOWN_OBJECT};
use super::dialect::{ident, table};
use super::group;
use super::names::{self, column_for, SERIES, SEQ, TIME};
use super::rowbinary::{field_sql_type, Encoder};
use super::schema::{self, NewColumn, TableSchema};
use super::series::BatchSeries;
use super::Inner;
use crate::backend::{BackendError, Result, WriteBatch, WriteOutcome};
use crate::model::{FieldRef, FieldType, PointRef};

/// Most tag and field columns one measurement table may have: every column is several files in
/// every part an insert makes (18.16 has no compact parts).
pub const MAX_COLUMNS: usize = 1024;

/// The insert into one table.
struct TablePlan<'a> {
    measurement: &'a str,
    /// The points, each with its position in the batch's kept points (its `_seq` offset).
    points: Vec<(u64, PointRef<'a>)>,
    /// Key → column, for the tags and fields the batch's points carry.
    tags: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    /// Columns to add (all of them, with the table, when it does not exist yet).
    new: Vec<NewColumn>,
    exists: bool,
}

/// Same measurement, tag keys and field keys.
fn same_names(a: &PointRef<'_>, b: &PointRef<'_>) -> bool {
    a.measurement == b.measurement
        && a.tags.len() == b.tags.len()
        && a.fields.len() == b.fields.len()
        && a.tags.iter().zip(b.tags.iter()).all(|(x, y)| x.0 == y.0)
        && a.fields.keys().eq(b.fields.keys())
}

/// Refuses names ClickHouse cannot hold before anything else happens.
pub(super) fn check_names(batch: &WriteBatch) -> Result<()> {
    let mut last: Option<PointRef<'_>> = None;
    for (index, p) in batch.points.iter().enumerate() {
        if last.is_some_and(|q| same_names(&q, &p)) {
            continue;
        }
        last = Some(p);
        let r = names::check_name("measurement", p.measurement)
            .and_then(|_| p.tags.iter().try_for_each(|(k, _)| names::check_name("tag key", k)))
            .and_then(|_| p.fields.keys().try_for_each(|k| names::check_name("field key", k)));
        if let Err(e) = r {
            return Err(BackendError::InvalidPoint { index, message: e.to_string() });
        }
    }
    Ok(())
}

/// Types of the batch's fields against the tables' and each other (module docs, step 3).
fn check_types(pts: &[PointRef<'_>], schemas: &HashMap<&str, Option<Arc<TableSchema>>>, total: usize) -> Result<()> {
    let mut new: HashMap<(&str, &str), FieldType> = HashMap::new();
    let mut last: Option<&PointRef<'_>> = None;
    for p in pts {
        // The same names with the same types as the point before: the same outcome.
        if last.is_some_and(|q| q.measurement == p.measurement && q.fields.same_shape(&p.fields)) {
            continue;
        }
        last = Some(p);
        let s = schemas.get(p.measurement).and_then(|s| s.as_deref());
        for (k, v) in p.fields.iter() {
            let t = v.field_type();
            if let Some((_, e)) = s.and_then(|s| s.fields.get(k)) {
                if *e != t {
                    return Err(BackendError::FieldTypeConflict {
                        measurement: p.measurement.to_string(),
                        field: k.to_string(),
                        input: t,
                        existing: *e,
                        dropped: total,
                    });
                }
                continue;
            }
            match new.get(&(p.measurement, k)) {
                Some(e) if *e != t => return Err(BackendError::Invalid("field type conflict".into())),
                Some(_) => {}
                None => {
                    new.insert((p.measurement, k), t);
                }
            }
        }
    }
    Ok(())
}

/// The insert into one measurement's table (types already checked).
fn plan<'a>(measurement: &'a str, points: Vec<(u64, PointRef<'a>)>, s: Option<&TableSchema>) -> Result<TablePlan<'a>> {
    let empty = TableSchema::default();
    let exists = s.is_some();
    let s = s.unwrap_or(&empty);
    let mut plan = TablePlan { measurement, points: Vec::new(), tags: Vec::new(), fields: Vec::new(), new: Vec::new(), exists };
    let mut seen_tags: HashMap<&str, ()> = HashMap::new();
    let mut seen_fields: HashMap<&str, ()> = HashMap::new();
    let mut last: Option<&PointRef<'_>> = None;
    for (_, p) in &points {
        if last.is_some_and(|q| same_names(q, p)) {
            continue;
        }
        last = Some(p);
        for (k, _) in p.tags.iter() {
            if seen_tags.insert(k, ()).is_none() {
                let col = match s.tags.get(k) {
                    Some(c) => c.clone(),
                    None => new_column(&mut plan.new, s, k, false, "String"),
                };
                plan.tags.push((k.to_string(), col));
            }
        }
        for (k, v) in p.fields.iter() {
            if seen_fields.insert(k, ()).is_none() {
                let col = match s.fields.get(k) {
                    Some((c, _)) => c.clone(),
                    None => new_column(&mut plan.new, s, k, true, field_sql_type(v.field_type())),
                };
                plan.fields.push((k.to_string(), col));
            }
        }
    }
    if s.tags.len() + s.fields.len() + plan.new.len() > MAX_COLUMNS {
        return Err(BackendError::Invalid(format!(
            "too many tags and fields on measurement \"{measurement}\" (at most {MAX_COLUMNS} with ClickHouse)"
        )));
    }
    plan.points = points;
    Ok(plan)
}

fn new_column(new: &mut Vec<NewColumn>, s: &TableSchema, key: &str, field: bool, sql_type: &'static str) -> String {
    let name = column_for(key, field, |c| s.has_column(c) || new.iter().any(|n| n.name == c));
    new.push(NewColumn { name: name.clone(), sql_type });
    name
}

/// The batch's points by measurement, in order of first appearance, each in batch order with its
/// position.
fn by_measurement<'a>(pts: &[PointRef<'a>]) -> Vec<(&'a str, Vec<(u64, PointRef<'a>)>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<(&str, Vec<(u64, PointRef<'a>)>)> = Vec::new();
    let mut last: Option<(&str, usize)> = None;
    for (n, p) in pts.iter().enumerate() {
        let i = match last {
            Some((m, i)) if m == p.measurement => i,
            _ => *index.entry(p.measurement).or_insert_with(|| {
                out.push((p.measurement, Vec::new()));
                out.len() - 1
            }),
        };
        last = Some((p.measurement, i));
        out[i].1.push((n as u64, *p));
    }
    out
}

pub async fn write(inner: &Arc<Inner>, batch: WriteBatch) -> Result<WriteOutcome> {
    if batch.points.is_empty() {
        return Ok(WriteOutcome { points_written: 0 });
    }
    check_names(&batch)?;
    let info = catalog::get(inner, &batch.db).await?;
    let rp_name = match (batch.rp.as_deref().filter(|r| !r.is_empty()), &info) {
        (Some(r), _) => r.to_string(),
        (None, Some(i)) => i.default_rp.clone(),
        (None, None) => "autogen".to_string(),
    };
    let duration = match &info {
        Some(i) => i.rp(&rp_name).ok_or_else(|| BackendError::RetentionPolicyNotFound(rp_name.clone()))?.duration,
        None if rp_name == "autogen" => inner.opts.default_retention,
        None => return Err(BackendError::RetentionPolicyNotFound(rp_name)),
    };
    // 1.x drops points the policy no longer keeps and writes the rest.
    let cutoff = if duration > 0 { Inner::now().saturating_sub(duration) } else { i64::MIN };
    let pts: Vec<PointRef<'_>> = batch.points.iter().filter(|p| p.time >= cutoff).collect();
    let beyond = batch.points.len() - pts.len();
    if !pts.is_empty() {
        store(inner, &batch, info, &rp_name, &pts).await?;
    }
    if beyond > 0 {
        return Err(BackendError::Invalid(format!("partial write: points beyond retention policy dropped={beyond}")));
    }
    Ok(WriteOutcome { points_written: pts.len() })
}

/// Steps 3 to 5 of the module docs for the points the policy keeps.
async fn store(inner: &Arc<Inner>, batch: &WriteBatch, info: Option<Arc<DbInfo>>, rp: &str, pts: &[PointRef<'_>]) -> Result<()> {
    let series = BatchSeries::new(pts);
    inner.tracker.check(inner, &batch.db, &series, batch.points.len()).await?;
    let groups = by_measurement(pts);
    let policy = inner.names.policy(&batch.db, rp);
    let mut schemas: HashMap<&str, Option<Arc<TableSchema>>> = HashMap::new();
    for (m, _) in &groups {
        let s = match info {
            Some(_) => schema::get(inner, &policy, m).await?,
            None => None,
        };
        schemas.insert(m, s);
    }
    check_types(pts, &schemas, batch.points.len())?;
    let mut plans = Vec::with_capacity(groups.len());
    for (m, points) in groups {
        plans.push(plan(m, points, schemas.get(m).and_then(|s| s.as_deref()))?);
    }
    if info.is_none() || plans.iter().any(|p| !p.new.is_empty()) {
        plans = prepare_tables(inner, batch, rp, plans, pts).await?;
    }
    let settings = inner.insert_settings().await?;
    // `_seq` follows batch order across tables.
    let first_seq = inner.next_seq(pts.len() as u64);
    let mut done = Ok(());
    for p in &plans {
        let rows = Bytes::from(encode(p, &series, first_seq));
        if let Err(e) = group::insert(inner, insert_target(&policy, p), rows, settings.clone()).await {
            done = Err(schema_changed(inner, &policy, p.measurement, e));
            break;
        }
    }
    // Before the answer, whatever it is (rows may have landed): a kept series list without one
    // of these series is forgotten (`listing`).
    for p in &plans {
        let ids = series.series.iter().filter(|s| s.measurement == p.measurement).map(|s| series.id(s));
        inner.listings.written(&policy, p.measurement, ids);
    }
    done
}

/// A table or column that vanished under the insert (dropped by another influxgate): the cached
/// schema is dropped and the client asked to send the batch again.
fn schema_changed(inner: &Inner, policy: &str, m: &str, e: BackendError) -> BackendError {
    match error_code(&e) {
        Some(c) if UNKNOWN_OBJECT.contains(&c) || c == 16 => {
            inner.cache_table(policy, m, None);
            BackendError::Unavailable(format!("{e} (the table changed; send the write again)"))
        }
        _ => e,
    }
}

/// Makes the database, tables and columns the plans need, under the DDL lock, planning again
/// against the columns the server has now (another writer may have added some).
async fn prepare_tables<'a>(
    inner: &Arc<Inner>,
    batch: &WriteBatch,
    rp: &str,
    plans: Vec<TablePlan<'a>>,
    pts: &[PointRef<'a>],
) -> Result<Vec<TablePlan<'a>>> {
    let _g = inner.ddl.lock().await;
    let info = catalog::ensure(inner, &batch.db).await?;
    let r = info.resolve(Some(rp))?.clone();
    let policy = inner.names.policy(&batch.db, rp);
    let mut fresh: HashMap<&str, Option<Arc<TableSchema>>> = HashMap::new();
    for p in &plans {
        let s = schema::load(inner, &policy, p.measurement).await?.map(Arc::new);
        fresh.insert(p.measurement, s);
    }
    check_types(pts, &fresh, batch.points.len())?;
    let mut out = Vec::with_capacity(plans.len());
    for old in plans {
        let p = plan(old.measurement, old.points, fresh.get(old.measurement).and_then(|s| s.as_deref()))?;
        if !p.exists {
            schema::create_table(inner, &batch.db, rp, p.measurement, r.sgd, &p.new).await?;
        } else if !p.new.is_empty() {
            schema::add_columns(inner, &batch.db, rp, p.measurement, &p.new).await?;
        }
        if !p.new.is_empty() || !p.exists {
            let s = schema::load(inner, &policy, p.measurement).await?.map(Arc::new);
            inner.cache_table(&policy, p.measurement, s);
        }
        out.push(p);
    }
    Ok(out)
}

fn insert_target(policy: &str, p: &TablePlan<'_>) -> String {
    let mut cols = vec![ident(TIME), ident(SERIES), ident(SEQ)];
    cols.extend(p.tags.iter().map(|(_, c)| ident(c)));
    cols.extend(p.fields.iter().map(|(_, c)| ident(c)));
    format!("{} ({})", table(policy, p.measurement), cols.join(", "))
}

/// The plan's rows in RowBinary. Which column each tag and field goes to is worked out once per
/// run of points with the same names (a batch's lines mostly share them), not looked up per value;
/// each point's `_series` comes from `series` (built once a batch).
fn encode(p: &TablePlan<'_>, series: &BatchSeries<'_>, first_seq: u64) -> Vec<u8> {
    let tag_pos: HashMap<&str, usize> = p.tags.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    let field_pos: HashMap<&str, usize> = p.fields.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    let mut e = Encoder { buf: Vec::with_capacity(p.points.len() * (64 + 16 * (p.tags.len() + p.fields.len()))) };
    let mut tags: Vec<&str> = vec![""; p.tags.len()];
    let mut fields: Vec<Option<FieldRef<'_>>> = vec![None; p.fields.len()];
    // The column of the run's i-th tag and field (`usize::MAX`: none, which `plan` rules out).
    let (mut tag_col, mut field_col): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    let mut last: Option<&PointRef<'_>> = None;
    for (n, pt) in &p.points {
        if !last.is_some_and(|q| same_names(q, pt)) {
            tag_col.clear();
            tag_col.extend(pt.tags.iter().map(|(k, _)| tag_pos.get(k).copied().unwrap_or(usize::MAX)));
            field_col.clear();
            field_col.extend(pt.fields.keys().map(|k| field_pos.get(k).copied().unwrap_or(usize::MAX)));
            last = Some(pt);
        }
        tags.fill("");
        for ((_, v), &c) in pt.tags.iter().zip(&tag_col) {
            if let Some(t) = tags.get_mut(c) {
                *t = v;
            }
        }
        fields.fill(None);
        for ((_, v), &c) in pt.fields.iter().zip(&field_col) {
            if let Some(f) = fields.get_mut(c) {
                *f = Some(v);
            }
        }
        e.i64(pt.time);
        e.bytes(series.id_of(*n as usize));
        e.u64(first_seq + n);
        for t in &tags {
            e.bytes(t.as_bytes());
        }
        for f in &fields {
            e.field(*f);
        }
    }
    e.buf
}
