//! The limits on participants per room, rooms per server and participants
//! per server: a join over one is refused with `room-full` / `server-full`
//! (not fatal: the connection may try elsewhere), the conference in the full
//! room notices nothing, and space freed by someone leaving is usable again.

mod common;

use common::{Bystanders, RawSocket, within};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(45);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_the_next_participant() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.max_participants_per_room = 2;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "klein").await;
        let marks = room.marks();

        let mut third = RawSocket::connect(server.http_addr).await;
        for spelling in ["klein", "KLEIN", " Klein "] {
            third
                .send_json(common::socket::join_message(spelling, "Third"))
                .await;
            let e = third.expect_error_not_fatal("room-full").await;
            assert!(
                e["message"].as_str().unwrap().contains('2'),
                "the message names the limit: {e}"
            );
        }
        assert_eq!(server.counts(), (1, 2));
        assert_eq!(room.room_news_since(marks), Vec::<serde_json::Value>::new());
        room.assert_still_talking().await;

        // The refused connection may go to another room.
        let joined = third.join("nebenan", "Third").await;
        assert_eq!(joined["participants"].as_array().unwrap().len(), 0);
        assert_eq!(server.counts(), (2, 3));

        // When someone leaves, there is space again.
        let Bystanders { a, mut b, .. } = room;
        a.leave().await;
        let mut fourth = RawSocket::connect(server.http_addr).await;
        let joined = fourth.join("klein", "Fourth").await;
        assert_eq!(joined["participants"][0]["id"], b.id.as_str());
        b.wait_message_since(0, Duration::from_secs(3), "the newcomer", |m| {
            m["type"] == "participantJoined" && m["participant"]["nickname"] == "Fourth"
        })
        .await;
        b.assert_no_problems();
        b.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_room_beyond_its_limit() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.max_rooms = 1;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "einzig").await;
        let marks = room.marks();

        let mut other = RawSocket::connect(server.http_addr).await;
        for name in ["zweiter", "dritter"] {
            other
                .send_json(common::socket::join_message(name, "Other"))
                .await;
            other.expect_error_not_fatal("server-full").await;
        }
        assert_eq!(server.counts(), (1, 2), "no second room");
        // The one room that exists still takes people.
        let joined = other.join("einzig", "Other").await;
        assert_eq!(joined["participants"].as_array().unwrap().len(), 2);
        assert_eq!(server.counts(), (1, 3));
        room.marks_after_join(joined["id"].as_str().unwrap()).await;
        let news = room.room_news_since(marks);
        assert_eq!(news.len(), 2, "only Other's join was news: {news:?}");
        room.assert_still_talking().await;

        // Once the room is empty it is gone, and a new one may open.
        other.close().await;
        room.a.leave().await;
        room.b.leave().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while server.counts() != (0, 0) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(server.counts(), (0, 0));
        let mut later = RawSocket::connect(server.http_addr).await;
        later.join("zweiter", "Later").await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_participants_beyond_its_limit() {
    within(LIMIT, async {
        let mut config = common::server::test_config();
        config.limits.max_participants = 2;
        let server = common::server::start(config).await;
        let mut room = Bystanders::start(server.http_addr, "voll").await;
        let marks = room.marks();

        let mut extra = RawSocket::connect(server.http_addr).await;
        for name in ["voll", "leer"] {
            extra
                .send_json(common::socket::join_message(name, "Extra"))
                .await;
            extra.expect_error_not_fatal("server-full").await;
        }
        assert_eq!(server.counts(), (1, 2));
        assert_eq!(room.room_news_since(marks), Vec::<serde_json::Value>::new());
        room.assert_still_talking().await;
        room.shutdown().await;
        server.shutdown().await;
    })
    .await;
}
