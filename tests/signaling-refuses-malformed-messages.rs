//! Malformed signaling gets the documented error and nothing else: the
//! sender's connection stays usable (unless the error is fatal), the room
//! does not change, and the others in it keep talking.

mod common;

use common::socket::join_message;
use common::{Bystanders, RawSocket, within};
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(45);

/// Text that is not a JSON object with a string `type`, or a message with
/// a field missing or of the wrong type: `bad-message`, not fatal.
const BAD_MESSAGES: &[&str] = &[
    "{nope",
    "",
    "   ",
    "{\"type\":\"ping\"",
    "[1,2]",
    "\"join\"",
    "42",
    "null",
    "true",
    "{}",
    "{\"type\":5}",
    "{\"type\":null}",
    "{\"type\":[\"ping\"]}",
    "{\"kind\":\"ping\"}",
    // Fields missing or of the wrong type.
    "{\"type\":\"join\"}",
    "{\"type\":\"join\",\"version\":1,\"room\":\"r\"}",
    "{\"type\":\"join\",\"version\":\"1\",\"room\":\"r\",\"nickname\":\"n\"}",
    "{\"type\":\"join\",\"version\":1,\"room\":7,\"nickname\":\"n\"}",
    "{\"type\":\"join\",\"version\":-1,\"room\":\"r\",\"nickname\":\"n\"}",
    "{\"type\":\"join\",\"version\":1,\"room\":\"r\",\"nickname\":\"n\",\"audio\":\"yes\"}",
    "{\"type\":\"offer\"}",
    "{\"type\":\"offer\",\"sdp\":null}",
    "{\"type\":\"answer\",\"sdp\":{}}",
    "{\"type\":\"candidate\"}",
    "{\"type\":\"mediaState\",\"audio\":true}",
    "{\"type\":\"mediaState\",\"audio\":1,\"video\":0}",
];

/// A `type` that is not in the protocol: `unknown-type`, not fatal.
const UNKNOWN_TYPES: &[&str] = &[
    "{\"type\":\"dance\"}",
    "{\"type\":\"Join\"}",
    "{\"type\":\"JOIN\",\"version\":1,\"room\":\"r\",\"nickname\":\"n\"}",
    "{\"type\":\"joined\"}",
    "{\"type\":\"error\",\"code\":\"internal\"}",
    "{\"type\":\"participantLeft\",\"id\":\"0000000000000001\"}",
    "{\"type\":\"\"}",
    "{\"type\":\"ping \"}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_refused_and_the_room_carries_on() {
    within(LIMIT, async {
        // A ping follows every bad message here; the rate limit has a test
        // of its own.
        let mut config = common::server::test_config();
        config.limits.messages_per_second = 1000;
        config.limits.message_burst = 1000;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "werkstatt").await;
        let mut mallory = RawSocket::connect(server.http_addr).await;
        let joined = mallory.join(&room.room, "Mallory").await;
        let counts = server.counts();
        assert_eq!(counts, (1, 3));
        let marks = room.marks_after_join(joined["id"].as_str().unwrap()).await;

        for text in BAD_MESSAGES {
            mallory.send_text(*text).await;
            let e = mallory.expect_error_not_fatal("bad-message").await;
            eprintln!("{text:?} → {}", e["message"]);
        }
        for text in UNKNOWN_TYPES {
            mallory.send_text(*text).await;
            mallory.expect_error_not_fatal("unknown-type").await;
        }
        // A binary frame, even one holding valid JSON.
        mallory
            .send_binary(json!({"type": "ping"}).to_string().into_bytes())
            .await;
        mallory.expect_error_not_fatal("bad-message").await;
        mallory.send_binary(vec![0, 159, 146, 150]).await;
        mallory.expect_error_not_fatal("bad-message").await;

        // Nothing changed: Mallory is still in the room, nobody was told
        // anything, and the conference goes on.
        assert_eq!(server.counts(), counts);
        room.assert_undisturbed_since(marks).await;
        mallory.send_json(json!({"type": "leave"})).await;
        mallory.expect_close(1000).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_before_join_are_refused_and_the_connection_can_still_join() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut socket = RawSocket::connect(server.http_addr).await;
        for text in BAD_MESSAGES.iter().take(8) {
            socket.send_text(*text).await;
            socket.expect_error_not_fatal("bad-message").await;
        }
        socket.send_text("{\"type\":\"dance\"}").await;
        socket.expect_error_not_fatal("unknown-type").await;
        socket.send_binary(b"binary".to_vec()).await;
        socket.expect_error_not_fatal("bad-message").await;
        assert_eq!(server.counts(), (0, 0), "nobody joined");
        socket.join("werkstatt", "Late").await;
        assert_eq!(server.counts(), (1, 1));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_for_a_room_before_joining_one_are_refused() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "werkstatt").await;
        let marks = room.marks();
        let mut early = RawSocket::connect(server.http_addr).await;
        let before_join = [
            json!({"type": "offer", "sdp": "v=0\r\n"}),
            json!({"type": "answer", "sdp": "v=0\r\n"}),
            json!({"type": "candidate", "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"}),
            json!({"type": "candidate", "candidate": ""}),
            json!({"type": "mediaState", "audio": false, "video": false}),
        ];
        for m in before_join {
            early.send_json(m.clone()).await;
            let e = early.expect_error_not_fatal("not-joined").await;
            eprintln!("{} before join → {}", m["type"], e["message"]);
        }
        assert_eq!(server.counts(), (1, 2));
        // A ping is fine before joining.
        early.assert_alive().await;
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_join_on_the_same_connection_is_refused() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "werkstatt").await;
        let mut twice = RawSocket::connect(server.http_addr).await;
        let joined = twice.join(&room.room, "Twice").await;
        let id = joined["id"].as_str().unwrap().to_string();
        assert_eq!(server.counts(), (1, 3));
        let marks = room.marks_after_join(&id).await;

        // Again into the same room, into another room, under another name.
        for (r, n) in [
            (room.room.as_str(), "Twice"),
            ("elsewhere", "Twice"),
            (room.room.as_str(), "Someone else"),
        ] {
            twice.send_json(join_message(r, n)).await;
            twice.expect_error_not_fatal("already-joined").await;
        }
        assert_eq!(server.counts(), (1, 3), "still one room, three people");
        assert_eq!(room.room_news_since(marks), Vec::<serde_json::Value>::new());
        // Still the same participant: leaving now tells the others about `id`.
        twice.send_json(json!({"type": "leave"})).await;
        twice.expect_close(1000).await;
        let a = &mut room.a;
        let left = a
            .wait_message_since(marks.0, Duration::from_secs(3), "participantLeft", |m| {
                m["type"] == "participantLeft"
            })
            .await;
        assert_eq!(left["id"], id.as_str());
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_protocol_version_is_refused_and_closed() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let mut room = Bystanders::start(server.http_addr, "werkstatt").await;
        let marks = room.marks();
        for version in [0, 2, 99, u32::MAX as u64] {
            let mut future = RawSocket::connect(server.http_addr).await;
            future
                .send_json(json!({
                    "type": "join", "version": version,
                    "room": room.room, "nickname": "Future",
                }))
                .await;
            let e = future.expect_error("unsupported-version").await;
            assert_eq!(e["fatal"], true, "{e}");
            let code = future.wait_closed().await;
            assert!(code.is_some(), "closed with a close frame");
        }
        assert_eq!(server.counts(), (1, 2), "nobody got in");
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_with_close_1009() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.max_message_bytes = 16_384;
        let limit = config.limits.max_message_bytes as usize;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "werkstatt").await;

        // Exactly at the limit is fine (a ping padded with an unknown field,
        // which the protocol says to ignore).
        let mut fits = RawSocket::connect(server.http_addr).await;
        let padding = limit - r#"{"type":"ping","pad":""}"#.len();
        fits.send_text(format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(padding)
        ))
        .await;
        assert_eq!(fits.next_message().await["type"], "pong");

        // One byte over, from a participant of the room: refused, closed,
        // and the others see it leave.
        let mut big = RawSocket::connect(server.http_addr).await;
        let joined = big.join(&room.room, "Big").await;
        let big_id = joined["id"].as_str().unwrap().to_string();
        let marks = room.marks();
        big.send_text(format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(padding + 1)
        ))
        .await;
        let e = big.expect_error("too-large").await;
        assert_eq!(e["fatal"], true, "{e}");
        big.expect_close(1009).await;
        room.a
            .wait_message_since(marks.0, Duration::from_secs(3), "Big leaving", |m| {
                m["type"] == "participantLeft" && m["id"] == big_id.as_str()
            })
            .await;

        // Far over, beyond the cap of the WebSocket library (twice the
        // limit), which stops reading at the frame header: the connection
        // ends. The server sends `too-large` and close 1009, but as it
        // drops a connection with unread data, the kernel may answer with
        // a reset that overtakes them; so only an ended connection is
        // asserted here.
        let mut huge = RawSocket::connect(server.http_addr).await;
        huge.join(&room.room, "Huge").await;
        huge.send_text("x".repeat(limit * 4)).await;
        let code = huge.wait_closed().await;
        assert!(matches!(code, None | Some(1009)), "closed with {code:?}");
        for m in &huge.log {
            if let common::socket::Incoming::Message(m) = m
                && m["type"] == "error"
            {
                assert_eq!(m["code"], "too-large", "{m}");
            }
        }

        // A binary frame over the limit, too.
        let mut binary = RawSocket::connect(server.http_addr).await;
        binary.send_binary(vec![b'x'; limit + 1]).await;
        binary.expect_close(1009).await;

        room.assert_still_talking().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while server.counts() != (1, 2) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.counts(), (1, 2), "only the two who behaved are left");
        room.shutdown_with(server).await;
    })
    .await;
}
