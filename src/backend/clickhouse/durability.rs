//! What the write spool (`crate::spool`) needs of ClickHouse.
//!
//! ClickHouse answers an INSERT once the rows are written to the part files of every shard
//! (influxgate inserts synchronously through the Distributed table, `insert_distributed_sync`),
//! so an acknowledged write survives a `kill -9` of `clickhouse-server`: the spool keeps no
//! durability window for it, and never needs to tell one server process from the next. (The
//! files are not fsynced by default, so a power loss of a ClickHouse machine can lose the last
//! seconds; that is ClickHouse's own guarantee, set by its `fsync_*` MergeTree settings.)
//!
//! While the spool queues writes (the store is down), the only checks made before a write is
//! acknowledged are the ones that need no server: names ClickHouse cannot hold. A field type
//! conflict found on replay goes to the dead letters with ClickHouse's reason.

use async_trait::async_trait;

use super::ClickHouseBackend;
use crate::backend::{Result, WriteBatch};

#[async_trait]
impl crate::spool::Remote for ClickHouseBackend {
    /// Never asked: the spool watches for restarts only of a store that is not durable when it
    /// acknowledges (`durable_when_acknowledged`); a ClickHouse restart loses no acknowledged insert.
    async fn instance(&self) -> Result<u64> {
        Ok(0)
    }

    fn precheck(&self, batch: &WriteBatch) -> Result<()> {
        super::write::check_names(batch)
    }

    fn durable_when_acknowledged(&self) -> bool {
        true
    }
}
