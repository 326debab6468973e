//! First start while the ACME directory is unreachable: the daemon serves
//! HTTPS with a self-signed stand-in (no HSTS), logs an error per failed
//! attempt, retries with growing waits, and takes the CA's certificate as
//! soon as the directory answers.

mod common;

use common::captured_logs;
use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{Response, TempDir, client_accepting_any, client_with_roots, get};
use funkraum::Server;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_directory_means_stand_in_errors_backoff_then_recovery() {
    let logs = captured_logs::capture();
    let http_port = free_port();
    let mut options = PebbleOptions::new(http_port, free_port());
    options.listen_port = free_port();
    // Prepared (its address and CA are known) but not running yet.
    let mut pebble = Pebble::prepare(options);
    let state = TempDir::new("acme-unreachable");
    let mut config = pebble.acme_config(state.path(), 0, http_port, &["localhost"]);
    config.tls.acme_retry_secs = 1;
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("starts without its CA");
    let store = server.certificates.clone().expect("TLS is on");

    // HTTPS works at once, with a stand-in that is not trusted: no HSTS.
    let r = health_accepting_any(&server).await;
    assert_eq!(r.status, 200);
    assert!(r.header("strict-transport-security").is_none());
    assert_eq!(r.json()["tls"]["trusted"], false);
    assert!(store.current().covers(&["localhost".to_string()]));

    // Failed attempts: each logged as an error, the waits between them grow
    // (1 s, then 2 s, each ±20 %).
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.len() < 3 {
        let failures = r_failures(&server).await;
        if failures as usize > seen.len() {
            seen.push(Instant::now());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "failures: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let first_wait = seen[1] - seen[0];
    let second_wait = seen[2] - seen[1];
    assert!(
        first_wait >= Duration::from_millis(700) && second_wait > first_wait,
        "waits between attempts: {first_wait:?}, then {second_wait:?}"
    );
    let errors = logs.errors_containing("ACME: getting a certificate failed");
    assert!(errors.len() >= 3, "{}", logs.text());
    assert!(errors[0].contains(&pebble.directory_url), "{}", errors[0]);
    assert!(errors[0].contains("self-signed stand-in"), "{}", errors[0]);

    // The CA comes up: the next retry gets a trusted certificate.
    pebble.run().await;
    pebble.wait_trusted(&store, 20, Some(&logs)).await;
    let root = pebble.issuing_root_pem().await;
    let r = get(
        server.http_addr,
        "localhost",
        &client_with_roots(root.as_bytes()),
        "/healthz",
    )
    .await
    .expect("the CA's certificate verifies");
    assert_eq!(r.json()["tls"]["acme_failures"], 0);
    assert!(r.header("strict-transport-security").is_some());
    server.shutdown().await;
}

async fn r_failures(server: &Server) -> u64 {
    health_accepting_any(server).await.json()["tls"]["acme_failures"]
        .as_u64()
        .unwrap()
}

/// `/healthz` over HTTPS from a client that accepts any certificate (the
/// stand-in too): HTTPS works whatever the CA does.
async fn health_accepting_any(server: &Server) -> Response {
    get(
        server.http_addr,
        "localhost",
        &client_accepting_any(),
        "/healthz",
    )
    .await
    .expect("HTTPS works, with the stand-in or the CA's certificate")
}
