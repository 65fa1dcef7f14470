//! Encoding `/query` answers byte-for-byte as InfluxDB 1.6.7 does: JSON (default), CSV,
//! MessagePack; epoch conversion; chunking; gzip.
//!
//! Non-chunked: `encode_response(&resp, format, epoch, pretty)` (or `Encoder::write_response`).
//! Chunked: one `Encoder` per request, `Encoder::write_chunk` for each piece `chunk()` (or
//! `RowChunker`) yields, in statement order; each call produces bytes ready to send. The CSV
//! encoder keeps state between calls (header once per statement), so use one `Encoder` for the
//! whole request. Request-level errors (400 etc.): `Encoder::write_error`. `BodyWriter`,
//! `pieces` and `ChunkStyle` (module `stream`) bundle this with gzip for the HTTP layer.
//!
//! Facts checked against influxd 1.6.7 (`1.6.7~rc0`, Go 1.19):
//! * JSON documents end with `\n`; chunked JSON is one document per piece, newline-separated;
//!   chunked msgpack pieces follow each other with nothing between; CSV pieces continue the
//!   same table.
//! * `Content-Type` is `application/json`, `text/csv` or `application/x-msgpack` (no charset),
//!   for error responses too.
//! * `epoch` only converts the first column of each row, by integer division truncating toward
//!   zero (`-1500000ns` with `ms` → `-1`); `n`, `ns`, `µ` and any unknown value mean nanoseconds;
//!   empty (after trimming) means RFC3339.
//! * Error responses (`/query` 400s such as `missing required parameter "q"` and parse errors,
//!   and `/write` errors too) go through the same formatter chosen by `Accept` (and `pretty`):
//!   JSON `{"error":"..."}\n`, CSV `error\n<message>\n` (quoted when needed), msgpack
//!   `{"error": ...}` — see `Encoder::write_error`.
//! * Statement errors and messages never appear in CSV; JSON shows them; msgpack shows an
//!   errored result as `{"error": ...}` without `statement_id`.

mod chunk;
mod csv;
pub mod fmt;
mod gzip;
mod json;
mod msgpack;
mod stream;

pub use chunk::{chunk, mark_buffered_partials, parse_chunk_size, split_series, Chunks, RowChunker, DEFAULT_CHUNK_SIZE};
pub use gzip::{accepts_gzip, gzip_bytes, GzipStream};
pub use stream::{buffered, pieces, BodyWriter, ChunkStyle};

use crate::query::result::{QueryResponse, StatementResult};

/// Response body format, chosen from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Msgpack,
}

impl Format {
    /// As 1.x: the (first) `Accept` header compared as a whole, case-sensitively:
    /// `application/csv` or `text/csv` → CSV, `application/x-msgpack` → msgpack, anything else
    /// (including absent, lists like `text/csv, */*`, or parameters) → JSON.
    pub fn from_accept(header: Option<&str>) -> Format {
        match header.map(|h| h.trim_matches(|c| c == ' ' || c == '\t')) {
            Some("application/csv") | Some("text/csv") => Format::Csv,
            Some("application/x-msgpack") => Format::Msgpack,
            _ => Format::Json,
        }
    }

    /// The `Content-Type` 1.x answers with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv",
            Format::Msgpack => "application/x-msgpack",
        }
    }
}

/// How times are written, from the `epoch` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    Rfc3339,
    Ns,
    Us,
    Ms,
    S,
    M,
    H,
}

impl Epoch {
    /// As 1.x: whitespace-trimmed; empty or absent → RFC3339; `u`, `ms`, `s`, `m`, `h`; anything
    /// else (`n`, `ns`, and also `µ`, `us`, typos) → nanoseconds.
    pub fn parse(param: Option<&str>) -> Epoch {
        match param.map(str::trim) {
            None | Some("") => Epoch::Rfc3339,
            Some("u") => Epoch::Us,
            Some("ms") => Epoch::Ms,
            Some("s") => Epoch::S,
            Some("m") => Epoch::M,
            Some("h") => Epoch::H,
            Some(_) => Epoch::Ns,
        }
    }

    /// Nanoseconds per unit; `None` for RFC3339.
    pub fn divisor(self) -> Option<i64> {
        Some(match self {
            Epoch::Rfc3339 => return None,
            Epoch::Ns => 1,
            Epoch::Us => 1_000,
            Epoch::Ms => 1_000_000,
            Epoch::S => 1_000_000_000,
            Epoch::M => 60_000_000_000,
            Epoch::H => 3_600_000_000_000,
        })
    }

    /// The integer a time in column `col` becomes, or `None` to keep it a time (RFC3339 in
    /// JSON, nanoseconds in CSV, a time extension in msgpack). Only column 0 is converted.
    pub(crate) fn convert(self, col: usize, ns: i64) -> Option<i64> {
        if col != 0 {
            return None;
        }
        self.divisor().map(|d| ns / d)
    }
}

/// Encodes one request's answer, document by document.
#[derive(Debug, Clone)]
pub struct Encoder {
    format: Format,
    epoch: Epoch,
    pretty: bool,
    csv: csv::CsvState,
}

impl Encoder {
    /// `pretty` only affects JSON (1.x ignores it for CSV and msgpack).
    pub fn new(format: Format, epoch: Epoch, pretty: bool) -> Encoder {
        Encoder { format, epoch, pretty, csv: csv::CsvState::default() }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    /// A whole (non-chunked) response. 1.x's CSV and msgpack writers show only the error when
    /// `resp.error` is set.
    pub fn write_response(&mut self, resp: &QueryResponse, out: &mut Vec<u8>) {
        let results: Vec<&StatementResult> = resp.results.iter().collect();
        self.write_doc(&results, resp.error.as_deref(), out);
    }

    /// One piece of a chunked response: `{"results":[piece]}`.
    pub fn write_chunk(&mut self, piece: &StatementResult, out: &mut Vec<u8>) {
        self.write_doc(&[piece], None, out);
    }

    /// A request-level error, `{"error":"..."}` (1.x sends it with status 400/401/403/...).
    pub fn write_error(&mut self, msg: &str, out: &mut Vec<u8>) {
        self.write_doc(&[], Some(msg), out);
    }

    fn write_doc(&mut self, results: &[&StatementResult], error: Option<&str>, out: &mut Vec<u8>) {
        match self.format {
            Format::Json => json::write_document(out, results, error, self.epoch, self.pretty),
            Format::Msgpack => msgpack::write_document(out, results, error, self.epoch),
            Format::Csv => match error {
                Some(e) => self.csv.write_error(out, e),
                None => self.csv.write_results(out, results, self.epoch),
            },
        }
    }
}

/// Encodes a whole non-chunked response.
pub fn encode_response(resp: &QueryResponse, format: Format, epoch: Epoch, pretty: bool) -> Vec<u8> {
    let mut out = Vec::new();
    Encoder::new(format, epoch, pretty).write_response(resp, &mut out);
    out
}

#[cfg(test)]
mod tests;
