//! mode = "files": the admin's PEM files are served (with HSTS), re-read on
//! SIGHUP; a broken file on reload keeps the certificate in service and
//! logs an error; a broken file at start stops the start naming the key.

mod common;

use common::captured_logs;
use common::tls::{TempDir, client_with_roots, get, served_fingerprint, tls_config, wait_until};
use funkraum::Server;
use funkraum::config::TlsMode;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::path::Path;

/// A CA of the admin's, and a way to issue leaves for `localhost` from it.
struct AdminCa(CertifiedIssuer<'static, KeyPair>);

impl AdminCa {
    fn new() -> AdminCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        AdminCa(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    /// Writes a fresh leaf and key; returns the leaf's fingerprint.
    fn issue(&self, cert_file: &Path, key_file: &Path) -> String {
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &self.0)
            .unwrap();
        std::fs::write(cert_file, leaf.pem() + &self.0.pem()).unwrap();
        std::fs::write(key_file, key.serialize_pem()).unwrap();
        common::tls::fingerprint(leaf.der().as_ref())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_served_and_reloaded_on_sighup() {
    let logs = captured_logs::capture();
    let files = TempDir::new("files");
    let (cert_file, key_file) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let ca = AdminCa::new();
    let first = ca.issue(&cert_file, &key_file);

    let state = TempDir::new("files-state");
    let mut config = tls_config(TlsMode::Files, state.path(), 0, 0);
    config.tls.cert_file = cert_file.clone();
    config.tls.key_file = key_file.clone();
    config.validate().expect("valid test configuration");

    // A key that does not belong to the certificate stops the start.
    let stray = TempDir::new("files-stray");
    let stray_key = stray.path().join("key.pem");
    ca.issue(&stray.path().join("cert.pem"), &stray_key);
    let mut mismatched = config.clone();
    mismatched.tls.key_file = stray_key;
    let e = Server::start(mismatched).await.err().expect("refused");
    assert!(e.0.contains("tls.key_file"), "{e}");
    let mut missing = config.clone();
    missing.tls.cert_file = files.path().join("missing.pem");
    let e = Server::start(missing).await.err().expect("refused");
    assert!(e.0.contains("tls.cert_file"), "{e}");

    let server = Server::start(config).await.expect("server starts");
    let client = client_with_roots(ca.0.pem().as_bytes());
    let r = get(server.http_addr, "localhost", &client, "/healthz")
        .await
        .expect("the admin's chain verifies against the admin's CA");
    assert_eq!(r.json()["tls"]["mode"], "files");
    assert_eq!(r.json()["tls"]["fingerprint_sha256"], first.as_str());
    assert!(r.header("strict-transport-security").is_some());

    // New files, SIGHUP: new connections get the new certificate.
    let second = ca.issue(&cert_file, &key_file);
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
    let addr = server.http_addr;
    wait_until(10, "the reloaded certificate", || {
        let second = second.clone();
        async move { served_fingerprint(addr).await == second }
    })
    .await
    .unwrap();

    // A broken key on reload: error logged, the certificate stays.
    std::fs::write(&key_file, "not a key").unwrap();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
    wait_until(10, "the reload error in the log", || {
        let logs = logs.clone();
        async move { !logs.errors_containing("SIGHUP: cannot reload").is_empty() }
    })
    .await
    .unwrap();
    assert!(logs.errors_containing("SIGHUP: cannot reload")[0].contains("tls.key_file"));
    assert_eq!(served_fingerprint(addr).await, second);
    server.shutdown().await;
}
