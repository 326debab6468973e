//! Keepalive (docs/protocol.md, "Keepalive and close codes"), with short
//! times: after `signaling.ping_after_secs` of silence the server sends
//! `ping`; after `signaling.timeout_secs` it closes with 4000 and the others
//! see the silent participant leave. Answering pings, or any other message,
//! keeps a connection; participants whose clients answer keep talking.

mod common;

use common::socket::Incoming;
use common::{Bystanders, RawSocket, within};
use serde_json::json;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(45);
const PING_AFTER: u64 = 1;
const TIMEOUT: u64 = 3;

fn keepalive_config() -> funkraum::Config {
    let mut config = common::server::test_config();
    config.signaling.ping_after_secs = PING_AFTER;
    config.signaling.timeout_secs = TIMEOUT;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_participant_is_pinged_then_dropped_and_the_others_are_told() {
    within(LIMIT, async {
        let server = common::server::start(keepalive_config()).await;
        let mut room = Bystanders::start(server.http_addr, "ruhig").await;

        let mut silent = RawSocket::connect(server.http_addr).await;
        let joined = silent.join(&room.room, "Silent").await;
        let silent_since = Instant::now();
        let silent_id = joined["id"].as_str().unwrap().to_string();
        let marks = room.marks_after_join(&silent_id).await;

        // Only a ping, once, between ping_after and timeout; then the close.
        let mut pinged_after = None;
        let code = loop {
            match silent.next_within(Duration::from_secs(TIMEOUT + 3)).await {
                Some(Incoming::Message(m)) if m["type"] == "ping" => {
                    assert!(pinged_after.is_none(), "pinged once, not again");
                    pinged_after = Some(silent_since.elapsed());
                }
                // Others' tracks offered to Silent, who never answers, and
                // whose video the server forwards: news, not a reply.
                Some(Incoming::Message(m)) if m["type"] == "offer" => {}
                Some(Incoming::Message(m)) if m["type"] == "videoForwarded" => {}
                Some(Incoming::Closed(code)) => break code,
                other => panic!("unexpected while silent: {other:?}"),
            }
        };
        let closed_after = silent_since.elapsed();
        let pinged_after = pinged_after.expect("the server pinged before dropping");
        eprintln!("pinged after {pinged_after:?}, closed after {closed_after:?}");
        assert_eq!(code, Some(4000), "keepalive timeout closes with 4000");
        assert!(
            pinged_after >= Duration::from_millis(PING_AFTER * 1000 - 100)
                && pinged_after < Duration::from_secs(TIMEOUT),
            "pinged after {pinged_after:?}"
        );
        assert!(
            closed_after >= Duration::from_millis(TIMEOUT * 1000 - 100)
                && closed_after < Duration::from_secs(TIMEOUT + 2),
            "closed after {closed_after:?}"
        );

        // The others were told, and their clients, which answer pings, are
        // still there well past the timeout and still talking.
        room.a
            .wait_message_since(marks.0, Duration::from_secs(3), "Silent leaving", |m| {
                m["type"] == "participantLeft" && m["id"] == silent_id.as_str()
            })
            .await;
        assert_eq!(server.counts(), (1, 2));
        let pinged = room
            .a
            .messages()
            .iter()
            .filter(|m| m["type"] == "ping")
            .count();
        assert!(pinged >= 1, "Alice's client was pinged too (and answered)");
        room.assert_still_talking().await;
        room.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_that_never_joined_is_dropped_too() {
    within(LIMIT, async {
        let server = common::server::start(keepalive_config()).await;
        let mut lurker = RawSocket::connect(server.http_addr).await;
        assert_eq!(lurker.wait_for_type("ping").await["type"], "ping");
        lurker.expect_close(4000).await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_pings_keeps_a_connection() {
    within(LIMIT, async {
        let server = common::server::start(keepalive_config()).await;
        let mut polite = RawSocket::connect(server.http_addr).await;
        polite.join("ruhig", "Polite").await;
        let until = Instant::now() + Duration::from_secs(TIMEOUT + 2);
        let mut pings = 0;
        while Instant::now() < until {
            match polite.next_within(Duration::from_millis(200)).await {
                None => {}
                Some(Incoming::Message(m)) if m["type"] == "ping" => {
                    pings += 1;
                    polite.send_json(json!({"type": "pong"})).await;
                }
                Some(Incoming::Message(m)) if m["type"] == "videoForwarded" => {}
                other => panic!("unexpected: {other:?}"),
            }
        }
        assert!(pings >= 2, "pinged after every second of silence: {pings}");
        polite.assert_alive().await;
        assert_eq!(server.counts(), (1, 1));
        polite.close().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pings_on_its_own_is_never_pinged() {
    within(LIMIT, async {
        let server = common::server::start(keepalive_config()).await;
        let mut chatty = RawSocket::connect(server.http_addr).await;
        chatty.join("ruhig", "Chatty").await;
        let until = Instant::now() + Duration::from_secs(TIMEOUT + 1);
        while Instant::now() < until {
            chatty.send_json(json!({"type": "ping"})).await;
            let reply = chatty
                .wait_for("pong", |m| m["type"] != "videoForwarded")
                .await;
            assert_eq!(reply, json!({"type": "pong"}));
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        chatty.expect_quiet(Duration::from_millis(300)).await;
        assert!(
            !chatty
                .log
                .iter()
                .any(|m| matches!(m, Incoming::Message(m) if m["type"] == "ping")),
            "any message counts as a sign of life"
        );
        chatty.close().await;
        server.shutdown().await;
    })
    .await;
}
