//! The Python `influxdb` client (Debian's python3-influxdb 5.3) run against an influxgate:
//! `tests/python/influxdb_client_roundtrip.py` writes points with username/password = token and
//! reads them back; over HTTPS when the server's URL is `https://` (certificate not verified).

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use super::{require_program, Gate};

fn python() -> PathBuf {
    // Debian's python3, where python3-influxdb is installed (a pyenv python3 on PATH would not see it).
    let p = PathBuf::from("/usr/bin/python3");
    if p.is_file() {
        p
    } else {
        require_program("python3", "python3-influxdb")
    }
}

/// Writes three points into `db` with the client and checks that it reads them back.
pub fn assert_roundtrip(g: &Gate, token: &str, db: &str) {
    let py = python();
    let check = Command::new(&py).args(["-c", "import influxdb"]).output().expect("run python3");
    assert!(
        check.status.success(),
        "python module `influxdb` missing: install the Debian package python3-influxdb \
         (scripts/test.sh does): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let script = format!("{}/tests/python/influxdb_client_roundtrip.py", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(&py);
    cmd.arg(&script).arg(g.port.to_string()).arg(token).arg(db).env("NO_PROXY", "*");
    if g.url.starts_with("https://") {
        cmd.arg("ssl");
    }
    let out = cmd.output().expect("run the python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}\n--- influxgate:\n{}",
        String::from_utf8_lossy(&out.stderr),
        g.output()
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["written"], json!(true), "{v}");
    assert_eq!(
        v["points"],
        json!([
            {"host": "a", "n": 3, "time": 1000000000, "value": 1.5},
            {"host": "b", "n": 4, "time": 2000000000, "value": 2.5},
            {"host": "c", "n": 5, "time": 3000000000u64, "value": 3.5},
        ]),
        "{v}"
    );
}
