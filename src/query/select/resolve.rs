//! Sources resolved against the catalog: measurements (named, regex, subqueries) with their
//! field types and tag keys, `*` and regexes in the field list expanded, GROUP BY keys.

use super::*;

/// What a source measurement has: field types and tag keys; for a subquery, its rows too.
#[derive(Debug, Clone)]
pub(crate) struct MeasInfo {
    pub name: String,
    pub db: String,
    pub rp: Option<String>,
    pub fields: BTreeMap<String, FieldType>,
    pub tags: BTreeSet<String>,
    /// Rows of a subquery source: (tags, columns, rows with the time first).
    pub sub: Option<Vec<(Tags, Vec<String>, Vec<Vec<Value>>)>>,
    /// For each entry of `sub`, the index of the FROM source it came from.
    pub sub_src: Vec<usize>,
    /// Subquery columns without a value to type them (see `typecheck`).
    pub untyped: BTreeSet<String>,
    /// `sub` holds the subquery's rows in the order 1.x reads them (see `select::subquery`),
    /// not series after series.
    pub sub_ordered: bool,
    /// Shard group duration of the retention policy (1.x reduces per shard group first).
    pub shard_dur: i64,
    /// `tags` lists every tag key (listing them costs a walk over the measurement's series, so
    /// it is done only when the query expands `*` or a regex); when false, any name that is not
    /// a field is taken for a tag.
    pub tags_complete: bool,
}

impl MeasInfo {
    /// The store's scan of `fields` of this measurement over the series `pred` selects, between
    /// `min` and `max` inclusive.
    pub(super) fn scan_request(&self, pred: &TagPredicate, min: i64, max: i64, fields: Vec<String>) -> ScanRequest {
        ScanRequest::new(&self.db, self.rp.as_deref(), &self.name, pred.clone(), min, max, fields)
    }
}

pub(super) async fn measurement_info(
    backend: &dyn Backend,
    db: &str,
    rp: Option<&str>,
    name: &str,
    need_tags: bool,
) -> QResult<MeasInfo> {
    let fields: BTreeMap<String, FieldType> =
        backend.field_keys(db, rp, name).await?.into_iter().collect();
    let tags = if need_tags { tag_keys(backend, db, rp, name).await? } else { BTreeSet::new() };
    let rps = match backend.retention_policies(db).await {
        Ok(r) => r,
        // A database the store does not know has no policy to take a shard duration from; the
        // store failing is the query's failure.
        Err(crate::backend::BackendError::DatabaseNotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let rp_info = match rp {
        Some(r) => rps.iter().find(|x| x.name == r),
        None => rps.iter().find(|x| x.default),
    };
    let shard_dur = functions::aggregate::rp_shard_group_duration(rp_info);
    Ok(MeasInfo {
        name: name.to_string(),
        db: db.to_string(),
        rp: rp.map(str::to_string),
        fields,
        tags,
        sub: None,
        sub_src: Vec::new(),
        untyped: BTreeSet::new(),
        sub_ordered: false,
        shard_dur,
        tags_complete: need_tags,
    })
}

/// The tag keys of a measurement (a walk over its series).
async fn tag_keys(backend: &dyn Backend, db: &str, rp: Option<&str>, name: &str) -> QResult<BTreeSet<String>> {
    let series = backend.series(db, rp, &MeasurementFilter::Names(vec![name.to_string()]), &TagPredicate::True).await?;
    Ok(series.into_iter().flat_map(|s| s.tags.into_iter().map(|(k, _)| k)).collect())
}

/// Lists the tag keys of the measurements resolved without them.
pub(super) async fn complete_tags(backend: &dyn Backend, metas: &mut [MeasInfo]) -> QResult<()> {
    for m in metas.iter_mut().filter(|m| m.sub.is_none() && !m.tags_complete) {
        m.tags = tag_keys(backend, &m.db, m.rp.as_deref(), &m.name).await?;
        m.tags_complete = true;
    }
    Ok(())
}

pub(super) fn pick_db(ctx: &QueryContext, db: &Option<String>) -> QResult<String> {
    match db.as_deref().filter(|d| !d.is_empty()).or(ctx.db.as_deref().filter(|d| !d.is_empty())) {
        Some(d) => Ok(d.to_string()),
        None => Err("database name required".into()),
    }
}

/// The measurements `sel` reads (its subqueries run).
pub(crate) async fn resolve_sources(
    backend: &dyn Backend,
    ctx: &QueryContext,
    sel: &Select,
    need_tags: bool,
) -> QResult<Vec<MeasInfo>> {
    let mut out: Vec<MeasInfo> = Vec::new();
    let dbs = backend.databases().await?;
    for (src_idx, s) in sel.sources.iter().enumerate() {
        match s {
            Source::Measurement { db, rp, name } => {
                let db = pick_db(ctx, db)?;
                if !dbs.contains(&db) {
                    return Err(format!("database not found: {db}").into());
                }
                let rp = rp.clone().filter(|r| !r.is_empty()).or_else(|| ctx.rp.clone());
                let names = backend.measurements(&db, rp.as_deref()).await?;
                if names.iter().any(|n| n == name) && !out.iter().any(|m| &m.name == name) {
                    out.push(measurement_info(backend, &db, rp.as_deref(), name, need_tags).await?);
                }
            }
            Source::Regex { db, rp, re } => {
                let db = pick_db(ctx, db)?;
                if !dbs.contains(&db) {
                    return Err(format!("database not found: {db}").into());
                }
                let rp = rp.clone().filter(|r| !r.is_empty()).or_else(|| ctx.rp.clone());
                let names = backend.measurements(&db, rp.as_deref()).await?;
                for n in names.iter().filter(|n| re.is_match(n)) {
                    if !out.iter().any(|m| &m.name == n) {
                        out.push(measurement_info(backend, &db, rp.as_deref(), n, need_tags).await?);
                    }
                }
            }
            Source::Subquery(inner) => {
                let (series, merged) = Box::pin(subquery(backend, ctx, inner, sel)).await?;
                for s in series {
                    let pos = out.iter().position(|m| m.name == s.name && m.sub.is_some());
                    let idx = match pos {
                        Some(i) => i,
                        None => {
                            out.push(MeasInfo {
                                name: s.name.clone(),
                                db: String::new(),
                                rp: None,
                                fields: BTreeMap::new(),
                                tags: BTreeSet::new(),
                                sub: Some(Vec::new()),
                                sub_src: Vec::new(),
                                untyped: BTreeSet::new(),
                                sub_ordered: true,
                                shard_dur: 0,
                                tags_complete: true,
                            });
                            out.len() - 1
                        }
                    };
                    let m = &mut out[idx];
                    m.sub_ordered &= merged;
                    for (k, _) in &s.tags {
                        m.tags.insert(k.clone());
                    }
                    for (ci, c) in s.columns.iter().enumerate().skip(1) {
                        if m.fields.contains_key(c) {
                            continue;
                        }
                        let ty = s.values.iter().find_map(|r| r.get(ci).and_then(functions::value_type));
                        if let Some(ty) = ty {
                            m.fields.insert(c.clone(), ty);
                        } else if !m.tags.contains(c) {
                            // No value says the type: read as float, typed as unknown (1.x
                            // types a subquery's column by its expression, unknown when that
                            // does not type).
                            m.fields.insert(c.clone(), FieldType::Float);
                            m.untyped.insert(c.clone());
                        }
                    }
                    if let Some(sub) = m.sub.as_mut() {
                        sub.push((s.tags, s.columns, s.values));
                        m.sub_src.push(src_idx);
                    }
                }
            }
        }
    }
    unify_field_types(&mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// 1.x types a field once for the whole statement: the lowest of its types across the source
/// measurements (float < integer < string < boolean < unsigned, influxql's DataType order). A
/// measurement whose own type cannot be read as that one (numbers cast among themselves; here
/// they keep their own type) reads nothing for the field: `SELECT * FROM cpu, mem` with a float
/// `value` in cpu and a string `value` in mem answers no mem rows.
pub(super) fn unify_field_types(metas: &mut [MeasInfo]) {
    if metas.iter().filter(|m| m.sub.is_none()).count() < 2 {
        return;
    }
    let rank = |t: FieldType| match t {
        FieldType::Float => 1,
        FieldType::Integer => 2,
        FieldType::String => 3,
        FieldType::Boolean => 4,
        FieldType::Unsigned => 9,
    };
    let numeric = |t: FieldType| matches!(t, FieldType::Float | FieldType::Integer | FieldType::Unsigned);
    let mut global: BTreeMap<String, FieldType> = BTreeMap::new();
    for m in metas.iter().filter(|m| m.sub.is_none()) {
        for (k, &t) in &m.fields {
            match global.get(k) {
                Some(&g) if rank(g) <= rank(t) => {}
                _ => {
                    global.insert(k.clone(), t);
                }
            }
        }
    }
    for m in metas.iter_mut().filter(|m| m.sub.is_none()) {
        m.fields.retain(|k, t| global.get(k).map_or(true, |&g| g == *t || (numeric(g) && numeric(*t))));
    }
}

/// Expands `*` and regexes in the field list against the union of the sources' fields and tags.
pub(super) fn expand_fields(fields: &[Field], metas: &[MeasInfo], dims: &[Dimension]) -> Vec<Field> {
    let mut all_fields: BTreeMap<String, ()> = BTreeMap::new();
    let mut all_tags: BTreeSet<String> = BTreeSet::new();
    for m in metas {
        for k in m.fields.keys() {
            all_fields.insert(k.clone(), ());
        }
        for k in &m.tags {
            all_tags.insert(k.clone());
        }
    }
    // Tags the query groups by are not expanded into columns (1.x).
    all_tags.retain(|k| {
        !dims.iter().any(|d| match d {
            Dimension::Tag(t) => t == k,
            // With a regex GROUP BY, 1.6.7 leaves every tag out of `*`.
            Dimension::Regex(_) => true,
            Dimension::Wildcard => true,
            Dimension::Time { .. } => false,
        })
    });
    let mut out = Vec::new();
    for f in fields {
        match f.expr.unparen() {
            Expr::Wildcard { hint } | Expr::Var { name: _, hint } if matches!(f.expr.unparen(), Expr::Wildcard { .. }) => {
                let mut names: Vec<(String, VarHint)> = Vec::new();
                if !matches!(hint, Some(VarHint::Tag)) {
                    names.extend(all_fields.keys().map(|k| (k.clone(), VarHint::Field)));
                }
                if !matches!(hint, Some(VarHint::Field)) {
                    names.extend(all_tags.iter().filter(|k| !all_fields.contains_key(*k)).map(|k| (k.clone(), VarHint::Tag)));
                }
                names.sort();
                for (n, h) in names {
                    out.push(Field { expr: Expr::Var { name: n, hint: Some(h) }, alias: None });
                }
            }
            Expr::Regex(re) => {
                let mut names: Vec<(String, VarHint)> = Vec::new();
                names.extend(all_fields.keys().filter(|k| re.is_match(k)).map(|k| (k.clone(), VarHint::Field)));
                names.extend(
                    all_tags.iter().filter(|k| re.is_match(k) && !all_fields.contains_key(*k)).map(|k| (k.clone(), VarHint::Tag)),
                );
                names.sort();
                for (n, h) in names {
                    out.push(Field { expr: Expr::Var { name: n, hint: Some(h) }, alias: None });
                }
            }
            Expr::Call { name, args } if args.first().map(|a| matches!(a.unparen(), Expr::Wildcard { .. } | Expr::Regex(_))).unwrap_or(false) => {
                let filter: Option<&Regex> = match args[0].unparen() {
                    Expr::Regex(re) => Some(re),
                    _ => None,
                };
                let agg = Aggregate::from_name(name, Some(1), Some(50.0), None);
                for k in all_fields.keys() {
                    // Fields of a type the function does not take are left out (1.x).
                    let accepted = match &agg {
                        Some(a) => metas.iter().filter_map(|m| m.fields.get(k)).any(|t| a.accepts(*t)),
                        None => true,
                    };
                    if accepted && filter.map(|re| re.is_match(k)).unwrap_or(true) {
                        let mut a = args.clone();
                        a[0] = Expr::Var { name: k.clone(), hint: None };
                        let alias = match &f.alias {
                            Some(al) => Some(format!("{al}_{k}")),
                            None => Some(format!("{name}_{k}")),
                        };
                        out.push(Field { expr: Expr::Call { name: name.clone(), args: a }, alias });
                    }
                }
            }
            Expr::Call { name, args } if (name == "top" || name == "bottom") && args.len() > 2 => {
                // The tags of top(field, tag.., N) are selected too, after the call.
                out.push(f.clone());
                for a in &args[1..args.len() - 1] {
                    if let Expr::Var { name, .. } = a.unparen() {
                        out.push(Field { expr: Expr::Var { name: name.clone(), hint: Some(VarHint::Tag) }, alias: None });
                    }
                }
            }
            _ => out.push(f.clone()),
        }
    }
    out
}

/// The tag keys a series is grouped by.
/// The tag keys a series is grouped by, sorted (groups are ordered by their tags).
pub(super) fn group_keys(dims: &[Dimension], m: &MeasInfo) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut add = |k: &String| {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    };
    for d in dims {
        match d {
            Dimension::Tag(k) => add(k),
            Dimension::Regex(re) => m.tags.iter().filter(|k| re.is_match(k)).for_each(&mut add),
            Dimension::Wildcard => m.tags.iter().for_each(&mut add),
            Dimension::Time { .. } => {}
        }
    }
    keys.sort();
    keys
}

/// 1.x's tag-set ID (`encodeTags`): the keys with a value, then their values, `\0`-separated.
/// SLIMIT/SOFFSET pick series in the order of these IDs.
pub(super) fn tags_id(tags: &Tags) -> Vec<u8> {
    let set: Vec<&(String, String)> = {
        let mut v: Vec<&(String, String)> = tags.iter().filter(|(_, v)| !v.is_empty()).collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for (k, _) in &set {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
    }
    for (i, (_, v)) in set.iter().enumerate() {
        out.extend_from_slice(v.as_bytes());
        if i + 1 < set.len() {
            out.push(0);
        }
    }
    out
}

pub(super) fn group_of(keys: &[String], tags: &Tags) -> Tags {
    keys.iter()
        .map(|k| {
            let v = tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone()).unwrap_or_default();
            (k.clone(), v)
        })
        .collect()
}
