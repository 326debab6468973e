//! Starting and stopping everything: the composition root shared by
//! `main` and the in-process tests.

use crate::config::Config;
use crate::http::privacy_page::PrivacyFacts;
use crate::http::{self, HttpState};
use crate::sfu::{self, MediaSockets, SfuHandle, SfuStats};
use crate::signaling::Hub;
use std::io;
use std::net::SocketAddr;
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
            hub,
            sfu,
            http_shutdown: Some(http_shutdown),
            http_task: Some(http_task),
        })
    }

    /// The addresses this server listens on and announces: not personal
    /// when they appear in a log line.
    pub fn own_addresses(&self) -> Vec<std::net::IpAddr> {
        let mut ips = vec![self.http_addr.ip()];
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

    /// Stops accepting, ends the media thread. Open WebSockets are dropped.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.http_shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.http_task.take() {
            // Graceful shutdown waits for open WebSockets; do not wait long.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
        }
        self.sfu.stop();
    }
}
