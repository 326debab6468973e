//! With TLS on and `turn.address = "auto"` (the packaged setting), TURN
//! listens on every address HTTPS listens on, so a browser that reaches
//! the server over IPv6 (a name with an AAAA record) reaches TURN over
//! IPv6 as well, over UDP and TCP, and gets a relay there.

mod common;

use common::tls::{TempDir, tls_config};
use common::turn_client::TurnTestClient;
use funkraum::Server;
use funkraum::config::TlsMode;
use funkraum::ids::ParticipantId;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_answers_on_both_families_of_the_https_listener() {
    let state = TempDir::new("turn-both-families");
    let mut config = tls_config(TlsMode::SelfSigned, state.path(), 0, 0);
    config.tls.https_listen = vec![
        (Ipv4Addr::LOCALHOST, 0).into(),
        (Ipv6Addr::LOCALHOST, 0).into(),
    ];
    config.turn.enabled = true;
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    let turn = server.turn().expect("TURN runs");

    let families: Vec<bool> = turn.listen_addrs.iter().map(SocketAddr::is_ipv6).collect();
    assert_eq!(families, [false, true], "{:?}", turn.listen_addrs);

    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    for &addr in &turn.listen_addrs {
        let mut udp = TurnTestClient::udp(addr, &ice.username, &ice.credential).await;
        let relay = udp
            .allocate()
            .await
            .unwrap_or_else(|code| panic!("UDP allocation on {addr}: error {code}"));
        // The relay is on the media address (IPv4 here), whatever family
        // the client came over.
        assert_eq!(relay.ip(), server.media_addrs[0].ip(), "relay via {addr}");
        let mut tcp = TurnTestClient::tcp(addr, &ice.username, &ice.credential).await;
        tcp.allocate()
            .await
            .unwrap_or_else(|code| panic!("TCP allocation on {addr}: error {code}"));
    }
    server.shutdown().await;
}
