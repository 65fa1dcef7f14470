//! The ClickHouse test harness itself (tests/common/clickhouse.rs): a single 18.16 server, a
//! two-shard cluster with ZooKeeper (ON CLUSTER DDL, Distributed inserts spread over both shards),
//! and the chdb adapter (a current ClickHouse behind the HTTP interface).

mod common;

use common::clickhouse::{ClickHouse, Chdb, CLUSTER};

#[test]
fn single_server_answers() {
    let ch = ClickHouse::single();
    assert_eq!(ch.nodes[0].query("SELECT version()").trim(), "18.16.1");
}

#[test]
fn cluster_spreads_rows_over_shards() {
    let ch = ClickHouse::cluster(&[1, 1]);
    let n = &ch.nodes[0];
    n.query(&format!("CREATE DATABASE h ON CLUSTER {CLUSTER}"));
    n.query(&format!(
        "CREATE TABLE h.l ON CLUSTER {CLUSTER} (k UInt64) ENGINE = ReplicatedMergeTree('/t/{{shard}}/l', '{{replica}}') ORDER BY k"
    ));
    n.query(&format!("CREATE TABLE h.d ON CLUSTER {CLUSTER} AS h.l ENGINE = Distributed({CLUSTER}, h, l, k)"));
    common::clickhouse::query(&format!("{}/?insert_distributed_sync=1", n.url), "INSERT INTO h.d SELECT number FROM system.numbers LIMIT 100").unwrap();
    for node in &ch.nodes {
        assert_eq!(node.query("SELECT count() FROM h.l").trim(), "50", "{}", node.url);
        assert_eq!(node.query("SELECT count() FROM h.d").trim(), "100", "{}", node.url);
    }
}

#[test]
fn chdb_adapter_answers_a_current_engine() {
    let c = Chdb::start();
    let v = common::clickhouse::query(&c.url, "SELECT version()").unwrap();
    let major: u32 = v.trim().split('.').next().unwrap().parse().unwrap();
    assert!(major >= 23, "{v}");
    let e = common::clickhouse::query(&c.url, "SELECT throwIf(1)").unwrap_err();
    assert!(e.contains("Code: 395"), "{e}");
}
