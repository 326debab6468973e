//! A restart serves the stored ACME certificate at once, without asking the
//! CA (Let's Encrypt rate-limits new certificates): here the CA is gone by
//! the time the daemon starts again.

mod common;

use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{TempDir, client_with_roots, get, tls_config, wait_until};
use funkraum::Server;
use funkraum::config::TlsMode;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_serves_the_stored_certificate_without_the_ca() {
    let http_port = free_port();
    let mut pebble = Pebble::start(PebbleOptions::new(http_port, free_port())).await;
    let state = TempDir::new("acme-restart");
    let mut config = tls_config(TlsMode::Acme, state.path(), 0, http_port);
    config.tls.domains = vec!["localhost".into()];
    config.tls.acme_directory = pebble.directory_url.clone();
    config.tls.acme_directory_ca_file = pebble.listener_ca_file.clone();
    config.tls.acme_retry_secs = 1;
    config.validate().expect("valid test configuration");

    let server = Server::start(config.clone()).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");
    wait_until(60, "a certificate from pebble", || {
        let store = store.clone();
        async move { store.trusted() }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\npebble log:\n{}", pebble.log()));
    let issued = store.current().fingerprint.clone();
    let root = pebble.issuing_root_pem().await;
    server.shutdown().await;
    pebble.stop();

    let server = Server::start(config).await.expect("server starts again");
    let store = server.certificates.clone().expect("TLS is on");
    assert!(
        store.trusted(),
        "the stored certificate is in service from the start"
    );
    assert_eq!(store.current().fingerprint, issued);
    let client = client_with_roots(root.as_bytes());
    let r = get(server.http_addr, "localhost", &client, "/healthz")
        .await
        .expect("the stored chain verifies against pebble's root");
    assert_eq!(r.json()["tls"]["fingerprint_sha256"], issued.as_str());
    // Far from renewal (pebble issues for years): the daemon does not try
    // the CA, so nothing fails.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        get(server.http_addr, "localhost", &client, "/healthz")
            .await
            .unwrap()
            .json()["tls"]["acme_failures"],
        0
    );
    server.shutdown().await;
}
