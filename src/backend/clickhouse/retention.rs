//! Retention: a policy's duration enforced as 1.x enforces it, by dropping whole shard groups.
//!
//! Every table is partitioned by its policy's shard groups (`(start, end)` in ns, see
//! [`schema::partition_key`]), so a shard group is a partition. Every `retention_check_interval`
//! (and on [`enforce`]) each policy with a duration drops the partitions whose end is before
//! now − duration — 1.x's `ShardGroup.EndTime.Before(now - duration)` — with `ALTER TABLE ... DROP
//! PARTITION` (`ON CLUSTER` on a cluster, where every node's partitions are listed through
//! `remote()`), and a table left without rows is dropped, as a measurement without shards is gone
//! in 1.x. Writes leave out points older than now − duration (see [`write`](mod@super::write)).
//!
//! This works the same on 18.16, which has no table TTL, and on current releases. A table keeps
//! the shard group duration its policy had when the table was made: `ALTER RETENTION POLICY ...
//! SHARD DURATION` applies to measurements made afterwards (1.x applies it to shard groups made
//! afterwards).

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::dialect::string;
use super::scan::Rows;
use super::{catalog, delete, schema, series_table, Inner};
use crate::backend::Result;

/// Starts the background task (inside a tokio runtime, with an interval).
pub fn spawn(inner: &Arc<Inner>) -> Option<tokio::task::JoinHandle<()>> {
    let every = u64::try_from(inner.opts.retention_check_interval).ok().filter(|n| *n > 0)?;
    let rt = tokio::runtime::Handle::try_current().ok()?;
    let weak: Weak<Inner> = Arc::downgrade(inner);
    Some(rt.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_nanos(every)).await;
            let Some(inner) = weak.upgrade() else { break };
            if let Err(e) = enforce(&inner).await {
                tracing::warn!("clickhouse retention enforcement failed: {e}");
            }
        }
    }))
}

/// Drops the expired shard groups of every database now.
pub async fn enforce(inner: &Inner) -> Result<()> {
    let now = Inner::now();
    for db in catalog::databases(inner).await? {
        let Some(info) = catalog::get(inner, &db).await? else { continue };
        for r in info.rps.iter().filter(|r| r.duration > 0) {
            let cutoff = now.saturating_sub(r.duration);
            for m in schema::tables(inner, &inner.names.policy(&db, &r.name)).await? {
                let mut dropped = false;
                for (start, end) in partitions(inner, &db, &r.name, &m).await? {
                    // An end past i64::MAX wraps in ClickHouse: such a group never expires.
                    if end > start && end < cutoff {
                        let sql = format!(
                            "ALTER TABLE {}{} DROP PARTITION ({start}, {end})",
                            schema::storage_table(inner, &db, &r.name, &m),
                            inner.on_cluster()
                        );
                        inner.run_ddl(&sql).await?;
                        if schema::get(inner, &inner.names.policy(&db, &r.name), &m).await?.is_some_and(|s| s.series_table) {
                            series_table::drop_partition(inner, &db, &r.name, &m, start, end).await?;
                        }
                        dropped = true;
                    }
                }
                if dropped {
                    inner.listings.forget_series(&inner.names.policy(&db, &r.name), &m);
                    delete::drop_if_empty(inner, &db, &r.name, &m).await?;
                    inner.tracker.forget(&db);
                }
            }
        }
    }
    Ok(())
}

/// The shard groups (partitions) a table has rows in, on every node.
pub(super) async fn partitions(inner: &Inner, db: &str, rp: &str, m: &str) -> Result<Vec<(i64, i64)>> {
    let (chdb, source) = inner.system_source(db, rp, "parts").await?;
    let sql = format!(
        "SELECT DISTINCT partition FROM {source} WHERE database = {} AND table = {} AND active FORMAT RowBinary",
        string(&chdb),
        string(m)
    );
    let mut rows = Rows::new(inner.client.stream(&sql, &inner.select_settings()).await?);
    let mut out = Vec::new();
    while let Some(p) = rows.next(|c| c.string()).await? {
        if let Some(x) = parse_partition(&p) {
            out.push(x);
        }
    }
    Ok(out)
}

/// `(start,end)` as ClickHouse prints a partition of two Int64s.
fn parse_partition(p: &str) -> Option<(i64, i64)> {
    let inner = p.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (a, b) = inner.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn partitions_parse() {
        assert_eq!(super::parse_partition("(-259200000000000,345600000000000)"), Some((-259200000000000, 345600000000000)));
        assert_eq!(super::parse_partition("(1, 2)"), Some((1, 2)));
        assert_eq!(super::parse_partition("tuple()"), None);
    }
}
