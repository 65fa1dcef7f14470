//! Unit tests for the InfluxQL parser, one module per statement family.

mod ddl;
mod delete;
mod errors;
mod params;
mod select;
mod show;

use crate::influxql::*;

/// Parses `q` (must succeed), checks print → parse gives the same AST, returns the AST.
pub(super) fn rt(q: &str) -> Query {
    let a = parse_query(q).unwrap_or_else(|e| panic!("{:?}: {}", q, e));
    let printed = a.to_string();
    let b = parse_query(&printed).unwrap_or_else(|e| panic!("reparse {:?}: {}", printed, e));
    assert_eq!(a, b, "round trip of {:?} via {:?}", q, printed);
    assert_eq!(printed, b.to_string(), "printing is not a fixpoint for {:?}", q);
    a
}

/// Parses a single statement with round trip.
pub(super) fn stmt(q: &str) -> Statement {
    let mut v = rt(q).statements;
    assert_eq!(v.len(), 1, "{:?}", q);
    v.remove(0)
}

pub(super) fn select(q: &str) -> SelectStatement {
    match stmt(q) {
        Statement::Select(s) => *s,
        s => panic!("not a select: {:?}", s),
    }
}

/// The canonical text of `q`.
pub(super) fn canon(q: &str) -> String {
    rt(q).to_string()
}
