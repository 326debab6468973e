//! Every input has a bound: messages beyond `limits.messages_per_second`
//! (after a burst of `limits.message_burst`) are dropped with one
//! `rate-limited` error a second; ten times the limit closes the connection
//! with 4002; connections per address are capped. A conference going on
//! meanwhile notices only that the flooder left.

mod common;

use common::socket::{Incoming, REPLY_WITHIN};
use common::{Bystanders, RawSocket, within};
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(45);
const PER_SECOND: u32 = 5;
const BURST: u32 = 20;

fn rate_config() -> funkraum::Config {
    let mut config = common::server::test_config();
    config.limits.messages_per_second = PER_SECOND;
    config.limits.message_burst = BURST;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_rate_are_dropped_with_one_error() {
    within(LIMIT, async {
        let server = common::server::start(rate_config()).await;
        let mut room = Bystanders::start(server.http_addr, "laut").await;
        let mut hasty = RawSocket::connect(server.http_addr).await;
        let joined = hasty.join(&room.room, "Hasty").await;
        let marks = room.marks_after_join(joined["id"].as_str().unwrap()).await;

        // Thirty pings at once: the burst is answered, one error says the
        // rest was dropped, and that is all (below the flood threshold).
        const SENT: u32 = 30;
        for _ in 0..SENT {
            hasty.send_json(json!({"type": "ping"})).await;
        }
        let (mut pongs, mut limited) = (0, 0);
        while let Some(incoming) = hasty.next_within(Duration::from_millis(700)).await {
            match incoming {
                Incoming::Message(m) if m["type"] == "pong" => pongs += 1,
                Incoming::Message(m) if m["type"] == "error" => {
                    assert_eq!(m["code"], "rate-limited", "{m}");
                    assert_eq!(m["fatal"], false, "{m}");
                    limited += 1;
                }
                Incoming::Message(m) if common::socket::is_room_news(&m) => {}
                other => panic!("unexpected: {other:?}"),
            }
        }
        eprintln!("{SENT} pings: {pongs} pongs, {limited} rate-limited errors");
        assert_eq!(limited, 1, "one error, not one per dropped message");
        // The join took one token; a few more trickle in while sending.
        assert!(
            (BURST - 1..SENT).contains(&pongs),
            "the burst passes and the rest is dropped: {pongs} pongs"
        );

        // After a pause the connection works as before.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        hasty.assert_alive().await;
        assert_eq!(server.counts(), (1, 3));
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_closes_the_connection_with_4002() {
    within(LIMIT, async {
        let server = common::server::start(rate_config()).await;
        let mut room = Bystanders::start(server.http_addr, "laut").await;

        // Text frames, and binary frames (refused, but counted all the same).
        for binary in [false, true] {
            let mut flooder = RawSocket::connect(server.http_addr).await;
            let joined = flooder.join(&room.room, "Flood").await;
            let id = joined["id"].as_str().unwrap().to_string();
            let marks = room.marks_after_join(&id).await;
            for _ in 0..20 * PER_SECOND {
                if binary {
                    flooder.send_binary(b"{\"type\":\"ping\"}".to_vec()).await;
                } else {
                    flooder.send_json(json!({"type": "ping"})).await;
                }
            }
            let code = flooder.wait_closed().await;
            assert_eq!(code, Some(4002), "binary: {binary}; {:?}", flooder.log);
            // Binary frames inside the burst each get `bad-message`; past
            // it, the flood is not answered message by message.
            let errors: Vec<&str> = flooder
                .log
                .iter()
                .filter_map(|m| match m {
                    Incoming::Message(m) if m["type"] == "error" => m["code"].as_str(),
                    _ => None,
                })
                .collect();
            let limited = errors.iter().filter(|c| **c == "rate-limited").count();
            assert!(limited <= 1, "{errors:?}");
            assert!(errors.len() <= BURST as usize + 1, "{errors:?}");
            room.a
                .wait_message_since(marks.0, REPLY_WITHIN, "the flooder leaving", |m| {
                    m["type"] == "participantLeft" && m["id"] == id.as_str()
                })
                .await;
        }
        assert_eq!(server.counts(), (1, 2));
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.max_connections_per_address = 4;
        let server = common::server::start(config).await;
        // Alice and Bob hold two of the four.
        let mut room = Bystanders::start(server.http_addr, "voll").await;
        let first = RawSocket::connect(server.http_addr).await;
        let _second = RawSocket::connect(server.http_addr).await;
        let refused =
            common::socket::connect_ws(common::socket::request(server.http_addr, None)).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 429, "{response:?}");
            }
            Err(e) => panic!("refused, but not with HTTP 429: {e}"),
            Ok(_) => panic!("a fifth connection from one address was accepted"),
        }
        // A slot given back is usable again.
        first.close().await;
        let deadline = tokio::time::Instant::now() + REPLY_WITHIN;
        loop {
            match common::socket::connect_ws(common::socket::request(server.http_addr, None)).await
            {
                Ok(_) => break,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the freed slot was not given back: {e}"),
            }
        }
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}
