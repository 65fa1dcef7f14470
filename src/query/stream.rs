//! Streaming raw SELECTs: a raw `SELECT` over tens of millions of points answered with bounded
//! memory, byte-identical to the buffered answer of [`super::select`].
//!
//! # How
//!
//! The statement's time range is cut into consecutive *windows* (ascending, or descending for
//! `ORDER BY time DESC`). Each window is answered by the ordinary evaluator
//! ([`super::select::select`]) with the window's bounds added to the condition, and its rows are
//! handed out before the next window is read. Windows never split a timestamp, so the rows of a
//! window are exactly the rows the buffered evaluator would give for that time span, in the same
//! order (1.x's tie order for equal times across series is decided inside one window).
//! Statements with `LIMIT`/`OFFSET` are not streamed: the evaluator orders rows of equal time
//! differently when a limit is pushed into the series reads (as 1.x does), which windows could not
//! reproduce. (`RawSelect` still knows how to apply them across windows, should that change.)
//!
//! Window sizes adapt: before a window is evaluated, a time-only probe scan
//! ([`Backend::scan`] with no fields, all series of the measurement, stopped after
//! `window_points() + 1` points) counts its points; a window holding more is halved, a window
//! holding under a quarter of it lets the next one double.
//!
//! Only statements whose order of points of equal time is decided by the points themselves stream
//! window by window: 1.x's order for points of equal time across series that compare equal comes
//! from the state of its merge heap, which depends on every point merged before, so a window
//! started afresh could order such ties differently. Streamed: statements that read at most one
//! series, and statements whose alphabetically first selected variable is a tag with a distinct
//! value in every candidate series (e.g. `SELECT host, usage FROM cpu` with one series per host;
//! see `ties_impossible`). Any other statement is answered by the buffered evaluator in one go
//! (decided before any row is produced, from the catalog: the condition's tag-only `AND` terms).
//! Lifting this needs the evaluator's merge (src/query/select.rs) as an incremental iterator over
//! lazily read series.
//!
//! # The bound
//!
//! At any time one window is in memory: at most `W = window_points()` points (default
//! [`DEFAULT_WINDOW_POINTS`] = 16384) of the selected fields. So the engine's memory is
//! O(W × row width), independent of the number of points in the range; the
//! evaluator's copies of a window (series data, merge items, output rows) make it a small
//! constant factor of that. The HTTP layer adds one encoded window (non-chunked) or one piece of
//! `chunk_size` rows (chunked; the client picks `chunk_size`) plus a bounded channel of encoded
//! pieces.
//!
//! # What streams
//!
//! [`streamable`]: a raw SELECT (no function calls), exactly one plain measurement source (no
//! regex, no subquery), no `GROUP BY`, no `LIMIT`/`OFFSET`/`SLIMIT`/`SOFFSET`, no `INTO`, and a condition whose
//! time comparisons are all top-level `AND` terms. Anything else (or a statement that fails
//! validation) goes through the buffered path. Streamed answers are not a snapshot: points
//! written while the answer streams may or may not appear (as with 1.x).
//!
//! Knobs for tests and diagnosis (environment): `INFLUXGATE_STREAMING=off` disables streaming;
//! `INFLUXGATE_STREAM_WINDOW_POINTS=N` sets `W`.

use futures::StreamExt;

use super::cond;
use super::ir::{BinOp, Expr, Select, Source, VarHint};
use super::result::Series;
use super::{lower, select, QueryContext};
use crate::backend::{MeasurementFilter, ScanRequest, SharedBackend, TagPredicate};
use crate::influxql::ast as a;

/// Points per window unless `INFLUXGATE_STREAM_WINDOW_POINTS` says otherwise.
pub const DEFAULT_WINDOW_POINTS: usize = 16_384;

/// `W`: the most points one window may hold (see the module docs).
pub fn window_points() -> usize {
    static W: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *W.get_or_init(|| {
        std::env::var("INFLUXGATE_STREAM_WINDOW_POINTS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_WINDOW_POINTS)
    })
}

/// Whether streaming is on (it is unless `INFLUXGATE_STREAMING` is `off`, `0` or `false`).
pub fn enabled() -> bool {
    static E: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *E.get_or_init(|| {
        !matches!(std::env::var("INFLUXGATE_STREAMING").ok().as_deref().map(str::trim), Some("off" | "0" | "false"))
    })
}

fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call { .. } => true,
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        Expr::Paren(inner) => has_call(inner),
        _ => false,
    }
}

/// Whether `sel` can be answered window by window (see the module docs).
pub(crate) fn streamable(sel: &Select) -> bool {
    if sel.into.is_some()
        || !sel.dimensions.is_empty()
        || sel.slimit != 0
        || sel.soffset != 0
        || sel.limit != 0
        || sel.offset != 0
        || sel.sources.len() != 1
        || !matches!(sel.sources[0], Source::Measurement { .. })
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

/// The tag-only top-level `AND` terms of `rest` as a predicate: matches every series the
/// condition can match (maybe more).
fn tag_only(rest: Option<&Expr>, is_tag: &dyn Fn(&str) -> bool) -> TagPredicate {
    fn walk(e: &Expr, is_tag: &dyn Fn(&str) -> bool) -> TagPredicate {
        if let Some(p) = cond::tag_predicate(e, is_tag) {
            return p;
        }
        match e.unparen() {
            Expr::Binary { op: BinOp::And, lhs, rhs } => {
                TagPredicate::And(Box::new(walk(lhs, is_tag)), Box::new(walk(rhs, is_tag)))
            }
            _ => TagPredicate::True,
        }
    }
    rest.map_or(TagPredicate::True, |e| walk(e, is_tag))
}

/// Whether points of equal time from different series can never compare equal in 1.x's merge,
/// so that their order is the same whatever the merge heap's history: the merge compares the
/// selected variables' values in name order, strings only; when the first of them is a tag that
/// every candidate series has, with a different value in each, that decides every tie.
fn ties_impossible(sel: &Select, m: &super::select::MeasInfo, series: &[crate::backend::SeriesInfo]) -> bool {
    fn vars(e: &Expr, out: &mut Vec<(String, Option<VarHint>)>) -> bool {
        match e {
            Expr::Var { name, hint } => {
                out.push((name.clone(), *hint));
                true
            }
            Expr::Wildcard { .. } | Expr::Regex(_) | Expr::Call { .. } => false,
            Expr::Binary { lhs, rhs, .. } => vars(lhs, out) && vars(rhs, out),
            Expr::Paren(inner) => vars(inner, out),
            _ => true,
        }
    }
    let mut names = Vec::new();
    for f in &sel.fields {
        if matches!(f.expr.unparen(), Expr::Var { name, hint: None } if name == "time") {
            continue;
        }
        if !vars(&f.expr, &mut names) {
            return false;
        }
    }
    if names.iter().any(|(n, _)| n.eq_ignore_ascii_case("time")) {
        return false;
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let Some((first, hint)) = names.first() else { return false };
    if !matches!(hint, None | Some(VarHint::Tag)) || m.fields.contains_key(first) || !m.tags.contains(first) {
        return false;
    }
    let mut values = Vec::with_capacity(series.len());
    for s in series {
        match s.tags.iter().find(|(k, _)| k == first) {
            Some((_, v)) => values.push(v.as_str()),
            None => return false,
        }
    }
    values.sort_unstable();
    values.windows(2).all(|w| w[0] != w[1])
}

/// A streaming raw SELECT: call [`RawSelect::next_batch`] until it answers `None`.
pub struct RawSelect {
    backend: SharedBackend,
    ctx: QueryContext,
    /// The statement without LIMIT/OFFSET and condition (both applied here).
    sel: Select,
    rest: Option<Expr>,
    /// Inclusive bounds of what is left to read.
    lo: i64,
    hi: i64,
    done: bool,
    width: i128,
    cap: usize,
    /// Where the probe reads (db, rp, measurement); `None` before the first window.
    target: Option<(String, Option<String>, String, TagPredicate)>,
    skip: u64,
    left: Option<u64>,
    started: bool,
    /// The statement's `tz()`, for the encoders.
    pub time_zone: Option<chrono_tz::Tz>,
}

/// Opens a streaming answer for `stmt`, or gives `ctx` back when the statement is not
/// streamable (or not allowed: the buffered path then answers with the right error).
pub fn open(backend: SharedBackend, ctx: QueryContext, stmt: &a::Statement) -> Result<RawSelect, QueryContext> {
    let a::Statement::Select(s) = stmt else { return Err(ctx) };
    if !enabled() || (super::needs_admin(stmt) && !ctx.is_admin) {
        return Err(ctx);
    }
    if super::read_databases(stmt, &ctx).iter().any(|db| !ctx.is_admin && !(ctx.can_read)(db)) {
        return Err(ctx);
    }
    if lower::check_dimensions(s).is_err() {
        return Err(ctx);
    }
    let sel = lower::select(s);
    if !streamable(&sel) {
        return Err(ctx);
    }
    let (rest, tr) = match &sel.condition {
        Some(c) => match cond::split_time(c, ctx.now) {
            Ok(x) => x,
            Err(_) => return Err(ctx),
        },
        None => (None, cond::TimeRange::unbounded()),
    };
    let limit = if sel.limit == 0 && sel.offset > 0 { 1 } else { sel.limit };
    let skip = sel.offset;
    let mut inner = sel.clone();
    inner.limit = 0;
    inner.offset = 0;
    inner.condition = None;
    let time_zone = s.location.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok());
    let (lo, hi) = (tr.min_or(), tr.max_or());
    Ok(RawSelect {
        backend,
        ctx,
        sel: inner,
        rest,
        lo,
        hi,
        done: false,
        width: 1,
        cap: window_points(),
        target: None,
        skip,
        left: (limit > 0).then_some(limit),
        started: false,
        time_zone,
    })
}

impl RawSelect {
    /// The next rows (one series, never empty), `None` at the end. An `Err` is the statement's
    /// error as the buffered path words it.
    pub async fn next_batch(&mut self) -> Result<Option<Series>, String> {
        loop {
            if self.done || self.left == Some(0) {
                return Ok(None);
            }
            if self.lo > self.hi {
                self.done = true;
                return Ok(None);
            }
            let desc = self.sel.order_desc;
            let (wlo, whi, n) = if !self.started {
                // The first window is empty (its end before its start): it validates the
                // statement exactly as the buffered path does (same errors, same texts).
                self.started = true;
                let t = self.lo.max(i64::MIN + 1);
                self.window(t, t - 1).await?;
                continue;
            } else {
                if self.target.is_none() {
                    let metas = select::resolve_sources(self.backend.as_ref(), &self.ctx, &self.sel.sources, true).await?;
                    let Some(m) = metas.into_iter().next() else {
                        self.done = true;
                        return Ok(None);
                    };
                    // 1.x's order of points of equal time across series depends on the whole
                    // history of its merge heap, which windows cannot carry over: more than one
                    // series → the buffered evaluator answers the whole statement at once.
                    let pred = tag_only(self.rest.as_ref(), &|n: &str| m.tags.contains(n) && !m.fields.contains_key(n));
                    let series = self
                        .backend
                        .series(&m.db, m.rp.as_deref(), &MeasurementFilter::Names(vec![m.name.clone()]), &pred)
                        .await
                        .map_err(|e| e.to_string())?;
                    if series.len() > 1 && !ties_impossible(&self.sel, &m, &series) {
                        self.done = true;
                        return self.window(self.lo, self.hi).await;
                    }
                    self.target = Some((m.db, m.rp, m.name, pred));
                    // Start from the whole range and halve.
                    self.width = self.hi as i128 - self.lo as i128 + 1;
                }
                let (wlo, whi) = if desc {
                    ((self.hi as i128 - self.width + 1).max(self.lo as i128) as i64, self.hi)
                } else {
                    (self.lo, (self.lo as i128 + self.width - 1).min(self.hi as i128) as i64)
                };
                let n = self.probe(wlo, whi).await?;
                if n > self.cap && whi > wlo {
                    self.width = ((whi as i128 - wlo as i128 + 1) / 2).max(1);
                    continue;
                }
                (wlo, whi, n)
            };
            let series = self.window(wlo, whi).await?;
            // Advance past the window.
            if desc {
                if wlo <= self.lo {
                    self.done = true;
                } else {
                    self.hi = wlo - 1;
                }
            } else if whi >= self.hi {
                self.done = true;
            } else {
                self.lo = whi + 1;
            }
            if n <= self.cap / 4 {
                self.width = (self.width.saturating_mul(2)).min(1i128 << 65);
            }
            if let Some(s) = series.and_then(|s| self.limit(s)) {
                return Ok(Some(s));
            }
        }
    }

    /// Points in `[lo, hi]` of the series the condition's tags allow, counted up to `cap + 1`.
    async fn probe(&self, lo: i64, hi: i64) -> Result<usize, String> {
        let Some((db, rp, m, pred)) = &self.target else { return Ok(0) };
        let req = ScanRequest {
            db: db.clone(),
            rp: rp.clone(),
            measurement: m.clone(),
            tags: pred.clone(),
            min_time: lo,
            max_time: hi,
            fields: Vec::new(),
        };
        let mut s = self.backend.scan(req).await.map_err(|e| e.to_string())?;
        let mut n = 0usize;
        while let Some(c) = s.next().await {
            n += c.map_err(|e| e.to_string())?.times.len();
            if n > self.cap {
                break;
            }
        }
        Ok(n)
    }

    /// The evaluator's answer for `[lo, hi]`.
    async fn window(&self, lo: i64, hi: i64) -> Result<Option<Series>, String> {
        let bounds = Expr::bin(
            BinOp::And,
            Expr::bin(BinOp::Gte, Expr::var("time"), Expr::Integer(lo)),
            Expr::bin(BinOp::Lte, Expr::var("time"), Expr::Integer(hi)),
        );
        let mut w = self.sel.clone();
        w.condition = Some(match &self.rest {
            Some(r) => Expr::bin(BinOp::And, Expr::Paren(Box::new(r.clone())), bounds),
            None => bounds,
        });
        let out = select::select(self.backend.as_ref(), &self.ctx, &w).await?;
        Ok(out.into_iter().next())
    }

    fn limit(&mut self, mut s: Series) -> Option<Series> {
        if self.skip > 0 {
            let k = (self.skip as usize).min(s.values.len());
            s.values.drain(..k);
            self.skip -= k as u64;
        }
        if let Some(left) = self.left.as_mut() {
            if (s.values.len() as u64) > *left {
                s.values.truncate(*left as usize);
            }
            *left -= s.values.len() as u64;
        }
        (!s.values.is_empty()).then_some(s)
    }
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

    #[test]
    fn eligibility() {
        for q in [
            "SELECT * FROM cpu",
            "SELECT a, b FROM cpu WHERE host = 'x' AND time > 5 AND time < 100 ORDER BY time DESC",
            "SELECT a + b FROM db.rp.cpu WHERE a > 1",
        ] {
            assert!(streamable(&stmt(q)), "{q}");
        }
        for q in [
            "SELECT mean(a) FROM cpu",
            "SELECT a FROM cpu GROUP BY host",
            "SELECT a FROM cpu, mem",
            "SELECT a FROM /c/",
            "SELECT a FROM (SELECT a FROM cpu)",
            "SELECT a FROM cpu SLIMIT 1",
            "SELECT a FROM cpu LIMIT 10",
            "SELECT a FROM cpu OFFSET 10",
            "SELECT a INTO x FROM cpu",
        ] {
            assert!(!streamable(&stmt(q)), "{q}");
        }
    }
}
