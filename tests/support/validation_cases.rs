//! Generator of tests/cases/queries-validation.txt: SELECTs that break two of 1.x's rules at once
//! (or one rule next to a clause that changes where it is checked), so that the differential test
//! shows whether influxgate reports the same one of them as 1.6.7 (1.x checks in a fixed order
//! and reports the first failure; see src/query/select/validate.rs for that order).
//!
//! Each entry of [`VIOLATIONS`] breaks one rule (or, `Neutral`, sets a clause that breaks none)
//! by filling some clauses of `SELECT <fields> [INTO] FROM <source> WHERE <cond> [GROUP BY]
//! [fill] [ORDER BY] [LIMIT]`; [`Step`] says where 1.x checks it. One entry of each step is its
//! step's representative ([`CORE`]). Every entry is combined with every representative (so
//! each rule meets one rule of every other step, and its own step's representative), when the
//! two fill different clauses, and so are the pairs of [`PAIRS`] (late checks that the
//! representatives of earlier steps would hide). Two field lists are joined (in both orders, as
//! the order of fields matters) for one field failing alone next to fields failing together,
//! and for listed pairs; two FROM lists only for listed pairs. That keeps the corpus at a few
//! hundred cases. The WHERE clause
//! always ends with a one-minute time range, so a combination that 1.x accepts reads little.
//!
//! The file is checked in; `DIFF_QUERIES_REGENERATE=1 cargo test --test diff_queries
//! validation_corpus` rewrites it after a change here (the test fails while it is stale).

/// Where 1.x checks a rule (the order of this enum is not relied upon).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    /// Parsing: a 400 answer.
    Parse,
    /// System sources, databases (normalization).
    Sources,
    /// The WHERE clause.
    Condition,
    /// GROUP BY expressions.
    Dimensions,
    /// One field alone.
    Field,
    /// The fields together (validateFields), with the clauses they need.
    Fields,
    /// A subquery's own checks.
    Subquery,
    /// After the catalog is read: retention policies, types.
    Prepare,
    /// Breaks no rule: a clause another rule's check depends on.
    Neutral,
}

/// One rule broken (or a neutral clause), as the clauses it fills.
pub struct Violation {
    pub id: &'static str,
    pub step: Step,
    pub fields: Option<&'static str>,
    pub into: Option<&'static str>,
    pub source: Option<&'static str>,
    pub cond: Option<&'static str>,
    pub dims: Option<&'static str>,
    pub fill: Option<&'static str>,
    pub order: Option<&'static str>,
    pub limit: Option<&'static str>,
}

const fn v(id: &'static str, step: Step) -> Violation {
    Violation { id, step, fields: None, into: None, source: None, cond: None, dims: None, fill: None, order: None, limit: None }
}

const fn fields(id: &'static str, step: Step, f: &'static str) -> Violation {
    Violation { fields: Some(f), ..v(id, step) }
}

use Step::*;

pub const VIOLATIONS: &[Violation] = &[
    // Parsing.
    Violation { fill: Some("fill(abc)"), ..v("bad fill (parse)", Parse) },
    Violation { order: Some("ORDER BY usage_user"), ..v("ORDER BY a field (parse)", Parse) },
    // Sources and databases.
    Violation { source: Some("_fieldKeys"), ..v("system source", Sources) },
    Violation { source: Some("nodb..cpu"), ..v("database not found", Sources) },
    Violation { into: Some("INTO nodb..copy"), ..v("INTO database not found", Sources) },
    Violation { source: Some("(SELECT usage_user FROM nodb..cpu)"), ..v("subquery database not found", Sources) },
    // The condition.
    Violation { cond: Some("time > 'abc'"), ..v("time compared with a string", Condition) },
    Violation { cond: Some("usage_user"), ..v("condition not a comparison", Condition) },
    Violation { cond: Some("foo(usage_user) > 1"), ..v("call in condition", Condition) },
    Violation { cond: Some("log(usage_user, 2) > 1"), ..v("log arity in condition", Condition) },
    Violation { cond: Some("time != 0"), ..v("time operator", Condition) },
    // GROUP BY.
    Violation { dims: Some("time(1m), time(2m)"), ..v("two time dimensions", Dimensions) },
    Violation { dims: Some("foo()"), ..v("call in GROUP BY", Dimensions) },
    Violation { dims: Some("time"), ..v("time without call", Dimensions) },
    Violation { dims: Some("time(1)"), ..v("time without duration", Dimensions) },
    Violation { dims: Some("time(1m, 'abc')"), ..v("bad time offset", Dimensions) },
    Violation { dims: Some("'hostname'"), ..v("string dimension", Dimensions) },
    // One field.
    fields("undefined function", Field, "foo(usage_user)"),
    fields("aggregate arity", Field, "mean(usage_user, 2)"),
    fields("top limit 0", Field, "top(usage_user, 0)"),
    fields("top last argument", Field, "top(usage_user, hostname)"),
    fields("percentile argument", Field, "percentile(usage_user, 'a')"),
    fields("math arity", Field, "sin(usage_user, 1)"),
    fields("literal field", Field, "1"),
    fields("two literals", Field, "1 + 'a'"),
    fields("wildcard in arithmetic", Field, "* + 1"),
    fields("aggregate of aggregate", Field, "mean(max(usage_user))"),
    fields("moving_average window", Field, "moving_average(usage_user, 1)"),
    fields("holt_winters of a field", Field, "holt_winters(usage_user, 1, 1)"),
    fields("derivative unit", Field, "derivative(usage_user, 'x')"),
    fields("transformation of aggregate without GROUP BY time", Field, "derivative(mean(usage_user))"),
    Violation { dims: Some("time(1m)"), ..fields("transformation of field with GROUP BY time", Field, "difference(usage_user)") },
    // The fields together.
    fields("aggregate mixed with field", Fields, "mean(usage_user), usage_user"),
    fields("selectors with a tag", Fields, "max(usage_user), min(usage_idle), hostname"),
    fields("top with another call", Fields, "top(usage_user, 2), mean(usage_idle)"),
    fields("distinct with another call", Fields, "distinct(usage_user), mean(usage_idle)"),
    fields("only time", Fields, "time"),
    Violation { dims: Some("time(1m)"), ..fields("GROUP BY time without aggregate", Fields, "usage_user") },
    Violation { fill: Some("fill(none)"), ..fields("fill(none) without aggregate", Fields, "usage_user") },
    Violation { limit: Some("LIMIT 2"), ..fields("top over LIMIT", Fields, "top(usage_user, 5)") },
    // Subqueries.
    Violation { source: Some("(SELECT foo(usage_user) FROM cpu)"), ..v("subquery undefined function", Subquery) },
    Violation { source: Some("(SELECT usage_user FROM cpu ORDER BY time DESC)"), ..v("subquery order", Subquery) },
    Violation { source: Some("(SELECT usage_user FROM cpu GROUP BY time(1m))"), ..v("subquery GROUP BY time without aggregate", Subquery) },
    // Not a rule of 1.x: it does not check a subquery's types (it answers without an error).
    Violation { source: Some("(SELECT usage_user + 'a' FROM cpu)"), ..v("subquery type error (unchecked)", Subquery) },
    // After the catalog.
    Violation { source: Some("diffq.nope.cpu"), ..v("retention policy not found", Prepare) },
    Violation { source: Some("(SELECT usage_user FROM diffq.nope.cpu)"), ..v("subquery retention policy not found", Prepare) },
    fields("type error", Prepare, "usage_user + 'a'"),
    fields("tag in arithmetic", Prepare, "usage_user + hostname"),
    fields("aggregate in a type error", Prepare, "mean(usage_user) + 'a'"),
    // Neutral clauses.
    Violation { source: Some("/^cp/"), ..v("regex source", Neutral) },
    Violation { order: Some("ORDER BY time DESC"), ..v("descending", Neutral) },
    Violation { dims: Some("time(1m)"), ..v("GROUP BY time", Neutral) },
    Violation { fill: Some("fill(linear)"), ..v("fill(linear)", Neutral) },
];

/// The representative of each step (by id).
const CORE: &[&str] = &[
    "bad fill (parse)",
    "database not found",
    "call in condition",
    "two time dimensions",
    "undefined function",
    "aggregate mixed with field",
    "subquery undefined function",
    "retention policy not found",
];

/// Pairs combined besides those with a representative; where both fill the fields or the FROM
/// clause, the two lists are joined, in both orders.
const PAIRS: &[(&str, &str)] = &[
    ("undefined function", "aggregate arity"),
    ("top limit 0", "transformation of aggregate without GROUP BY time"),
    ("literal field", "wildcard in arithmetic"),
    ("aggregate mixed with field", "top with another call"),
    ("distinct with another call", "selectors with a tag"),
    ("type error", "aggregate mixed with field"),
    ("transformation of aggregate without GROUP BY time", "top with another call"),
    ("percentile argument", "GROUP BY time without aggregate"),
    ("math arity", "fill(none) without aggregate"),
    ("tag in arithmetic", "type error"),
    // Late checks against each other (representatives of earlier steps hide them).
    ("type error", "subquery order"),
    ("type error", "subquery retention policy not found"),
    ("type error", "subquery type error (unchecked)"),
    ("type error", "descending"),
    ("tag in arithmetic", "regex source"),
    ("aggregate in a type error", "GROUP BY time"),
    ("aggregate in a type error", "subquery GROUP BY time without aggregate"),
    ("subquery GROUP BY time without aggregate", "GROUP BY time"),
    ("subquery order", "descending"),
    ("subquery undefined function", "subquery order"),
    ("subquery undefined function", "retention policy not found"),
    ("subquery undefined function", "database not found"),
    ("subquery retention policy not found", "subquery order"),
    ("regex source", "two time dimensions"),
];

const TIME_RANGE: &str = "time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:01:00Z'";

fn merge(a: Option<&'static str>, b: Option<&'static str>) -> Result<Option<&'static str>, ()> {
    match (a, b) {
        (Some(_), Some(_)) => Err(()),
        (x, None) | (None, x) => Ok(x),
    }
}

fn listed(a: &Violation, b: &Violation) -> bool {
    PAIRS.iter().any(|(x, y)| (a.id == *x && b.id == *y) || (a.id == *y && b.id == *x))
}

/// Two lists (fields or FROM sources) both set: joined when the pair allows it.
fn join(a: Option<&'static str>, b: Option<&'static str>, allowed: bool) -> Result<Option<String>, ()> {
    match (a, b) {
        (Some(x), Some(y)) if allowed => Ok(Some(format!("{x}, {y}"))),
        (Some(_), Some(_)) => Err(()),
        (x, y) => Ok(x.or(y).map(str::to_string)),
    }
}

/// The statement breaking both `a` and `b`; `None` when they fill the same clause.
pub fn combine(a: &Violation, b: &Violation) -> Option<String> {
    let joins = listed(a, b) || matches!((a.step, b.step), (Field, Fields) | (Fields, Field));
    // count(): an aggregate whose answer does not depend on the order points are summed in.
    let fields = join(a.fields, b.fields, joins).ok()?.unwrap_or_else(|| "count(usage_user)".into());
    let source = join(a.source, b.source, listed(a, b)).ok()?.unwrap_or_else(|| "cpu".into());
    let into = merge(a.into, b.into).ok()?;
    let cond = merge(a.cond, b.cond).ok()?;
    let dims = merge(a.dims, b.dims).ok()?;
    let fill = merge(a.fill, b.fill).ok()?;
    let order = merge(a.order, b.order).ok()?;
    let limit = merge(a.limit, b.limit).ok()?;
    let mut q = format!("SELECT {fields}");
    if let Some(i) = into {
        q += &format!(" {i}");
    }
    q += &format!(" FROM {source} WHERE ");
    q += &match cond {
        Some(c) => format!("{c} AND {TIME_RANGE}"),
        None => TIME_RANGE.to_string(),
    };
    for clause in [dims.map(|d| format!("GROUP BY {d}")), fill.map(str::to_string), order.map(str::to_string), limit.map(str::to_string)].into_iter().flatten() {
        q += &format!(" {clause}");
    }
    Some(q)
}

/// The corpus file's text.
pub fn generate() -> String {
    let mut out = String::from(
        "# GENERATED by tests/support/validation_cases.rs — do not edit; regenerate with\n\
         # DIFF_QUERIES_REGENERATE=1 cargo test --test diff_queries validation_corpus\n\
         # SELECTs breaking two of 1.x's rules at once (each case: the two rules, then the statement).\n",
    );
    let mut n = 0;
    for (i, a) in VIOLATIONS.iter().enumerate() {
        for (j, b) in VIOLATIONS.iter().enumerate() {
            let core = CORE.contains(&a.id) || CORE.contains(&b.id);
            // Both orders where two lists are joined (the order of fields and sources matters).
            let ordered = (a.fields.is_some() && b.fields.is_some()) || (a.source.is_some() && b.source.is_some());
            if i == j || (!ordered && j < i) || !(core || listed(a, b)) {
                continue;
            }
            if let Some(q) = combine(a, b) {
                out += &format!("# {} + {}\n{q}\n", a.id, b.id);
                n += 1;
            }
        }
    }
    out += &format!("# {n} cases\n");
    out
}
