//! The Python `influxdb` client (Debian's python3-influxdb 5.3) against influxgate: write_points
//! with username/password = token, then a query read back (tests/common/python.rs; over HTTPS in
//! tests/tls.rs).

mod common;
use common::*;

#[test]
fn python_influxdb_client_writes_and_reads() {
    let tok = TokenSpec::new("py").read(&["pydb"]).write(&["pydb"]);
    let g = Gate::start_with(GateConfig::new().token(tok.clone()));
    python::assert_roundtrip(&g, &tok.token, "pydb");
}
