//! Rate limits and overload protection.
//!
//! Per token (defaults from `[limits]`, overridable per `[[tokens]]` entry): requests per second
//! with a burst, and `/write` body bytes per second (counted after decompression; the bucket holds
//! one second's worth). Past either: 429 with `Retry-After`. A write larger than the byte bucket
//! (up to `max_body_bytes`) is let through when the bucket is full and empties it, so the largest
//! allowed write is always possible and the long-run rate still holds.
//!
//! Globally: requests being served at once and write bytes held in memory at once. Past either:
//! 503 with `Retry-After: 1`.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;

use super::auth::{Identity, TokenStore};
use super::error::ServerError;

const OVERLOAD_RETRY_AFTER: Duration = Duration::from_secs(1);

fn nz(v: u64) -> NonZeroU32 {
    NonZeroU32::new(u32::try_from(v).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
}

struct TokenLimiter {
    requests: DefaultDirectRateLimiter,
    bytes: DefaultDirectRateLimiter,
}

pub struct Limits {
    per_token: Vec<TokenLimiter>,
    clock: DefaultClock,
    max_inflight: usize,
    inflight: Arc<AtomicUsize>,
    max_buffered: u64,
    buffered: Arc<AtomicU64>,
}

impl Limits {
    pub fn new(cfg: &LimitsConfig, tokens: &TokenStore) -> Limits {
        let per_token = tokens
            .entries()
            .iter()
            .map(|t| {
                let rps = t.requests_per_second.unwrap_or(cfg.requests_per_second);
                let burst = t.burst.unwrap_or(cfg.burst);
                let bps = t.write_bytes_per_second.unwrap_or(cfg.write_bytes_per_second);
                TokenLimiter {
                    requests: RateLimiter::direct(Quota::per_second(nz(u64::from(rps))).allow_burst(nz(u64::from(burst)))),
                    bytes: RateLimiter::direct(Quota::per_second(nz(bps))),
                }
            })
            .collect();
        Limits {
            per_token,
            clock: DefaultClock::default(),
            max_inflight: cfg.max_inflight_requests.max(1),
            inflight: Arc::new(AtomicUsize::new(0)),
            max_buffered: cfg.max_buffered_write_bytes.max(1),
            buffered: Arc::new(AtomicU64::new(0)),
        }
    }

    /// One request by this token.
    pub fn check_request(&self, who: &Identity) -> Result<(), ServerError> {
        let Some(l) = self.per_token.get(who.index) else { return Ok(()) };
        l.requests.check().map_err(|nu| ServerError::TooManyRequests {
            message: format!("token {:?} is over its request rate limit", who.name()),
            retry_after: nu.wait_time_from(self.clock.now()),
        })
    }

    /// `n` body bytes written by this token.
    pub fn check_write_bytes(&self, who: &Identity, n: u64) -> Result<(), ServerError> {
        let Some(l) = self.per_token.get(who.index) else { return Ok(()) };
        let Some(n32) = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)) else { return Ok(()) };
        let over = |retry_after: Duration| ServerError::TooManyRequests {
            message: format!("token {:?} is over its write rate limit (bytes per second)", who.name()),
            retry_after,
        };
        let decision = match l.bytes.check_n(n32) {
            // Larger than the bucket: allowed when the bucket is full, taking all of it.
            Err(governor::InsufficientCapacity(cap)) => match NonZeroU32::new(cap) {
                Some(cap) => l.bytes.check_n(cap).unwrap_or(Ok(())),
                None => Ok(()),
            },
            Ok(d) => d,
        };
        decision.map_err(|nu| over(nu.wait_time_from(self.clock.now())))
    }

    /// Enters a request; the guard leaves it. 503 when too many are in flight.
    pub fn enter(&self) -> Result<InflightGuard, ServerError> {
        let prev = self.inflight.fetch_add(1, Ordering::AcqRel);
        let guard = InflightGuard { counter: self.inflight.clone() };
        if prev >= self.max_inflight {
            return Err(ServerError::Overloaded {
                message: "server is at capacity (too many requests in flight); retry later".into(),
                retry_after: OVERLOAD_RETRY_AFTER,
            });
        }
        Ok(guard)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }

    /// A reservation of buffered write bytes, growing as a body is read; released on drop.
    pub fn buffer_reservation(&self) -> BufferReservation {
        BufferReservation { counter: self.buffered.clone(), max: self.max_buffered, held: 0 }
    }

    pub fn buffered(&self) -> u64 {
        self.buffered.load(Ordering::Acquire)
    }
}

pub struct InflightGuard {
    counter: Arc<AtomicUsize>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct BufferReservation {
    counter: Arc<AtomicU64>,
    max: u64,
    held: u64,
}

impl BufferReservation {
    /// Reserves `n` more bytes; 503 when the global budget would be exceeded.
    pub fn grow(&mut self, n: u64) -> Result<(), ServerError> {
        let prev = self.counter.fetch_add(n, Ordering::AcqRel);
        if prev.saturating_add(n) > self.max {
            self.counter.fetch_sub(n, Ordering::AcqRel);
            return Err(ServerError::Overloaded {
                message: "server is at capacity (too many write bytes buffered); retry later".into(),
                retry_after: OVERLOAD_RETRY_AFTER,
            });
        }
        self.held += n;
        Ok(())
    }

    pub fn held(&self) -> u64 {
        self.held
    }
}

impl Drop for BufferReservation {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::auth::{sha256, Permissions, TokenEntry};

    fn one_token(rps: u32, burst: u32, bps: u64) -> TokenStore {
        TokenStore::new(vec![TokenEntry {
            name: "t".into(),
            hash: sha256("t"),
            perms: Permissions::default(),
            requests_per_second: Some(rps),
            burst: Some(burst),
            write_bytes_per_second: Some(bps),
        }])
    }

    #[test]
    fn request_quota_then_429_with_retry() {
        let tokens = one_token(1, 2, 1000);
        let limits = Limits::new(&LimitsConfig::default(), &tokens);
        let who = tokens.authenticate("t").unwrap();
        assert!(limits.check_request(&who).is_ok());
        assert!(limits.check_request(&who).is_ok());
        let e = limits.check_request(&who).unwrap_err();
        assert_eq!(e.status(), 429);
        let r = e.into_response();
        let secs: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(secs >= 1);
    }

    #[test]
    fn big_write_fits_byte_burst() {
        let tokens = one_token(100, 100, 10);
        let cfg = LimitsConfig { max_body_bytes: 5000, ..LimitsConfig::default() };
        let limits = Limits::new(&cfg, &tokens);
        let who = tokens.authenticate("t").unwrap();
        // larger than the per-second rate but within max body: allowed once, with a full bucket
        assert!(limits.check_write_bytes(&who, 5000).is_ok());
        assert_eq!(limits.check_write_bytes(&who, 100).unwrap_err().status(), 429);
        assert_eq!(limits.check_write_bytes(&who, 5).unwrap_err().status(), 429);
        // within the bucket: normal accounting
        let tokens = one_token(100, 100, 1000);
        let limits = Limits::new(&cfg, &tokens);
        let who = tokens.authenticate("t").unwrap();
        assert!(limits.check_write_bytes(&who, 600).is_ok());
        assert_eq!(limits.check_write_bytes(&who, 600).unwrap_err().status(), 429);
    }

    #[test]
    fn inflight_and_buffer_caps() {
        let tokens = one_token(100, 100, 10);
        let cfg = LimitsConfig { max_inflight_requests: 1, max_buffered_write_bytes: 10, ..LimitsConfig::default() };
        let limits = Limits::new(&cfg, &tokens);
        let g = limits.enter().unwrap();
        assert_eq!(limits.enter().err().unwrap().status(), 503);
        drop(g);
        assert!(limits.enter().is_ok());
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
}
