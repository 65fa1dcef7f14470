//! The tokens in effect and their limiters, as one value swapped whole when the configuration is
//! reloaded ([`super::reload`]).
//!
//! A request is authenticated against the set in effect when it arrives; its [`Identity`] carries
//! its token's entry and limiter, so a reload in the middle of a request never mixes two sets (an
//! index of one set used in the other). A revoked token is therefore refused from the next request
//! on, on an already open keep-alive connection too, while a request it already started finishes.

use std::sync::{Arc, RwLock};

use http::HeaderMap;

use crate::config::LimitsConfig;

use super::auth::{Identity, TokenStore};
use super::error::ServerError;
use super::limits::TokenLimiter;

/// The configured tokens and, in the same order, their limiters.
pub struct Access {
    tokens: TokenStore,
    limiters: Vec<Arc<TokenLimiter>>,
}

impl Access {
    /// The tokens with their limiters from `cfg`, reusing those of `previous` where a token's
    /// name and settings are unchanged.
    pub fn new(cfg: &LimitsConfig, tokens: TokenStore, previous: Option<&Access>) -> Access {
        let limiters = TokenLimiter::for_tokens(cfg, &tokens, previous.map_or(&[][..], |p| &p.limiters));
        Access { tokens, limiters }
    }

    pub fn tokens(&self) -> &TokenStore {
        &self.tokens
    }

    fn attach(&self, mut who: Identity) -> Identity {
        who.limiter = self.limiters.get(who.index).cloned();
        who
    }

    /// The caller of a request (403 without credentials, 401 for an unknown token), with its
    /// limiter.
    pub fn identify(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Identity, ServerError> {
        self.tokens.identify(headers, query).map(|who| self.attach(who))
    }

    /// The caller presenting `token`, with its limiter.
    pub fn authenticate(&self, token: &str) -> Option<Identity> {
        self.tokens.authenticate(token).map(|who| self.attach(who))
    }
}

/// The [`Access`] in effect, replaced whole by a reload.
pub struct Current(RwLock<Arc<Access>>);

impl Current {
    pub fn new(access: Access) -> Current {
        Current(RwLock::new(Arc::new(access)))
    }

    pub fn get(&self) -> Arc<Access> {
        match self.0.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, access: Access) {
        let access = Arc::new(access);
        match self.0.write() {
            Ok(mut a) => *a = access,
            Err(poisoned) => *poisoned.into_inner() = access,
        }
    }
}
