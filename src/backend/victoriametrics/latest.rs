//! `last()` without `GROUP BY time` (TSBS `lastpoint`: `SELECT last(*) FROM cpu GROUP BY *`) from
//! a recent window instead of the whole range.
//!
//! A rollup reads every block of samples its window overlaps (VictoriaMetrics decodes a block
//! whole; a block holds up to 8192 samples of one series, about 22 h at a 10 s interval), so
//! `last_over_time` over the whole range costs every sample ever written, where 1.x reads each
//! series' last block. Measured on 100 series × 10 fields × 30 h: 132–157 ms of
//! VictoriaMetrics CPU for the whole range, 36–45 ms for the last hour.
//!
//! The request says only each series' latest bucket is wanted
//! (`AggregateRequest::latest_only`), so:
//!
//! 1. *probe*: one series' last sample time `t` in `[lo, hi]` (`tlast_over_time` of one exact
//!    selector: its blocks only);
//! 2. *window*: `last_over_time`/`tlast_over_time` of every series over `[ws, hi]`,
//!    `ws = max(lo, t - window + 1)` (`window` = `last_window_ms`). The window ends at `hi`, so a series has a sample in it
//!    iff its last sample in `[lo, hi]` is in it, and then the window's last is the range's:
//!    every series it answers is answered exactly;
//! 3. *older*: the series of the listing the window did not answer (stopped before `ws`, or
//!    without samples in the range) are asked over `[lo, ws - 1]`, by one exact selector per
//!    series when they are few ([`EXACT_OLDER`]), else with the request's selectors, keeping only
//!    their answers (for the others the window's answer is the later one).
//!
//! A series written at least once per window up to the probed series' last sample is
//! answered by step 2. Step 3 costs at most what the whole-range query cost before; the probe
//! and the window cost one series' blocks and each series' last blocks.
//! Several samples at one millisecond need no check: `last` takes the last exported one, as the
//! scan does (see [`rollup`](super::rollup)).

use std::collections::{BTreeMap, BTreeSet};

use super::rollup::{make_row, ms_of, Ctx, Eval, Key, R};
use super::{FoundSeries, NS_PER_MS};
use crate::backend::{AggregateFn, AggregateRow, Result};

/// The recent window's default length before the probed series' last sample (ms,
/// `last_window_ms`): a series written at least hourly is answered from it.
pub const DEFAULT_WINDOW_MS: u64 = 3600 * 1000;
/// Series the older part names one by one, one selector each (beyond: the request's selectors).
pub const EXACT_OLDER: usize = 64;

/// What [`answer`] did: whether the older part was asked.
pub(super) struct Latest {
    pub rows: BTreeMap<Key, Vec<AggregateRow>>,
    pub older_asked: bool,
}

/// Each series' latest row of `last(metric)` in `[lo, hi]` (ms) for the `metrics` of the
/// request, `series` its listing (with its metrics), `bucket` the bucket start (ms) of a time;
/// `None` when the probe finds nothing (the caller asks the usual way).
pub(super) async fn answer(
    ctx: &Ctx<'_>,
    series: &[FoundSeries],
    all_labels: &BTreeSet<String>,
    metrics: &[String],
    (lo, hi): (i64, i64),
    window: i64,
    bucket: impl Fn(i64) -> i64,
) -> Result<Option<Latest>> {
    // Every (metric, series) the request may answer.
    let wanted: Vec<(&String, &Vec<(String, String)>)> = series
        .iter()
        .flat_map(|(tags, present)| metrics.iter().filter(|m| present.contains(*m)).map(move |m| (m, tags)))
        .collect();
    let Some(&(m0, tags0)) = wanted.first() else { return Ok(None) };
    let probe = ctx.with_sels(ctx.inner.exact_selector(ctx.db, std::slice::from_ref(m0), tags0, all_labels));
    let (found, _) = probe.run(&[R::TLast], hi - lo + 1, Eval::At(hi), false).await?;
    let Some(t) = found.values().flat_map(|by_t| by_t.values()).find_map(|v| v.first().copied().flatten()) else {
        return Ok(None);
    };
    let ws = (ms_of(t) - window + 1).clamp(lo, hi);
    let rs = [R::Last, R::TLast];
    let row = |vals: &[Option<f64>]| {
        let tl = vals.get(1).copied().flatten().map(ms_of)?;
        make_row(AggregateFn::Last, &rs, vals, bucket(tl).saturating_mul(NS_PER_MS)).map(|(r, _)| r)
    };
    let mut rows: BTreeMap<Key, Vec<AggregateRow>> = BTreeMap::new();
    let (recent, _) = ctx.run(&rs, hi - ws + 1, Eval::At(hi), false).await?;
    for (key, by_t) in recent {
        if let Some(r) = by_t.get(&hi).and_then(|v| row(v)) {
            rows.insert(key, vec![r]);
        }
    }
    let missing: Vec<(&String, &Vec<(String, String)>)> = wanted
        .into_iter()
        .filter(|(m, tags)| !rows.contains_key(&((*m).clone(), (*tags).clone())))
        .collect();
    if missing.is_empty() || ws <= lo {
        return Ok(Some(Latest { rows, older_asked: false }));
    }
    // One selector per series naming its missing metrics: `or` drops a series whose labels but
    // for `__name__` equal an earlier operand's, so one series' metrics go in one operand.
    let mut by_series: BTreeMap<&Vec<(String, String)>, Vec<String>> = BTreeMap::new();
    for (m, tags) in &missing {
        by_series.entry(*tags).or_default().push((*m).clone());
    }
    let older_ctx;
    let older = if by_series.len() <= EXACT_OLDER {
        let sels = by_series.iter().flat_map(|(tags, ms)| ctx.inner.exact_selector(ctx.db, ms, tags, all_labels)).collect();
        older_ctx = ctx.with_sels(sels);
        &older_ctx
    } else {
        ctx
    };
    let (old, _) = older.run(&rs, ws - lo, Eval::At(ws - 1), false).await?;
    for (key, by_t) in old {
        // Only series the window did not answer: for the others it holds the later sample.
        if rows.contains_key(&key) {
            continue;
        }
        if let Some(r) = by_t.get(&(ws - 1)).and_then(|v| row(v)) {
            rows.insert(key, vec![r]);
        }
    }
    Ok(Some(Latest { rows, older_asked: true }))
}
