//! `/health` against a store that hangs: load balancers and orchestrators give up after a few
//! seconds, so the answer must come within `backend.health_timeout`, not the backend timeout of
//! other calls (src/server/ping.rs).

use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::*;

/// A TCP listener that accepts connections and never answers them (a hung store); it keeps them
/// open for as long as the test runs.
fn black_hole() -> (u16, Arc<Mutex<Vec<TcpStream>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            keep.lock().expect("lock").push(s);
        }
    });
    (port, held)
}

/// A hanging store makes `/health` answer within `health_timeout`: 503 `fail` without the write
/// spool, 200 `degraded` with it (writes are still taken, durably).
#[test]
fn health_answers_within_health_timeout_when_the_store_hangs() {
    for (spool, status, verdict) in [(false, 503, "fail"), (true, 200, "degraded")] {
        let (port, held) = black_hole();
        let mut cfg = GateConfig::new();
        cfg.backend = vec![
            "kind = \"victoriametrics\"".into(),
            format!("url = \"http://127.0.0.1:{port}\""),
            "timeout = \"30s\"".into(),
            "health_timeout = \"1s\"".into(),
        ];
        let g = Gate::start_with(cfg.raw(&format!("[spool]\nenabled = {spool}")));
        let start = Instant::now();
        let r = Api::new(&g.url).get("/health");
        let took = start.elapsed();
        assert_eq!(r.status, status, "spool {spool}: {}", r.describe());
        assert_eq!(r.json()["status"], verdict, "spool {spool}: {}", r.text());
        if !spool {
            assert!(r.header("Retry-After").is_some(), "{:?}", r.headers);
        }
        assert!(took < Duration::from_secs(4), "/health took {took:?} with health_timeout = 1s (spool {spool})");
        assert!(!held.lock().expect("lock").is_empty(), "the health check never reached the store");
        assert_eq!(Api::new(&g.url).get("/ping").status, 204);
    }
}
