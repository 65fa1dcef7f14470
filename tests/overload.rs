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
    // Wait until the slow write holds the only slot (the in-flight gauge of /metrics, which is
    // not itself counted), then any other request is turned away.
    let api = g.admin();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = Api::new(&g.url).get("/metrics").text();
        let n = m
            .lines()
            .find_map(|l| l.strip_prefix("influxgate_inflight_requests "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if n >= 1.0 {
            break;
        }
        if Instant::now() > deadline || slow.is_finished() {
            drop(tx);
            panic!("the slow write never showed in influxgate_inflight_requests: {:?}", slow.join());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy = api.write("busy", "m v=2 2");
    assert_eq!(busy.status, 503, "{}", busy.describe());
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
    assert_eq!(vs, vec![1, 3, 4], "{v}");
}
