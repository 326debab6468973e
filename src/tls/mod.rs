//! TLS: where the certificate comes from, and the HTTPS accept loop.
//!
//! Certificate sources (`tls.mode`):
//! - **acme**: ordered from an ACME CA ([`acme`]), stored in the state
//!   directory, renewed by a task; until the first one arrives a self-signed
//!   stand-in is served (without HSTS).
//! - **self-signed**: made here with rcgen ([`self_signed`]), stored, made
//!   anew when the names change.
//! - **files**: PEM files ([`files`]), re-read on SIGHUP.
//!
//! Every source puts its certificate into one [`CertStore`], which rustls
//! asks at each handshake, so a new certificate takes effect for new
//! connections while open ones (WebSockets in a running conference) go on.
//! TLS 1.2 and 1.3 only, with aws-lc-rs, the crypto library str0m uses.
//! [`listener`] is the accept loop and the seam to what runs inside TLS.

pub mod acme;
pub mod cert;
pub mod files;
pub mod listener;
pub mod schedule;
pub mod self_signed;
pub mod state;
pub mod store;

pub use cert::Certificate;
pub use listener::{ConnectionHandler, FirstBytes, Rewind, TlsConnection};
pub use store::{CertStore, TlsStatus};

use crate::config::{AcmeChallenge, TlsConfig, TlsMode};
use rustls::ServerConfig;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A started certificate source: the store the listeners use, the rustls
/// configuration built on it, and the task that keeps it fresh (ACME
/// renewal, SIGHUP reload).
pub struct Tls {
    pub store: Arc<CertStore>,
    pub server_config: Arc<ServerConfig>,
    task: Option<JoinHandle<()>>,
}

impl Tls {
    /// Loads or makes the first certificate and starts the source's task.
    /// `addresses` are the media addresses, which a self-signed certificate
    /// covers too. `None` when TLS is off. Call after the listeners are
    /// bound, so a CA's validation finds them.
    pub fn start(config: &TlsConfig, addresses: &[IpAddr]) -> Result<Option<Tls>, String> {
        // instant-acme's HTTPS client uses the process-wide provider; make
        // it aws-lc-rs whatever else is linked in.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (store, task) = match config.mode {
            TlsMode::Off => return Ok(None),
            TlsMode::SelfSigned => {
                let dir = state::StateDir::open(&config.state_dir)
                    .and_then(|d| d.sub("self-signed"))
                    .map_err(|e| state_error(config, e))?;
                let names = self_signed::names(&config.domains, addresses);
                let cert = self_signed::load_or_make(&dir, &names)?;
                (Arc::new(CertStore::new(config.mode, cert, false)), None)
            }
            TlsMode::Files => {
                let files = files::CertFiles {
                    cert: config.cert_file.clone(),
                    key: config.key_file.clone(),
                };
                let cert = files.load()?;
                let store = Arc::new(CertStore::new(config.mode, cert, true));
                let hangup = files::watch_hangup()?;
                let task = tokio::spawn(files::reload_on_hangup(files, store.clone(), hangup));
                (store, Some(task))
            }
            TlsMode::Acme => {
                let settings = acme::AcmeSettings::from_config(config);
                let dir = state::StateDir::open(&config.state_dir)
                    .and_then(|d| d.sub("acme"))
                    .and_then(|d| d.sub(&settings.state_name()))
                    .map_err(|e| state_error(config, e))?;
                let store = Arc::new(match acme::load_stored(&dir, &settings) {
                    Some(cert) => CertStore::new(config.mode, cert, true),
                    None => {
                        CertStore::new(config.mode, self_signed::ephemeral(&settings.names)?, false)
                    }
                });
                let task = tokio::spawn(acme::run(settings, dir, store.clone()));
                (store, Some(task))
            }
        };
        let server_config = server_config(store.clone(), config)?;
        Ok(Some(Tls {
            store,
            server_config,
            task,
        }))
    }

    /// Ends the certificate source's task.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        self.stop();
    }
}

fn state_error(config: &TlsConfig, e: std::io::Error) -> String {
    format!("tls.state_dir {}: {e}", config.state_dir.display())
}

/// rustls for the HTTPS listeners: TLS 1.3 and 1.2, aws-lc-rs, the store
/// choosing the certificate, ALPN h2, http/1.1 and stun.turn (plus
/// acme-tls/1 when TLS-ALPN-01 validation is configured).
fn server_config(store: Arc<CertStore>, config: &TlsConfig) -> Result<Arc<ServerConfig>, String> {
    let mut server = ServerConfig::builder_with_provider(cert::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    // A client offering ALPN but none of these fails the handshake, so
    // TURN clients that name `stun.turn` are accepted too (the connection
    // handler routes them).
    server.alpn_protocols = vec![
        b"h2".to_vec(),
        b"http/1.1".to_vec(),
        listener::STUN_TURN_ALPN.to_vec(),
    ];
    if config.mode == TlsMode::Acme && config.acme_challenge == AcmeChallenge::TlsAlpn01 {
        server.alpn_protocols.push(store::ACME_TLS_ALPN.to_vec());
    }
    Ok(Arc::new(server))
}
