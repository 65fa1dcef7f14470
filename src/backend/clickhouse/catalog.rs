//! Databases, retention policies and the lists 1.x's `SHOW` statements read.
//!
//! A database is its base ClickHouse database holding a `catalog` table:
//!
//! ```text
//! kind String, name String,           -- ('db', '') for the database, ('rp', <name>) per policy
//! default_rp String,                  -- on the 'db' row: the default policy's name
//! duration Int64, shard_duration Int64, replication UInt64,   -- on 'rp' rows (ns)
//! created Int64, dropped UInt8, version UInt64
//! ENGINE ReplacingMergeTree(version) ORDER BY (kind, name)
//! ```
//!
//! A change is a new row with a higher `version`; readers take each (kind, name)'s latest row
//! (`argMax(..., version)`), so no row is ever updated in place. On a cluster the table is a
//! ReplicatedReplacingMergeTree of which every node is a replica (`{shard}-{replica}`), so any node
//! answers for every database. As in 1.x, the default policy is a name: dropping that policy
//! leaves it set, and writes without a policy then answer `retention policy not found`.
//! Databases are listed in creation order, as 1.x lists them.

use std::sync::Arc;

use super::client::{error_code, UNKNOWN_OBJECT};
use super::dialect::{ident, string, table};
use super::names::{ChDatabase, CATALOG};
use super::rowbinary::{Cursor, Encoder};
use super::{schema, Inner};
use crate::backend::{BackendError, Result, RetentionPolicy, RetentionPolicyUpdate};
use crate::model::FieldType;
use crate::rules::shards;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpInfo {
    pub name: String,
    pub duration: i64,
    pub sgd: i64,
    pub replication: u32,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbInfo {
    pub default_rp: String,
    pub created: i64,
    /// In creation order.
    pub rps: Vec<RpInfo>,
}

impl DbInfo {
    pub fn rp(&self, name: &str) -> Option<&RpInfo> {
        self.rps.iter().find(|r| r.name == name)
    }

    /// The named policy, or the default one for `None` / `""`.
    pub fn resolve(&self, rp: Option<&str>) -> Result<&RpInfo> {
        let name = rp.filter(|r| !r.is_empty()).unwrap_or(&self.default_rp);
        self.rp(name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.to_string()))
    }
}

/// Reads a database's catalog; `None` when the database does not exist.
async fn load(inner: &Inner, db: &str) -> Result<Option<DbInfo>> {
    let base = inner.names.base(db);
    let sql = format!(
        "SELECT kind, name, argMax(default_rp, version), argMax(duration, version), argMax(shard_duration, version), \
         argMax(replication, version), argMax(created, version), argMax(dropped, version) \
         FROM {} GROUP BY kind, name FORMAT RowBinary",
        table(&base, CATALOG)
    );
    let body = match inner.run(&sql).await {
        Err(e) if error_code(&e).is_some_and(|c| UNKNOWN_OBJECT.contains(&c)) => return Ok(None),
        r => r?,
    };
    let mut c = Cursor::new(&body);
    let mut info: Option<DbInfo> = None;
    let mut rps = Vec::new();
    while c.pos < body.len() {
        let (kind, name, default_rp) = (c.string()?, c.string()?, c.string()?);
        let nums = (c.i64(), c.i64(), c.u64(), c.i64(), c.u8());
        let (Some(kind), Some(name), Some(default_rp), (Some(duration), Some(sgd), Some(repl), Some(created), Some(dropped))) =
            (kind, name, default_rp, nums)
        else {
            return Err(BackendError::Internal("clickhouse: truncated catalog answer".into()));
        };
        match kind.as_str() {
            "db" if dropped == 0 => info = Some(DbInfo { default_rp, created, rps: Vec::new() }),
            "rp" if dropped == 0 => {
                rps.push(RpInfo { name, duration, sgd, replication: repl.min(u32::MAX as u64) as u32, created })
            }
            _ => {}
        }
    }
    Ok(info.map(|mut i| {
        rps.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
        i.rps = rps;
        i
    }))
}

/// A database's catalog, from the cache or the server.
pub async fn get(inner: &Inner, db: &str) -> Result<Option<Arc<DbInfo>>> {
    if let Some(i) = inner.cached_db(db) {
        return Ok(Some(i));
    }
    let info = load(inner, db).await?.map(Arc::new);
    if let Some(i) = &info {
        inner.cache_db(db, Some(i.clone()));
    }
    Ok(info)
}

/// A database's catalog, or `DatabaseNotFound`.
pub async fn need(inner: &Inner, db: &str) -> Result<Arc<DbInfo>> {
    get(inner, db).await?.ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))
}

/// Reads the catalog again (after a change).
async fn reload(inner: &Inner, db: &str) -> Result<Option<Arc<DbInfo>>> {
    inner.cache_db(db, None);
    get(inner, db).await
}

/// One catalog row.
struct Row<'a> {
    kind: &'a str,
    name: &'a str,
    default_rp: &'a str,
    rp: Option<&'a RpInfo>,
    created: i64,
    dropped: bool,
}

async fn put(inner: &Inner, db: &str, rows: &[Row<'_>]) -> Result<()> {
    let mut e = Encoder::default();
    for r in rows {
        e.bytes(r.kind.as_bytes());
        e.bytes(r.name.as_bytes());
        e.bytes(r.default_rp.as_bytes());
        let (d, s, n) = r.rp.map(|p| (p.duration, p.sgd, p.replication)).unwrap_or((0, 0, 0));
        e.i64(d);
        e.i64(s);
        e.u64(u64::from(n));
        e.i64(r.created);
        e.buf.push(u8::from(r.dropped));
        e.u64(inner.next_seq(1));
    }
    let target = format!(
        "{} (kind, name, default_rp, duration, shard_duration, replication, created, dropped, version)",
        table(&inner.names.base(db), CATALOG)
    );
    let done = inner.client.insert(&target, e.buf, &[]).await;
    inner.cache_db(db, None);
    inner.listings.forget_databases();
    done.map(|_| ())
}

fn catalog_engine(inner: &Inner) -> String {
    if inner.clustered() {
        let zk = format!("{}/catalog/{:016x}{:016x}", inner.opts.zookeeper_path.trim_end_matches('/'), rand::random::<u64>(), Inner::now());
        format!("ReplicatedReplacingMergeTree({}, '{{shard}}-{{replica}}', version)", string(&zk))
    } else {
        "ReplacingMergeTree(version)".to_string()
    }
}

/// Creates the ClickHouse databases of a retention policy.
async fn create_policy_databases(inner: &Inner, db: &str, rp: &str) -> Result<()> {
    inner.names.check(db, Some(rp))?;
    let on = inner.on_cluster();
    inner.run_ddl(&format!("CREATE DATABASE IF NOT EXISTS {}{on}", ident(&inner.names.policy(db, rp)))).await?;
    if inner.clustered() {
        inner.run_ddl(&format!("CREATE DATABASE IF NOT EXISTS {}{on}", ident(&inner.names.local(db, rp)))).await?;
    }
    inner.listings.forget_databases();
    Ok(())
}

/// The database's catalog, creating the database (with an `autogen` policy of the configured
/// default retention) when it does not exist. Called holding the DDL lock.
pub async fn ensure(inner: &Inner, db: &str) -> Result<Arc<DbInfo>> {
    if let Some(i) = get(inner, db).await? {
        return Ok(i);
    }
    if db.is_empty() {
        return Err(BackendError::Invalid("database name required".into()));
    }
    inner.names.check(db, None)?;
    inner.names.check(db, Some("autogen"))?;
    let base = inner.names.base(db);
    let on = inner.on_cluster();
    inner.run_ddl(&format!("CREATE DATABASE IF NOT EXISTS {}{on}", ident(&base))).await?;
    inner.listings.forget_databases();
    inner
        .run_ddl(&format!(
            "CREATE TABLE IF NOT EXISTS {}{on} (kind String, name String, default_rp String, duration Int64, \
             shard_duration Int64, replication UInt64, created Int64, dropped UInt8, version UInt64) \
             ENGINE = {} ORDER BY (kind, name)",
            table(&base, CATALOG),
            catalog_engine(inner)
        ))
        .await?;
    // Another influxgate may have made it meanwhile.
    if let Some(i) = reload(inner, db).await? {
        return Ok(i);
    }
    create_policy_databases(inner, db, "autogen").await?;
    let d = inner.opts.default_retention;
    let now = Inner::now();
    let rp = RpInfo { name: "autogen".into(), duration: d, sgd: shards::default_duration(d), replication: 1, created: now };
    put(
        inner,
        db,
        &[
            Row { kind: "rp", name: "autogen", default_rp: "", rp: Some(&rp), created: now, dropped: false },
            Row { kind: "db", name: "", default_rp: "autogen", rp: None, created: now, dropped: false },
        ],
    )
    .await?;
    need(inner, db).await
}

pub async fn create_database(inner: &Inner, db: &str) -> Result<()> {
    let _g = inner.ddl.lock().await;
    ensure(inner, db).await.map(|_| ())
}

/// Every ClickHouse database of this process's prefix, parsed.
async fn ch_databases(inner: &Inner) -> Result<Vec<(String, ChDatabase)>> {
    Ok(parsed(inner, ch_database_names(inner).await?))
}

fn parsed(inner: &Inner, names: impl IntoIterator<Item = String>) -> Vec<(String, ChDatabase)> {
    names.into_iter().filter_map(|n| inner.names.parse(&n).map(|p| (n, p))).collect()
}

/// The names of every ClickHouse database of this process's prefix.
async fn ch_database_names(inner: &Inner) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT name FROM system.databases WHERE startsWith(name, {}) FORMAT RowBinary",
        string(&inner.names.prefix)
    );
    let body = inner.run(&sql).await?;
    let mut c = Cursor::new(&body);
    let mut out = Vec::new();
    while c.pos < body.len() {
        let Some(name) = c.string()? else {
            return Err(BackendError::Internal("clickhouse: truncated system.databases answer".into()));
        };
        out.push(name);
    }
    Ok(out)
}

pub async fn drop_database(inner: &Inner, db: &str) -> Result<()> {
    let _g = inner.ddl.lock().await;
    let on = inner.on_cluster();
    let mut all = ch_databases(inner).await?;
    // Series tables first (their views read the policies' tables), the base (with the catalog)
    // last: a half-done drop still lists the database.
    all.sort_by_key(|(_, p)| match p {
        ChDatabase::Series(..) => 0,
        ChDatabase::Base(_) => 2,
        _ => 1,
    });
    for (name, p) in all {
        let ours = match &p {
            ChDatabase::Base(d) | ChDatabase::Policy(d, _) | ChDatabase::Local(d, _) | ChDatabase::Series(d, _) => d == db,
        };
        if ours {
            inner.run_ddl(&format!("DROP DATABASE IF EXISTS {}{on}", ident(&name))).await?;
        }
    }
    inner.forget_db(db);
    inner.tracker.forget(db);
    Ok(())
}

/// Database names in creation order (the list of ClickHouse databases kept a while, see
/// [`listing`](mod@super::listing)).
pub async fn databases(inner: &Inner) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let names = super::listing::databases(inner, ch_database_names(inner)).await?;
    for (_, p) in parsed(inner, names.iter().cloned()) {
        if let ChDatabase::Base(db) = p {
            if let Some(i) = get(inner, &db).await? {
                found.push((i.created, db));
            }
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, d)| d).collect())
}

pub async fn retention_policies(inner: &Inner, db: &str) -> Result<Vec<RetentionPolicy>> {
    let info = need(inner, db).await?;
    Ok(info
        .rps
        .iter()
        .map(|r| RetentionPolicy {
            name: r.name.clone(),
            duration: r.duration,
            shard_group_duration: r.sgd,
            replication: r.replication,
            default: r.name == info.default_rp,
        })
        .collect())
}

pub async fn create_retention_policy(inner: &Inner, db: &str, rp: RetentionPolicy) -> Result<()> {
    let sgd = shards::check_new_policy(&rp.name, rp.replication, rp.duration, rp.shard_group_duration)
        .map_err(BackendError::Invalid)?;
    let _g = inner.ddl.lock().await;
    let info = reload(inner, db).await?.ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
    if let Some(existing) = info.rp(&rp.name) {
        // 1.x: the same policy again is no error; a different one is.
        if existing.replication != rp.replication || existing.duration != rp.duration || existing.sgd != sgd {
            return Err(BackendError::RetentionPolicyConflict(rp.name.clone()));
        }
        if rp.default && info.default_rp != rp.name {
            return Err(BackendError::Invalid("retention policy conflicts with an existing policy".into()));
        }
        return Ok(());
    }
    create_policy_databases(inner, db, &rp.name).await?;
    let now = Inner::now();
    let new = RpInfo { name: rp.name.clone(), duration: rp.duration, sgd, replication: rp.replication, created: now };
    let mut rows = vec![Row { kind: "rp", name: &rp.name, default_rp: "", rp: Some(&new), created: now, dropped: false }];
    if rp.default {
        rows.push(Row { kind: "db", name: "", default_rp: &rp.name, rp: None, created: info.created, dropped: false });
    }
    put(inner, db, &rows).await
}

pub async fn alter_retention_policy(inner: &Inner, db: &str, name: &str, update: RetentionPolicyUpdate) -> Result<()> {
    let _g = inner.ddl.lock().await;
    let info = reload(inner, db).await?.ok_or_else(|| BackendError::DatabaseNotFound(db.to_string()))?;
    let r = info.rp(name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.to_string()))?;
    if let Some(d) = update.duration {
        shards::check_duration(d).map_err(BackendError::Invalid)?;
    }
    let duration = update.duration.unwrap_or(r.duration);
    shards::check_fits(duration, update.shard_group_duration.unwrap_or(r.sgd)).map_err(BackendError::Invalid)?;
    let sgd = match update.shard_group_duration {
        Some(s) => shards::normalize(s, duration),
        None => r.sgd,
    };
    let new = RpInfo { duration, sgd, replication: update.replication.unwrap_or(r.replication), ..r.clone() };
    let mut rows = vec![Row { kind: "rp", name, default_rp: "", rp: Some(&new), created: r.created, dropped: false }];
    if update.make_default {
        rows.push(Row { kind: "db", name: "", default_rp: name, rp: None, created: info.created, dropped: false });
    }
    put(inner, db, &rows).await
}

pub async fn drop_retention_policy(inner: &Inner, db: &str, name: &str) -> Result<()> {
    let _g = inner.ddl.lock().await;
    // 1.x: dropping a policy of a missing database, or a missing policy, is not an error.
    let Some(info) = reload(inner, db).await? else { return Ok(()) };
    let Some(r) = info.rp(name).cloned() else { return Ok(()) };
    let on = inner.on_cluster();
    // The series tables first: their views read the policy's tables.
    inner.run_ddl(&format!("DROP DATABASE IF EXISTS {}{on}", ident(&inner.names.series(db, name)))).await?;
    if inner.clustered() {
        inner.run_ddl(&format!("DROP DATABASE IF EXISTS {}{on}", ident(&inner.names.local(db, name)))).await?;
    }
    inner.run_ddl(&format!("DROP DATABASE IF EXISTS {}{on}", ident(&inner.names.policy(db, name)))).await?;
    put(inner, db, &[Row { kind: "rp", name, default_rp: "", rp: Some(&r), created: r.created, dropped: true }]).await?;
    inner.forget_db(db);
    inner.tracker.forget(db);
    Ok(())
}

/// The policies a catalog call concerns: the named one, or all of them for `None` / `""`.
pub fn policies<'a>(info: &'a DbInfo, rp: Option<&str>) -> Result<Vec<&'a RpInfo>> {
    match rp.filter(|r| !r.is_empty()) {
        Some(name) => Ok(vec![info.rp(name).ok_or_else(|| BackendError::RetentionPolicyNotFound(name.to_string()))?]),
        None => Ok(info.rps.iter().collect()),
    }
}

/// `rp = None`: measurements of every policy, as 1.x's `SHOW MEASUREMENTS`.
pub async fn measurements(inner: &Inner, db: &str, rp: Option<&str>) -> Result<Vec<String>> {
    let info = need(inner, db).await?;
    let mut out = Vec::new();
    for r in policies(&info, rp)? {
        out.extend(schema::tables(inner, &inner.names.policy(db, &r.name)).await?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `rp = None`: the default policy, as 1.x's `SHOW FIELD KEYS`.
pub async fn field_keys(inner: &Inner, db: &str, rp: Option<&str>, m: &str) -> Result<Vec<(String, FieldType)>> {
    let info = need(inner, db).await?;
    let r = info.resolve(rp)?;
    let Some(s) = schema::get(inner, &inner.names.policy(db, &r.name), m).await? else { return Ok(Vec::new()) };
    Ok(s.fields.iter().map(|(k, (_, t))| (k.clone(), *t)).collect())
}
