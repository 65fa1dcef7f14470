//! InfluxQL: lexer, recursive-descent parser, AST and canonical printer, compatible with
//! InfluxDB 1.x (the `influxql` package used by InfluxDB 1.6.7, the reference oracle).
//!
//! Depends only on `std` and `regex`.
//!
//! * [`parse_query`] / [`parse_query_with`] parse `;`-separated statements.
//! * Errors ([`ParseError`]) print exactly like 1.x (`found X, expected Y at line L, char C`);
//!   the HTTP layer adds the `error parsing query: ` prefix.
//! * Every AST node implements `Display`, printing InfluxQL that parses back to the same AST.
//!
//! Bound parameters: 1.x substitutes `$name` tokens while scanning, from the request's
//! `params` JSON. Use [`parse_query_with`] with `params: Some(&map)` (an empty map when the
//! request has none, so `$x` fails with `missing parameter: x` like 1.x). [`parse_query`]
//! keeps `$name` as [`Expr::BindParam`] where an expression is expected; [`bind`] substitutes
//! them afterwards. [`param_value_from_json`] converts the request's `params` JSON values
//! (mapped onto [`JsonParam`]) with 1.x's rules and error texts.
//!
//! HTTP-layer notes (1.x behaviour, verified against influxd 1.6.7): the `q` text is trimmed
//! (Go `strings.TrimSpace`) before parsing — positions in errors depend on it; invalid UTF-8
//! should be decoded lossily (Go reads U+FFFD); a NUL character ends the query.
//! `format!("{:#}", query)` prints with passwords redacted (for logs / SHOW QUERIES).

pub mod ast;
mod display;
mod lexer;
mod params;
mod parser;
pub mod reduce;
pub(crate) mod regex_compat;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use ast::*;
pub use display::{format_rfc3339_nano, ident_needs_quotes, quote_ident, quote_ident_segments, quote_string};
pub use lexer::Pos;
pub use params::{param_value_from_json, JsonParam};
pub use parser::{
    ParseError, ParseErrorKind, ParseOptions,
};

/// Parses a query (statements separated by `;`; empty statements are skipped like 1.x).
/// `$name` parameters are kept as [`Expr::BindParam`].
pub fn parse_query(text: &str) -> Result<Query, ParseError> {
    parse_query_with(text, ParseOptions::default())
}

/// Parses a query with options (bound parameters substituted 1.x-style, time-zone check).
pub fn parse_query_with(text: &str, opts: ParseOptions<'_>) -> Result<Query, ParseError> {
    parser::Parser::new(text, opts).parse_query()
}

/// Parses a query with 1.x's parameter substitution (`params` from the HTTP request; pass an
/// empty map when there are none).
pub fn parse_query_with_params(
    text: &str,
    params: &HashMap<String, ParamValue>,
) -> Result<Query, ParseError> {
    parse_query_with(text, ParseOptions { params: Some(params), zones: None })
}

/// Parses one statement. Like 1.x's `ParseStatement`, text after the statement is ignored.
pub fn parse_statement(text: &str) -> Result<Statement, ParseError> {
    parser::Parser::new(text, ParseOptions::default()).parse_statement()
}

/// Parses one expression. Like 1.x's `ParseExpr`, text after the expression is ignored.
pub fn parse_expr(text: &str) -> Result<Expr, ParseError> {
    parser::Parser::new(text, ParseOptions::default()).parse_expr()
}

/// Replaces every [`Expr::BindParam`] in the query with the literal for its value
/// (string → `String`, integer → `Integer`, float → `Number`, boolean, identifier → `VarRef`,
/// regex → `Regex`, duration → `Duration`). Errors: `missing parameter: <name>`, or the
/// value's error text / a regex or duration error.
pub fn bind(query: &mut Query, params: &HashMap<String, ParamValue>) -> Result<(), ParseError> {
    let mut result = Ok(());
    for stmt in query.statements.iter_mut() {
        visit_statement_exprs(stmt, &mut |e: &mut Expr| {
            if result.is_err() {
                return;
            }
            e.walk_mut(&mut |node: &mut Expr| {
                if result.is_err() {
                    return;
                }
                if let Expr::BindParam(name) = node {
                    match bind_value(name, params) {
                        Ok(v) => *node = v,
                        Err(err) => result = Err(err),
                    }
                }
            });
        });
    }
    result
}

fn bind_value(name: &str, params: &HashMap<String, ParamValue>) -> Result<Expr, ParseError> {
    let v = match params.get(name) {
        Some(v) => v,
        None => return Err(ParseError { kind: ParseErrorKind::Message(format!("missing parameter: {}", name)), pos: None }),
    };
    let plain = |m: String| ParseError { kind: ParseErrorKind::Message(m), pos: None };
    Ok(match v {
        ParamValue::String(s) => Expr::String(s.clone()),
        ParamValue::Integer(i) => Expr::Integer(*i),
        ParamValue::Float(f) => Expr::Number(*f),
        ParamValue::Boolean(b) => Expr::Boolean(*b),
        ParamValue::Identifier(s) => Expr::VarRef { name: s.clone(), data_type: None },
        ParamValue::Regex(s) => Expr::Regex(RegexLiteral::new(s).map_err(plain)?),
        ParamValue::Duration(s) => Expr::Duration(crate::rules::durations::parse_influxql(s).map_err(plain)?),
        ParamValue::Error(e) => return Err(plain(format!("missing parameter: {}", e))),
    })
}

fn visit_select_exprs(s: &mut SelectStatement, f: &mut dyn FnMut(&mut Expr)) {
    for fld in s.fields.iter_mut() {
        f(&mut fld.expr);
    }
    visit_sources(&mut s.sources, f);
    if let Some(c) = s.condition.as_mut() {
        f(c);
    }
    for d in s.dimensions.iter_mut() {
        f(&mut d.expr);
    }
}

fn visit_sources(sources: &mut [Source], f: &mut dyn FnMut(&mut Expr)) {
    for src in sources.iter_mut() {
        if let Source::Subquery(sub) = src {
            visit_select_exprs(sub, f);
        }
    }
}

/// Calls `f` on every top-level expression of a statement (fields, conditions, dimensions,
/// including those of subqueries).
pub fn visit_statement_exprs(stmt: &mut Statement, f: &mut dyn FnMut(&mut Expr)) {
    let cond = |c: &mut Option<Expr>, f: &mut dyn FnMut(&mut Expr)| {
        if let Some(c) = c.as_mut() {
            f(c);
        }
    };
    match stmt {
        Statement::Select(s) | Statement::Explain { statement: s, .. } => visit_select_exprs(s, f),
        Statement::CreateContinuousQuery(cq) => visit_select_exprs(&mut cq.source, f),
        Statement::Delete(d) | Statement::DropSeries(d) => {
            visit_sources(&mut d.sources, f);
            cond(&mut d.condition, f);
        }
        Statement::ShowMeasurements(s) => cond(&mut s.condition, f),
        Statement::ShowTagKeys(s) => cond(&mut s.condition, f),
        Statement::ShowTagValues(s) => cond(&mut s.condition, f),
        Statement::ShowSeries(s) => cond(&mut s.condition, f),
        Statement::ShowCardinality(s) => {
            cond(&mut s.condition, f);
            for d in s.dimensions.iter_mut() {
                f(&mut d.expr);
            }
        }
        _ => {}
    }
}
