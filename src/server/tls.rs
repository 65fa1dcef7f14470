//! HTTPS for the API: 1.x's `https-enabled`, `https-certificate` and `https-private-key` as
//! `[tls] cert` and `key` (PEM), served with rustls (ring; no OpenSSL). ALPN offers `h2` and
//! `http/1.1`; the connection's server (hyper-util's auto builder) tells the two apart by the
//! HTTP/2 preface, so a client without ALPN gets HTTP/1.1 as before.
//!
//! * **Reload without dropping connections.** Every handshake asks [`CertStore`] for the
//!   certificate, which hands out the `Arc` it holds now; a reload swaps that `Arc`. Connections
//!   already open keep the keys they negotiated. The files are reloaded when their modification
//!   time or size changes (looked at every `[tls] reload_interval`, default 10 s: a renewed
//!   certificate is served within that) and on SIGHUP (a listener of its own, so a SIGHUP also
//!   reloads whatever else listens for it). 1.x reads its certificate once, at start.
//! * **A bad new pair is refused.** Unreadable, not PEM, no certificate, a key rustls cannot use,
//!   or a key that is not the certificate's: the old pair stays in use and the reason is logged
//!   at error level, once per change of the files (a pair replaced one file at a time may be
//!   refused once in between, then loaded). Each file is read up to [`MAX_PEM_BYTES`]. Reloads,
//!   refusals and failed handshakes are counted in `/metrics` (`influxgate_tls_*_total`).
//! * **Handshakes are bounded.** A connection is admitted (it takes a connection slot, and is
//!   idle, so it is the first closed to make room at the cap) before its handshake, which must
//!   end within `[tls] handshake_timeout` (default 10 s, the handshake timeout of Go's HTTP
//!   client; 1.x's server has none); a client that opens a socket and sends nothing holds its slot
//!   at most that long.
//! * **Plain HTTP to the HTTPS port** is answered `HTTP/1.0 400 Bad Request` and `Client sent an
//!   HTTP request to an HTTPS server.`, byte for byte what the installed 1.6.7 (Debian's build, Go
//!   1.19's net/http) answers with `https-enabled` (tests/tls.rs compares the two), and closed;
//!   other bytes that are not a TLS handshake are closed at once.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::config::TlsConfig;
use crate::server::settle::Settling;

use super::conn::write_and_drain;
use super::limits::config_duration;
use super::metrics::Metrics;
use super::State;
use super::send_watch::Watched;

/// The largest certificate or key file read (a chain of a few certificates is a few KiB).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Go's answer to plain HTTP on a TLS port.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is larger than {MAX_PEM_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: no PEM certificate ({reason})")]
    Cert { path: PathBuf, reason: String },
    #[error("{path}: no usable PEM private key ({reason})")]
    Key { path: PathBuf, reason: String },
    #[error("{key} is not the private key of {cert} (or unusable with it): {reason}")]
    Pair { cert: PathBuf, key: PathBuf, reason: String },
    #[error("TLS settings: {0}")]
    Setup(rustls::Error),
}

/// Why a connection's handshake did not give a TLS stream.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("no TLS handshake within {0:?}")]
    Timeout(Duration),
    #[error("not a TLS handshake (plain HTTP answered 400)")]
    PlainHttp,
    #[error("not a TLS handshake")]
    NotTls,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A PEM file's bytes, at most [`MAX_PEM_BYTES`].
pub fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut buf = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut buf).map_err(read)?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge { path: path.to_owned() });
    }
    Ok(buf)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its private key, checking that they belong together.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let pem = read_pem(cert)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Cert { path: cert.to_owned(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::Cert { path: cert.to_owned(), reason: "no CERTIFICATE section".into() });
    }
    let der = PrivateKeyDer::from_pem_slice(&read_pem(key)?)
        .map_err(|e| TlsError::Key { path: key.to_owned(), reason: e.to_string() })?;
    CertifiedKey::from_der(chain, der, &provider()).map_err(|e| TlsError::Pair {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// The certificate every new handshake gets; swapped whole by a reload.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The two files' modification times and sizes, as last looked at.
type Stamp = [Option<(SystemTime, u64)>; 2];

/// The API's TLS: the acceptor, its certificate store and what reloads it.
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    store: Arc<CertStore>,
    cert: PathBuf,
    key: PathBuf,
    reload_interval: Duration,
    handshake_timeout: Duration,
}

impl Tls {
    /// Loads `[tls]`'s pair; `None` when TLS is off.
    pub fn from_config(cfg: &TlsConfig) -> Result<Option<Arc<Tls>>, TlsError> {
        let (Some(cert), Some(key)) = (&cfg.cert, &cfg.key) else { return Ok(None) };
        let store = Arc::new(CertStore { current: RwLock::new(Arc::new(load_pair(cert, key)?)) });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Setup)?
            .with_no_client_auth()
            .with_cert_resolver(store.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Arc::new(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            store,
            cert: cert.clone(),
            key: key.clone(),
            reload_interval: config_duration(cfg.reload_interval),
            handshake_timeout: config_duration(cfg.handshake_timeout),
        })))
    }

    /// The handshake of an admitted connection, within `handshake_timeout`.
    pub async fn accept(&self, io: Watched<TcpStream>) -> Result<TlsStream<Watched<TcpStream>>, HandshakeError> {
        let within = self.handshake_timeout;
        tokio::time::timeout(within, async {
            let mut first = [0u8; 1];
            if io.get_ref().peek(&mut first).await? == 0 {
                return Err(HandshakeError::NotTls);
            }
            if first[0] != TLS_HANDSHAKE {
                if !first[0].is_ascii_uppercase() {
                    return Err(HandshakeError::NotTls);
                }
                write_and_drain(io, PLAIN_HTTP_ANSWER).await?;
                return Err(HandshakeError::PlainHttp);
            }
            Ok(self.acceptor.accept(io).await?)
        })
        .await
        .map_err(|_| HandshakeError::Timeout(within))?
    }

    fn stamp(&self) -> Stamp {
        let look = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        [look(&self.cert), look(&self.key)]
    }

    /// Loads the files again; on failure keeps the pair in use and logs why.
    async fn reload(self: &Arc<Self>, why: &str, state: &State) {
        let me = self.clone();
        let loaded = tokio::task::spawn_blocking(move || load_pair(&me.cert, &me.key)).await;
        match loaded {
            Ok(Ok(pair)) => {
                self.store.set(pair);
                Metrics::add(&state.metrics.tls_reloads, 1);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded ({why})");
                return;
            }
            Ok(Err(e)) => tracing::error!("TLS certificate not reloaded ({why}), the previous one stays in use: {e}"),
            Err(e) => tracing::error!("TLS certificate not reloaded ({why}): {e}"),
        }
        Metrics::add(&state.metrics.tls_reload_failures, 1);
    }

    /// Starts reloading on SIGHUP and when the files change, until the task is aborted. The
    /// SIGHUP listener is in place when this returns (a SIGHUP before it would end the process).
    /// Reloads are counted in `state`'s metrics.
    pub fn spawn_reloader(self: &Arc<Self>, state: Arc<State>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.clone().reload_loop(Hangup::listen(), state))
    }

    async fn reload_loop(self: Arc<Self>, mut hup: Hangup, state: Arc<State>) {
        // A change is loaded once it has held for one whole interval (`server::settle`).
        let mut settling = Settling::new(self.stamp());
        loop {
            let poll = async {
                match self.reload_interval {
                    Duration::ZERO => std::future::pending().await,
                    every => tokio::time::sleep(every).await,
                }
            };
            tokio::select! {
                _ = hup.recv() => {
                    settling.loaded(self.stamp());
                    self.reload("SIGHUP", &state).await;
                }
                _ = poll => {
                    if settling.look(self.stamp()) {
                        self.reload("the files changed", &state).await;
                    }
                }
            }
        }
    }
}

/// This module's own SIGHUP listener (tokio tells every listener of a signal).
struct Hangup(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangup {
    fn listen() -> Hangup {
        #[cfg(unix)]
        return Hangup(
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| tracing::warn!("no TLS reload on SIGHUP: {e}"))
                .ok(),
        );
        #[cfg(not(unix))]
        Hangup()
    }

    /// Completes at the next SIGHUP; never where there is none.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.0.as_mut() {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        assert!(matches!(load_pair(&c, &k), Err(TlsError::Read { .. })));
        std::fs::write(&c, "not pem").unwrap();
        assert!(matches!(load_pair(&c, &k), Err(TlsError::Cert { .. })));
        std::fs::write(&c, vec![b'x'; MAX_PEM_BYTES as usize + 1]).unwrap();
        assert!(matches!(load_pair(&c, &k), Err(TlsError::TooLarge { .. })));
    }
}
