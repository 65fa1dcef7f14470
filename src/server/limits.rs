//! Rate limits and overload protection.
//!
//! Per token (defaults from `[limits]`, overridable per `[[tokens]]` entry): requests per second
//! with a burst, and `/write` body bytes per second (counted after decompression; the bucket holds
//! one second's worth). Past either: 429 or 503 with `Retry-After`, or held for a while, as the
//! token's `on_limit` says for the request's sender ([`super::throttle`]). A write larger than the
//! byte bucket (up to `max_body_bytes`) is let through when the bucket is full and empties it, so
//! the largest allowed write is always possible and the long-run rate still holds.
//!
//! Capacity, globally and per token: requests being served at once (`max_inflight_requests`,
//! `token_max_inflight_requests`) and write bytes held in memory at once (`max_buffered_write_bytes`,
//! `token_max_buffered_write_bytes`: bodies as they are read and decompressed, and their parse as
//! bounded by [`crate::lineproto::ParseCost`]). Past either: 503 with `Retry-After: 1` — not a 4xx,
//! since Telegraf's 1.x output retries a batch on 5xx but drops it on any 4xx. A token's share is
//! checked before the global cap, so a request its token may not make never holds a global slot,
//! and one token cannot take every slot: other tokens keep being served.
//!
//! A parse whose bound alone exceeds a budget (a max-size body of tiny lines) is admitted only when
//! nothing else is held in that budget, so memory held for writes stays within
//! max(budget, the bound of one max-size body) while every allowed body remains writable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use crate::config::{LimitsConfig, OnLimit};

use super::auth::{Identity, TokenStore};
use super::error::ServerError;
use super::throttle::{Policy, RateBucket};

const OVERLOAD_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A duration of the config (nanoseconds, validated positive).
pub fn config_duration(ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

fn overloaded(message: String) -> ServerError {
    ServerError::Overloaded { message, retry_after: OVERLOAD_RETRY_AFTER }
}

/// A count with a cap, shared by the guards that hold part of it.
/// The cap is atomic so a configuration reload can change it while requests hold part of it.
#[derive(Debug)]
struct Gauge {
    used: AtomicU64,
    max: AtomicU64,
}

impl Gauge {
    fn new(max: u64) -> Arc<Gauge> {
        Arc::new(Gauge { used: AtomicU64::new(0), max: AtomicU64::new(max.max(1)) })
    }

    fn max(&self) -> u64 {
        self.max.load(Ordering::Acquire)
    }

    fn set_max(&self, max: u64) {
        self.max.store(max.max(1), Ordering::Release);
    }

    /// Takes `n` when the total stays within the cap or, with `alone`, when everything taken so
    /// far is the caller's own `own`.
    fn try_take(&self, n: u64, alone: Option<u64>) -> bool {
        let max = self.max();
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let fits = used.saturating_add(n) <= max || alone == Some(used);
                fits.then(|| used.saturating_add(n))
            })
            .is_ok()
    }

    fn give(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// One token's rates and shares, built from its entry and `[limits]`. A reload keeps a token's
/// limiter (its buckets and what its requests hold) when its name and settings are unchanged.
pub struct TokenLimiter {
    settings: LimiterSettings,
    requests: RateBucket,
    bytes: RateBucket,
    on_limit: OnLimit,
    max_delay: Duration,
    inflight: Arc<Gauge>,
    buffered: Arc<Gauge>,
}

/// Which of a token's rates a request is over.
#[derive(Debug, Clone, Copy)]
enum Rate {
    Requests,
    Bytes,
}

/// The refusal of a request over `rate` that needs `wait` more, as `policy` answers it.
fn over(who: &Identity, rate: Rate, policy: &Policy, wait: Duration) -> ServerError {
    let what = match rate {
        Rate::Requests => "request rate limit (requests_per_second, burst)",
        Rate::Bytes => "write rate limit (write_bytes_per_second)",
    };
    let mut message = format!("token {:?} is over its {what}", who.name());
    if policy.delays() {
        message.push_str(&format!(
            "; it would have to wait {:.3}s, longer than max_delay ({}s)",
            wait.as_secs_f64(),
            policy.max_delay.as_secs_f64()
        ));
    }
    policy.refuse(message, wait)
}

/// What a token's limiter is made of: its entry's overrides resolved against `[limits]`.
#[derive(Debug, Clone, PartialEq)]
struct LimiterSettings {
    name: String,
    rps: u32,
    burst: u32,
    bps: u64,
    on_limit: OnLimit,
    max_delay: Duration,
    inflight: usize,
    buffered: u64,
}

impl TokenLimiter {
    fn new(settings: LimiterSettings) -> TokenLimiter {
        TokenLimiter {
            requests: RateBucket::new(u64::from(settings.rps), u64::from(settings.burst)),
            bytes: RateBucket::new(settings.bps, settings.bps),
            on_limit: settings.on_limit,
            max_delay: settings.max_delay,
            inflight: Gauge::new(settings.inflight as u64),
            buffered: Gauge::new(settings.buffered),
            settings,
        }
    }

    /// The limiters of `tokens` (in their order), reusing those of `previous` whose name and
    /// settings are unchanged, so a reload neither refills a token's buckets nor forgets what
    /// its requests in flight hold.
    pub fn for_tokens(cfg: &LimitsConfig, tokens: &TokenStore, previous: &[Arc<TokenLimiter>]) -> Vec<Arc<TokenLimiter>> {
        tokens
            .entries()
            .iter()
            .map(|t| {
                let settings = LimiterSettings {
                    name: t.name.clone(),
                    rps: t.requests_per_second.unwrap_or(cfg.requests_per_second),
                    burst: t.burst.unwrap_or(cfg.burst),
                    bps: t.write_bytes_per_second.unwrap_or(cfg.write_bytes_per_second),
                    on_limit: t.on_limit.unwrap_or(cfg.on_limit),
                    max_delay: t.max_delay.unwrap_or(config_duration(cfg.max_delay)),
                    inflight: t.max_inflight_requests.unwrap_or(cfg.token_max_inflight_requests),
                    buffered: t.max_buffered_write_bytes.unwrap_or(cfg.token_max_buffered_write_bytes),
                };
                match previous.iter().find(|p| p.settings == settings) {
                    Some(p) => p.clone(),
                    None => Arc::new(TokenLimiter::new(settings)),
                }
            })
            .collect()
    }
}

/// The server-wide caps, and the per-token rates and shares of the caller a request carries
/// (its [`Identity`]'s limiter; a caller without one is not limited per token).
pub struct Limits {
    inflight: Arc<Gauge>,
    buffered: Arc<Gauge>,
    body_timeout: Duration,
}

impl Limits {
    pub fn new(cfg: &LimitsConfig) -> Limits {
        Limits {
            inflight: Gauge::new(cfg.max_inflight_requests as u64),
            buffered: Gauge::new(cfg.max_buffered_write_bytes),
            body_timeout: config_duration(cfg.body_timeout),
        }
    }

    /// Applies reloaded global caps (`max_inflight_requests`, `max_buffered_write_bytes`); what
    /// requests hold stays counted.
    pub fn set_caps(&self, cfg: &LimitsConfig) {
        self.inflight.set_max(cfg.max_inflight_requests as u64);
        self.buffered.set_max(cfg.max_buffered_write_bytes);
    }

    /// What a request of this token gets when over its rates (its `on_limit`, for its sender).
    pub fn policy(&self, who: &Identity, headers: &HeaderMap) -> Policy {
        match who.limiter.as_deref() {
            Some(l) => Policy::resolve(l.on_limit, l.max_delay, headers),
            None => Policy::default(),
        }
    }

    /// One request by this token, refused at once when over its request rate.
    pub fn check_request(&self, who: &Identity, policy: &Policy) -> Result<(), ServerError> {
        let Some(l) = who.limiter.as_deref() else { return Ok(()) };
        l.requests.reserve(1, Duration::ZERO).map(drop).map_err(|wait| over(who, Rate::Requests, policy, wait))
    }

    /// `n` body bytes written by this token, refused at once when over its write byte rate.
    pub fn check_write_bytes(&self, who: &Identity, n: u64, policy: &Policy) -> Result<(), ServerError> {
        let Some(l) = who.limiter.as_deref().filter(|_| n > 0) else { return Ok(()) };
        l.bytes.reserve(n, Duration::ZERO).map(drop).map_err(|wait| over(who, Rate::Bytes, policy, wait))
    }

    /// Reserves one request of this token, and `bytes` body bytes for a write, within the
    /// policy's `max_delay`: the time the request must be held before it is served, or its
    /// refusal (then nothing is taken).
    pub fn reserve(&self, who: &Identity, bytes: Option<u64>, policy: &Policy) -> Result<Duration, ServerError> {
        let Some(l) = who.limiter.as_deref() else { return Ok(Duration::ZERO) };
        let within = policy.max_delay;
        let request_wait = l.requests.reserve(1, within).map_err(|wait| over(who, Rate::Requests, policy, wait))?;
        let Some(n) = bytes.filter(|n| *n > 0) else { return Ok(request_wait) };
        match l.bytes.reserve(n, within) {
            Ok(wait) => Ok(request_wait.max(wait)),
            Err(wait) => {
                l.requests.refund(1);
                Err(over(who, Rate::Bytes, policy, wait))
            }
        }
    }

    /// Enters a request of this token; the guard leaves it. 503 when the token has its
    /// `max_inflight_requests` in flight (checked first: then no global slot is taken), or when
    /// `max_inflight_requests` are in flight in all.
    pub fn enter(&self, who: &Identity) -> Result<InflightGuard, ServerError> {
        let token = who.limiter.as_deref().map(|l| l.inflight.clone());
        if let Some(t) = &token {
            if !t.try_take(1, None) {
                return Err(overloaded(format!(
                    "token {:?} has {} requests in flight, its limit (max_inflight_requests); retry later",
                    who.name(),
                    t.max()
                )));
            }
        }
        // From here on the guard gives back what was taken, also when the global cap refuses.
        let mut guard = InflightGuard { global: None, token };
        if !self.inflight.try_take(1, None) {
            return Err(overloaded("server is at capacity (too many requests in flight); retry later".into()));
        }
        guard.global = Some(self.inflight.clone());
        Ok(guard)
    }

    pub fn inflight(&self) -> usize {
        usize::try_from(self.inflight.used()).unwrap_or(usize::MAX)
    }

    /// A reservation of buffered bytes against the global budget only (a /query body), growing
    /// as a body is read; released on drop.
    pub fn buffer_reservation(&self) -> BufferReservation {
        BufferReservation { global: self.buffered.clone(), token: None, held: 0, body_timeout: self.body_timeout }
    }

    /// A reservation of write bytes against the global budget and this token's.
    pub fn write_reservation(&self, who: &Identity) -> BufferReservation {
        let token = who.limiter.as_deref().map(|l| (l.buffered.clone(), who.name().to_string()));
        BufferReservation { global: self.buffered.clone(), token, held: 0, body_timeout: self.body_timeout }
    }

    pub fn buffered(&self) -> u64 {
        self.buffered.used()
    }
}

/// One request's in-flight slots (its token's and the global one); given back on drop.
pub struct InflightGuard {
    global: Option<Arc<Gauge>>,
    token: Option<Arc<Gauge>>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        for g in [&self.global, &self.token].into_iter().flatten() {
            g.give(1);
        }
    }
}

/// Bytes one request holds in the buffered-bytes budgets (global, and its token's for a write);
/// given back on drop. It also carries `limits.body_timeout`, the time the body whose bytes it
/// reserves may take to arrive.
pub struct BufferReservation {
    global: Arc<Gauge>,
    /// The token's budget and name.
    token: Option<(Arc<Gauge>, String)>,
    held: u64,
    body_timeout: Duration,
}

impl BufferReservation {
    /// Reserves `n` more bytes; 503 when a budget would be exceeded.
    pub fn grow(&mut self, n: u64) -> Result<(), ServerError> {
        self.take(n, None)
    }

    /// Reserves `n` more bytes for parsing a body (its [`crate::lineproto::ParseCost`]). Past a
    /// budget it is still admitted when nothing but this request's own bytes is held in that
    /// budget, so a max-size body of tiny lines can always be written (alone).
    pub fn grow_alone_if_needed(&mut self, n: u64) -> Result<(), ServerError> {
        self.take(n, Some(self.held))
    }

    fn take(&mut self, n: u64, alone: Option<u64>) -> Result<(), ServerError> {
        if let Some((t, name)) = &self.token {
            if !t.try_take(n, alone) {
                return Err(overloaded(format!(
                    "token {name:?} holds {} bytes of writes and this one needs {n} more, past its limit \
                     (max_buffered_write_bytes = {}); retry later",
                    t.used(),
                    t.max()
                )));
            }
        }
        if !self.global.try_take(n, alone) {
            if let Some((t, _)) = &self.token {
                t.give(n);
            }
            return Err(overloaded(format!(
                "server is at capacity (too many write bytes buffered: {} held, this request needs {n} more, \
                 max_buffered_write_bytes = {}); retry later",
                self.global.used(),
                self.global.max()
            )));
        }
        self.held += n;
        Ok(())
    }

    pub fn held(&self) -> u64 {
        self.held
    }

    /// How long the body being reserved may take to arrive (`limits.body_timeout`).
    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }
}

impl Drop for BufferReservation {
    fn drop(&mut self) {
        self.global.give(self.held);
        if let Some((t, _)) = &self.token {
            t.give(self.held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::access::Access;
    use crate::server::auth::{sha256, Permissions, TokenEntry};

    /// The limits of `cfg` and the tokens with their limiters.
    fn setup(cfg: &LimitsConfig, tokens: TokenStore) -> (Limits, Access) {
        (Limits::new(cfg), Access::new(cfg, tokens, None))
    }

    fn one_token(rps: u32, burst: u32, bps: u64) -> TokenStore {
        TokenStore::new(vec![TokenEntry {
            name: "t".into(),
            hash: sha256("t"),
            perms: Permissions::default(),
            requests_per_second: Some(rps),
            burst: Some(burst),
            write_bytes_per_second: Some(bps),
            ..TokenEntry::default()
        }])
    }

    #[test]
    fn request_quota_then_429_with_retry() {
        let tokens = one_token(1, 2, 1000);
        let (limits, tokens) = setup(&LimitsConfig::default(), tokens);
        let who = tokens.authenticate("t").unwrap();
        let p = Policy::default();
        assert!(limits.check_request(&who, &p).is_ok());
        assert!(limits.check_request(&who, &p).is_ok());
        let e = limits.check_request(&who, &p).unwrap_err();
        assert_eq!(e.status(), 429);
        let r = e.into_response();
        let secs: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(secs >= 1);
    }

    #[test]
    fn big_write_fits_byte_burst() {
        let tokens = one_token(100, 100, 10);
        let cfg = LimitsConfig { max_body_bytes: 5000, ..LimitsConfig::default() };
        let (limits, tokens) = setup(&cfg, tokens);
        let who = tokens.authenticate("t").unwrap();
        let p = Policy::default();
        // larger than the per-second rate but within max body: allowed once, with a full bucket
        assert!(limits.check_write_bytes(&who, 5000, &p).is_ok());
        assert_eq!(limits.check_write_bytes(&who, 100, &p).unwrap_err().status(), 429);
        assert_eq!(limits.check_write_bytes(&who, 5, &p).unwrap_err().status(), 429);
        // within the bucket: normal accounting
        let tokens = one_token(100, 100, 1000);
        let (limits, tokens) = setup(&cfg, tokens);
        let who = tokens.authenticate("t").unwrap();
        assert!(limits.check_write_bytes(&who, 600, &p).is_ok());
        assert_eq!(limits.check_write_bytes(&who, 600, &p).unwrap_err().status(), 429);
    }

    #[test]
    fn reserve_holds_within_max_delay_then_refuses() {
        use crate::server::throttle::Refusal;
        let tokens = one_token(1, 2, 1000);
        let (limits, tokens) = setup(&LimitsConfig::default(), tokens);
        let who = tokens.authenticate("t").unwrap();
        let p = Policy { refusal: Refusal::Unavailable, max_delay: Duration::from_millis(150) };
        assert_eq!(limits.reserve(&who, Some(600), &p).unwrap(), Duration::ZERO);
        // 600 more bytes are 200 ms away: refused, and the request cell it took is given back.
        let e = limits.reserve(&who, Some(600), &p).unwrap_err();
        assert_eq!(e.status(), 503);
        assert!(e.message().contains("write rate limit") && e.message().contains("max_delay"), "{}", e.message());
        // 500 bytes are 100 ms away: held; the request cell is the second of the burst of 2.
        let wait = limits.reserve(&who, Some(500), &p).unwrap();
        assert!(wait > Duration::from_millis(80) && wait <= Duration::from_millis(100), "{wait:?}");
        // A third request is a second away.
        let e = limits.reserve(&who, None, &p).unwrap_err();
        assert!(e.message().contains("request rate limit"), "{}", e.message());
        let r = e.into_response();
        assert_eq!(r.headers()["retry-after"], "1");
    }

    #[test]
    fn inflight_and_buffer_caps() {
        let tokens = one_token(100, 100, 10);
        let cfg = LimitsConfig { max_inflight_requests: 1, max_buffered_write_bytes: 10, ..LimitsConfig::default() };
        let (limits, tokens) = setup(&cfg, tokens);
        let who = tokens.authenticate("t").unwrap();
        let g = limits.enter(&who).unwrap();
        assert_eq!(limits.enter(&who).err().unwrap().status(), 503);
        drop(g);
        assert!(limits.enter(&who).is_ok());
        assert_eq!(limits.inflight(), 0);
        let mut a = limits.buffer_reservation();
        a.grow(8).unwrap();
        let mut b = limits.buffer_reservation();
        assert_eq!(b.grow(3).unwrap_err().status(), 503);
        b.grow(2).unwrap();
        drop(a);
        assert_eq!(limits.buffered(), 2);
        drop(b);
        assert_eq!(limits.buffered(), 0);
    }

    fn two_tokens(a_inflight: Option<usize>, a_bytes: Option<u64>) -> TokenStore {
        let entry = |name: &str| TokenEntry { name: name.into(), hash: sha256(name), ..TokenEntry::default() };
        TokenStore::new(vec![
            TokenEntry { max_inflight_requests: a_inflight, max_buffered_write_bytes: a_bytes, ..entry("a") },
            entry("b"),
        ])
    }

    #[test]
    fn token_share_of_inflight_slots() {
        let tokens = two_tokens(None, None);
        let cfg = LimitsConfig { max_inflight_requests: 3, token_max_inflight_requests: 2, ..LimitsConfig::default() };
        let (limits, tokens) = setup(&cfg, tokens);
        let (a, b) = (tokens.authenticate("a").unwrap(), tokens.authenticate("b").unwrap());
        let held: Vec<_> = (0..2).map(|_| limits.enter(&a).unwrap()).collect();
        let e = limits.enter(&a).err().unwrap();
        assert_eq!(e.status(), 503);
        assert!(e.message().contains("\"a\"") && e.message().contains("max_inflight_requests"), "{}", e.message());
        // The refused request took no global slot: b gets the third.
        assert_eq!(limits.inflight(), 2);
        let b1 = limits.enter(&b).unwrap();
        // Global cap reached: b's next is refused by it, and gives its token slot back.
        assert!(limits.enter(&b).err().unwrap().message().contains("server is at capacity"));
        drop(held);
        drop(b1);
        assert_eq!(limits.inflight(), 0);
        let _again: Vec<_> = (0..2).map(|_| limits.enter(&b).unwrap()).collect();
        // A token's own setting overrides the default.
        let tokens = two_tokens(Some(1), None);
        let (limits, tokens) = setup(&cfg, tokens);
        let a = tokens.authenticate("a").unwrap();
        let _one = limits.enter(&a).unwrap();
        assert_eq!(limits.enter(&a).err().unwrap().status(), 503);
    }

    #[test]
    fn token_share_of_write_bytes_and_parses_alone() {
        let tokens = two_tokens(None, Some(100));
        let cfg = LimitsConfig { max_buffered_write_bytes: 1000, token_max_buffered_write_bytes: 500, ..LimitsConfig::default() };
        let (limits, tokens) = setup(&cfg, tokens);
        let (a, b) = (tokens.authenticate("a").unwrap(), tokens.authenticate("b").unwrap());
        let mut a1 = limits.write_reservation(&a);
        a1.grow(60).unwrap();
        let mut a2 = limits.write_reservation(&a);
        let e = a2.grow(60).unwrap_err();
        assert!(e.message().contains("max_buffered_write_bytes"), "{}", e.message());
        assert_eq!(limits.buffered(), 60);
        // b's own budget (the default, 500) is untouched by a's.
        let mut b1 = limits.write_reservation(&b);
        b1.grow(400).unwrap();
        // A parse over a's budget: refused while a1 holds bytes, admitted alone.
        a2.grow(10).unwrap();
        assert_eq!(a2.grow_alone_if_needed(300).unwrap_err().status(), 503);
        drop(a1);
        a2.grow_alone_if_needed(300).unwrap();
        assert_eq!(a2.held(), 310);
        // Over the global budget as well: only when nothing else is held there.
        let mut b2 = limits.write_reservation(&b);
        assert_eq!(b2.grow_alone_if_needed(2000).unwrap_err().status(), 503);
        drop((a2, b1));
        b2.grow_alone_if_needed(2000).unwrap();
        assert_eq!(limits.buffered(), 2000);
        assert_eq!(limits.write_reservation(&a).grow(1).unwrap_err().status(), 503);
        drop(b2);
        assert_eq!(limits.buffered(), 0);
    }

    #[test]
    fn reload_keeps_the_limiters_of_unchanged_tokens() {
        let cfg = LimitsConfig::default();
        let first = Access::new(&cfg, two_tokens(None, None), None);
        let second = Access::new(&cfg, two_tokens(Some(1), None), Some(&first));
        let same = |name: &str| {
            let (x, y) = (first.authenticate(name).unwrap(), second.authenticate(name).unwrap());
            Arc::ptr_eq(x.limiter.as_ref().unwrap(), y.limiter.as_ref().unwrap())
        };
        assert!(same("b"), "an unchanged token got new buckets");
        assert!(!same("a"), "a changed token kept its old settings");
        // A global cap lowered by a reload applies to what is already held.
        let limits = Limits::new(&LimitsConfig { max_inflight_requests: 2, ..cfg.clone() });
        let b = second.authenticate("b").unwrap();
        let _one = limits.enter(&b).unwrap();
        limits.set_caps(&LimitsConfig { max_inflight_requests: 1, ..cfg });
        assert_eq!(limits.enter(&b).err().unwrap().status(), 503);
    }
}
