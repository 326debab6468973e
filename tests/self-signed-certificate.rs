//! mode = "self-signed": HTTPS with a certificate the daemon makes itself,
//! for the configured names and the media addresses; its fingerprint on
//! /healthz is what a client pins; no HSTS. No CA, no network: everything
//! here happens on loopback.

mod common;

use common::tls::{
    TempDir, client_pinning, client_with_roots, get, get_plain, served_chain, tls_config,
};
use funkraum::Server;
use funkraum::config::TlsMode;
use x509_parser::extensions::GeneralName;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificate_covers_the_names_and_a_pinning_client_connects() {
    let state = TempDir::new("self-signed");
    let mut config = tls_config(TlsMode::SelfSigned, state.path(), 0, 0);
    config.tls.domains = vec!["meet.mesh.test".into(), "10.99.0.1".into()];
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    let store = server.certificates.clone().expect("TLS is on");
    let fingerprint = store.current().fingerprint.clone();
    assert!(!store.trusted());

    // The certificate is for the configured names and the media address.
    let pinned = client_pinning(&fingerprint);
    let chain = served_chain(server.http_addr, "meet.mesh.test", &pinned)
        .await
        .expect("a client pinning the fingerprint connects");
    assert_eq!(chain.len(), 1);
    let (_, leaf) = x509_parser::parse_x509_certificate(chain[0].as_ref()).unwrap();
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    let mut names: Vec<String> = san
        .value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(ip) => format!("{ip:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["[10, 99, 0, 1]", "[127, 0, 0, 1]", "meet.mesh.test"]
    );

    // The fingerprint people compare is on /healthz; no HSTS for it.
    let r = get(server.http_addr, "127.0.0.1", &pinned, "/healthz")
        .await
        .expect("HTTPS by IP address with the pinned certificate");
    assert_eq!(r.status, 200);
    let health = r.json();
    assert_eq!(health["tls"]["mode"], "self-signed");
    assert_eq!(health["tls"]["trusted"], false);
    assert_eq!(health["tls"]["fingerprint_sha256"], fingerprint.as_str());
    assert!(health["tls"].get("acme_failures").is_none());
    assert!(r.header("strict-transport-security").is_none());
    assert!(r.header("content-security-policy").is_some());

    // A client pinning another fingerprint, or trusting the usual CAs,
    // refuses it.
    let wrong = ["00"; 32].join(":");
    assert!(
        get(
            server.http_addr,
            "meet.mesh.test",
            &client_pinning(&wrong),
            "/"
        )
        .await
        .is_err()
    );
    let system_roots = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let trusting_system = client_with_roots(&system_roots);
    assert!(
        get(server.http_addr, "meet.mesh.test", &trusting_system, "/")
            .await
            .is_err()
    );

    // Plain HTTP on the port-80 listener only redirects.
    let r = get_plain(server.redirect_addrs[0], "meet.mesh.test", "/room")
        .await
        .unwrap();
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://meet.mesh.test:{}/room", server.http_addr.port()).as_str())
    );
    server.shutdown().await;
}
