//! Writes as the attack surface: one token holding every in-flight slot or the whole write buffer,
//! bodies that cost far more memory to parse than their size, and bad lines echoed back whole.
//! Bounds: `limits.token_max_inflight_requests`, `limits.token_max_buffered_write_bytes` (and their
//! per-token overrides), the parse's bound counted in `limits.max_buffered_write_bytes`,
//! `limits.error_line_max_bytes` (src/server/limits.rs, src/lineproto/cost.rs).

use std::net::TcpStream;
use std::time::Duration;

use super::common::*;
use super::raw::{eventually, gauge, read_answer, slow_write, RawAnswer};

/// Polls the raw connections until `n` of them were answered (each answer kept in `answers`).
fn wait_answers(conns: &mut [TcpStream], answers: &mut [Option<RawAnswer>], n: usize) -> bool {
    eventually(Duration::from_secs(10), || {
        for (s, a) in conns.iter_mut().zip(answers.iter_mut()) {
            if a.is_none() {
                *a = read_answer(s, Duration::from_millis(20));
            }
        }
        answers.iter().filter(|a| a.is_some()).count() >= n
    })
}

fn assert_503_naming(a: &RawAnswer, token: &str, limit: &str) {
    assert_eq!(a.status, 503, "{a:?}");
    assert!(a.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)), "{a:?}");
    let text = a.text();
    assert!(text.contains(&format!("\\\"{token}\\\"")) && text.contains(limit), "{text}");
}

#[test]
fn one_token_cannot_take_every_inflight_slot() {
    let greedy = TokenSpec::new("greedy").write(&["w"]);
    let other = TokenSpec::new("other").write(&["w"]).read(&["w"]);
    let small = TokenSpec::new("small");
    let g = Gate::start_with(
        GateConfig::new()
            .limit("max_inflight_requests = 8")
            .limit("token_max_inflight_requests = 4")
            .token(greedy.clone())
            .token(other.clone())
            .raw(&format!(
                "[[tokens]]\nname = \"small\"\nhash = \"{}\"\nwrite = [\"w\"]\nmax_inflight_requests = 2",
                token_hash(&small.token)
            )),
    );
    // greedy starts 8 writes whose bodies never finish: 4 are served, 4 refused at once.
    let mut held: Vec<TcpStream> = (0..8).map(|_| slow_write(g.port, &greedy.token, "w", 1000, 8)).collect();
    let mut answers: Vec<Option<RawAnswer>> = (0..8).map(|_| None).collect();
    let four = wait_answers(&mut held, &mut answers, 4);
    let answered: Vec<&RawAnswer> = answers.iter().flatten().collect();
    assert!(four, "greedy's writes past its 4 were not refused: {answered:?}");
    assert_eq!(answered.len(), 4, "{answered:?}");
    for a in &answered {
        assert_503_naming(a, "greedy", "max_inflight_requests");
    }
    // The refused requests hold no global slot.
    assert_eq!(gauge(&g.url, "influxgate_inflight_requests"), 4.0);

    // A token's own setting: small may have 2.
    let mut small_held: Vec<TcpStream> = (0..3).map(|_| slow_write(g.port, &small.token, "w", 1000, 8)).collect();
    let mut small_answers: Vec<Option<RawAnswer>> = (0..3).map(|_| None).collect();
    assert!(wait_answers(&mut small_held, &mut small_answers, 1));
    let refused: Vec<&RawAnswer> = small_answers.iter().flatten().collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_503_naming(refused[0], "small", "max_inflight_requests");

    // Another token is served: a write and a query.
    let api = g.api(Auth::Token(other.token.clone()));
    let r = api.write("w", "m v=2 2");
    assert_eq!(r.status, 204, "{}", r.describe());
    api.query_ok("SELECT v FROM m", "w");
    drop((held, small_held));
}

#[test]
fn one_token_cannot_fill_the_write_buffer() {
    let greedy = TokenSpec::new("greedy").write(&["w"]);
    let other = TokenSpec::new("other").write(&["w"]);
    let g = Gate::start_with(
        GateConfig::new()
            .limit("max_buffered_write_bytes = 67108864")
            .limit("token_max_buffered_write_bytes = 1048576")
            .token(greedy.clone())
            .token(other.clone()),
    );
    let first = slow_write(g.port, &greedy.token, "w", 4_000_000, 700 * 1024);
    assert!(
        eventually(Duration::from_secs(10), || gauge(&g.url, "influxgate_buffered_write_bytes") >= (700 * 1024) as f64),
        "the first slow body was not buffered"
    );
    // 400 KiB more of greedy's would pass its 1 MiB: refused at once, naming the limit.
    let mut second = slow_write(g.port, &greedy.token, "w", 4_000_000, 400 * 1024);
    let a = read_answer(&mut second, Duration::from_secs(10)).expect("greedy's second body was not refused");
    assert_503_naming(&a, "greedy", "max_buffered_write_bytes");
    // Another token writes.
    let body: String = (0..1000).map(|i| format!("m v={i} {i}\n")).collect();
    let r = g.api(Auth::Token(other.token.clone())).write("w", &body);
    assert_eq!(r.status, 204, "{}", r.describe());
    drop(first);
}

/// The pid of the influxgate serving on `port` (found by its command line).
fn pid_of(port: u16) -> u32 {
    let listen = format!("127.0.0.1:{port}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"influxgate")) && args.contains(&listen.as_bytes())
        })
        .unwrap_or_else(|| panic!("no influxgate process listening on {listen}"))
}

/// A field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
fn proc_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let v = s.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).expect("field");
    v.trim().trim_end_matches("kB").trim().parse::<u64>().expect("kB") * 1024
}

#[test]
fn a_write_is_charged_for_its_parse_not_only_its_body() {
    let holder = TokenSpec::new("holder").write(&["w"]);
    let writer = TokenSpec::new("writer").write(&["w"]);
    let g = Gate::start_with(
        GateConfig::new()
            .limit("max_body_bytes = 1000000")
            .limit("max_buffered_write_bytes = 8388608")
            .token(holder.clone())
            .token(writer.clone()),
    );
    let pid = pid_of(g.port);
    let rss_before = proc_kb(pid, "VmRSS");
    // 1 MB of tiny lines: the body fits the 8 MiB budget many times over, its parse does not.
    let tiny = "m v=1\n".repeat(166_666);
    let api = g.api(Auth::Token(writer.token.clone()));
    let held = slow_write(g.port, &holder.token, "w", 1000, 8);
    assert!(eventually(Duration::from_secs(10), || gauge(&g.url, "influxgate_buffered_write_bytes") >= 8.0));
    let r = api.write("w", &tiny);
    assert_eq!(r.status, 503, "a parse over the budget was admitted next to another write: {}", r.describe());
    assert!(r.header("Retry-After").is_some(), "{:?}", r.headers);
    // Writes whose parse fits are served meanwhile.
    let r = api.write("w", "m v=2 2\nm v=3 3");
    assert_eq!(r.status, 204, "{}", r.describe());
    // Alone, the big one is admitted: every allowed body stays writable.
    drop(held);
    assert!(eventually(Duration::from_secs(10), || gauge(&g.url, "influxgate_buffered_write_bytes") == 0.0));
    let r = api.write("w", &tiny);
    assert_eq!(r.status, 204, "{}", r.describe());

    // Eight at once: each is parsed only when nothing else is buffered, so the server's memory
    // grows by about one parse (1 MB of tiny lines holds ~35 MB parsed), not eight.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (api, tiny) = (api.clone(), tiny.clone());
            std::thread::spawn(move || api.write("w", &tiny).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().expect("writer")).collect();
    assert!(statuses.iter().all(|s| *s == 204 || *s == 503), "{statuses:?}");
    let grown = proc_kb(pid, "VmHWM").saturating_sub(rss_before);
    println!("peak RSS grew by {} MiB; answers {statuses:?}", grown >> 20);
    assert!(grown < 150 << 20, "peak RSS grew by {} MiB for eight 1 MB bodies of tiny lines ({statuses:?})", grown >> 20);
}

#[test]
fn a_bad_line_is_quoted_only_up_to_error_line_max_bytes() {
    let g = Gate::start_with(GateConfig::new().limit("error_line_max_bytes = 100"));
    let api = g.admin();
    for (line, reason) in [
        (format!("m v={}", "x".repeat(1_000_000)), "invalid boolean"),
        (format!("m v={}i", "9".repeat(1_000_000)), "unable to parse integer 999"),
    ] {
        let r = api.write("q", &line);
        assert_eq!(r.status, 400, "{}", &r.describe()[..200]);
        assert!(r.body.len() < 4096, "a {} byte line gave a {} byte answer", line.len(), r.body.len());
        let e = r.error();
        let quoted = format!("unable to parse '{}...({} bytes)': ", &line[..100], line.len());
        assert!(e.starts_with(&quoted) && e.contains(reason), "{e}");
        assert!(r.header("X-Influxdb-Error").is_some_and(|h| h.len() <= 1024));
    }
    // A line within the bound keeps 1.x's text, byte for byte.
    let r = api.write("q", "cpu b=yes 1704067200000000000");
    assert_eq!(r.error(), "unable to parse 'cpu b=yes 1704067200000000000': invalid boolean");
    assert_eq!(Api::new(&g.url).get("/ping").status, 204);
}
