//! The `influx` CLI of InfluxDB 1.6 (Debian's influxdb-client): INSERT and SELECT through it, with
//! the token as password.

mod common;
use common::*;

#[test]
fn influx_cli_insert_and_select() {
    let tok = TokenSpec::new("cli").read(&["clidb"]).write(&["clidb"]);
    let g = Gate::start_with(GateConfig::new().token(tok.clone()));
    for line in ["INSERT cpu,host=a value=1 1000000000", "INSERT cpu,host=b value=2.5 2000000000"] {
        let (ok, out, err) = influx_cli(&g, &tok.token, "clidb", line, &[]);
        assert!(ok && !err.contains("ERR"), "{line}: {out}{err}\n--- influxgate:\n{}", g.output());
    }
    let (ok, out, err) = influx_cli(&g, &tok.token, "clidb", "SELECT * FROM cpu", &["-format", "json", "-precision", "ns"]);
    assert!(ok, "select: {out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(
        v["results"][0]["series"][0]["values"],
        serde_json::json!([[1000000000, "a", 1], [2000000000, "b", 2.5]]),
        "{v}"
    );
    // And the data really is in influxgate.
    let q = g.admin().query_ok("SELECT value FROM cpu", "clidb");
    assert_eq!(rows(&q).len(), 2, "{q}");
}

#[test]
fn influx_cli_with_a_wrong_password_fails() {
    let g = Gate::start();
    let (ok, out, err) = influx_cli(&g, "wrong-token", "clidb", "INSERT cpu value=1", &[]);
    let all = format!("{out}{err}");
    assert!(!ok || all.contains("ERR") || all.to_lowercase().contains("unauthorized"), "{all}");
}
