//! Reads while the spool holds points: a statement reading a database with points still spooled
//! (not yet in the store) says so in its result, in 1.x's `messages` field, as 1.x does for
//! deprecated syntax: `{"level":"warning","text":"N points written to database \"db\" are still
//! spooled ..."}`. JSON and msgpack answers carry messages; CSV has no place for them (1.x writes
//! none in CSV either).

use super::Spool;
use crate::influxql::ast::Query;
use crate::query::result::{Message, StatementResult};
use crate::query::QueryContext;

/// One warning list per statement of `query`; empty when nothing it reads is spooled.
pub fn query_warnings(spool: Option<&Spool>, ctx: &QueryContext, query: &Query) -> Vec<Vec<Message>> {
    let Some(spool) = spool else { return Vec::new() };
    if spool.health().pending_points == 0 {
        return Vec::new();
    }
    let per_statement: Vec<Vec<Message>> = query
        .statements
        .iter()
        .map(|s| {
            let mut dbs = crate::query::read_databases(s, ctx);
            dbs.sort();
            dbs.dedup();
            dbs.iter()
                .filter_map(|db| {
                    let n = spool.pending_points(db);
                    (n > 0).then(|| Message { level: "warning".into(), text: text(n, db) })
                })
                .collect()
        })
        .collect();
    if per_statement.iter().all(Vec::is_empty) {
        return Vec::new();
    }
    per_statement
}

fn text(n: u64, db: &str) -> String {
    format!(
        "{n} points written to database {db:?} are still spooled (the store was unavailable; they are being written to it): this result may not include them"
    )
}

/// Adds the warnings to the statements' results.
pub fn add_warnings(results: &mut [StatementResult], warnings: &[Vec<Message>]) {
    for r in results.iter_mut() {
        if let Some(w) = warnings.get(r.statement_id) {
            r.messages.extend(w.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_per_statement() {
        let mut results = vec![StatementResult { statement_id: 0, ..Default::default() }, StatementResult { statement_id: 1, ..Default::default() }];
        let w = vec![vec![], vec![Message { level: "warning".into(), text: text(3, "db") }]];
        add_warnings(&mut results, &w);
        assert!(results[0].messages.is_empty());
        assert_eq!(results[1].messages[0].text, "3 points written to database \"db\" are still spooled (the store was unavailable; they are being written to it): this result may not include them");
    }
}
