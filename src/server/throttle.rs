//! What a request over its token's rate limits gets: refused in a way its sender understands, or
//! held until the token's rates allow it.
//!
//! Why the answer depends on the sender: Telegraf's `outputs.influxdb` (the 1.x output, the one
//! pointed at a 1.x server) treats any 4xx answer to a write as final and drops the batch ("will
//! be dropped"), 429 included, and never reads `Retry-After`; on a 5xx or a network error it keeps
//! the batch and sends it again at its next flush. InfluxDB 1.x itself throttles with 503. So a
//! 429 (the v1 spec's answer) silently loses a Telegraf's metrics, and a 503 does not.
//!
//! `limits.on_limit` (a `[[tokens]]` entry may set its own):
//! * `"auto"` (default): 503 with `Retry-After` when the request's `User-Agent` is Telegraf's, 429
//!   with `Retry-After` otherwise. Telegraf names itself `Telegraf/<version> Go/<go version>`
//!   (`internal.ProductToken()`), and its sample config suggests `user_agent = "telegraf"`: a
//!   User-Agent whose first product name is `telegraf` in any case counts as Telegraf.
//! * `"429"`, `"503"`: that answer for every sender.
//! * `"delay"`: the request is held until its token's rates allow it, then served as usual. When
//!   the wait would be longer than `max_delay`, it is refused at once, as `auto` would.
//!
//! The rates are [`RateBucket`]s (GCRA): a request takes its cells now, or — when held — reserves
//! them at the time they become free, so held requests are served in the order they came and a
//! request knows at once how long it must wait. A write's request cell and its body bytes are
//! reserved together after its body is read, so one request waits at most `max_delay` in all.
//!
//! Bounds of holding: a held request keeps what it already holds — its in-flight slot (its
//! token's `max_inflight_requests`, and the global one) and its buffered body bytes (its token's
//! `max_buffered_write_bytes`) — and nothing else: a tokio timer, no thread. Those per-token caps
//! bound what one token's held requests take (past them its requests get 503, which Telegraf
//! retries), and other tokens have their own rates, slots and budgets, so they are never held
//! behind it. A held request whose client hangs up is dropped with its slot; the cells it
//! reserved stay spent, which only makes the token's rate stricter for that moment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::HeaderMap;

use crate::config::OnLimit;

use super::error::ServerError;

const NS_PER_S: u128 = 1_000_000_000;

/// A rate with a burst: `rate` cells per second, at most `burst` at once (GCRA). Its state is one
/// time, the instant at which every cell taken so far is paid back (`tat`).
#[derive(Debug)]
pub struct RateBucket {
    epoch: Instant,
    /// Nanoseconds since `epoch` at which the bucket is full again.
    tat: AtomicU64,
    rate: u64,
    burst: u64,
}

impl RateBucket {
    /// `rate` cells per second, `burst` at once (both at least 1).
    pub fn new(rate: u64, burst: u64) -> RateBucket {
        RateBucket { epoch: Instant::now(), tat: AtomicU64::new(0), rate: rate.max(1), burst: burst.max(1) }
    }

    /// Nanoseconds `n` cells take to be paid back.
    fn cost(&self, n: u64) -> u64 {
        u64::try_from(u128::from(n) * NS_PER_S / u128::from(self.rate)).unwrap_or(u64::MAX)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes `n` cells (a request larger than the burst takes the whole burst, so it passes when
    /// the bucket is full) if they are free within `within`: `Ok(wait)`, the time to wait before
    /// going on, with the cells reserved; or `Err(wait)`, the time until they would be free, with
    /// nothing taken.
    pub fn reserve(&self, n: u64, within: Duration) -> Result<Duration, Duration> {
        let cost = self.cost(n.min(self.burst));
        let span = self.cost(self.burst);
        let now = self.now();
        let within = u64::try_from(within.as_nanos()).unwrap_or(u64::MAX);
        let mut wait = 0;
        let taken = self.tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
            let new_tat = tat.max(now).saturating_add(cost);
            wait = new_tat.saturating_sub(now).saturating_sub(span);
            (wait <= within).then_some(new_tat)
        });
        match taken {
            Ok(_) => Ok(Duration::from_nanos(wait)),
            Err(_) => Err(Duration::from_nanos(wait)),
        }
    }

    /// Gives back `n` cells taken by [`RateBucket::reserve`] for a request that will not be served.
    pub fn refund(&self, n: u64) {
        let cost = self.cost(n.min(self.burst));
        let _ = self.tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| Some(tat.saturating_sub(cost)));
    }
}

/// How a request over its token's rates is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Refusal {
    /// 429 + `Retry-After`.
    #[default]
    TooManyRequests,
    /// 503 + `Retry-After`.
    Unavailable,
}

/// What one request gets when over its token's rates: its token's `on_limit` applied to its
/// `User-Agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub refusal: Refusal,
    /// How long it may be held for its rates (zero: refused at once).
    pub max_delay: Duration,
}

/// Whether a `User-Agent` is Telegraf's: its first product name is `Telegraf` (Telegraf's default,
/// `Telegraf/1.30.0 Go/1.22.1`) in any case (its sample config's `user_agent = "telegraf"`).
pub fn is_telegraf(headers: &HeaderMap) -> bool {
    let Some(ua) = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) else { return false };
    let product = ua.trim_start().split(['/', ' ', '\t']).next().unwrap_or("");
    product.eq_ignore_ascii_case("telegraf")
}

impl Policy {
    pub fn resolve(on_limit: OnLimit, max_delay: Duration, headers: &HeaderMap) -> Policy {
        let by_sender = if is_telegraf(headers) { Refusal::Unavailable } else { Refusal::TooManyRequests };
        match on_limit {
            OnLimit::Auto => Policy { refusal: by_sender, max_delay: Duration::ZERO },
            OnLimit::TooManyRequests => Policy { refusal: Refusal::TooManyRequests, max_delay: Duration::ZERO },
            OnLimit::Unavailable => Policy { refusal: Refusal::Unavailable, max_delay: Duration::ZERO },
            OnLimit::Delay => Policy { refusal: by_sender, max_delay },
        }
    }

    /// Whether requests are held rather than refused at once.
    pub fn delays(&self) -> bool {
        !self.max_delay.is_zero()
    }

    /// The refusal of a request that needs `retry_after` more for its rates.
    pub fn refuse(&self, message: String, retry_after: Duration) -> ServerError {
        match self.refusal {
            Refusal::TooManyRequests => ServerError::TooManyRequests { message, retry_after },
            Refusal::Unavailable => ServerError::Overloaded { message, retry_after },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::USER_AGENT, v.parse().unwrap());
        h
    }

    #[test]
    fn telegraf_user_agents() {
        for yes in ["Telegraf/1.30.0 Go/1.22.1", "Telegraf/unknown Go/1.9.2", "telegraf", "TELEGRAF/1.0"] {
            assert!(is_telegraf(&ua(yes)), "{yes}");
        }
        for no in ["reqwest/0.12", "influxdb-client-go", "Mozilla/5.0 (Telegraf/1.0)", "Telegrafx/1.0", "xTelegraf/1"] {
            assert!(!is_telegraf(&ua(no)), "{no}");
        }
        assert!(!is_telegraf(&HeaderMap::new()));
    }

    #[test]
    fn policies() {
        let d = Duration::from_secs(2);
        let (tg, other) = (ua("Telegraf/1.30.0 Go/1.22.1"), ua("curl/8.0"));
        assert_eq!(Policy::resolve(OnLimit::Auto, d, &tg).refusal, Refusal::Unavailable);
        assert_eq!(Policy::resolve(OnLimit::Auto, d, &other).refusal, Refusal::TooManyRequests);
        assert!(!Policy::resolve(OnLimit::Auto, d, &tg).delays());
        assert_eq!(Policy::resolve(OnLimit::TooManyRequests, d, &tg).refusal, Refusal::TooManyRequests);
        assert_eq!(Policy::resolve(OnLimit::Unavailable, d, &other).refusal, Refusal::Unavailable);
        let delay = Policy::resolve(OnLimit::Delay, d, &tg);
        assert_eq!((delay.refusal, delay.max_delay), (Refusal::Unavailable, d));
        assert_eq!(delay.refuse("x".into(), d).status(), 503);
        assert_eq!(Policy::resolve(OnLimit::Delay, d, &other).refuse("x".into(), d).status(), 429);
    }

    #[test]
    fn bucket_burst_then_rate() {
        let b = RateBucket::new(10, 3);
        for _ in 0..3 {
            assert_eq!(b.reserve(1, Duration::ZERO), Ok(Duration::ZERO));
        }
        // The fourth cell is free 100 ms from now.
        let wait = b.reserve(1, Duration::ZERO).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        // Reserved in order: each held request waits one interval more than the one before.
        let first = b.reserve(1, Duration::from_secs(1)).unwrap();
        let second = b.reserve(1, Duration::from_secs(1)).unwrap();
        assert!(second >= first + Duration::from_millis(99), "{first:?} {second:?}");
        // Past the bound: refused, nothing taken.
        let over = b.reserve(10, Duration::from_millis(400)).unwrap_err();
        assert!(over > Duration::from_millis(400), "{over:?}");
        let near = |w: Duration, expected: Duration| w <= expected && w + Duration::from_millis(20) >= expected;
        let third = b.reserve(1, Duration::from_secs(1)).unwrap();
        assert!(near(third, second + Duration::from_millis(100)), "{second:?} {third:?}");
        // A refunded cell is free again: the next request waits as long as the refunded one.
        b.refund(1);
        let again = b.reserve(1, Duration::from_secs(1)).unwrap();
        assert!(near(again, third), "{third:?} {again:?}");
    }

    #[test]
    fn larger_than_the_burst_takes_a_full_bucket() {
        let b = RateBucket::new(1000, 1000);
        assert_eq!(b.reserve(5000, Duration::ZERO), Ok(Duration::ZERO));
        assert!(b.reserve(1, Duration::ZERO).is_err());
        let wait = b.reserve(5000, Duration::from_secs(5)).unwrap();
        assert!(wait > Duration::from_millis(990) && wait <= Duration::from_secs(1), "{wait:?}");
    }
}
