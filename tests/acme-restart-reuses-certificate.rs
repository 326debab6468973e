//! A restart serves the stored ACME certificate at once, without asking the
//! CA (Let's Encrypt rate-limits new certificates): here the CA is gone by
//! the time the daemon starts again. A restart with a new name keeps serving
//! the old certificate while it orders one for all names — even when the CA
//! has forgotten the stored account meanwhile.

mod common;

use common::captured_logs;
use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{TempDir, client_with_roots, get, wait_until};
use funkraum::Server;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_serves_the_stored_certificate_without_the_ca() {
    let logs = captured_logs::capture();
    let http_port = free_port();
    let mut options = PebbleOptions::new(http_port, free_port());
    options.listen_port = free_port();
    let mut pebble = Pebble::prepare(options);
    pebble.run().await;
    let state = TempDir::new("acme-restart");
    let mut config = pebble.acme_config(state.path(), 0, http_port, &["localhost"]);
    config.tls.acme_retry_secs = 1;
    config.validate().expect("valid test configuration");

    let server = Server::start(config.clone()).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");
    pebble.wait_trusted(&store, 60, None).await;
    let issued = store.current().fingerprint.clone();
    let root = pebble.issuing_root_pem().await;
    server.shutdown().await;
    pebble.stop();

    let server = Server::start(config.clone())
        .await
        .expect("server starts again");
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

    // The CA is back, but as a fresh pebble: new root, no accounts. A new
    // name is configured.
    pebble.run().await;
    config.tls.domains.push("127.0.0.1".into());
    let server = Server::start(config)
        .await
        .expect("server starts with a new name");
    let store = server.certificates.clone().expect("TLS is on");
    assert!(store.trusted(), "the old certificate serves meanwhile");
    assert_eq!(store.current().fingerprint, issued);
    let names = ["localhost".to_string(), "127.0.0.1".to_string()];
    wait_until(30, "a certificate for both names", || {
        let store = store.clone();
        let names = names.clone();
        async move { store.current().covers(&names) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\npebble log:\n{}", pebble.log()));
    assert!(
        logs.text()
            .contains("the CA does not know the stored account; a new one will be created"),
        "{}",
        logs.text()
    );
    let client = client_with_roots(pebble.issuing_root_pem().await.as_bytes());
    for name in &names {
        get(server.http_addr, name, &client, "/healthz")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    server.shutdown().await;
}
