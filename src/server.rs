//! Starting and stopping everything: the composition root shared by
//! `main` and the in-process tests.

use crate::config::{Config, ListenIp};
use crate::http::privacy_page::PrivacyFacts;
use crate::http::{self, HttpState};
use crate::privacy::GateInputs;
use crate::sfu::{self, MediaSockets, SfuHandle, SfuStats};
use crate::signaling::Hub;
use crate::turn::{self, TurnService};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running funkraum.
pub struct Server {
    /// Where HTTP (and signaling at /ws) listens.
    pub http_addr: SocketAddr,
    /// The media addresses announced to browsers (one port).
    pub media_addrs: Vec<SocketAddr>,
    pub stats: Arc<SfuStats>,
    turn: Option<TurnService>,
    hub: Arc<Hub>,
    sfu: SfuHandle,
    http_shutdown: Option<oneshot::Sender<()>>,
    http_task: Option<JoinHandle<io::Result<()>>>,
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
        let listener = TcpListener::bind(config.http.listen).await.map_err(|e| {
            StartError(format!(
                "cannot listen for HTTP on {} (http.listen): {e}",
                config.http.listen
            ))
        })?;
        let http_addr = listener
            .local_addr()
            .map_err(|e| StartError(e.to_string()))?;
        let sockets = MediaSockets::bind(&config.media, http_addr.ip().is_loopback())
            .map_err(|e| StartError(format!("media (media.port): {e}")))?;
        let sfu = sfu::start(sockets)
            .map_err(|e| StartError(format!("cannot start the media thread: {e}")))?;
        let media_addrs = sfu.announced.clone();
        let turn = if config.turn.enabled {
            let settings = turn_settings(&config, http_addr, &media_addrs);
            let listen = settings.listen;
            Some(turn::start(settings).await.map_err(|e| {
                StartError(format!(
                    "cannot start TURN on {listen} (turn.address, turn.port): {e}"
                ))
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
            hub = hub.with_turn(t.issuer());
        }
        hub = hub.with_watchlist(gate.watchlist.clone());
        gate.own.add(http_addr.ip());
        for a in &media_addrs {
            gate.own.add(a.ip());
        }
        if let Some(t) = &turn {
            gate.own.add(t.udp_addr.ip());
        }
        let hub = Arc::new(hub);
        let app = http::router(Arc::new(HttpState {
            hub: hub.clone(),
            stats: sfu.stats.clone(),
            privacy: PrivacyFacts::from_config(&config),
            log_counters: gate.counters.clone(),
        }));
        let (http_shutdown, shutdown_rx) = oneshot::channel::<()>();
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let http_task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await
        });
        Ok(Server {
            http_addr,
            media_addrs,
            stats: sfu.stats.clone(),
            turn,
            hub,
            sfu,
            http_shutdown: Some(http_shutdown),
            http_task: Some(http_task),
        })
    }

    /// The built-in TURN server, if `turn.enabled`.
    pub fn turn(&self) -> Option<&TurnService> {
        self.turn.as_ref()
    }

    /// The addresses this server listens on and announces: not personal
    /// when they appear in a log line.
    pub fn own_addresses(&self) -> Vec<std::net::IpAddr> {
        let mut ips = vec![self.http_addr.ip()];
        ips.extend(self.media_addrs.iter().map(|a| a.ip()));
        if let Some(t) = &self.turn {
            ips.push(t.udp_addr.ip());
        }
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

    /// Stops accepting, ends the media thread. Open WebSockets are dropped.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.http_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.http_task.take() {
            // Graceful shutdown waits for open WebSockets; do not wait long.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
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
/// `http.listen`. In the zero-config start that is 127.0.0.1 — the server
/// is for a developer's own browser, only local pages can obtain
/// credentials, so listening on every interface would only expose a port
/// to the network for nobody's benefit. A server that serves its web page
/// to the network (http.listen on 0.0.0.0 or a public address) serves TURN
/// there too.
///
/// A server whose HTTP listener is on port 0 (tests) gets an ephemeral
/// TURN port too, so servers running side by side never collide.
pub fn turn_settings(
    config: &Config,
    http_addr: SocketAddr,
    media_addrs: &[SocketAddr],
) -> turn::Settings {
    let t = &config.turn;
    let ip = match t.address {
        ListenIp::Auto => http_addr.ip(),
        ListenIp::Ip(ip) => ip,
    };
    let port = if config.http.listen.port() == 0 {
        0
    } else {
        t.port
    };
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
    turn::Settings {
        listen: SocketAddr::new(ip, port),
        url_host: url_ip.to_string(),
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
