//! Streaming raw SELECTs: a raw `SELECT` over tens of millions of points answered with bounded
//! memory, byte-identical to the buffered answer of [`super::select`].
//!
//! # How
//!
//! The buffered evaluator orders the points of a measurement as 1.x does: one merge over all
//! its series, a heap driven as Go's `container/heap` ([`GoHeap`]) holding the current
//! point of every series, ordered by group (GROUP BY tags), time, then the selected string
//! values. Which of two points that compare equal comes first depends on the heap's layout, so
//! the only way to give 1.x's order is to run the same heap. That heap is incremental: it holds
//! one point per series and, after handing out the least one, needs only the next point of that
//! series. So the stream runs the very same heap ([`GoHeap`], with the same comparison,
//! the same input order and the same per-series rows as the buffered path), over series read
//! lazily:
//!
//! * each candidate series (catalog lookup with the condition's tag terms) is an input with a
//!   small buffer of its next rows (already filtered by the condition, capped by LIMIT+OFFSET as
//!   the buffered path caps each series);
//! * an empty buffer is refilled by one ordered, limited scan (the Backend v2 seam:
//!   `ScanRequest` with a series set, `ScanOrder` and a per-series limit of `B` points) over a
//!   time window from the input's cursor onwards (downwards for `ORDER BY time DESC`, which the
//!   store answers newest first). The scan reads, besides the input that ran dry, every input
//!   that holds at most `B / 2` rows and whose own cursor is at or past this one in read order:
//!   its rows before its cursor are read again and dropped, never skipped. In a merge in time
//!   order the input that runs dry is the one furthest behind, so one scan refills all series
//!   together: a SQL store answers a window of the whole merge in one statement (ClickHouse:
//!   `_series IN (...)`, `ORDER BY _series, time [DESC]`, `LIMIT B BY _series`), not one
//!   statement per series. After the scan, an input that got `B` points continues after the
//!   last of them; one that got fewer has read the window. Window widths adapt per input to
//!   about `B` points (the span of the last `B` points read; doubled when a window held under
//!   `B / 4`; the rest of the range after an empty window), so a store that reads a whole
//!   window before its limit applies (ClickHouse 18.16, VictoriaMetrics' export) reads little
//!   past what the merge needs;
//! * groups, LIMIT/OFFSET per group and measurements (one after another, in name order,
//!   reversed for DESC) are applied on the merged rows as the buffered path applies them.
//!
//! # The bound
//!
//! With `W` (`query.stream_window_points`, default [`DEFAULT_WINDOW_POINTS`] = 16384) and `S`
//! candidate series of the measurement being read, a scan answers at most
//! `B = max(W / S, min(4, W))` points per series (plus rows of one duplicated timestamp, which only
//! a store keeping duplicates has), taken into the buffers chunk by chunk as they arrive. An input
//! is read along only while it holds at most `B / 2` rows, so a buffer never holds more than
//! `3B / 2` rows, and the engine at most `S × 3B / 2` rows, i.e. `3/2 × max(W, 4 × S)`: `1.5 W`
//! rows up to `W / 4` series (4096 at the default), 6 rows per series past that, whatever the
//! number of points. On top: one chunk being read (1024 rows on the SQL stores; a store emulating
//! DESC keeps a tail of `B` rows, `backend::ordered`), one output batch of at most `W` rows, and,
//! in the HTTP layer, one encoded batch (non-chunked) or one piece of `chunk_size` rows (chunked;
//! the client picks `chunk_size`) plus a bounded channel of encoded pieces.
//!
//! What stays O(S), because 1.x's order needs it: the heap holds the current point of every
//! series (a row, its tie-break key), each input its tags, cursor and buffer, the statement's
//! catalog snapshot the measurement's series list, and a refill names its series set (tags
//! copied into the request, and by the store into its plan). Measured with
//! `scripts/raw-select-memory.sh` (release build, embedded store, 600,000 points, one float field
//! and two short tags, W = 16384): peak RSS 43 MiB over 3,000 series, 120 MiB over 30,000, so
//! about 3 KiB per series in all, buffered rows and those copies included. There is no series limit and no buffered fallback: every streamable
//! statement streams, over any number of series, and its order of equal points is the buffered
//! evaluator's (the same heap, fed the same rows).
//!
//! Scans: with `S` series read in step (points at shared times, the usual case) one scan refills
//! every buffer, so a merge costs about one scan per `max(W, 4 × S)` points. A series much denser
//! than the others runs dry alone and is refilled `B` points at a time (the scan still reads
//! every other series whose buffer is low): with many series `B` is small, so such a merge costs
//! more scans; a larger `W` trades memory for fewer.
//!
//! # What streams
//!
//! [`streamable`]: a raw SELECT (no function calls) over measurements (named or regex; no
//! subquery), no `GROUP BY time`, no `SLIMIT`/`SOFFSET`, no `INTO`, and a condition whose time
//! comparisons are all top-level `AND` terms. `GROUP BY` tags and several measurements give
//! several series: they stream only where the encoder takes several series piece by piece
//! (`open_for(.., several = true)`: chunked answers, and non-chunked compact JSON, whose writer
//! closes one series object and opens the next). Anything else (or a statement that fails
//! validation) goes through the buffered path. Streamed answers are not a snapshot: points
//! written while the answer streams may or may not appear (as with 1.x).
//!
//! Settings (`[query]` in config.toml, carried in the context as [`super::settings::Settings`]):
//! `streaming = false` disables streaming; `stream_window_points` sets `W`.

use std::collections::VecDeque;

use futures::StreamExt;

use super::cond;
use super::error::QResult;
use super::ir::{BinOp, Dimension, Expr, Select, Source};
use super::result::{Series, Value};
use super::functions::goheap::GoHeap;
use super::select::{MeasInfo, RawCompiled};
use super::{lower, select, QueryContext};
use crate::backend::{MeasurementFilter, ScanOrder, ScanRequest, SeriesInfo, SharedBackend};
use crate::influxql::ast as a;
use crate::rules::limits;

type Tags = Vec<(String, String)>;

pub use super::settings::DEFAULT_WINDOW_POINTS;

/// Fewest points a scan reads of a series (unless `W` is smaller): with many series, the rows
/// held per series (up to `3/2` of it) beside its head.
const MIN_SERIES_ROWS: usize = 4;

fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call { .. } => true,
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        Expr::Paren(inner) => has_call(inner),
        _ => false,
    }
}

/// Whether `sel` can be streamed (see the module docs).
pub(crate) fn streamable(sel: &Select) -> bool {
    if sel.into.is_some()
        || sel.dimensions.iter().any(|d| matches!(d, Dimension::Time { .. }))
        || sel.slimit != 0
        || sel.soffset != 0
        || sel.sources.is_empty()
        || !sel.sources.iter().all(|s| matches!(s, Source::Measurement { .. } | Source::Regex { .. }))
        || sel.fields.is_empty()
        || sel.fields.iter().any(|f| has_call(&f.expr))
    {
        return false;
    }
    match &sel.condition {
        None => true,
        Some(c) => match cond::split_time(c, 0) {
            Ok((rest, _)) => rest.map_or(true, |r| !cond::mentions_time(&r)),
            Err(_) => false,
        },
    }
}

/// Whether the answer of `sel` may hold several series (GROUP BY tags, several measurements).
fn may_have_several_series(sel: &Select) -> bool {
    !sel.dimensions.is_empty() || sel.sources.len() != 1 || !matches!(sel.sources[0], Source::Measurement { .. })
}

/// A streaming raw SELECT: call [`RawSelect::next_batch`] until it answers `None`.
pub struct RawSelect {
    backend: SharedBackend,
    ctx: QueryContext,
    /// The statement as written (lowered).
    sel: Select,
    /// Its condition without the time terms.
    rest: Option<Expr>,
    lo: i64,
    hi: i64,
    phase: Phase,
    /// The statement's `tz()`, for the encoders.
    pub time_zone: Option<chrono_tz::Tz>,
}

enum Phase {
    /// Nothing read yet: validate, then plan.
    Start,
    /// The merge of measurement after measurement.
    Merge(Box<MergeState>),
    Done,
}

/// Opens a streaming answer for `stmt`, or gives `ctx` back when the statement is not
/// streamable (or not allowed: the buffered path then answers with the right error). With
/// `several` false, statements whose answer may hold several series (GROUP BY tags, several
/// measurements) are not streamed either: [`RawSelect::next_batch`] may hand out batches of
/// different series only when the caller encodes each batch as it comes (chunked answers).
pub fn open_for(backend: SharedBackend, ctx: QueryContext, stmt: &a::Statement, several: bool) -> Result<RawSelect, Box<QueryContext>> {
    let a::Statement::Select(s) = stmt else { return Err(Box::new(ctx)) };
    // A store that executes InfluxQL itself answers the statement whole (`super::upstream`).
    if !ctx.settings.streaming || backend.statements().is_some() || (super::needs_admin(stmt) && !ctx.is_admin) {
        return Err(Box::new(ctx));
    }
    if super::read_databases(stmt, &ctx).iter().any(|db| !ctx.is_admin && !(ctx.can_read)(db)) {
        return Err(Box::new(ctx));
    }
    // A statement 1.x rejects is answered by the buffered path (with the error 1.x reports).
    if select::check(s, ctx.now).is_err() {
        return Err(Box::new(ctx));
    }
    let sel = lower::select(s);
    if !streamable(&sel) || (!several && may_have_several_series(&sel)) {
        return Err(Box::new(ctx));
    }
    let (rest, tr) = match &sel.condition {
        Some(c) => match cond::split_time(c, ctx.now) {
            Ok(x) => x,
            Err(_) => return Err(Box::new(ctx)),
        },
        None => (None, cond::TimeRange::unbounded()),
    };
    let time_zone = s.location.as_ref().map(|l| l.zone);
    let (lo, hi) = (tr.min_or(), tr.max_or());
    // Validation, planning and the merge read the catalog through one snapshot.
    let backend = super::snapshot::CatalogSnapshot::shared(backend);
    Ok(RawSelect { backend, ctx, sel, rest, lo, hi, phase: Phase::Start, time_zone })
}

/// The statement `sel` restricted to `[lo, hi]` (the rest of its condition kept).
fn with_bounds(sel: &Select, rest: Option<&Expr>, lo: i64, hi: i64) -> Select {
    let bounds = Expr::bin(
        BinOp::And,
        Expr::bin(BinOp::Gte, Expr::var("time"), Expr::Integer(lo)),
        Expr::bin(BinOp::Lte, Expr::var("time"), Expr::Integer(hi)),
    );
    let mut w = sel.clone();
    w.condition = Some(match rest {
        Some(r) => Expr::bin(BinOp::And, Expr::Paren(Box::new(r.clone())), bounds),
        None => bounds,
    });
    w
}

impl RawSelect {
    /// The next rows (one series, never empty), `None` at the end. An `Err` is the statement's
    /// error as the buffered path words it. Consecutive batches of one series continue it.
    /// The governor of the query this statement belongs to.
    pub fn governor(&self) -> &super::govern::Governor {
        &self.ctx.governor
    }

    pub async fn next_batch(&mut self) -> QResult<Option<Series>> {
        loop {
            match &mut self.phase {
                Phase::Done => return Ok(None),
                Phase::Start => {
                    // The statement passed the checks that need no catalog (`open_for`): the
                    // databases it names are checked first, as 1.x does.
                    select::normalize(self.backend.as_ref(), &self.ctx, &self.sel).await?;
                    // The buffered evaluator over an empty range (its end before its start)
                    // validates the statement exactly as the buffered path does (same errors,
                    // same texts) without reading points.
                    let t = self.lo.max(i64::MIN + 1);
                    let mut empty = with_bounds(&self.sel, self.rest.as_ref(), t, t - 1);
                    empty.limit = 0;
                    empty.offset = 0;
                    select::select(self.backend.as_ref(), &self.ctx, &empty).await?;
                    self.phase = self.plan().await?;
                }
                Phase::Merge(m) => match m.next_batch(&self.backend, &self.sel).await? {
                    Some(s) => return Ok(Some(s)),
                    None => self.phase = Phase::Done,
                },
            }
        }
    }

    /// Decides how the statement is answered (before any row is produced).
    async fn plan(&mut self) -> QResult<Phase> {
        let Some(prep) = select::raw_prepare(self.backend.as_ref(), &self.ctx, &self.sel).await? else {
            return Ok(Phase::Done);
        };
        let mut metas = prep.metas.clone();
        if self.sel.order_desc {
            metas.reverse();
        }
        let mut todo = VecDeque::new();
        for m in metas {
            let Some(rc) = select::raw_compile(&prep, &self.sel, &m)? else { continue };
            let series = self
                .backend
                .series(&m.db, m.rp.as_deref(), &MeasurementFilter::Names(vec![m.name.clone()]), rc.pred())
                .await
                ?;
            if !series.is_empty() {
                todo.push_back((m, rc, series));
            }
        }
        Ok(Phase::Merge(Box::new(MergeState {
            todo,
            cur: None,
            columns: prep.columns,
            has_tag_dims: prep.has_tag_dims,
            lo: self.lo,
            hi: self.hi,
            per_group: limits::Counter::new(limits::raw_row_limit(self.sel.limit, self.sel.offset), self.sel.offset),
            window: self.ctx.settings.window_points,
            out: None,
            carry: None,
            cur_group: None,
            rows: limits::Counter::new(0, 0),
        })))
    }
}

// ---------------------------------------------------------------------------------------------
// The incremental merge

/// The current point of one input in the heap.
struct Head {
    time: i64,
    key: Vec<Value>,
    vals: Vec<Value>,
}

/// One series read lazily: its next rows (kept by the condition), and where to read on.
struct Input {
    tags: Tags,
    gid: usize,
    rows: VecDeque<(i64, Vec<Value>)>,
    /// Ascending: the next time to read from; descending: the next time to read down from.
    cursor: i64,
    /// Nothing left to read (rows may still be buffered).
    exhausted: bool,
    /// Rows kept so far (for the LIMIT cap).
    kept: usize,
    width: i128,
}

/// The merge over one measurement's series.
struct MeasMerge {
    name: String,
    db: String,
    rp: Option<String>,
    rc: RawCompiled,
    inputs: Vec<Input>,
    /// Group tags by group id (ids in the order of the tags).
    groups: Vec<Tags>,
    heap: GoHeap<Head>,
    /// Rows a series buffers (`B`).
    per_series: usize,
    desc: bool,
}

struct MergeState {
    /// Measurements still to merge, in answer order, with their candidate series.
    todo: VecDeque<(MeasInfo, RawCompiled, Vec<SeriesInfo>)>,
    cur: Option<MeasMerge>,
    columns: Vec<String>,
    has_tag_dims: bool,
    lo: i64,
    hi: i64,
    /// LIMIT/OFFSET of each group, fresh (1.6.7's raw OFFSET without LIMIT included).
    per_group: limits::Counter,
    /// `W`: rows per batch, and what the merge's buffers share.
    window: usize,
    /// The batch being filled.
    out: Option<Series>,
    /// A row of the next group, read while `out` held rows of the previous one.
    carry: Option<(String, usize, Vec<Value>)>,
    /// (measurement, group id) of the rows being handed out, for LIMIT/OFFSET per group.
    cur_group: Option<(String, usize)>,
    /// LIMIT/OFFSET of the group being handed out.
    rows: limits::Counter,
}

impl MergeState {
    async fn next_batch(&mut self, backend: &SharedBackend, sel: &Select) -> QResult<Option<Series>> {
        let batch = self.window.max(1);
        loop {
            let item = match self.carry.take() {
                Some(x) => Some(x),
                None => self.next_row(backend, sel).await?,
            };
            let Some((name, gid, row)) = item else {
                return Ok(self.out.take().filter(|s| !s.values.is_empty()));
            };
            let same = self.cur_group.as_ref().is_some_and(|(n, g)| *n == name && *g == gid);
            if !same {
                if let Some(o) = self.out.take().filter(|s| !s.values.is_empty()) {
                    self.carry = Some((name, gid, row));
                    return Ok(Some(o));
                }
                self.cur_group = Some((name.clone(), gid));
                self.rows = self.per_group;
            }
            if !self.rows.admit() {
                continue;
            }
            let out = self.out.get_or_insert_with(|| {
                let tags = match (&self.cur, self.has_tag_dims) {
                    (Some(m), true) => m.groups.get(gid).cloned().unwrap_or_default(),
                    _ => Vec::new(),
                };
                Series { name: name.clone(), tags, columns: self.columns.clone(), values: Vec::new(), partial: false }
            });
            out.values.push(row);
            if out.values.len() >= batch {
                return Ok(self.out.take());
            }
        }
    }

    /// The next merged row: (measurement, group id, row).
    async fn next_row(&mut self, backend: &SharedBackend, sel: &Select) -> QResult<Option<(String, usize, Vec<Value>)>> {
        loop {
            if self.cur.is_none() {
                let Some((m, rc, series)) = self.todo.pop_front() else { return Ok(None) };
                self.cur = Some(MeasMerge::start(backend, sel, m, rc, series, (self.lo, self.hi), self.window).await?);
            }
            let Some(mm) = self.cur.as_mut() else { continue };
            match mm.next(backend, self.lo, self.hi).await? {
                Some((gid, row)) => return Ok(Some((mm.name.clone(), gid, row))),
                None => self.cur = None,
            }
        }
    }
}

impl MeasMerge {
    async fn start(
        backend: &SharedBackend,
        sel: &Select,
        m: MeasInfo,
        rc: RawCompiled,
        series: Vec<SeriesInfo>,
        (lo, hi): (i64, i64),
        window: usize,
    ) -> QResult<MeasMerge> {
        let desc = sel.order_desc;
        // Inputs in the buffered path's order: by group, then series key; reversed for DESC.
        let mut order: Vec<(Tags, String, Tags)> = series
            .into_iter()
            .map(|s| (rc.group(&s.tags), crate::model::series_key(&m.name, &s.tags), s.tags))
            .collect();
        order.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        if desc {
            order.reverse();
        }
        let mut groups: Vec<Tags> = order.iter().map(|o| o.0.clone()).collect();
        groups.sort();
        groups.dedup();
        let w = window.max(1);
        let per_series = (w / order.len().max(1)).max(MIN_SERIES_ROWS.min(w));
        let width = hi as i128 - lo as i128 + 1;
        let mut inputs = Vec::with_capacity(order.len());
        for (g, _, tags) in order {
            let gid = groups.binary_search(&g).unwrap_or(0);
            inputs.push(Input {
                tags,
                gid,
                rows: VecDeque::new(),
                cursor: if desc { hi } else { lo },
                exhausted: lo > hi,
                kept: 0,
                width,
            });
        }
        let mut mm = MeasMerge {
            name: m.name,
            db: m.db,
            rp: m.rp,
            rc,
            inputs,
            groups,
            heap: GoHeap::new(Vec::new(), &|_, _| false),
            per_series,
            desc,
        };
        // `heap.Init` over the first row of every series that has one, in input order (the
        // first refill reads every series at once).
        let mut firsts = Vec::new();
        for i in 0..mm.inputs.len() {
            if let Some(h) = mm.next_head(backend, i, lo, hi).await? {
                firsts.push((i, h));
            }
        }
        let desc = mm.desc;
        let inputs = &mm.inputs;
        let heap = GoHeap::new(firsts, &|x, y| head_less(inputs, desc, x, y));
        mm.heap = heap;
        Ok(mm)
    }

    /// Pops the least point and pushes the next one of its series: (group id, answer row).
    async fn next(&mut self, backend: &SharedBackend, lo: i64, hi: i64) -> QResult<Option<(usize, Vec<Value>)>> {
        let desc = self.desc;
        let popped = {
            let inputs = &self.inputs;
            self.heap.pop(&|x, y| head_less(inputs, desc, x, y))
        };
        let Some((i, h)) = popped else { return Ok(None) };
        if let Some(next) = self.next_head(backend, i, lo, hi).await? {
            let inputs = &self.inputs;
            self.heap.push(i, next, &|x, y| head_less(inputs, desc, x, y));
        }
        let inp = &self.inputs[i];
        Ok(Some((inp.gid, self.rc.row(&inp.tags, h.time, &h.vals))))
    }

    /// The next row of input `i` as a heap entry, refilling its buffer when empty.
    async fn next_head(&mut self, backend: &SharedBackend, i: usize, lo: i64, hi: i64) -> QResult<Option<Head>> {
        loop {
            let inp = &mut self.inputs[i];
            if let Some((t, vals)) = inp.rows.pop_front() {
                let key = self.rc.key(&inp.tags, t, &vals);
                return Ok(Some(Head { time: t, key, vals }));
            }
            if inp.exhausted {
                return Ok(None);
            }
            self.refill(backend, i, lo, hi).await?;
        }
    }

    /// Reads the next rows of input `i`, and of the inputs that can be read along with it, in
    /// one ordered, limited scan (see the module docs).
    async fn refill(&mut self, backend: &SharedBackend, i: usize, lo: i64, hi: i64) -> QResult<()> {
        let (b, desc) = (self.per_series, self.desc);
        let inp = &self.inputs[i];
        if inp.exhausted || !inp.rows.is_empty() {
            return Ok(());
        }
        let from = inp.cursor;
        let (wlo, whi) = if desc {
            ((from as i128 - inp.width + 1).max(lo as i128) as i64, from)
        } else {
            (from, (from as i128 + inp.width - 1).min(hi as i128) as i64)
        };
        // (tags, input), sorted by tags: the series the scan reads.
        let mut set: Vec<(Tags, usize)> =
            (0..self.inputs.len()).filter(|&j| j == i || self.reads_along(j, from)).map(|j| (self.inputs[j].tags.clone(), j)).collect();
        set.sort();
        let req = ScanRequest::new(&self.db, self.rp.as_deref(), &self.name, self.rc.pred().clone(), wlo, whi, self.rc.scan.clone())
            .only(set.iter().map(|s| s.0.clone()).collect())
            .ordered(if desc { ScanOrder::Desc } else { ScanOrder::Asc })
            .limited(Some(b))
            .filtered(self.rc.where_fields().clone());
        let mut stream = backend.scan(req).await?;
        // Per member of `set`: points read, the first and the last time read.
        let mut got: Vec<(usize, Option<i64>, Option<i64>)> = vec![(0, None, None); set.len()];
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            // A series created since the catalog was read is none of the inputs.
            let Ok(k) = set.binary_search_by(|s| s.0.cmp(&chunk.tags)) else { continue };
            self.take(set[k].1, chunk, &mut got[k]);
        }
        drop(stream);
        for (k, (_, j)) in set.iter().enumerate() {
            self.advance(*j, got[k], b, (wlo, whi), (lo, hi), *j == i);
        }
        Ok(())
    }

    /// Whether input `j` is read along with a refill reading from `from`: it has few rows left,
    /// and its own next read starts at or past `from` in read order (rows before its cursor are
    /// read again and dropped, never skipped).
    fn reads_along(&self, j: usize, from: i64) -> bool {
        let inp = &self.inputs[j];
        !inp.exhausted && inp.rows.len() <= self.per_series / 2 && if self.desc { inp.cursor <= from } else { inp.cursor >= from }
    }

    /// Buffers the rows of `chunk` (of input `j`) past its cursor that the condition keeps.
    fn take(&mut self, j: usize, chunk: crate::backend::SeriesChunk, got: &mut (usize, Option<i64>, Option<i64>)) {
        let (desc, cap) = (self.desc, self.rc.cap.map(|c| c.0));
        let ncols = self.rc.scan.len();
        let inp = &mut self.inputs[j];
        let mut columns: Vec<std::vec::IntoIter<Option<crate::model::FieldValue>>> =
            chunk.columns.into_iter().map(|c| c.into_iter()).collect();
        for &t in &chunk.times {
            let vals: Vec<Value> = (0..ncols)
                .map(|c| columns.get_mut(c).and_then(|c| c.next()).flatten().as_ref().map(super::eval::from_field).unwrap_or(Value::Null))
                .collect();
            if got.2 != Some(t) {
                got.0 += 1;
            }
            got.1.get_or_insert(t);
            got.2 = Some(t);
            let seen = if desc { t > inp.cursor } else { t < inp.cursor };
            if seen || cap.is_some_and(|c| inp.kept >= c) {
                continue;
            }
            if self.rc.keep(&inp.tags, t, &vals) {
                inp.kept += 1;
                inp.rows.push_back((t, vals));
            }
        }
    }

    /// Moves input `j`'s cursor past what a refill over `[wlo, whi]` read of it (`got`: points,
    /// first and last time); `owner`: the refill was for `j`, whose window width adapts.
    fn advance(&mut self, j: usize, got: (usize, Option<i64>, Option<i64>), b: usize, (wlo, whi): (i64, i64), (lo, hi): (i64, i64), owner: bool) {
        let desc = self.desc;
        let cap = self.rc.cap.map(|c| c.0);
        let inp = &mut self.inputs[j];
        let (n, first, last) = got;
        // The store answered `b` points: more may follow the last one; else the window is read.
        let hit = n >= b;
        let next = match (hit, desc) {
            (true, false) => last.and_then(|l| l.checked_add(1)).filter(|&c| c <= hi),
            (true, true) => last.and_then(|l| l.checked_sub(1)).filter(|&c| c >= lo),
            (false, false) => (whi < hi).then(|| whi + 1),
            (false, true) => (wlo > lo).then(|| wlo - 1),
        };
        match next {
            None => inp.exhausted = true,
            Some(c) => inp.cursor = if desc { inp.cursor.min(c) } else { inp.cursor.max(c) },
        }
        if cap.is_some_and(|c| inp.kept >= c) {
            inp.exhausted = true;
        }
        if hit {
            // The span of the `b` points read: the next window should hold about as many.
            if let (Some(f), Some(l)) = (first, last) {
                inp.width = (l as i128 - f as i128).abs().max(1) + 1;
            }
        } else if owner && n == 0 {
            // Nothing in the window: the next read covers the rest of the range (the limit
            // bounds what it answers), instead of doubling its way to the end one read at a time.
            inp.width = 1i128 << 65;
        } else if owner && n <= b / 4 {
            inp.width = inp.width.saturating_mul(2).min(1i128 << 65);
        }
    }
}

/// The merge's comparison: group first (in the order of their tags), then time and the
/// tie-break key (see `select::point_less`).
fn head_less(inputs: &[Input], desc: bool, x: &(usize, &Head), y: &(usize, &Head)) -> bool {
    let (gx, gy) = (inputs[x.0].gid, inputs[y.0].gid);
    if gx != gy {
        return if desc { gx > gy } else { gx < gy };
    }
    select::point_less(x.1.time, &x.1.key, y.1.time, &y.1.key, desc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::influxql;

    fn stmt(q: &str) -> Select {
        let parsed = influxql::parse_query(q).expect("parse");
        match &parsed.statements[0] {
            a::Statement::Select(s) => lower::select(s),
            _ => panic!("not a select"),
        }
    }

    /// A context for `t` with `W = window`.
    fn ctx(window: usize) -> QueryContext {
        let mut ctx = QueryContext::admin(Some("t"));
        ctx.settings.window_points = window;
        ctx
    }

    /// Series with ties at most timestamps, series a tag equality alone does not tell apart,
    /// series starting late and ending early, strings to break ties, missing fields.
    fn data() -> crate::query::testing::MemBackend {
        let b = crate::query::testing::MemBackend::new();
        let mut lp = String::new();
        let mut x: u64 = 7;
        let mut rnd = |n: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        for t in 0..400i64 {
            for h in 0..9 {
                if rnd(5) == 0 {
                    continue;
                }
                let note = if rnd(3) == 0 { format!(",note=\"{}\"", rnd(3)) } else { String::new() };
                let extra = if h == 4 { ",x=1" } else { "" };
                let host = if h == 4 { 3 } else { h };
                if h == 8 && !(100..250).contains(&t) {
                    continue;
                }
                lp.push_str(&format!("u,h=h{host},g={}{extra} v={}{note} {}\n", h % 3, rnd(4), t * 10 + (rnd(2) as i64)));
            }
            if t % 7 == 0 {
                lp.push_str(&format!("w,h=h1 v={},note=\"w\" {}\n", rnd(4), t * 10));
            }
        }
        b.write_lp("t", &lp);
        b
    }

    fn streamed(b: &std::sync::Arc<crate::query::testing::MemBackend>, q: &str, ctx: QueryContext) -> QResult<Vec<Series>> {
        let parsed = influxql::parse_query(q).expect("parse");
        let backend: SharedBackend = b.clone();
        let Ok(mut rs) = open_for(backend, ctx, &parsed.statements[0], true) else {
            panic!("not streamed: {q}")
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut out: Vec<Series> = Vec::new();
            while let Some(s) = rs.next_batch().await? {
                assert!(!s.values.is_empty());
                match out.last_mut() {
                    Some(l) if l.name == s.name && l.tags == s.tags => l.values.extend(s.values),
                    _ => out.push(s),
                }
            }
            Ok(out)
        })
    }

    fn buffered(b: &crate::query::testing::MemBackend, q: &str) -> QResult<Vec<Series>> {
        let parsed = influxql::parse_query(q).expect("parse");
        let a::Statement::Select(s) = &parsed.statements[0] else { panic!("not a select") };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(select::select(b, &QueryContext::admin(Some("t")), &lower::select(s)))
    }

    /// The incremental merge gives the buffered merge's rows in the buffered merge's order,
    /// whatever the per-series buffer (tiny ones refill all the time).
    #[test]
    fn streamed_merge_equals_buffered() {
        let b = std::sync::Arc::new(data());
        let queries = [
            "SELECT * FROM u",
            "SELECT * FROM u ORDER BY time DESC",
            "SELECT v FROM u",
            "SELECT note FROM u",
            "SELECT note, h FROM u WHERE v > 1",
            "SELECT v, note FROM u WHERE h = 'h3'",
            "SELECT v, note FROM u WHERE h = 'h3' AND x = ''",
            "SELECT * FROM u WHERE time >= 500 AND time <= 3000 ORDER BY time DESC",
            "SELECT * FROM u LIMIT 100 OFFSET 7",
            "SELECT * FROM u ORDER BY time DESC LIMIT 50 OFFSET 3",
            "SELECT v FROM u OFFSET 40",
            "SELECT * FROM u GROUP BY g",
            "SELECT note, v FROM u GROUP BY g ORDER BY time DESC",
            "SELECT v FROM u GROUP BY g, x LIMIT 30 OFFSET 2",
            "SELECT v FROM u GROUP BY * ORDER BY time DESC LIMIT 4",
            "SELECT * FROM u, w",
            "SELECT v, note FROM u, w ORDER BY time DESC",
            "SELECT v FROM /u|w/ GROUP BY h LIMIT 5",
            "SELECT nothing FROM u",
            "SELECT * FROM nope",
        ];
        for w in [1usize, 2, 5, 40, 16384] {
            for q in queries {
                let want = buffered(&b, q);
                assert!(q.contains("nothing") || q.contains("nope") || want.as_ref().is_ok_and(|s| !s.is_empty()), "{q}");
                assert_eq!(streamed(&b, q, ctx(w)), want, "W={w}: {q}");
            }
        }
    }

    /// More series than `W` (and than the 1024 up to which the merge used to stream): every
    /// series shares most timestamps with equal values (ties everywhere, decided by the heap's
    /// layout alone or by a string of few values), one series is dense, some start late or end
    /// early. Streamed with per-series buffers of 1 to 4 rows (and larger), the answer is the
    /// buffered evaluator's.
    #[test]
    fn many_series_ties_equal_buffered() {
        let b = std::sync::Arc::new(crate::query::testing::MemBackend::new());
        let mut lp = String::new();
        let hosts = 1100i64;
        for t in 0..6i64 {
            for h in 0..hosts {
                if (h % 7 == 0 && t < 2) || (h % 11 == 0 && t > 3) {
                    continue;
                }
                lp.push_str(&format!("k,host=k{h},g={} v={},s=\"{}\" {}\n", h % 3, (t + h) % 2, (t * h) % 3, t * 100));
            }
        }
        for t in 0..150i64 {
            lp.push_str(&format!("k,host=dense,g=1 v={},s=\"1\" {}\n", t % 2, t * 4));
        }
        b.write_lp("t", &lp);
        for w in [1usize, 64, 1 << 20] {
            for q in [
                "SELECT v FROM k",
                "SELECT * FROM k",
                "SELECT s, v FROM k ORDER BY time DESC",
                "SELECT v FROM k WHERE time >= 100 AND time <= 420 AND v = 1",
                "SELECT s FROM k GROUP BY g LIMIT 700 OFFSET 3",
                "SELECT v, host FROM k ORDER BY time DESC LIMIT 900",
            ] {
                let want = buffered(&b, q);
                assert!(want.as_ref().is_ok_and(|s| !s.is_empty()), "{q}");
                assert_eq!(streamed(&b, q, ctx(w)), want, "W={w}: {q}");
            }
        }
    }

    /// One statement reads each catalog fact once (`snapshot`): the databases and the
    /// measurement list once, field keys and the series list once per measurement, the
    /// policies once per database, whether the answer is buffered or streamed (which validates
    /// and plans before it merges). Before the snapshot this statement cost 1 + 3N calls
    /// buffered and more than twice that streamed.
    #[test]
    fn catalog_read_once_per_statement_and_measurement() {
        let b = std::sync::Arc::new(crate::query::testing::MemBackend::new());
        let n = 6;
        let mut lp = String::new();
        for i in 0..n {
            for h in 0..3 {
                lp.push_str(&format!("m{i},h=h{h} v={h} {}\n", 10 + h));
            }
        }
        b.write_lp("t", &lp);
        let bound = 3 + 2 * n;
        for q in ["SELECT * FROM /m/", "SELECT v FROM /m/ WHERE h = 'h1'", "SELECT * FROM m0, m1, m2, m3, m4, m5 ORDER BY time DESC LIMIT 2"] {
            let before = b.catalog_calls();
            let parsed = influxql::parse_query(q).expect("parse");
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let answer = rt.block_on(crate::query::execute(b.as_ref(), &QueryContext::admin(Some("t")), &parsed)).expect("answer");
            assert!(answer[0].error.is_none() && answer[0].series.len() == n, "{q}: {answer:?}");
            let buffered = b.catalog_calls() - before;
            assert!(buffered <= bound, "{q}: {buffered} catalog calls buffered, at most {bound}");
            let before = b.catalog_calls();
            assert_eq!(streamed(&b, q, ctx(16384)).expect("streamed").len(), n, "{q}");
            let streamed = b.catalog_calls() - before;
            assert!(streamed <= bound, "{q}: {streamed} catalog calls streamed, at most {bound}");
        }
    }

    #[test]
    fn eligibility() {
        for q in [
            "SELECT * FROM cpu",
            "SELECT a, b FROM cpu WHERE host = 'x' AND time > 5 AND time < 100 ORDER BY time DESC",
            "SELECT a + b FROM db.rp.cpu WHERE a > 1",
            "SELECT a FROM cpu GROUP BY host",
            "SELECT a FROM cpu, mem",
            "SELECT a FROM /c/",
            "SELECT a FROM cpu LIMIT 10",
            "SELECT a FROM cpu OFFSET 10",
        ] {
            assert!(streamable(&stmt(q)), "{q}");
        }
        for q in [
            "SELECT mean(a) FROM cpu",
            "SELECT a FROM cpu GROUP BY time(1m)",
            "SELECT a FROM (SELECT a FROM cpu)",
            "SELECT a FROM cpu SLIMIT 1",
            "SELECT a FROM cpu SOFFSET 1",
            "SELECT a INTO x FROM cpu",
        ] {
            assert!(!streamable(&stmt(q)), "{q}");
        }
        for (q, several) in [
            ("SELECT * FROM cpu", false),
            ("SELECT * FROM cpu LIMIT 3", false),
            ("SELECT a FROM cpu GROUP BY host", true),
            ("SELECT a FROM cpu GROUP BY *", true),
            ("SELECT a FROM cpu, mem", true),
            ("SELECT a FROM /c/", true),
        ] {
            assert_eq!(may_have_several_series(&stmt(q)), several, "{q}");
        }
    }
}
