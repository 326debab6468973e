//! The certificate in service, swapped without touching open connections.
//!
//! rustls asks the store for a certificate at every handshake
//! ([`ResolvesServerCert`]); a swap replaces the `Arc` behind a lock, so
//! handshakes after it get the new certificate while connections that are
//! already up keep their session keys and never notice.

use super::cert::Certificate;
use crate::config::TlsMode;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

/// ALPN protocol id of ACME TLS-ALPN-01 validation (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// What is in service, swapped as one.
struct Served {
    cert: Arc<Certificate>,
    /// Issued by a CA browsers trust (ACME, files): HSTS may be sent.
    trusted: bool,
}

/// The certificate store shared by the HTTPS listeners, the certificate
/// source (ACME driver, file reloader) and `/healthz`.
pub struct CertStore {
    mode: TlsMode,
    served: RwLock<Served>,
    /// TLS-ALPN-01 challenge certificates by SNI name.
    alpn_challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01 key authorizations by token.
    http_challenges: RwLock<HashMap<String, String>>,
    /// Failed ACME attempts since the last success.
    acme_failures: AtomicU32,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    pub fn new(mode: TlsMode, cert: Certificate, trusted: bool) -> CertStore {
        CertStore {
            mode,
            served: RwLock::new(Served {
                cert: Arc::new(cert),
                trusted,
            }),
            alpn_challenges: RwLock::new(HashMap::new()),
            http_challenges: RwLock::new(HashMap::new()),
            acme_failures: AtomicU32::new(0),
        }
    }

    /// Puts `cert` into service for every handshake from now on.
    pub fn swap(&self, cert: Certificate, trusted: bool) {
        let mut served = self.served.write().unwrap_or_else(|p| p.into_inner());
        *served = Served {
            cert: Arc::new(cert),
            trusted,
        };
    }

    pub fn current(&self) -> Arc<Certificate> {
        self.read().cert.clone()
    }

    /// Whether the certificate in service is trusted by browsers (HSTS).
    pub fn trusted(&self) -> bool {
        self.read().trusted
    }

    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Served> {
        self.served.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_http_challenge(&self, token: String, key_authorization: String) {
        self.http_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token, key_authorization);
    }

    /// The key authorization for an HTTP-01 token, if one is pending.
    pub fn http_challenge(&self, token: &str) -> Option<String> {
        self.http_challenges
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    pub(crate) fn set_alpn_challenge(&self, sni: String, key: Arc<CertifiedKey>) {
        self.alpn_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sni, key);
    }

    pub(crate) fn clear_challenges(&self) {
        self.http_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.alpn_challenges
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub(crate) fn set_acme_failures(&self, n: u32) {
        self.acme_failures.store(n, Ordering::Relaxed);
    }

    /// What `/healthz` shows about TLS.
    pub fn status(&self) -> TlsStatus {
        let served = self.read();
        TlsStatus {
            mode: self.mode.as_str(),
            trusted: served.trusted,
            fingerprint_sha256: served.cert.fingerprint.clone(),
            not_after: served.cert.not_after_text(),
            acme_failures: (self.mode == TlsMode::Acme)
                .then(|| self.acme_failures.load(Ordering::Relaxed)),
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let acme = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if acme {
            // Only the challenge certificate answers acme-tls/1; without a
            // pending challenge for that name the handshake fails.
            let name = hello.server_name()?.to_ascii_lowercase();
            return self
                .alpn_challenges
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&name)
                .cloned();
        }
        Some(self.read().cert.key.clone())
    }
}

/// The TLS part of `/healthz`. Public facts only: everything here is also in
/// the certificate every visitor receives.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TlsStatus {
    pub mode: &'static str,
    pub trusted: bool,
    pub fingerprint_sha256: String,
    pub not_after: String,
    /// ACME attempts that failed since the last success (ACME mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme_failures: Option<u32>,
}
