//! Throttling that senders understand: what a request over its token's rates gets
//! (`limits.on_limit`, `limits.max_delay` and their per-token overrides, src/server/throttle.rs).
//! Telegraf's 1.x output drops a batch on any 4xx (429 included) and keeps it on a 5xx, so a
//! Telegraf is answered 503 by default; others 429; `delay` holds the request instead.

use std::collections::VecDeque;
use std::thread;
use std::time::{Duration, Instant};

use super::common::*;
use super::raw::gauge;

/// What Telegraf sends (`internal.ProductToken()`: `Telegraf/<version> Go/<go version>`).
const TELEGRAF_UA: &str = "Telegraf/1.30.0 Go/1.22.1";
const OTHER_UA: &str = "influxdb-python/5.3.1";

/// Texts that make Telegraf drop a batch even on a 5xx (plugins/outputs/influxdb/http.go).
const TELEGRAF_DROPS_ON: [&str; 6] = [
    "database not found",
    "retention policy not found",
    "hinted handoff queue not empty",
    "partial write",
    "points beyond retention policy",
    "unable to parse",
];

/// A `[[tokens]]` entry writing to every database, with extra `key = value` lines.
fn token_toml(t: &TokenSpec, lines: &[String]) -> String {
    format!("[[tokens]]\nname = \"{}\"\nhash = \"{}\"\nwrite = [\"*\"]\n{}\n", t.name, token_hash(&t.token), lines.join("\n"))
}

fn write_as(g: &Gate, token: &str, ua: &str, db: &str, body: &str) -> Resp {
    g.api(Auth::Token(token.into())).send("POST", "/write", &[("db", db)], &[("User-Agent", ua)], Some(body.as_bytes().to_vec()))
}

/// Which of a token's rates the matrix goes over.
#[derive(Clone, Copy, Debug)]
enum Over {
    Requests,
    Bytes,
}

impl Over {
    /// The token's rates, and a body: requests at 1/s (burst 1) with tiny bodies, or 1000 bytes/s
    /// with 900-byte bodies (a second one is 0.8 s away), the other rate out of the way.
    fn setup(self) -> (Vec<String>, String) {
        match self {
            Over::Requests => (vec!["requests_per_second = 1".into(), "burst = 1".into()], "m v=1 1\n".into()),
            Over::Bytes => {
                let body: String = (0..45).map(|i| format!("b v={i:>04}i {i:>09}\n")).collect();
                assert_eq!(body.len(), 900);
                (vec!["write_bytes_per_second = 1000".into()], body)
            }
        }
    }
}

fn assert_refused(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.describe());
    assert_eq!(r.header("Retry-After").as_deref(), Some("1"), "{what}: {:?}", r.headers);
    let err = r.error();
    assert!(err.contains("is over its"), "{what}: {err}");
    for drop in TELEGRAF_DROPS_ON {
        assert!(!err.contains(drop), "{what}: Telegraf would drop a batch answered {err:?}");
    }
}

#[test]
fn over_a_rate_the_answer_depends_on_on_limit_and_the_sender() {
    // (on_limit, status for Telegraf, status for another sender); "delay" over its max_delay.
    let matrix = [("auto", 503, 429), ("429", 429, 429), ("503", 503, 503), ("delay", 503, 429)];
    let mut raw = String::new();
    let mut cases = Vec::new();
    for over in [Over::Requests, Over::Bytes] {
        for (on_limit, telegraf, other) in matrix {
            let t = TokenSpec::new(&format!("{on_limit}-{over:?}"));
            let (mut lines, body) = over.setup();
            lines.push(format!("on_limit = \"{on_limit}\""));
            lines.push("max_delay = \"200ms\"".into());
            raw.push_str(&token_toml(&t, &lines));
            cases.push((t, over, body, on_limit, telegraf, other));
        }
    }
    let g = Gate::start_with(GateConfig::new().raw(&raw));
    let mut unavailable = 0;
    for (t, over, body, on_limit, telegraf, other) in &cases {
        let what = format!("on_limit = {on_limit}, over the {over:?} rate");
        // The writes after the first are refused only while they come within REFUSED_FOR of it;
        // a round that took longer (a loaded machine) with one of them served proves nothing,
        // and is played again once the bucket is full.
        for round in 1..=5 {
            let start = Instant::now();
            let first = write_as(&g, &t.token, OTHER_UA, "thr", body);
            assert_eq!(first.status, 204, "{what}: first write (round {round}): {}", first.describe());
            let mut refused = vec![
                (write_as(&g, &t.token, TELEGRAF_UA, "thr", body), *telegraf, format!("{what}, Telegraf")),
                (write_as(&g, &t.token, OTHER_UA, "thr", body), *other, format!("{what}, {OTHER_UA}")),
            ];
            if *on_limit == "auto" {
                // The sample config's `user_agent = "telegraf"` is Telegraf too; no User-Agent is not.
                refused.push((write_as(&g, &t.token, "telegraf", "thr", body), 503, format!("{what}, telegraf")));
                refused.push((g.api(Auth::Token(t.token.clone())).write("thr", body), 429, format!("{what}, no User-Agent")));
            }
            let took = start.elapsed();
            // What the server counted: every 503 it gave, served round or not.
            unavailable += refused.iter().filter(|(r, _, _)| r.status == 503).count();
            if refused.iter().any(|(r, _, _)| r.status == 204) && took >= REFUSED_FOR && round < 5 {
                thread::sleep(Duration::from_millis(1500)); // the bucket fills up again
                continue;
            }
            for (r, status, label) in &refused {
                assert_refused(r, *status, &format!("{label} (round {round}, {took:?} after the first)"));
            }
            break;
        }
    }
    assert_eq!(gauge(&g.url, "influxgate_rate_limited_unavailable_total"), unavailable as f64);
}

/// How long after a first write the matrix's writes are surely refused: the shortest case is
/// 900-byte bodies at 1000 bytes/s (a bucket of 1000), whose next 900 bytes are free 0.8 s after
/// the first and, with `on_limit = "delay"`, held rather than refused once within `max_delay`
/// (200 ms) of that.
const REFUSED_FOR: Duration = Duration::from_millis(600);

/// Sends `n` writes at once (one client, one thread each): their statuses, how long the slowest
/// took, and how far apart the first and the last were sent.
fn burst(g: &Gate, token: &str, ua: &str, n: usize, body: &str) -> (Vec<u16>, Duration, Duration) {
    let api = g.api(Auth::Token(token.into()));
    let start = Instant::now();
    let sent: Vec<(u16, Duration)> = thread::scope(|s| {
        let write = || {
            let at = start.elapsed();
            (api.send("POST", "/write", &[("db", "held")], &[("User-Agent", ua)], Some(body.as_bytes().to_vec())).status, at)
        };
        let handles: Vec<_> = (0..n).map(|_| s.spawn(write)).collect();
        handles.into_iter().map(|h| h.join().expect("writer thread")).collect()
    });
    let spread = sent.iter().map(|(_, at)| *at).max().unwrap_or_default() - sent.iter().map(|(_, at)| *at).min().unwrap_or_default();
    (sent.into_iter().map(|(status, _)| status).collect(), start.elapsed(), spread)
}

#[test]
fn delay_holds_a_burst_until_the_rate_allows_it() {
    let requests = TokenSpec::new("held-requests");
    let bytes = TokenSpec::new("held-bytes");
    let raw = token_toml(&requests, &["requests_per_second = 5".into(), "burst = 1".into(), "on_limit = \"delay\"".into()])
        + &token_toml(&bytes, &["write_bytes_per_second = 2000".into(), "on_limit = \"delay\"".into()]);
    let g = Gate::start_with(GateConfig::new().limit("max_delay = \"2s\"").raw(&raw));

    // 5 requests at 5/s, burst 1: all served, the last one 0.8 s after the first.
    let (statuses, took, _) = burst(&g, &requests.token, OTHER_UA, 5, "m v=1 1\n");
    assert_eq!(statuses, vec![204; 5]);
    assert!(took >= Duration::from_millis(750), "5 requests at 5/s served in {took:?}");
    // 4 bodies of 1000 bytes at 2000 bytes/s (a bucket of 2000): two at once, then 0.5 s apart.
    let body: String = (0..50).map(|i| format!("n v={i:>04}i {i:>09}\n")).collect();
    assert_eq!(body.len(), 1000);
    let (statuses, took, _) = burst(&g, &bytes.token, OTHER_UA, 4, &body);
    assert_eq!(statuses, vec![204; 4]);
    assert!(took >= Duration::from_millis(950), "4 KB at 2 KB/s served in {took:?}");
    assert!(gauge(&g.url, "influxgate_rate_limit_held_total") >= 6.0);

    // 20 requests at 5/s wanting to go at once: about 2 s of them (1 + 10) are held and served,
    // the rest are refused at once, as auto would: 503 for Telegraf, 429 for others.
    for (ua, refused) in [(TELEGRAF_UA, 503), (OTHER_UA, 429)] {
        thread::sleep(Duration::from_millis(1100)); // the bucket refills
        let (statuses, took, spread) = burst(&g, &requests.token, ua, 20, "m v=1 1\n");
        let served = statuses.iter().filter(|s| **s == 204).count();
        let other: Vec<_> = statuses.iter().filter(|s| **s != 204 && **s != refused).collect();
        assert!(other.is_empty(), "{ua}: {statuses:?}");
        // Requests sent later find more of the rate free: 5 more per second of spread.
        let most = 12 + (spread.as_secs_f64() * 5.0).ceil() as usize;
        assert!((11..=most).contains(&served), "{ua}: {served} served within max_delay (spread {spread:?}): {statuses:?}");
        assert!(took < Duration::from_secs(2) + spread + Duration::from_secs(2), "{ua}: held past max_delay: {took:?}");
    }
}

/// A sender that follows the rules of Telegraf's influxdb (1.x) output: points are gathered into
/// a buffer; every flush sends up to `batch` of the oldest; a 204 removes them, any 4xx drops
/// them ("will be dropped"), any other answer or a network error keeps them for the next flush.
struct TelegrafLike {
    url: String,
    token: String,
    db: String,
    client: reqwest::blocking::Client,
    buffer: VecDeque<String>,
    batch: usize,
    generated: u64,
    dropped: u64,
    answers: Vec<u16>,
}

impl TelegrafLike {
    fn new(g: &Gate, token: &str, db: &str) -> TelegrafLike {
        // Telegraf's default `timeout` is 5s; its default `metric_batch_size` is 1000.
        let client = reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        TelegrafLike {
            url: format!("{}/write?db={db}", g.url),
            token: token.into(),
            db: db.into(),
            client,
            buffer: VecDeque::new(),
            batch: 1000,
            generated: 0,
            dropped: 0,
            answers: Vec::new(),
        }
    }

    fn gather(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.generated;
            self.buffer.push_back(format!("seq,src={} n={i}i {}", self.db, 1_600_000_000_000_000_000 + i));
            self.generated += 1;
        }
    }

    fn flush(&mut self) {
        let n = self.buffer.len().min(self.batch);
        if n == 0 {
            return;
        }
        let body: String = self.buffer.iter().take(n).map(|l| format!("{l}\n")).collect();
        let sent = self
            .client
            .post(&self.url)
            .header("Authorization", format!("Token {}", self.token))
            .header("User-Agent", TELEGRAF_UA)
            .body(body)
            .send();
        let status = match sent {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0, // a network error: kept, as a 5xx
        };
        self.answers.push(status);
        if status == 204 || (400..500).contains(&status) {
            self.buffer.drain(..n);
            if status != 204 {
                self.dropped += n as u64;
            }
        }
    }

    /// Gathers `per_tick` points every `tick` for `run`, flushing every `flush_every` ticks, and
    /// on until `refused` flushes were answered other than 204 (for at most 30 s: on a loaded
    /// machine flushes come slower, and refused ones are what a test of throttling needs); then
    /// flushes what is left (as Telegraf does when stopped), for up to 10 s.
    fn run(&mut self, run: Duration, tick: Duration, per_tick: u64, flush_every: u32, refused: usize) {
        let start = Instant::now();
        let mut ticks = 0u32;
        let short = |t: &TelegrafLike| t.answers.iter().filter(|s| **s != 204).count() < refused;
        while start.elapsed() < run || (short(self) && start.elapsed() < Duration::from_secs(30)) {
            self.gather(per_tick);
            ticks += 1;
            if ticks % flush_every == 0 {
                self.flush();
            }
            thread::sleep(tick);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.buffer.is_empty() && Instant::now() < deadline {
            self.flush();
            thread::sleep(tick * flush_every);
        }
    }
}

fn stored(g: &Gate, db: &str) -> u64 {
    let v = g.admin().query_ok("SELECT count(n) FROM seq", db);
    rows(&v).first().and_then(|r| r.get(1)).and_then(|c| c.as_u64()).unwrap_or(0)
}

#[test]
fn a_sender_following_telegrafs_rules_loses_nothing_when_throttled() {
    // 1 request/s, while the sender flushes 10 times a second: most flushes are over the rate
    // (and still some when a loaded machine makes each flush take a few hundred ms).
    let rates = ["requests_per_second = 1".to_string(), "burst = 1".to_string()];
    let default = TokenSpec::new("tg-default");
    let forced = TokenSpec::new("tg-429");
    let mut forced_lines = rates.to_vec();
    forced_lines.push("on_limit = \"429\"".into());
    let raw = token_toml(&default, &rates) + &token_toml(&forced, &forced_lines);
    let g = Gate::start_with(GateConfig::new().raw(&raw));

    let run = |token: &str, db: &str| {
        let mut t = TelegrafLike::new(&g, token, db);
        t.run(Duration::from_secs(3), Duration::from_millis(20), 4, 5, 5);
        t
    };
    let (kept, lost) = thread::scope(|s| {
        let a = s.spawn(|| run(&default.token, "tg_default"));
        let b = s.spawn(|| run(&forced.token, "tg_forced"));
        (a.join().expect("sender"), b.join().expect("sender"))
    });
    // The default (auto: 503 for Telegraf): throttled, yet every point arrived.
    let throttled = kept.answers.iter().filter(|s| **s == 503).count();
    assert!(throttled >= 5, "the sender was hardly throttled: {:?}", kept.answers);
    assert!(kept.buffer.is_empty() && kept.dropped == 0, "{} left, {} dropped: {:?}", kept.buffer.len(), kept.dropped, kept.answers);
    assert_eq!(stored(&g, "tg_default"), kept.generated, "answers: {:?}", kept.answers);
    // The same sender with 429 forced drops what was refused: the check above can fail.
    assert!(lost.dropped > 0, "answers: {:?}", lost.answers);
    assert_eq!(stored(&g, "tg_forced"), lost.generated - lost.dropped, "answers: {:?}", lost.answers);
}
