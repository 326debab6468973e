//! Leaving without `leave`: a participant whose socket and media simply end
//! (a closed laptop, a lost network) is gone for the others at once; one
//! whose media dies while its signaling lingers is dropped with
//! `media-failed` (close 4001) as soon as the server notices. Either way the others are told, its tracks
//! are withdrawn, and they keep talking.

mod common;

use common::{Bystanders, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Waits until both bystanders got `participantLeft` for `id` and a server
/// offer without its tracks.
async fn wait_gone(room: &mut Bystanders, marks: (usize, usize), id: &str, within: Duration) {
    for (client, mark) in [(&mut room.a, marks.0), (&mut room.b, marks.1)] {
        client
            .wait_message_since(mark, within, "participantLeft", |m| {
                m["type"] == "participantLeft" && m["id"] == id
            })
            .await;
        client
            .wait_message_since(mark, within, "an offer without its tracks", |m| {
                m["type"] == "offer"
                    && m["tracks"]
                        .as_array()
                        .is_some_and(|t| t.iter().all(|t| t["participant"] != id))
            })
            .await;
    }
}

/// Alice and Bob talking in a room, and Cleo, who joined them and already
/// receives Alice's `kind`.
async fn cleo_joins_a_conversation(kind: Kind) -> (funkraum::Server, Bystanders, TestClient) {
    let server = common::server::start_default().await;
    let room = Bystanders::start(server.http_addr, "flur").await;
    let mut c = TestClient::join(server.http_addr, &room.room, "Cleo").await;
    c.wait_media_from(&room.a.id, kind, FLOWING, MEDIA_WITHIN)
        .await;
    (server, room, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_just_disappears_is_gone_for_the_others_within_a_second() {
    within(LIMIT, async {
        let (server, mut room, c) = cleo_joins_a_conversation(Kind::Video).await;
        let c_id = c.id.clone();
        room.a
            .wait_media_from(&c_id, Kind::Video, FLOWING, MEDIA_WITHIN)
            .await;
        let marks = room.marks();

        let gone_at = Instant::now();
        c.vanish().await;
        wait_gone(&mut room, marks, &c_id, Duration::from_secs(3)).await;
        let took = gone_at.elapsed();
        eprintln!("a vanished participant was gone for the others after {took:?}");
        assert!(took < Duration::from_secs(1), "took {took:?}");
        assert_eq!(server.counts(), (1, 2));
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_whose_media_dies_is_dropped_with_media_failed() {
    within(LIMIT, async {
        let (server, mut room, mut c) = cleo_joins_a_conversation(Kind::Audio).await;
        let c_id = c.id.clone();
        let marks = room.marks();
        let c_mark = c.mark();

        let died_at = Instant::now();
        c.close_media().await;
        let e = c
            .wait_message_since(c_mark, Duration::from_secs(40), "media-failed", |m| {
                m["type"] == "error"
            })
            .await;
        eprintln!("media-failed after {:?}", died_at.elapsed());
        assert_eq!(e["code"], "media-failed", "{e}");
        assert_eq!(e["fatal"], true, "{e}");
        assert_eq!(c.wait_closed(Duration::from_secs(3)).await, Some(4001));
        wait_gone(&mut room, marks, &c_id, Duration::from_secs(3)).await;
        assert_eq!(server.counts(), (1, 2));
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}
