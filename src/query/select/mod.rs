//! SELECT: sources resolved against the catalog, fields typed, rows read through
//! `Backend::scan`, then raw rows or aggregates per series and time bucket.
//!
//! One file per job: `validate` (1.x's compile-time checks and texts), `resolve` (sources,
//! `*` and regexes, GROUP BY keys), `compile` (expressions against one measurement), `columns`
//! (answer column names), `load` (reading points), `raw` (raw selects and 1.x's merge order),
//! `aggregate` (calls per series/window/shard group, fill, transformations), `partials`
//! (combining partial results in 1.x's order), `pushdown` (asking the store for partials),
//! `into` (SELECT INTO). This file runs a statement through them.

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

mod aggregate;
mod columns;
mod compile;
mod into;
mod load;
mod partials;
mod pushdown;
mod raw;
mod resolve;
mod validate;

use aggregate::*;
use columns::*;
use compile::*;
use into::*;
use load::*;
use partials::*;
use pushdown::*;
use raw::*;
use resolve::*;
use validate::*;

pub(crate) use raw::{point_less, raw_compile, raw_prepare, RawCompiled};
pub(crate) use resolve::MeasInfo;

type Tags = Vec<(String, String)>;

/// Upper bound on buffered rows of one statement, so that one query cannot take all memory.
const MAX_CELLS: usize = 10_000_000;
const MAX_BUCKETS: usize = 1_000_000;

/// Bytes an answer's series holds, for the governor: its rows, and the text the encoder will make
/// of them (see [`govern::text_bytes`]).
fn series_bytes(s: &Series) -> u64 {
    govern::rows_bytes(&s.values) + s.values.iter().map(|r| govern::text_bytes(r)).sum::<u64>()
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

/// Runs one SELECT, answering its series (empty when nothing matched).
pub(crate) async fn select(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<Vec<Series>> {
    if let Some(target) = &sel.into {
        let mut inner = sel.clone();
        inner.into = None;
        let series = Box::pin(select(backend, ctx, &inner)).await?;
        return select_into(backend, ctx, target, series).await;
    }
    let Shape { any_agg, group_by_time } = check_statement(sel)?;
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

