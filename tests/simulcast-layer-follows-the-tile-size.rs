//! The layer a subscriber gets of a simulcast camera follows the size at
//! which its client shows that participant (`videoSizes`, in device
//! pixels): a thumbnail gets the 180-line layer, a half-screen tile the
//! 360-line one, a tile the client does not size (or a large one) the full
//! 720 lines. Each change starts at a keyframe of the new layer.

mod common;

use common::{ClientOptions, MEDIA_WITHIN, TestClient, within};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_follows_the_size_the_subscriber_shows() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.rooms.p2p = false;
        let server = common::server::start(config).await;
        let addr = server.http_addr;
        let publisher = ClientOptions {
            simulcast: true,
            ..ClientOptions::default()
        };
        let a = TestClient::join_with(addr, "kacheln", "Ada", publisher)
            .await
            .unwrap();
        let mut b = TestClient::join(addr, "kacheln", "Bo").await;
        let a_id = a.id.clone();
        b.wait_video(&a_id, 0, MEDIA_WITHIN, "Ada's full layer", |v| {
            v.layer == Some('f')
        })
        .await;

        for (height, layer) in [(90, 'q'), (400, 'h'), (0, 'q'), (1080, 'f'), (170, 'q')] {
            let from = b.video_log(&a_id).len();
            b.send_video_sizes(&[(&a_id, height)]);
            let what = format!("layer {layer} for a tile {height} pixels high");
            let at = b
                .wait_video(&a_id, from, Duration::from_secs(3), &what, |v| {
                    v.layer == Some(layer)
                })
                .await;
            let log = b.video_log(&a_id);
            assert!(log[at].keyframe, "{what}: starts with a keyframe");
            assert_eq!(log[at].seq, log[at - 1].seq.wrapping_add(1), "{what}");
        }
        // Forgetting the size (an empty map): bandwidth alone, the full layer.
        let from = b.video_log(&a_id).len();
        b.send_video_sizes(&[]);
        b.wait_video(&a_id, from, Duration::from_secs(3), "full layer", |v| {
            v.layer == Some('f')
        })
        .await;

        a.assert_no_problems();
        b.assert_no_problems();
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}
