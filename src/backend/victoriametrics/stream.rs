//! Reading VictoriaMetrics' answers piece by piece, so that an answer of any size is read with
//! bounded memory: export answers line by line (`each_line`), `/api/v1/series` answers label
//! set by label set (`each_series`). Either holds at most one line or label set of
//! `MAX_LINE_BYTES` (16 MiB) plus one network chunk.

use std::time::Duration;

use super::{net_err, MAX_LINE_BYTES};
use crate::backend::{BackendError, Result};

/// The next chunk of a response body (`None` at its end), within `timeout`.
async fn next_chunk(resp: &mut reqwest::Response, timeout: Duration, path: &str) -> Result<Option<bytes::Bytes>> {
    match tokio::time::timeout(timeout, resp.chunk()).await {
        Err(_) => Err(BackendError::Timeout(format!("victoriametrics {path}: read timed out"))),
        Ok(Err(e)) => Err(net_err(e, path)),
        Ok(Ok(c)) => Ok(c),
    }
}

fn too_long(path: &str) -> BackendError {
    BackendError::Internal(format!("victoriametrics {path}: line too long"))
}

/// Calls `f` with each line of the body (the last one also without a final newline) until it
/// returns false; returns whether the whole body was read.
pub(super) async fn each_line(
    mut resp: reqwest::Response,
    timeout: Duration,
    path: &str,
    mut f: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<bool> {
    let mut split = LineSplitter::default();
    while let Some(c) = next_chunk(&mut resp, timeout, path).await? {
        if !split.feed(&c, path, &mut f)? {
            return Ok(false);
        }
    }
    split.finish(&mut f)
}

/// Splits a body into lines as bytes arrive, holding at most one partial line.
#[derive(Default)]
struct LineSplitter {
    buf: Vec<u8>,
    /// `buf[..scanned]` holds no newline: a line longer than a network chunk (an export line of
    /// 10 000 samples is ~300 KB) is searched once, not once per chunk it spans.
    scanned: usize,
}

impl LineSplitter {
    /// Feeds bytes; calls `f` with each complete line until it returns false.
    fn feed(&mut self, bytes: &[u8], path: &str, f: &mut impl FnMut(&[u8]) -> Result<bool>) -> Result<bool> {
        self.buf.extend_from_slice(bytes);
        let mut from = 0;
        while let Some(pos) = memchr::memchr(b'\n', &self.buf[self.scanned..]) {
            let end = self.scanned + pos;
            self.scanned = end + 1;
            let line = &self.buf[from..end];
            from = end + 1;
            if !f(line)? {
                return Ok(false);
            }
        }
        self.buf.drain(..from);
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(too_long(path));
        }
        Ok(true)
    }

    /// The last line, when the body did not end with a newline; whether `f` asked for more.
    fn finish(self, f: &mut impl FnMut(&[u8]) -> Result<bool>) -> Result<bool> {
        if self.buf.is_empty() {
            return Ok(true);
        }
        f(&self.buf)
    }
}

/// Splits `{"status":"success","data":[{...},{...}]}` into the objects of `data` as bytes arrive.
#[derive(Default)]
struct ObjectSplitter {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The object being read (started when an object opens at depth 2).
    current: Vec<u8>,
}

impl ObjectSplitter {
    /// Feeds bytes; calls `f` with each complete object until it returns false.
    fn feed(&mut self, bytes: &[u8], path: &str, f: &mut impl FnMut(&[u8]) -> Result<bool>) -> Result<bool> {
        for &b in bytes {
            let capturing = !self.current.is_empty();
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
            }
            if capturing || (b == b'{' && self.depth == 3) {
                self.current.push(b);
                if self.current.len() > MAX_LINE_BYTES {
                    return Err(too_long(path));
                }
                if b == b'}' && !self.in_string && self.depth == 2 {
                    let keep_on = f(&self.current)?;
                    self.current.clear();
                    if !keep_on {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }
}

/// Calls `f` with each label set of a `/api/v1/series` answer until it returns false; returns
/// whether the whole answer was read.
pub(super) async fn each_series(
    mut resp: reqwest::Response,
    timeout: Duration,
    path: &str,
    mut f: impl FnMut(std::collections::BTreeMap<String, String>) -> Result<bool>,
) -> Result<bool> {
    let mut split = ObjectSplitter::default();
    let mut on_object = |obj: &[u8]| -> Result<bool> {
        let labels = serde_json::from_slice(obj)
            .map_err(|e| BackendError::Internal(format!("victoriametrics {path}: bad series: {e}")))?;
        f(labels)
    };
    while let Some(c) = next_chunk(&mut resp, timeout, path).await? {
        if !split.feed(&c, path, &mut on_object)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_any_chunk_boundary() {
        let body = b"{\"a\":1}\n\n{\"b\":\"x\\ny\"}\r\nlast";
        let want: Vec<&[u8]> = vec![b"{\"a\":1}", b"", b"{\"b\":\"x\\ny\"}\r", b"last"];
        for cut in 0..body.len() {
            for cut2 in cut..body.len() {
                let mut s = LineSplitter::default();
                let mut got: Vec<Vec<u8>> = Vec::new();
                let mut f = |l: &[u8]| {
                    got.push(l.to_vec());
                    Ok(true)
                };
                for piece in [&body[..cut], &body[cut..cut2], &body[cut2..]] {
                    assert!(s.feed(piece, "/x", &mut f).unwrap());
                }
                assert!(s.finish(&mut f).unwrap());
                assert_eq!(got, want, "cuts at {cut}, {cut2}");
            }
        }
        // Stops when asked to, and a body ending in a newline has no empty last line.
        let mut s = LineSplitter::default();
        let mut n = 0;
        assert!(!s.feed(b"a\nb\n", "/x", &mut |_| { n += 1; Ok(false) }).unwrap());
        assert_eq!(n, 1);
        let mut s = LineSplitter::default();
        let mut got = 0;
        assert!(s.feed(b"a\nb\n", "/x", &mut |_| { got += 1; Ok(true) }).unwrap());
        assert!(s.finish(&mut |_| { got += 1; Ok(true) }).unwrap());
        assert_eq!(got, 2);
    }

    #[test]
    fn a_line_over_the_bound_is_refused() {
        let mut s = LineSplitter::default();
        let chunk = vec![b'x'; 1 << 20];
        let mut f = |_: &[u8]| Ok(true);
        let mut fed = 0;
        let err = loop {
            match s.feed(&chunk, "/api/v1/export", &mut f) {
                Ok(_) => fed += chunk.len(),
                Err(e) => break e,
            }
            assert!(fed <= MAX_LINE_BYTES, "no error after {fed} bytes");
        };
        assert!(matches!(err, BackendError::Internal(m) if m.contains("/api/v1/export") && m.contains("line too long")));
    }

    #[test]
    fn objects_split_at_any_chunk_boundary() {
        let answer = br#"{"status":"success","data":[{"__name__":"a_v","db":"d","k":"}{\"]["},{"__name__":"b","x":"\\"},{}]}"#;
        for cut in 0..answer.len() {
            let mut s = ObjectSplitter::default();
            let mut got: Vec<String> = Vec::new();
            let mut f = |o: &[u8]| {
                got.push(String::from_utf8(o.to_vec()).unwrap());
                Ok(true)
            };
            assert!(s.feed(&answer[..cut], "/x", &mut f).unwrap());
            assert!(s.feed(&answer[cut..], "/x", &mut f).unwrap());
            assert_eq!(
                got,
                vec![r#"{"__name__":"a_v","db":"d","k":"}{\"]["}"#, r#"{"__name__":"b","x":"\\"}"#, "{}"],
                "cut at {cut}"
            );
        }
        // Stops when asked to.
        let mut s = ObjectSplitter::default();
        let mut n = 0;
        assert!(!s.feed(answer, "/x", &mut |_| { n += 1; Ok(false) }).unwrap());
        assert_eq!(n, 1);
    }
}
