//! Renewal swaps the certificate under running conferences: with pebble
//! issuing certificates valid for seconds, the daemon renews on its own
//! (two thirds into the lifetime); a WebSocket opened before the swap keeps
//! working, and new connections get the new certificate.

mod common;

use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{
    TempDir, client_with_roots, get, served_chain, tls_config, wait_until, websocket,
};
use funkraum::Server;
use funkraum::config::TlsMode;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Lifetime of pebble's certificates here: renewal comes after about 6 s.
const VALIDITY_SECS: u64 = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_certificate_is_swapped_in_under_an_open_websocket() {
    let http_port = free_port();
    let mut options = PebbleOptions::new(http_port, free_port());
    options.validity_secs = Some(VALIDITY_SECS);
    let pebble = Pebble::start(options).await;
    let state = TempDir::new("acme-renewal");
    let mut config = tls_config(TlsMode::Acme, state.path(), 0, http_port);
    config.tls.domains = vec!["localhost".into()];
    config.tls.acme_directory = pebble.directory_url.clone();
    config.tls.acme_directory_ca_file = pebble.listener_ca_file.clone();
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");
    wait_until(60, "the first certificate", || {
        let store = store.clone();
        async move { store.trusted() }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\npebble log:\n{}", pebble.log()));
    let first = store.current();
    let lifetime = first.not_after.duration_since(first.not_before).unwrap();
    assert!(
        lifetime <= Duration::from_secs(VALIDITY_SECS),
        "{lifetime:?}"
    );

    let root = pebble.issuing_root_pem().await;
    let client = client_with_roots(root.as_bytes());
    let chain = served_chain(server.http_addr, "localhost", &client)
        .await
        .unwrap();
    assert_eq!(
        common::tls::fingerprint(chain[0].as_ref()),
        first.fingerprint
    );

    // A participant in a conference, over WSS with the first certificate.
    let mut ws = websocket(server.http_addr, "localhost", &client).await;
    ws.send(Message::text(
        r#"{"type":"join","version":1,"room":"renewal","nickname":"Ada"}"#,
    ))
    .await
    .unwrap();
    let joined = next_json(&mut ws).await;
    assert_eq!(joined["type"], "joined", "{joined}");

    // New connections see a new certificate once the daemon has renewed.
    wait_until(30, "a renewed certificate on new connections", || {
        let client = client.clone();
        let addr = server.http_addr;
        let old = first.fingerprint.clone();
        async move {
            match served_chain(addr, "localhost", &client).await {
                Ok(chain) => common::tls::fingerprint(chain[0].as_ref()) != old,
                Err(_) => false,
            }
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\npebble log:\n{}", pebble.log()));
    let renewed = store.current();
    assert!(renewed.not_after > first.not_after);
    let r = get(server.http_addr, "localhost", &client, "/healthz")
        .await
        .expect("new connection verifies against pebble's root");
    let health = r.json();
    assert_ne!(
        health["tls"]["fingerprint_sha256"],
        first.fingerprint.as_str()
    );
    assert_eq!(health["tls"]["acme_failures"], 0);
    assert_eq!(health["participants"], 1, "the participant is still in");

    // The WebSocket from before the swap still carries signaling.
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong", "{pong}");
    assert_eq!(server.counts(), (1, 1));
    ws.close(None).await.ok();
    server.shutdown().await;
}

async fn next_json(ws: &mut common::tls::Wss) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the WebSocket is open")
            .expect("a WebSocket message");
        if let Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            // The server may ping on its own and tells, soon after
            // `joined`, whose video it forwards; this test waits for answers.
            if value["type"] != "ping" && value["type"] != "videoForwarded" {
                return value;
            }
        }
    }
}
