//! Offers and answers the server cannot use get `bad-sdp` (candidates that
//! do not parse get `bad-candidate`); nothing is torn down, neither for the
//! others in the room nor for the sender's own running media session.

mod common;

use common::{Bystanders, FLOWING, Kind, MEDIA_WITHIN, RawSocket, within};
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

const GARBAGE_SDP: &[&str] = &[
    "",
    "garbage",
    "v=0",
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio nine UDP/TLS/RTP/SAVPF x\r\n",
    "\u{0000}\u{0001}\u{0002}",
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n",
];

/// A well-formed SDP the server did not ask for: an offer from a real
/// WebRTC stack.
async fn some_real_offer() -> String {
    use webrtc::peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    };
    struct Quiet;
    impl PeerConnectionEventHandler for Quiet {}
    let mut media = webrtc::peer_connection::MediaEngine::default();
    media.register_default_codecs().expect("default codecs");
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(media)
        .with_handler(std::sync::Arc::new(Quiet))
        .with_udp_addrs(vec!["127.0.0.1:0"])
        .build()
        .await
        .expect("a peer connection");
    pc.add_transceiver_from_kind(
        rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio,
        Some(webrtc::rtp_transceiver::RTCRtpTransceiverInit {
            direction: webrtc::rtp_transceiver::RTCRtpTransceiverDirection::Recvonly,
            streams: vec![],
            send_encodings: vec![],
        }),
    )
    .await
    .expect("a transceiver");
    let offer = pc.create_offer(None).await.expect("an offer");
    pc.close().await.ok();
    offer.sdp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_offers_and_answers_from_a_newcomer_are_refused() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "labor").await;
        let mut eve = RawSocket::connect(server.http_addr).await;
        let joined = eve.join(&room.room, "Eve").await;
        let eve_id = joined["id"].as_str().unwrap().to_string();
        let marks = room.marks_after_join(&eve_id).await;

        // Right after joining the server has no offer out to Eve yet (it
        // waits for hers), so offers are judged, not ignored.
        for sdp in GARBAGE_SDP {
            eve.send_json(json!({"type": "offer", "sdp": sdp})).await;
            let e = eve.expect_error_not_fatal("bad-sdp").await;
            eprintln!("offer {sdp:?} → {}", e["message"]);
            let text = e["message"].as_str().unwrap();
            assert!(!text.contains("0x"), "no server internals: {text}");
        }
        // An answer when the server offered nothing: garbage or not.
        for sdp in GARBAGE_SDP.iter().take(3) {
            eve.send_json(json!({"type": "answer", "sdp": sdp})).await;
            eve.expect_error_not_fatal("bad-sdp").await;
        }
        let real = some_real_offer().await;
        eve.send_json(json!({"type": "answer", "sdp": real})).await;
        let e = eve.expect_error_not_fatal("bad-sdp").await;
        eprintln!("an answer with no offer pending → {}", e["message"]);
        // Candidates that do not parse.
        for c in [
            "garbage",
            "candidate:",
            "candidate:1 1 udp x 127.0.0.1 1 typ host",
        ] {
            eve.send_json(json!({"type": "candidate", "candidate": c}))
                .await;
            eve.expect_error_not_fatal("bad-candidate").await;
        }

        assert_eq!(server.counts(), (1, 3), "Eve is still in, nobody left");
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_does_not_fit_the_servers_offer_is_refused_and_offered_again() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "labor").await;
        let mut eve = RawSocket::connect(server.http_addr).await;
        let joined = eve.join(&room.room, "Eve").await;
        let marks = room.marks_after_join(joined["id"].as_str().unwrap()).await;

        // Eve never offers; after a grace period the server offers her the
        // others' tracks anyway.
        let offer = eve.wait_for_type("offer").await;
        assert_eq!(offer["tracks"].as_array().unwrap().len(), 4, "{offer}");
        // Garbage answers leave the offer standing...
        eve.send_json(json!({"type": "answer", "sdp": "garbage"}))
            .await;
        eve.expect_error_not_fatal("bad-sdp").await;
        // ...an answer that parses but does not answer it voids it, and the
        // server offers again.
        let real = some_real_offer().await;
        eve.send_json(json!({"type": "answer", "sdp": real})).await;
        let e = eve.expect_error_not_fatal("bad-sdp").await;
        eprintln!("an answer to something else → {}", e["message"]);
        let again = eve.wait_for_type("offer").await;
        assert_eq!(again["tracks"].as_array().unwrap().len(), 4, "{again}");

        assert_eq!(server.counts(), (1, 3));
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_sdp_from_a_participant_in_a_call_does_not_end_its_call() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "labor").await;
        let marks = room.marks();
        let (a_id, b_id) = (room.a.id.clone(), room.b.id.clone());

        // Alice, sending and receiving media, sends garbage.
        for sdp in GARBAGE_SDP {
            let mark = room.a.mark();
            room.a.send_json(json!({"type": "offer", "sdp": sdp}));
            let e = room
                .a
                .wait_message_since(mark, Duration::from_secs(5), "bad-sdp", |m| {
                    m["type"] == "error"
                })
                .await;
            assert_eq!(e["code"], "bad-sdp", "{e}");
            assert_eq!(e["fatal"], false, "{e}");
        }
        let mark = room.a.mark();
        room.a
            .send_json(json!({"type": "answer", "sdp": "garbage"}));
        let e = room
            .a
            .wait_message_since(mark, Duration::from_secs(5), "bad-sdp", |m| {
                m["type"] == "error"
            })
            .await;
        assert_eq!(e["code"], "bad-sdp", "{e}");

        // Her call goes on in both directions, and Bob's too.
        for kind in [Kind::Audio, Kind::Video] {
            let n = room.b.received(&a_id, kind);
            room.b
                .wait_media_from(&a_id, kind, n + FLOWING, MEDIA_WITHIN)
                .await;
            let n = room.a.received(&b_id, kind);
            room.a
                .wait_media_from(&b_id, kind, n + FLOWING, MEDIA_WITHIN)
                .await;
        }
        assert_eq!(server.counts(), (1, 2));
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}
