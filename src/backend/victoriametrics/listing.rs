//! A statement's series listing for a tag predicate answered from the whole listing of the same
//! metrics, filtered here, instead of a `/api/v1/series` request with the predicate's matchers.
//!
//! TSBS' `single-groupby-1-1-1` (`... WHERE hostname = 'host_N' ... GROUP BY time(1m)`) names
//! another host in each statement: the filtered listing kept between statements (see
//! [`memo`](mod@super::memo)) never answers the next one, so every statement cost one series
//! request. The whole listing of a measurement's metrics (the request `SHOW SERIES FROM m` and
//! `GROUP BY *` make) is the same for every host, so it is asked once and kept for
//! `catalog_ttl_ms` like any catalog answer.
//!
//! # The same answer
//!
//! `list_series` keeps of what VictoriaMetrics lists only the series `TagPredicate::matches`
//! accepts. The pushed-down matchers (`selector::to_dnf`) select a superset of those series,
//! so filtering the whole listing (same metrics, same database, same time range: a statement's
//! view always lists series of any time) keeps the same series, with one exception: a pushed-down
//! regex is anchored by VictoriaMetrics (`.*(?:re).*`), and `.` does not match a newline, so
//! on a label value holding a newline the pushed-down regex can leave out a series the
//! predicate matches. When the predicate pushes a regex down and some value of the listing holds a
//! newline, the listing is not used (asked with the matchers, as before). Deleted series are
//! left out of both answers by VictoriaMetrics (`/api/v1/series` honours deletes), and deletes
//! through influxgate forget the kept listing (see [`memo`](mod@super::memo)).
//!
//! The label names `exact_selector` needs are derived from the whole listing, as `list_series`
//! does for a listing without a predicate (the same label names `/api/v1/labels` answers).
//!
//! # Bounds
//!
//! The whole listing is asked with `limit` = [`MAX_SERIES`], or fewer when the statement memo's
//! bound divided by [`MIN_SERIES_BYTES`] is smaller. A listing that reaches the limit, or that
//! VictoriaMetrics refuses (422: more series match than its `-search.maxSeries`, checked
//! before `limit`; the predicate's own request may match fewer), is not used (the predicate's request is sent), and a marker of a few bytes is kept in its place so
//! that the statements after it do not ask again within `catalog_ttl_ms`. So a measurement of
//! many series costs one more, bounded request per `catalog_ttl_ms`; memory stays within the
//! memo's bounds (an answer that does not fit is not kept).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::selector::{names_matcher, selector, Matcher};
use super::{api_data, form, memo, secs, BackendError, Inner, Result, MAX_MS};

/// Most series a whole listing fetched for a predicate may hold (parsing 10 000 series of ~150
/// bytes takes a few milliseconds, about a filtered request's round trip).
pub const MAX_SERIES: usize = 10_000;
/// Fewest bytes of one series in a listing (`{"__name__":"m","db":"d"},`), for the limit
/// derived from the memo's bound.
pub const MIN_SERIES_BYTES: usize = 26;

/// Kept in place of a listing that reached the limit.
const TOO_MANY: &[u8] = b"-";

const SERIES: &str = "/api/v1/series";

pub type Listing = Vec<BTreeMap<String, String>>;

impl Inner {
    /// Every series of `metrics` (sorted, deduplicated) in `db` at any time, when the memo holds
    /// it or one request within the bounds fetches it; `None` otherwise (module docs).
    pub(super) async fn whole_listing(&self, memo: &memo::Memo, db: &str, metrics: &[String]) -> Result<Option<Listing>> {
        let sel = selector(&[names_matcher(metrics), self.db_matcher(db)]);
        let (start, end) = (secs(1000), secs(MAX_MS));
        // The answer `list_series` got for a listing without a predicate.
        let every = format!("{SERIES}?{}", form(&[("match[]", sel.as_str()), ("start", &start), ("end", &end)]));
        if let Some(b) = memo.raw(db, &every) {
            return Ok(Some(api_data(SERIES, &b)?));
        }
        let limit = MAX_SERIES.min(memo.max_bytes() / MIN_SERIES_BYTES).max(1);
        let limit_s = limit.to_string();
        let p = [("match[]", sel.as_str()), ("start", &start), ("end", &end), ("limit", &limit_s)];
        let key = format!("{SERIES}?{}", form(&p));
        let body = match memo.raw(db, &key) {
            Some(b) => b,
            None => {
                let t = memo.ticket();
                let b = match self.api_body(SERIES, &p).await {
                    // 422: past `-search.maxSeries`, which the predicate's request may not be.
                    Err(BackendError::Invalid(_)) => TOO_MANY.to_vec(),
                    b => b?,
                };
                let whole = b.as_slice() != TOO_MANY && api_data::<Listing>(SERIES, &b)?.len() < limit;
                let b = Arc::new(if whole { b } else { TOO_MANY.to_vec() });
                memo.keep_raw(db, key, b.clone(), t);
                b
            }
        };
        if body.as_slice() == TOO_MANY {
            return Ok(None);
        }
        Ok(Some(api_data(SERIES, &body)?))
    }
}

/// Whether filtering `listing` with the predicate whose pushed-down matchers are `conjs` keeps
/// what VictoriaMetrics would (module docs: a pushed-down regex and a value with a newline).
pub fn filters_alike(conjs: &[Vec<Matcher>], listing: &Listing) -> bool {
    let regex = conjs.iter().flatten().any(|m| matches!(m, Matcher::Re(..) | Matcher::NotRe(..)));
    !regex || !listing.iter().any(|l| l.values().any(|v| v.contains('\n')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_values_and_regexes() {
        let l = |v: &str| vec![BTreeMap::from([("host".to_string(), v.to_string())])];
        let eq = vec![vec![Matcher::Eq("host".into(), "a".into())]];
        let re = vec![vec![Matcher::Re("host".into(), ".*(?:b).*".into())]];
        assert!(filters_alike(&eq, &l("a\nb")), "an equality is exact on any value");
        assert!(filters_alike(&re, &l("ab")));
        assert!(!filters_alike(&re, &l("a\nb")), "VictoriaMetrics' anchored `.*` stops at a newline");
    }
}
