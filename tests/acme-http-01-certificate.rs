//! ACME with HTTP-01 against a real ACME server (Debian's pebble): pebble
//! validates by fetching the token from the daemon's own port-80 listener,
//! issues a certificate, and the daemon serves it, chain and all.

mod common;

use common::pebble::{Pebble, PebbleOptions, free_port};
use common::tls::{TempDir, client_with_roots, get, get_plain, served_chain};
use funkraum::Server;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_01_certificate_is_served_and_verifies_against_the_ca_root() {
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions::new(http_port, free_port())).await;
    let state = TempDir::new("acme-http-01");
    let mut config = pebble.acme_config(state.path(), 0, http_port, &["localhost", "127.0.0.1"]);
    config.tls.acme_email = "admin@funkraum.test".into();
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");

    // Until pebble has issued, a self-signed stand-in is served, without HSTS.
    pebble.wait_trusted(&store, 60, None).await;

    let root = pebble.issuing_root_pem().await;
    let trusting_pebble = client_with_roots(root.as_bytes());
    for name in ["localhost", "127.0.0.1"] {
        // rustls verifies leaf → intermediate → pebble's root, for this name.
        let r = get(server.http_addr, name, &trusting_pebble, "/healthz")
            .await
            .unwrap_or_else(|e| panic!("HTTPS to {name} with pebble's root: {e}"));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=31536000"),
            "HSTS with a trusted certificate"
        );
        let health = r.json();
        assert_eq!(health["tls"]["mode"], "acme");
        assert_eq!(health["tls"]["trusted"], true);
        assert_eq!(health["tls"]["acme_failures"], 0);
        assert_eq!(
            health["tls"]["fingerprint_sha256"],
            store.current().fingerprint.as_str()
        );
    }
    let chain = served_chain(server.http_addr, "localhost", &trusting_pebble)
        .await
        .unwrap();
    assert!(chain.len() >= 2, "leaf and intermediate are served");

    // A client trusting another CA refuses the certificate.
    let trusting_other =
        client_with_roots(std::fs::read(&pebble.listener_ca_file).unwrap().as_slice());
    assert!(
        get(server.http_addr, "localhost", &trusting_other, "/healthz")
            .await
            .is_err()
    );

    // Port 80 redirects everything else to HTTPS and knows no stale token.
    let redirect = server.redirect_addrs[0];
    let r = get_plain(redirect, "localhost", "/some-room?x=1")
        .await
        .unwrap();
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(
            format!(
                "https://localhost:{}/some-room?x=1",
                server.http_addr.port()
            )
            .as_str()
        )
    );
    assert!(r.header("strict-transport-security").is_none());
    let r = get_plain(redirect, "localhost", "/.well-known/acme-challenge/nope")
        .await
        .unwrap();
    assert_eq!(r.status, 404);

    // The state: directories 0700, files 0600, exactly account and certificate.
    let acme_dirs: Vec<_> = std::fs::read_dir(state.path().join("acme"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(acme_dirs.len(), 1, "one directory per ACME CA");
    for dir in [state.path(), &state.path().join("acme"), &acme_dirs[0]] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    let mut files: Vec<String> = std::fs::read_dir(&acme_dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["account.json", "cert.pem", "key.pem"]);
    for f in &files {
        assert_eq!(mode(&acme_dirs[0].join(f)), 0o600, "{f}");
    }
    // Pebble really fetched the tokens from the daemon's port-80 listener.
    let log = pebble.log();
    for name in ["localhost", "127.0.0.1"] {
        let fetched =
            format!("validate w/ HTTP: http://{name}:{http_port}/.well-known/acme-challenge/");
        assert!(
            log.contains(&fetched),
            "pebble never fetched {fetched}:\n{log}"
        );
    }
    server.shutdown().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}
