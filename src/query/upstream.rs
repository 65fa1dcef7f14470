//! Statements answered by a store that executes InfluxQL itself (`Backend::statements`, an
//! InfluxDB 1.x upstream): the seam above the evaluator.
//!
//! influxgate keeps what is its own: parsing and bound parameters, the caller's rights (checked
//! by `execute_statement` before this runs: admin statements, SELECT INTO, READ on every database
//! a statement reads), the running queries (`SHOW QUERIES`, `KILL QUERY`), tokens instead of
//! users (`SHOW USERS`, `GRANT`, ... as on the other stores) and the encoders. Everything that
//! reads or changes data or the catalog goes to the store as its canonical text, one statement
//! at a time, with the request's `db` and `rp`, and its answer becomes this statement's result,
//! so 1.x's own answers and error texts reach the client through influxgate's encoders (JSON,
//! CSV, msgpack, chunking, epoch, gzip).
//!
//! What is mapped back: a SELECT's first column holds its rows' times (1.x puts a time there in
//! every SELECT answer, SELECT INTO's `time 0` included; with `epoch=ns` they arrive as integer
//! nanoseconds) and becomes `Value::Time`, which the encoders print per the request's `epoch`.
//! `SHOW DATABASES` keeps only the databases the caller may read, as the other stores answer it.
//! The answer is charged to the query's memory account while it arrives, then as decoded rows.

use crate::backend::{StatementOutcome, StatementRequest, StatementStore};
use crate::influxql::ast as a;

use super::error::{QResult, QueryError};
use super::govern;
use super::result::{Series, Value};
use super::QueryContext;

/// Whether `s` goes to a store that executes InfluxQL itself. The others are influxgate's own
/// (running queries, tokens in place of users, the store's shards and internals).
pub(super) fn forwarded(s: &a::Statement) -> bool {
    use a::Statement::*;
    matches!(
        s,
        Select(_)
            | Explain { .. }
            | ShowDatabases
            | CreateDatabase(_)
            | DropDatabase { .. }
            | ShowRetentionPolicies { .. }
            | CreateRetentionPolicy(_)
            | AlterRetentionPolicy(_)
            | DropRetentionPolicy { .. }
            | ShowMeasurements(_)
            | ShowTagKeys(_)
            | ShowTagValues(_)
            | ShowFieldKeys(_)
            | ShowSeries(_)
            | ShowCardinality(_)
            | DropMeasurement { .. }
            | DropSeries(_)
            | Delete(_)
    )
}

/// Runs `s` on the store; its series, or its error as the statement's.
pub(super) async fn run(store: &dyn StatementStore, ctx: &QueryContext, s: &a::Statement) -> QResult<Vec<Series>> {
    let text = s.to_string();
    let gov = &ctx.governor;
    let charge = |n: u64| gov.charge(n);
    let req = StatementRequest { db: ctx.db.as_deref(), rp: ctx.rp.as_deref(), text: &text, charge: &charge };
    let raw_before = gov.used();
    let outcome = store.execute(req).await?;
    // The raw answer is gone once decoded: its charge gives way to the rows'.
    gov.release(gov.used().saturating_sub(raw_before));
    let mut series = match outcome {
        StatementOutcome::Error(e) => return Err(QueryError::from(e)),
        StatementOutcome::Series { series, .. } => series,
    };
    match s {
        a::Statement::Select(_) => times_first(&mut series),
        a::Statement::ShowDatabases if !ctx.is_admin => readable_only(&mut series, ctx),
        _ => {}
    }
    if matches!(s, a::Statement::Select(_)) {
        // Other statements' answers are charged by `execute`.
        let bytes = series.iter().map(|x| govern::rows_bytes(&x.values)).sum();
        gov.charge(bytes)?;
    }
    Ok(series)
}

/// A SELECT's first column as times.
fn times_first(series: &mut [Series]) {
    for row in series.iter_mut().flat_map(|s| s.values.iter_mut()) {
        if let Some(v) = row.first_mut() {
            if let Value::Integer(t) = *v {
                *v = Value::Time(t);
            }
        }
    }
}

/// `SHOW DATABASES` rows of databases the caller may read.
fn readable_only(series: &mut [Series], ctx: &QueryContext) {
    for s in series.iter_mut() {
        s.values.retain(|row| matches!(row.first(), Some(Value::String(db)) if (ctx.can_read)(db)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_times_become_times() {
        let mut s = vec![Series {
            columns: vec!["time".into(), "v".into()],
            values: vec![vec![Value::Integer(5), Value::Integer(7)], vec![]],
            ..Default::default()
        }];
        times_first(&mut s);
        assert_eq!(s[0].values[0], vec![Value::Time(5), Value::Integer(7)]);
    }

    #[test]
    fn show_databases_is_filtered() {
        let mut ctx = QueryContext::admin(None);
        ctx.is_admin = false;
        ctx.can_read = Box::new(|db| db == "mine");
        let row = |d: &str| vec![Value::String(d.into())];
        let mut s = vec![Series { name: "databases".into(), values: vec![row("other"), row("mine")], ..Default::default() }];
        readable_only(&mut s, &ctx);
        assert_eq!(s[0].values, vec![row("mine")]);
    }

    #[test]
    fn own_statements_stay() {
        let q = crate::influxql::parse_query("SHOW QUERIES; KILL QUERY 1; SHOW USERS; SELECT * FROM m; SHOW DATABASES").unwrap();
        let f: Vec<bool> = q.statements.iter().map(forwarded).collect();
        assert_eq!(f, [false, false, false, true, true]);
    }
}
