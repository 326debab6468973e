//! Certificates from PEM files the admin manages (another ACME client, an
//! internal CA), re-read on SIGHUP.

use super::cert::Certificate;
use super::store::CertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Reads both files. The error names the config key of the file at fault.
    pub fn load(&self) -> Result<Certificate, String> {
        let read = |key: &str, path: &Path| {
            std::fs::read(path).map_err(|e| format!("tls.{key} {}: {e}", path.display()))
        };
        let cert = read("cert_file", &self.cert)?;
        let key = read("key_file", &self.key)?;
        Certificate::from_pem(&cert, &key).map_err(|e| {
            format!(
                "tls.cert_file {} / tls.key_file {}: {e}",
                self.cert.display(),
                self.key.display()
            )
        })
    }
}

/// Watches for SIGHUP from now on (so a signal right after start is not
/// lost, nor does it end the process).
pub fn watch_hangup() -> Result<tokio::signal::unix::Signal, String> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).map_err(|e| format!("cannot watch for SIGHUP: {e}"))
}

/// Re-reads the files on every SIGHUP; a failed reload keeps the
/// certificate in service and logs an error. Runs until aborted.
pub async fn reload_on_hangup(
    files: CertFiles,
    store: Arc<CertStore>,
    mut hangup: tokio::signal::unix::Signal,
) {
    while hangup.recv().await.is_some() {
        match files.load() {
            Ok(cert) => {
                tracing::info!(
                    fingerprint_sha256 = %cert.fingerprint,
                    not_after = %cert.not_after_text(),
                    "SIGHUP: certificate files reloaded"
                );
                store.swap(cert, true);
            }
            Err(e) => tracing::error!(
                "SIGHUP: cannot reload the certificate ({e}); keeping the one in service"
            ),
        }
    }
}
