//! TLS clients for the HTTPS tests: trusting a given root, or pinning a
//! fingerprint; HTTPS GET, WSS, and what certificate a server presents.
#![allow(dead_code)]

use funkraum::Server;
use funkraum::config::{Config, TlsMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A client that trusts only the certificates in `roots_pem`.
pub fn client_with_roots(roots_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots_pem) {
        roots.add(cert.expect("PEM root")).expect("usable root");
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A client that accepts exactly the certificate with this SHA-256
/// fingerprint (as the server shows it), whatever its issuer.
pub fn client_pinning(fingerprint: &str) -> Arc<ClientConfig> {
    pinned(Some(fingerprint.to_string()))
}

/// As [`client_pinning`], offering exactly `alpn` (nothing when empty).
pub fn client_pinning_alpn(fingerprint: &str, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = (*pinned(Some(fingerprint.to_string()))).clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A client that accepts any certificate: for looking at what is served.
pub fn client_accepting_any() -> Arc<ClientConfig> {
    pinned(None)
}

fn pinned(fingerprint: Option<String>) -> Arc<ClientConfig> {
    let provider = provider();
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            fingerprint,
            provider,
        }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[derive(Debug)]
struct Pinned {
    fingerprint: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.fingerprint {
            Some(pin) if *pin != fingerprint(end_entity) => Err(rustls::Error::General(
                "certificate does not match the pinned fingerprint".into(),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// SHA-256 of a DER certificate in the server's notation (AB:CD:…).
pub fn fingerprint(der: &[u8]) -> String {
    funkraum::tls::cert::fingerprint(der)
}

/// A TLS connection to `addr`, presenting `name` as SNI and checking the
/// certificate against it (a DNS name or an IP address).
pub async fn connect(
    addr: SocketAddr,
    name: &str,
    client: &Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    TlsConnector::from(client.clone()).connect(name, tcp).await
}

/// The chain the server at `addr` presents (leaf first).
pub async fn served_chain(
    addr: SocketAddr,
    name: &str,
    client: &Arc<ClientConfig>,
) -> std::io::Result<Vec<CertificateDer<'static>>> {
    let stream = connect(addr, name, client).await?;
    Ok(stream
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect())
}

/// The fingerprint of the certificate `server` has in service (TLS on).
pub fn current_fingerprint(server: &Server) -> String {
    server
        .certificates
        .as_ref()
        .expect("TLS is on")
        .current()
        .fingerprint
        .clone()
}

/// The fingerprint of the leaf the server at `addr` presents right now.
pub async fn served_fingerprint(addr: SocketAddr) -> String {
    let chain = served_chain(addr, "localhost", &client_accepting_any())
        .await
        .expect("TLS handshake");
    fingerprint(chain[0].as_ref())
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// An HTTPS GET (HTTP/1.1, `Connection: close`).
pub async fn get(
    addr: SocketAddr,
    name: &str,
    client: &Arc<ClientConfig>,
    path: &str,
) -> std::io::Result<Response> {
    let stream = connect(addr, name, client).await?;
    request(stream, name, path).await
}

/// A plain-HTTP GET with the given Host header.
pub async fn get_plain(addr: SocketAddr, host: &str, path: &str) -> std::io::Result<Response> {
    let stream = TcpStream::connect(addr).await?;
    request(stream, host, path).await
}

async fn request<S>(mut stream: S, host: &str, path: &str) -> std::io::Result<Response>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    // A peer that closes without close_notify is fine for these checks.
    if let Err(e) = stream.read_to_end(&mut raw).await
        && raw.is_empty()
    {
        return Err(e);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not HTTP: {text:?}"),
        )
    })?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

pub type Wss = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// A signaling WebSocket over TLS (`wss://name:port/ws`).
pub async fn websocket(addr: SocketAddr, name: &str, client: &Arc<ClientConfig>) -> Wss {
    let stream = connect(addr, name, client).await.expect("TLS to /ws");
    let url = format!("wss://{name}:{}/ws", addr.port());
    let (ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("WebSocket upgrade over TLS");
    ws
}

/// A directory under the system's temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "funkraum-{label}-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A configuration on loopback with TLS in `mode`: HTTPS on `https_port`
/// and the port-80 listener on `http_port` (0: any free port), media on
/// 127.0.0.1, state in `state_dir`, TURN off.
pub fn tls_config(mode: TlsMode, state_dir: &Path, https_port: u16, http_port: u16) -> Config {
    let mut config = Config::default();
    config.media.port = 0;
    config.media.addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    config.tls.mode = mode;
    config.tls.state_dir = state_dir.to_owned();
    config.tls.https_listen = vec![(Ipv4Addr::LOCALHOST, https_port).into()];
    config.tls.http_listen = vec![(Ipv4Addr::LOCALHOST, http_port).into()];
    // Off unless a test is about it: with a fixed HTTPS port TURN would
    // take its fixed port 3478.
    config.turn.enabled = false;
    config
}

/// Polls `check` every 100 ms until it holds (`Ok`) or `secs` pass (`Err`).
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        if std::time::Instant::now() > deadline {
            return Err(format!("waited {secs} s in vain for {what}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
