//! HTTP/1.1 by hand over one TCP connection, for what a client library hides: several requests
//! on one keep-alive connection, and a body sent in parts with pauses between them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// An answer's status and body (the body read by `Content-Length`; none for 204).
#[derive(Debug)]
pub struct RawResp {
    pub status: u16,
    pub body: String,
}

impl RawConn {
    pub fn connect(port: u16) -> std::io::Result<RawConn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(RawConn { stream, buf: Vec::new() })
    }

    /// Sends a request head (with `Content-Length: body_len`) and the first `first` body bytes.
    pub fn start(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body_len: usize) -> std::io::Result<()> {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {body_len}\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes())
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// A whole request; its answer.
    pub fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<RawResp> {
        self.start(method, target, headers, body.len())?;
        self.send(body)?;
        self.read_response()
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Reads one answer (no chunked bodies: the answers asked for here have a length).
    pub fn read_response(&mut self) -> std::io::Result<RawResp> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let len: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        while self.buf.len() < head_end + len {
            self.fill()?;
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + len]).into_owned();
        self.buf.drain(..head_end + len);
        Ok(RawResp { status, body })
    }
}
