//! Peer-to-peer for two (docs/protocol.md): a room of exactly two switches
//! to `p2p` (opposite politeness), a third moves everyone to `sfu` and
//! back when it is two again, a reported failure keeps the two on the SFU;
//! `p2pSignal` goes only to the peer and only in `p2p` mode. With two real
//! WebRTC stacks the direct connection comes up, and from then on the
//! server forwards none of their media — until a third joins.

mod common;

use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, RawSocket, TestClient, within};
use funkraum::sfu::SfuStats;
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

async fn mode_of(s: &mut RawSocket) -> Value {
    s.wait_for("a mode message", |m| m["type"] == "mode").await
}

fn id(joined: &Value) -> String {
    joined["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_switch_to_p2p_a_third_to_sfu_and_back() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut a = RawSocket::connect(addr).await;
        let joined = a.join("zweier", "A").await;
        assert_eq!(joined["mode"], "sfu", "alone");
        let a_id = id(&joined);
        let mut b = RawSocket::connect(addr).await;
        let joined = b.join("zweier", "B").await;
        assert_eq!(joined["mode"], "p2p");
        let b_id = id(&joined);
        let (ma, mb) = (mode_of(&mut a).await, mode_of(&mut b).await);
        assert_eq!(
            ma,
            json!({"type": "mode", "mode": "p2p", "peer": b_id, "polite": false})
        );
        assert_eq!(
            mb,
            json!({"type": "mode", "mode": "p2p", "peer": a_id, "polite": true})
        );

        // A third: everyone on the SFU at once.
        let mut c = RawSocket::connect(addr).await;
        let joined = c.join("zweier", "C").await;
        assert_eq!(joined["mode"], "sfu");
        for s in [&mut a, &mut b] {
            assert_eq!(mode_of(s).await, json!({"type": "mode", "mode": "sfu"}));
        }
        a.send_json(json!({"type": "p2pState", "state": "connected"}))
            .await;
        a.expect_error_not_fatal("not-p2p").await;

        // Two again: peer to peer again.
        c.close().await;
        let (ma, mb) = (mode_of(&mut a).await, mode_of(&mut b).await);
        assert_eq!(ma["mode"], "p2p");
        assert_eq!(ma["peer"], b_id.as_str());
        assert_ne!(ma["polite"], mb["polite"]);

        // A failure keeps these two on the SFU.
        b.send_json(json!({"type": "p2pState", "state": "failed"}))
            .await;
        for s in [&mut a, &mut b] {
            assert_eq!(mode_of(s).await["mode"], "sfu");
        }
        a.send_json(json!({"type": "p2pSignal", "to": b_id, "candidate": {"candidate": ""}}))
            .await;
        a.expect_error_not_fatal("not-p2p").await;
        // One of them leaves (A was told `sfu` already and hears nothing
        // new about the mode); a newcomer makes a fresh pair.
        b.close().await;
        a.wait_for_type("participantLeft").await;
        let mut d = RawSocket::connect(addr).await;
        assert_eq!(d.join("zweier", "D").await["mode"], "p2p");
        assert_eq!(mode_of(&mut a).await["mode"], "p2p");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2p_signals_reach_only_the_peer() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut a = RawSocket::connect(addr).await;
        let a_id = id(&a.join("paar", "A").await);
        let mut b = RawSocket::connect(addr).await;
        let b_id = id(&b.join("paar", "B").await);
        let mut x = RawSocket::connect(addr).await;
        let x_id = id(&x.join("anderes-paar", "X").await);
        let mut y = RawSocket::connect(addr).await;
        y.join("anderes-paar", "Y").await;
        for s in [&mut a, &mut b, &mut x, &mut y] {
            mode_of(s).await;
        }

        let sdp = "v=0\r\no=- 1 2 IN IP4 192.0.2.7\r\ns=-\r\nt=0 0\r\n";
        a.send_json(json!({"type": "p2pSignal", "to": b_id,
            "description": {"type": "offer", "sdp": sdp}, "extra": "ignored"}))
            .await;
        let m = b.wait_for_type("p2pSignal").await;
        assert_eq!(
            m,
            json!({"type": "p2pSignal", "from": a_id, "description": {"type": "offer", "sdp": sdp}})
        );
        let candidate = json!({"candidate": "candidate:1 1 udp 2130706431 192.0.2.7 5000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"});
        b.send_json(json!({"type": "p2pSignal", "to": a_id, "candidate": candidate}))
            .await;
        let m = a.wait_for_type("p2pSignal").await;
        assert_eq!(m["from"], b_id.as_str());
        assert_eq!(m["candidate"], candidate);

        // Not to someone of another room, not to oneself, not to nobody.
        for to in [x_id.as_str(), a_id.as_str(), "0000000000000000", "nonsense"] {
            a.send_json(json!({"type": "p2pSignal", "to": to, "candidate": {"candidate": ""}}))
                .await;
            a.expect_error_not_fatal("bad-target").await;
        }
        for bad in [
            json!({"type": "p2pSignal", "to": b_id}),
            json!({"type": "p2pSignal", "to": b_id, "description": {"type": "offer", "sdp": "x".repeat(70_000)}}),
            json!({"type": "p2pSignal", "to": b_id, "description": {"type": "bogus", "sdp": ""}}),
            json!({"type": "p2pState", "state": "maybe"}),
        ] {
            a.send_json(bad).await;
            a.expect_error_not_fatal("bad-message").await;
        }
        x.expect_quiet(Duration::from_millis(300)).await;
        b.expect_quiet(Duration::from_millis(300)).await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_p2p_off_two_stay_on_the_sfu() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.rooms.p2p = false;
        let server = common::server::start(config).await;
        let addr = server.http_addr;
        let mut a = RawSocket::connect(addr).await;
        a.join("ohne", "A").await;
        let mut b = RawSocket::connect(addr).await;
        let joined = b.join("ohne", "B").await;
        assert_eq!(joined["mode"], "sfu");
        a.send_json(
            json!({"type": "p2pSignal", "to": joined["id"], "candidate": {"candidate": ""}}),
        )
        .await;
        a.expect_error_not_fatal("not-p2p").await;
        a.send_json(json!({"type": "p2pState", "state": "connected"}))
            .await;
        a.expect_error_not_fatal("not-p2p").await;
        a.expect_quiet(Duration::from_millis(500)).await;
        assert!(
            !a.log
                .iter()
                .any(|m| matches!(m, common::socket::Incoming::Message(v) if v["type"] == "mode")),
            "no mode message without p2p"
        );
        server.shutdown().await;
    })
    .await;
}

/// Packets the SFU forwarded during `d`.
async fn forwarded_during(stats: &SfuStats, d: Duration) -> u64 {
    let before = SfuStats::get(&stats.rtp_packets_out);
    tokio::time::sleep(d).await;
    SfuStats::get(&stats.rtp_packets_out) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_connection_takes_the_media_off_the_server() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let p2p = ClientOptions {
            p2p: true,
            ..ClientOptions::default()
        };
        let mut a = TestClient::join_with(addr, "direkt", "A", p2p.clone())
            .await
            .unwrap();
        let mut b = TestClient::join_with(addr, "direkt", "B", p2p.clone())
            .await
            .unwrap();
        let (a_id, b_id) = (a.id.clone(), b.id.clone());
        // The two WebRTC stacks find each other through the relayed signals.
        a.wait_p2p_connected(&b_id, MEDIA_WITHIN).await;
        b.wait_p2p_connected(&a_id, MEDIA_WITHIN).await;
        for c in [&mut a, &mut b] {
            c.wait_p2p_reported(1, MEDIA_WITHIN).await;
        }
        assert_eq!(a.p2p_reported(), ["connected"]);
        assert_eq!(b.p2p_reported(), ["connected"]);
        // The clients keep sending to the server (the browser client would
        // stop); the server forwards none of it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let forwarded = forwarded_during(&server.stats, Duration::from_secs(1)).await;
        assert!(forwarded <= 2, "{forwarded} packets forwarded in p2p mode");
        let in_before = SfuStats::get(&server.stats.rtp_packets_in);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            SfuStats::get(&server.stats.rtp_packets_in) > in_before,
            "the server still receives (and drops) their media"
        );

        // A third joins: all on the SFU, media forwarded again, to everyone.
        let a_mark = a.mark();
        let mut c = TestClient::join(addr, "direkt", "C").await;
        a.wait_message_since(a_mark, MEDIA_WITHIN, "mode sfu", |m| {
            m["type"] == "mode" && m["mode"] == "sfu"
        })
        .await;
        for from in [&a_id, &b_id] {
            c.wait_media_from(from, Kind::Video, FLOWING, MEDIA_WITHIN)
                .await;
        }
        let n = b.received(&a_id, Kind::Audio);
        b.wait_media_from(&a_id, Kind::Audio, n + FLOWING, MEDIA_WITHIN)
            .await;
        assert!(a.p2p_state().is_none(), "the direct connection is closed");

        // Two again: direct again, and the server stops forwarding again.
        c.leave().await;
        a.wait_p2p_connected(&b_id, MEDIA_WITHIN).await;
        b.wait_p2p_connected(&a_id, MEDIA_WITHIN).await;
        for c in [&mut a, &mut b] {
            c.wait_p2p_reported(2, MEDIA_WITHIN).await;
        }
        assert_eq!(a.p2p_reported(), ["connected", "connected"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let forwarded = forwarded_during(&server.stats, Duration::from_secs(1)).await;
        assert!(
            forwarded <= 2,
            "{forwarded} packets forwarded in p2p mode again"
        );
        a.assert_no_problems();
        b.assert_no_problems();
        server.shutdown().await;
    })
    .await;
}
