//! `DROP MEASUREMENT`, `DROP SERIES` and `DELETE`.
//!
//! * A request that takes every series of a measurement over all time drops its table.
//! * Otherwise the matching series are listed (exactly, as reads list them) and their rows go
//!   with one mutation per table, `ALTER TABLE ... DELETE WHERE _series IN (...) [AND time ...]`
//!   (`ON CLUSTER` on a cluster). Mutations run in the background in ClickHouse; the request
//!   answers once every node reports them done (`system.mutations`, on a cluster every node's
//!   through `remote()`), within `mutation_timeout`.
//! * As in 1.x, a series left without points is gone (series are read from the rows), and a
//!   measurement left without series is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::catalog;
use super::dialect::{bytes, ident, int, string};
use super::names::{series_id, SERIES, TIME};
use super::scan::Rows;
use super::schema;
use super::Inner;
use crate::backend::{BackendError, DeleteRequest, Result, TagPredicate};

/// The longest `IN (...)` list one mutation carries (bytes of SQL).
const MAX_MUTATION_SQL: usize = 4 << 20;

pub async fn delete(inner: &Arc<Inner>, req: DeleteRequest) -> Result<()> {
    // The series and tables are listed afresh (a list kept might miss what was written straight
    // to ClickHouse within `listing_ttl_ms`).
    inner.listings.forget_all();
    let done = delete_rows(inner, &req).await;
    // Before the answer, whatever it is (a mutation may go on): kept series lists are forgotten.
    inner.listings.forget_all();
    done
}

async fn delete_rows(inner: &Arc<Inner>, req: &DeleteRequest) -> Result<()> {
    let info = catalog::need(inner, &req.db).await?;
    let whole_time = req.min_time == i64::MIN && req.max_time == i64::MAX;
    for r in &info.rps {
        let chdb = inner.names.policy(&req.db, &r.name);
        for m in schema::tables(inner, &chdb).await? {
            if !req.measurements.matches(&m) {
                continue;
            }
            if req.drop_series && whole_time && matches!(req.tags, TagPredicate::True) {
                schema::drop_table(inner, &req.db, &r.name, &m).await?;
                continue;
            }
            let all = super::scan::series(inner, &req.db, Some(&r.name), &crate::backend::MeasurementFilter::Names(vec![m.clone()]), &TagPredicate::True).await?;
            let hit: Vec<_> = all.iter().filter(|x| req.tags.matches(&x.tags)).collect();
            if hit.is_empty() {
                continue;
            }
            if req.drop_series && whole_time && hit.len() == all.len() {
                schema::drop_table(inner, &req.db, &r.name, &m).await?;
                continue;
            }
            let time = if whole_time || req.drop_series {
                String::new()
            } else {
                format!(" AND {t} >= {} AND {t} <= {}", int(req.min_time), int(req.max_time), t = ident(TIME))
            };
            let ids: Vec<String> = hit.iter().map(|x| bytes(&series_id(&x.tags))).collect();
            let storage = schema::storage_table(inner, &req.db, &r.name, &m);
            for list in batches(&ids) {
                let sql = format!(
                    "ALTER TABLE {storage}{} DELETE WHERE {} IN ({list}){time}",
                    inner.on_cluster(),
                    ident(SERIES)
                );
                inner.run_ddl(&sql).await?;
            }
            wait_for_mutations(inner, &req.db, &r.name, &m).await?;
            if schema::get(inner, &chdb, &m).await?.is_some_and(|s| s.series_table) {
                // The table's own shard group duration (a policy's may have changed since).
                let parts = super::retention::partitions(inner, &req.db, &r.name, &m).await?;
                if let Some(sgd) = parts.iter().find(|(s, e)| e > s).map(|(s, e)| e - s) {
                    for list in batches(&ids) {
                        super::series_table::refresh(inner, &req.db, &r.name, &m, sgd, &list).await?;
                    }
                }
            }
            drop_if_empty(inner, &req.db, &r.name, &m).await?;
        }
    }
    inner.tracker.forget(&req.db);
    Ok(())
}

/// Comma-separated lists of at most `MAX_MUTATION_SQL` bytes.
fn batches(items: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for it in items {
        if !cur.is_empty() && cur.len() + it.len() + 2 > MAX_MUTATION_SQL {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(", ");
        }
        cur.push_str(it);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Waits until no mutation of the table is pending on any node.
pub async fn wait_for_mutations(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<()> {
    let (chdb, source) = inner.system_source(db, rp, "mutations").await?;
    wait_mutations_of(inner, &source, &chdb, m, m).await
}

/// Waits until no mutation of table `tbl` of `chdb` is pending on any node (`source`: the
/// `system.mutations` of every node); `m` names the measurement in the timeout's text.
pub async fn wait_mutations_of(inner: &Inner, source: &str, chdb: &str, tbl: &str, m: &str) -> Result<()> {
    let sql = format!(
        "SELECT count() FROM {source} WHERE database = {} AND table = {} AND is_done = 0 FORMAT RowBinary",
        string(chdb),
        string(tbl)
    );
    let deadline = Instant::now() + inner.opts.mutation_timeout;
    loop {
        let body = inner.run(&sql).await?;
        let pending = super::rowbinary::Cursor::new(&body).u64().unwrap_or(1);
        if pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BackendError::Timeout(format!(
                "clickhouse: the delete on {m:?} is still running after {:?} (it goes on in the background)",
                inner.opts.mutation_timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Drops a measurement's table when it holds no row.
pub async fn drop_if_empty(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<()> {
    let sql = format!("SELECT count() FROM {} FORMAT RowBinary", super::dialect::table(&inner.names.policy(db, rp), m));
    let mut rows = Rows::new(inner.client.stream(&sql, &inner.select_settings()).await?);
    let n = rows.next(|c| Ok(c.u64())).await?.unwrap_or(1);
    if n == 0 {
        schema::drop_table(inner, db, rp, m).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_literals() {
        assert_eq!(batches(&["'a'".into(), "'b'".into()]), vec!["'a', 'b'".to_string()]);
    }
}
