//! Raw TCP clients for the connection and write-limit attacks: sockets that stay idle, requests
//! whose head or body never finishes, and a reader for the plain HTTP/1.1 answers they get.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A TCP connection to the server on `port`.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to {port}: {e}"));
    let _ = s.set_nodelay(true);
    s
}

/// Starts `POST /write` announcing a body of `declared` bytes and sends only `sent` of them (line
/// protocol), so the request stays in progress until the body timeout.
pub fn slow_write(port: u16, token: &str, db: &str, declared: usize, sent: usize) -> TcpStream {
    let mut s = connect(port);
    let head = format!(
        "POST /write?db={db} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\nContent-Length: {declared}\r\n\r\n"
    );
    let body: Vec<u8> = b"m v=1 1\n".iter().copied().cycle().take(sent).collect();
    s.write_all(head.as_bytes()).expect("send head");
    // The server may answer (503) and stop reading before all of it is sent.
    let _ = s.write_all(&body);
    s
}

/// An answer read off a raw connection.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one HTTP/1.1 answer with a `Content-Length` body; `None` when none has begun to arrive
/// within `within` (the request is still being served).
pub fn read_answer(s: &mut TcpStream, within: Duration) -> Option<RawAnswer> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("read timeout");
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return None,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut answer = RawAnswer { status, head, body: buf[head_end..].to_vec() };
    let len: usize = answer.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    while answer.body.len() < len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(answer)
}

/// Reads and discards until the server closes `s` (end of stream or reset): how long that took,
/// or `None` when it is still open after `within`.
pub fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut chunk = [0u8; 8192];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).expect("read timeout");
        match s.read(&mut chunk) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return None,
            Err(_) => return Some(start.elapsed()),
        }
    }
}

/// Whether the server has closed `s` already (looks without waiting).
pub fn is_closed(s: &mut TcpStream) -> bool {
    closed_within(s, Duration::from_millis(1)).is_some()
}

/// A gauge of `/metrics` (e.g. `influxgate_inflight_requests`).
pub fn gauge(url: &str, name: &str) -> f64 {
    let text = super::common::Api::new(url).get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
}

/// Waits until `cond` holds, for at most `within`; false if it never did.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
