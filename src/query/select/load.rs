//! Reading the points of one measurement through `Backend::scan`, filtered and bounded
//! (max-select-point cells, the query's memory budget, LIMIT caps per series).

use super::*;

/// The points of one series over the scanned fields.
pub(super) struct SeriesData {
    pub(super) tags: Tags,
    /// The FROM source (for subquery rows; 0 otherwise).
    pub(super) src: usize,
    pub(super) times: Vec<i64>,
    /// `cols[i][j]`: scanned field i at row j.
    pub(super) cols: Vec<Vec<Value>>,
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
            let mut sd = SeriesData { tags: tags.clone(), src, times: vec![], cols: vec![vec![]; fields.len()] };
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
                sd.times.push(t);
                for (c, v) in sd.cols.iter_mut().zip(vals) {
                    c.push(v);
                }
            }
            if !sd.times.is_empty() {
                held.add(sd.times.len() as u64 * row_cost + sd.cols.iter().flatten().map(govern::value_bytes).sum::<u64>())?;
                out.push(sd);
            }
        }
        if !m.sub_ordered {
            out.sort_by(|a, b| a.tags.cmp(&b.tags));
        }
        return Ok((out, held));
    }
    let req = ScanRequest {
        db: m.db.clone(),
        rp: m.rp.clone(),
        measurement: m.name.clone(),
        tags: pred.clone(),
        min_time: min,
        max_time: max,
        fields: fields.to_vec(),
    };
    let mut stream = backend.scan(req).await?;
    let width = fields.len().max(1);
    // Rows kept of the current series (for the budget and the cap).
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let same = out.last().map(|l| l.tags == chunk.tags).unwrap_or(false);
        if !same {
            if let Some(prev) = out.last_mut() {
                trim_to_cap(prev, opts.cap);
            }
            out.push(SeriesData { tags: chunk.tags.clone(), src: 0, times: vec![], cols: vec![vec![]; fields.len()] });
        }
        let Some(sd) = out.last_mut() else { continue };
        let rows_before = sd.times.len();
        let mut text_bytes = 0u64;
        let mut columns: Vec<std::vec::IntoIter<Option<crate::model::FieldValue>>> =
            chunk.columns.into_iter().map(|c| c.into_iter()).collect();
        for &t in &chunk.times {
            let vals: Vec<Value> = (0..fields.len())
                .map(|i| columns.get_mut(i).and_then(|c| c.next()).flatten().as_ref().map(eval::from_field).unwrap_or(Value::Null))
                .collect();
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
            sd.times.push(t);
            text_bytes += vals.iter().map(govern::value_bytes).sum::<u64>();
            for (c, v) in sd.cols.iter_mut().zip(vals) {
                c.push(v);
            }
            if let Some((cap, true)) = opts.cap {
                if sd.times.len() >= cap.saturating_mul(2).max(1024) {
                    *budget += width * (sd.times.len() - cap);
                    held.shrink((sd.times.len() - cap) as u64 * row_cost);
                    trim_to_cap(sd, opts.cap);
                }
            }
        }
        // Checked once per chunk: the store bounds a chunk's size.
        held.add(sd.times.len().saturating_sub(rows_before) as u64 * row_cost + text_bytes)?;
    }
    if let Some(prev) = out.last_mut() {
        trim_to_cap(prev, opts.cap);
    }
    out.retain(|sd| !sd.times.is_empty());
    Ok((out, held))
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
        for c in sd.cols.iter_mut() {
            c.drain(..drop.min(c.len()));
        }
    } else {
        sd.times.truncate(cap);
        for c in sd.cols.iter_mut() {
            c.truncate(cap);
        }
    }
}

/// How `load` filters and bounds what it keeps.
#[derive(Default)]
pub(super) struct LoadOpts<'a> {
    /// Rows failing this are not kept.
    pub(super) filter: Option<&'a (dyn Fn(&Tags, i64, &[Value]) -> bool + Sync)>,
    /// At most this many rows per series: the first ones, or the last ones when `.1`.
    pub(super) cap: Option<(usize, bool)>,
}

/// Rows of one output group: references into the loaded series, ordered by time (stable: ties
/// keep series order, as 1.x's merge does).
pub(super) fn merged_rows(data: &[SeriesData], members: &[usize]) -> Vec<(i64, usize, usize)> {
    let mut rows: Vec<(i64, usize, usize)> = Vec::new();
    for &si in members {
        let sd = &data[si];
        rows.extend(sd.times.iter().enumerate().map(|(j, t)| (*t, si, j)));
    }
    rows.sort_by_key(|r| r.0);
    rows
}

pub(super) fn row_vals(sd: &SeriesData, j: usize) -> Vec<Value> {
    sd.cols.iter().map(|c| c.get(j).cloned().unwrap_or(Value::Null)).collect()
}
