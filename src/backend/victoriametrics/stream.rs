//! Reading VictoriaMetrics' answers piece by piece, so that an answer of any size is read with
//! bounded memory: export answers line by line (`each_line`), holding at most one line of
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
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    while !eof {
        match next_chunk(&mut resp, timeout, path).await? {
            None => {
                eof = true;
                buf.push(b'\n');
            }
            Some(c) => buf.extend_from_slice(&c),
        }
        let mut from = 0;
        while let Some(pos) = buf[from..].iter().position(|&b| b == b'\n') {
            let line = &buf[from..from + pos];
            from += pos + 1;
            if !f(line)? {
                return Ok(false);
            }
        }
        buf.drain(..from);
        if buf.len() > MAX_LINE_BYTES {
            return Err(too_long(path));
        }
    }
    Ok(true)
}
