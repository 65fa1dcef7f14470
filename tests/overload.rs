//! Capacity limits shared by all tokens: past `max_inflight_requests` requests being served at
//! once, influxgate answers 503 `unavailable` with `Retry-After`, and recovers when they finish.

mod common;
use common::*;
use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A request body that arrives when the test sends it (and ends when the sender is dropped).
struct SlowBody {
    rx: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl Read for SlowBody {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.buf = b,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.drain(..n);
        Ok(n)
    }
}

#[test]
fn inflight_cap_gives_503_then_recovers() {
    let g = Gate::start_with(GateConfig::new().limit("max_inflight_requests = 1"));
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    tx.send(b"m v=1 1\n".to_vec()).expect("send");
    let url = format!("{}/write?db=busy", g.url);
    let slow = std::thread::spawn(move || {
        client()
            .post(url)
            .header("Authorization", format!("Token {ADMIN_TOKEN}"))
            .body(reqwest::blocking::Body::new(SlowBody { rx, buf: Vec::new() }))
            .send()
            .map(|r| r.status().as_u16())
    });
    // While the slow write holds the only slot, other requests are turned away.
    let api = g.admin();
    let deadline = Instant::now() + Duration::from_secs(20);
    let busy = loop {
        let r = api.write("busy", "m v=2 2");
        if r.status == 503 {
            break r;
        }
        assert_eq!(r.status, 204, "{}", r.describe());
        assert!(Instant::now() < deadline, "never saw 503 while a request held the only slot");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ra = busy.header("Retry-After").unwrap_or_else(|| panic!("503 without Retry-After: {:?}", busy.headers));
    assert!(ra.trim().parse::<u64>().is_ok_and(|s| s >= 1), "Retry-After {ra:?}");
    assert_eq!(busy.code(), "unavailable", "{}", busy.text());

    // Finish the slow body: it is written, and the slot is free again.
    tx.send(b"m v=3 3\n".to_vec()).expect("send");
    drop(tx);
    let status = slow.join().expect("slow writer thread").expect("slow write");
    assert_eq!(status, 204);
    let r = api.write("busy", "m v=4 4");
    assert_eq!(r.status, 204, "after the slow write finished: {}", r.describe());
    let v = api.query_ok("SELECT v FROM m", "busy");
    let vs: Vec<i64> = rows(&v).iter().filter_map(|r| r.get(1).and_then(|x| x.as_i64())).collect();
    assert!(vs.contains(&1) && vs.contains(&3) && vs.contains(&4), "{v}");
}
