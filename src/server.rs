//! Starting and stopping everything: the composition root shared by
//! `main` and the in-process tests.

use crate::config::{Config, ListenIp, TlsMode};
use crate::http::privacy_page::PrivacyFacts;
use crate::http::{self, HttpState};
use crate::privacy::GateInputs;
use crate::sfu::{self, MediaSockets, SfuHandle, SfuStats};
use crate::signaling::Hub;
use crate::tls::{self, CertStore, ConnectionHandler, FirstBytes, Tls, TlsConnection};
use crate::turn::{self, TurnService};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the daemon prints on stdout, followed by its URL, once it serves.
pub const SERVING: &str = "funkraum serving ";

/// Reads a starting daemon's stdout on a thread of its own and hands over
/// the URL of its [`SERVING`] line (e.g. `http://127.0.0.1:8080`): for the
/// programs that start the daemon and wait for it (the test harness, the
/// load generator).
pub fn watch_for_serving(
    stdout: impl std::io::Read + Send + 'static,
) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix(SERVING) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    rx
}

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
    turn: Option<TurnService>,
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
        Server::start_with(config, GateInputs::default()).await
    }

    /// Like `start`, keeping the logging gate's inputs up to date: the
    /// server's own addresses and the personal strings in memory.
    pub async fn start_with(config: Config, gate: GateInputs) -> Result<Server, StartError> {
        let tls_on = config.tls.mode != TlsMode::Off;
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

        let sfu_config = sfu::SfuConfig {
            last_n: config.rooms.last_n,
        };
        let sfu = sfu::start(sockets, sfu_config)
            .map_err(|e| StartError(format!("cannot start the media threads: {e}")))?;
        let media_addrs = sfu.announced.clone();
        let turn = if config.turn.enabled {
            let settings = turn_settings(&config, http_addr, &media_addrs);
            Some(turn::start(settings).await.map_err(|e| {
                StartError(format!("cannot start TURN (turn.address, turn.port): {e}"))
            })?)
        } else {
            None
        };
        let mut hub = Hub::new(
            config.limits.clone(),
            config.signaling.clone(),
            config.rooms.clone(),
            sfu.commands(),
            Vec::new(),
        );
        if let Some(t) = &turn {
            hub = hub.with_turn(t.issuer(), config.turn.force_relay);
        }
        hub = hub.with_watchlist(gate.watchlist.clone());
        // The addresses this server listens on and announces are not
        // personal when they appear in a log line.
        let web = [http_addr];
        let own = web
            .iter()
            .chain(&https_addrs)
            .chain(&redirect_addrs)
            .chain(&media_addrs)
            .chain(turn.iter().flat_map(|t| &t.listen_addrs));
        for a in own {
            gate.own.add(a.ip());
        }
        let hub = Arc::new(hub);
        let app = http::router(Arc::new(HttpState {
            hub: hub.clone(),
            stats: sfu.stats.clone(),
            privacy: PrivacyFacts::from_config(&config),
            log_counters: gate.counters.clone(),
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
            let handler = Arc::new(Connections {
                app,
                turn: turn.as_ref().map(TurnService::stream_server),
            });
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
            turn,
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

    /// The built-in TURN server, if `turn.enabled`.
    pub fn turn(&self) -> Option<&TurnService> {
        self.turn.as_ref()
    }

    /// What the service watchdog asks before it tells systemd all is well.
    pub fn health_probe(&self) -> sfu::HealthProbe {
        self.sfu.health_probe()
    }

    /// (rooms, participants) right now.
    pub fn counts(&self) -> (usize, usize) {
        self.hub.counts()
    }

    /// Stops accepting, ends the media threads and the certificate source.
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
        if let Some(turn) = self.turn.take() {
            turn.stop();
        }
        self.sfu.stop();
    }
}

/// The TURN server's settings: the `[turn]` section plus what the HTTP
/// listener and the SFU bound.
///
/// Where TURN listens with `turn.address = "auto"`: on the IP of
/// `http.listen` while TLS is off, else on every IP of `tls.https_listen`.
/// In the zero-config start that is 127.0.0.1 — the server is for a
/// developer's own browser, only local pages can obtain credentials, so
/// listening on every interface would only expose a port to the network
/// for nobody's benefit. A server that serves its web page to the network
/// serves TURN there too: with the default `https_listen` on `0.0.0.0` and
/// `::`, over IPv4 and IPv6 (a name with an AAAA record sends browsers to
/// TURN over IPv6 as well).
///
/// A server whose web listener (`http.listen`, or the first
/// `tls.https_listen` with TLS on) is on port 0 (tests) gets an ephemeral
/// TURN port too, so servers running side by side never collide.
pub fn turn_settings(
    config: &Config,
    http_addr: SocketAddr,
    media_addrs: &[SocketAddr],
) -> turn::Settings {
    let t = &config.turn;
    let candidates = match (t.address, config.tls.mode) {
        (ListenIp::Ip(ip), _) => vec![ip],
        (ListenIp::Auto, TlsMode::Off) => vec![http_addr.ip()],
        (ListenIp::Auto, _) => config.tls.https_listen.iter().map(|a| a.ip()).collect(),
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in candidates {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if ips.is_empty() {
        ips.push(http_addr.ip());
    }
    let ip = ips[0];
    let web_port = match config.tls.mode {
        TlsMode::Off => config.http.listen.port(),
        _ => config.tls.https_listen.first().map_or(0, SocketAddr::port),
    };
    let port = if web_port == 0 { 0 } else { t.port };
    // The relay talks to the SFU: it lives on the first media address
    // (the host's public address in production, loopback in development).
    let relay_announced = media_addrs
        .first()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let local = turn::host_addresses();
    let relay_bind = if local.contains(&relay_announced) {
        relay_announced
    } else if relay_announced.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    // Browsers need an address they can reach: the listening IP, or when
    // that is a wildcard, the first address announced for media.
    let url_ip = if ip.is_unspecified() {
        relay_announced
    } else {
        ip
    };
    // With a certificate browsers trust, its name serves both the `turn:`
    // URLs and TURN over TLS on the HTTPS port (for networks that let only
    // TCP 443 out). A self-signed certificate would be refused for TURNS.
    let trusted_name = match config.tls.mode {
        TlsMode::Acme | TlsMode::Files => config
            .tls
            .domains
            .iter()
            .find(|d| d.parse::<IpAddr>().is_err())
            .cloned(),
        TlsMode::Off | TlsMode::SelfSigned => None,
    };
    let https_port = config
        .tls
        .https_listen
        .first()
        .map_or(443, SocketAddr::port);
    let tls_url = trusted_name
        .as_ref()
        .map(|name| format!("turns:{name}:{https_port}?transport=tcp"));
    let url_host = trusted_name.unwrap_or_else(|| url_ip.to_string());
    turn::Settings {
        listen: ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect(),
        url_host,
        tls_url,
        relay_announced,
        relay_bind,
        relay_ports: (t.relay_port_min, t.relay_port_max),
        media: media_addrs.to_vec(),
        // Two participants talking peer to peer may need to relay to each
        // other's public addresses; without it, only to the SFU.
        p2p: config.rooms.p2p,
        credential_lifetime: std::time::Duration::from_secs(t.credential_lifetime_secs),
        max_credentials: config.limits.max_participants as usize,
        limits: turn::Limits {
            max_allocations: t.max_allocations as usize,
            max_allocations_per_credential: t.max_allocations_per_credential as usize,
            bytes_per_second: t.allocation_bytes_per_second,
        },
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
/// This is where HTTPS and TURN over TLS share port 443. A client that
/// agreed `h2` or `http/1.1` by ALPN is a browser loading pages or opening
/// signaling; one that agreed `stun.turn` (RFC 7443) is a TURN client. Any
/// other is sniffed by its first bytes — both HTTP and STUN clients speak
/// first, and browsers' TURN-over-TLS clients send no ALPN: a STUN message
/// goes to the TURN server with the bytes already read, anything that
/// starts like an HTTP request to the router.
struct Connections {
    app: axum::Router,
    /// `None` while `turn.enabled` is off: STUN on 443 is then closed.
    turn: Option<turn::StreamServer>,
}

/// How long a TLS client without ALPN may stay silent before its first
/// bytes.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(30);

impl ConnectionHandler for Connections {
    async fn handle(&self, connection: TlsConnection) {
        let TlsConnection {
            stream,
            peer,
            local,
            alpn,
        } = connection;
        let peer_addr = peer.expose_personal();
        match alpn.as_deref() {
            Some(b"h2" | b"http/1.1") => {
                return http::serve_connection(stream, peer_addr, self.app.clone()).await;
            }
            Some(tls::listener::STUN_TURN_ALPN) => {
                return self.serve_turn(stream, peer_addr, local, Vec::new()).await;
            }
            _ => {}
        }
        match tls::listener::sniff(stream, FIRST_BYTES_TIMEOUT).await {
            Ok((FirstBytes::Http, stream)) => {
                http::serve_connection(stream, peer_addr, self.app.clone()).await;
            }
            Ok((FirstBytes::Stun, stream)) => {
                let (stream, already_read) = stream.into_parts();
                self.serve_turn(stream, peer_addr, local, already_read)
                    .await;
            }
            Ok((FirstBytes::Other, _)) => {
                tracing::debug!(%peer, "closed a TLS connection speaking neither HTTP nor STUN");
            }
            Err(e) => tracing::debug!(%peer, "no first bytes on a TLS connection: {e}"),
        }
    }
}

impl Connections {
    async fn serve_turn<S>(&self, stream: S, peer: SocketAddr, local: SocketAddr, read: Vec<u8>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        match &self.turn {
            Some(turn) => turn.serve(stream, peer, local, read).await,
            None => tracing::debug!("TURN over TLS refused: turn.enabled is off"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_for(mode: TlsMode, domains: &[&str]) -> turn::Settings {
        let mut config = Config::default();
        config.tls.mode = mode;
        config.tls.domains = domains.iter().map(|d| d.to_string()).collect();
        let media = ["192.0.2.10:10000".parse().unwrap()];
        turn_settings(&config, "0.0.0.0:443".parse().unwrap(), &media)
    }

    #[test]
    fn a_trusted_name_gets_turns_on_the_https_port() {
        let s = settings_for(TlsMode::Acme, &["192.0.2.10", "meet.example"]);
        assert_eq!(s.url_host, "meet.example");
        assert_eq!(
            s.tls_url.as_deref(),
            Some("turns:meet.example:443?transport=tcp")
        );
    }

    #[test]
    fn auto_listens_on_both_families_of_the_default_https_listen() {
        let s = settings_for(TlsMode::SelfSigned, &[]);
        let want: Vec<SocketAddr> = vec![
            "0.0.0.0:3478".parse().unwrap(),
            "[::]:3478".parse().unwrap(),
        ];
        assert_eq!(s.listen, want);
        let s = settings_for(TlsMode::Acme, &["meet.example"]);
        assert_eq!(
            s.listen, want,
            "a name with an AAAA record reaches TURN too"
        );
    }

    #[test]
    fn auto_without_tls_follows_http_listen_and_an_address_is_taken_as_is() {
        let mut config = Config::default();
        let media = ["192.0.2.10:10000".parse().unwrap()];
        let s = turn_settings(&config, "127.0.0.1:8080".parse().unwrap(), &media);
        assert_eq!(s.listen, vec!["127.0.0.1:3478".parse().unwrap()]);
        config.tls.mode = TlsMode::SelfSigned;
        config.turn.address = ListenIp::Ip("192.0.2.10".parse().unwrap());
        let s = turn_settings(&config, "0.0.0.0:443".parse().unwrap(), &media);
        assert_eq!(s.listen, vec!["192.0.2.10:3478".parse().unwrap()]);
    }

    #[test]
    fn self_signed_and_plain_get_no_turns() {
        let s = settings_for(TlsMode::SelfSigned, &["meet.example"]);
        assert_eq!(
            s.tls_url, None,
            "browsers refuse TURNS with a self-signed certificate"
        );
        assert_eq!(s.url_host, "192.0.2.10", "the announced media address");
        let s = settings_for(TlsMode::Off, &[]);
        assert_eq!(s.tls_url, None);
    }
}
