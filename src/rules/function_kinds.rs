//! InfluxQL's functions by name and kind, as 1.6.7 sorts them: the one table every classifier
//! of the engine asks (validation, type checks, compiling, planning, pushdown). A name that is
//! not here is `undefined function <name>()` (math in a condition: `invalid function call in
//! condition`). Call names are lowercase: 1.x's parser lowercases them (`parseCall`).
//!
//! * Aggregates reduce a window's points to one value, timed at the window's start: `count`,
//!   `distinct`, `integral`, `mean`, `median`, `mode`, `spread`, `stddev`, `sum`.
//! * Selectors pick point(s) of the window and keep their own time (1.x's `IsSelector`):
//!   `bottom`, `first`, `last`, `max`, `min`, `percentile`, `sample`, `top`. A statement whose
//!   only calls are selectors answers the other fields of the selected point.
//! * Transformations map a series (raw points, or an aggregate's per-window values under
//!   `GROUP BY time`) to a series: `cumulative_sum`, `derivative`, `difference`, `elapsed`,
//!   `moving_average`, `non_negative_derivative`, `non_negative_difference`; the predictors
//!   `holt_winters`, `holt_winters_with_fit`; and the technical-analysis functions
//!   (`exponential_moving_average` and its kin), which take a warm-up and a hold period.
//! * Math functions map one row's value(s) to a value and may wrap any of the above: `abs`,
//!   `sin`, `cos`, `tan`, `asin`, `acos`, `atan`, `atan2`, `exp`, `log`, `ln`, `log2`, `log10`,
//!   `sqrt`, `pow`, `floor`, `ceil`, `round`.
//!
//! More facts 1.x ties to names:
//!
//! * The type a call answers (1.x's `FunctionTypeMapper`): floats for `mean`, `median`,
//!   `integral`, `stddev`, `derivative`, `non_negative_derivative`, `moving_average`, the
//!   predictors and the technical-analysis functions; integers for `count` and `elapsed`; the
//!   type of its first argument for every other name, math included (1.x consults its math
//!   types only where that argument's type is unknown).
//! * `count`, `sum`, `mean`, `min`, `max`, `first`, `last` are computed per series and shard
//!   group and their partial results combined (the order of that combination decides the last
//!   bits of float sums); the other aggregates and selectors see one merged stream of points.
//! * Over `GROUP BY time`, `derivative`, `non_negative_derivative`, `difference`,
//!   `non_negative_difference`, `elapsed`, `moving_average` and the technical-analysis functions
//!   read one interval before the range (after it under `ORDER BY time DESC`), so that their
//!   first window has a predecessor; their outputs in that interval are kept (1.6.7).
//!   `cumulative_sum` and the predictors do not.

/// What a function does, in 1.x's documentation's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Aggregate,
    Selector,
    Transformation,
    Predictor,
    TechnicalAnalysis,
    Math,
}

impl Kind {
    /// Aggregates and selectors: a window's points in, its value(s) out (1.x's call iterators).
    pub fn reduces_windows(self) -> bool {
        matches!(self, Kind::Aggregate | Kind::Selector)
    }

    /// Transformations, predictors and technical analysis: a series in, a series out.
    pub fn transforms_series(self) -> bool {
        matches!(self, Kind::Transformation | Kind::Predictor | Kind::TechnicalAnalysis)
    }
}

/// The kind of the function called `name`; `None`: 1.x has no such function.
pub fn kind(name: &str) -> Option<Kind> {
    Some(match name {
        "count" | "distinct" | "integral" | "mean" | "median" | "mode" | "spread" | "stddev" | "sum" => Kind::Aggregate,
        "bottom" | "first" | "last" | "max" | "min" | "percentile" | "sample" | "top" => Kind::Selector,
        "cumulative_sum" | "derivative" | "difference" | "elapsed" | "moving_average" | "non_negative_derivative"
        | "non_negative_difference" => Kind::Transformation,
        "holt_winters" | "holt_winters_with_fit" => Kind::Predictor,
        "exponential_moving_average"
        | "double_exponential_moving_average"
        | "triple_exponential_moving_average"
        | "triple_exponential_derivative"
        | "relative_strength_index"
        | "kaufmans_efficiency_ratio"
        | "kaufmans_adaptive_moving_average"
        | "chande_momentum_oscillator" => Kind::TechnicalAnalysis,
        "abs" | "sin" | "cos" | "tan" | "asin" | "acos" | "atan" | "atan2" | "exp" | "log" | "ln" | "log2" | "log10"
        | "sqrt" | "pow" | "floor" | "ceil" | "round" => Kind::Math,
        _ => return None,
    })
}

fn is(name: &str, k: Kind) -> bool {
    kind(name) == Some(k)
}

/// An aggregate or a selector.
pub fn reduces_windows(name: &str) -> bool {
    kind(name).is_some_and(Kind::reduces_windows)
}

/// A transformation, predictor or technical-analysis function.
pub fn transforms_series(name: &str) -> bool {
    kind(name).is_some_and(Kind::transforms_series)
}

pub fn is_selector(name: &str) -> bool {
    is(name, Kind::Selector)
}

pub fn is_math(name: &str) -> bool {
    is(name, Kind::Math)
}

pub fn is_technical_analysis(name: &str) -> bool {
    is(name, Kind::TechnicalAnalysis)
}

/// The type of what a call answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    Float,
    Integer,
    /// The type of its first argument.
    FirstArgument,
}

/// The type the call `name` answers (see the module docs).
pub fn result_type(name: &str) -> ResultType {
    match name {
        "mean" | "median" | "integral" | "stddev" | "derivative" | "non_negative_derivative" | "moving_average" => {
            ResultType::Float
        }
        "count" | "elapsed" => ResultType::Integer,
        n if is(n, Kind::Predictor) || is_technical_analysis(n) => ResultType::Float,
        _ => ResultType::FirstArgument,
    }
}

/// Whether 1.x computes the call per series (and shard group) and combines the partial results.
pub fn combines_partials(name: &str) -> bool {
    matches!(name, "count" | "sum" | "mean" | "min" | "max" | "first" | "last")
}

/// Whether, over `GROUP BY time`, the call reads one interval beyond the range (see the module
/// docs).
pub fn reads_interval_before(name: &str) -> bool {
    matches!(
        name,
        "derivative" | "non_negative_derivative" | "difference" | "non_negative_difference" | "elapsed" | "moving_average"
    ) || is_technical_analysis(name)
}

/// The arguments a math function takes in a field: 2 for `atan2`, `log`, `pow`, else 1.
pub fn math_arity(name: &str) -> usize {
    match name {
        "atan2" | "log" | "pow" => 2,
        _ => 1,
    }
}

/// The arguments 1.6.7 wants of a math function in a WHERE condition: 2 for `atan2` and `pow`,
/// else 1 — `log` included, unlike in a field (`validateCondition` has its own count).
pub fn math_arity_in_condition(name: &str) -> usize {
    match name {
        "atan2" | "pow" => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::functions::{ta::TaKind, Aggregate};

    const ALL: [&str; 52] = [
        "count", "distinct", "integral", "mean", "median", "mode", "spread", "stddev", "sum", "bottom", "first", "last", "max",
        "min", "percentile", "sample", "top", "cumulative_sum", "derivative", "difference", "elapsed", "moving_average",
        "non_negative_derivative", "non_negative_difference", "holt_winters", "holt_winters_with_fit",
        "exponential_moving_average", "double_exponential_moving_average", "triple_exponential_moving_average",
        "triple_exponential_derivative", "relative_strength_index", "kaufmans_efficiency_ratio",
        "kaufmans_adaptive_moving_average", "chande_momentum_oscillator", "abs", "sin", "cos", "tan", "asin", "acos",
        "atan", "atan2", "exp", "log", "ln", "log2", "log10", "sqrt", "pow", "floor", "ceil", "round",
    ];

    #[test]
    fn every_name_has_one_kind() {
        for name in ALL {
            assert!(kind(name).is_some(), "{name}");
        }
        let math = ALL.iter().filter(|n| is_math(n)).count();
        assert_eq!(math, 18);
        for name in ["Mean", "MEAN", "now", "time", "histogram", "", "mean "] {
            assert_eq!(kind(name), None, "{name}");
        }
    }

    /// The evaluator's implementations answer to exactly the names of their kinds.
    #[test]
    fn implementations_agree_with_the_table() {
        for name in ALL {
            let agg = Aggregate::from_name(name, Some(1), Some(50.0), None);
            assert_eq!(agg.is_some(), reduces_windows(name), "{name}");
            if let Some(a) = agg {
                assert_eq!(a.name(), name);
                assert_eq!(a.is_selector(), is_selector(name), "{name}");
            }
            assert_eq!(TaKind::from_name(name).is_some(), is_technical_analysis(name), "{name}");
        }
    }

    #[test]
    fn partial_results_and_wider_ranges() {
        let partials: Vec<&str> = ALL.into_iter().filter(|n| combines_partials(n)).collect();
        assert_eq!(partials, ["count", "mean", "sum", "first", "last", "max", "min"]);
        assert!(partials.iter().all(|n| reduces_windows(n)));
        assert!(reads_interval_before("derivative") && reads_interval_before("chande_momentum_oscillator"));
        assert!(!reads_interval_before("cumulative_sum") && !reads_interval_before("holt_winters"));
        assert!(ALL.iter().filter(|n| reads_interval_before(n)).all(|n| transforms_series(n)));
    }

    #[test]
    fn result_types() {
        let floats: Vec<&str> = ALL.into_iter().filter(|n| result_type(n) == ResultType::Float).collect();
        assert_eq!(floats.len(), 7 + 2 + 8, "{floats:?}");
        assert_eq!(result_type("count"), ResultType::Integer);
        assert_eq!(result_type("elapsed"), ResultType::Integer);
        for n in ["sum", "max", "top", "distinct", "difference", "cumulative_sum", "sqrt", "abs"] {
            assert_eq!(result_type(n), ResultType::FirstArgument, "{n}");
        }
    }

    #[test]
    fn log_takes_one_argument_in_a_condition() {
        assert_eq!((math_arity("log"), math_arity_in_condition("log")), (2, 1));
        assert_eq!((math_arity("pow"), math_arity_in_condition("pow")), (2, 2));
        assert_eq!((math_arity("sqrt"), math_arity_in_condition("sqrt")), (1, 1));
    }
}
