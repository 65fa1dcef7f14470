//! Response compression as 1.x does it for `/query` (and `/write`): when the request's
//! `Accept-Encoding` *contains* `gzip` (a plain substring test, so `x-gzip` counts) and the
//! status is 200, the body is gzip-compressed and `Content-Encoding: gzip` is set. Other
//! statuses (400 errors, 204) are sent uncompressed. In chunked mode 1.x flushes the compressor
//! after every chunk so each chunk reaches the client at once.
//!
//! The compressor runs at the fastest level. At the default level 6, compression was 16 % of
//! the server's CPU for the TSBS `high-cpu-1` query (perf, embedded store, 1.08M lines). Query
//! answers are repetitive JSON, where level 6's long match searches are slow: a 58 KB
//! `GROUP BY time(1h), hostname` answer took 7.1 ms at level 6 and 0.95 ms at level 1 (zlib,
//! same bytes). Level 1's output was 31 % larger (9.8 KB instead of 7.5 KB). 1.x uses Go's
//! default level; clients decode either.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Whether the `Accept-Encoding` header asks for gzip, by 1.x's rule.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|v| v.contains("gzip"))
}

/// A streaming gzip compressor: feed body pieces, get compressed bytes back.
pub struct GzipStream {
    enc: GzEncoder<Vec<u8>>,
}

impl Default for GzipStream {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipStream {
    pub fn new() -> GzipStream {
        GzipStream { enc: GzEncoder::new(Vec::new(), Compression::fast()) }
    }

    /// Compresses `data`; with `flush` the compressor is sync-flushed so that everything given
    /// so far can be decoded by the client. Returns the compressed bytes ready to send (may be
    /// empty without `flush`).
    pub fn push(&mut self, data: &[u8], flush: bool) -> std::io::Result<Vec<u8>> {
        self.enc.write_all(data)?;
        if flush {
            self.enc.flush()?;
        }
        Ok(std::mem::take(self.enc.get_mut()))
    }

    /// Ends the stream: the remaining compressed bytes and the gzip trailer.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.enc.finish()
    }
}

/// Compresses a whole body at once.
pub fn gzip_bytes(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut g = GzipStream::new();
    let mut out = g.push(data, false)?;
    out.extend_from_slice(&g.finish()?);
    Ok(out)
}
