//! Per-token quotas: requests per second (with a burst) and /write bytes per second.
//! Past them: 429, `Retry-After: <whole seconds ≥ 1>`, body code `too many requests`.

mod common;
use common::*;

fn assert_429(r: &Resp, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.describe());
    let ra = r.header("Retry-After").unwrap_or_else(|| panic!("{what}: 429 without Retry-After: {:?}", r.headers));
    let secs: u64 = ra.trim().parse().unwrap_or_else(|_| panic!("{what}: Retry-After {ra:?} is not an integer"));
    assert!(secs >= 1, "{what}: Retry-After {secs} < 1");
    assert_eq!(r.code(), "too many requests", "{what}: {}", r.text());
    assert!(!r.error().is_empty(), "{what}: {}", r.text());
}

/// Sends `f` up to `n` times; returns the statuses seen and the first 429 answer.
fn until_429(n: usize, mut f: impl FnMut() -> Resp) -> (Vec<u16>, Option<Resp>) {
    let mut seen = Vec::new();
    for _ in 0..n {
        let r = f();
        seen.push(r.status);
        if r.status == 429 {
            return (seen, Some(r));
        }
    }
    (seen, None)
}

/// At 1 request/s with a burst of 2, a full bucket takes two requests at once and then refuses
/// every request until one second after the first of them. A round of the test below is sure to
/// end in a refused query only if it takes less than that second; a round that took longer (a
/// loaded machine) and ended in an answered query proves nothing, and is played again once the
/// bucket is full (2 s), up to `ROUNDS` times.
const ROUNDS: usize = 5;

#[test]
fn requests_per_second_limit() {
    let slow = TokenSpec::new("slow").write(&["*"]).read(&["*"]).rate(1, 2);
    let other = TokenSpec::new("other").write(&["*"]);
    let g = Gate::start_with(GateConfig::new().token(slow.clone()).token(other.clone()));
    let api = g.api(Auth::Token(slow.token.clone()));
    for round in 1..=ROUNDS {
        let start = std::time::Instant::now();
        let (seen, hit) = until_429(20, || api.write("rl", "m v=1 1"));
        assert_eq!(seen[0], 204, "first request within the burst: {seen:?}");
        let r = hit.unwrap_or_else(|| panic!("no 429 after {} requests at 1/s burst 2: {seen:?}", seen.len()));
        assert!(seen.len() >= 3, "429 before the burst of 2 was used: {seen:?}");
        assert_429(&r, "write over the request rate");
        // The limit is per token: another token is not affected.
        let r = g.api(Auth::Token(other.token.clone())).write("rl", "m v=2 2");
        assert_eq!(r.status, 204, "another token: {}", r.describe());
        // /query counts too.
        let r = api.query("SHOW DATABASES", "");
        let took = start.elapsed();
        if r.status != 429 && took >= std::time::Duration::from_secs(1) && round < ROUNDS {
            eprintln!("round {round} took {took:?}, past the second the bucket refuses in: played again");
            std::thread::sleep(std::time::Duration::from_secs(2));
            continue;
        }
        assert_429(&r, &format!("query over the request rate (round {round}, {took:?} after the first write)"));
        break;
    }
}

#[test]
fn write_bytes_per_second_limit() {
    let tok = TokenSpec::new("bytes").write(&["*"]).write_bytes_per_second(1000);
    let g = Gate::start_with(GateConfig::new().token(tok.clone()));
    let api = g.api(Auth::Token(tok.token.clone()));
    // ~600 bytes of valid line protocol.
    let body: String = (0..30).map(|i| format!("m v={i}i {i}000000000\n")).collect();
    assert!(body.len() > 500 && body.len() < 1000, "{}", body.len());
    let (seen, hit) = until_429(10, || api.write("bl", &body));
    assert_eq!(seen[0], 204, "first write within the byte budget: {seen:?}");
    let r = hit.unwrap_or_else(|| panic!("no 429 writing 600-byte bodies at 1000 B/s: {seen:?}"));
    assert_429(&r, "write over the byte rate");
}
