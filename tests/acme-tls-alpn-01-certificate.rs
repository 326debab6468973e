//! ACME with TLS-ALPN-01 (for hosts whose port 80 is closed): pebble
//! validates by a TLS handshake with ALPN acme-tls/1 on the daemon's HTTPS
//! port; the daemon runs no port-80 listener at all.

mod common;

use common::captured_logs;
use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{TempDir, client_with_roots, get};
use funkraum::Server;
use funkraum::config::AcmeChallenge;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_01_certificate_is_served_without_port_80() {
    let logs = captured_logs::capture();
    let https_port = free_port();
    let pebble = Pebble::start(PebbleOptions::new(free_port(), https_port)).await;
    let state = TempDir::new("acme-tls-alpn-01");
    let mut config = pebble.acme_config(state.path(), https_port, 0, &["localhost", "127.0.0.1"]);
    config.tls.http_listen = Vec::new();
    config.tls.acme_challenge = AcmeChallenge::TlsAlpn01;
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    assert!(server.redirect_addrs.is_empty());
    let store = server.certificates.clone().expect("TLS is on");

    pebble.wait_trusted(&store, 60, None).await;

    let root = pebble.issuing_root_pem().await;
    let trusting_pebble = client_with_roots(root.as_bytes());
    for name in ["localhost", "127.0.0.1"] {
        let r = get(server.http_addr, name, &trusting_pebble, "/healthz")
            .await
            .unwrap_or_else(|e| panic!("HTTPS to {name} with pebble's root: {e}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["tls"]["trusted"], true);
    }
    // Pebble's validation handshakes reached the daemon's HTTPS listener
    // (pebble does three per name).
    let answered = logs
        .text()
        .matches("answered an ACME TLS-ALPN-01 validation")
        .count();
    assert!(answered >= 2, "TLS-ALPN-01 handshakes answered: {answered}");
    assert!(!pebble.log().contains("validate w/ HTTP"));
    server.shutdown().await;
}
