//! What the evaluator asks of a (lowered) SELECT's expressions: which calls are aggregates,
//! selectors or transformations, their literal arguments, and the statement's shape. The
//! statement was checked before it was lowered (see `validate`): nothing here rejects it.

use super::*;

pub(super) const TRANSFORMS: &[&str] = &[
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

pub(super) fn is_aggregate_name(n: &str) -> bool {
    Aggregate::from_name(n, Some(1), Some(50.0), None).is_some()
}

pub(super) fn is_transform_name(n: &str) -> bool {
    TRANSFORMS.contains(&n)
}

/// Walks calls that are aggregates/selectors/transforms (not math).
pub(super) fn visit_calls<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a str, &'a [Expr])) {
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

pub(super) fn has_agg_call(e: &Expr) -> bool {
    let mut found = false;
    visit_calls(e, &mut |_, _| found = true);
    found
}

pub(super) fn duration_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Duration(d) => Some(*d),
        _ => None,
    }
}

pub(super) fn int_arg(e: &Expr) -> Option<i64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i),
        _ => None,
    }
}

pub(super) fn num_arg(e: &Expr) -> Option<f64> {
    match e.unparen() {
        Expr::Integer(i) => Some(*i as f64),
        Expr::Float(f) => Some(*f),
        _ => None,
    }
}

/// What the evaluator needs to know of a statement's shape.
pub(super) struct Shape {
    /// It calls aggregates, selectors or transformations.
    pub(super) any_agg: bool,
    /// `GROUP BY time(every, offset)` with `every > 0` (`time(0s)` buckets nothing: 1.x answers as
    /// without GROUP BY time).
    pub(super) group_by_time: Option<(i64, i64)>,
}

pub(super) fn shape(sel: &Select) -> Shape {
    let any_agg = sel.fields.iter().any(|f| has_agg_call(&f.expr));
    let group_by_time = sel.dimensions.iter().find_map(|d| match d {
        Dimension::Time { every, offset } if *every > 0 => Some((*every, *offset)),
        _ => None,
    });
    Shape { any_agg, group_by_time }
}
