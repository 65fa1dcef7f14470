//! Splitting a statement's answer into chunks the way InfluxDB 1.6.7 does.
//!
//! In 1.x a SELECT (and the SHOW statements it rewrites into SELECTs: `SHOW FIELD KEYS`,
//! `SHOW SERIES`, ...) is emitted series by series, at most `chunk_size` rows at a time; every
//! emitted piece is its own result with the same `statement_id`:
//!
//! * a series piece is `partial` when more rows of the *same* series follow;
//! * a result is `partial` when anything at all follows in that statement (more rows of this
//!   series or another series); the very last piece is not partial.
//!
//! With `chunked=true` each piece is sent as its own document (`chunk`). Without it (chunk size
//! 10000) 1.x glues the pieces back together but keeps the first piece's `partial: true` on the
//! series: a series with more than 10000 rows comes out with `"partial":true` even though the
//! response is complete (`mark_buffered_partials` reproduces that).
//!
//! `SHOW TAG KEYS` and `SHOW TAG VALUES` instead send one result per measurement, never
//! partial and never split by rows (`split_series`); `SHOW MEASUREMENTS`, `SHOW DATABASES`,
//! `SHOW RETENTION POLICIES` etc. send their whole answer as one result.
//!
//! Results carrying an error or no series pass through unchanged (e.g. `{"statement_id":2}` for
//! a SELECT that matched nothing).

use std::collections::VecDeque;

use crate::query::result::{Series, StatementResult, Value};

/// 1.x's default `chunk_size`, also the row batch size of non-chunked SELECTs.
pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

/// The chunk size 1.x uses for a request: the `chunk_size` parameter when `chunked=true` and it
/// parses as a positive integer, otherwise 10000.
pub fn parse_chunk_size(chunked: bool, param: Option<&str>) -> usize {
    if !chunked {
        return DEFAULT_CHUNK_SIZE;
    }
    match param.and_then(|p| p.parse::<i64>().ok()) {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_CHUNK_SIZE),
        _ => DEFAULT_CHUNK_SIZE,
    }
}

/// Splits `result` into the pieces 1.x sends for a SELECT with `chunked=true`; lazily, one piece
/// per `next()`. Messages, if any, ride on the first piece. `chunk_size` 0 means 10000.
pub fn chunk(result: StatementResult, chunk_size: usize) -> Chunks {
    let chunk_size = if chunk_size == 0 { DEFAULT_CHUNK_SIZE } else { chunk_size };
    if result.error.is_some() || result.series.is_empty() {
        return Chunks { passthrough: Some(result), ..Chunks::empty(chunk_size) };
    }
    let StatementResult { statement_id, series, messages, time_zone, .. } = result;
    Chunks {
        statement_id,
        time_zone,
        chunk_size,
        messages,
        series: series.into(),
        current: None,
        passthrough: None,
    }
}

/// Iterator returned by [`chunk`].
pub struct Chunks {
    statement_id: usize,
    time_zone: Option<chrono_tz::Tz>,
    chunk_size: usize,
    messages: Vec<crate::query::result::Message>,
    series: VecDeque<Series>,
    /// The series being cut: its header (values empty) and its remaining rows.
    current: Option<(Series, std::iter::Peekable<std::vec::IntoIter<Vec<Value>>>)>,
    passthrough: Option<StatementResult>,
}

impl Chunks {
    fn empty(chunk_size: usize) -> Chunks {
        Chunks {
            statement_id: 0,
            time_zone: None,
            chunk_size,
            messages: Vec::new(),
            series: VecDeque::new(),
            current: None,
            passthrough: None,
        }
    }
}

impl Iterator for Chunks {
    type Item = StatementResult;

    fn next(&mut self) -> Option<StatementResult> {
        if let Some(r) = self.passthrough.take() {
            return Some(r);
        }
        if self.current.is_none() {
            let mut s = self.series.pop_front()?;
            let values = std::mem::take(&mut s.values);
            self.current = Some((s, values.into_iter().peekable()));
        }
        let (head, rows) = self.current.as_mut()?;
        let values: Vec<Vec<Value>> = rows.by_ref().take(self.chunk_size).collect();
        let more_rows = rows.peek().is_some();
        let piece = Series {
            name: head.name.clone(),
            tags: head.tags.clone(),
            columns: head.columns.clone(),
            values,
            partial: more_rows,
        };
        if !more_rows {
            self.current = None;
        }
        Some(StatementResult {
            statement_id: self.statement_id,
            series: vec![piece],
            messages: std::mem::take(&mut self.messages),
            error: None,
            partial: more_rows || !self.series.is_empty(),
            time_zone: self.time_zone,
        })
    }
}

/// One result per series, none partial: what 1.x sends for `SHOW TAG KEYS` / `SHOW TAG VALUES`
/// with `chunked=true`. Messages ride on the first piece.
pub fn split_series(result: StatementResult) -> impl Iterator<Item = StatementResult> {
    let mut passthrough = None;
    let mut pieces = Vec::new();
    if result.error.is_some() || result.series.is_empty() {
        passthrough = Some(result);
    } else {
        let StatementResult { statement_id, series, mut messages, time_zone, .. } = result;
        for s in series {
            pieces.push(StatementResult {
                statement_id,
                series: vec![Series { partial: false, ..s }],
                messages: std::mem::take(&mut messages),
                error: None,
                partial: false,
                time_zone,
            });
        }
    }
    passthrough.into_iter().chain(pieces)
}

/// The non-chunked SELECT quirk: a series longer than 10000 rows keeps `partial: true`.
pub fn mark_buffered_partials(result: &mut StatementResult) {
    for s in &mut result.series {
        if s.values.len() > DEFAULT_CHUNK_SIZE {
            s.partial = true;
        }
    }
}

/// Row-at-a-time form of [`chunk`] for producers that stream rows (bounded memory): push rows
/// in series order; whenever a piece is complete it is returned. Mirrors 1.x's emitter, which
/// also only knows a piece is partial once the next row arrives.
pub struct RowChunker {
    statement_id: usize,
    chunk_size: usize,
    columns: Vec<String>,
    row: Option<Series>,
    emitted: bool,
}

impl RowChunker {
    pub fn new(statement_id: usize, columns: Vec<String>, chunk_size: usize) -> RowChunker {
        let chunk_size = if chunk_size == 0 { DEFAULT_CHUNK_SIZE } else { chunk_size };
        RowChunker { statement_id, chunk_size, columns, row: None, emitted: false }
    }

    /// Adds a row of series (`name`, `tags`); returns the previous piece when it is complete.
    pub fn push(&mut self, name: &str, tags: &[(String, String)], values: Vec<Value>) -> Option<StatementResult> {
        let out = match &mut self.row {
            Some(r) if r.name == name && r.tags == tags => {
                if r.values.len() < self.chunk_size {
                    r.values.push(values);
                    return None;
                }
                let mut done = self.row.take()?;
                done.partial = true;
                Some(done)
            }
            Some(_) => self.row.take(),
            None => None,
        };
        self.row = Some(Series {
            name: name.to_string(),
            tags: tags.to_vec(),
            columns: self.columns.clone(),
            values: vec![values],
            partial: false,
        });
        out.map(|s| self.wrap(s, true))
    }

    /// The last piece; for a statement without rows, the bare `{"statement_id":N}` result 1.x
    /// always sends.
    pub fn finish(mut self) -> Option<StatementResult> {
        match self.row.take() {
            Some(s) => Some(self.wrap(s, false)),
            None if !self.emitted => Some(StatementResult { statement_id: self.statement_id, ..Default::default() }),
            None => None,
        }
    }

    fn wrap(&mut self, s: Series, partial: bool) -> StatementResult {
        self.emitted = true;
        StatementResult {
            statement_id: self.statement_id,
            series: vec![s],
            messages: Vec::new(),
            error: None,
            partial,
            time_zone: None,
        }
    }
}
