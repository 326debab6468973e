//! Screen sharing (docs/protocol.md): an m-line the client names `"screen"`
//! in `offer.sources` reaches the others as a track with
//! `source: "screen"` (camera and microphone keep theirs, for late joiners
//! too); when the client stops that transceiver and offers again, the
//! track goes away for everyone while camera and microphone go on.

mod common;

use common::{ClientOptions, FLOWING, MEDIA_WITHIN, TestClient, within};
use std::collections::BTreeSet;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// The sources of `publisher`'s tracks in `client`'s latest server offer.
fn offered_sources(client: &TestClient, publisher: &str) -> BTreeSet<String> {
    client
        .offered_tracks()
        .values()
        .filter(|t| t.participant == publisher)
        .map(|t| format!("{}/{}", t.kind, t.source))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_screen_is_labelled_and_its_end_reaches_everyone() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let presenter = TestClient::join_with(
            addr,
            "vortrag",
            "Presenter",
            ClientOptions {
                screen: true,
                ..ClientOptions::default()
            },
        )
        .await
        .unwrap();
        let mut viewer = TestClient::join(addr, "vortrag", "Viewer").await;
        let p = presenter.id.clone();
        for source in ["screen", "camera", "microphone"] {
            viewer
                .wait_source_from(&p, source, FLOWING, MEDIA_WITHIN)
                .await;
        }
        let all = set(&["audio/microphone", "video/camera", "video/screen"]);
        assert_eq!(offered_sources(&viewer, &p), all);

        // Someone who joins during the share sees it labelled too.
        let mut late = TestClient::join(addr, "vortrag", "Late").await;
        late.wait_source_from(&p, "screen", FLOWING, MEDIA_WITHIN)
            .await;
        assert_eq!(offered_sources(&late, &p), all);

        // The presenter ends the share.
        let marks = [viewer.mark(), late.mark()];
        presenter.stop_screen();
        for (c, before) in [&mut viewer, &mut late].into_iter().zip(marks) {
            c.wait_message_since(before, MEDIA_WITHIN, "an offer without the screen", |m| {
                m["type"] == "offer"
                    && !m["tracks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["participant"] == p.as_str() && t["source"] == "screen")
            })
            .await;
        }
        // Give the answer and in-flight packets a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            offered_sources(&viewer, &p),
            set(&["audio/microphone", "video/camera"])
        );
        let screen = viewer.received_source(&p, "screen");
        let camera = viewer.received_source(&p, "camera");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            viewer.received_source(&p, "screen") <= screen + 2,
            "the stopped screen still arrives"
        );
        assert!(viewer.received_source(&p, "camera") >= camera + FLOWING);
        for c in [&presenter, &viewer, &late] {
            c.assert_no_problems();
        }
        server.shutdown().await;
    })
    .await;
}
