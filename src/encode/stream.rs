//! Glue for the HTTP layer: statement results in, body bytes out, with 1.x's chunking rules per
//! kind of statement and optional gzip.
//!
//! ```ignore
//! // chunked=true
//! let mut w = BodyWriter::new(format, epoch, pretty, gzip);
//! // headers: Content-Type: w.content_type(), Content-Encoding: w.content_encoding()
//! for (result, style) in statement_results {            // as they are produced
//!     for piece in pieces(result, style, chunk_size) {
//!         send(w.chunk(&piece)?);                        // one HTTP chunk, flushed
//!     }
//! }
//! send(w.finish()?);
//!
//! // not chunked
//! for (r, style) in results.iter_mut() { buffered(r, style) }
//! let mut w = BodyWriter::new(format, epoch, pretty, gzip);
//! let mut body = w.response(&resp)?;
//! body.extend(w.finish()?);
//! ```
//!
//! Errors answered with a non-200 status (parse errors, auth, missing `q`) are never gzipped by
//! 1.x: write them with [`super::Encoder::write_error`] and no `Content-Encoding`.

use std::io;

use super::{chunk, mark_buffered_partials, split_series, Encoder, Epoch, Format, GzipStream};
use crate::query::result::{QueryResponse, StatementResult};

/// How 1.x splits a statement's answer in chunked mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkStyle {
    /// SELECT and the statements 1.x rewrites into one (`SHOW FIELD KEYS`, `SHOW SERIES`,
    /// cardinality statements): by series and `chunk_size` rows, with `partial` flags.
    Rows,
    /// `SHOW TAG KEYS`, `SHOW TAG VALUES`: one piece per measurement, never partial.
    PerSeries,
    /// Everything else (`SHOW DATABASES`, `SHOW MEASUREMENTS`, `SHOW RETENTION POLICIES`,
    /// `CREATE ...`, errors): one piece.
    Whole,
}

/// The pieces a statement's answer is sent as with `chunked=true`.
pub fn pieces(result: StatementResult, style: ChunkStyle, chunk_size: usize) -> Box<dyn Iterator<Item = StatementResult> + Send> {
    match style {
        ChunkStyle::Rows => Box::new(chunk(result, chunk_size)),
        ChunkStyle::PerSeries => Box::new(split_series(result)),
        ChunkStyle::Whole => Box::new(std::iter::once(result)),
    }
}

/// What 1.x does to a statement's answer when not chunked (see [`mark_buffered_partials`]).
pub fn buffered(result: &mut StatementResult, style: ChunkStyle) {
    if style == ChunkStyle::Rows {
        mark_buffered_partials(result);
    }
}

/// Encoder plus optional gzip, producing bytes ready to send.
pub struct BodyWriter {
    enc: Encoder,
    gzip: Option<GzipStream>,
    buf: Vec<u8>,
}

impl BodyWriter {
    pub fn new(format: Format, epoch: Epoch, pretty: bool, gzip: bool) -> BodyWriter {
        BodyWriter { enc: Encoder::new(format, epoch, pretty), gzip: gzip.then(GzipStream::new), buf: Vec::new() }
    }

    pub fn content_type(&self) -> &'static str {
        self.enc.content_type()
    }

    /// `Some("gzip")` when the body is compressed.
    pub fn content_encoding(&self) -> Option<&'static str> {
        self.gzip.as_ref().map(|_| "gzip")
    }

    /// One piece of a chunked response; the returned bytes should be sent (flushed) at once.
    pub fn chunk(&mut self, piece: &StatementResult) -> io::Result<Vec<u8>> {
        self.buf.clear();
        self.enc.write_chunk(piece, &mut self.buf);
        self.emit(true)
    }

    /// A whole non-chunked response (status 200). Call [`BodyWriter::finish`] after it.
    pub fn response(&mut self, resp: &QueryResponse) -> io::Result<Vec<u8>> {
        self.buf.clear();
        self.enc.write_response(resp, &mut self.buf);
        self.emit(false)
    }

    /// The end of the body: the gzip trailer, or nothing.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self.gzip {
            Some(g) => g.finish(),
            None => Ok(Vec::new()),
        }
    }

    fn emit(&mut self, flush: bool) -> io::Result<Vec<u8>> {
        match &mut self.gzip {
            Some(g) => g.push(&self.buf, flush),
            None => Ok(std::mem::take(&mut self.buf)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::result::{Series, Value};
    use std::io::Read;

    fn r(id: usize, rows: usize) -> StatementResult {
        StatementResult {
            statement_id: id,
            series: vec![Series {
                name: "m".into(),
                columns: vec!["time".into(), "v".into()],
                values: (0..rows).map(|i| vec![Value::Time(i as i64), Value::Integer(i as i64)]).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn styles() {
        assert_eq!(pieces(r(0, 5), ChunkStyle::Rows, 2).count(), 3);
        assert_eq!(pieces(r(0, 5), ChunkStyle::PerSeries, 2).count(), 1);
        assert_eq!(pieces(r(0, 5), ChunkStyle::Whole, 2).count(), 1);
        let mut big = r(0, DEFAULT_ROWS + 1);
        buffered(&mut big, ChunkStyle::PerSeries);
        assert!(!big.series[0].partial);
        buffered(&mut big, ChunkStyle::Rows);
        assert!(big.series[0].partial);
    }
    const DEFAULT_ROWS: usize = super::super::DEFAULT_CHUNK_SIZE;

    #[test]
    fn gzip_chunks_decode_to_plain_chunks() {
        let mut plain = BodyWriter::new(Format::Json, Epoch::Rfc3339, false, false);
        let mut gz = BodyWriter::new(Format::Json, Epoch::Rfc3339, false, true);
        assert_eq!(gz.content_encoding(), Some("gzip"));
        assert_eq!(plain.content_encoding(), None);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for p in pieces(r(0, 5), ChunkStyle::Rows, 2) {
            a.extend(plain.chunk(&p).unwrap());
            b.extend(gz.chunk(&p).unwrap());
        }
        a.extend(plain.finish().unwrap());
        b.extend(gz.finish().unwrap());
        let mut d = Vec::new();
        flate2::read::GzDecoder::new(&b[..]).read_to_end(&mut d).unwrap();
        assert_eq!(d, a);
        assert_eq!(String::from_utf8(a).unwrap().lines().count(), 3);
    }
}
