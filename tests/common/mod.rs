//! The shared harness of the end-to-end tests: a funkraum started
//! in-process on loopback ([`server`]), conference participants built on
//! the `webrtc` crate ([`client::TestClient`]), raw signaling sockets for
//! hostile input ([`socket::RawSocket`]), synthetic media that names its
//! publisher ([`media`]), and a little SDP and HTTP reading.
//!
//! For a test through TURN: `ClientOptions { relay_only: true, .. }` makes
//! the client use only relayed candidates, from the TURN servers the server
//! lists in `joined.iceServers`. For hostile input from a participant with
//! media flowing: `TestClient::send_raw` / `send_binary`.
//!
//! Every test file uses a part of this; what one file leaves unused is not
//! dead code.
#![allow(dead_code, unused_imports)]

pub mod canary;
pub mod captured_logs;
pub mod client;
pub mod daemon;
pub mod http;
pub mod journal;
pub mod keyframes;
pub mod media;
pub mod p2p;
pub mod pebble;
pub mod sdp;
pub mod server;
pub mod socket;
pub mod tls;
pub mod turn_client;
pub mod turn_tcp_proxy;

pub use client::{ClientOptions, TestClient};
pub use media::Kind;
pub use socket::RawSocket;

use std::future::Future;
use std::time::Duration;

/// Runs a whole test under a time limit, so a hang fails instead of
/// blocking the suite.
pub async fn within<T>(limit: Duration, test: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, test).await {
        Ok(t) => t,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

/// How long media may take to start flowing after a join (ICE, DTLS,
/// negotiation and a keyframe on a loaded two-core machine).
pub const MEDIA_WITHIN: Duration = Duration::from_secs(10);

/// Packets that count as "media is flowing": a fifth of a second of one
/// synthetic track.
pub const FLOWING: u64 = 10;

/// Waits until each of `clients` received at least `packets` of the
/// audio and of the video of every other one.
pub async fn everyone_receives_everyone(clients: Vec<&mut TestClient>, packets: u64) {
    let ids: Vec<String> = clients.iter().map(|c| c.id.clone()).collect();
    for client in clients {
        let own = client.id.clone();
        for other in ids.iter().filter(|id| **id != own) {
            for kind in [Kind::Audio, Kind::Video] {
                client
                    .wait_media_from(other, kind, packets, MEDIA_WITHIN)
                    .await;
            }
        }
    }
}

/// Two participants in one room, each receiving the other's audio and
/// video: the bystanders whose conference must not notice hostile input.
pub struct Bystanders {
    pub a: TestClient,
    pub b: TestClient,
    pub room: String,
}

impl Bystanders {
    pub async fn start(addr: std::net::SocketAddr, room: &str) -> Bystanders {
        let mut a = TestClient::join(addr, room, "Alice").await;
        let mut b = TestClient::join(addr, room, "Bob").await;
        for kind in [Kind::Audio, Kind::Video] {
            let (a_id, b_id) = (a.id.clone(), b.id.clone());
            a.wait_media_from(&b_id, kind, FLOWING, MEDIA_WITHIN).await;
            b.wait_media_from(&a_id, kind, FLOWING, MEDIA_WITHIN).await;
        }
        Bystanders {
            a,
            b,
            room: room.to_string(),
        }
    }

    /// Both still receive each other's audio and video: the counts grow by
    /// at least [`FLOWING`] packets from now on.
    pub async fn assert_still_talking(&mut self) {
        let (a_id, b_id) = (self.a.id.clone(), self.b.id.clone());
        for kind in [Kind::Audio, Kind::Video] {
            let a_before = self.a.received(&b_id, kind);
            let b_before = self.b.received(&a_id, kind);
            self.a
                .wait_media_from(&b_id, kind, a_before + FLOWING, MEDIA_WITHIN)
                .await;
            self.b
                .wait_media_from(&a_id, kind, b_before + FLOWING, MEDIA_WITHIN)
                .await;
        }
        self.a.assert_no_problems();
        self.b.assert_no_problems();
        assert_eq!(self.a.closed(), None, "Alice's signaling is still open");
        assert_eq!(self.b.closed(), None, "Bob's signaling is still open");
    }

    /// Messages about other participants that either bystander got after
    /// the marks: a refused join or a refused message must cause none.
    pub fn room_news_since(&self, marks: (usize, usize)) -> Vec<serde_json::Value> {
        let mut news = self.a.messages_since(marks.0);
        news.extend(self.b.messages_since(marks.1));
        news.retain(|m| {
            matches!(
                m["type"].as_str(),
                Some("participantJoined" | "participantLeft" | "participantUpdated")
            )
        });
        news
    }

    /// The others in the room are undisturbed by what happened since
    /// `marks`: they were told of no one joining, leaving or changing
    /// ([`room_news_since`](Self::room_news_since) is empty), and both
    /// still talk ([`assert_still_talking`](Self::assert_still_talking)).
    pub async fn assert_undisturbed_since(&mut self, marks: (usize, usize)) {
        assert_eq!(
            self.room_news_since(marks),
            Vec::<serde_json::Value>::new(),
            "no news reached the room"
        );
        self.assert_still_talking().await;
    }

    pub fn marks(&self) -> (usize, usize) {
        (self.a.mark(), self.b.mark())
    }

    /// Waits until both bystanders were told that `id` joined, then marks
    /// their logs: what comes after is not news of that join.
    pub async fn marks_after_join(&mut self, id: &str) -> (usize, usize) {
        for client in [&mut self.a, &mut self.b] {
            client
                .wait_message_since(0, MEDIA_WITHIN, "participantJoined", |m| {
                    m["type"] == "participantJoined" && m["participant"]["id"] == id
                })
                .await;
        }
        self.marks()
    }

    pub async fn shutdown(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }

    /// The end of a test: the bystanders hang up, then `server` stops.
    pub async fn shutdown_with(self, server: funkraum::Server) {
        self.shutdown().await;
        server.shutdown().await;
    }
}
