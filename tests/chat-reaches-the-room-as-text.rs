//! Chat: a message reaches everyone in the room (the sender too) exactly as
//! written — markup included, normalised only as docs/protocol.md says —
//! and nobody outside it; someone who joins later reads the room's recent
//! history; texts breaking the rules get `invalid-chat`, too many in a
//! minute `rate-limited`, and the conference goes on.

mod common;

use common::{RawSocket, within};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
const HOSTILE: &str = "<img src=x onerror=alert(1)> & <script>alert('x')</script> \"quoted\"";

async fn chat_of(s: &mut RawSocket) -> Value {
    s.wait_for("a chat message", |v| v["type"] == "chat").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_the_room_verbatim_and_late_joiners_read_the_history() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut anna = RawSocket::connect(addr).await;
        let joined = anna.join("kaffeeklatsch", "<b>Anna</b>").await;
        assert_eq!(joined["chat"], json!([]), "a new room has no history");
        let anna_id = joined["id"].as_str().unwrap().to_string();
        let mut ben = RawSocket::connect(addr).await;
        ben.join("kaffeeklatsch", "Ben").await;
        let mut elsewhere = RawSocket::connect(addr).await;
        elsewhere.join("nebenan", "Other").await;

        anna.send_json(json!({"type": "chat", "text": HOSTILE})).await;
        for s in [&mut anna, &mut ben] {
            let m = chat_of(s).await;
            assert_eq!(m["text"], HOSTILE, "delivered verbatim");
            assert_eq!(m["from"], anna_id.as_str());
            assert_eq!(m["nickname"], "<b>Anna</b>");
            assert_eq!(m["id"], 1);
            let time = m["time"].as_u64().expect("unix milliseconds");
            assert!(time > 1_600_000_000_000, "{time}");
        }
        // Normalised: trimmed, CRLF to LF, NFC; bidi marks and emoji kept.
        ben.send_json(json!({"type": "chat", "text": "  zwei\r\nZeilen Ku\u{0308}che 👩\u{200D}👩\u{200D}👧 \u{200F}שלום \n"}))
            .await;
        let m = chat_of(&mut anna).await;
        assert_eq!(m["text"], "zwei\nZeilen Küche 👩\u{200D}👩\u{200D}👧 \u{200F}שלום");
        assert_eq!(m["id"], 2);
        chat_of(&mut ben).await;
        // Nothing reached the other room.
        elsewhere.expect_quiet(Duration::from_millis(300)).await;

        // A late joiner gets the history, oldest first.
        let mut cem = RawSocket::connect(addr).await;
        let joined = cem.join("kaffeeklatsch", "Cem").await;
        let history = joined["chat"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["text"], HOSTILE);
        assert_eq!(history[0]["nickname"], "<b>Anna</b>");
        assert_eq!(history[1]["id"], 2);

        // The history goes with the room.
        for s in [anna, ben, cem] {
            s.close().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut later = RawSocket::connect(addr).await;
        let joined = later.join("kaffeeklatsch", "Later").await;
        assert_eq!(joined["chat"], json!([]), "{joined}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_rules_and_rate_are_enforced_without_harm() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.rooms.chat_max_chars = 20;
        config.rooms.chat_per_minute = 3;
        config.rooms.chat_history = 2;
        let server = common::server::start(config).await;
        let addr = server.http_addr;

        let mut stranger = RawSocket::connect(addr).await;
        stranger
            .send_json(json!({"type": "chat", "text": "hi"}))
            .await;
        stranger.expect_error_not_fatal("not-joined").await;

        let mut anna = RawSocket::connect(addr).await;
        anna.join("regeln", "Anna").await;
        let mut ben = RawSocket::connect(addr).await;
        ben.join("regeln", "Ben").await;
        for bad in [
            json!({"type": "chat", "text": ""}),
            json!({"type": "chat", "text": " \n\t "}),
            json!({"type": "chat", "text": "x".repeat(21)}),
            json!({"type": "chat", "text": "bell\u{7}"}),
            json!({"type": "chat", "text": "tab\there"}),
            json!({"type": "chat", "text": "\u{1b}[2Jclear"}),
        ] {
            anna.send_json(bad.clone()).await;
            let e = anna.expect_error_not_fatal("invalid-chat").await;
            assert!(!e["message"].as_str().unwrap().is_empty(), "{bad}");
        }
        anna.send_json(json!({"type": "chat", "text": 5})).await;
        anna.expect_error_not_fatal("bad-message").await;
        // Exactly the limit is fine (characters, not bytes).
        anna.send_json(json!({"type": "chat", "text": "ü".repeat(20)}))
            .await;
        assert_eq!(chat_of(&mut ben).await["text"], "ü".repeat(20));
        chat_of(&mut anna).await;
        for i in 0..2 {
            anna.send_json(json!({"type": "chat", "text": format!("m{i}")}))
                .await;
            chat_of(&mut ben).await;
            chat_of(&mut anna).await;
        }
        // The fourth within the minute is dropped.
        anna.send_json(json!({"type": "chat", "text": "too many"}))
            .await;
        let e = anna.expect_error_not_fatal("rate-limited").await;
        assert!(e["message"].as_str().unwrap().contains('3'), "{e}");
        ben.expect_quiet(Duration::from_millis(300)).await;
        // Ben has his own allowance.
        ben.send_json(json!({"type": "chat", "text": "mine"})).await;
        assert_eq!(chat_of(&mut anna).await["text"], "mine");
        chat_of(&mut ben).await;
        // None of the refused texts is in the (two-message) history.
        let mut cem = RawSocket::connect(addr).await;
        let joined = cem.join("regeln", "Cem").await;
        let texts: Vec<_> = joined["chat"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["m1", "mine"]);
        server.shutdown().await;
    })
    .await;
}
