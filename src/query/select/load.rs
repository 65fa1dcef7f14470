//! Reading the points of one measurement through `Backend::scan`, filtered and bounded
//! (max-select-point cells, the query's memory budget, LIMIT caps per series).

use super::*;

/// The points of one series over the scanned fields.
pub(super) struct SeriesData {
    pub(super) tags: Tags,
    /// The FROM source (for subquery rows; 0 otherwise).
    pub(super) src: usize,
    pub(super) times: Vec<i64>,
    /// Row after row, `width` values each: `vals[j * width + i]` is scanned field i at row j (one
    /// block, so that a row is a slice and a point costs its values, not a vector of its own).
    vals: Vec<Value>,
    width: usize,
}

impl SeriesData {
    fn new(tags: Tags, src: usize, width: usize) -> SeriesData {
        SeriesData { tags, src, times: Vec::new(), vals: Vec::new(), width }
    }

    /// The values of row `j`, in scanned-field order.
    pub(super) fn row(&self, j: usize) -> &[Value] {
        self.vals.get(j * self.width..(j + 1) * self.width).unwrap_or(&[])
    }

    fn push(&mut self, t: i64, vals: impl IntoIterator<Item = Value>) {
        self.times.push(t);
        let before = self.vals.len();
        self.vals.extend(vals.into_iter().take(self.width));
        self.vals.resize(before + self.width, Value::Null);
    }
}

/// Reads the rows of one measurement: per series (sorted), time order.
pub(super) async fn load(
    backend: &dyn Backend,
    m: &MeasInfo,
    fields: &[String],
    pred: &TagPredicate,
    min: i64,
    max: i64,
    budget: &mut usize,
    gov: &Governor,
    opts: LoadOpts<'_>,
) -> QResult<(Vec<SeriesData>, Charge)> {
    let mut out: Vec<SeriesData> = Vec::new();
    // The rows kept are charged to the query while the caller holds them.
    let mut held = gov.hold(0)?;
    let row_cost = point_bytes(fields.len());
    if let Some(sub) = &m.sub {
        for (n, (tags, cols, rows)) in sub.iter().enumerate() {
            if !pred.matches(tags) {
                continue;
            }
            let idx: Vec<Option<usize>> = fields.iter().map(|f| cols.iter().position(|c| c == f)).collect();
            let src = m.sub_src.get(n).copied().unwrap_or(0);
            let mut sd = SeriesData::new(tags.clone(), src, fields.len());
            for r in rows {
                let t = match r.first() {
                    Some(Value::Time(t)) | Some(Value::Integer(t)) => *t,
                    _ => 0,
                };
                if t < min || t > max {
                    continue;
                }
                let vals: Vec<Value> =
                    idx.iter().map(|i| i.and_then(|i| r.get(i).cloned()).unwrap_or(Value::Null)).collect();
                if !fields.is_empty() && vals.iter().all(eval::is_null) {
                    continue;
                }
                if let Some(f) = opts.filter {
                    if !f(tags, t, &vals) {
                        continue;
                    }
                }
                sd.push(t, vals);
            }
            if !sd.times.is_empty() {
                let text = sd.vals.iter().map(govern::value_bytes).sum::<u64>();
                held.add(series_bytes_of(&sd.tags) + sd.times.len() as u64 * row_cost + text)?;
                out.push(sd);
            }
        }
        if !m.sub_ordered {
            out.sort_by(|a, b| a.tags.cmp(&b.tags));
        }
        return Ok((out, held));
    }
    let req = m.scan_request(pred, min, max, fields.to_vec()).filtered(opts.where_fields.cloned().unwrap_or_default());
    let mut stream = backend.scan(req).await?;
    let width = fields.len().max(1);
    // One row's values, before the filter keeps them.
    let mut vals: Vec<Value> = Vec::with_capacity(fields.len());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let same = out.last().map(|l| l.tags == chunk.tags).unwrap_or(false);
        if !same {
            if let Some(prev) = out.last_mut() {
                trim_to_cap(prev, opts.cap);
            }
            held.add(series_bytes_of(&chunk.tags))?;
            out.push(SeriesData::new(chunk.tags.clone(), 0, fields.len()));
        }
        let Some(sd) = out.last_mut() else { continue };
        let (mut pushed, mut trimmed) = (0u64, 0u64);
        let mut text_bytes = 0u64;
        let mut columns: Vec<std::vec::IntoIter<Option<crate::model::FieldValue>>> =
            chunk.columns.into_iter().map(|c| c.into_iter()).collect();
        for &t in &chunk.times {
            vals.clear();
            vals.extend(
                (0..fields.len()).map(|i| columns.get_mut(i).and_then(|c| c.next()).flatten().as_ref().map(eval::from_field).unwrap_or(Value::Null)),
            );
            if let Some((cap, false)) = opts.cap {
                if sd.times.len() >= cap {
                    continue;
                }
            }
            if let Some(f) = opts.filter {
                if !f(&sd.tags, t, &vals) {
                    continue;
                }
            }
            if *budget < width {
                return Err(format!("max-select-point limit exceeed: ({}/{})", MAX_CELLS / width + 1, MAX_CELLS / width).into());
            }
            *budget -= width;
            text_bytes += vals.iter().map(govern::value_bytes).sum::<u64>();
            sd.push(t, vals.drain(..));
            pushed += 1;
            if let Some((cap, true)) = opts.cap {
                if sd.times.len() >= cap.saturating_mul(2).max(1024) {
                    *budget += width * (sd.times.len() - cap);
                    trimmed += (sd.times.len() - cap) as u64;
                    trim_to_cap(sd, opts.cap);
                }
            }
        }
        // Checked once per chunk: the store bounds a chunk's size.
        held.add(pushed * row_cost + text_bytes)?;
        held.shrink(trimmed * row_cost);
    }
    if let Some(prev) = out.last_mut() {
        trim_to_cap(prev, opts.cap);
    }
    out.retain(|sd| !sd.times.is_empty());
    Ok((out, held))
}

/// Bytes a loaded series holds apart from its points (its tags, its place in the list), and what
/// is made of it while its group is reduced (its series key and rank).
fn series_bytes_of(tags: &Tags) -> u64 {
    std::mem::size_of::<SeriesData>() as u64 + 2 * govern::tags_bytes(tags) + 96
}

/// Bytes one loaded point of `width` fields holds (its time and values), for the governor.
pub(super) fn point_bytes(width: usize) -> u64 {
    (8 + width * std::mem::size_of::<Value>()) as u64
}

/// Keeps the first (or, for `ORDER BY time DESC`, the last) `cap` rows of a series.
pub(super) fn trim_to_cap(sd: &mut SeriesData, cap: Option<(usize, bool)>) {
    let Some((cap, last)) = cap else { return };
    let n = sd.times.len();
    if n <= cap {
        return;
    }
    if last {
        let drop = n - cap;
        sd.times.drain(..drop);
        sd.vals.drain(..(drop * sd.width).min(sd.vals.len()));
    } else {
        sd.times.truncate(cap);
        sd.vals.truncate(cap * sd.width);
    }
}

/// How `load` filters and bounds what it keeps.
#[derive(Default)]
pub(super) struct LoadOpts<'a> {
    /// Rows failing this are not kept.
    pub(super) filter: Option<&'a (dyn Fn(&Tags, i64, &[Value]) -> bool + Sync)>,
    /// At most this many rows per series: the first ones, or the last ones when `.1`.
    pub(super) cap: Option<(usize, bool)>,
    /// The store's pre-filter (a superset of what `filter` keeps, see `prefilter`).
    pub(super) where_fields: Option<&'a crate::backend::FieldCondition>,
}

/// One loaded point: its time, its series (index into the loaded series) and its row there.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowRef {
    pub(super) time: i64,
    si: u32,
    j: u32,
}

impl RowRef {
    pub(super) fn new(time: i64, si: usize, j: usize) -> RowRef {
        // Loads hold at most MAX_CELLS points: indexes fit.
        RowRef { time, si: si as u32, j: j as u32 }
    }

    pub(super) fn si(&self) -> usize {
        self.si as usize
    }

    pub(super) fn j(&self) -> usize {
        self.j as usize
    }
}

/// Bytes a [`merged_rows`] row holds; while rows of several series are sorted, the sort's
/// scratch space holds half as much again.
pub(super) const ROW_REF_BYTES: u64 = std::mem::size_of::<RowRef>() as u64;

/// Rows of one output group: references into the loaded series, ordered by time (stable: ties
/// keep series order, as 1.x's merge does).
/// The rows of a subquery's series when its answer is the stream 1.x's outer statement reads
/// (`subquery`: in the outer time order): 1.x's outer calls read it as it comes, a window at a
/// time, so a window's points keep the stream's order (a float sum under ORDER BY time DESC adds
/// the newest first). Windows come in ascending order, as the evaluator reduces them.
pub(super) fn stream_rows(data: &[SeriesData], members: &[usize], window: impl Fn(i64) -> i64) -> Vec<RowRef> {
    let mut rows: Vec<RowRef> = Vec::with_capacity(members.iter().map(|&si| data[si].times.len()).sum());
    for &si in members {
        rows.extend(data[si].times.iter().enumerate().map(|(j, t)| RowRef::new(*t, si, j)));
    }
    // Stable: a window's rows stay in the stream's order.
    rows.sort_by_key(|r| window(r.time));
    rows
}

pub(super) fn merged_rows(data: &[SeriesData], members: &[usize]) -> Vec<RowRef> {
    let mut rows: Vec<RowRef> = Vec::with_capacity(members.iter().map(|&si| data[si].times.len()).sum());
    for &si in members {
        let sd = &data[si];
        rows.extend(sd.times.iter().enumerate().map(|(j, t)| RowRef::new(*t, si, j)));
    }
    if !rows.windows(2).all(|w| w[0].time <= w[1].time) {
        rows.sort_by_key(|r| r.time);
    }
    rows
}
