//! The scan's order and limit for a store that reads only ascending and whole (VictoriaMetrics'
//! `/api/v1/export` has no descending order and no per-series limit), and the check of the chunk
//! contract (`SeriesChunk`'s doc) that every store's tests run.
//!
//! [`emulate`] takes the store's ascending, unlimited stream of the request's range and series
//! and gives what the request asks: a series set filter, at most `limit` points per series, and
//! for `ScanOrder::Desc` the *last* `limit` points of each series, newest first. Descending keeps
//! a tail of at most `limit` distinct times of one series (series arrive one after another), so
//! its memory is `limit` rows (plus rows of equal time a store keeps twice), whatever the range;
//! it still reads the whole range, so the caller keeps ranges small (the streaming merge sizes
//! its windows to about `limit` points). A descending scan without a limit would have to hold a
//! whole series: it is refused (`BackendError::Invalid`).

use std::collections::VecDeque;

use futures::stream::BoxStream;
use futures::StreamExt;

use super::{BackendError, Result, ScanOrder, ScanRequest, SeriesChunk};
use crate::model::FieldValue;

type Tags = Vec<(String, String)>;

/// Rows per chunk of a descending tail.
const TAIL_CHUNK_ROWS: usize = 1024;

/// `input` (ascending, every point of the range) shaped as `req` asks (module docs).
pub fn emulate(input: BoxStream<'static, Result<SeriesChunk>>, req: &ScanRequest) -> Result<BoxStream<'static, Result<SeriesChunk>>> {
    if req.order == ScanOrder::Desc && req.limit.is_none() {
        return Err(BackendError::Invalid("a descending scan needs a limit on this store".into()));
    }
    if req.order == ScanOrder::Asc && req.limit.is_none() && req.series.is_none() {
        return Ok(input);
    }
    let st = Shaper {
        input,
        set: req.series.clone(),
        desc: req.order == ScanOrder::Desc,
        limit: req.limit.unwrap_or(usize::MAX),
        cur: None,
        seen: 0,
        last: None,
        tail: VecDeque::new(),
        out: VecDeque::new(),
        done: false,
    };
    Ok(Box::pin(futures::stream::unfold(st, |mut st| async move { st.next().await.map(|x| (x, st)) })))
}

struct Shaper {
    input: BoxStream<'static, Result<SeriesChunk>>,
    set: Option<Vec<Tags>>,
    desc: bool,
    limit: usize,
    /// The series being read, `None` before the first.
    cur: Option<Tags>,
    /// Distinct times of `cur` taken (ascending) or held in `tail` (descending).
    seen: usize,
    last: Option<i64>,
    /// Descending: the last `limit` times of `cur` read so far, oldest first.
    tail: VecDeque<(i64, Vec<Option<FieldValue>>)>,
    out: VecDeque<SeriesChunk>,
    done: bool,
}

impl Shaper {
    async fn next(&mut self) -> Option<Result<SeriesChunk>> {
        loop {
            if let Some(c) = self.out.pop_front() {
                return Some(Ok(c));
            }
            if self.done {
                return None;
            }
            match self.input.next().await {
                None => {
                    self.flush_tail();
                    self.done = true;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(chunk)) => self.take(chunk),
            }
        }
    }

    fn take(&mut self, chunk: SeriesChunk) {
        if self.set.as_ref().is_some_and(|s| s.binary_search(&chunk.tags).is_err()) {
            return;
        }
        if self.cur.as_ref() != Some(&chunk.tags) {
            self.flush_tail();
            self.cur = Some(chunk.tags.clone());
            self.seen = 0;
            self.last = None;
        }
        let SeriesChunk { tags, times, columns } = chunk;
        let mut cols: Vec<std::vec::IntoIter<Option<FieldValue>>> = columns.into_iter().map(Vec::into_iter).collect();
        let mut kept = SeriesChunk { tags, times: Vec::new(), columns: vec![Vec::new(); cols.len()] };
        for t in times {
            let row: Vec<Option<FieldValue>> = cols.iter_mut().map(|c| c.next().flatten()).collect();
            let new_time = self.last != Some(t);
            if self.desc {
                if new_time {
                    self.seen += 1;
                }
                self.tail.push_back((t, row));
                while self.seen > self.limit {
                    let Some(&(oldest, _)) = self.tail.front() else { break };
                    while self.tail.front().is_some_and(|r| r.0 == oldest) {
                        self.tail.pop_front();
                    }
                    self.seen -= 1;
                }
            } else {
                if new_time && self.seen >= self.limit {
                    break;
                }
                if new_time {
                    self.seen += 1;
                }
                kept.times.push(t);
                for (c, v) in kept.columns.iter_mut().zip(row) {
                    c.push(v);
                }
            }
            self.last = Some(t);
        }
        if !kept.times.is_empty() {
            self.out.push_back(kept);
        }
    }

    /// Descending: hands out the held tail of the current series, newest first.
    fn flush_tail(&mut self) {
        let Some(tags) = self.cur.as_ref().filter(|_| self.desc) else { return };
        while !self.tail.is_empty() {
            let n = self.tail.len().min(TAIL_CHUNK_ROWS);
            let ncols = self.tail.back().map_or(0, |r| r.1.len());
            let mut c = SeriesChunk { tags: tags.clone(), times: Vec::with_capacity(n), columns: vec![Vec::with_capacity(n); ncols] };
            for _ in 0..n {
                let Some((t, row)) = self.tail.pop_back() else { break };
                c.times.push(t);
                for (col, v) in c.columns.iter_mut().zip(row) {
                    col.push(v);
                }
            }
            self.out.push_back(c);
        }
    }
}

/// The first way `chunks` (a scan's whole answer to `req`) breaks the chunk contract, if any.
/// `equal_times`: the store may keep several rows for one time.
pub fn contract_violation(chunks: &[SeriesChunk], req: &ScanRequest, equal_times: bool) -> Option<String> {
    let mut done: Vec<&Tags> = Vec::new();
    let mut prev: Option<(&Tags, i64, usize)> = None;
    for c in chunks {
        if !req.wants(&c.tags) {
            return Some(format!("series {:?} was not asked for", c.tags));
        }
        if c.columns.len() != req.fields.len() || c.columns.iter().any(|col| col.len() != c.times.len()) {
            return Some(format!("series {:?}: columns do not match the fields and times", c.tags));
        }
        let (mut last, mut seen) = match prev {
            Some((t, last, seen)) if t == &c.tags => (Some(last), seen),
            _ => {
                if done.last().is_some_and(|d| *d >= &c.tags) {
                    return Some(format!("series {:?} out of order or split", c.tags));
                }
                done.push(&c.tags);
                (None, 0)
            }
        };
        for &t in &c.times {
            if t < req.min_time || t > req.max_time {
                return Some(format!("series {:?}: time {t} outside the range", c.tags));
            }
            if let Some(l) = last {
                let ok = match req.order {
                    ScanOrder::Asc => t > l || (equal_times && t == l),
                    ScanOrder::Desc => t < l || (equal_times && t == l),
                };
                if !ok {
                    return Some(format!("series {:?}: time {t} after {l} breaks {:?} order", c.tags, req.order));
                }
            }
            if last != Some(t) {
                seen += 1;
            }
            if req.limit.is_some_and(|n| seen > n) {
                return Some(format!("series {:?}: more than {:?} points", c.tags, req.limit));
            }
            last = Some(t);
        }
        if let Some(l) = last {
            prev = Some((&c.tags, l, seen));
        }
    }
    None
}

/// (series, time, values): a scan's answer row by row.
type Row = (Tags, i64, Vec<Option<FieldValue>>);

async fn rows_of(b: &dyn super::Backend, req: ScanRequest) -> Result<(Vec<Row>, Option<String>)> {
    let mut st = b.scan(req.clone()).await?;
    let mut chunks = Vec::new();
    while let Some(c) = st.next().await {
        chunks.push(c?);
    }
    let bad = contract_violation(&chunks, &req, false);
    let mut out = Vec::new();
    for c in chunks {
        for (j, t) in c.times.iter().enumerate() {
            out.push((c.tags.clone(), *t, c.columns.iter().map(|col| col[j].clone()).collect()));
        }
    }
    Ok((out, bad))
}

/// Checks store `b` against the chunk contract on measurement `m` of `db` (at least two series
/// and a few points each): scans with and without a series set, ascending and descending, with
/// limits, over the whole range and a part of it, each compared with what the store's plain
/// ascending scan implies. Answers how many scans were checked. A store may refuse a
/// descending scan without a limit (`BackendError::Invalid`, see [`emulate`]).
pub async fn check_store(b: &dyn super::Backend, db: &str, m: &str, fields: &[String]) -> std::result::Result<usize, String> {
    use super::TagPredicate;
    let base = ScanRequest::new(db, None, m, TagPredicate::True, i64::MIN, i64::MAX, fields.to_vec());
    let (all, bad) = rows_of(b, base.clone()).await.map_err(|e| e.to_string())?;
    if let Some(bad) = bad {
        return Err(format!("plain scan: {bad}"));
    }
    let mut series: Vec<Tags> = all.iter().map(|r| r.0.clone()).collect();
    series.dedup();
    let mut times: Vec<i64> = all.iter().map(|r| r.1).collect();
    times.sort_unstable();
    if series.len() < 2 || times.len() < 4 {
        return Err(format!("too little data to check: {} series, {} points", series.len(), times.len()));
    }
    let (q1, q3) = (times[times.len() / 4], times[times.len() * 3 / 4]);
    let every_other: Vec<Tags> = series.iter().step_by(2).cloned().collect();
    let mut checked = 0;
    for (lo, hi) in [(i64::MIN, i64::MAX), (q1, q3)] {
        for set in [None, Some(every_other.clone())] {
            for order in [ScanOrder::Asc, ScanOrder::Desc] {
                for limit in [None, Some(1), Some(2), Some(times.len() + 1)] {
                    let mut req = ScanRequest { min_time: lo, max_time: hi, ..base.clone() }.ordered(order).limited(limit);
                    if let Some(s) = &set {
                        req = req.only(s.clone());
                    }
                    let what = format!("{lo}..{hi} set={} {order:?} limit={limit:?}", set.is_some());
                    let got = match rows_of(b, req.clone()).await {
                        Err(BackendError::Invalid(_)) if order == ScanOrder::Desc && limit.is_none() => continue,
                        Err(e) => return Err(format!("{what}: {e}")),
                        Ok((_, Some(bad))) => return Err(format!("{what}: {bad}")),
                        Ok((got, None)) => got,
                    };
                    let want = expected(&all, &req);
                    if got != want {
                        return Err(format!("{what}: answered {got:?}, the plain scan implies {want:?}"));
                    }
                    checked += 1;
                }
            }
        }
    }
    Ok(checked)
}

/// What `req` answers, from `all` (a plain ascending scan of every series, series in order).
fn expected(all: &[Row], req: &ScanRequest) -> Vec<Row> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|r| r.0 == all[i].0).count();
        if req.wants(&all[i].0) {
            let mut s: Vec<Row> = all[i..j].iter().filter(|r| r.1 >= req.min_time && r.1 <= req.max_time).cloned().collect();
            if req.order == ScanOrder::Desc {
                s.reverse();
            }
            out.extend(s.into_iter().take(req.limit.unwrap_or(usize::MAX)));
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::TagPredicate;

    fn chunk(h: &str, times: &[i64]) -> SeriesChunk {
        SeriesChunk {
            tags: vec![("h".into(), h.into())],
            times: times.to_vec(),
            columns: vec![times.iter().map(|t| Some(FieldValue::Integer(*t))).collect()],
        }
    }

    fn run(chunks: Vec<SeriesChunk>, req: &ScanRequest) -> Result<Vec<SeriesChunk>> {
        let input: BoxStream<'static, Result<SeriesChunk>> = Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)));
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async { emulate(input, req)?.collect::<Vec<_>>().await.into_iter().collect() })
    }

    fn times(out: &[SeriesChunk]) -> Vec<(String, Vec<i64>)> {
        out.iter().map(|c| (c.tags[0].1.clone(), c.times.clone())).collect()
    }

    #[test]
    fn limits_orders_and_filters() {
        let data = || vec![chunk("a", &[1, 2, 2, 3]), chunk("a", &[4, 5]), chunk("b", &[1, 9]), chunk("c", &[7])];
        let base = ScanRequest::new("d", None, "m", TagPredicate::True, 0, 100, vec!["v".into()]);
        let asc = base.clone().limited(Some(3));
        let out = run(data(), &asc).expect("asc");
        assert_eq!(times(&out), vec![("a".into(), vec![1, 2, 2, 3]), ("b".into(), vec![1, 9]), ("c".into(), vec![7])]);
        assert_eq!(contract_violation(&out, &asc, true), None);
        let desc = base.clone().ordered(ScanOrder::Desc).limited(Some(2));
        let out = run(data(), &desc).expect("desc");
        assert_eq!(times(&out), vec![("a".into(), vec![5, 4]), ("b".into(), vec![9, 1]), ("c".into(), vec![7])]);
        assert_eq!(out[0].columns[0], vec![Some(FieldValue::Integer(5)), Some(FieldValue::Integer(4))]);
        assert_eq!(contract_violation(&out, &desc, false), None);
        let only = base.clone().only(vec![vec![("h".into(), "c".into())], vec![("h".into(), "a".into())]]);
        assert_eq!(times(&run(data(), &only).expect("set")), vec![("a".into(), vec![1, 2, 2, 3]), ("a".into(), vec![4, 5]), ("c".into(), vec![7])]);
        assert!(matches!(run(data(), &base.ordered(ScanOrder::Desc)), Err(BackendError::Invalid(_))));
    }

    #[test]
    fn contract_checks() {
        let req = ScanRequest::new("d", None, "m", TagPredicate::True, 0, 100, vec!["v".into()]).limited(Some(2));
        assert!(contract_violation(&[chunk("b", &[1]), chunk("a", &[1])], &req, false).is_some(), "series order");
        assert!(contract_violation(&[chunk("a", &[1]), chunk("b", &[1]), chunk("a", &[2])], &req, false).is_some(), "split");
        assert!(contract_violation(&[chunk("a", &[2, 1])], &req, false).is_some(), "time order");
        assert!(contract_violation(&[chunk("a", &[1, 2, 3])], &req, false).is_some(), "limit");
        assert!(contract_violation(&[chunk("a", &[1, 1])], &req, false).is_some(), "equal times");
        assert_eq!(contract_violation(&[chunk("a", &[1, 1])], &req, true), None);
        assert!(contract_violation(&[chunk("a", &[101])], &req, false).is_some(), "range");
    }
}
