//! A statement's series listing for a tag predicate answered from the whole listing of the same
//! metrics, filtered here, instead of a `/api/v1/series` request with the predicate's matchers.
//!
//! TSBS' `single-groupby-1-1-1` (`... WHERE hostname = 'host_N' ... GROUP BY time(1m)`) names
//! another host in each statement: the filtered listing kept between statements (see
//! [`memo`](mod@super::memo)) never answers the next one, so every statement cost one series
//! request. The whole listing of a measurement's metrics (the request `SHOW SERIES FROM m` and
//! `GROUP BY *` make) is the same for every host, so it is asked once and kept for
//! `catalog_ttl_ms` like any catalog answer. It is kept parsed, and also answers a statement
//! without a predicate (TSBS' `high-cpu-1`, `SELECT * FROM cpu WHERE usage_user > 90 ...`),
//! which before parsed a kept `/api/v1/series` answer again in every statement.
//!
//! # The same answer
//!
//! `list_series` keeps of what VictoriaMetrics lists only the series `TagPredicate::matches`
//! accepts. The matchers it would push down (`selector::to_dnf`, regex leaves left out, see
//! [`selector`](mod@super::selector)) select a superset of those series, so filtering the whole
//! listing (same metrics, same database, same time range: a statement's view always lists series
//! of any time) keeps the same series. Deleted series are left out of both answers by
//! VictoriaMetrics (`/api/v1/series` honours deletes), and deletes through influxgate forget the
//! kept listing (see [`memo`](mod@super::memo)).
//!
//! The listing also says whether some label value holds a byte VictoriaMetrics' regex matchers
//! misjudge (0x00–0x02, or a newline, which the `.*` around a pushed-down regex does not cross):
//! when none does, a rollup may push a tag regex down.
//!
//! The label names `exact_selector` needs are derived from the whole listing, as `list_series`
//! does for a listing without a predicate (the same label names `/api/v1/labels` answers).
//!
//! # Bounds
//!
//! The whole listing is asked with `limit` = [`MAX_SERIES`], or fewer when the statement memo's
//! bound divided by [`MIN_SERIES_BYTES`] is smaller. A listing that reaches the limit, or that
//! VictoriaMetrics refuses (422: more series match than its `-search.maxSeries`, checked
//! before `limit`), is not used: the predicate's own request is sent, which may match fewer (tag
//! regexes are added to it only when VictoriaMetrics refuses it too; a value holding 0x00–0x02 or
//! a newline may then be missed, as VictoriaMetrics judges the regex). A marker of a few bytes is
//! kept in its place so that the statements after it do not ask again within `catalog_ttl_ms`. So
//! a measurement of many series costs one more, bounded request per `catalog_ttl_ms`; memory
//! stays within the memo's bounds (an answer that does not fit is not kept).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::labels::LabelMap;
use super::selector::{selectors, tag_regex_misjudges};
use super::{api_data, form, memo, secs, BackendError, Inner, Result, MAX_MS};

/// Most series a whole listing fetched for a predicate may hold (parsing 10 000 series of ~150
/// bytes takes a few milliseconds, about a filtered request's round trip).
pub const MAX_SERIES: usize = 10_000;
/// Fewest bytes of one series in a listing (`{"__name__":"m","db":"d"},`), for the limit
/// derived from the memo's bound.
pub const MIN_SERIES_BYTES: usize = 26;

const SERIES: &str = "/api/v1/series";

pub type Listing = Vec<BTreeMap<String, String>>;

/// A whole listing as kept: each series' tags and metric name (series of other databases or
/// with reserved labels left out, as `list_series` leaves them out), read once and filtered by
/// each statement.
pub struct Whole {
    /// (tags sorted by key, metric name).
    pub series: Vec<(Vec<(String, String)>, String)>,
    /// Every label name of the listing (`__name__` and the db label included).
    pub label_names: Vec<String>,
    /// False: the listing reached the limit or was refused (module docs); nothing else kept.
    complete: bool,
    /// Some label value a pushed-down tag regex may misjudge (`selector::tag_regex_misjudges`).
    escaped: bool,
    /// Bytes held, for the memo's bounds: each string's length plus 24.
    pub bytes: usize,
}

impl Whole {
    fn new(listing: Listing, labels: &LabelMap, db: &str) -> Whole {
        let mut names = BTreeSet::new();
        let (mut series, mut escaped, mut bytes) = (Vec::new(), false, 0);
        for mut l in listing {
            escaped |= l.values().any(|v| tag_regex_misjudges(v));
            names.extend(l.keys().cloned());
            let Some(name) = l.remove("__name__") else { continue };
            let Some(t) = labels.tags_in_db(l, db) else { continue };
            bytes += name.len() + 24 + t.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>();
            series.push((t, name));
        }
        let label_names: Vec<String> = names.into_iter().collect();
        bytes += label_names.iter().map(|n| n.len() + 24).sum::<usize>();
        Whole { series, label_names, complete: true, escaped, bytes }
    }

    fn too_many() -> Whole {
        Whole { series: Vec::new(), label_names: Vec::new(), complete: false, escaped: false, bytes: 0 }
    }

    /// Whether this is the whole listing (module docs: not past the limit).
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Whether VictoriaMetrics' regex matchers judge every label value of the listing as the
    /// evaluator would (no value holds a byte 0x00–0x02 or a newline), so that a tag regex may be
    /// pushed down.
    pub fn regex_exact(&self) -> bool {
        self.complete && !self.escaped
    }
}

impl Inner {
    /// Every series of `metrics` (sorted, deduplicated) in `db` at any time, when the memo holds
    /// it or one request within the bounds fetches it (module docs).
    pub(super) async fn whole_listing(&self, memo: &memo::Memo, db: &str, metrics: &[String]) -> Result<Arc<Whole>> {
        let sels = selectors(metrics, &[self.db_matcher(db)]);
        let limit = MAX_SERIES.min(memo.max_bytes() / MIN_SERIES_BYTES).max(1);
        let limit_s = limit.to_string();
        let (start, end) = (secs(1000), secs(MAX_MS));
        let mut p: Vec<(&str, &str)> = sels.iter().map(|s| ("match[]", s.as_str())).collect();
        p.extend([("start", start.as_str()), ("end", end.as_str()), ("limit", limit_s.as_str())]);
        let key = format!("{SERIES}?{}", form(&p));
        if let Some(w) = memo.whole(db, &key) {
            return Ok(w);
        }
        let t = memo.ticket();
        let w = match self.api_body(SERIES, &p).await {
            // 422: past `-search.maxSeries`, which the predicate's request may not be.
            Err(BackendError::Invalid(_)) => Whole::too_many(),
            b => {
                let listing: Listing = api_data(SERIES, &b?)?;
                if listing.len() >= limit {
                    Whole::too_many()
                } else {
                    Whole::new(listing, &self.labels, db)
                }
            }
        };
        let w = Arc::new(w);
        memo.keep_whole(db, key, w.clone(), t);
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_values_keep_regexes_here() {
        let w = |v: &str| {
            let l = vec![BTreeMap::from([("__name__".to_string(), "m_f".to_string()), ("host".to_string(), v.to_string())])];
            Whole::new(l, &LabelMap::new("db"), "")
        };
        assert!(w("a\u{3}b").regex_exact());
        assert!(w("a b").regex_exact());
        for v in ["a\u{0}b", "a\u{1}", "\u{2}", "a\nb"] {
            assert!(!w(v).regex_exact(), "{v:?}");
            assert!(w(v).complete());
        }
        assert!(!Whole::too_many().regex_exact());
        assert!(!Whole::too_many().complete());
    }
}
