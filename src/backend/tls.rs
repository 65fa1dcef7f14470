//! TLS to a remote store (VictoriaMetrics, ClickHouse): `https://` URLs, verified against the
//! system's CAs plus `[backend] ca_file`, optionally presenting `client_cert`/`client_key`
//! (mutual TLS). rustls with ring, as the API's own TLS (`server::tls`); each file is read up to
//! `server::tls::MAX_PEM_BYTES`.

use std::path::PathBuf;

use super::BackendError;
use crate::config::BackendConfig;
use crate::server::tls::read_pem;

/// The files that set up TLS to the store.
#[derive(Debug, Clone, Default)]
pub struct StoreTls {
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl StoreTls {
    pub fn from_config(b: &BackendConfig) -> StoreTls {
        StoreTls { ca_file: b.ca_file.clone(), client_cert: b.client_cert.clone(), client_key: b.client_key.clone() }
    }
}

fn invalid(e: impl std::fmt::Display) -> BackendError {
    BackendError::Invalid(e.to_string())
}

/// A store's HTTP client from `builder`, for `url` (`http://` or `https://`), with `tls`.
pub fn http_client(store: &str, url: &str, tls: &StoreTls, mut builder: reqwest::ClientBuilder) -> Result<reqwest::Client, BackendError> {
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(invalid(format!("{store} url must be http://host:port or https://host:port, not {url:?}")));
    }
    if let Some(ca) = &tls.ca_file {
        let certs = reqwest::Certificate::from_pem_bundle(&read_pem(ca).map_err(invalid)?)
            .map_err(|e| invalid(format!("{}: {e}", ca.display())))?;
        if certs.is_empty() {
            return Err(invalid(format!("{}: no PEM certificate", ca.display())));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        let mut pem = read_pem(cert).map_err(invalid)?;
        pem.push(b'\n');
        pem.extend(read_pem(key).map_err(invalid)?);
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| invalid(format!("client certificate {} / {}: {e}", cert.display(), key.display())))?;
        builder = builder.identity(id);
    }
    builder.build().map_err(|e| BackendError::Internal(format!("http client: {e}")))
}
