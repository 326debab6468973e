//! Starting and stopping everything: the composition root shared by
//! `main` and the in-process tests.

use crate::config::Config;
use crate::http::privacy_page::PrivacyFacts;
use crate::http::{self, HttpState};
use crate::sfu::{self, MediaSockets, SfuHandle, SfuStats};
use crate::signaling::Hub;
use crate::tls::{self, CertStore, ConnectionHandler, FirstBytes, Tls, TlsConnection};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running funkraum.
pub struct Server {
    /// Where the web client and signaling (`/ws`) are served: plain HTTP on
    /// `http.listen` while TLS is off, else HTTPS on the first
    /// `tls.https_listen` address.
    pub http_addr: SocketAddr,
    /// Every HTTPS listener (empty while TLS is off).
    pub https_addrs: Vec<SocketAddr>,
    /// The plain-HTTP listeners that only redirect to HTTPS and answer ACME
    /// challenges (`tls.http_listen`; empty while TLS is off).
    pub redirect_addrs: Vec<SocketAddr>,
    /// The media addresses announced to browsers (one port).
    pub media_addrs: Vec<SocketAddr>,
    pub stats: Arc<SfuStats>,
    /// The certificate in service (`None` while TLS is off).
    pub certificates: Option<Arc<CertStore>>,
    hub: Arc<Hub>,
    sfu: SfuHandle,
    tls: Option<Tls>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl Server {
    /// Binds every socket and starts serving. Must run inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let tls_on = config.tls.mode != crate::config::TlsMode::Off;
        // Every listener is bound before anything starts, so a port in use
        // stops the start with the key to change.
        let mut plain = None;
        let mut https = Vec::new();
        let mut redirect = Vec::new();
        if tls_on {
            for addr in &config.tls.https_listen {
                https.push(bind(*addr, "HTTPS", "tls.https_listen")?);
            }
            for addr in &config.tls.http_listen {
                redirect.push(bind(*addr, "HTTP", "tls.http_listen")?);
            }
        } else {
            plain = Some(bind(config.http.listen, "HTTP", "http.listen")?);
        }
        let local = |l: &TcpListener| l.local_addr().map_err(|e| StartError(e.to_string()));
        let https_addrs = https.iter().map(local).collect::<Result<Vec<_>, _>>()?;
        let redirect_addrs = redirect.iter().map(local).collect::<Result<Vec<_>, _>>()?;
        let http_addr = match &plain {
            Some(l) => local(l)?,
            None => https_addrs[0],
        };

        let sockets = MediaSockets::bind(&config.media, http_addr.ip().is_loopback())
            .map_err(|e| StartError(format!("media (media.port): {e}")))?;
        let media_ips: Vec<_> = sockets.announced.iter().map(SocketAddr::ip).collect();
        let tls = Tls::start(&config.tls, &media_ips).map_err(StartError)?;
        let certificates = tls.as_ref().map(|t| t.store.clone());

        let sfu = sfu::start(sockets)
            .map_err(|e| StartError(format!("cannot start the media thread: {e}")))?;
        let media_addrs = sfu.announced.clone();
        let hub = Arc::new(Hub::new(
            config.limits.clone(),
            config.signaling.clone(),
            sfu.commands(),
            Vec::new(),
        ));
        let app = http::router(Arc::new(HttpState {
            hub: hub.clone(),
            stats: sfu.stats.clone(),
            privacy: PrivacyFacts::from_config(&config),
            tls: certificates.clone(),
        }));

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(listener) = plain {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let mut stop = shutdown_rx.clone();
            tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, service)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!("HTTP listener failed: {e}");
                }
            }));
        } else if let (Some(tls), Some(store)) = (&tls, &certificates) {
            let hsts_store = store.clone();
            let app = http::with_hsts(app, move || hsts_store.trusted());
            let handler = Arc::new(Connections { app });
            for listener in https {
                tasks.push(tokio::spawn(tls::listener::serve(
                    listener,
                    tls.server_config.clone(),
                    handler.clone(),
                    shutdown_rx.clone(),
                )));
            }
            let redirect_app = http::redirect_router(store.clone(), http_addr.port());
            for listener in redirect {
                let mut stop = shutdown_rx.clone();
                let app = redirect_app.clone();
                tasks.push(tokio::spawn(async move {
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await;
                    if let Err(e) = served {
                        tracing::error!("HTTP redirect listener failed: {e}");
                    }
                }));
            }
            let status = store.status();
            tracing::info!(
                mode = status.mode,
                fingerprint_sha256 = %status.fingerprint_sha256,
                not_after = %status.not_after,
                trusted = status.trusted,
                "TLS certificate in service"
            );
        }
        Ok(Server {
            http_addr,
            https_addrs,
            redirect_addrs,
            media_addrs,
            stats: sfu.stats.clone(),
            certificates,
            hub,
            sfu,
            tls,
            shutdown,
            tasks,
        })
    }

    /// The address to open in a browser: `http://…` or `https://…`.
    pub fn url(&self) -> String {
        let scheme = if self.https_addrs.is_empty() {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.http_addr)
    }

    /// The addresses this server listens on and announces: not personal
    /// when they appear in a log line.
    pub fn own_addresses(&self) -> Vec<std::net::IpAddr> {
        let mut ips = vec![self.http_addr.ip()];
        ips.extend(self.https_addrs.iter().map(|a| a.ip()));
        ips.extend(self.redirect_addrs.iter().map(|a| a.ip()));
        ips.extend(self.media_addrs.iter().map(|a| a.ip()));
        ips
    }

    /// What the service watchdog asks before it tells systemd all is well.
    pub fn health_probe(&self) -> sfu::HealthProbe {
        self.sfu.health_probe()
    }

    /// (rooms, participants) right now.
    pub fn counts(&self) -> (usize, usize) {
        self.hub.counts()
    }

    /// Stops accepting, ends the media thread and the certificate source.
    /// Open WebSockets are dropped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(tls) = &mut self.tls {
            tls.stop();
        }
        for task in self.tasks.drain(..) {
            // Graceful shutdown waits for open WebSockets; do not wait long.
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::debug!("a listener did not stop within 2 s");
            }
        }
        self.sfu.stop();
    }
}

/// Binds a TCP listener. IPv6 addresses are bound IPv6-only, so a list can
/// hold `0.0.0.0:443` and `[::]:443` side by side.
fn bind(addr: SocketAddr, what: &str, key: &str) -> Result<TcpListener, StartError> {
    let bound = (|| -> io::Result<TcpListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    })();
    bound.map_err(|e| StartError(format!("cannot listen for {what} on {addr} ({key}): {e}")))
}

/// What runs inside an HTTPS connection once its TLS handshake is done.
///
/// This is the seam for TURN over TLS on port 443: a client that agreed
/// `h2` or `http/1.1` by ALPN is a browser; any other is sniffed by its
/// first bytes (both HTTP and STUN clients speak first). A STUN message is
/// a TURN client (browsers send no ALPN for TURNS), and is to be handed —
/// with the bytes already read, via `Rewind` — to the TURN server here.
struct Connections {
    app: axum::Router,
}

/// How long an HTTPS client without ALPN may stay silent before its first
/// bytes.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(30);

impl ConnectionHandler for Connections {
    async fn handle(&self, connection: TlsConnection) {
        let TlsConnection { stream, peer, alpn } = connection;
        let peer_addr = peer.expose_personal();
        if matches!(alpn.as_deref(), Some(b"h2" | b"http/1.1")) {
            http::serve_connection(stream, peer_addr, self.app.clone()).await;
            return;
        }
        match tls::listener::sniff(stream, FIRST_BYTES_TIMEOUT).await {
            Ok((FirstBytes::Http, stream)) => {
                http::serve_connection(stream, peer_addr, self.app.clone()).await;
            }
            Ok((FirstBytes::Stun, _stream)) => {
                // No TURN server yet: close.
                tracing::debug!(%peer, "STUN over TLS refused: TURN is not built in yet");
            }
            Ok((FirstBytes::Other, _)) => {
                tracing::debug!(%peer, "closed a TLS connection speaking neither HTTP nor STUN");
            }
            Err(e) => tracing::debug!(%peer, "no first bytes on a TLS connection: {e}"),
        }
    }
}
