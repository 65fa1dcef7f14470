//! Cardinality limits on the ClickHouse backend (`[limits] max_series_per_database`,
//! `max_values_per_tag`): a batch that would pass one is refused whole with 1.x's text before
//! any row reaches ClickHouse, and the counts include what ClickHouse already holds (after an
//! influxgate restart, and series in several retention policies counted once).

use crate::common::clickhouse::ClickHouse;
use crate::common::{Api, Gate, GateConfig};

const T0: i64 = 1_704_067_200_000_000_000;

fn gate(ch: &ClickHouse, series: u64, values: u64) -> Gate {
    let mut cfg = GateConfig::new()
        .limit(&format!("max_series_per_database = {series}"))
        .limit(&format!("max_values_per_tag = {values}"))
        .raw(&ch.gate_section());
    cfg.backend = ch.gate_backend();
    Gate::start_with(cfg)
}

/// Rows ClickHouse holds for a database (every measurement of its default policy).
fn rows_in(ch: &ClickHouse, db: &str) -> u64 {
    let parts = ch.nodes[0].query(&format!(
        "SELECT sum(rows) FROM system.parts WHERE database = 'influx_{db}.autogen' AND active FORMAT TSV"
    ));
    parts.trim().parse().unwrap_or(0)
}

/// Writes to `d`: Ok for a 204, the error text of a 400.
fn write(api: &Api, body: &str) -> Result<(), String> {
    let r = api.write("d", body);
    match r.status {
        204 => Ok(()),
        400 => Err(r.error()),
        _ => panic!("{body}: {}", r.describe()),
    }
}

/// `max_series_per_database = 5`, `max_values_per_tag = 3` on one ClickHouse server.
#[test]
fn clickhouse_limits_refuse_whole_batches_and_count_what_is_stored() {
    let ch = ClickHouse::single();
    let mut g = gate(&ch, 5, 3);
    let api = g.admin();
    write(&api, &format!("m,host=a f1=1,f2=2 {T0}\nm,host=b f1=1 {T0}\nn,host=a v=1 {T0}\nm,dc=x,host=a f1=1 {T0}")).expect("a write within the limits");
    assert_eq!(rows_in(&ch, "d"), 4);
    let e = write(&api, &format!("m,host=a f1=5 {}\nm,host=c f1=1 {T0}\nn,host=b v=1 {T0}", T0 + 1)).expect_err("refused");
    assert_eq!(e, "partial write: max-series-per-database limit exceeded: (5) dropped=3");
    assert_eq!(rows_in(&ch, "d"), 4, "part of a refused batch reached ClickHouse");
    write(&api, &format!("m,host=c f1=1 {T0}\nm,host=a f2=9 {}", T0 + 1)).expect("a write within the limits");
    // A fourth value of `host` in `m`, quoted as Go's %q.
    let e = write(&api, &format!("m,host=d\\ \"é v=1 {T0}")).expect_err("refused");
    assert_eq!(e, "partial write: max-values-per-tag limit exceeded (3/3): measurement=\"m\" tag=\"host\" value=\"d \\\"é\" dropped=1");
    // A second retention policy: the same series there count once, as in 1.x's per-database index.
    api.query_ok("CREATE RETENTION POLICY two ON d DURATION INF REPLICATION 1", "");
    let r = api.write_with(&[("db", "d"), ("rp", "two")], &[], format!("m,host=a f1=1 {T0}").into_bytes());
    assert_eq!(r.status, 204, "{}", r.describe());
    // Counts come from ClickHouse after a restart.
    g.restart();
    let api = g.admin();
    assert_eq!(write(&api, &format!("n,host=z v=1 {T0}")).expect_err("refused"), "partial write: max-series-per-database limit exceeded: (5) dropped=1");
    assert!(write(&api, &format!("m,host=e f1=1 {T0}")).expect_err("refused").contains("(3/3): measurement=\"m\" tag=\"host\" value=\"e\""));
    write(&api, &format!("m,host=b f1=3 {}", T0 + 2)).expect("a write within the limits");
    api.query_ok("DROP SERIES FROM m WHERE host = 'c'", "d");
    write(&api, &format!("m,host=c f1=1 {T0}")).expect("a write within the limits");
}
