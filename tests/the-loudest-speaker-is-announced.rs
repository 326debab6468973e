//! Active speaker (docs/protocol.md): the server reads the RFC 6464
//! audio-level header extension of the audio it forwards and tells everyone
//! in the room who is loudest above a threshold — only on change, at most
//! every 300 ms, `null` when nobody speaks. Audio it does not forward (a
//! moderator muted it) does not count.

mod common;

use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);
const SILENT: u8 = 127;
const SPEAKING: u8 = 25;

fn speaker_options() -> ClientOptions {
    ClientOptions {
        audio_level: Some(SILENT),
        ..ClientOptions::default()
    }
}

/// Waits for an `activeSpeaker` naming `id` after `mark`.
async fn announced(client: &mut TestClient, mark: usize, id: Option<&str>) -> Value {
    let want = id.map_or(Value::Null, |s| json!(s));
    let what = format!("activeSpeaker {want}");
    client
        .wait_message_since(mark, MEDIA_WITHIN, &what, |m| {
            m["type"] == "activeSpeaker" && m["id"] == want
        })
        .await
}

fn speaker_messages(client: &TestClient) -> Vec<Value> {
    client
        .messages()
        .into_iter()
        .filter(|m| m["type"] == "activeSpeaker")
        .map(|m| m["id"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loudest_participant_is_named_on_change_only() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut anna = TestClient::join_with(addr, "podium", "Anna", speaker_options())
            .await
            .unwrap();
        let mut ben = TestClient::join_with(addr, "podium", "Ben", speaker_options())
            .await
            .unwrap();
        let mut cem = TestClient::join(addr, "podium", "Cem").await;
        let (a, b) = (anna.id.clone(), ben.id.clone());
        for c in [&mut cem, &mut anna] {
            c.wait_media_from(&b, Kind::Audio, FLOWING, MEDIA_WITHIN)
                .await;
        }
        cem.wait_media_from(&a, Kind::Audio, FLOWING, MEDIA_WITHIN)
            .await;
        // Silence: nobody is announced.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            speaker_messages(&cem).is_empty(),
            "{:?}",
            speaker_messages(&cem)
        );

        // Anna speaks: everyone, Anna included, hears it within a second or two.
        let marks = [anna.mark(), ben.mark(), cem.mark()];
        let started = Instant::now();
        anna.set_audio_level(SPEAKING);
        for (c, mark) in [&mut anna, &mut ben, &mut cem].into_iter().zip(marks) {
            announced(c, mark, Some(&a)).await;
        }
        eprintln!("Anna announced {:?} after she began", started.elapsed());

        // Anna stops, Ben starts: Ben.
        let mark = cem.mark();
        anna.set_audio_level(SILENT);
        ben.set_audio_level(SPEAKING - 5);
        announced(&mut cem, mark, Some(&b)).await;

        // Silence again: null.
        let mark = cem.mark();
        ben.set_audio_level(SILENT);
        announced(&mut cem, mark, None).await;

        // Only changes were sent, never the same twice in a row.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let seen = speaker_messages(&cem);
        assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&Value::Null), "{seen:?}");
        assert!(seen.len() <= 6, "flicker: {seen:?}");
        for c in [&anna, &ben, &cem] {
            c.assert_no_problems();
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_held_back_by_a_mute_does_not_make_a_speaker() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut moderator = TestClient::join(addr, "stille", "Mod").await;
        let mut loud = TestClient::join_with(addr, "stille", "Loud", speaker_options())
            .await
            .unwrap();
        let l = loud.id.clone();
        moderator
            .wait_media_from(&l, Kind::Audio, FLOWING, MEDIA_WITHIN)
            .await;
        let mark = loud.mark();
        moderator.send_json(json!({"type": "muteParticipant", "id": l}));
        loud.wait_message_since(mark, MEDIA_WITHIN, "muted", |m| m["type"] == "muted")
            .await;
        loud.set_audio_level(SPEAKING);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            speaker_messages(&moderator).is_empty(),
            "a muted participant was announced: {:?}",
            speaker_messages(&moderator)
        );
        // Unmuted by itself: announced.
        let mark = moderator.mark();
        loud.send_json(json!({"type": "mediaState", "audio": true, "video": true}));
        announced(&mut moderator, mark, Some(&l)).await;
        server.shutdown().await;
    })
    .await;
}
