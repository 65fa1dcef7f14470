//! Tokens: where a request carries one, how it is checked, what it may do.
//!
//! A token arrives as `Authorization: Token <t>` (1.x's `Token user:password` form also works: the
//! part after the colon is tried too), `Authorization: Bearer <t>`, HTTP Basic (the password is the
//! token) or `?u=<user>&p=<token>`. Only SHA-256 hashes of tokens are kept; a presented token is
//! hashed and compared in constant time against every configured hash, always all of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::{Config, OnLimit, TokenConfig};

use super::error::ServerError;

/// What a token may do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub admin: bool,
    pub read: Vec<String>,
    pub write: Vec<String>,
}

impl Permissions {
    pub fn can_read(&self, db: &str) -> bool {
        self.admin || self.read.iter().any(|d| d == "*" || d == db)
    }
    pub fn can_write(&self, db: &str) -> bool {
        self.admin || self.write.iter().any(|d| d == "*" || d == db)
    }
}

/// A configured token (its hash) with its name, permissions and its overrides of `[limits]`.
#[derive(Debug, Clone, Default)]
pub struct TokenEntry {
    pub name: String,
    pub hash: [u8; 32],
    pub perms: Permissions,
    pub requests_per_second: Option<u32>,
    pub burst: Option<u32>,
    pub write_bytes_per_second: Option<u64>,
    /// Overrides `limits.token_max_inflight_requests`.
    pub max_inflight_requests: Option<usize>,
    /// Overrides `limits.token_max_buffered_write_bytes`.
    pub max_buffered_write_bytes: Option<u64>,
    /// Overrides `limits.on_limit`.
    pub on_limit: Option<OnLimit>,
    /// Overrides `limits.max_delay`.
    pub max_delay: Option<std::time::Duration>,
}

/// An authenticated caller: the index of its token in the store, the entry, and its rates and
/// shares (attached by [`super::access::Access`]; `None`: not limited per token).
#[derive(Clone)]
pub struct Identity {
    pub index: usize,
    pub token: Arc<TokenEntry>,
    pub limiter: Option<Arc<super::limits::TokenLimiter>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("index", &self.index).field("name", &self.token.name).finish()
    }
}

impl Identity {
    pub fn name(&self) -> &str {
        &self.token.name
    }
    pub fn perms(&self) -> &Permissions {
        &self.token.perms
    }
}

#[derive(Debug, Default)]
pub struct TokenStore {
    entries: Vec<Arc<TokenEntry>>,
}

pub fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `sha256:<hex>` of a token, as stored in config and in `admin-token.sha256`.
pub fn hash_string(token: &str) -> String {
    format!("sha256:{}", hex::encode(sha256(token)))
}

fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hex_part = s.trim().strip_prefix("sha256:")?;
    let bytes = hex::decode(hex_part).ok()?;
    bytes.try_into().ok()
}

/// A new random token: 32 random bytes, hex.
pub fn generate_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Name given to the admin token from `--admin-token` / env / the generated one.
pub const ADMIN_NAME: &str = "admin";

/// File in data_dir holding the generated admin token's hash.
pub fn admin_hash_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-token.sha256")
}

#[derive(Debug, thiserror::Error)]
pub enum TokenSetupError {
    #[error("token {0:?}: invalid hash (expected sha256:<64 hex digits>)")]
    BadHash(String),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

impl TokenStore {
    pub fn new(entries: Vec<TokenEntry>) -> TokenStore {
        TokenStore { entries: entries.into_iter().map(Arc::new).collect() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Arc<TokenEntry>] {
        &self.entries
    }

    fn from_config_tokens(tokens: &[TokenConfig]) -> Result<Vec<TokenEntry>, TokenSetupError> {
        tokens
            .iter()
            .map(|t| {
                Ok(TokenEntry {
                    name: t.name.clone(),
                    hash: parse_hash(&t.hash).ok_or_else(|| TokenSetupError::BadHash(t.name.clone()))?,
                    perms: Permissions { admin: t.admin, read: t.read.clone(), write: t.write.clone() },
                    requests_per_second: t.requests_per_second,
                    burst: t.burst,
                    write_bytes_per_second: t.write_bytes_per_second,
                    max_inflight_requests: t.max_inflight_requests,
                    max_buffered_write_bytes: t.max_buffered_write_bytes,
                    on_limit: t.on_limit,
                    max_delay: t.max_delay.map(super::limits::config_duration),
                })
            })
            .collect()
    }

    /// The tokens a server runs with: the configured ones, plus the admin token given on the
    /// command line / environment. With neither, an admin token is generated on first start (its
    /// hash kept in `data_dir/admin-token.sha256`, the token returned once to be shown) and
    /// loaded from that file on later starts: the server is never open.
    pub fn setup(config: &Config, admin_token: Option<&str>) -> Result<(TokenStore, Option<String>), TokenSetupError> {
        Self::setup_inner(config, admin_token, true)
    }

    /// The tokens of a reloaded configuration: as [`TokenStore::setup`], but never generating
    /// an admin token (a reload that would leave the server with none is refused).
    pub fn reload(config: &Config, admin_token: Option<&str>) -> Result<TokenStore, TokenSetupError> {
        Ok(Self::setup_inner(config, admin_token, false)?.0)
    }

    fn setup_inner(
        config: &Config,
        admin_token: Option<&str>,
        generate: bool,
    ) -> Result<(TokenStore, Option<String>), TokenSetupError> {
        let mut entries = Self::from_config_tokens(&config.tokens)?;
        let admin_entry = |hash: [u8; 32]| TokenEntry {
            name: ADMIN_NAME.into(),
            hash,
            perms: Permissions { admin: true, ..Default::default() },
            ..TokenEntry::default()
        };
        let mut generated = None;
        if let Some(t) = admin_token.filter(|t| !t.is_empty()) {
            entries.push(admin_entry(sha256(t)));
        } else if entries.is_empty() {
            let path = admin_hash_path(&config.data_dir);
            let file_err = |message: String| TokenSetupError::File { path: path.clone(), message };
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let hash = parse_hash(&text)
                        .ok_or_else(|| file_err("expected sha256:<64 hex digits>".into()))?;
                    entries.push(admin_entry(hash));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !generate => {
                    return Err(file_err("not found, and no [[tokens]] are configured: no token would be left".into()))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let token = generate_token();
                    std::fs::create_dir_all(&config.data_dir).map_err(|e| file_err(e.to_string()))?;
                    write_private(&path, format!("{}\n", hash_string(&token)).as_bytes())
                        .map_err(|e| file_err(e.to_string()))?;
                    entries.push(admin_entry(sha256(&token)));
                    generated = Some(token);
                }
                Err(e) => return Err(file_err(e.to_string())),
            }
        }
        Ok((TokenStore::new(entries), generated))
    }

    /// Finds the token among all configured hashes. Every hash is compared, in constant time, and
    /// the match is selected without branching on which one it was.
    pub fn authenticate(&self, token: &str) -> Option<Identity> {
        let mut candidates = vec![sha256(token)];
        // 1.x's `Token user:password` form: the password part is the token.
        if let Some((_, p)) = token.split_once(':') {
            candidates.push(sha256(p));
        }
        let mut found: u64 = u64::MAX;
        for h in &candidates {
            for (i, e) in self.entries.iter().enumerate() {
                let eq = e.hash.ct_eq(h);
                found.conditional_assign(&(i as u64), eq);
            }
        }
        let idx = usize::try_from(found).ok()?;
        self.entries.get(idx).map(|t| Identity { index: idx, token: t.clone(), limiter: None })
    }

    /// The caller of a request: 403 without credentials, 401 for an unknown token.
    pub fn identify(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Identity, ServerError> {
        match credentials(headers, query) {
            Credentials::None => Err(ServerError::Forbidden(
                "authentication required: send a token (Authorization: Token <token>)".into(),
            )),
            Credentials::Malformed(why) => Err(ServerError::Unauthorized(why)),
            Credentials::Token(t) => self
                .authenticate(&t)
                .ok_or_else(|| ServerError::Unauthorized("authorization failed".into())),
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

/// What a request presents.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    None,
    Token(String),
    /// Something was sent but cannot be read (unknown scheme, bad base64).
    Malformed(String),
}

/// Reads the credentials of a request: `?p=` first (as 1.x does), then `Authorization`.
pub fn credentials(headers: &HeaderMap, query: Option<&str>) -> Credentials {
    if let Some(q) = query {
        let p = form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "p").map(|(_, v)| v.into_owned());
        if let Some(p) = p.filter(|p| !p.is_empty()) {
            return Credentials::Token(p);
        }
    }
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Ok(value) = value.to_str() else {
        return Credentials::Malformed("unable to parse authentication credentials".into());
    };
    parse_authorization(value)
}

/// Parses an `Authorization` header value. Scheme words are case-sensitive (`Token`, `Bearer`,
/// `Basic`), as in 1.x.
pub fn parse_authorization(value: &str) -> Credentials {
    let value = value.trim();
    if value.is_empty() {
        return Credentials::None;
    }
    let bad = || Credentials::Malformed("unable to parse authentication credentials".into());
    let Some((scheme, rest)) = value.split_once(' ') else {
        return bad();
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return bad();
    }
    match scheme {
        "Token" | "Bearer" => Credentials::Token(rest.to_string()),
        "Basic" => {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                return bad();
            };
            let Ok(text) = String::from_utf8(decoded) else {
                return bad();
            };
            match text.split_once(':') {
                Some((_, p)) if !p.is_empty() => Credentials::Token(p.to_string()),
                _ => bad(),
            }
        }
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hdr(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn parses_schemes() {
        assert_eq!(parse_authorization("Token abc"), Credentials::Token("abc".into()));
        assert_eq!(parse_authorization("Bearer abc"), Credentials::Token("abc".into()));
        // "user:tok" base64
        let b = base64::engine::general_purpose::STANDARD.encode("user:tok");
        assert_eq!(parse_authorization(&format!("Basic {b}")), Credentials::Token("tok".into()));
        let b = base64::engine::general_purpose::STANDARD.encode(":tok");
        assert_eq!(parse_authorization(&format!("Basic {b}")), Credentials::Token("tok".into()));
        // case-sensitive scheme word
        assert!(matches!(parse_authorization("token abc"), Credentials::Malformed(_)));
        assert!(matches!(parse_authorization("Token"), Credentials::Malformed(_)));
        assert!(matches!(parse_authorization("Basic !!!"), Credentials::Malformed(_)));
        assert!(matches!(parse_authorization("Digest x"), Credentials::Malformed(_)));
        assert_eq!(parse_authorization(""), Credentials::None);
    }

    #[test]
    fn query_string_wins_and_empty_is_none() {
        let h = hdr("Token fromheader");
        assert_eq!(credentials(&h, Some("db=x&u=me&p=fromquery")), Credentials::Token("fromquery".into()));
        assert_eq!(credentials(&h, Some("db=x&p=")), Credentials::Token("fromheader".into()));
        assert_eq!(credentials(&HeaderMap::new(), Some("db=x")), Credentials::None);
        assert_eq!(credentials(&HeaderMap::new(), None), Credentials::None);
        assert_eq!(credentials(&HeaderMap::new(), Some("p=a%2Bb")), Credentials::Token("a+b".into()));
    }

    fn store() -> TokenStore {
        TokenStore::new(vec![
            TokenEntry {
                name: "w".into(),
                hash: sha256("wtok"),
                perms: Permissions { admin: false, read: vec![], write: vec!["db1".into()] },
                ..TokenEntry::default()
            },
            TokenEntry {
                name: "r".into(),
                hash: sha256("rtok"),
                perms: Permissions { admin: false, read: vec!["*".into()], write: vec![] },
                ..TokenEntry::default()
            },
        ])
    }

    #[test]
    fn authenticates_by_hash() {
        let s = store();
        assert_eq!(s.authenticate("wtok").unwrap().name(), "w");
        assert_eq!(s.authenticate("rtok").unwrap().index, 1);
        assert!(s.authenticate("nope").is_none());
        assert!(s.authenticate("").is_none());
        // 1.x `Token user:password`
        assert_eq!(s.authenticate("someone:rtok").unwrap().name(), "r");
        let w = s.authenticate("wtok").unwrap();
        assert!(w.perms().can_write("db1"));
        assert!(!w.perms().can_write("db2"));
        assert!(!w.perms().can_read("db1"));
        let r = s.authenticate("rtok").unwrap();
        assert!(r.perms().can_read("anything"));
    }

    #[test]
    fn identify_statuses() {
        let s = store();
        assert_eq!(s.identify(&HeaderMap::new(), None).unwrap_err().status(), 403);
        assert_eq!(s.identify(&hdr("Token bad"), None).unwrap_err().status(), 401);
        assert_eq!(s.identify(&hdr("Weird bad"), None).unwrap_err().status(), 401);
        assert_eq!(s.identify(&hdr("Token wtok"), None).unwrap().name(), "w");
        assert_eq!(s.identify(&HeaderMap::new(), Some("u=x&p=rtok")).unwrap().name(), "r");
    }

    #[test]
    fn admin_bootstrap() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config { data_dir: dir.path().join("d"), ..Config::default() };
        let (s, generated) = TokenStore::setup(&cfg, None).unwrap();
        let token = generated.expect("first start generates a token");
        assert_eq!(s.len(), 1);
        assert!(s.authenticate(&token).unwrap().perms().admin);
        let stored = std::fs::read_to_string(admin_hash_path(&cfg.data_dir)).unwrap();
        assert!(!stored.contains(&token));
        // second start: loads the hash, prints nothing
        let (s2, generated2) = TokenStore::setup(&cfg, None).unwrap();
        assert!(generated2.is_none());
        assert!(s2.authenticate(&token).is_some());
        // explicit admin token
        let (s3, g3) = TokenStore::setup(&cfg, Some("given")).unwrap();
        assert!(g3.is_none());
        assert!(s3.authenticate("given").is_some());
        assert!(s3.authenticate(&token).is_none());
    }
}
