//! Tokens without restarts: `[[tokens]]` and `[limits]` are reread on SIGHUP and when the config
//! file changes; a revoked token is refused from the next request on, also on a keep-alive
//! connection opened before; a bad file is refused and the running tokens stay; `influxgate token
//! list` and `token revoke` read and edit the file in place, keeping its comments.

mod common;
use common::raw::RawConn;
use common::*;
use std::process::Command;
use std::time::Duration;

fn token_cmd(args: &[&str]) -> std::process::Output {
    Command::new(Gate::binary()).arg("token").args(args).output().expect("run influxgate token")
}

fn write_on(conn: &mut RawConn, token: &str) -> u16 {
    let auth = format!("Token {token}");
    conn.request("POST", "/write?db=db", &[("Authorization", &auth)], b"m v=1 1").expect("write on the open connection").status
}

#[test]
fn sighup_revokes_on_an_open_connection_and_adds_tokens() {
    let (a, b, c) = (TokenSpec::new("alpha").write(&["db"]), TokenSpec::new("beta").write(&["db"]), TokenSpec::new("gamma").write(&["db"]));
    let cfg = GateConfig::new()
        .log("level = \"info\"")
        .server("config_check_interval = \"0s\"")
        .raw("# operators' note: keep this comment")
        .token(a.clone())
        .token(b.clone());
    let g = Gate::start_with(cfg);
    let path = g.config_path();
    let path_s = path.to_str().unwrap();

    let list = token_cmd(&["list", "--config", path_s]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{listed}");
    let hash_a = token_hash(&a.token);
    assert!(listed.contains("alpha") && listed.contains("beta") && listed.contains("write=db"), "{listed}");
    assert!(listed.contains(&hash_a[..19]) && !listed.contains(&hash_a) && !listed.contains(&a.token), "a secret or whole hash listed:\n{listed}");

    let mut conn = RawConn::connect(g.port).unwrap();
    assert_eq!(write_on(&mut conn, &a.token), 204);

    let out = token_cmd(&["revoke", "alpha", "--config", path_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# operators' note: keep this comment") && !text.contains("\"alpha\"") && text.contains("\"beta\""), "{text}");
    // Not reloaded yet (file polling is off): the token still works until SIGHUP.
    assert_eq!(write_on(&mut conn, &a.token), 204);

    g.signal(libc::SIGHUP);
    assert!(g.wait_output("configuration reloaded", Duration::from_secs(10)), "{}", g.output());
    assert_eq!(write_on(&mut conn, &b.token), 204);
    assert_eq!(write_on(&mut conn, &a.token), 401, "revoked token accepted on the open connection");
    assert_eq!(g.api(Auth::Token(a.token.clone())).write("db", "m v=1 2").status, 401);

    // A token added to the file works after the next SIGHUP; the server survives several.
    let entry = format!("\n[[tokens]]\nname = \"gamma\"\nhash = \"{}\"\nwrite = [\"db\"]\n", token_hash(&c.token));
    std::fs::write(&path, format!("{}{entry}", std::fs::read_to_string(&path).unwrap())).unwrap();
    assert_eq!(g.api(Auth::Token(c.token.clone())).write("db", "m v=1 3").status, 401);
    g.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || g.api(Auth::Token(c.token.clone())).write("db", "m v=1 3").status == 204));
    let stdout_and_err = g.full_output();
    assert!(!stdout_and_err.contains(&a.token) && !stdout_and_err.contains(&c.token), "a token was logged");
}

#[test]
fn file_change_reloads_and_a_bad_file_is_refused() {
    let a = TokenSpec::new("alpha").write(&["db"]);
    let cfg = GateConfig::new().log("level = \"info\"").server("config_check_interval = \"100ms\"").token(a.clone());
    let g = Gate::start_with(cfg);
    let path = g.config_path();
    let good = std::fs::read_to_string(&path).unwrap();
    let api = g.api(Auth::Token(a.token.clone()));
    assert_eq!(api.write("db", "m v=1 1").status, 204);

    // Not TOML, then TOML with a bad token hash: both refused, the running tokens stay.
    std::fs::write(&path, format!("{good}\n[[tokens]\n")).unwrap();
    assert!(g.wait_output("config reload refused", Duration::from_secs(10)), "{}", g.output());
    std::fs::write(&path, format!("{good}\n[[tokens]]\nname = \"x\"\nhash = \"sha256:zz\"\n")).unwrap();
    assert!(g.wait_output("hash must look like sha256", Duration::from_secs(10)), "{}", g.output());
    assert_eq!(api.write("db", "m v=1 2").status, 204, "a refused reload changed the tokens");

    // A setting read only at start is named in a warning; the tokens are applied all the same.
    std::fs::write(&path, good.replace("[limits]\n", "[limits]\nmax_body_bytes = 1000\n")).unwrap();
    assert!(g.wait_output("limits.max_body_bytes", Duration::from_secs(10)), "{}", g.output());
    assert_eq!(api.write("db", "m v=1 3").status, 204);

    let out = token_cmd(&["revoke", "alpha", "--config", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(eventually(Duration::from_secs(10), || api.write("db", "m v=1 4").status == 401), "revoked token still accepted");
}

#[test]
fn token_created_into_the_config_works_without_a_restart() {
    let g = Gate::start_with(GateConfig::new().server("config_check_interval = \"100ms\"").raw("# a comment to keep"));
    let path = g.config_path();
    let out = token_cmd(&["create", "--name", "fresh", "--write", "fdb", "--add-to-config", "--config", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# a comment to keep") && text.contains("name = \"fresh\""), "{text}");
    let hash = text.lines().rev().find_map(|l| l.strip_prefix("hash = \"")).unwrap().trim_end_matches('"').to_string();
    let token = stdout.split_whitespace().find(|w| token_hash(w) == hash).expect("the printed token matches the hash added").to_string();
    let api = g.api(Auth::Token(token));
    assert!(eventually(Duration::from_secs(10), || api.write("fdb", "m v=1 1").status == 204), "{}", g.output());
    assert_eq!(api.write("other", "m v=1 1").status, 401, "rights beyond --write");
    let again = token_cmd(&["create", "--name", "fresh", "--add-to-config", "--config", path.to_str().unwrap()]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("already"));
}

#[test]
fn reload_applies_a_new_request_rate() {
    let a = TokenSpec::new("alpha").write(&["db"]);
    let cfg = GateConfig::new().log("level = \"info\"").server("config_check_interval = \"0s\"").token(a.clone());
    let g = Gate::start_with(cfg);
    let api = g.api(Auth::Token(a.token.clone()));
    for i in 0..20 {
        assert_eq!(api.write("db", &format!("m v={i} {i}")).status, 204);
    }
    let path = g.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("[limits]\n", "[limits]\nrequests_per_second = 1\nburst = 2\non_limit = \"429\"\n")).unwrap();
    g.signal(libc::SIGHUP);
    assert!(g.wait_output("configuration reloaded", Duration::from_secs(10)), "{}", g.output());
    // A full bucket of 2 at 1/s takes two writes, then refuses until a second after the first:
    // four writes within that second must be [204, 204, 429, 429]. A round that took longer (a
    // loaded machine) and got a third 204 proves nothing: played again once the bucket is full.
    for round in 1..=5 {
        let start = std::time::Instant::now();
        let statuses: Vec<u16> = (0..4).map(|i| api.write("db", &format!("m v={i} {i}")).status).collect();
        let took = start.elapsed();
        assert_eq!(&statuses[..2], &[204, 204], "{statuses:?}");
        if statuses[2..].contains(&204) && took >= Duration::from_secs(1) && round < 5 {
            std::thread::sleep(Duration::from_secs(2));
            continue;
        }
        assert!(statuses[2..].iter().all(|s| *s == 429), "the reloaded rate is not applied: {statuses:?} in {took:?}");
        break;
    }
}

#[test]
fn revoking_an_unknown_token_fails_and_leaves_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let text = format!("# mine\n[[tokens]]\nname = \"one\"\nhash = \"{}\"\nread = [\"*\"]\n", token_hash("secret-one"));
    std::fs::write(&path, &text).unwrap();
    let out = token_cmd(&["revoke", "two", "--config", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "revoking an unknown name succeeded");
    assert!(err.contains("no token named \"two\"") && err.contains("one"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

/// A config file rewritten in place (truncated, then written: `>` in a shell, `fs::write`, many
/// editors) is empty for a moment, and an empty file is a valid configuration without tokens. A
/// look at that moment must not load it: a change is loaded once the file has stayed the same for
/// one whole `config_check_interval`. Each round leaves the file empty for a third of the
/// interval, starting a tenth of an interval later than the round before (a round begins just
/// after the look that loaded the previous one), so the server looks in the empty moment in about
/// a third of the rounds; a round whose empty moment lasted a whole interval (the test thread
/// descheduled) proves nothing and is not judged. Seen failing before the fix in round 0 to 9.
#[test]
fn a_config_file_caught_half_written_is_not_loaded() {
    let interval = Duration::from_millis(400);
    let a = TokenSpec::new("alpha").write(&["db"]);
    let cfg = GateConfig::new().log("level = \"info\"").server(&format!("config_check_interval = \"{}ms\"", interval.as_millis())).token(a.clone());
    let g = Gate::start_with(cfg);
    let path = g.config_path();
    let good = std::fs::read_to_string(&path).unwrap();
    let reloads = |g: &Gate| g.full_output().lines().filter(|l| l.contains("configuration reloaded")).map(str::to_owned).collect::<Vec<_>>();
    let mut judged = 0;
    for round in 0..10 {
        let before = reloads(&g).len();
        std::thread::sleep(interval * round / 10);
        let emptied = std::time::Instant::now();
        std::fs::File::create(&path).unwrap(); // truncated
        std::thread::sleep(interval / 3);
        std::fs::write(&path, format!("{good}\n# round {round}\n")).unwrap();
        let empty_for = emptied.elapsed();
        // The whole file is loaded (within two intervals; 10 s of headroom for a loaded machine).
        let loaded = eventually(Duration::from_secs(10), || reloads(&g).last().is_some_and(|l| l.contains("tokens=2")) && reloads(&g).len() > before);
        assert!(loaded, "round {round}: the rewritten file was not loaded:\n{}", g.output());
        if empty_for >= interval {
            continue;
        }
        judged += 1;
        let new = reloads(&g)[before..].to_vec();
        assert!(new.iter().all(|l| l.contains("tokens=2")), "round {round}: the file was loaded while empty ({empty_for:?}):\n{}", new.join("\n"));
        assert_eq!(g.api(Auth::Token(a.token.clone())).write("db", "m v=1 1").status, 204);
    }
    assert!(judged >= 5, "only {judged} of 10 rounds kept the file empty for less than {interval:?}");
}
