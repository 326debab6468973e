//! A `webrtc`-crate participant with ICE transport policy `relay` joins a
//! room with a normal participant, through the built-in TURN server, and
//! both receive each other's audio and video — over TURN/UDP, and over
//! TURN/TCP (through a UDP→TCP bridge, as the `webrtc` crate speaks TURN
//! over UDP only). The server's counters show the media went through a
//! relay.

mod common;

use common::turn_tcp_proxy::TurnTcpProxy;
use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use funkraum::turn::TurnStats;
use std::time::Duration;
use webrtc::peer_connection::RTCIceServer;

async fn relay_only_conference(over_tcp: bool) {
    let server = common::server::start_default().await;
    let addr = server.http_addr;
    let turn = server.turn().expect("TURN is on by default");
    let proxy = if over_tcp {
        Some(TurnTcpProxy::start(turn.tcp_addr).await)
    } else {
        None
    };

    let normal = TestClient::join(addr, "relayed", "Direct").await;
    let mut options = ClientOptions {
        relay_only: true,
        ..ClientOptions::default()
    };
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
    within(Duration::from_secs(60), relay_only_conference(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_client_gets_media_over_turn_tcp() {
    within(Duration::from_secs(60), relay_only_conference(true)).await;
}
