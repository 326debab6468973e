//! Moderation without accounts (docs/protocol.md, "Moderation"): who is a
//! moderator (the creator with the secret, or the first participant), what
//! a moderator can do — mute (the server stops forwarding the target's
//! audio until the target itself switches it on), remove (4004), lock with
//! a password, hand moderation on — that nobody else can, and that a room
//! never stays without a moderator.

mod common;

use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, RawSocket, TestClient, within};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const SECRET: &str = "c0ffee-8f2e-4b1d-secret";

async fn join_raw(
    addr: SocketAddr,
    room: &str,
    nickname: &str,
    extra: Value,
) -> (RawSocket, Value) {
    let mut s = RawSocket::connect(addr).await;
    let mut join = common::socket::join_message(room, nickname);
    for (k, v) in extra.as_object().unwrap() {
        join[k] = v.clone();
    }
    s.send_json(join).await;
    let reply = s.next_message().await;
    (s, reply)
}

fn with_secret() -> ClientOptions {
    ClientOptions {
        join_fields: Some(json!({"moderatorSecret": SECRET})),
        ..ClientOptions::default()
    }
}

fn moderator_flag(joined: &Value, id: &str) -> bool {
    joined["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {joined}"))["moderator"]
        .as_bool()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_moderates_and_what_others_may_not_do() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;

        // The creator with a secret moderates; a plain joiner does not; a
        // later joiner with the same secret does too.
        let (mut creator, joined) = join_raw(
            addr,
            "vorstand",
            "Creator",
            json!({"moderatorSecret": SECRET}),
        )
        .await;
        assert_eq!(joined["moderator"], true, "{joined}");
        assert_eq!(joined["locked"], false);
        let creator_id = joined["id"].as_str().unwrap().to_string();
        let (mut guest, joined) = join_raw(addr, "vorstand", "Guest", json!({})).await;
        assert_eq!(joined["moderator"], false);
        assert!(
            moderator_flag(&joined, &creator_id),
            "others see who moderates"
        );
        let guest_id = joined["id"].as_str().unwrap().to_string();
        let (mut guesser, joined) = join_raw(
            addr,
            "vorstand",
            "Guesser",
            json!({"moderatorSecret": "wrong"}),
        )
        .await;
        assert_eq!(joined["moderator"], false);
        let (_co, joined) =
            join_raw(addr, "vorstand", "Co", json!({"moderatorSecret": SECRET})).await;
        assert_eq!(joined["moderator"], true);
        assert!(!moderator_flag(&joined, &guest_id));

        // A room without a secret: its first participant moderates.
        let (_first, joined) = join_raw(addr, "offen", "First", json!({})).await;
        assert_eq!(joined["moderator"], true);
        let (_second, joined) =
            join_raw(addr, "offen", "Second", json!({"moderatorSecret": SECRET})).await;
        assert_eq!(
            joined["moderator"], false,
            "a secret given later is no secret of the room"
        );

        // A non-moderator's moderation messages are refused, whatever the target.
        for m in [
            json!({"type": "muteParticipant", "id": creator_id}),
            json!({"type": "removeParticipant", "id": creator_id}),
            json!({"type": "grantModerator", "id": guest_id}),
            json!({"type": "lockRoom", "password": "mine"}),
            json!({"type": "unlockRoom"}),
            json!({"type": "muteParticipant", "id": "not-an-id"}),
            json!({"type": "removeParticipant", "id": "00000000000000ff"}),
        ] {
            guest.send_json(m.clone()).await;
            guest.expect_error_not_fatal("not-moderator").await;
        }
        // A moderator naming nobody in the room (or itself) gets bad-target.
        for m in [
            json!({"type": "muteParticipant", "id": "00000000000000ff"}),
            json!({"type": "removeParticipant", "id": "not-an-id"}),
            json!({"type": "grantModerator", "id": creator_id}),
        ] {
            creator.send_json(m.clone()).await;
            creator.expect_error_not_fatal("bad-target").await;
        }
        creator
            .send_json(json!({"type": "lockRoom", "password": ""}))
            .await;
        creator.expect_error_not_fatal("bad-message").await;
        creator
            .send_json(json!({"type": "lockRoom", "password": "x".repeat(65)}))
            .await;
        creator.expect_error_not_fatal("bad-message").await;
        // Before joining, it is not-joined.
        let mut outsider = RawSocket::connect(addr).await;
        outsider.send_json(json!({"type": "unlockRoom"})).await;
        outsider.expect_error_not_fatal("not-joined").await;
        assert_eq!(server.counts(), (2, 6), "nothing changed");
        guesser.assert_alive().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_participant_is_not_heard_until_it_unmutes_itself() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut moderator = TestClient::join_with(addr, "chor", "Mod", with_secret())
            .await
            .unwrap();
        let mut singer = TestClient::join(addr, "chor", "Singer").await;
        let mut listener = TestClient::join(addr, "chor", "Listener").await;
        let singer_id = singer.id.clone();
        for c in [&mut moderator, &mut listener] {
            c.wait_media_from(&singer_id, Kind::Audio, FLOWING, MEDIA_WITHIN)
                .await;
        }

        let marks = (moderator.mark(), singer.mark(), listener.mark());
        moderator.send_json(json!({"type": "muteParticipant", "id": singer_id}));
        let muted = singer
            .wait_message_since(marks.1, MEDIA_WITHIN, "muted", |m| m["type"] == "muted")
            .await;
        assert_eq!(muted["by"], moderator.id.as_str());
        // Everyone else sees the microphone off.
        for (c, mark) in [(&mut moderator, marks.0), (&mut listener, marks.2)] {
            c.wait_message_since(mark, MEDIA_WITHIN, "the singer shown muted", |m| {
                m["type"] == "participantUpdated"
                    && m["participant"]["id"] == singer_id.as_str()
                    && m["participant"]["audio"] == false
            })
            .await;
        }
        // The singer's client keeps sending; the server forwards no audio
        // of it (a few packets may have been under way), video still flows.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let audio_before = listener.received(&singer_id, Kind::Audio);
        let video_before = listener.received(&singer_id, Kind::Video);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let audio_after = listener.received(&singer_id, Kind::Audio);
        assert!(
            audio_after - audio_before <= 2,
            "muted audio was forwarded: {audio_before} -> {audio_after}"
        );
        assert!(listener.received(&singer_id, Kind::Video) >= video_before + FLOWING);
        assert!(moderator.received(&singer_id, Kind::Audio) <= audio_after + 5);
        // Switching the camera changes nothing about the mute.
        singer.send_json(json!({"type": "mediaState", "audio": false, "video": true}));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let still = listener.received(&singer_id, Kind::Audio);
        assert!(still - audio_after <= 2, "{audio_after} -> {still}");

        // The singer switches the microphone on again: heard again.
        singer.send_json(json!({"type": "mediaState", "audio": true, "video": true}));
        listener
            .wait_media_from(&singer_id, Kind::Audio, still + FLOWING, MEDIA_WITHIN)
            .await;
        for c in [&moderator, &singer, &listener] {
            c.assert_no_problems();
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_participant_is_closed_out_with_4004() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut moderator = TestClient::join_with(addr, "saal", "Mod", with_secret())
            .await
            .unwrap();
        let mut troll = TestClient::join(addr, "saal", "Troll").await;
        let mut other = TestClient::join(addr, "saal", "Other").await;
        let troll_id = troll.id.clone();
        other
            .wait_media_from(&troll_id, Kind::Video, FLOWING, MEDIA_WITHIN)
            .await;

        let marks = (moderator.mark(), other.mark());
        moderator.send_json(json!({"type": "removeParticipant", "id": troll_id}));
        assert_eq!(troll.wait_closed(MEDIA_WITHIN).await, Some(4004));
        let error = troll
            .messages()
            .into_iter()
            .find(|m| m["type"] == "error")
            .expect("the removed participant is told why");
        assert_eq!(error["code"], "removed");
        assert_eq!(error["fatal"], true);
        for (c, mark) in [(&mut moderator, marks.0), (&mut other, marks.1)] {
            c.wait_message_since(mark, MEDIA_WITHIN, "the troll leaving", |m| {
                m["type"] == "participantLeft" && m["id"] == troll_id.as_str()
            })
            .await;
        }
        assert_eq!(server.counts(), (1, 2));
        // Its media is gone for the others.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = other.received(&troll_id, Kind::Video);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(other.received(&troll_id, Kind::Video) <= before + 2);
        // The conference goes on.
        let (m_id, o_id) = (moderator.id.clone(), other.id.clone());
        let n = other.received(&m_id, Kind::Audio);
        other
            .wait_media_from(&m_id, Kind::Audio, n + FLOWING, MEDIA_WITHIN)
            .await;
        let n = moderator.received(&o_id, Kind::Audio);
        moderator
            .wait_media_from(&o_id, Kind::Audio, n + FLOWING, MEDIA_WITHIN)
            .await;
        troll.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_admits_only_with_the_password_or_the_secret() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let (mut creator, joined) = join_raw(
            addr,
            "geheimrat",
            "Creator",
            json!({"moderatorSecret": SECRET}),
        )
        .await;
        let creator_id = joined["id"].as_str().unwrap().to_string();
        let (mut member, _) = join_raw(addr, "geheimrat", "Member", json!({})).await;

        creator
            .send_json(json!({"type": "lockRoom", "password": "Sesam öffne dich"}))
            .await;
        for s in [&mut creator, &mut member] {
            let m = s.wait_for_type("roomLocked").await;
            assert_eq!(m["locked"], true);
            assert_eq!(m["by"], creator_id.as_str());
        }

        // One connection may try again after each refusal.
        let mut knocker = RawSocket::connect(addr).await;
        knocker
            .send_json(common::socket::join_message("geheimrat", "Knocker"))
            .await;
        knocker.expect_error_not_fatal("room-locked").await;
        for wrong in ["sesam öffne dich", "Sesam öffne dich ", "x"] {
            let mut join = common::socket::join_message("Geheimrat", "Knocker");
            join["password"] = json!(wrong);
            knocker.send_json(join).await;
            knocker.expect_error_not_fatal("wrong-password").await;
        }
        assert_eq!(server.counts(), (1, 2), "nobody got in");
        let mut join = common::socket::join_message("geheimrat", "Knocker");
        join["password"] = json!("Sesam öffne dich");
        knocker.send_json(join).await;
        let joined = knocker.wait_for_type("joined").await;
        assert_eq!(joined["locked"], true);
        assert_eq!(joined["moderator"], false);

        // A moderator with the secret needs no password.
        let (_co, joined) =
            join_raw(addr, "geheimrat", "Co", json!({"moderatorSecret": SECRET})).await;
        assert_eq!(joined["type"], "joined", "{joined}");
        assert_eq!(joined["moderator"], true);
        // Other rooms are not affected.
        let (_x, joined) = join_raw(addr, "anderswo", "X", json!({})).await;
        assert_eq!(joined["locked"], false);

        creator.send_json(json!({"type": "unlockRoom"})).await;
        let m = member
            .wait_for("unlocked", |m| {
                m["type"] == "roomLocked" && m["locked"] == false
            })
            .await;
        assert_eq!(m["by"], creator_id.as_str());
        let (_late, joined) = join_raw(addr, "geheimrat", "Late", json!({})).await;
        assert_eq!(joined["type"], "joined");
        assert_eq!(joined["locked"], false);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_is_handed_on_and_never_lost() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let (mut first, joined) = join_raw(addr, "staffel", "First", json!({})).await;
        assert_eq!(joined["moderator"], true);
        let (mut second, joined) = join_raw(addr, "staffel", "Second", json!({})).await;
        let second_id = joined["id"].as_str().unwrap().to_string();
        let (mut third, joined) = join_raw(addr, "staffel", "Third", json!({})).await;
        let third_id = joined["id"].as_str().unwrap().to_string();

        // Grant: everyone, the new moderator included, is told.
        first
            .send_json(json!({"type": "grantModerator", "id": third_id}))
            .await;
        for s in [&mut first, &mut second, &mut third] {
            let m = s
                .wait_for("third made moderator", |m| {
                    m["type"] == "participantUpdated" && m["participant"]["id"] == third_id.as_str()
                })
                .await;
            assert_eq!(m["participant"]["moderator"], true);
        }
        // The new moderator can moderate.
        third
            .send_json(json!({"type": "lockRoom", "password": "pw"}))
            .await;
        second.wait_for_type("roomLocked").await;
        third.send_json(json!({"type": "unlockRoom"})).await;
        second
            .wait_for("unlocked", |m| {
                m["type"] == "roomLocked" && m["locked"] == false
            })
            .await;

        // One of two moderators leaves: nobody new is made moderator.
        first.close().await;
        second.wait_for_type("participantLeft").await;
        // The last moderator leaves: the one present longest takes over.
        third.close().await;
        let m = second
            .wait_for("moderation handed on", |m| {
                m["type"] == "participantUpdated" && m["participant"]["id"] == second_id.as_str()
            })
            .await;
        assert_eq!(m["participant"]["moderator"], true);
        second
            .send_json(json!({"type": "lockRoom", "password": "mine"}))
            .await;
        let m = second.wait_for_type("roomLocked").await;
        assert_eq!(m["by"], second_id.as_str());
        server.shutdown().await;
    })
    .await;
}
