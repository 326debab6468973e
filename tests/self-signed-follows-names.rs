//! The self-signed certificate is kept across restarts (the fingerprint
//! people compared stays valid) and made anew when the names change.

mod common;

use common::tls::{TempDir, served_fingerprint, tls_config};
use funkraum::Server;
use funkraum::config::TlsMode;
use std::os::unix::fs::MetadataExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_is_kept_until_the_names_change() {
    let state = TempDir::new("self-signed-names");
    let mut config = tls_config(TlsMode::SelfSigned, state.path(), 0, 0);
    config.tls.domains = vec!["node.mesh.test".into()];

    let server = Server::start(config.clone()).await.expect("server starts");
    let first = served_fingerprint(server.http_addr).await;
    server.shutdown().await;
    let dir = state.path().join("self-signed");
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    for f in ["cert.pem", "key.pem"] {
        assert_eq!(
            std::fs::metadata(dir.join(f)).unwrap().mode() & 0o777,
            0o600,
            "{f}"
        );
    }

    let server = Server::start(config.clone())
        .await
        .expect("server starts again");
    assert_eq!(
        served_fingerprint(server.http_addr).await,
        first,
        "kept across a restart"
    );
    server.shutdown().await;

    config.tls.domains.push("other.mesh.test".into());
    let server = Server::start(config)
        .await
        .expect("server starts with a new name");
    let store = server.certificates.clone().unwrap();
    let renewed = served_fingerprint(server.http_addr).await;
    assert_ne!(renewed, first, "a new name means a new certificate");
    assert_eq!(store.current().fingerprint, renewed);
    assert!(store.current().covers(&[
        "node.mesh.test".to_string(),
        "other.mesh.test".to_string(),
        "127.0.0.1".to_string()
    ]));
    server.shutdown().await;
}
