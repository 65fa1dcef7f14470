//! The query engine: InfluxQL statements (parsed by `influxql`) answered from a `Backend`.
//!
//! `execute` runs a query's statements in order and answers one `StatementResult` each, with
//! errors worded as InfluxDB 1.6.7 words them. SELECTs go through `select` (planner + reference
//! evaluator, reading only `Backend::scan`); meta and DDL statements through `meta`. A store that
//! executes InfluxQL itself (`Backend::statements`) gets them as text instead (`upstream`).
//!
//! Layout: `lower` turns the parser's AST into `ir`; `cond` takes the time range and the
//! tag-only part (pushed to the store as a `TagPredicate`) out of WHERE; `eval` holds value
//! semantics (arithmetic, comparisons, casts); `select` resolves sources against the catalog,
//! expands `*`/regexes, reads series through `Backend::scan` (rows filtered while read, LIMIT
//! capping each series) and answers raw rows (merged across series exactly as 1.x's heap merge
//! orders equal times), aggregates (via `functions`, reduced per series and shard group as 1.x
//! layers them, or pushed down through `Backend::aggregate` where the store can and buckets stay
//! inside shard groups), transformations, fills, subqueries and SELECT INTO.
//!
//! Tests: `tests.rs` holds tables of statements with the answers captured from a real 1.6.7,
//! run on `testing::MemBackend` (a second, independent in-memory store) and on the embedded
//! store; `oracle_harness` (ignored) replays a case file against a data set for comparison.

pub mod functions;
pub mod result;

pub(crate) mod cond;
pub mod error;
pub(crate) mod eval;
pub mod govern;
pub(crate) mod ir;
pub(crate) mod lower;
mod meta;
mod select;
pub mod settings;
pub mod snapshot;
pub mod stream;
mod upstream;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use crate::backend::Backend;
use crate::influxql::ast as a;

use error::{QResult, QueryError};
use result::{Series, StatementResult};

/// Who asks, about which database, when.
pub struct QueryContext {
    /// The request's `db` parameter.
    pub db: Option<String>,
    /// The request's `rp` parameter.
    pub rp: Option<String>,
    /// `now()`, nanoseconds since the epoch, fixed for the whole query.
    pub now: i64,
    /// Whether the caller may read a database (filters SHOW DATABASES, guards reads).
    pub can_read: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Management statements (CREATE/DROP DATABASE, retention policies, deletes) need this.
    pub is_admin: bool,
    /// Rows per series chunk for chunked answers (0 = no chunking); informational here.
    pub chunk_size: usize,
    /// Stops the query (deadline, `KILL QUERY`, client gone) and accounts its memory.
    pub governor: govern::Governor,
    /// The running queries, for `SHOW QUERIES` and `KILL QUERY`; `None` = only this one.
    pub registry: Option<std::sync::Arc<govern::Registry>>,
    /// This query's id in `registry`.
    pub query_id: u64,
    /// How the engine runs (`[query]`).
    pub settings: settings::Settings,
}

impl QueryContext {
    /// A context for an admin on `db`, `now` = the current time.
    pub fn admin(db: Option<&str>) -> QueryContext {
        QueryContext {
            db: db.map(str::to_string),
            rp: None,
            now: now_ns(),
            can_read: Box::new(|_| true),
            is_admin: true,
            chunk_size: 0,
            governor: govern::Governor::default(),
            registry: None,
            query_id: 1,
            settings: settings::Settings::default(),
        }
    }
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The statement kinds that need admin rights.
fn needs_admin(s: &a::Statement) -> bool {
    use a::Statement::*;
    if let Select(sel) = s {
        // SELECT ... INTO writes.
        return sel.into.is_some();
    }
    matches!(
        s,
        CreateDatabase(_)
            | DropDatabase { .. }
            | CreateRetentionPolicy(_)
            | AlterRetentionPolicy(_)
            | DropRetentionPolicy { .. }
            | DropMeasurement { .. }
            | DropSeries(_)
            | Delete(_)
            | DropShard { .. }
            | CreateUser { .. }
            | DropUser { .. }
            | SetPassword { .. }
            | Grant { .. }
            | GrantAdmin { .. }
            | Revoke { .. }
            | RevokeAdmin { .. }
            | ShowUsers
            | ShowGrants { .. }
            | CreateContinuousQuery(_)
            | DropContinuousQuery { .. }
            | CreateSubscription(_)
            | DropSubscription { .. }
            | KillQuery { .. }
            | ShowShards
            | ShowShardGroups
            | ShowSubscriptions
            | ShowStats { .. }
            | ShowDiagnostics { .. }
    )
}

/// The databases a statement reads (for authorization), `ctx.db` standing in for none named.
pub fn read_databases(s: &a::Statement, ctx: &QueryContext) -> Vec<String> {
    fn from_sources(sources: &[a::Source], ctx: &QueryContext, out: &mut Vec<String>) {
        for src in sources {
            match src {
                a::Source::Measurement(m) => {
                    let db = if m.database.is_empty() { ctx.db.clone().unwrap_or_default() } else { m.database.clone() };
                    out.push(db);
                }
                a::Source::Subquery(sel) => from_sources(&sel.sources, ctx, out),
            }
        }
    }
    let mut out = Vec::new();
    let on = |d: &Option<String>| d.clone().or_else(|| ctx.db.clone()).unwrap_or_default();
    match s {
        a::Statement::Select(sel) => from_sources(&sel.sources, ctx, &mut out),
        a::Statement::Explain { statement, .. } => from_sources(&statement.sources, ctx, &mut out),
        a::Statement::ShowMeasurements(x) => out.push(on(&x.database)),
        a::Statement::ShowTagKeys(x) => out.push(on(&x.database)),
        a::Statement::ShowTagValues(x) => out.push(on(&x.database)),
        a::Statement::ShowFieldKeys(x) => out.push(on(&x.database)),
        a::Statement::ShowSeries(x) => out.push(on(&x.database)),
        a::Statement::ShowCardinality(x) => out.push(on(&x.database)),
        a::Statement::ShowRetentionPolicies { database } => out.push(on(database)),
        _ => {}
    }
    out.retain(|d| !d.is_empty());
    out
}

/// Checks a whole query before running it, as 1.x's handler does; the error is 1.x's
/// request-level text, e.g. `error authorizing query: bob not authorized to execute statement
/// 'CREATE DATABASE x', requires admin privilege` (1.6.7 answers it with 403 Forbidden).
/// SHOW DATABASES needs no right (it lists only the readable databases).
pub fn authorize(ctx: &QueryContext, user: &str, query: &a::Query) -> Result<(), String> {
    if ctx.is_admin {
        return Ok(());
    }
    for s in query.statements.iter() {
        if needs_admin(s) {
            return Err(format!(
                "error authorizing query: {user} not authorized to execute statement '{s}', requires admin privilege"
            ));
        }
        for db in read_databases(s, ctx) {
            if !(ctx.can_read)(&db) {
                return Err(format!(
                    "error authorizing query: {user} not authorized to execute statement '{s}', requires READ on {db}"
                ));
            }
        }
    }
    Ok(())
}

/// Runs every statement of `query` and answers one result per statement.
///
/// As 1.6.7 does, execution stops at the first failing statement; when statements follow it,
/// 1.6.7's answer shows that statement's result as `not executed`. A failure of the store (not
/// the statement's fault, see [`error::QueryError`]) is the whole query's: `Err`.
pub async fn execute(
    backend: &dyn Backend,
    ctx: &QueryContext,
    query: &a::Query,
) -> Result<Vec<StatementResult>, crate::backend::BackendError> {
    let n = query.statements.len();
    let mut out = Vec::with_capacity(n);
    for (i, s) in query.statements.iter().enumerate() {
        // A stopped query (deadline, KILL QUERY, client gone) stops waiting on the store too.
        let run = async {
            ctx.governor.check()?;
            tokio::select! {
                biased;
                why = ctx.governor.stopped() => Err(QueryError::from(why.message())),
                r = execute_statement(backend, ctx, s) => r,
            }
        };
        // A SELECT charges its rows as it builds them; other statements' answers (SHOW SERIES over
        // a large catalog) are charged here.
        let run = async {
            let series = run.await?;
            if !matches!(s, a::Statement::Select(_)) {
                let bytes = series.iter().flat_map(|x| &x.values).map(|r| govern::row_bytes(r.len())).sum();
                ctx.governor.charge(bytes)?;
            }
            Ok::<_, QueryError>(series)
        };
        match run.await {
            Ok(series) => {
                // tz('Zone'): the encoders print this statement's times in that zone.
                let time_zone = match s {
                    a::Statement::Select(sel) => sel.location.as_ref().map(|l| l.zone),
                    _ => None,
                };
                out.push(StatementResult { statement_id: i, series, time_zone, ..Default::default() })
            }
            Err(QueryError::Store(e)) => return Err(e),
            Err(e) => {
                let text = if i + 1 < n { "not executed".to_string() } else { e.message() };
                out.push(StatementResult { statement_id: i, error: Some(text), ..Default::default() });
                break;
            }
        }
    }
    Ok(out)
}

/// Runs one statement.
pub async fn execute_statement(backend: &dyn Backend, ctx: &QueryContext, s: &a::Statement) -> QResult<Vec<Series>> {
    use a::Statement::*;
    if needs_admin(s) && !ctx.is_admin {
        return Err(format!("error authorizing query: not authorized to execute statement '{s}', requires admin privilege").into());
    }
    for db in read_databases(s, ctx) {
        if !ctx.is_admin && !(ctx.can_read)(&db) {
            return Err(format!("error authorizing query: not authorized to execute statement '{s}', requires READ on {db}").into());
        }
    }
    if let Some(store) = backend.statements().filter(|_| upstream::forwarded(s)) {
        return upstream::run(store, ctx, s).await;
    }
    match s {
        // One catalog snapshot per statement (see `snapshot`).
        Select(sel) => select::statement(&snapshot::CatalogSnapshot::new(backend), ctx, sel).await,
        Explain { .. } => Err("EXPLAIN is not supported".into()),
        ShowDatabases => meta::show_databases(backend, ctx).await,
        CreateDatabase(c) => meta::create_database(backend, c).await,
        DropDatabase { name } => meta::drop_database(backend, name).await,
        ShowRetentionPolicies { database } => meta::show_retention_policies(backend, ctx, database).await,
        CreateRetentionPolicy(c) => meta::create_retention_policy(backend, c).await,
        AlterRetentionPolicy(c) => meta::alter_retention_policy(backend, c).await,
        DropRetentionPolicy { name, database } => meta::drop_retention_policy(backend, database, name).await,
        ShowMeasurements(x) => meta::show_measurements(backend, ctx, x).await,
        ShowTagKeys(x) => meta::show_tag_keys(backend, ctx, x).await,
        ShowTagValues(x) => meta::show_tag_values(backend, ctx, x).await,
        ShowFieldKeys(x) => meta::show_field_keys(backend, ctx, x).await,
        ShowSeries(x) => meta::show_series(backend, ctx, x).await,
        ShowCardinality(x) => meta::show_cardinality(backend, ctx, x).await,
        DropMeasurement { name } => meta::drop_measurement(backend, ctx, name).await,
        DropSeries(d) => meta::delete(backend, ctx, d, true).await,
        Delete(d) => meta::delete(backend, ctx, d, false).await,
        ShowUsers => Ok(vec![Series { columns: vec!["user".into(), "admin".into()], ..Default::default() }]),
        ShowContinuousQueries => {
            // No continuous queries here: one empty series per database, as 1.x lists them
            // (1.x lists every database; only those the caller may read are shown here).
            let dbs = backend.databases().await?;
            Ok(dbs
                .into_iter()
                .filter(|d| ctx.is_admin || (ctx.can_read)(d))
                .map(|d| Series { name: d, columns: vec!["name".into(), "query".into()], ..Default::default() })
                .collect())
        }
        ShowQueries => Ok(vec![show_queries(ctx)]),
        ShowGrants { .. } => Err("user not found".into()),
        KillQuery { id, .. } => match &ctx.registry {
            Some(r) => Ok(r.kill(*id).map(|()| Vec::new())?),
            None => Err(format!("no such query id: {id}").into()),
        },
        ShowShardGroups => Ok(vec![Series {
            name: "shard groups".into(),
            columns: ["id", "database", "retention_policy", "start_time", "end_time", "expiry_time"]
                .iter()
                .map(|c| c.to_string())
                .collect(),
            ..Default::default()
        }]),
        ShowShards | ShowSubscriptions | ShowStats { .. } | ShowDiagnostics { .. } => Ok(vec![]),
        _ => Err("statement not supported by influxgate".into()),
    }
}

/// `SHOW QUERIES`: 1.x's columns, one row per running query (this one included), by id. 1.x lists
/// every query; a caller that is not admin sees only those on databases it may read.
fn show_queries(ctx: &QueryContext) -> Series {
    use result::Value as V;
    let row = |id: u64, text: String, db: String, d: std::time::Duration, killed: bool| {
        let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let status = if killed { "killed" } else { "running" };
        vec![
            V::Integer(i64::try_from(id).unwrap_or(i64::MAX)),
            V::String(text),
            V::String(db),
            V::String(crate::rules::durations::go_string_truncated(ns)),
            V::String(status.into()),
        ]
    };
    let values = match &ctx.registry {
        Some(r) => r
            .list()
            .into_iter()
            .filter(|q| ctx.is_admin || (ctx.can_read)(&q.database))
            .map(|q| row(q.id, q.text, q.database, q.duration, q.killed))
            .collect(),
        None => vec![row(ctx.query_id, "SHOW QUERIES".into(), ctx.db.clone().unwrap_or_default(), Default::default(), false)],
    };
    Series {
        columns: ["qid", "query", "database", "duration", "status"].iter().map(|c| c.to_string()).collect(),
        values,
        ..Default::default()
    }
}

/// `execute` must be usable from a multi-threaded server.
#[allow(dead_code)]
fn assert_execute_is_send(b: &dyn Backend, ctx: &QueryContext, q: &a::Query) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&execute(b, ctx, q));
}
