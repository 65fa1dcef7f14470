//! What the evaluator asks of a (lowered) SELECT's expressions: where its aggregates, selectors
//! and transformations are (their kinds: `rules::function_kinds`), their literal arguments, and
//! the statement's shape. The
//! statement was checked before it was lowered (see `validate`): nothing here rejects it.

use super::*;

/// Walks calls that are aggregates/selectors/transforms (not math).
pub(super) fn visit_calls<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a str, &'a [Expr])) {
    match e {
        Expr::Call { name, args } => {
            if function_kinds::reduces_windows(name) || function_kinds::transforms_series(name) {
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

/// Whether a field calls an aggregate or selector (inside a transformation too).
pub(super) fn reduces_windows(sel: &Select) -> bool {
    fn walk(e: &Expr) -> bool {
        match e {
            Expr::Call { name, args } => function_kinds::reduces_windows(name) || args.iter().any(walk),
            Expr::Binary { lhs, rhs, .. } => walk(lhs) || walk(rhs),
            Expr::Paren(x) => walk(x),
            _ => false,
        }
    }
    sel.fields.iter().any(|f| walk(&f.expr))
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
