//! An aggregate SELECT compiled for one measurement: its calls, the fields over them, the
//! condition, the time range (widened where 1.x reads one interval more), the bucket cap and the
//! window, with 1.x's errors in 1.x's order.

use super::*;

/// Everything the evaluation of an aggregate statement over one measurement needs to know.
pub(super) struct AggPlan {
    pub(super) calls: Vec<AggCall>,
    /// Row expressions the calls' aux values and raw transformations read.
    pub(super) aux: Vec<CExpr>,
    pub(super) afields: Vec<AggField>,
    /// No aggregate call: transformations straight over the points.
    pub(super) raw_transform: bool,
    /// The tie-break keys of raw points (1.x's merge order) for `raw_transform`.
    pub(super) key_exprs: Vec<CExpr>,
    /// The condition (tag predicate for the store, row condition).
    pub(super) cond: Compiled,
    /// The scanned fields the statement selects (the condition's come after them).
    pub(super) n_select_fields: usize,
    /// The time range read (widened for transformations of buckets).
    pub(super) tr: TimeRange,
    pub(super) min: i64,
    pub(super) max: i64,
    /// With LIMIT (ascending, no transformation): only this many first buckets are needed.
    pub(super) bucket_cap: Option<usize>,
    pub(super) window: Option<Window>,
    pub(super) fill: functions::Fill,
    /// The window start of an answer without GROUP BY time.
    pub(super) window_start_default: i64,
    /// One selector alone: its point's own time is shown.
    pub(super) single_selector: bool,
}

/// Compiles `fields` (expanded) of `sel` against `m`, adding what must be read to `scan`. `None`:
/// nothing to read (the answer is empty).
#[allow(clippy::too_many_arguments)]
pub(super) fn plan(
    ctx: &QueryContext,
    sel: &Select,
    m: &MeasInfo,
    fields: &[Field],
    rest: Option<&Expr>,
    tr: TimeRange,
    group_by_time: Option<(i64, i64)>,
    scan: &mut Vec<String>,
) -> QResult<Option<AggPlan>> {
    let (calls, aux, afields) = compile_fields(fields, m, scan)?;
    let raw_transform = calls.is_empty();
    if raw_transform && group_by_time.is_some() {
        return Err(format!(
            "aggregate function required inside the call to {}",
            afields.iter().find_map(|f| f.transform.as_ref().map(|t| t.0.clone())).unwrap_or_default()
        )
        .into());
    }
    if scan.is_empty() {
        return Ok(None);
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
    let cond = compile_condition(m, rest, scan)?;
    let tr = widen_for_transforms(ctx, sel, &afields, tr, group_by_time);
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
    let window = group_by_time.map(|(every, offset)| Window::new(every, offset, sel.tz));
    let single_selector = calls.len() == 1 && calls[0].agg.is_selector() && (afields.len() == 1 || !aux.is_empty());
    Ok(Some(AggPlan {
        window_start_default: tr.min.unwrap_or(MIN_TIME),
        fill: fill_mode(&sel.fill),
        calls,
        aux,
        afields,
        raw_transform,
        key_exprs,
        cond,
        n_select_fields,
        tr,
        min,
        max,
        bucket_cap,
        window,
        single_selector,
    }))
}

/// The calls, the row expressions they read, and the fields over them.
fn compile_fields(fields: &[Field], m: &MeasInfo, scan: &mut Vec<String>) -> QResult<(Vec<AggCall>, Vec<CExpr>, Vec<AggField>)> {
    let mut calls: Vec<AggCall> = Vec::new();
    let mut aux: Vec<CExpr> = Vec::new();
    let mut afields: Vec<AggField> = Vec::new();
    for f in fields {
        // A transformation may sit inside arithmetic or math (`non_negative_derivative(mean(x),
        // 1s) * 8`): the outer expression is applied to its output points.
        let mut outer_expr = None;
        let (inner, transform) = match f.expr.unparen() {
            Expr::Call { name, args } if function_kinds::transforms_series(name) => {
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
    Ok((calls, aux, afields))
}

/// derivative/difference/elapsed of buckets need the bucket before the first one (1.x reads one
/// interval more; under ORDER BY time DESC the interval after the range instead).
fn widen_for_transforms(
    ctx: &QueryContext,
    sel: &Select,
    afields: &[AggField],
    mut tr: TimeRange,
    group_by_time: Option<(i64, i64)>,
) -> TimeRange {
    let Some((every, _)) = group_by_time else { return tr };
    // moving_average and the technical-analysis functions too; their outputs in that interval
    // are kept (1.6.7).
    let extends = afields.iter().any(|f| f.transform.as_ref().is_some_and(|t| function_kinds::reads_interval_before(&t.0)));
    if extends && !sel.order_desc {
        if let Some(lo) = tr.min {
            tr.min = Some(lo.saturating_sub(every));
        }
    } else if extends {
        tr.max = Some(tr.max.unwrap_or(ctx.now).saturating_add(every));
    }
    tr
}

fn fill_mode(fill: &Fill) -> functions::Fill {
    match fill {
        Fill::Null => functions::Fill::Null,
        Fill::None => functions::Fill::None,
        Fill::Previous => functions::Fill::Previous,
        Fill::Linear => functions::Fill::Linear,
        Fill::Value(FillValue::Integer(i)) => functions::Fill::Number(Value::Integer(*i)),
        Fill::Value(FillValue::Float(f)) => functions::Fill::Number(Value::Float(*f)),
        Fill::Value(FillValue::Unsigned(u)) => functions::Fill::Number(Value::Unsigned(*u)),
        Fill::Value(_) => functions::Fill::Null,
    }
}
