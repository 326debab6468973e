//! A `webrtc`-crate participant with ICE transport policy `relay` joins a
//! room with a normal participant, through the built-in TURN server, and
//! both receive each other's audio and video — over TURN/UDP, over
//! TURN/TCP, and over TURN/TLS on the HTTPS port (the last two through a
//! UDP→stream bridge, as the `webrtc` crate speaks TURN over UDP only). The
//! server's counters show the media went through a relay.

mod common;

use common::socket::WssClient;
use common::tls::{TempDir, client_pinning, client_pinning_alpn, current_fingerprint, tls_config};
use common::turn_tcp_proxy::TurnTcpProxy;
use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use funkraum::config::TlsMode;
use funkraum::turn::TurnStats;
use std::time::Duration;
use webrtc::peer_connection::RTCIceServer;

#[derive(Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
    /// TLS to the HTTPS port, which hands STUN to TURN.
    TlsOnHttpsPort,
}

async fn relay_only_conference(transport: Transport) {
    let state = TempDir::new("relay-only");
    let (server, wss) = match transport {
        Transport::TlsOnHttpsPort => {
            let mut config = tls_config(TlsMode::SelfSigned, state.path(), 0, 0);
            config.turn.enabled = true;
            let server = common::server::start(config).await;
            let fingerprint = current_fingerprint(&server);
            let wss = WssClient {
                config: client_pinning(&fingerprint),
                name: "localhost".into(),
            };
            (server, Some((wss, fingerprint)))
        }
        _ => (common::server::start_default().await, None),
    };
    let addr = server.http_addr;
    let turn = server.turn().expect("TURN is on by default");
    let proxy = match (transport, &wss) {
        (Transport::Udp, _) => None,
        (Transport::Tcp, _) => Some(TurnTcpProxy::start(turn.tcp_addr).await),
        (Transport::TlsOnHttpsPort, Some((_, fingerprint))) => Some(
            // No ALPN, STUN first: how browsers speak TURN over TLS.
            TurnTcpProxy::start_tls(addr, client_pinning_alpn(fingerprint, &[]), "localhost").await,
        ),
        (Transport::TlsOnHttpsPort, None) => unreachable!(),
    };
    let client = |relay_only: bool| ClientOptions {
        relay_only,
        wss: wss.as_ref().map(|(w, _)| w.clone()),
        ..ClientOptions::default()
    };

    let normal = TestClient::join_with(addr, "relayed", "Direct", client(false))
        .await
        .unwrap();
    let mut options = client(true);
    if let Some(proxy) = &proxy {
        // A credential of this server, the bridge's address. (Issued
        // directly: the participant's own arrives only with `joined`, after
        // the options are set.)
        let ice = turn
            .issuer()
            .issue(funkraum::ids::ParticipantId::random())
            .unwrap();
        options.ice_servers = Some(vec![RTCIceServer {
            urls: vec![format!("turn:{}?transport=udp", proxy.udp_addr)],
            username: ice.username,
            credential: ice.credential,
        }]);
    }
    let mut relayed = TestClient::join_with(addr, "relayed", "Relayed", options)
        .await
        .unwrap();
    let mut normal = normal;
    let (n_id, r_id) = (normal.id.clone(), relayed.id.clone());
    for kind in [Kind::Audio, Kind::Video] {
        relayed
            .wait_media_from(&n_id, kind, FLOWING, MEDIA_WITHIN)
            .await;
        normal
            .wait_media_from(&r_id, kind, FLOWING, MEDIA_WITHIN)
            .await;
    }
    assert!(turn.counts().1 >= 1, "no TURN allocation");
    assert!(
        TurnStats::get(&turn.stats.relayed_to_peers) >= 2 * FLOWING,
        "media did not go through the relay"
    );
    assert_eq!(TurnStats::get(&turn.stats.peers_refused), 0);
    relayed.assert_no_problems();
    normal.assert_no_problems();
    relayed.shutdown().await;
    normal.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_client_gets_media_over_turn_udp() {
    within(
        Duration::from_secs(60),
        relay_only_conference(Transport::Udp),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_client_gets_media_over_turn_tcp() {
    within(
        Duration::from_secs(60),
        relay_only_conference(Transport::Tcp),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_client_gets_media_over_turn_tls_on_the_https_port() {
    within(
        Duration::from_secs(60),
        relay_only_conference(Transport::TlsOnHttpsPort),
    )
    .await;
}
