//! Starting a funkraum in-process, on loopback only.

use funkraum::{Config, Server};
use std::net::{IpAddr, Ipv4Addr};

/// The default configuration, moved onto loopback with ports the kernel picks:
/// HTTP on 127.0.0.1:0, media on one UDP port announced as 127.0.0.1.
pub fn test_config() -> Config {
    let mut config = Config::default();
    config.http.listen = (Ipv4Addr::LOCALHOST, 0).into();
    config.media.port = 0;
    config.media.addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    config.validate().expect("the test configuration is valid");
    config
}

/// Starts a server with `config` (validated first, as `main` would).
pub async fn start(config: Config) -> Server {
    config
        .validate()
        .unwrap_or_else(|e| panic!("test configuration refused: {e}"));
    Server::start(config)
        .await
        .unwrap_or_else(|e| panic!("server did not start: {e}"))
}

/// Starts a server with [`test_config`].
pub async fn start_default() -> Server {
    start(test_config()).await
}

/// The signaling URL of a running server.
pub fn ws_url(server: &Server) -> String {
    format!("ws://{}/ws", server.http_addr)
}
