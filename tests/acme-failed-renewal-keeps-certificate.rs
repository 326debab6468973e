//! A renewal that fails (the CA went away) keeps the certificate in service,
//! logs an error, and retries with backoff; nothing crashes.

mod common;

use common::captured_logs;
use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{TempDir, client_with_roots, get, wait_until};
use funkraum::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_renewal_keeps_serving_the_old_certificate() {
    let logs = captured_logs::capture();
    let http_port = free_port();
    let mut options = PebbleOptions::new(http_port, free_port());
    // Renewal falls due about 8 s after issue.
    options.validity_secs = Some(12);
    let mut pebble = Pebble::start(options).await;
    let state = TempDir::new("acme-failed-renewal");
    let mut config = pebble.acme_config(state.path(), 0, http_port, &["localhost"]);
    config.tls.acme_retry_secs = 1;
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");
    pebble.wait_trusted(&store, 60, None).await;
    let issued = store.current().fingerprint.clone();
    let client = client_with_roots(pebble.issuing_root_pem().await.as_bytes());
    pebble.stop();

    wait_until(20, "two failed renewal attempts", || {
        let client = client.clone();
        let addr = server.http_addr;
        async move {
            let r = get(addr, "localhost", &client, "/healthz").await.unwrap();
            r.json()["tls"]["acme_failures"].as_u64().unwrap() >= 2
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", logs.text()));

    let r = get(server.http_addr, "localhost", &client, "/healthz")
        .await
        .expect("the old certificate is still served and verifies");
    let health = r.json();
    assert_eq!(health["tls"]["fingerprint_sha256"], issued.as_str());
    assert_eq!(health["tls"]["trusted"], true);
    assert!(r.header("strict-transport-security").is_some());
    let errors = logs.errors_containing("keeping the certificate in service");
    assert!(errors.len() >= 2, "{}", logs.text());
    server.shutdown().await;
}
