//! Last-N (`rooms.last_n`, here 2): each participant receives the camera
//! video of the two others who spoke most recently (before anyone spoke,
//! of the first to join), the audio of everyone. The server says whose video
//! it sends (`videoForwarded`), so the client can show the others as
//! avatars. The third speaker's video reaches nobody until it speaks; then
//! it does at once, from a keyframe the server asked for, and the least
//! recent speaker's video stops.

mod common;

use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use serde_json::Value;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);
/// RFC 6464 levels (−dBov): silence, and normal speech.
const SILENT: u8 = 127;
const SPEAKING: u8 = 30;

fn forwarded(message: &Value) -> Option<Vec<String>> {
    (message["type"] == "videoForwarded").then(|| {
        message["participants"]
            .as_array()
            .expect("videoForwarded.participants is an array")
            .iter()
            .map(|p| p.as_str().expect("participant ids").to_string())
            .collect()
    })
}

/// The latest `videoForwarded` a client got.
fn latest_forwarded(client: &TestClient) -> Option<Vec<String>> {
    client.messages().iter().rev().find_map(forwarded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_video_of_the_third_speaker_comes_only_when_it_speaks() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.rooms.p2p = false;
        config.rooms.last_n = 2;
        let server = common::server::start(config).await;
        let addr = server.http_addr;
        // Keyframes only when asked: the entering speaker's first frame
        // shows that the server asked for it.
        let options = ClientOptions {
            audio_level: Some(SILENT),
            keyframe_interval: None,
            ..ClientOptions::default()
        };
        let mut people = Vec::new();
        for name in ["Ada", "Bo", "Cy"] {
            people.push(
                TestClient::join_with(addr, "letzte", name, options.clone())
                    .await
                    .unwrap(),
            );
        }
        // Every camera sends before Dee comes: a camera that has not sent
        // yet (still connecting) takes no place, and the next one would
        // fill it for that moment.
        let ids: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
        for (watcher, publisher) in [(0, 1), (0, 2), (1, 0)] {
            people[watcher]
                .wait_media_from(&ids[publisher], Kind::Video, FLOWING, MEDIA_WITHIN)
                .await;
        }
        people.push(
            TestClient::join_with(addr, "letzte", "Dee", options.clone())
                .await
                .unwrap(),
        );
        let ids: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
        let (ada, bo, cy) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
        let dee = &mut people[3];

        // Nobody spoke yet: Dee sees the first two to join, hears everyone.
        let first_two = vec![ada.clone(), bo.clone()];
        dee.wait_message_since(0, MEDIA_WITHIN, "videoForwarded [Ada, Bo]", |m| {
            forwarded(m) == Some(first_two.clone())
        })
        .await;
        for id in [&ada, &bo] {
            dee.wait_media_from(id, Kind::Video, FLOWING, MEDIA_WITHIN)
                .await;
        }
        for id in [&ada, &bo, &cy] {
            dee.wait_media_from(id, Kind::Audio, FLOWING, MEDIA_WITHIN)
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            dee.received(&cy, Kind::Video),
            0,
            "the third's video is not forwarded while it is silent"
        );
        let ada_sees = latest_forwarded(&people[0]);
        assert_eq!(
            ada_sees,
            Some(vec![bo.clone(), cy.clone()]),
            "never oneself"
        );

        // Cy speaks: Cy's video comes to Dee, Bo's (the least recent) stops.
        let cy_requests = people[2].keyframe_requests();
        people[2].set_audio_level(SPEAKING);
        let dee = &mut people[3];
        let mark = dee.mark();
        let recent_two = vec![cy.clone(), ada.clone()];
        dee.wait_message_since(
            mark,
            Duration::from_secs(5),
            "videoForwarded [Cy, Ada]",
            |m| forwarded(m) == Some(recent_two.clone()),
        )
        .await;
        dee.wait_media_from(&cy, Kind::Video, FLOWING, Duration::from_secs(3))
            .await;
        let cy_video = dee.video_log(&cy);
        assert!(cy_video[0].keyframe, "Cy's picture starts with a keyframe");
        let started = cy_video[0].at;
        assert!(
            people[2].keyframe_requests() > cy_requests,
            "the server asked Cy for it"
        );
        let dee = &mut people[3];
        let bo_video = dee.video_log(&bo);
        let bo_last = bo_video.last().unwrap().at;
        assert!(
            bo_last < started + Duration::from_millis(500),
            "Bo's video stopped when Cy's began"
        );
        let bo_audio = dee.received(&bo, Kind::Audio);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            dee.video_log(&bo).len(),
            bo_video.len(),
            "no more of Bo's video"
        );
        assert!(
            dee.received(&bo, Kind::Audio) >= bo_audio + 40,
            "Bo's audio goes on"
        );
        assert!(
            dee.video_log(&ada).last().unwrap().at > started,
            "Ada's goes on"
        );

        for p in &people {
            p.assert_no_problems();
        }
        for p in people {
            p.shutdown().await;
        }
    })
    .await;
}
