//! 1.x's checks of a SELECT before it reads anything, run in 1.x's order so that a statement
//! breaking several rules gets the error 1.x reports (the first one it meets), with 1.x's text.
//!
//! 1.6.7 checks a SELECT in this order (query/executor.go `executeQuery`, coordinator
//! `NormalizeStatement`, query/compile.go `Compile` and `Prepare`, influxql `ConditionExpr`):
//!
//! 1. Parsing (src/influxql): syntax, `fill(...)`, `tz(...)`, `ORDER BY` other than time — a
//!    400 answer before anything else.
//! 2. System sources: `FROM _fieldKeys` and the other `_` names of the top-level FROM
//!    ([`system_sources`]).
//! 3. Normalization of every measurement in `influxql.Walk` order — the INTO target, then the
//!    FROM sources depth first (a subquery's sources where the subquery stands): `database name
//!    required`, `database not found: <db>` ([`normalize`]).
//! 4. Compilation ([`compile`]), for the statement and then, in FROM order, for each subquery
//!    (which inherits the outer GROUP BY interval and time order):
//!    1. the condition: `ConditionExpr` walks it left to right — a time comparison whose value
//!       is not a time, or whose operator is not a comparison; a term that is not a comparison
//!       (`invalid condition expression`) — then `validateCondition` walks what is left: calls
//!       other than math (`invalid function call in condition`), math arity;
//!    2. the GROUP BY expressions in order (`compileDimensions`): `time` without a call, calls
//!       other than time(), time()'s arguments and offset, several time() calls, other
//!       expressions;
//!    3. a subquery only: its ORDER BY against the outer statement's;
//!    4. the fields in order (`compileFields`): each reduced (constants folded), then walked —
//!       literals, wildcards and regexes in binary expressions, math arity, every call's own
//!       checks in its argument order, a call nested in a transformation after the
//!       transformation's own checks (see `validate/fields.rs`);
//!    5. the fields together (`validateFields`): no field but time; top()/bottom() with other
//!       calls; without calls, fill(none)/fill(linear) and GROUP BY time(); distinct() with
//!       other calls or fields; aggregates mixed with raw fields; several selectors with raw
//!       fields;
//!    6. the subqueries, each through 1–5.
//! 5. Preparation, with the catalog: retention policies of every source (`retention policy not
//!    found`), `*` and regexes expanded, the types of the outer fields (`validateTypes`:
//!    `type error: ...`, see `typecheck.rs`), the `max-select-buckets` limit.
//! 6. Execution: what only reading shows (a function given a type it does not take, the
//!    `max-select-point` limit, the query timeout).
//!
//! influxgate runs 2 and 4 on the parsed statement (`check`), 3 with the catalog
//! ([`normalize`]); 5 and 6 happen where the statement is resolved and evaluated.

use crate::influxql::ast as a;
use crate::influxql::reduce::{reduce, Valuer};

use super::{pick_db, Backend, QResult, QueryContext, Select, Source};

mod condition;
mod fields;

/// The checks of steps 2 and 4 (no catalog needed): system sources, then compilation. `now`
/// is the statement's `now()`.
pub(crate) fn check(s: &a::SelectStatement, now: i64) -> QResult<()> {
    system_sources(s)?;
    compile_statement(s, now)
}

/// Step 4 for a whole statement, subqueries included.
pub(crate) fn compile_statement(s: &a::SelectStatement, now: i64) -> QResult<()> {
    compile(s, now, None)
}

/// 1.x refuses to read its internal system measurements with SELECT (top-level FROM only).
pub(crate) fn system_sources(s: &a::SelectStatement) -> QResult<()> {
    for src in &s.sources {
        let a::Source::Measurement(m) = src else { continue };
        if m.regex.is_some() {
            continue;
        }
        let command = match m.name.as_str() {
            "_fieldKeys" => "SHOW FIELD KEYS",
            "_measurements" => "SHOW MEASUREMENTS",
            "_series" => "SHOW SERIES",
            "_tagKeys" => "SHOW TAG KEYS",
            "_tags" => "SHOW TAG VALUES",
            "_name" | "_tagKey" => "the appropriate meta command",
            _ => continue,
        };
        return Err(format!("unable to use system source '{}': use {command} instead", m.name).into());
    }
    Ok(())
}

/// Step 3: every measurement the statement names (INTO target first, then FROM, depth first)
/// must be in a database that exists.
pub(crate) async fn normalize(backend: &dyn Backend, ctx: &QueryContext, sel: &Select) -> QResult<()> {
    let dbs = backend.databases().await?;
    let check = |db: &Option<String>| -> QResult<()> {
        let db = pick_db(ctx, db)?;
        if dbs.contains(&db) {
            Ok(())
        } else {
            Err(format!("database not found: {db}").into())
        }
    };
    fn walk(sel: &Select, check: &dyn Fn(&Option<String>) -> QResult<()>) -> QResult<()> {
        if let Some(t) = &sel.into {
            check(&t.db)?;
        }
        for s in &sel.sources {
            match s {
                Source::Measurement { db, .. } | Source::Regex { db, .. } => check(db)?,
                Source::Subquery(inner) => walk(inner, check)?,
            }
        }
        Ok(())
    }
    walk(sel, &check)
}

/// An expression as 1.x prints it in errors (its `String()`: a float with three decimals).
fn go_text(e: &a::Expr) -> String {
    match e {
        a::Expr::Number(f) => format!("{f:.3}"),
        other => other.to_string(),
    }
}

/// What 1.x's compiler records of a statement while checking it (its `compiledStatement`).
#[derive(Default)]
struct Compiled {
    /// The GROUP BY time() duration (0: none; `time(0s)` counts as none).
    interval: i64,
    /// The interval came from the outer statement.
    inherited: bool,
    ascending: bool,
    /// Calls that are not math (nested ones too).
    calls: usize,
    /// No call other than selectors (max, min, first, last, percentile, sample, top, bottom).
    only_selectors: bool,
    /// A top-level distinct() (not the one inside count()).
    has_distinct: bool,
    /// The top() or bottom() call seen.
    top_bottom: Option<String>,
    /// A field reads raw values (a variable, `*` or a regex outside a call, or top()'s tags).
    has_aux: bool,
    /// Fields other than `time`.
    fields: usize,
    limit: u64,
    has_target: bool,
    fill: a::Fill,
}

/// Step 4 for `s` and its subqueries; `outer`: the enclosing statement when `s` is a subquery.
fn compile(s: &a::SelectStatement, now: i64, outer: Option<&Compiled>) -> QResult<()> {
    let mut c = Compiled {
        ascending: !s.order_desc(),
        only_selectors: true,
        limit: s.limit,
        has_target: s.into.is_some(),
        fill: s.fill.clone(),
        ..Default::default()
    };
    if let Some(cond) = &s.condition {
        condition::check(cond, now)?;
    }
    dimensions(&mut c, &s.dimensions)?;
    if let Some(outer) = outer {
        if s.order_by.is_some() && c.ascending != outer.ascending {
            return Err("subqueries must be ordered in the same direction as the query itself".into());
        }
        c.ascending = outer.ascending;
        // A subquery with its own GROUP BY time fills with none unless told otherwise (so a
        // subquery without calls fails as `fill(none)` does).
        if c.interval != 0 && c.fill == a::Fill::Null {
            c.fill = a::Fill::None;
        }
        if outer.interval != 0 && c.interval == 0 {
            c.interval = outer.interval;
            c.inherited = true;
        }
    }
    for f in &s.fields {
        if matches!(&f.expr, a::Expr::VarRef { name, .. } if name == "time") {
            continue;
        }
        c.fields += 1;
        fields::compile_field(&mut c, &reduce(&f.expr, Valuer::Math))?;
    }
    validate_fields(&c)?;
    for src in &s.sources {
        if let a::Source::Subquery(inner) = src {
            compile(inner, now, Some(&c))?;
        }
    }
    Ok(())
}

/// `compileDimensions`: GROUP BY expressions (reduced) in order.
fn dimensions(c: &mut Compiled, dims: &[a::Dimension]) -> QResult<()> {
    for d in dims {
        match reduce(&d.expr, Valuer::None) {
            a::Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time") => {
                return Err("time() is a function and expects at least one argument".into())
            }
            a::Expr::VarRef { .. } | a::Expr::Wildcard(_) | a::Expr::Regex(_) => {}
            a::Expr::Call { name, args } => {
                if name != "time" {
                    return Err("only time() calls allowed in dimensions".into());
                }
                if args.is_empty() || args.len() > 2 {
                    return Err("time dimension expected 1 or 2 arguments".into());
                }
                let a::Expr::Duration(every) = args[0] else {
                    return Err("time dimension must have duration argument".into());
                };
                if c.interval != 0 {
                    return Err("multiple time dimensions not allowed".into());
                }
                c.interval = every;
                if let Some(offset) = args.get(1) {
                    time_offset(offset)?;
                }
            }
            _ => return Err("only time and tag dimensions allowed".into()),
        }
    }
    Ok(())
}

/// The offset of `time(every, offset)`: a duration, a time, or `now()`.
fn time_offset(offset: &a::Expr) -> QResult<()> {
    match offset {
        a::Expr::Duration(_) | a::Expr::Time(_) => Ok(()),
        a::Expr::Call { name, args } => {
            if name != "now" {
                Err("time dimension offset function must be now()".into())
            } else if !args.is_empty() {
                Err("time dimension offset now() function requires no arguments".into())
            } else {
                Ok(())
            }
        }
        a::Expr::String(s) if super::cond::parse_time_string(s).is_some() => Ok(()),
        _ => Err("time dimension offset must be duration or now()".into()),
    }
}

/// `validateFields`: what the fields may not be together.
fn validate_fields(c: &Compiled) -> QResult<()> {
    if c.fields == 0 {
        return Err("at least 1 non-time field must be queried".into());
    }
    if let (true, Some(tb)) = (c.calls > 1, &c.top_bottom) {
        return Err(format!("selector function {tb}() cannot be combined with other functions").into());
    }
    if c.calls == 0 {
        match c.fill {
            a::Fill::None => return Err("fill(none) must be used with a function".into()),
            a::Fill::Linear => return Err("fill(linear) must be used with a function".into()),
            _ => {}
        }
        if c.interval != 0 && !c.inherited {
            return Err("GROUP BY requires at least one aggregate function".into());
        }
    }
    if c.has_distinct && (c.calls != 1 || c.has_aux) {
        return Err("aggregate function distinct() cannot be combined with other functions or fields".into());
    }
    if c.has_aux {
        if !c.only_selectors {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        }
        if c.calls > 1 {
            return Err("mixing multiple selector functions with tags or fields is not supported".into());
        }
    }
    Ok(())
}
