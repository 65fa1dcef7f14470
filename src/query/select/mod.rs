//! SELECT: sources resolved against the catalog, fields typed, rows read through
//! `Backend::scan`, then raw rows or aggregates per series and time bucket.
//!
//! One file per job: `validate` (1.x's checks before reading, in 1.x's order, with its texts),
//! `calls` (where the aggregates, selectors and transformations are; their kinds are
//! `rules::function_kinds`), `resolve` (sources, `*`
//! and regexes, GROUP BY keys), `typecheck` (1.x's validateTypes once `*` is expanded),
//! `compile` (expressions against one measurement), `columns`
//! (answer column names), `load` (reading points), `raw` (raw selects and 1.x's merge order),
//! `aggregate` (calls per series/window/shard group, fill, transformations), `partials`
//! (combining partial results in 1.x's order), `pushdown` (asking the store for partials),
//! `into` (SELECT INTO). This file runs a statement through them.

#![allow(clippy::type_complexity, clippy::too_many_arguments)]

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;

use super::functions::goheap::GoHeap;
use regex::Regex;

use super::cond::{self, TimeRange};
use crate::rules::{function_kinds, limits};
use crate::rules::time_bounds::MIN_TIME;
use super::eval;
use super::functions::{self, Aggregate, Sample, Window};
use super::ir::{BinOp, Dimension, Expr, Field, Fill, FillValue, Select, Source, VarHint};
use super::result::{Series, Value};
use super::error::QResult;
use super::govern::{self, Charge, Governor};
use super::QueryContext;
use crate::backend::{Backend, MeasurementFilter, ScanRequest, TagPredicate};
use crate::model::FieldType;

mod aggregate;
mod calls;
mod columns;
mod compile;
mod into;
mod load;
mod partials;
mod prefilter;
mod pushdown;
mod raw;
mod resolve;
mod typecheck;
mod validate;

use aggregate::*;
use calls::*;
use columns::*;
use compile::*;
use into::*;
use load::*;
use partials::*;
use pushdown::*;
use raw::*;
use resolve::*;
use typecheck::*;

pub(crate) use raw::{point_less, raw_compile, raw_prepare, RawCompiled};
pub(crate) use resolve::MeasInfo;
pub(crate) use validate::normalize;

type Tags = Vec<(String, String)>;

/// Upper bound on buffered rows of one statement, so that one query cannot take all memory.
const MAX_CELLS: usize = 10_000_000;
const MAX_BUCKETS: usize = 1_000_000;

/// Bytes an answer's series holds, for the governor: its rows, and the text the encoder will make
/// of them (see [`govern::text_bytes`]).
fn series_bytes(s: &Series) -> u64 {
    govern::rows_bytes(&s.values) + s.values.iter().map(|r| govern::text_bytes(r)).sum::<u64>()
}

/// Runs one SELECT statement as 1.x does: its checks in 1.x's order (see `validate`), then
/// [`select`].
pub(crate) async fn statement(backend: &dyn Backend, ctx: &QueryContext, s: &crate::influxql::ast::SelectStatement) -> QResult<Vec<Series>> {
    validate::system_sources(s)?;
    let sel = super::lower::select(s);
    normalize(backend, ctx, &sel).await?;
    validate::compile_statement(s, ctx.now)?;
    select(backend, ctx, &sel).await
}

/// The checks of a statement that need no catalog (all but [`normalize`]), for a caller that
/// runs `normalize` itself before [`select`].
pub(crate) fn check(s: &crate::influxql::ast::SelectStatement, now: i64) -> QResult<()> {
    validate::check(s, now)
}

/// Runs one SELECT that passed 1.x's checks, answering its series (empty when nothing matched).
pub(crate) async fn select(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<Vec<Series>> {
    run(backend, ctx, sel, None).await
}

/// [`select`] for a subquery of `outer`. 1.x checks the types of the outermost statement only,
/// and runs a subquery with the outer statement's time order and grouping
/// (`newIteratorOptionsSubstatement` sets `Ascending` and the dimensions): under ORDER BY time
/// DESC its sums add newest first and its LIMIT keeps the newest rows. The outer statement reads
/// its answer as one stream: a raw subquery's rows merged by the outer groups, then time (see
/// [`merged_subquery`]); an aggregate subquery's merged by the outer groups, then window
/// (`window_stream`); `.1` says the answer is in that order (a series per run of
/// rows of one series). Other answers come series after series, in time order.
pub(super) async fn subquery(backend: &dyn Backend, ctx: &QueryContext, sel: &Select, outer: &Select) -> QResult<(Vec<Series>, bool)> {
    let merged = merged_subquery(sel, outer);
    let Shape { any_agg, group_by_time } = shape(sel);
    let windows = !merged && any_agg;
    if merged || (sel.order_desc == outer.order_desc && !windows) {
        return Ok((run(backend, ctx, sel, Some(outer)).await?, merged));
    }
    let mut inner = sel.clone();
    inner.order_desc = outer.order_desc;
    let mut series = run(backend, ctx, &inner, Some(outer)).await?;
    if inner.order_desc {
        series.reverse();
        for s in &mut series {
            s.values.reverse();
        }
    }
    if windows {
        let keys = outer_group_keys(&inner, outer);
        return Ok((window_stream(series, &keys, group_by_time.is_some(), outer.order_desc), true));
    }
    Ok((series, false))
}

/// Whether 1.x's merge of a subquery's rows reaches the outer statement: a raw subquery, no
/// LIMIT/OFFSET/SLIMIT in it (1.x limits its series before that merge), read by a raw outer
/// statement (row by row) or by its aggregates (their calls read the stream as it comes, see
/// `stream_rows`). 1.x creates the subquery's iterators with the outer dimensions and time order
/// (`newIteratorOptionsSubstatement`), grouping by its own and the outer tags, so its rows come
/// merged by the outer groups, then time (newest first under ORDER BY time DESC), then its
/// tie-break keys, not series after series. (An outer transformation of raw points orders the
/// rows itself, `transform::raw_transform_rows`.)
fn merged_subquery(sel: &Select, outer: &Select) -> bool {
    !shape(sel).any_agg
        && (!shape(outer).any_agg || reduces_windows(outer))
        && sel.limit == 0
        && sel.offset == 0
        && sel.slimit == 0
        && sel.soffset == 0
        && sel.into.is_none()
}

async fn run(backend: &dyn Backend, ctx: &QueryContext, sel: &Select, outer: Option<&Select>) -> QResult<Vec<Series>> {
    if let Some(target) = &sel.into {
        let mut inner = sel.clone();
        inner.into = None;
        let series = Box::pin(run(backend, ctx, &inner, outer)).await?;
        return select_into(backend, ctx, target, series).await;
    }
    let Shape { any_agg, group_by_time } = shape(sel);
    let (rest, tr) = match &sel.condition {
        Some(c) => cond::split_time(c, ctx.now)?,
        None => (None, TimeRange::unbounded()),
    };
    let merge_into = outer.filter(|o| merged_subquery(sel, o));
    // Tag keys are listed only when `*`, a regex or GROUP BY */regex needs them.
    let need_tags = sel.fields.iter().any(|f| matches!(f.expr.unparen(), Expr::Wildcard { .. } | Expr::Regex(_)))
        || sel.dimensions.iter().any(|d| matches!(d, Dimension::Regex(_) | Dimension::Wildcard));
    let mut metas = resolve_sources(backend, ctx, sel, need_tags).await?;
    let fields = expand_fields(&sel.fields, &metas, &sel.dimensions);
    if outer.is_none() {
        type_check(backend, &fields, &mut metas).await?;
    }

    let (time_name, out_fields) = split_time_column(fields);
    if out_fields.is_empty() {
        return Ok(vec![]);
    }
    let columns = column_names(&time_name, &out_fields);
    if let Some(o) = merge_into {
        return raw_merged(backend, &ctx.governor, sel, o, &metas, &out_fields, &columns, rest.as_ref(), tr).await;
    }

    let mut series_out: Vec<Series> = Vec::new();
    let mut budget = MAX_CELLS;
    let has_tag_dims = sel.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    for m in &metas {
        let keys = group_keys(&sel.dimensions, m);
        let mut scan: Vec<String> = Vec::new();
        let s = if any_agg {
            aggregate_measurement(backend, ctx, sel, m, &out_fields, &columns, rest.as_ref(), tr, &keys, group_by_time, &mut scan, &mut budget).await?
        } else {
            raw_measurement(backend, &ctx.governor, sel, m, &out_fields, &columns, rest.as_ref(), tr, &keys, None, &mut budget).await?
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
            series_out.extend(limits::apply(v, sel.slimit, sel.soffset));
        }
    }
    // Series come by measurement, then tags; ORDER BY time DESC reverses both (1.x).
    series_out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.tags.cmp(&b.tags)));
    if sel.order_desc {
        series_out.reverse();
    }
    Ok(series_out)
}

