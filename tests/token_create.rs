//! `influxgate token create` prints a token and a `[[tokens]]` entry whose hash is the token's
//! SHA-256; pasted into the config, the token works with exactly the permissions asked for.

mod common;
use common::*;
use std::process::Command;

/// Runs `influxgate token create`; returns (token, the `[[tokens]]` TOML text).
fn create(args: &[&str]) -> (String, String) {
    let out = Command::new(Gate::binary())
        .args(["token", "create"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run influxgate token create");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "token create {args:?} failed:\n{stdout}\n{stderr}");
    let all = format!("{stdout}\n{stderr}");
    let start = all.find("[[tokens]]").unwrap_or_else(|| panic!("no [[tokens]] entry printed:\n{all}"));
    let entry: String = all[start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let table: toml::Table = toml::from_str(&entry).unwrap_or_else(|e| panic!("entry is not TOML ({e}):\n{entry}"));
    let hash = table["tokens"][0]["hash"].as_str().unwrap_or_else(|| panic!("no hash in:\n{entry}")).to_owned();
    assert!(hash.starts_with("sha256:") && hash.len() == 7 + 64, "{hash}");
    // The token is the one printed word whose hash matches.
    let token = all
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .find(|w| !w.is_empty() && token_hash(w) == hash)
        .unwrap_or_else(|| panic!("no printed word hashes to {hash}:\n{all}"))
        .to_owned();
    assert!(token.len() >= 20, "token too short to be secret: {token:?}");
    (token, entry)
}

#[test]
fn created_token_works_with_its_permissions() {
    let (token, entry) = create(&["--name", "made", "--read", "rdb", "--write", "wdb"]);
    let (token2, _) = create(&["--name", "made2", "--read", "rdb"]);
    assert_ne!(token, token2, "two tokens are the same");

    let g = Gate::start_with(GateConfig::new().raw(&entry));
    let api = g.api(Auth::Token(token.clone()));
    assert_eq!(api.write("wdb", "m v=1 1").status, 204);
    let r = api.write("rdb", "m v=1 1");
    assert_eq!(r.status, 401, "{}", r.describe());
    let r = api.query("SELECT * FROM m", "wdb");
    assert_eq!(r.status, 401, "{}", r.describe());
    let r = g.api(Auth::Token(token2)).write("wdb", "m v=1 1");
    assert_eq!(r.status, 401, "token not in the config: {}", r.describe());
}
