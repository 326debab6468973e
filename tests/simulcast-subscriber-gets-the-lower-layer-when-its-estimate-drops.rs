//! A publisher sends its camera in three simulcast layers (rids q, h, f:
//! 180, 360 and 720 lines, about 60, 180 and 420 kbit/s); each subscriber
//! gets one of them. With bandwidth to spare it is the full one. When the
//! subscriber says it can take less (REMB: the most it can receive, as a
//! receiver on a thin link reports it), it gets the low layer at once,
//! starting with a keyframe the server asked the publisher for, and its
//! stream goes on without a seam: sequence numbers, RTP timestamps, VP8
//! picture id and TL0PICIDX continue as if one encoder had sent it all.
//! When the room is back, so is the full layer, again from a keyframe.
//!
//! The estimate is capped honestly: the subscriber's own REMB really says
//! less (str0m's TWCC estimate keeps running beside it; the server uses the
//! lower of the two, as it does for browsers that send REMB).

mod common;

use common::client::ReceivedVideo;
use common::{ClientOptions, MEDIA_WITHIN, TestClient, within};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

/// Checks that `log[at]` continues `log[at - 1]` as one stream would, and
/// that it is a keyframe of layer `layer` after one of another layer.
fn assert_seamless_switch(log: &[ReceivedVideo], at: usize, layer: char) {
    let (before, after) = (&log[at - 1], &log[at]);
    assert_ne!(before.layer, Some(layer), "a switch happens at {at}");
    assert_eq!(after.layer, Some(layer));
    assert!(after.keyframe, "the new layer starts with a keyframe");
    assert_eq!(
        after.seq,
        before.seq.wrapping_add(1),
        "sequence numbers continue across the switch"
    );
    let step = after.timestamp.wrapping_sub(before.timestamp);
    assert!(
        step > 0 && step < 90_000,
        "the RTP clock runs on (by {step} ticks)"
    );
    assert_eq!(
        after.picture_id,
        before.picture_id.map(|p| (p + 1) & 0x7fff),
        "picture ids continue"
    );
    assert_eq!(
        after.tl0,
        before.tl0.map(|t| t.wrapping_add(1)),
        "TL0PICIDX continues"
    );
    // From then on only the new layer, every number one more than before.
    for pair in log[at..].windows(2) {
        assert_eq!(pair[1].layer, Some(layer), "only the new layer after it");
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(
            pair[1].picture_id,
            pair[0].picture_id.map(|p| (p + 1) & 0x7fff)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriber_gets_the_low_layer_when_its_estimate_drops_and_the_full_one_back() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.rooms.p2p = false;
        let server = common::server::start(config).await;
        let addr = server.http_addr;
        // Keyframes only when asked: a keyframe of the new layer shows that
        // the server asked for one on that layer.
        let publisher = ClientOptions {
            simulcast: true,
            keyframe_interval: None,
            ..ClientOptions::default()
        };
        let a = TestClient::join_with(addr, "schichten", "Ada", publisher)
            .await
            .unwrap();
        let listener = ClientOptions {
            video: false,
            ..ClientOptions::default()
        };
        let mut b = TestClient::join_with(addr, "schichten", "Bo", listener)
            .await
            .unwrap();
        let a_id = a.id.clone();

        // Plenty of room: the full layer, from a keyframe.
        let full = b
            .wait_video(&a_id, 0, MEDIA_WITHIN, "Ada's full layer", |v| {
                v.layer == Some('f')
            })
            .await;
        let log = b.video_log(&a_id);
        assert!(
            log[0].keyframe,
            "the first packet is a keyframe: {:?}",
            log[0]
        );
        assert!(
            log[..=full].iter().all(|v| v.layer != Some('q')),
            "no low layer while there is room"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = b.video_log(&a_id).len();
        assert!(
            b.video_log(&a_id)[full..]
                .iter()
                .all(|v| v.layer == Some('f')),
            "only the full layer"
        );

        // Bo's link narrows: its REMB says 150 kbit/s.
        let asked_before = a.layer_keyframe_requests().get(&'q').copied().unwrap_or(0);
        b.set_remb(Some(150_000));
        let low = b
            .wait_video(
                &a_id,
                before,
                Duration::from_secs(3),
                "Ada's low layer",
                |v| v.layer == Some('q'),
            )
            .await;
        let log = b.video_log(&a_id);
        let switched_after = log[low].at.duration_since(log[before].at);
        eprintln!("Bo: low layer {switched_after:?} after the estimate dropped");
        assert!(
            a.layer_keyframe_requests().get(&'q').copied().unwrap_or(0) > asked_before,
            "the server asked Ada for a keyframe on the low layer"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let log = b.video_log(&a_id);
        assert_seamless_switch(&log, low, 'q');
        assert!(
            log.len() - low >= 40,
            "the low layer keeps flowing ({} packets in a second)",
            log.len() - low
        );

        // The link is back: up again (after the hold that keeps layers from
        // flapping), from a keyframe, seamlessly.
        let before = log.len();
        b.set_remb(Some(100_000_000));
        let up = b
            .wait_video(
                &a_id,
                before,
                Duration::from_secs(8),
                "Ada's full layer again",
                |v| v.layer == Some('f'),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let log = b.video_log(&a_id);
        assert_seamless_switch(&log, up, 'f');

        a.assert_no_problems();
        b.assert_no_problems();
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}
