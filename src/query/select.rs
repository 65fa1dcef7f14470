//! SELECT: sources resolved against the catalog, fields typed, rows read through
//! `Backend::scan`, then raw rows or aggregates per series and time bucket.

#![allow(clippy::type_complexity, clippy::too_many_arguments)]

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use super::functions::goheap::GoHeap;
use regex::Regex;

use super::cond::{self, TimeRange, MIN_TIME};
use super::eval;
use super::functions::{self, Aggregate, Sample, Window};
use super::ir::{BinOp, Dimension, Expr, Field, Fill, FillValue, Select, Source, VarHint};
use super::result::{Series, Value};
use super::error::{QResult, QueryError};
use super::govern::{self, Charge, Governor};
use super::QueryContext;
use crate::backend::{Backend, MeasurementFilter, ScanRequest, TagPredicate};
use crate::model::FieldType;

type Tags = Vec<(String, String)>;

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
    /// Shard group duration of the retention policy (1.x reduces per shard group first).
    pub shard_dur: i64,
    /// `tags` lists every tag key (listing them costs a walk over the measurement's series, so
    /// it is done only when the query expands `*` or a regex); when false, any name that is not
    /// a field is taken for a tag.
    pub tags_complete: bool,
}

/// The points of one series over the scanned fields.
struct SeriesData {
    tags: Tags,
    /// The FROM source (for subquery rows; 0 otherwise).
    src: usize,
    times: Vec<i64>,
    /// `cols[i][j]`: scanned field i at row j.
    cols: Vec<Vec<Value>>,
}

/// Upper bound on buffered rows of one statement, so that one query cannot take all memory.
const MAX_CELLS: usize = 10_000_000;
const MAX_BUCKETS: usize = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Compiled expressions

#[derive(Debug, Clone)]
enum CExpr {
    Lit(Value),
    /// Scanned field `i`, cast to a type when `::type` asked for one.
    Col(usize, Option<FieldType>),
    Tag(String),
    Time,
    Bin(BinOp, Box<CExpr>, Box<CExpr>),
    Re(BinOp, Box<CExpr>, Regex),
    Math(String, Vec<CExpr>),
    /// The value of aggregate call `k` in the current bucket.
    Agg(usize),
    /// Aux value `k` of the selected point.
    Aux(usize),
}

struct RowCtx<'a> {
    time: i64,
    tags: &'a [(String, String)],
    vals: &'a [Value],
    aggs: &'a [Value],
    aux: &'a [Value],
    /// In a condition a missing tag is '' (1.x); in output it is null.
    cond: bool,
}

impl CExpr {
    fn eval(&self, r: &RowCtx) -> Value {
        match self {
            CExpr::Lit(v) => v.clone(),
            CExpr::Col(i, cast) => {
                let v = r.vals.get(*i).cloned().unwrap_or(Value::Null);
                match cast {
                    Some(t) => eval::cast(v, *t),
                    None => v,
                }
            }
            CExpr::Tag(k) => match r.tags.iter().find(|(tk, _)| tk == k) {
                Some((_, v)) => Value::String(v.clone()),
                None if r.cond => Value::String(String::new()),
                None => Value::Null,
            },
            CExpr::Time => Value::Time(r.time),
            CExpr::Bin(op, a, b) => match op {
                BinOp::And => Value::Boolean(eval::truthy(&a.eval(r)) && eval::truthy(&b.eval(r))),
                BinOp::Or => Value::Boolean(eval::truthy(&a.eval(r)) || eval::truthy(&b.eval(r))),
                op if op.is_comparison() => eval::compare(*op, &a.eval(r), &b.eval(r)),
                op => eval::arith(*op, &a.eval(r), &b.eval(r)),
            },
            CExpr::Re(op, a, re) => eval::regex_match(*op, &a.eval(r), re),
            CExpr::Math(name, args) => {
                let vals: Vec<Value> = args.iter().map(|a| a.eval(r)).collect();
                functions::math::call(name, &vals)
            }
            CExpr::Agg(k) => r.aggs.get(*k).cloned().unwrap_or(Value::Null),
            CExpr::Aux(k) => r.aux.get(*k).cloned().unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolved {
    Field(FieldType),
    Tag,
    Missing,
}

fn resolve(m: &MeasInfo, name: &str, hint: Option<VarHint>, in_cond: bool) -> Resolved {
    let field = m.fields.get(name).copied();
    let is_tag = m.tags.contains(name) || !m.tags_complete;
    match hint {
        Some(VarHint::Tag) => Resolved::Tag,
        Some(VarHint::Field) | Some(VarHint::Type(_)) => field.map(Resolved::Field).unwrap_or(Resolved::Missing),
        None => match field {
            Some(t) => Resolved::Field(t),
            None if is_tag || in_cond => Resolved::Tag,
            None => Resolved::Missing,
        },
    }
}

fn col_index(scan: &mut Vec<String>, name: &str) -> usize {
    if let Some(i) = scan.iter().position(|f| f == name) {
        return i;
    }
    scan.push(name.to_string());
    scan.len() - 1
}

/// Compiles a row expression (no aggregate calls) against one measurement.
fn compile_row(e: &Expr, m: &MeasInfo, scan: &mut Vec<String>, in_cond: bool) -> QResult<CExpr> {
    Ok(match e {
        Expr::Paren(x) => compile_row(x, m, scan, in_cond)?,
        Expr::Var { name, hint } => {
            if name == "time" && hint.is_none() {
                return Ok(CExpr::Time);
            }
            match resolve(m, name, *hint, in_cond) {
                Resolved::Field(t) => {
                    let cast = match hint {
                        Some(VarHint::Type(want)) if *want != t => Some(*want),
                        _ => None,
                    };
                    CExpr::Col(col_index(scan, name), cast)
                }
                Resolved::Tag => CExpr::Tag(name.clone()),
                Resolved::Missing => CExpr::Lit(Value::Null),
            }
        }
        Expr::Float(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Integer(*i)),
        Expr::Unsigned(u) => CExpr::Lit(Value::Unsigned(*u)),
        Expr::Str(s) => CExpr::Lit(Value::String(s.clone())),
        Expr::Bool(b) => CExpr::Lit(Value::Boolean(*b)),
        Expr::Duration(d) => CExpr::Lit(Value::Integer(*d)),
        Expr::Null => CExpr::Lit(Value::Null),
        Expr::Regex(_) => CExpr::Lit(Value::Null),
        Expr::Wildcard { .. } => CExpr::Lit(Value::Null),
        Expr::Binary { op, lhs, rhs } => {
            if matches!(op, BinOp::EqRegex | BinOp::NeqRegex) {
                if let Expr::Regex(re) = rhs.unparen() {
                    return Ok(CExpr::Re(*op, Box::new(compile_row(lhs, m, scan, in_cond)?), re.clone()));
                }
                if let Expr::Regex(re) = lhs.unparen() {
                    return Ok(CExpr::Re(*op, Box::new(compile_row(rhs, m, scan, in_cond)?), re.clone()));
                }
            }
            CExpr::Bin(
                *op,
                Box::new(compile_row(lhs, m, scan, in_cond)?),
                Box::new(compile_row(rhs, m, scan, in_cond)?),
            )
        }
        Expr::Call { name, args } => {
            if functions::math::is_math_function(name) {
                let mut c = Vec::new();
                for a in args {
                    c.push(compile_row(a, m, scan, in_cond)?);
                }
                CExpr::Math(name.clone(), c)
            } else if name == "now" {
                CExpr::Lit(Value::Null)
            } else {
                return Err(format!("undefined function {name}()").into());
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Naming

fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Call { name, .. } => name.clone(),
        Expr::Var { name, .. } => name.clone(),
        Expr::Paren(x) => expr_name(x),
        Expr::Binary { .. } => {
            let mut names = Vec::new();
            bin_names(e, &mut names);
            names.join("_")
        }
        _ => String::new(),
    }
}

fn bin_names(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Var { name, .. } | Expr::Call { name, .. } => out.push(name.clone()),
        Expr::Binary { lhs, rhs, .. } => {
            bin_names(lhs, out);
            bin_names(rhs, out);
        }
        Expr::Paren(x) => bin_names(x, out),
        _ => {}
    }
}

/// Column names as 1.x gives them: aliases as written, other names made unique with `_N`.
fn column_names(time_name: &str, fields: &[Field]) -> Vec<String> {
    let mut cols = vec![time_name.to_string()];
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    let mut names: Vec<Option<String>> = fields.iter().map(|f| f.alias.clone()).collect();
    for n in names.iter().flatten() {
        used.insert(n.clone(), 1);
    }
    for (i, f) in fields.iter().enumerate() {
        if names[i].is_some() {
            continue;
        }
        let base = expr_name(&f.expr);
        let mut name = base.clone();
        if let Some(&count) = used.get(&base) {
            let mut c = count;
            loop {
                let cand = format!("{base}_{c}");
                if !used.contains_key(&cand) {
                    used.insert(base.clone(), c + 1);
                    name = cand;
                    break;
                }
                c += 1;
            }
        }
        *used.entry(name.clone()).or_insert(0) += 1;
        names[i] = Some(name);
    }
    cols.extend(names.into_iter().map(|n| n.unwrap_or_default()));
    cols
}

// ---------------------------------------------------------------------------------------------
// Function classification

const TRANSFORMS: &[&str] = &[
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
    "holt_winters",
    "holt_winters_with_fit",
    "exponential_moving_average",
    "double_exponential_moving_average",
    "triple_exponential_moving_average",
    "triple_exponential_derivative",
    "relative_strength_index",
    "kaufmans_efficiency_ratio",
    "kaufmans_adaptive_moving_average",
    "chande_momentum_oscillator",
];

/// 1.x's argument checks of the technical-analysis functions (period, hold period, warm-up
/// type), with its texts.
fn validate_ta_call(name: &str, kind: functions::ta::TaKind, args: &[Expr]) -> QResult<()> {
    use functions::ta::TaKind;
    let n = args.len();
    let max = if kind.has_warmup() { 4 } else { 3 };
    if n < 2 || n > max {
        return Err(format!("invalid number of arguments for {name}, expected at least 2 but no more than {max}, got {n}").into());
    }
    match int_arg(&args[1]) {
        None => return Err(format!("{name} period must be an integer").into()),
        Some(p) if p < 1 => return Err(format!("{name} period must be greater than or equal to 1").into()),
        Some(_) => {}
    }
    if let Some(a) = args.get(2) {
        match int_arg(a) {
            None => return Err(format!("{name} hold period must be an integer").into()),
            Some(h) if kind == TaKind::Trix && h < 1 && h != -1 => {
                return Err(format!("{name} hold period must be greater than or equal to 1").into())
            }
            Some(h) if h < 0 && h != -1 => return Err(format!("{name} hold period must be greater than or equal to 0").into()),
            Some(_) => {}
        }
    }
    if let Some(a) = args.get(3) {
        let Expr::Str(w) = a.unparen() else { return Err(format!("{name} warmup type must be a string").into()) };
        let ok = match kind {
            TaKind::Cmo => matches!(w.as_str(), "none" | "exponential" | "simple"),
            _ => matches!(w.as_str(), "exponential" | "simple"),
        };
        if !ok {
            return Err(match kind {
                TaKind::Cmo => format!("{name} warmup type must be one of: 'none' 'exponential' 'simple'").into(),
                _ => format!("{name} warmup type must be one of: 'exponential' 'simple'").into(),
            });
        }
    }
    Ok(())
}

fn is_aggregate_name(n: &str) -> bool {
    Aggregate::from_name(n, Some(1), Some(50.0), None).is_some()
}

fn is_transform_name(n: &str) -> bool {
    TRANSFORMS.contains(&n)
}

fn selector_name(n: &str) -> bool {
    matches!(n, "first" | "last" | "max" | "min" | "percentile" | "sample" | "top" | "bottom")
}

/// Walks calls that are aggregates/selectors/transforms (not math).
fn visit_calls<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a str, &'a [Expr])) {
    match e {
        Expr::Call { name, args } => {
            if is_aggregate_name(name) || is_transform_name(name) {
                f(name, args);
            } else {
                for a in args {
                    visit_calls(a, f);
                }
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            visit_calls(lhs, f);
            visit_calls(rhs, f);
        }
        Expr::Paren(x) => visit_calls(x, f),
        _ => {}
    }
}

fn has_agg_call(e: &Expr) -> bool {
    let mut found = false;
    visit_calls(e, &mut |_, _| found = true);
    found
}

/// Var refs outside aggregate calls.
fn free_vars(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Var { name, .. } if name != "time" => out.push(e.clone()),
        Expr::Wildcard { .. } | Expr::Regex(_) => out.push(e.clone()),
        Expr::Call { name, args } if !(is_aggregate_name(name) || is_transform_name(name)) => {
            for a in args {
                free_vars(a, out);
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            free_vars(lhs, out);
            free_vars(rhs, out);
        }
        Expr::Paren(x) => free_vars(x, out),
        _ => {}
    }
}

fn contains_var(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } | Expr::Wildcard { .. } | Expr::Regex(_) => true,
        Expr::Call { args, .. } => args.iter().any(contains_var),
        Expr::Binary { lhs, rhs, .. } => contains_var(lhs) || contains_var(rhs),
        Expr::Paren(x) => contains_var(x),
        _ => false,
    }
}

fn duration_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Duration(d) => Some(*d),
        _ => None,
    }
}

fn int_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i),
        _ => None,
    }
}

fn num_arg(e: &Expr) -> Option<f64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i as f64),
        Expr::Float(f) => Some(*f),
        _ => None,
    }
}

/// An argument as 1.x prints it in errors (`found hostname`, `found 'x'`, `found 1.500`).
fn arg_text(e: &Expr) -> String {
    match e {
        Expr::Float(f) => format!("{f:.3}"),
        Expr::Duration(d) => super::util::influxql_duration(*d),
        other => expr_text(other),
    }
}

/// Math calls with the wrong number of arguments (1.x: `invalid number of arguments for pow,
/// expected 2, got 1`), checked before anything else about a field.
fn validate_math(e: &Expr) -> QResult<()> {
    match e {
        Expr::Call { name, args } => {
            if functions::math::is_math_function(name) {
                let want = functions::math::arity(name);
                if args.len() != want {
                    return Err(format!("invalid number of arguments for {name}, expected {want}, got {}", args.len()).into());
                }
            }
            args.iter().try_for_each(validate_math)
        }
        Expr::Binary { lhs, rhs, .. } => {
            validate_math(lhs)?;
            validate_math(rhs)
        }
        Expr::Paren(x) => validate_math(x),
        _ => Ok(()),
    }
}

/// Checks calls the way 1.x's compiler does, with its texts. `interval`: the statement has a
/// GROUP BY time interval (a transformation of an aggregate needs one).
fn validate_call(name: &str, args: &[Expr], interval: bool) -> QResult<()> {
    if let Some(kind) = functions::ta::TaKind::from_name(name) {
        validate_ta_call(name, kind, args)?;
    }
    let n = args.len();
    let expect = |want: usize| -> QResult<()> {
        if n != want {
            Err(format!("invalid number of arguments for {name}, expected {want}, got {n}").into())
        } else {
            Ok(())
        }
    };
    match name {
        "count" | "distinct" | "mean" | "median" | "mode" | "spread" | "stddev" | "sum" | "first" | "last"
        | "max" | "min" | "cumulative_sum" | "difference" | "non_negative_difference" => expect(1)?,
        "percentile" | "sample" | "moving_average" => expect(2)?,
        "top" | "bottom" => {
            if n < 2 {
                return Err(format!("invalid number of arguments for {name}, expected at least 2, got {n}").into());
            }
            let Some(l) = args.last().and_then(int_arg) else {
                let found = args.last().map(|a| arg_text(a.unparen())).unwrap_or_default();
                return Err(format!("expected integer as last argument in {name}(), found {found}").into());
            };
            if l <= 0 {
                return Err(format!("limit ({l}) in {name} function must be at least 1").into());
            }
        }
        "derivative" | "non_negative_derivative" | "elapsed" | "integral" => {
            if n == 0 || n > 2 {
                return Err(format!("invalid number of arguments for {name}, expected at least 1 but no more than 2, got {n}").into());
            }
            if n == 2 {
                match duration_arg(&args[1]) {
                    Some(d) if d <= 0 => {
                        return Err(format!(
                            "duration argument must be positive, got {}",
                            super::util::influxql_duration(d)
                        ).into())
                    }
                    Some(_) => {}
                    None => return Err(format!("second argument to {name} must be a duration, got *influxql.IntegerLiteral").into()),
                }
            }
        }
        _ => {}
    }
    match name {
        "sample" => {
            if let Some(k) = args.get(1).and_then(int_arg) {
                if k <= 0 {
                    return Err(format!("sample window must be greater than 1, got {k}").into());
                }
            }
        }
        "moving_average" => {
            if let Some(k) = args.get(1).and_then(int_arg) {
                if k <= 1 {
                    return Err(format!("moving_average window must be greater than 1, got {k}").into());
                }
            }
        }
        "percentile" => {
            if args.get(1).and_then(num_arg).is_none() {
                return Err(format!("expected float argument in {name}()").into());
            }
        }
        "holt_winters" | "holt_winters_with_fit" => {
            expect(3)?;
            if !matches!(args.first().map(Expr::unparen), Some(Expr::Call { .. })) {
                return Err(format!("must use aggregate function with {name}").into());
            }
        }
        _ => {}
    }
    // A transformation of an aggregate needs GROUP BY time (checked after its arguments).
    if is_transform_name(name) && !interval && matches!(args.first().map(Expr::unparen), Some(Expr::Call { .. })) {
        return Err(format!("{name} aggregate requires a GROUP BY interval").into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sources

async fn measurement_info(
    backend: &dyn Backend,
    db: &str,
    rp: Option<&str>,
    name: &str,
    need_tags: bool,
) -> QResult<MeasInfo> {
    let fields: BTreeMap<String, FieldType> =
        backend.field_keys(db, rp, name).await?.into_iter().collect();
    let mut tags = BTreeSet::new();
    if need_tags {
        let series = backend
            .series(db, rp, &MeasurementFilter::Names(vec![name.to_string()]), &TagPredicate::True)
            .await
            ?;
        for s in series {
            for (k, _) in s.tags {
                tags.insert(k);
            }
        }
    }
    let rps = match backend.retention_policies(db).await {
        Ok(r) => r,
        // A database the store does not know has no policy to take a shard duration from; the
        // store failing is the query's failure.
        Err(e) if e.origin() == crate::backend::Origin::Downstream => Vec::new(),
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
        shard_dur,
        tags_complete: need_tags,
    })
}

fn pick_db(ctx: &QueryContext, db: &Option<String>) -> QResult<String> {
    match db.as_deref().filter(|d| !d.is_empty()).or(ctx.db.as_deref().filter(|d| !d.is_empty())) {
        Some(d) => Ok(d.to_string()),
        None => Err("database name required".into()),
    }
}

pub(crate) async fn resolve_sources(
    backend: &dyn Backend,
    ctx: &QueryContext,
    sources: &[Source],
    need_tags: bool,
) -> QResult<Vec<MeasInfo>> {
    let mut out: Vec<MeasInfo> = Vec::new();
    let dbs = backend.databases().await?;
    for (src_idx, s) in sources.iter().enumerate() {
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
                let series = Box::pin(select(backend, ctx, inner)).await?;
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
                                shard_dur: 0,
                                tags_complete: true,
                            });
                            out.len() - 1
                        }
                    };
                    let m = &mut out[idx];
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
                            m.fields.insert(c.clone(), FieldType::Float);
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
fn unify_field_types(metas: &mut [MeasInfo]) {
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

/// Reads the rows of one measurement: per series (sorted), time order.
async fn load(
    backend: &dyn Backend,
    m: &MeasInfo,
    fields: &[String],
    pred: &TagPredicate,
    min: i64,
    max: i64,
    budget: &mut usize,
    gov: &Governor,
    opts: LoadOpts<'_>,
) -> QResult<(Vec<SeriesData>, Charge)> {
    let mut out: Vec<SeriesData> = Vec::new();
    // The rows kept are charged to the query while the caller holds them.
    let mut held = gov.hold(0)?;
    let row_cost = point_bytes(fields.len());
    if let Some(sub) = &m.sub {
        for (n, (tags, cols, rows)) in sub.iter().enumerate() {
            if !pred.matches(tags) {
                continue;
            }
            let idx: Vec<Option<usize>> = fields.iter().map(|f| cols.iter().position(|c| c == f)).collect();
            let src = m.sub_src.get(n).copied().unwrap_or(0);
            let mut sd = SeriesData { tags: tags.clone(), src, times: vec![], cols: vec![vec![]; fields.len()] };
            for r in rows {
                let t = match r.first() {
                    Some(Value::Time(t)) | Some(Value::Integer(t)) => *t,
                    _ => 0,
                };
                if t < min || t > max {
                    continue;
                }
                let vals: Vec<Value> =
                    idx.iter().map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null)).collect();
                if !fields.is_empty() && vals.iter().all(eval::is_null) {
                    continue;
                }
                if let Some(f) = opts.filter {
                    if !f(tags, t, &vals) {
                        continue;
                    }
                }
                sd.times.push(t);
                for (c, v) in sd.cols.iter_mut().zip(vals) {
                    c.push(v);
                }
            }
            if !sd.times.is_empty() {
                held.add(sd.times.len() as u64 * row_cost + sd.cols.iter().flatten().map(govern::value_bytes).sum::<u64>())?;
                out.push(sd);
            }
        }
        out.sort_by(|a, b| a.tags.cmp(&b.tags));
        return Ok((out, held));
    }
    let req = ScanRequest {
        db: m.db.clone(),
        rp: m.rp.clone(),
        measurement: m.name.clone(),
        tags: pred.clone(),
        min_time: min,
        max_time: max,
        fields: fields.to_vec(),
    };
    let mut stream = backend.scan(req).await?;
    let width = fields.len().max(1);
    // Rows kept of the current series (for the budget and the cap).
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let same = out.last().map(|l| l.tags == chunk.tags).unwrap_or(false);
        if !same {
            if let Some(prev) = out.last_mut() {
                trim_to_cap(prev, opts.cap);
            }
            out.push(SeriesData { tags: chunk.tags.clone(), src: 0, times: vec![], cols: vec![vec![]; fields.len()] });
        }
        let Some(sd) = out.last_mut() else { continue };
        let rows_before = sd.times.len();
        let mut text_bytes = 0u64;
        let mut columns: Vec<std::vec::IntoIter<Option<crate::model::FieldValue>>> =
            chunk.columns.into_iter().map(|c| c.into_iter()).collect();
        for &t in &chunk.times {
            let vals: Vec<Value> = (0..fields.len())
                .map(|i| columns.get_mut(i).and_then(|c| c.next()).flatten().as_ref().map(eval::from_field).unwrap_or(Value::Null))
                .collect();
            if let Some((cap, false)) = opts.cap {
                if sd.times.len() >= cap {
                    continue;
                }
            }
            if let Some(f) = opts.filter {
                if !f(&sd.tags, t, &vals) {
                    continue;
                }
            }
            if *budget < width {
                return Err(format!("max-select-point limit exceeed: ({}/{})", MAX_CELLS / width + 1, MAX_CELLS / width).into());
            }
            *budget -= width;
            sd.times.push(t);
            text_bytes += vals.iter().map(govern::value_bytes).sum::<u64>();
            for (c, v) in sd.cols.iter_mut().zip(vals) {
                c.push(v);
            }
            if let Some((cap, true)) = opts.cap {
                if sd.times.len() >= cap.saturating_mul(2).max(1024) {
                    *budget += width * (sd.times.len() - cap);
                    held.shrink((sd.times.len() - cap) as u64 * row_cost);
                    trim_to_cap(sd, opts.cap);
                }
            }
        }
        // Checked once per chunk: the store bounds a chunk's size.
        held.add(sd.times.len().saturating_sub(rows_before) as u64 * row_cost + text_bytes)?;
    }
    if let Some(prev) = out.last_mut() {
        trim_to_cap(prev, opts.cap);
    }
    out.retain(|sd| !sd.times.is_empty());
    Ok((out, held))
}

/// Bytes one loaded point of `width` fields holds (its time and values), for the governor.
fn point_bytes(width: usize) -> u64 {
    (8 + width * std::mem::size_of::<Value>()) as u64
}

/// Bytes the rows of an answer's series hold, for the governor.
fn series_bytes(s: &Series) -> u64 {
    s.values.iter().map(|r| govern::row_bytes(r.len()) + r.iter().map(govern::value_bytes).sum::<u64>()).sum()
}

/// Keeps the first (or, for `ORDER BY time DESC`, the last) `cap` rows of a series.
fn trim_to_cap(sd: &mut SeriesData, cap: Option<(usize, bool)>) {
    let Some((cap, last)) = cap else { return };
    let n = sd.times.len();
    if n <= cap {
        return;
    }
    if last {
        let drop = n - cap;
        sd.times.drain(..drop);
        for c in sd.cols.iter_mut() {
            c.drain(..drop.min(c.len()));
        }
    } else {
        sd.times.truncate(cap);
        for c in sd.cols.iter_mut() {
            c.truncate(cap);
        }
    }
}

/// How `load` filters and bounds what it keeps.
#[derive(Default)]
struct LoadOpts<'a> {
    /// Rows failing this are not kept.
    filter: Option<&'a (dyn Fn(&Tags, i64, &[Value]) -> bool + Sync)>,
    /// At most this many rows per series: the first ones, or the last ones when `.1`.
    cap: Option<(usize, bool)>,
}

// ---------------------------------------------------------------------------------------------
// Planning helpers

/// Expands `*` and regexes in the field list against the union of the sources' fields and tags.
fn expand_fields(fields: &[Field], metas: &[MeasInfo], dims: &[Dimension]) -> Vec<Field> {
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
fn group_keys(dims: &[Dimension], m: &MeasInfo) -> Vec<String> {
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
fn tags_id(tags: &Tags) -> Vec<u8> {
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

fn group_of(keys: &[String], tags: &Tags) -> Tags {
    keys.iter()
        .map(|k| {
            let v = tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone()).unwrap_or_default();
            (k.clone(), v)
        })
        .collect()
}

/// Rows of one output group: references into the loaded series, ordered by time (stable: ties
/// keep series order, as 1.x's merge does).
fn merged_rows(data: &[SeriesData], members: &[usize]) -> Vec<(i64, usize, usize)> {
    let mut rows: Vec<(i64, usize, usize)> = Vec::new();
    for &si in members {
        let sd = &data[si];
        rows.extend(sd.times.iter().enumerate().map(|(j, t)| (*t, si, j)));
    }
    rows.sort_by_key(|r| r.0);
    rows
}

fn row_vals(sd: &SeriesData, j: usize) -> Vec<Value> {
    sd.cols.iter().map(|c| c.get(j).cloned().unwrap_or(Value::Null)).collect()
}

fn apply_limits<T>(v: Vec<T>, limit: u64, offset: u64) -> Vec<T> {
    let off = offset as usize;
    let it = v.into_iter().skip(off);
    if limit > 0 {
        it.take(limit as usize).collect()
    } else {
        it.collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Entry

/// Runs one SELECT, answering its series (empty when nothing matched).
pub(crate) async fn select(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<Vec<Series>> {
    if let Some(target) = &sel.into {
        let mut inner = sel.clone();
        inner.into = None;
        let series = Box::pin(select(backend, ctx, &inner)).await?;
        return select_into(backend, ctx, target, series).await;
    }
    // Validation that needs no catalog.
    let mut any_agg = false;
    let mut n_calls = 0usize;
    let mut selectors = 0usize;
    let mut err: Option<QueryError> = None;
    if sel.dimensions.iter().filter(|d| matches!(d, Dimension::Time { .. })).count() > 1 {
        return Err("multiple time dimensions not allowed".into());
    }
    let has_interval = sel.dimensions.iter().any(|d| matches!(d, Dimension::Time { every, .. } if *every > 0));
    for f in &sel.fields {
        check_undefined(&f.expr)?;
        validate_math(&f.expr)?;
        visit_calls(&f.expr, &mut |name, args| {
            any_agg = true;
            n_calls += 1;
            if selector_name(name) {
                selectors += 1;
            }
            if err.is_none() {
                if let Err(e) = validate_call(name, args, has_interval) {
                    err = Some(e);
                }
            }
        });
    }
    if let Some(e) = err {
        return Err(e);
    }
    for f in &sel.fields {
        if !contains_var(&f.expr) {
            return Err("field must contain at least one variable".into());
        }
    }
    if n_calls > 1 {
        for f in &sel.fields {
            let mut bad: Option<String> = None;
            visit_calls(&f.expr, &mut |name, _| {
                if bad.is_none() && matches!(name, "top" | "bottom") {
                    bad = Some(name.to_string());
                }
            });
            if let Some(b) = bad {
                return Err(format!("selector function {b}() cannot be combined with other functions").into());
            }
        }
    }
    // distinct() must be the only call, without other fields (1.x).
    if sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Call { name, .. } if name == "distinct")) {
        let mut fv = Vec::new();
        for f in &sel.fields {
            free_vars(&f.expr, &mut fv);
        }
        if n_calls != 1 || !fv.is_empty() {
            return Err("aggregate function distinct() cannot be combined with other functions or fields".into());
        }
    }
    let has_time_dim = sel.dimensions.iter().any(|d| matches!(d, Dimension::Time { .. }));
    if !any_agg && has_time_dim {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    // time(0s) buckets nothing: 1.x answers as without GROUP BY time.
    let group_by_time = sel.dimensions.iter().find_map(|d| match d {
        Dimension::Time { every, offset } if *every > 0 => Some((*every, *offset)),
        _ => None,
    });
    if any_agg {
        let mut fv = Vec::new();
        for f in &sel.fields {
            free_vars(&f.expr, &mut fv);
        }
        if !(fv.is_empty() || n_calls == 1 && selectors == 1) {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
    }

    let (rest, tr) = match &sel.condition {
        Some(c) => cond::split_time(c, ctx.now)?,
        None => (None, TimeRange::unbounded()),
    };
    if let Some(r) = &rest {
        check_condition(r)?;
    }
    // Tag keys are listed only when `*`, a regex or GROUP BY */regex needs them.
    let need_tags = sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Wildcard { .. } | Expr::Regex(_)))
        || sel.dimensions.iter().any(|d| matches!(d, Dimension::Regex(_) | Dimension::Wildcard));
    let metas = resolve_sources(backend, ctx, &sel.sources, need_tags).await?;
    let fields = expand_fields(&sel.fields, &metas, &sel.dimensions);
    for f in &fields {
        type_check(&f.expr, &metas)?;
    }

    let (time_name, out_fields) = split_time_column(fields);
    if out_fields.is_empty() {
        return Ok(vec![]);
    }
    let columns = column_names(&time_name, &out_fields);

    let mut series_out: Vec<Series> = Vec::new();
    let mut budget = MAX_CELLS;
    let has_tag_dims = sel.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    for m in &metas {
        let keys = group_keys(&sel.dimensions, m);
        let mut scan: Vec<String> = Vec::new();
        let s = if any_agg {
            aggregate_measurement(backend, ctx, sel, m, &out_fields, &columns, rest.as_ref(), tr, &keys, group_by_time, &mut scan, &mut budget).await?
        } else {
            raw_measurement(backend, &ctx.governor, sel, m, &out_fields, &columns, rest.as_ref(), tr, &keys, &mut scan, &mut budget).await?
        };
        for mut ser in s {
            if !has_tag_dims {
                ser.tags.clear();
            }
            series_out.push(ser);
        }
    }
    // SLIMIT/SOFFSET pick, per measurement, series in tag-set ID order (1.x applies them per
    // measurement, before reading).
    if sel.slimit > 0 || sel.soffset > 0 {
        let mut by_m: BTreeMap<String, Vec<Series>> = BTreeMap::new();
        for s in series_out {
            by_m.entry(s.name.clone()).or_default().push(s);
        }
        series_out = Vec::new();
        for (_, mut v) in by_m {
            v.sort_by_cached_key(|s| tags_id(&s.tags));
            series_out.extend(apply_limits(v, sel.slimit, sel.soffset));
        }
    }
    // Series come by measurement, then tags; ORDER BY time DESC reverses both (1.x).
    series_out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.tags.cmp(&b.tags)));
    if sel.order_desc {
        series_out.reverse();
    }
    Ok(series_out)
}

fn check_undefined(e: &Expr) -> QResult<()> {
    match e {
        Expr::Call { name, args } => {
            if !(is_aggregate_name(name) || is_transform_name(name) || functions::math::is_math_function(name)) {
                return Err(format!("undefined function {name}()").into());
            }
            for a in args {
                check_undefined(a)?;
            }
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            check_undefined(lhs)?;
            check_undefined(rhs)
        }
        Expr::Paren(x) => check_undefined(x),
        _ => Ok(()),
    }
}

/// 1.x rejects a condition that is not a boolean expression (`WHERE x`).
fn check_condition(e: &Expr) -> QResult<()> {
    match e.unparen() {
        Expr::Binary { op: BinOp::And | BinOp::Or, lhs, rhs } => {
            check_condition(lhs)?;
            check_condition(rhs)
        }
        Expr::Binary { op, .. } if op.is_comparison() => Ok(()),
        Expr::Bool(_) => Ok(()),
        other => Err(format!("invalid condition expression: {}", expr_text(other)).into()),
    }
}

fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Var { name, .. } => name.clone(),
        Expr::Integer(i) => i.to_string(),
        Expr::Float(f) => f.to_string(),
        Expr::Str(s) => format!("'{s}'"),
        Expr::Binary { op, lhs, rhs } => format!("{} {} {}", expr_text(lhs), op.as_str(), expr_text(rhs)),
        Expr::Paren(x) => format!("({})", expr_text(x)),
        Expr::Call { name, args } => {
            format!("{}({})", name, args.iter().map(expr_text).collect::<Vec<_>>().join(", "))
        }
        _ => String::new(),
    }
}

struct Compiled {
    pred: TagPredicate,
    cond: Option<CExpr>,
}

fn compile_condition(m: &MeasInfo, rest: Option<&Expr>, scan: &mut Vec<String>) -> QResult<Compiled> {
    let is_tag = |k: &str| !m.fields.contains_key(k);
    let (pred, row_cond) = cond::split_tags(rest, &is_tag);
    let cond = match row_cond {
        Some(e) => Some(compile_row(&e, m, scan, true)?),
        None => None,
    };
    Ok(Compiled { pred, cond })
}

/// A raw SELECT compiled for one measurement: what is read, which rows are kept, how rows of
/// equal time are ordered and what a row of the answer is. The buffered path
/// ([`raw_measurement`]) and the streaming one (`super::stream`) share it.
pub(crate) struct RawCompiled {
    exprs: Vec<CExpr>,
    /// Scanned columns `..selected` are the selected fields (a row needs a value in one).
    selected: usize,
    aux_exprs: Vec<CExpr>,
    cond: Compiled,
    /// Scanned fields (the `fields` of a scan), in column order.
    pub scan: Vec<String>,
    /// With LIMIT, a series contributes at most this many rows to its group: the first ones, or
    /// the last ones when `.1` (ORDER BY time DESC).
    pub cap: Option<(usize, bool)>,
    /// Tag keys of the groups (GROUP BY), sorted.
    pub keys: Vec<String>,
}

impl RawCompiled {
    /// The tag predicate every row's series must satisfy (from the condition's tag terms).
    pub fn pred(&self) -> &TagPredicate {
        &self.cond.pred
    }

    /// Whether a scanned row belongs to the answer: one of the selected fields has a value and
    /// the condition holds.
    pub fn keep(&self, tags: &Tags, t: i64, vals: &[Value]) -> bool {
        if vals.iter().take(self.selected).all(eval::is_null) {
            return false;
        }
        match &self.cond.cond {
            Some(ce) => {
                let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
                eval::truthy(&ce.eval(&rc))
            }
            None => true,
        }
    }

    /// The tie-break key of a row (see [`merge_less`]).
    pub fn key(&self, tags: &Tags, t: i64, vals: &[Value]) -> Vec<Value> {
        let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
        self.aux_exprs.iter().map(|e| e.eval(&rc)).collect()
    }

    /// The answer's row: the time, then the selected expressions.
    pub fn row(&self, tags: &Tags, t: i64, vals: &[Value]) -> Vec<Value> {
        let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: false };
        let mut row = Vec::with_capacity(self.exprs.len() + 1);
        row.push(Value::Time(t));
        for e in &self.exprs {
            row.push(e.eval(&rc));
        }
        row
    }

    /// The group (GROUP BY tags) of a series.
    pub fn group(&self, tags: &Tags) -> Tags {
        group_of(&self.keys, tags)
    }
}

/// What a streamed raw SELECT needs of the statement, resolved as [`select`] resolves it (call
/// only for a statement [`select`] has accepted: errors are not worded for the client here).
pub(crate) struct RawPrep {
    /// Source measurements in name order.
    pub metas: Vec<MeasInfo>,
    pub fields: Vec<Field>,
    pub columns: Vec<String>,
    /// The condition without its time terms.
    pub rest: Option<Expr>,
    /// GROUP BY tags: the answer's series carry their group's tags.
    pub has_tag_dims: bool,
}

pub(crate) async fn raw_prepare(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<Option<RawPrep>> {
    let rest = match &sel.condition {
        Some(c) => cond::split_time(c, ctx.now)?.0,
        None => None,
    };
    let need_tags = sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Wildcard { .. } | Expr::Regex(_)))
        || sel.dimensions.iter().any(|d| matches!(d, Dimension::Regex(_) | Dimension::Wildcard));
    let metas = resolve_sources(backend, ctx, &sel.sources, need_tags).await?;
    let fields = expand_fields(&sel.fields, &metas, &sel.dimensions);
    let (time_name, out_fields) = split_time_column(fields);
    if out_fields.is_empty() {
        return Ok(None);
    }
    let columns = column_names(&time_name, &out_fields);
    let has_tag_dims = sel.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    Ok(Some(RawPrep { metas, fields: out_fields, columns, rest, has_tag_dims }))
}

/// [`compile_raw`] for one measurement of a [`RawPrep`].
pub(crate) fn raw_compile(prep: &RawPrep, sel: &Select, m: &MeasInfo) -> QResult<Option<RawCompiled>> {
    compile_raw(sel, m, &prep.fields, prep.rest.as_ref(), &group_keys(&sel.dimensions, m))
}

/// Compiles a raw SELECT for `m`; `None` when it selects no field (no rows).
fn compile_raw(sel: &Select, m: &MeasInfo, fields: &[Field], rest: Option<&Expr>, keys: &[String]) -> QResult<Option<RawCompiled>> {
    let mut scan: Vec<String> = Vec::new();
    let mut exprs = Vec::new();
    for f in fields {
        exprs.push(compile_row(&f.expr, m, &mut scan, false)?);
    }
    // Rows count when one of the selected fields has a value: the fields scanned so far.
    if scan.is_empty() {
        return Ok(None);
    }
    let selected = scan.len();
    // 1.x breaks ties between points of equal time by the string values of the selected
    // fields and tags, in the order of their names (see `merge`).
    let mut aux_names: Vec<(String, Option<VarHint>)> = Vec::new();
    for f in fields {
        collect_vars(&f.expr, &mut aux_names);
    }
    aux_names.sort_by(|a, b| a.0.cmp(&b.0));
    aux_names.dedup_by(|a, b| a.0 == b.0);
    let mut aux_exprs = Vec::new();
    for (n, h) in &aux_names {
        aux_exprs.push(compile_row(&Expr::Var { name: n.clone(), hint: *h }, m, &mut scan, true)?);
    }
    let cond = compile_condition(m, rest, &mut scan)?;
    let cap = if raw_limit(sel) > 0 && m.sub.is_none() {
        Some(((raw_limit(sel).saturating_add(sel.offset)).min(usize::MAX as u64) as usize, sel.order_desc))
    } else {
        None
    };
    Ok(Some(RawCompiled { exprs, selected, aux_exprs, cond, scan, cap, keys: keys.to_vec() }))
}

#[allow(clippy::too_many_arguments)]
async fn raw_measurement(
    backend: &dyn Backend,
    gov: &Governor,
    sel: &Select,
    m: &MeasInfo,
    fields: &[Field],
    columns: &[String],
    rest: Option<&Expr>,
    tr: TimeRange,
    keys: &[String],
    _scan: &mut Vec<String>,
    budget: &mut usize,
) -> QResult<Vec<Series>> {
    let Some(rc) = compile_raw(sel, m, fields, rest, keys)? else { return Ok(vec![]) };
    let keep = |tags: &Tags, t: i64, vals: &[Value]| -> bool { rc.keep(tags, t, vals) };
    let opts = LoadOpts { filter: Some(&keep), cap: rc.cap };
    let (data, _loaded) = load(backend, m, &rc.scan, rc.pred(), tr.min_or(), tr.max_or(), budget, gov, opts).await?;

    // Per series: the rows, with their group and tie-break keys.
    let mut inputs: Vec<(Tags, String, Vec<MergeItem>)> = Vec::new();
    for (si, sd) in data.iter().enumerate() {
        let mut items = Vec::new();
        for (j, &t) in sd.times.iter().enumerate() {
            let vals = row_vals(sd, j);
            items.push(MergeItem { time: t, si, j, key: rc.key(&sd.tags, t, &vals) });
        }
        if sel.order_desc {
            items.reverse();
        }
        if !items.is_empty() {
            inputs.push((rc.group(&sd.tags), crate::model::series_key(&m.name, &sd.tags), items));
        }
    }
    let mut stable = false;
    if m.sub.is_some() {
        // 1.x reads a subquery's answer as one stream, series after series: its rows are not
        // merged by time again (only split into the outer query's groups).
        inputs.sort_by(|a, b| a.0.cmp(&b.0));
        if sel.order_desc {
            inputs.reverse();
        }
        let mut flat: Vec<(Tags, String, MergeItem)> = Vec::new();
        for (g, k, items) in inputs {
            for it in items {
                flat.push((g.clone(), k.clone(), it));
            }
        }
        let desc = sel.order_desc;
        flat.sort_by(|a, b| {
            let o = a.0.cmp(&b.0);
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        inputs = flat.into_iter().map(|(g, k, it)| (g, k, vec![it])).collect();
        stable = true;
    } else {
        inputs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        if sel.order_desc {
            inputs.reverse();
        }
    }
    let desc = sel.order_desc;
    let groups_of: Vec<Tags> = inputs.iter().map(|i| i.0.clone()).collect();
    let merged: Vec<(usize, MergeItem)> = if stable {
        inputs.into_iter().enumerate().flat_map(|(i, inp)| inp.2.into_iter().map(move |it| (i, it))).collect()
    } else {
        merge(inputs.into_iter().map(|i| i.2).collect(), &|x: &(usize, &MergeItem), y: &(usize, &MergeItem)| {
        let (gx, gy) = (&groups_of[x.0], &groups_of[y.0]);
        if gx != gy {
            return if desc { gx > gy } else { gx < gy };
        }
        merge_less(x.1, y.1, desc)
    })
    };

    let mut out: Vec<Series> = Vec::new();
    let mut cur: Option<(Tags, Vec<Vec<Value>>)> = None;
    for (n, (input, it)) in merged.into_iter().enumerate() {
        if n % 4096 == 0 {
            gov.check()?;
        }
        let g = &groups_of[input];
        if cur.as_ref().map(|c| &c.0 != g).unwrap_or(true) {
            if let Some((gt, rows)) = cur.take() {
                push_raw_series(&mut out, sel, m, gt, columns, rows);
            }
            cur = Some((g.clone(), Vec::new()));
        }
        let sd = &data[it.si];
        let row = rc.row(&sd.tags, it.time, &row_vals(sd, it.j));
        if let Some(c) = cur.as_mut() {
            c.1.push(row);
        }
    }
    if let Some((gt, rows)) = cur.take() {
        push_raw_series(&mut out, sel, m, gt, columns, rows);
    }
    // The answer's rows are held until the query ends.
    gov.charge(out.iter().map(series_bytes).sum())?;
    Ok(out)
}

/// 1.6.7 answers a raw `OFFSET n` without `LIMIT` with the one row at the offset.
fn raw_limit(sel: &Select) -> u64 {
    if sel.limit == 0 && sel.offset > 0 {
        1
    } else {
        sel.limit
    }
}

fn push_raw_series(out: &mut Vec<Series>, sel: &Select, m: &MeasInfo, tags: Tags, columns: &[String], rows: Vec<Vec<Value>>) {
    let rows = apply_limits(rows, raw_limit(sel), sel.offset);
    if !rows.is_empty() {
        out.push(Series { name: m.name.clone(), tags, columns: columns.to_vec(), values: rows, partial: false });
    }
}

fn collect_vars(e: &Expr, out: &mut Vec<(String, Option<VarHint>)>) {
    match e {
        Expr::Var { name, hint } => out.push((name.clone(), *hint)),
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_vars(a, out)),
        Expr::Binary { lhs, rhs, .. } => {
            collect_vars(lhs, out);
            collect_vars(rhs, out);
        }
        Expr::Paren(x) => collect_vars(x, out),
        _ => {}
    }
}

struct MergeItem {
    time: i64,
    si: usize,
    j: usize,
    key: Vec<Value>,
}

/// 1.x's ordering of raw points: by time, then by the selected string values in name order
/// (the first non-string value ends the comparison as "not less").
fn merge_less(x: &MergeItem, y: &MergeItem, desc: bool) -> bool {
    point_less(x.time, &x.key, y.time, &y.key, desc)
}

/// [`merge_less`] over a point's time and tie-break key.
pub(crate) fn point_less(xt: i64, xk: &[Value], yt: i64, yk: &[Value], desc: bool) -> bool {
    if xt != yt {
        return if desc { xt > yt } else { xt < yt };
    }
    if !xk.is_empty() && xk.len() == yk.len() {
        for (a, b) in xk.iter().zip(yk.iter()) {
            match (a, b) {
                (Value::String(a), Value::String(b)) => {
                    if a == b {
                        continue;
                    }
                    return if desc { a > b } else { a < b };
                }
                _ => return false,
            }
        }
    }
    false
}

/// Merges time-ordered inputs exactly as Go's `container/heap` driven merge of 1.x does, so that
/// points that compare equal come out in the same order as 1.x gives them.
fn merge(
    inputs: Vec<Vec<MergeItem>>,
    less: &dyn Fn(&(usize, &MergeItem), &(usize, &MergeItem)) -> bool,
) -> Vec<(usize, MergeItem)> {
    let total: usize = inputs.iter().map(|v| v.len()).sum();
    let mut iters: Vec<std::vec::IntoIter<MergeItem>> = inputs.into_iter().map(|v| v.into_iter()).collect();
    let firsts: Vec<(usize, MergeItem)> = iters.iter_mut().enumerate().filter_map(|(i, it)| it.next().map(|x| (i, x))).collect();
    let mut h = GoHeap::new(firsts, less);
    let mut out = Vec::with_capacity(total);
    while let Some((input, item)) = h.pop(less) {
        out.push((input, item));
        if let Some(next) = iters[input].next() {
            h.push(input, next, less);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Aggregates

/// One aggregate call of the query, compiled for a measurement.
struct AggCall {
    agg: Aggregate,
    /// The argument (a field).
    arg: CExpr,
    /// `count(distinct(x))`: distinct first.
    inner_distinct: bool,
    /// `top(x, tag1, .., N)`: tags whose values are first reduced to one point each.
    tag_args: Vec<String>,
    out_type: FieldType,
}

/// A field expression of an aggregate query: math over calls, maybe a transform on top.
struct AggField {
    expr: CExpr,
    transform: Option<(String, Vec<Expr>)>,
    /// A transformation of raw points (not of aggregates): computed over the rows.
    raw: bool,
    /// Arithmetic/math around the transformation; its output value is `Aux(0)`.
    outer: Option<CExpr>,
}

fn compile_agg_expr(
    e: &Expr,
    m: &MeasInfo,
    scan: &mut Vec<String>,
    calls: &mut Vec<AggCall>,
    aux: &mut Vec<CExpr>,
) -> QResult<CExpr> {
    Ok(match e {
        Expr::Paren(x) => compile_agg_expr(x, m, scan, calls, aux)?,
        Expr::Call { name, args } if is_aggregate_name(name) => {
            let (arg_expr, inner_distinct) = match args.first().map(|a| a.unparen()) {
                Some(Expr::Call { name: n2, args: a2 }) if n2 == "distinct" && name == "count" => {
                    (a2.first().cloned().unwrap_or(Expr::Null), true)
                }
                Some(Expr::Call { name: n2, .. }) => {
                    return Err(format!("expected field argument in {name}(), found {n2}()").into());
                }
                Some(a) => (a.clone(), false),
                None => (Expr::Null, false),
            };
            let mut tag_args = Vec::new();
            let mut n = None;
            let mut p = None;
            let mut unit = None;
            match name.as_str() {
                "top" | "bottom" => {
                    n = args.last().and_then(int_arg).map(|v| v.max(0) as usize);
                    for a in &args[1..args.len().saturating_sub(1)] {
                        if let Expr::Var { name, .. } = a.unparen() {
                            tag_args.push(name.clone());
                        }
                    }
                }
                "sample" => n = args.get(1).and_then(int_arg).map(|v| v.max(0) as usize),
                "percentile" => p = args.get(1).and_then(num_arg),
                "integral" => unit = args.get(1).and_then(duration_arg),
                _ => {}
            }
            let agg = Aggregate::from_name(name, n, p, unit).ok_or_else(|| format!("undefined function {name}()"))?;
            // Aggregates read fields only: a tag argument gives no points (1.x).
            let arg = match compile_row(&arg_expr, m, scan, false)? {
                CExpr::Tag(_) => CExpr::Lit(Value::Null),
                c => c,
            };
            let in_type = match &arg {
                CExpr::Col(i, cast) => cast.or_else(|| m.fields.get(&scan[*i]).copied()).unwrap_or(FieldType::Float),
                _ => FieldType::Float,
            };
            let agg_in = if inner_distinct { Aggregate::Count } else { agg.clone() };
            let out_type = agg_in.output_type(in_type);
            calls.push(AggCall { agg, arg, inner_distinct, tag_args, out_type });
            CExpr::Agg(calls.len() - 1)
        }
        Expr::Call { name, args } if functions::math::is_math_function(name) => {
            let mut c = Vec::new();
            for a in args {
                c.push(compile_agg_expr(a, m, scan, calls, aux)?);
            }
            CExpr::Math(name.clone(), c)
        }
        Expr::Binary { op, lhs, rhs } => CExpr::Bin(
            *op,
            Box::new(compile_agg_expr(lhs, m, scan, calls, aux)?),
            Box::new(compile_agg_expr(rhs, m, scan, calls, aux)?),
        ),
        Expr::Var { .. } => {
            let c = compile_row(e, m, scan, false)?;
            aux.push(c);
            CExpr::Aux(aux.len() - 1)
        }
        other => compile_row(other, m, scan, false)?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn aggregate_measurement(
    backend: &dyn Backend,
    ctx: &QueryContext,
    sel: &Select,
    m: &MeasInfo,
    fields: &[Field],
    columns: &[String],
    rest: Option<&Expr>,
    tr: TimeRange,
    keys: &[String],
    group_by_time: Option<(i64, i64)>,
    scan: &mut Vec<String>,
    budget: &mut usize,
) -> QResult<Vec<Series>> {
    let mut calls: Vec<AggCall> = Vec::new();
    let mut aux: Vec<CExpr> = Vec::new();
    let mut afields: Vec<AggField> = Vec::new();
    for f in fields {
        // A transformation may sit inside arithmetic or math (`non_negative_derivative(mean(x),
        // 1s) * 8`): the outer expression is applied to its output points.
        let mut outer_expr = None;
        let (inner, transform) = match f.expr.unparen() {
            Expr::Call { name, args } if is_transform_name(name) => {
                (args.first().cloned().unwrap_or(Expr::Null), Some((name.clone(), args.clone())))
            }
            e => match take_transform(e) {
                Some((outer, name, args)) => {
                    outer_expr = Some(compile_outer(&outer)?);
                    (args.first().cloned().unwrap_or(Expr::Null), Some((name, args)))
                }
                None => (e.clone(), None),
            },
        };
        let raw = transform.is_some() && !has_agg_call(&inner);
        let expr = if raw {
            // A transformation of raw points: the points are the field's values.
            let c = compile_row(&inner, m, scan, false)?;
            aux.push(c);
            CExpr::Aux(aux.len() - 1)
        } else {
            compile_agg_expr(&inner, m, scan, &mut calls, &mut aux)?
        };
        afields.push(AggField { expr, transform, raw, outer: outer_expr });
    }
    let raw_transform = calls.is_empty();
    if raw_transform && group_by_time.is_some() {
        return Err(format!(
            "aggregate function required inside the call to {}",
            afields.iter().find_map(|f| f.transform.as_ref().map(|t| t.0.clone())).unwrap_or_default()
        ).into());
    }
    if scan.is_empty() {
        return Ok(vec![]);
    }
    let n_select_fields = scan.len();
    // Transformations of raw points see them in 1.x's merge order (see `merge`).
    let mut key_exprs: Vec<CExpr> = Vec::new();
    if raw_transform {
        let mut names: Vec<(String, Option<VarHint>)> = Vec::new();
        for f in fields {
            collect_vars(&f.expr, &mut names);
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names.dedup_by(|a, b| a.0 == b.0);
        for (n, h) in &names {
            key_exprs.push(compile_row(&Expr::Var { name: n.clone(), hint: *h }, m, scan, true)?);
        }
    }
    let c = compile_condition(m, rest, scan)?;
    // derivative/difference/elapsed of buckets need the bucket before the first one (1.x reads
    // one interval more).
    let mut tr = tr;
    if let Some((every, _)) = group_by_time {
        let extends = afields.iter().any(|f| {
            matches!(
                f.transform.as_ref().map(|t| t.0.as_str()),
                Some("derivative" | "non_negative_derivative" | "difference" | "non_negative_difference" | "elapsed")
            ) || f.transform.as_ref().is_some_and(|t| {
                // moving_average and the technical-analysis functions too; their outputs in that
                // interval are kept (1.6.7).
                t.0 == "moving_average" || functions::ta::TaKind::from_name(&t.0).is_some()
            })
        });
        // Under ORDER BY time DESC 1.x reads the interval after the range instead.
        if extends && !sel.order_desc {
            if let Some(lo) = tr.min {
                tr.min = Some(lo.saturating_sub(every));
            }
        } else if extends {
            tr.max = Some(tr.max.unwrap_or(ctx.now).saturating_add(every));
        }
    }
    let min = tr.min_or();
    let max = match (group_by_time, tr.max) {
        (Some(_), None) => ctx.now,
        _ => tr.max_or(),
    };
    // With LIMIT (ascending, no transformation) only the first LIMIT + OFFSET buckets are needed.
    let bucket_cap = if sel.limit > 0 && !sel.order_desc && afields.iter().all(|f| f.transform.is_none()) {
        Some(sel.limit.saturating_add(sel.offset).min(MAX_BUCKETS as u64) as usize)
    } else {
        None
    };
    if let (Some((every, _)), Some(lo), None) = (group_by_time, tr.min, bucket_cap) {
        // Filling every bucket of a huge range would take all memory; 1.x's
        // max-select-buckets error instead.
        let n = (max as i128 - lo as i128) / every as i128 + 1;
        if n > MAX_BUCKETS as i128 && !matches!(sel.fill, Fill::None) {
            return Err(format!("max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})").into());
        }
    }
    let keep = |tags: &Tags, t: i64, vals: &[Value]| -> bool {
        if vals[..n_select_fields].iter().all(eval::is_null) {
            return false;
        }
        match &c.cond {
            Some(ce) => {
                let rc = RowCtx { time: t, tags, vals, aggs: &[], aux: &[], cond: true };
                eval::truthy(&ce.eval(&rc))
            }
            None => true,
        }
    };
    let tz = match &sel.tz {
        Some(name) => Some(name.parse::<chrono_tz::Tz>().map_err(|_| format!("unable to find time zone {name}"))?),
        None => None,
    };
    let window = group_by_time.map(|(every, offset)| Window::new(every, offset, tz));
    let pushed = if c.cond.is_none() && aux.is_empty() {
        pushdown(backend, m, &calls, scan, &c.pred, min, max, window.as_ref()).await?
    } else {
        None
    };
    let (data, _loaded) = if pushed.is_some() {
        (Vec::new(), ctx.governor.hold(0)?)
    } else {
        let opts = LoadOpts { filter: Some(&keep), cap: None };
        load(backend, m, scan, &c.pred, min, max, budget, &ctx.governor, opts).await?
    };
    let window_start_default = tr.min.unwrap_or(MIN_TIME);
    let single_selector = calls.len() == 1 && calls[0].agg.is_selector() && afields.len() == 1 || {
        calls.len() == 1 && calls[0].agg.is_selector() && !aux.is_empty()
    };

    // Every series of the measurement the tag condition keeps, by group: 1.x splits a shard's
    // series into parallel groups by their number, series without points included (we count
    // the catalog's series: a series living only in other shard groups counts too).
    let mut catalog_keys: BTreeMap<Tags, Vec<String>> = BTreeMap::new();
    if m.sub.is_none() && m.shard_dur > 0 {
        let names = MeasurementFilter::Names(vec![m.name.clone()]);
        let list = match backend.series(&m.db, m.rp.as_deref(), &names, &c.pred).await {
            Ok(l) => l,
            Err(e) if e.origin() == crate::backend::Origin::Downstream => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for si in list {
            catalog_keys.entry(group_of(keys, &si.tags)).or_default().push(crate::model::series_key(&m.name, &si.tags));
        }
    }
    let mut groups: BTreeMap<Tags, Vec<usize>> = BTreeMap::new();
    for (i, sd) in data.iter().enumerate() {
        groups.entry(group_of(keys, &sd.tags)).or_default().push(i);
    }
    // Pushed-down partials by call, then by group.
    let mut pushed_groups: Vec<BTreeMap<Tags, Vec<&crate::backend::AggregateSeries>>> = Vec::new();
    if let Some(p) = &pushed {
        for per_call in p {
            let mut by_group: BTreeMap<Tags, Vec<&crate::backend::AggregateSeries>> = BTreeMap::new();
            for ser in per_call {
                let g = group_of(keys, &ser.tags);
                groups.entry(g.clone()).or_default();
                by_group.entry(g).or_default().push(ser);
            }
            pushed_groups.push(by_group);
        }
    }
    let fill = match &sel.fill {
        Fill::Null => functions::Fill::Null,
        Fill::None => functions::Fill::None,
        Fill::Previous => functions::Fill::Previous,
        Fill::Linear => functions::Fill::Linear,
        Fill::Value(FillValue::Integer(i)) => functions::Fill::Number(Value::Integer(*i)),
        Fill::Value(FillValue::Float(f)) => functions::Fill::Number(Value::Float(*f)),
        Fill::Value(FillValue::Unsigned(u)) => functions::Fill::Number(Value::Unsigned(*u)),
        Fill::Value(_) => functions::Fill::Null,
    };

    let mut out = Vec::new();
    let gov = &ctx.governor;
    for (gtags, members) in groups {
        // The group's rows, filtered by the condition, with the selected-field presence rule;
        // what the group builds is charged while it is built (`group_mem`).
        gov.check()?;
        let mut rows: Vec<(i64, usize, Vec<Value>)> = Vec::new();
        for (t, si, j) in merged_rows(&data, &members) {
            let vals = row_vals(&data[si], j);
            rows.push((t, si, vals));
        }
        let mut group_mem = gov.hold(rows.len() as u64 * (govern::row_bytes(scan.len()) + 16))?;
        let aux_of = |t: i64, si: usize, vals: &[Value]| -> Vec<Value> {
            let rc = RowCtx { time: t, tags: &data[si].tags, vals, aggs: &[], aux: &[], cond: false };
            aux.iter().map(|a| a.eval(&rc)).collect()
        };

        let mut table: Vec<(i64, Vec<Value>)> = Vec::new();
        if raw_transform {
            // Transformations straight over the points, in 1.x's merge order.
            let mut inputs: Vec<(String, Vec<MergeItem>)> = Vec::new();
            for &si in &members {
                let sd = &data[si];
                let mut items = Vec::with_capacity(sd.times.len());
                for (j, &t) in sd.times.iter().enumerate() {
                    let vals = row_vals(sd, j);
                    let rc = RowCtx { time: t, tags: &sd.tags, vals: &vals, aggs: &[], aux: &[], cond: true };
                    items.push(MergeItem { time: t, si, j, key: key_exprs.iter().map(|e| e.eval(&rc)).collect() });
                }
                if sel.order_desc {
                    items.reverse();
                }
                inputs.push((crate::model::series_key(&m.name, &sd.tags), items));
            }
            inputs.sort_by(|a, b| a.0.cmp(&b.0));
            if sel.order_desc {
                inputs.reverse();
            }
            let desc = sel.order_desc;
            let ordered = if m.sub.is_some() {
                let mut flat: Vec<(usize, MergeItem)> =
                    inputs.into_iter().enumerate().flat_map(|(i, inp)| inp.1.into_iter().map(move |it| (i, it))).collect();
                // Ascending, series order kept for equal times.
                flat.sort_by(|a, b| a.1.time.cmp(&b.1.time).then_with(|| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }));
                flat
            } else {
                merge(inputs.into_iter().map(|i| i.1).collect(), &|x, y| merge_less(x.1, y.1, desc))
            };
            for (_, it) in ordered {
                let vals = row_vals(&data[it.si], it.j);
                table.push((it.time, aux_of(it.time, it.si, &vals)));
            }
            // 1.x runs transformations over the stream in the query's order (newest first
            // under ORDER BY time DESC); the answer is put back in time order below.
            let stream_desc = desc && m.sub.is_none();
            let mut cols_out: Vec<Vec<Sample>> = Vec::new();
            for f in &afields {
                let samples: Vec<Sample> = table
                    .iter()
                    .map(|(t, a)| {
                        let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs: &[], aux: a, cond: false };
                        Sample::new(*t, f.expr.eval(&rc))
                    })
                    .filter(|s| !eval::is_null(&s.value))
                    .collect();
                let mut res = match &f.transform {
                    Some((name, args)) => apply_transform(name, args, &samples, None, !stream_desc, gov)?,
                    None => samples,
                };
                if stream_desc {
                    res.reverse();
                }
                apply_outer(f.outer.as_ref(), &mut res);
                cols_out.push(res);
            }
            let rows_out = join_columns(&cols_out);
            if let Some(s) = finish_series(sel, m, gtags, columns, rows_out) {
                gov.charge(series_bytes(&s))?;
                out.push(s);
            }
            continue;
        }

        // Series-key rank of each member series (1.x reduces series in that order).
        let mut by_key: Vec<(String, usize)> =
            members.iter().map(|&si| (crate::model::series_key(&m.name, &data[si].tags), si)).collect();
        // series without points here still count (see `catalog_keys`): they get no index
        let known: std::collections::HashSet<String> = by_key.iter().map(|(k, _)| k.clone()).collect();
        for k in catalog_keys.get(&gtags).map(|v| v.as_slice()).unwrap_or(&[]) {
            if !known.contains(k) {
                by_key.push((k.clone(), usize::MAX));
            }
        }
        by_key.sort();
        let mut rank_by_si: BTreeMap<usize, usize> = BTreeMap::new();
        for (r, (_, si)) in by_key.iter().enumerate() {
            rank_by_si.insert(*si, r);
        }
        let rank_of = |si: usize| rank_by_si.get(&si).copied().unwrap_or(0);
        let nranks = by_key.len();

        // Per call: samples, windowed, reduced, filled.
        let mut per_call: Vec<Vec<Sample>> = Vec::new();
        for (ci, call) in calls.iter().enumerate() {
            if pushed.is_some() {
                let members: &[&crate::backend::AggregateSeries] =
                    pushed_groups.get(ci).and_then(|g| g.get(&gtags)).map(|v| v.as_slice()).unwrap_or(&[]);
                let mut reduced =
                    reduce_pushed(call, members, m, window.as_ref(), window_start_default, single_selector, catalog_keys.get(&gtags), ctx.settings.float_merge_parallelism)?;
                if let Some(w) = &window {
                    if call.agg.is_filled() && !matches!(fill, functions::Fill::None) {
                        let start = tr.min.map(|t| w.start(t));
                        let end = w.start(max);
                        let is_count = matches!(call.agg, Aggregate::Count);
                        if bucket_cap.is_none() {
                            check_buckets(&reduced, start, end, w.every)?;
                        }
                        let cap = bucket_cap.unwrap_or(MAX_BUCKETS);
                        group_mem.add(fill_bytes(&reduced, start, end, w.every, cap))?;
                        reduced = functions::fill(&reduced, w, start, end, &fill, call.out_type, is_count, cap);
                    }
                }
                per_call.push(reduced);
                continue;
            }
            let mut samples: Vec<Sample> = Vec::new();
            let mut ranks: Vec<usize> = Vec::new();
            let mut srcs: Vec<usize> = Vec::new();
            for (t, si, vals) in &rows {
                let rc = RowCtx { time: *t, tags: &data[*si].tags, vals, aggs: &[], aux: &[], cond: false };
                let v = call.arg.eval(&rc);
                if eval::is_null(&v) {
                    continue;
                }
                let mut a = aux_of(*t, *si, vals);
                for tk in &call.tag_args {
                    let tv = data[*si].tags.iter().find(|(k, _)| k == tk).map(|(_, v)| v.clone()).unwrap_or_default();
                    a.push(Value::String(tv));
                }
                samples.push(Sample { time: *t, value: v, aux: a });
                ranks.push(rank_of(*si));
                srcs.push(data[*si].src);
            }
            let layered = functions::aggregate::is_pushed_down(&call.agg)
                && !call.inner_distinct
                && call.tag_args.is_empty()
                && m.sub.is_none()
                && m.shard_dur > 0;
            let mut reduced: Vec<Sample> = Vec::new();
            if let (Aggregate::Integral { unit }, Some(w)) = (&call.agg, &window) {
                reduced = functions::integral(&samples, *unit, Some(w)).map_err(QueryError::from)?;
            } else if layered {
                // Per shard group, per series (key order), per window: the series' points
                // reduced (1.x's per-series call iterators), then combined in 1.x's merge order.
                let mut by_shard: BTreeMap<i64, Vec<Vec<(i64, Vec<Sample>)>>> = BTreeMap::new();
                for (k, smp) in samples.iter().enumerate() {
                    let ws = match &window {
                        Some(w) => w.start(smp.time),
                        None => window_start_default,
                    };
                    let sg = functions::aggregate::shard_group_start(smp.time, m.shard_dur);
                    let e = by_shard.entry(sg).or_insert_with(|| vec![Vec::new(); nranks]);
                    if let Some(list) = ranks.get(k).and_then(|r| e.get_mut(*r)) {
                        match list.last_mut() {
                            Some((w, pts)) if *w == ws => pts.push(smp.clone()),
                            _ => list.push((ws, vec![smp.clone()])),
                        }
                    }
                }
                let mut parts: BTreeMap<i64, Vec<Vec<(i64, Sample, u64)>>> = BTreeMap::new();
                for (sg, per_series) in by_shard {
                    let mut ps = Vec::with_capacity(per_series.len());
                    for windows in per_series {
                        let mut v = Vec::with_capacity(windows.len());
                        for (ws, pts) in windows {
                            gov.check()?;
                            let n = pts.iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
                            if let Some(s) = reduce_call(call, &pts, ws)?.into_iter().next() {
                                v.push((ws, s, n));
                            }
                        }
                        ps.push(v);
                    }
                    parts.insert(sg, ps);
                }
                reduced = combine_layered(&call.agg, parts, window.is_some(), single_selector, ctx.settings.float_merge_parallelism)?;
            } else if m.sub.is_some()
                && functions::aggregate::is_pushed_down(&call.agg)
                && !call.inner_distinct
                && call.tag_args.is_empty()
                && srcs.iter().any(|&x| Some(&x) != srcs.first())
            {
                // Several subquery sources: 1.x reduces each source on its own (a call iterator
                // per source), then combines the partials per window in its merge order over
                // the sources (e.g. a mean weighted by each source's count).
                let window_of = |t: i64| window.as_ref().map(|w| w.start(t)).unwrap_or(window_start_default);
                let nsrc = srcs.iter().max().map_or(0, |x| x + 1);
                let mut per_src: Vec<Vec<(i64, Sample, u64)>> = vec![Vec::new(); nsrc];
                for (src, parts) in per_src.iter_mut().enumerate() {
                    let pts: Vec<Sample> =
                        samples.iter().zip(&srcs).filter(|(_, &x)| x == src).map(|(p, _)| p.clone()).collect();
                    let mut i = 0;
                    while i < pts.len() {
                        let ws = window_of(pts[i].time);
                        let mut j = i;
                        while j < pts.len() && window_of(pts[j].time) == ws {
                            j += 1;
                        }
                        let n = pts[i..j].iter().filter(|p| !eval::is_null(&p.value)).count() as u64;
                        if let Some(r) = reduce_call(call, &pts[i..j], ws)?.into_iter().next() {
                            parts.push((ws, r, n));
                        }
                        i = j;
                    }
                }
                let keys: Vec<Vec<i64>> = per_src.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
                let order: Vec<&(i64, Sample, u64)> = functions::aggregate::go_merge_order(&keys)
                    .into_iter()
                    .filter_map(|(i, j)| per_src.get(i)?.get(j))
                    .collect();
                let mut k = 0;
                while k < order.len() {
                    let ws = order[k].0;
                    let mut parts: Vec<(Sample, u64)> = Vec::new();
                    while k < order.len() && order[k].0 == ws {
                        parts.push((order[k].1.clone(), order[k].2));
                        k += 1;
                    }
                    if let Some((mut s, _)) = combine_parts(&call.agg, &parts, ws)? {
                        s.time = functions::output_time(&call.agg, s.time, ws, single_selector, window.is_some());
                        reduced.push(s);
                    }
                }
            } else {
                if matches!(call.agg, Aggregate::Percentile(_) | Aggregate::Mode) && m.sub.is_none() && m.shard_dur > 0 && members.len() > 1 {
                    // percentile()/mode() read 1.x's sorted merge of the series; its order among
                    // equal times decides what their unstable sort by value leaves among ties.
                    let perm = functions::aggregate::go_sorted_merge_permutation(&samples, &ranks, m.shard_dur);
                    samples = perm.into_iter().filter_map(|k| samples.get(k).cloned()).collect();
                }
                let mut i = 0;
                while i < samples.len() {
                    let ws = match &window {
                        Some(w) => w.start(samples[i].time),
                        None => window_start_default,
                    };
                    let mut j = i;
                    while j < samples.len() && window.as_ref().map(|w| w.start(samples[j].time) == ws).unwrap_or(true) {
                        j += 1;
                    }
                    let part = &samples[i..j];
                    gov.check()?;
                    let res = reduce_call(call, part, ws)?;
                    for mut s in res {
                        s.time = functions::output_time(&call.agg, s.time, ws, single_selector, window.is_some());
                        reduced.push(s);
                    }
                    i = j;
                }
            }
            if let Some(w) = &window {
                if call.agg.is_filled() && !matches!(fill, functions::Fill::None) {
                    let start = tr.min.map(|t| w.start(t));
                    let end = w.start(max);
                    let is_count = matches!(call.agg, Aggregate::Count);
                    if bucket_cap.is_none() {
                        check_buckets(&reduced, start, end, w.every)?;
                    }
                    let cap = bucket_cap.unwrap_or(MAX_BUCKETS);
                    group_mem.add(fill_bytes(&reduced, start, end, w.every, cap))?;
                    reduced = functions::fill(&reduced, w, start, end, &fill, call.out_type, is_count, cap);
                }
            }
            per_call.push(reduced);
        }

        // Join the calls' outputs into rows.
        let multi = calls.len() == 1
            && matches!(calls[0].agg, Aggregate::Top(_) | Aggregate::Bottom(_) | Aggregate::Distinct | Aggregate::Sample(_));
        let mut joined: Vec<(i64, Vec<Value>, Vec<Value>)> = Vec::new();
        if multi || calls.len() == 1 {
            for s in &per_call[0] {
                joined.push((s.time, vec![s.value.clone()], s.aux.clone()));
            }
        } else {
            let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
            for (k, samples) in per_call.iter().enumerate() {
                for s in samples {
                    let e = by_time.entry(s.time).or_insert_with(|| vec![Value::Null; calls.len()]);
                    e[k] = s.value.clone();
                }
            }
            for (t, v) in by_time {
                joined.push((t, v, vec![]));
            }
        }
        let mut cols_out: Vec<Vec<Sample>> = Vec::new();
        for f in &afields {
            let mut samples: Vec<Sample> = Vec::new();
            if f.raw {
                // e.g. `derivative(x), mean(x)`: 1.x answers both, each row with one of them.
                for (t, si, vals) in &rows {
                    let a = aux_of(*t, *si, vals);
                    let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs: &[], aux: &a, cond: false };
                    samples.push(Sample::new(*t, f.expr.eval(&rc)));
                }
            } else {
                for (t, aggs, auxv) in &joined {
                    let rc = RowCtx { time: *t, tags: &[], vals: &[], aggs, aux: auxv, cond: false };
                    samples.push(Sample::new(*t, f.expr.eval(&rc)));
                }
            }
            if let Some((name, args)) = &f.transform {
                let mut nonnull: Vec<Sample> = samples.into_iter().filter(|s| !eval::is_null(&s.value)).collect();
                // 1.x walks the buckets in the query's order (newest first under DESC).
                if sel.order_desc {
                    nonnull.reverse();
                }
                samples = apply_transform(name, args, &nonnull, window.as_ref(), !sel.order_desc, gov)?;
                if sel.order_desc {
                    samples.reverse();
                }
                apply_outer(f.outer.as_ref(), &mut samples);
            }
            cols_out.push(samples);
        }
        let mut rows_out = join_columns(&cols_out);
        if afields.iter().all(|f| f.transform.is_none()) {
            // Without fill, rows where every value is null (buckets nobody had) are dropped by
            // construction; keep filled ones.
            rows_out.retain(|r| r.len() > 1);
        }
        if let Some(s) = finish_series(sel, m, gtags, columns, rows_out) {
            gov.charge(series_bytes(&s))?;
            out.push(s);
        }
    }
    Ok(out)
}

fn reduce_call(call: &AggCall, part: &[Sample], ws: i64) -> QResult<Vec<Sample>> {
    if call.inner_distinct {
        let d = functions::reduce(&Aggregate::Distinct, part, ws).map_err(QueryError::from)?;
        return functions::reduce(&Aggregate::Count, &d, ws).map_err(QueryError::from);
    }
    if !call.tag_args.is_empty() {
        // top/bottom with tags: the best point per tag combination, then the best N of those.
        let nt = call.tag_args.len();
        let mut by_tag: BTreeMap<Vec<String>, Vec<Sample>> = BTreeMap::new();
        for s in part {
            let key: Vec<String> = s.aux[s.aux.len().saturating_sub(nt)..].iter().map(|v| format!("{v:?}")).collect();
            by_tag.entry(key).or_default().push(s.clone());
        }
        let one = match call.agg {
            Aggregate::Top(_) => Aggregate::Top(1),
            _ => Aggregate::Bottom(1),
        };
        let mut best = Vec::new();
        for (_, v) in by_tag {
            best.extend(functions::reduce(&one, &v, ws).map_err(QueryError::from)?);
        }
        best.sort_by_key(|s| s.time);
        return functions::reduce(&call.agg, &best, ws).map_err(QueryError::from);
    }
    functions::reduce(&call.agg, part, ws).map_err(QueryError::from)
}

fn apply_transform(
    name: &str,
    args: &[Expr],
    samples: &[Sample],
    window: Option<&Window>,
    ascending: bool,
    gov: &Governor,
) -> QResult<Vec<Sample>> {
    use functions::transform::{default_derivative_unit, Transform};
    let every = window.map(|w| w.every);
    let unit = args.get(1).and_then(duration_arg);
    if name == "holt_winters" || name == "holt_winters_with_fit" {
        let h = args.get(1).and_then(int_arg).unwrap_or(0);
        let m = args.get(2).and_then(int_arg).unwrap_or(0);
        let every = window.map(|w| w.every).unwrap_or(0);
        return functions::holt_winters::holt_winters(samples, h, m, every, name == "holt_winters_with_fit", &gov.stopper())
            .map_err(QueryError::from);
    }
    if let Some(kind) = functions::ta::TaKind::from_name(name) {
        let period = args.get(1).and_then(int_arg).unwrap_or(1).max(1) as usize;
        let hold = match args.get(2).and_then(int_arg) {
            Some(h) if h >= 0 => Some(h.min(u32::MAX as i64) as u32),
            _ => None,
        };
        let warmup = match args.get(3).map(Expr::unparen) {
            Some(Expr::Str(w)) => functions::ta::Warmup::parse(w),
            _ => None,
        };
        return functions::ta::Ta::new(kind, period, hold, warmup).apply(samples).map_err(QueryError::from);
    }
    let t = match name {
        "derivative" => Transform::Derivative { unit: unit.unwrap_or(default_derivative_unit(every)), non_negative: false },
        "non_negative_derivative" => {
            Transform::Derivative { unit: unit.unwrap_or(default_derivative_unit(every)), non_negative: true }
        }
        "difference" => Transform::Difference { non_negative: false },
        "non_negative_difference" => Transform::Difference { non_negative: true },
        "elapsed" => Transform::Elapsed { unit: unit.unwrap_or(1) },
        "moving_average" => Transform::MovingAverage(args.get(1).and_then(int_arg).unwrap_or(2).max(1) as usize),
        "cumulative_sum" => Transform::CumulativeSum,
        _ => return Err(format!("undefined function {name}()").into()),
    };
    t.apply_ordered(samples, ascending).map_err(QueryError::from)
}

/// Joins per-field outputs row by row (fields of one query have rows at the same positions,
/// except transformations, which are joined by time).
fn join_columns(cols: &[Vec<Sample>]) -> Vec<Vec<Value>> {
    let n = cols.len();
    let mut out: Vec<Vec<Value>> = Vec::new();
    if cols.iter().all(|c| c.len() == cols[0].len()) {
        for i in 0..cols.first().map(|c| c.len()).unwrap_or(0) {
            let mut row = vec![Value::Time(cols[0][i].time)];
            for c in cols {
                row.push(c[i].value.clone());
            }
            out.push(row);
        }
        // Append aux columns of the single selector (its extra selected fields).
        return out;
    }
    let mut by_time: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (k, c) in cols.iter().enumerate() {
        for s in c {
            let e = by_time.entry(s.time).or_insert_with(|| vec![Value::Null; n]);
            e[k] = s.value.clone();
        }
    }
    for (t, v) in by_time {
        let mut row = vec![Value::Time(t)];
        row.extend(v);
        out.push(row);
    }
    out
}

fn finish_series(sel: &Select, m: &MeasInfo, tags: Tags, columns: &[String], mut rows: Vec<Vec<Value>>) -> Option<Series> {
    if sel.order_desc {
        rows.reverse();
    }
    let rows = apply_limits(rows, sel.limit, sel.offset);
    if rows.is_empty() {
        return None;
    }
    Some(Series { name: m.name.clone(), tags, columns: columns.to_vec(), values: rows, partial: false })
}

/// The type of an expression for 1.x's compile-time check of arithmetic, with the text 1.x
/// prints for it (`usage_user::float`).
fn expr_type(e: &Expr, metas: &[MeasInfo]) -> (Option<&'static str>, String) {
    match e {
        Expr::Var { name, hint } => {
            let ty = match hint {
                Some(VarHint::Type(t)) => Some(t.as_str()),
                Some(VarHint::Tag) => Some("tag"),
                _ => metas.iter().find_map(|m| m.fields.get(name)).map(|t| t.as_str()).or_else(|| {
                    if metas.iter().any(|m| m.tags.contains(name)) {
                        Some("tag")
                    } else {
                        None
                    }
                }),
            };
            match ty {
                Some(t) => (Some(t), format!("{name}::{t}")),
                None => (None, name.clone()),
            }
        }
        Expr::Integer(i) => (Some("integer"), i.to_string()),
        Expr::Float(f) => (Some("float"), format!("{f}")),
        Expr::Str(s) => (Some("string"), format!("'{s}'")),
        Expr::Bool(b) => (Some("boolean"), b.to_string()),
        Expr::Paren(x) => {
            let (t, s) = expr_type(x, metas);
            (t, format!("({s})"))
        }
        Expr::Binary { op, lhs, rhs } => {
            let (lt, ls) = expr_type(lhs, metas);
            let (rt, rs) = expr_type(rhs, metas);
            let t = match (lt, rt) {
                (Some("float"), _) | (_, Some("float")) => Some("float"),
                (Some(a), Some(b)) if a == b => Some(a),
                (a, None) => a,
                (None, b) => b,
                (a, _) => a,
            };
            (t, format!("{ls} {} {rs}", op.as_str()))
        }
        _ => (None, String::new()),
    }
}

fn type_check(e: &Expr, metas: &[MeasInfo]) -> QResult<()> {
    match e {
        Expr::Binary { op, lhs, rhs } if !op.is_comparison() && !matches!(op, BinOp::And | BinOp::Or) => {
            type_check(lhs, metas)?;
            type_check(rhs, metas)?;
            let (lt, _) = expr_type(lhs, metas);
            let (rt, _) = expr_type(rhs, metas);
            let numeric = |t: &str| matches!(t, "float" | "integer" | "unsigned");
            if let (Some(a), Some(b)) = (lt, rt) {
                let ok = a == b && a != "tag" || (numeric(a) && numeric(b));
                if !ok && a != "tag" && b != "tag" {
                    let (_, text) = expr_type(e, metas);
                    return Err(format!("type error: {text}: incompatible types: {a} and {b}").into());
                }
            }
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            type_check(lhs, metas)?;
            type_check(rhs, metas)
        }
        Expr::Paren(x) => type_check(x, metas),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Aggregate pushdown

fn pushdown_fn(agg: &Aggregate) -> Option<crate::backend::AggregateFn> {
    use crate::backend::AggregateFn as F;
    Some(match agg {
        Aggregate::Count => F::Count,
        Aggregate::Sum => F::Sum,
        Aggregate::Mean => F::Mean,
        Aggregate::Min => F::Min,
        Aggregate::Max => F::Max,
        Aggregate::First => F::First,
        Aggregate::Last => F::Last,
        _ => return None,
    })
}

/// The time column's name and the other fields: `time` selected alone is the time column itself
/// (maybe renamed with AS), not a field.
fn split_time_column(fields: Vec<Field>) -> (String, Vec<Field>) {
    let mut time_name = "time".to_string();
    let mut out_fields: Vec<Field> = Vec::new();
    for f in fields {
        if let Expr::Var { name, hint: None } = f.expr.unparen() {
            if name == "time" {
                if let Some(a) = &f.alias {
                    time_name = a.clone();
                }
                continue;
            }
        }
        out_fields.push(f);
    }
    (time_name, out_fields)
}

/// Aggregate pushdown requests of one statement in flight at once.
const PUSHDOWN_CONCURRENCY: usize = 4;

/// Asks the store for per-series partial aggregates when it can give every call of the query
/// exactly: buckets must not straddle 1.x's shard groups (partials are combined per shard group,
/// as 1.x does), so without `GROUP BY time` the store buckets by shard group. `None`: scan.
#[allow(clippy::too_many_arguments)]
async fn pushdown(
    backend: &dyn Backend,
    m: &MeasInfo,
    calls: &[AggCall],
    scan: &[String],
    pred: &TagPredicate,
    min: i64,
    max: i64,
    window: Option<&Window>,
) -> Result<Option<Vec<Vec<crate::backend::AggregateSeries>>>, String> {
    let caps = backend.capabilities();
    if caps.aggregates.is_empty() || m.sub.is_some() || m.shard_dur <= 0 || calls.is_empty() {
        return Ok(None);
    }
    let sd = m.shard_dur;
    let origin = functions::aggregate::shard_group_start(0, sd).rem_euclid(sd);
    let (every, offset) = match window {
        None => (sd, origin),
        Some(w) => {
            if w.tz.is_some() || w.every <= 0 || sd % w.every != 0 || (origin - w.offset).rem_euclid(w.every) != 0 {
                return Ok(None);
            }
            (w.every, w.offset)
        }
    };
    let mut reqs = Vec::new();
    for call in calls {
        let Some(f) = pushdown_fn(&call.agg) else { return Ok(None) };
        if !caps.aggregates.contains(&f) || call.inner_distinct || !call.tag_args.is_empty() {
            return Ok(None);
        }
        let CExpr::Col(i, None) = &call.arg else { return Ok(None) };
        let Some(name) = scan.get(*i) else { return Ok(None) };
        match m.fields.get(name) {
            Some(FieldType::Float) | Some(FieldType::Integer) | Some(FieldType::Unsigned) => {}
            _ => return Ok(None),
        }
        reqs.push(crate::backend::AggregateRequest {
            scan: ScanRequest {
                db: m.db.clone(),
                rp: m.rp.clone(),
                measurement: m.name.clone(),
                tags: pred.clone(),
                min_time: min,
                max_time: max,
                fields: vec![name.clone()],
            },
            func: f,
            every,
            offset,
            // With GROUP BY time a selector shows its bucket's start, not its point's time.
            point_time: window.is_none(),
        });
    }
    // A few calls at once: a remote store answers each after a round trip.
    let answers: Vec<_> = futures::stream::iter(reqs.into_iter().map(|r| backend.aggregate(r)))
        .buffered(PUSHDOWN_CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::new();
    for a in answers {
        match a {
            Ok(v) => out.push(v),
            Err(crate::backend::BackendError::Unsupported(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Some(out))
}

/// 1.x's combination of partial results (see `functions::aggregate::reduce_layers`).
fn combine_parts(agg: &Aggregate, parts: &[(Sample, u64)], ws: i64) -> QResult<Option<(Sample, u64)>> {
    if parts.is_empty() {
        return Ok(None);
    }
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let s = match agg {
        Aggregate::Count => {
            let mut c: i64 = 0;
            for (p, _) in parts {
                if let Value::Integer(i) = p.value {
                    c = c.wrapping_add(i);
                }
            }
            Sample::new(ws, Value::Integer(c))
        }
        Aggregate::Mean => {
            let (mut sum, mut cnt) = (0.0f64, 0u64);
            for (p, n) in parts {
                let v = match p.value {
                    Value::Float(f) => f,
                    Value::Integer(i) => i as f64,
                    Value::Unsigned(u) => u as f64,
                    _ => f64::NAN,
                };
                if *n >= 2 {
                    sum += v * *n as f64;
                    cnt += n;
                } else {
                    sum += v;
                    cnt += 1;
                }
            }
            Sample::new(ws, Value::Float(sum / cnt as f64))
        }
        _ => {
            let samples: Vec<Sample> = parts.iter().map(|p| p.0.clone()).collect();
            match functions::reduce(agg, &samples, ws).map_err(QueryError::from)?.into_iter().next() {
                Some(s) => s,
                None => return Ok(None),
            }
        }
    };
    Ok(Some((s, total)))
}

/// One group's reduced points of a pushed-down call: per window, the series' partials per
/// shard group combined, then across shard groups, as 1.x layers them.
#[allow(clippy::too_many_arguments)]
fn reduce_pushed(
    call: &AggCall,
    series: &[&crate::backend::AggregateSeries],
    m: &MeasInfo,
    window: Option<&Window>,
    window_start_default: i64,
    single_selector: bool,
    catalog: Option<&Vec<String>>,
    procs: usize,
) -> QResult<Vec<Sample>> {
    let empty = crate::backend::AggregateSeries { tags: Vec::new(), rows: Vec::new() };
    let mut members: Vec<(String, &crate::backend::AggregateSeries)> =
        series.iter().map(|s| (crate::model::series_key(&m.name, &s.tags), *s)).collect();
    // series without points here still count when 1.x splits them (see `catalog_keys`)
    let known: std::collections::HashSet<String> = members.iter().map(|(k, _)| k.clone()).collect();
    for k in catalog.map(|v| v.as_slice()).unwrap_or(&[]) {
        if !known.contains(k) {
            members.push((k.clone(), &empty));
        }
    }
    members.sort_by(|a, b| a.0.cmp(&b.0));
    // shard group start → per series (key order) its partials: (window start, sample, count)
    type Part = (i64, Sample, u64);
    let mut by_shard: BTreeMap<i64, Vec<Vec<Part>>> = BTreeMap::new();
    for (k, (_, ser)) in members.iter().enumerate() {
        for row in &ser.rows {
            let ws = match window {
                Some(w) => w.start(row.bucket_start),
                None => window_start_default,
            };
            let sg = functions::aggregate::shard_group_start(row.bucket_start, m.shard_dur);
            let time = if call.agg.is_selector() { row.point_time.unwrap_or(ws) } else { ws };
            let value = eval::from_field(&row.value);
            let e = by_shard.entry(sg).or_insert_with(|| vec![Vec::new(); members.len()]);
            if let Some(list) = e.get_mut(k) {
                list.push((ws, Sample::new(time, value), row.count));
            }
        }
    }
    combine_layered(&call.agg, by_shard, window.is_some(), single_selector, procs)
}

/// 1.x's layering of partial results: `by_shard` holds, per shard group (time order), per
/// series (key order), the series' partials (window start, reduced point, point count) in
/// window order. Per shard they are combined per window in the order 1.x's parallel merge
/// yields them, then the shards' results in the order of the merge across shards, then once
/// more (the statement's merge over its single source).
/// `procs`: the GOMAXPROCS of the 1.x whose answers are reproduced (`query.float_merge_parallelism`):
/// 1.x splits a tag set's series into that many groups (`NewParallelMergeIterator`), which decides
/// the order in which partial results are combined.
fn combine_layered(
    agg: &Aggregate,
    by_shard: BTreeMap<i64, Vec<Vec<(i64, Sample, u64)>>>,
    windowed: bool,
    single_selector: bool,
    procs: usize,
) -> QResult<Vec<Sample>> {
    type Part = (i64, Sample, u64);
    let mut shard_streams: Vec<Vec<Part>> = Vec::new();
    for (_, mut per_series) in by_shard {
        for v in per_series.iter_mut() {
            v.sort_by_key(|p| p.0);
        }
        if !windowed && matches!(agg, Aggregate::Last) {
            // 1.x reads last() without GROUP BY time as a descending sorted merge of the
            // series' points limited to one: the series in reverse key order keyed by their
            // last time; among equal times the Go heap's pick, not the larger value (1.6.7:
            // `SELECT last(usage_user) FROM cpu`). first() (ascending) answers the larger value
            // among equal times in 1.6.7, as the reducer over every series does, so it is not
            // treated here.
            let idx: Vec<usize> = (0..per_series.len()).rev().collect();
            let keys: Vec<Vec<std::cmp::Reverse<i64>>> = idx
                .iter()
                .map(|&i| per_series[i].first().map(|p| vec![std::cmp::Reverse(p.1.time)]).unwrap_or_default())
                .collect();
            let pick = functions::aggregate::go_merge_order(&keys).first().and_then(|&(i, _)| idx.get(i).copied());
            let stream: Vec<Part> = pick.and_then(|i| per_series.get(i)?.first().cloned()).into_iter().collect();
            shard_streams.push(combine_stream(agg, stream.iter())?);
            continue;
        }
        let keys: Vec<Vec<i64>> = per_series.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
        let order = functions::aggregate::go_parallel_merge_order(&keys, procs);
        shard_streams.push(combine_stream(agg, order.iter().filter_map(|&(i, j)| per_series.get(i)?.get(j)))?);
    }
    // Across shard groups: 1.x's merge of the shards' outputs, combined per window; then the
    // statement's merge over sources (one input: a reduction of one partial).
    let keys: Vec<Vec<i64>> = shard_streams.iter().map(|v| v.iter().map(|p| p.0).collect()).collect();
    let order = functions::aggregate::go_merge_order(&keys);
    let top = combine_stream(agg, order.iter().filter_map(|&(i, j)| shard_streams.get(i)?.get(j)))?;
    let mut out = Vec::new();
    for (ws, s, n) in top {
        if let Some((mut s, _)) = combine_parts(agg, &[(s, n)], ws)? {
            s.time = functions::output_time(agg, s.time, ws, single_selector, windowed);
            out.push(s);
        }
    }
    Ok(out)
}

/// Combines a merged stream of partials (window start, sample, count): each run of one window,
/// in stream order (1.x's reduce iterator over a merge iterator).
fn combine_stream<'a>(
    agg: &Aggregate,
    stream: impl Iterator<Item = &'a (i64, Sample, u64)>,
) -> QResult<Vec<(i64, Sample, u64)>> {
    let mut out = Vec::new();
    let mut run: Vec<(Sample, u64)> = Vec::new();
    let mut cur: Option<i64> = None;
    for (ws, s, n) in stream {
        if cur != Some(*ws) {
            if let Some(w) = cur {
                if let Some((s, n)) = combine_parts(agg, &run, w)? {
                    out.push((w, s, n));
                }
            }
            run.clear();
            cur = Some(*ws);
        }
        run.push((s.clone(), *n));
    }
    if let Some(w) = cur {
        if let Some((s, n)) = combine_parts(agg, &run, w)? {
            out.push((w, s, n));
        }
    }
    Ok(out)
}

/// 1.x's max-select-buckets error, before filling more buckets than memory should hold.
/// Bytes the filled buckets of one call in one group will hold, charged before `fill` makes them:
/// every bucket from `start` to `end` (at most `cap`), or those already there.
fn fill_bytes(reduced: &[Sample], start: Option<i64>, end: i64, every: i64, cap: usize) -> u64 {
    let span = start.map(|s| (end as i128 - s as i128) / every.max(1) as i128 + 1).unwrap_or(0);
    let n = (span.clamp(0, cap as i128) as u64).max(reduced.len() as u64);
    n * (std::mem::size_of::<Sample>() as u64 + 16)
}

fn check_buckets(rows: &[Sample], start: Option<i64>, end: i64, every: i64) -> QResult<()> {
    let Some(first) = start.or_else(|| rows.first().map(|r| r.time)) else { return Ok(()) };
    if every <= 0 {
        return Ok(());
    }
    let n = (end as i128 - first as i128) / every as i128 + 1;
    if n > MAX_BUCKETS as i128 {
        return Err(format!("max-select-buckets limit exceeded: ({n}/{MAX_BUCKETS})").into());
    }
    Ok(())
}

/// `SELECT ... INTO`: the answer's rows written as points (GROUP BY tags stay tags, columns
/// become fields), answered as 1.x does with the number of points written.
async fn select_into(
    backend: &dyn Backend,
    ctx: &QueryContext,
    target: &super::ir::Target,
    series: Vec<Series>,
) -> QResult<Vec<Series>> {
    use crate::model::{FieldValue, Point};
    let db = pick_db(ctx, &target.db)?;
    let mut points: Vec<Point> = Vec::new();
    for s in &series {
        let measurement = if target.measurement.is_empty() { s.name.clone() } else { target.measurement.clone() };
        for row in &s.values {
            let time = match row.first() {
                Some(Value::Time(t)) | Some(Value::Integer(t)) => *t,
                _ => 0,
            };
            let mut fields: Vec<(String, FieldValue)> = Vec::new();
            for (c, v) in s.columns.iter().zip(row.iter()).skip(1) {
                let fv = match v {
                    Value::Float(f) => FieldValue::Float(*f),
                    Value::Integer(i) => FieldValue::Integer(*i),
                    Value::Unsigned(u) => FieldValue::Unsigned(*u),
                    Value::String(x) => FieldValue::String(x.clone()),
                    Value::Boolean(b) => FieldValue::Boolean(*b),
                    Value::Time(t) => FieldValue::Integer(*t),
                    Value::Null => continue,
                };
                if !fields.iter().any(|(k, _)| k == c) {
                    fields.push((c.clone(), fv));
                }
            }
            if fields.is_empty() {
                continue;
            }
            let mut tags: Vec<(String, String)> = s.tags.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
            tags.sort();
            points.push(Point { measurement: measurement.clone(), tags, fields, time });
        }
    }
    let n = points.len();
    if n > 0 {
        let rp = target.rp.clone().or_else(|| ctx.rp.clone());
        backend
            .write(crate::backend::WriteBatch { db, rp, points })
            .await
            ?;
    }
    Ok(vec![Series {
        name: "result".into(),
        tags: vec![],
        columns: vec!["time".into(), "written".into()],
        values: vec![vec![Value::Time(0), Value::Integer(n as i64)]],
        partial: false,
    }])
}

/// Finds the one transformation call inside an arithmetic/math expression; returns the
/// expression with the call replaced by a placeholder, the call's name and arguments.
fn take_transform(e: &Expr) -> Option<(Expr, String, Vec<Expr>)> {
    let mut found: Option<(String, Vec<Expr>)> = None;
    fn walk(e: &Expr, found: &mut Option<(String, Vec<Expr>)>) -> Expr {
        match e {
            Expr::Call { name, args } if is_transform_name(name) && found.is_none() => {
                *found = Some((name.clone(), args.clone()));
                Expr::Var { name: TRANSFORM_SLOT.into(), hint: None }
            }
            Expr::Call { name, args } if functions::math::is_math_function(name) => {
                Expr::Call { name: name.clone(), args: args.iter().map(|a| walk(a, found)).collect() }
            }
            Expr::Binary { op, lhs, rhs } => Expr::bin(*op, walk(lhs, found), walk(rhs, found)),
            Expr::Paren(x) => Expr::Paren(Box::new(walk(x, found))),
            other => other.clone(),
        }
    }
    let outer = walk(e, &mut found);
    found.map(|(n, a)| (outer, n, a))
}

const TRANSFORM_SLOT: &str = "\u{0}transform";

/// Compiles the expression around a transformation: literals, arithmetic and math only.
fn compile_outer(e: &Expr) -> QResult<CExpr> {
    Ok(match e {
        Expr::Var { name, .. } if name == TRANSFORM_SLOT => CExpr::Aux(0),
        Expr::Paren(x) => compile_outer(x)?,
        Expr::Float(f) => CExpr::Lit(Value::Float(*f)),
        Expr::Integer(i) => CExpr::Lit(Value::Integer(*i)),
        Expr::Unsigned(u) => CExpr::Lit(Value::Unsigned(*u)),
        Expr::Binary { op, lhs, rhs } => CExpr::Bin(*op, Box::new(compile_outer(lhs)?), Box::new(compile_outer(rhs)?)),
        Expr::Call { name, args } if functions::math::is_math_function(name) => {
            // 1.6.7 does not apply a math function to a transformation's points
            // (`abs(difference(x))` answers the differences as they are).
            if args.iter().any(|a| matches!(a.unparen(), Expr::Var { name, .. } if name == TRANSFORM_SLOT)) {
                return Ok(CExpr::Aux(0));
            }
            CExpr::Math(name.clone(), args.iter().map(compile_outer).collect::<Result<_, _>>()?)
        }
        _ => return Err("mixing aggregate and non-aggregate queries is not supported".into()),
    })
}

fn apply_outer(outer: Option<&CExpr>, samples: &mut [Sample]) {
    let Some(o) = outer else { return };
    for s in samples.iter_mut() {
        let v = std::mem::replace(&mut s.value, Value::Null);
        let aux = [v];
        let rc = RowCtx { time: s.time, tags: &[], vals: &[], aggs: &[], aux: &aux, cond: false };
        s.value = o.eval(&rc);
    }
}
