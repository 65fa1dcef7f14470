//! `query.float_merge_parallelism` reproduces the float sum/mean bits of an InfluxDB 1.x running
//! with that GOMAXPROCS: influxd 1.6.7 (Debian `influxdb`) started with GOMAXPROCS=N and
//! influxgate configured with N get the same data and must answer identically, for two values of
//! N whose answers differ (so the setting is shown to matter, not merely to be accepted).

mod common;

use common::{Gate, GateConfig, Influxd};
use serde_json::Value;

const DB: &str = "fm";

/// Many series with floats of very different magnitudes in one shard group, so that the grouping
/// of partial sums changes the last bits.
fn data() -> String {
    let mut out = String::new();
    let mut s: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for host in 0..16 {
        for i in 0..40i64 {
            let r = next();
            let mag = 10f64.powi((r % 13) as i32 - 4);
            let v = ((r >> 8) % 1_000_000) as f64 / 997.0 * mag;
            let t = 1_704_067_200_000_000_000i64 + i * 60_000_000_000;
            out.push_str(&format!("m,host=h{host:02},dc=d{} v={v:?} {t}\n", host % 3));
        }
    }
    out
}

const QUERIES: [&str; 4] = [
    "SELECT sum(v) FROM m",
    "SELECT mean(v) FROM m",
    "SELECT sum(v), mean(v) FROM m WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:40:00Z' GROUP BY time(10m)",
    "SELECT sum(v) FROM m GROUP BY dc",
];

fn answers(api: &common::Api) -> Vec<Value> {
    QUERIES.iter().map(|q| api.query_ok(q, DB)).collect()
}

fn run(procs: &str) -> (Vec<Value>, Vec<Value>) {
    let influxd = Influxd::start_with_env(&[("GOMAXPROCS", procs)]);
    let gate = Gate::start_with(GateConfig::new().raw(&format!("[query]\nfloat_merge_parallelism = {procs}")));
    let body = data();
    for api in [influxd.api(), gate.admin()] {
        api.query_ok(&format!("CREATE DATABASE {DB}"), "");
        let r = api.write(DB, &body);
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    (answers(&influxd.api()), answers(&gate.admin()))
}

#[test]
fn float_sums_follow_the_configured_gomaxprocs() {
    let (oracle1, ours1) = run("1");
    let (oracle4, ours4) = run("4");
    for (i, q) in QUERIES.iter().enumerate() {
        assert_eq!(ours1[i], oracle1[i], "GOMAXPROCS=1: {q}");
        assert_eq!(ours4[i], oracle4[i], "GOMAXPROCS=4: {q}");
    }
    assert_ne!(oracle1, oracle4, "the data must make the grouping of partial sums visible");
}
