//! Runs the README's commands, taken from README.md itself, so the two cannot drift. The rule,
//! also stated in the README ("How the README's commands are tested"):
//!
//! * A fenced block whose info string is `sh` is run, in README order, by `bash -euo pipefail`
//!   in a scratch directory, each block in a bash of its own. It must finish within
//!   [`BLOCK_TIMEOUT`], print at most [`MAX_LINES`] lines and [`MAX_BYTES`] bytes (examples
//!   show a few rows, never a flood) and print no error (`"error"`, the influx CLI's `ERR:`);
//!   `curl` fails on an HTTP error status (a `.curlrc` with `fail-with-body`).
//! * `sh server`: a long-running command, started in the background; the next block runs once a
//!   new TCP port listens. It runs until the end. The first admin token a server prints is
//!   `TOKEN` for the blocks after (the reader copies it by hand); a later server printing another
//!   fails the test, since blocks after it could not tell which server `TOKEN` is for.
//! * `sh covered-by=PATH`: not run here, because PATH (a file in this repository, which must exist
//!   and contain the block's first command word) runs it: the test command itself, the package's
//!   installation.
//! * Any other block that looks like commands (`bash`, `shell`, `console`, or no language) fails
//!   the test: a command added to the README is either run or says what runs it.
//!
//! Everything runs in a network namespace of its own (`ip netns`), so the README's ports (8086,
//! 8428) are free and its commands run exactly as written. The build under test is first on PATH
//! as `influxgate`, and `cargo` is a stand-in that runs it: `cargo run --release -- ARGS` runs
//! `influxgate ARGS` and `cargo install --path .` succeeds, since the binary is already built
//! (a release build would add ~10 minutes to CI); any other cargo command fails the test.
//! Needs root (network namespaces) and iproute2; programs the blocks use are Debian packages.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BLOCK_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_LINES: usize = 40;
const MAX_BYTES: usize = 4096;

/// Programs a block may call, with the Debian package that has each (checked before running).
const PROGRAMS: &[(&str, &str)] =
    &[("curl", "curl"), ("influx", "influxdb-client"), ("victoria-metrics", "victoria-metrics"), ("grep", "grep")];

#[derive(Debug, PartialEq)]
enum Kind {
    Run,
    Server,
    CoveredBy(String),
}

#[derive(Debug)]
struct Block {
    line: usize,
    kind: Kind,
    text: String,
}

/// The README's fenced blocks that are commands, with what to do with each; Err for a block
/// that looks like commands but follows no rule.
fn blocks(readme: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((i, l)) = lines.next() {
        let Some(info) = l.trim_start().strip_prefix("```") else { continue };
        let body: Vec<&str> = lines.by_ref().take_while(|(_, l)| !l.trim_start().starts_with("```")).map(|(_, l)| l).collect();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("");
        let attr: Vec<&str> = words.collect();
        let kind = match (lang, attr.as_slice()) {
            ("sh", []) => Kind::Run,
            ("sh", ["server"]) => Kind::Server,
            ("sh", [a]) if a.starts_with("covered-by=") => Kind::CoveredBy(a["covered-by=".len()..].to_owned()),
            ("sh", _) => return Err(format!("README.md:{}: unknown `sh` block attributes {attr:?}", i + 1)),
            ("bash" | "shell" | "console" | "", _) => {
                return Err(format!("README.md:{}: a ```{lang} block: commands go in ```sh blocks (see the README's rule)", i + 1))
            }
            _ => continue,
        };
        out.push(Block { line: i + 1, kind, text: body.join("\n") });
    }
    Ok(out)
}

/// A network namespace, deleted on drop.
struct Netns(String);
impl Netns {
    fn new() -> Netns {
        let ip = require_program("ip", "iproute2");
        let name = format!("influxgate-readme-{}", std::process::id());
        let _ = Command::new(&ip).args(["netns", "del", &name]).output();
        let ok = Command::new(&ip).args(["netns", "add", &name]).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "cannot make a network namespace (`ip netns add`): this test needs root, as CI runs it");
        let ok = Command::new(&ip).args(["netns", "exec", &name, "ip", "link", "set", "lo", "up"]).status();
        assert!(ok.map(|s| s.success()).unwrap_or(false), "cannot bring up lo in {name}");
        Netns(name)
    }
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
    /// Listening TCP sockets in the namespace (IPv4 and IPv6).
    fn listening(&self) -> usize {
        let out = self.command("cat").args(["/proc/net/tcp", "/proc/net/tcp6"]).output().expect("read /proc/net/tcp");
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.split_whitespace().nth(3) == Some("0A")).count()
    }
}
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Processes started by `server` blocks; their process groups are killed on drop.
struct Servers(Vec<Child>);
impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: kill has no memory-safety preconditions; a negative pid names the group.
            unsafe { libc::kill(-(c.id() as i32), libc::SIGKILL) };
            let _ = c.wait();
        }
    }
}

/// The scratch directory: bin/ with `influxgate` and the `cargo` stand-in.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("influxgate-readme-").tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    std::os::unix::fs::symlink(Gate::binary(), bin.join("influxgate")).expect("link influxgate");
    let cargo = "#!/bin/sh\n\
        # Stand-in for cargo in the README's blocks (tests/readme.rs): runs the build under test.\n\
        if [ \"$1 $2 $3\" = 'run --release --' ]; then shift 3; exec influxgate \"$@\"; fi\n\
        if [ \"$*\" = 'install --path .' ]; then echo \"influxgate is $(command -v influxgate)\"; exit 0; fi\n\
        echo \"tests/readme.rs: no stand-in for: cargo $*\" >&2; exit 97\n";
    std::fs::write(bin.join("cargo"), cargo).expect("write cargo stand-in");
    std::fs::set_permissions(bin.join("cargo"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    // HOME is the work dir: every curl fails on an HTTP error status, showing the answer.
    std::fs::write(work.join(".curlrc"), "fail-with-body\n").expect("write .curlrc");
    (dir, bin)
}

fn bash(ns: &Netns, bin: &Path, work: &Path, token: &str, text: &str) -> Command {
    let mut c = ns.command("bash");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    c.args(["-euo", "pipefail", "-c", text]).current_dir(work).env("PATH", path).env("HOME", work).env_remove("RUST_LOG");
    c.env_remove("INFLUXGATE_ADMIN_TOKEN").stdin(Stdio::null());
    if !token.is_empty() {
        c.env("TOKEN", token);
    }
    c
}

fn run_block(ns: &Netns, bin: &Path, work: &Path, token: &str, b: &Block) {
    let log = work.join(format!(".block-{}.out", b.line));
    let out = std::fs::File::create(&log).expect("log");
    let mut child = bash(ns, bin, work, token, &b.text).stdout(out.try_clone().expect("log")).stderr(out).spawn().expect("bash");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > BLOCK_TIMEOUT {
            let _ = child.kill();
            panic!("README.md:{}: still running after {BLOCK_TIMEOUT:?}:\n{}", b.line, b.text);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let said = head_of(&log, MAX_BYTES + 1);
    assert!(status.success(), "README.md:{}: failed ({status}):\n{}\n--- its output:\n{said}", b.line, b.text);
    for bad in ["\"error\"", "ERR:"] {
        assert!(!said.contains(bad), "README.md:{}: answered an error ({bad}):\n{}\n--- its output:\n{said}", b.line, b.text);
    }
    let n = said.lines().count();
    assert!(n <= MAX_LINES && size <= MAX_BYTES as u64, "README.md:{}: printed {n}+ lines, {size} bytes (at most {MAX_LINES} and {MAX_BYTES}):\n{said}", b.line);
    eprintln!("README.md:{} ok ({:.1} s, {n} lines):\n  {}", b.line, start.elapsed().as_secs_f64(), said.trim_end().replace('\n', "\n  "));
}

/// At most `max` bytes from the start of a file (a block's output may be a flood).
fn head_of(path: &Path, max: usize) -> String {
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(f, max as u64), &mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Starts a `server` block; waits for a new listening port; returns it and its printed token.
fn start_server(ns: &Netns, bin: &Path, work: &Path, token: &str, b: &Block) -> (Child, Option<String>) {
    let log = work.join(format!(".server-{}.out", b.line));
    let out = std::fs::File::create(&log).expect("log");
    let before = ns.listening();
    let mut cmd = bash(ns, bin, work, token, &b.text);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.stdout(out.try_clone().expect("log")).stderr(out).spawn().expect("bash");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ns.listening() <= before {
        let said = head_of(&log, 1 << 16);
        if let Ok(Some(s)) = child.try_wait() {
            panic!("README.md:{}: server exited ({s}) before listening:\n{}\n--- its output:\n{said}", b.line, b.text);
        }
        assert!(Instant::now() < deadline, "README.md:{}: nothing listens 30 s after:\n{}\n--- its output:\n{said}", b.line, b.text);
        std::thread::sleep(Duration::from_millis(50));
    }
    // A just-bound port may not answer yet; the banner is printed before binding.
    std::thread::sleep(Duration::from_millis(200));
    let said = head_of(&log, 1 << 16);
    let printed = printed_admin_token(&said);
    eprintln!("README.md:{} server listening (token printed: {})", b.line, printed.is_some());
    (child, printed)
}

fn check_programs(blocks: &[Block]) {
    for (program, package) in PROGRAMS {
        if blocks.iter().any(|b| !matches!(b.kind, Kind::CoveredBy(_)) && b.text.split_whitespace().any(|w| w == *program)) {
            require_program(program, package);
        }
    }
}

/// A `covered-by=PATH` block: PATH exists and names the block's first command, or the variables
/// its first command line sets (`NAME=value cmd`).
fn check_covered(b: &Block, path: &str) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("README.md:{}: covered-by={path}: {e}", b.line));
    let first = b.text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let words: Vec<&str> = first.split_whitespace().filter(|w| *w != "sudo").collect();
    let vars: Vec<&str> = words.iter().take_while(|w| w.contains('=')).filter_map(|w| w.split('=').next()).collect();
    let needed = if vars.is_empty() { words.first().copied().into_iter().collect() } else { vars };
    for w in &needed {
        assert!(!w.is_empty() && text.contains(w), "README.md:{}: {path} never mentions `{w}`", b.line);
    }
    assert!(!needed.is_empty(), "README.md:{}: an empty covered-by block", b.line);
}

#[test]
fn the_rule_rejects_unmarked_commands() {
    assert!(blocks("```bash\nls\n```\n").is_err());
    assert!(blocks("```\nls\n```\n").is_err());
    assert!(blocks("```sh later\nls\n```\n").is_err());
    let ok = blocks("```toml\na = 1\n```\n```sh server\nx\n```\n```sh covered-by=a/b\ny\n```\n").expect("valid");
    assert_eq!(ok.iter().map(|b| &b.kind).collect::<Vec<_>>(), [&Kind::Server, &Kind::CoveredBy("a/b".into())]);
}

#[test]
fn readme_commands_run_as_written() {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let blocks = blocks(&readme).unwrap_or_else(|e| panic!("{e}"));
    assert!(blocks.iter().filter(|b| b.kind == Kind::Run).count() >= 5, "too few runnable blocks: {blocks:?}");
    check_programs(&blocks);
    let ns = Netns::new();
    let (dir, bin) = scratch();
    let work = dir.path().join("work");
    let mut servers = Servers(Vec::new());
    let mut token = String::new();
    for b in &blocks {
        match &b.kind {
            Kind::Run => run_block(&ns, &bin, &work, &token, b),
            Kind::CoveredBy(path) => check_covered(b, path),
            Kind::Server => {
                let (child, printed) = start_server(&ns, &bin, &work, &token, b);
                servers.0.push(child);
                if let Some(t) = printed {
                    assert!(token.is_empty(), "README.md:{}: a second server generated an admin token; give it \
                        INFLUXGATE_ADMIN_TOKEN=\"$TOKEN\" so every block's TOKEN fits every server", b.line);
                    token = t;
                }
            }
        }
    }
}
