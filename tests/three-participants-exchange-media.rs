//! Three participants join one room through the real signaling, each with an
//! independent WebRTC stack (the `webrtc` crate) publishing Opus and VP8.
//! Each receives the other two's audio and video, never its own; when one
//! leaves, the others are told, its tracks stop and the server's next offer
//! stops its m-lines.

mod common;

use common::sdp;
use common::{FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use std::time::{Duration, Instant};

/// A second of both tracks at 50 packets per second, minus slack for a
/// loaded machine.
const A_SECOND_OF_MEDIA: u64 = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_see_and_hear_each_other_then_one_leaves() {
    within(Duration::from_secs(60), async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut a = TestClient::join(addr, "stammtisch", "Anna").await;
        let mut b = TestClient::join(addr, "stammtisch", "Ben").await;
        let mut c = TestClient::join(addr, "stammtisch", "Cem").await;
        assert_eq!(server.counts(), (1, 3), "one room, three participants");

        // `joined` lists who was there before.
        let before_c: Vec<&str> = c.joined["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(before_c, [a.id.as_str(), b.id.as_str()]);
        assert_eq!(c.joined["participants"][0]["nickname"], "Anna");

        // Everyone gets everyone else's audio and video.
        let ids = [a.id.clone(), b.id.clone(), c.id.clone()];
        let started = Instant::now();
        common::everyone_receives_everyone(vec![&mut a, &mut b, &mut c], A_SECOND_OF_MEDIA).await;
        eprintln!(
            "all six directions carried a second of media {:?} after the third join",
            started.elapsed()
        );
        for client in [&a, &b, &c] {
            let from: Vec<_> = client.received_all().into_keys().collect();
            assert_eq!(
                from.len(),
                4,
                "{} receives exactly two others' audio and video: {from:?}",
                client.nickname
            );
            assert!(
                from.iter().all(|(p, _)| *p != client.id),
                "{} receives its own media: {from:?}",
                client.nickname
            );
            // A late subscriber starts with a keyframe, and more follow.
            for other in ids.iter().filter(|id| **id != client.id) {
                assert!(
                    client.stats(other, Kind::Video).keyframes >= 1,
                    "{} got no VP8 keyframe from {other}",
                    client.nickname
                );
            }
            // Each server offer named only the others' tracks.
            let offered = client.offered_tracks();
            assert_eq!(offered.len(), 4, "{}: {offered:?}", client.nickname);
            assert!(offered.values().all(|t| t.participant != client.id));
            let errors: Vec<_> = client
                .messages()
                .into_iter()
                .filter(|m| m["type"] == "error")
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}", client.nickname);
            // Trickled candidates are accepted without complaint.
            assert!(client.candidates_sent() >= 1, "{}", client.nickname);
            client.assert_no_problems();
        }

        // Cem leaves.
        let (a_mark, b_mark) = (a.mark(), b.mark());
        let c_id = c.id.clone();
        let c_mids: Vec<String> = a
            .offered_tracks()
            .into_iter()
            .filter(|(_, t)| t.participant == c_id)
            .map(|(mid, _)| mid)
            .collect();
        assert_eq!(c_mids.len(), 2, "Anna had audio and video from Cem");
        let left_at = Instant::now();
        c.leave().await;

        let a_id = a.id.clone();
        for (client, mark) in [(&mut a, a_mark), (&mut b, b_mark)] {
            let cid = c_id.clone();
            client
                .wait_message_since(mark, Duration::from_secs(3), "participantLeft", |m| {
                    m["type"] == "participantLeft" && m["id"] == cid.as_str()
                })
                .await;
            // The next server offer stops Cem's m-lines and no longer lists them.
            let cid = c_id.clone();
            let offer = client
                .wait_message_since(mark, Duration::from_secs(3), "the offer without Cem", |m| {
                    m["type"] == "offer"
                        && m["tracks"]
                            .as_array()
                            .is_some_and(|t| t.iter().all(|t| t["participant"] != cid.as_str()))
                })
                .await;
            eprintln!(
                "{}: Cem's tracks were withdrawn {:?} after he left",
                client.nickname,
                left_at.elapsed()
            );
            assert_eq!(offer["tracks"].as_array().unwrap().len(), 2);
            let lines = sdp::m_lines(offer["sdp"].as_str().unwrap());
            if client.id == a_id {
                for mid in &c_mids {
                    let line = sdp::m_line(&lines, mid)
                        .unwrap_or_else(|| panic!("mid {mid} is gone from the SDP: {lines:?}"));
                    assert!(line.is_stopped(), "Cem's m-line {mid} is stopped: {line:?}");
                }
            }
        }
        assert!(
            left_at.elapsed() < Duration::from_secs(1),
            "a leaver's tracks disappear from everyone within a second (docs/protocol.md)"
        );
        assert_eq!(server.counts(), (1, 2));

        // Cem's packets stop; Anna and Ben keep talking.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let frozen = [
            a.received(&c_id, Kind::Audio),
            a.received(&c_id, Kind::Video),
            b.received(&c_id, Kind::Audio),
            b.received(&c_id, Kind::Video),
        ];
        let b_id = b.id.clone();
        for kind in [Kind::Audio, Kind::Video] {
            let n = a.received(&b_id, kind);
            a.wait_media_from(&b_id, kind, n + 2 * FLOWING, MEDIA_WITHIN)
                .await;
            let n = b.received(&a_id, kind);
            b.wait_media_from(&a_id, kind, n + 2 * FLOWING, MEDIA_WITHIN)
                .await;
        }
        let later = [
            a.received(&c_id, Kind::Audio),
            a.received(&c_id, Kind::Video),
            b.received(&c_id, Kind::Audio),
            b.received(&c_id, Kind::Video),
        ];
        assert_eq!(frozen, later, "nothing more arrives from Cem after he left");
        a.assert_no_problems();
        b.assert_no_problems();

        // When the last ones leave, the room is gone.
        a.leave().await;
        b.leave().await;
        let deadline = Instant::now() + Duration::from_secs(3);
        while server.counts() != (0, 0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.counts(), (0, 0), "an empty room does not linger");
        server.shutdown().await;
    })
    .await;
}
