//! Room names and nicknames that break the rules of docs/protocol.md
//! ("Names") are refused with `invalid-room` / `invalid-nickname`; the
//! connection stays usable and can join with a good name afterwards, and a
//! conference going on meanwhile notices nothing. Names that normalise
//! alike meet in one room.

mod common;

use common::socket::join_message;
use common::{Bystanders, RawSocket, within};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(45);

fn invalid_rooms() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("only spaces", "   ".into()),
        ("65 characters", "a".repeat(65)),
        ("65 characters, not ASCII", "ä".repeat(65)),
        ("a slash", "a/b".into()),
        ("a dot-dot path", "../etc".into()),
        ("a space inside", "two words".into()),
        ("a question mark", "room?x=1".into()),
        ("a percent sign", "100%".into()),
        ("an emoji", "party🎉".into()),
        ("a leading dot", ".hidden".into()),
        ("a control character", "room\u{0007}".into()),
        ("a NUL", "room\u{0000}x".into()),
        ("a bidi override", "abc\u{202E}def".into()),
        ("a zero-width space", "ab\u{200B}c".into()),
        ("reserved: ws", "ws".into()),
        ("reserved: assets", "assets".into()),
        ("reserved: healthz, upper case", "HEALTHZ".into()),
        ("reserved: privacy, padded", "  privacy ".into()),
        ("reserved: metrics", "metrics".into()),
    ]
}

fn invalid_nicknames() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("only white space", " \t \n ".into()),
        ("33 characters", "n".repeat(33)),
        ("33 characters, not ASCII", "ö".repeat(33)),
        ("a bell", "ding\u{0007}dong".into()),
        ("an escape sequence", "\u{001b}[31mred".into()),
        ("a NUL", "nul\u{0000}".into()),
        ("DEL", "del\u{007f}".into()),
        ("a C1 control", "c1\u{009b}x".into()),
        ("a right-to-left override", "evil\u{202E}lmth.exe".into()),
        ("a left-to-right embedding", "\u{202A}x".into()),
        ("a bidi isolate", "\u{2066}iso\u{2069}".into()),
        ("a right-to-left mark", "mark\u{200F}".into()),
        ("an Arabic letter mark", "a\u{061C}b".into()),
        ("a zero-width space", "zero\u{200B}width".into()),
        ("a byte order mark", "\u{FEFF}bom".into()),
        ("an interlinear annotation", "\u{FFF9}note\u{FFFB}".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_room_names_are_refused_and_nothing_changes() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.messages_per_second = 1000;
        config.limits.message_burst = 1000;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "hafen").await;
        let marks = room.marks();
        let mut socket = RawSocket::connect(server.http_addr).await;
        for (why, name) in invalid_rooms() {
            socket.send_json(join_message(&name, "Nick")).await;
            let e = socket.expect_error_not_fatal("invalid-room").await;
            eprintln!("room with {why} → {}", e["message"]);
        }
        assert_eq!(server.counts(), (1, 2), "no room was created");
        // The longest allowed name works, and the connection was never
        // half-joined: this first good join succeeds.
        let longest = "b".repeat(64);
        let joined = socket.join(&longest, "Nick").await;
        assert_eq!(joined["room"], longest.as_str());
        assert_eq!(server.counts(), (2, 3));
        room.assert_undisturbed_since(marks).await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_nicknames_are_refused_and_nothing_changes() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.messages_per_second = 1000;
        config.limits.message_burst = 1000;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "hafen").await;
        let marks = room.marks();
        let mut socket = RawSocket::connect(server.http_addr).await;
        for (why, nickname) in invalid_nicknames() {
            // Into the bystanders' room: a refused join must not enter it.
            socket.send_json(join_message(&room.room, &nickname)).await;
            let e = socket.expect_error_not_fatal("invalid-nickname").await;
            eprintln!("nickname with {why} → {}", e["message"]);
        }
        // Both bad: the room is checked first, either error is right.
        socket.send_json(join_message("", "")).await;
        let e = socket.wait_for_type("error").await;
        assert!(
            matches!(
                e["code"].as_str(),
                Some("invalid-room" | "invalid-nickname")
            ),
            "{e}"
        );
        assert_eq!(server.counts(), (1, 2), "nobody entered");
        assert_eq!(room.room_news_since(marks), Vec::<serde_json::Value>::new());

        // Normalised, then accepted: white space collapses, NFC composes,
        // the zero-width joiner of emoji sequences stays, 32 characters fit.
        let joined = socket
            .join(&room.room, "  Jo \t  Ann\u{0065}\u{0301}e  ")
            .await;
        assert_eq!(joined["nickname"], "Jo Ann\u{00e9}e");
        let seen = room
            .a
            .wait_message_since(marks.0, Duration::from_secs(3), "the newcomer", |m| {
                m["type"] == "participantJoined"
            })
            .await;
        assert_eq!(seen["participant"]["nickname"], "Jo Ann\u{00e9}e");
        for nickname in [
            "n".repeat(32),
            "👩\u{200D}💻 Dev".to_string(),
            "O'Brien <b>&amp;".to_string(),
        ] {
            let mut other = RawSocket::connect(server.http_addr).await;
            let joined = other.join("elsewhere", &nickname).await;
            assert_eq!(joined["nickname"], nickname.as_str());
        }
        room.assert_still_talking().await;
        room.shutdown_with(server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_names_that_normalise_alike_are_one_room() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        // "Café" composed, decomposed, in upper case and padded.
        let spellings = [
            "caf\u{00e9}",
            "cafe\u{0301}",
            "CAF\u{00c9}",
            "  Caf\u{00e9} ",
        ];
        let mut sockets = Vec::new();
        let mut ids = Vec::new();
        for (i, name) in spellings.iter().enumerate() {
            let mut s = RawSocket::connect(server.http_addr).await;
            let joined = s.join(name, &format!("Guest {i}")).await;
            assert_eq!(joined["room"], "caf\u{00e9}", "{name:?} is normalised");
            assert_eq!(
                joined["participants"].as_array().unwrap().len(),
                i,
                "{name:?} meets everyone who came before"
            );
            ids.push(joined["id"].as_str().unwrap().to_string());
            sockets.push(s);
        }
        assert_eq!(server.counts(), (1, 4));
        let mut ids_sorted = ids.clone();
        ids_sorted.sort();
        ids_sorted.dedup();
        assert_eq!(ids_sorted.len(), 4, "ids are distinct");
        for id in &ids {
            assert_eq!(id.len(), 16, "ids are 16 hex digits: {id}");
            assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        }
        server.shutdown().await;
    })
    .await;
}
