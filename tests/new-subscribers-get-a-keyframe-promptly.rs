//! Video can only be decoded from a keyframe on. The publishers here send
//! one keyframe at the start and then only when asked (PLI/FIR), so a
//! subscriber that joins later sees a picture only if the SFU asks the
//! publisher on its behalf. Subscribers' own requests reach the publisher
//! too, throttled so that a flood of them cannot make it send nothing but
//! keyframes.

mod common;

use common::{ClientOptions, Kind, MEDIA_WITHIN, TestClient, within};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// Joins room "spaet" as a publisher that sends keyframes on request only.
async fn join(addr: std::net::SocketAddr, nickname: &str) -> TestClient {
    let options = ClientOptions {
        keyframe_interval: None,
        ..ClientOptions::default()
    };
    TestClient::join_with(addr, "spaet", nickname, options)
        .await
        .unwrap()
}

/// Waits for the first video packet from `publisher`, then for a keyframe;
/// returns how long after the first packet the keyframe came and, when the
/// subscriber had to send a PLI of its own, how many keyframe requests the
/// publisher had received (`requests`) just before it.
async fn first_keyframe(
    subscriber: &mut TestClient,
    publisher: &str,
    requests: impl Fn() -> u64,
) -> (Duration, Option<u64>) {
    subscriber
        .wait_media_from(publisher, Kind::Video, 1, MEDIA_WITHIN)
        .await;
    let first_packet = subscriber
        .stats(publisher, Kind::Video)
        .first_packet
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut before_pli = None;
    while subscriber.stats(publisher, Kind::Video).keyframes == 0 {
        assert!(
            Instant::now() < deadline,
            "{} got no keyframe from {publisher} within 3 s",
            subscriber.nickname
        );
        // As a browser's decoder does: half a second of undecodable
        // frames, one PLI. The keyframe the SFU asked for on the
        // subscriber's behalf can arrive before this client has taken the
        // new stream (its answer still on the way) and be lost to it.
        if before_pli.is_none() && first_packet.elapsed() > Duration::from_millis(500) {
            before_pli = Some(requests());
            assert!(subscriber.request_keyframe(publisher).await);
            eprintln!(
                "{}: no keyframe from {publisher} after 500 ms, sent a PLI",
                subscriber.nickname
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (first_packet.elapsed(), before_pli)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_subscriber_gets_a_keyframe_within_a_second() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let mut a = join(addr, "Ada").await;
        let mut b = join(addr, "Bo").await;
        let a_id = a.id.clone();
        let b_id = b.id.clone();
        let (took, _) = first_keyframe(&mut b, &a_id, || a.keyframe_requests()).await;
        eprintln!("Bo: keyframe from Ada {took:?} after her first video packet");
        first_keyframe(&mut a, &b_id, || b.keyframe_requests()).await;

        // Ada has been sending delta frames for a while when Cy joins.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let requests_before = a.keyframe_requests();
        let mut c = join(addr, "Cy").await;
        let (took, before_pli) = first_keyframe(&mut c, &a_id, || a.keyframe_requests()).await;
        eprintln!("Cy: keyframe from Ada {took:?} after her first video packet");
        assert!(took < Duration::from_secs(1), "took {took:?}");
        assert!(
            before_pli.unwrap_or_else(|| a.keyframe_requests()) > requests_before,
            "the SFU asked Ada for the keyframe (before any PLI of Cy's own)"
        );
        first_keyframe(&mut c, &b_id, || b.keyframe_requests()).await;
        for client in [&a, &b, &c] {
            client.assert_no_problems();
        }
        a.shutdown().await;
        b.shutdown().await;
        c.shutdown().await;
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyframe_requests_reach_the_publisher_throttled() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let a = join(addr, "Ada").await;
        let mut b = join(addr, "Bo").await;
        let a_id = a.id.clone();
        first_keyframe(&mut b, &a_id, || a.keyframe_requests()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        // One request: one keyframe.
        let (requests, keyframes) = (a.keyframe_requests(), b.stats(&a_id, Kind::Video).keyframes);
        assert!(b.request_keyframe(&a_id).await, "Bo has Ada's video track");
        let deadline = Instant::now() + Duration::from_secs(2);
        while b.stats(&a_id, Kind::Video).keyframes == keyframes {
            assert!(Instant::now() < deadline, "Bo's PLI brought no keyframe");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(a.keyframe_requests() > requests);

        // A hundred requests in a second: a handful reach Ada.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = a.keyframe_requests();
        let started = Instant::now();
        for _ in 0..100 {
            b.request_keyframe(&a_id).await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let spent = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let reached = a.keyframe_requests() - before;
        eprintln!("100 PLIs in {spent:?}: {reached} reached the publisher");
        // One per 300 ms, plus the one held back to the end of an interval.
        let allowed = (spent + Duration::from_millis(500)).as_millis() as u64 / 300 + 2;
        assert!(
            (1..=allowed).contains(&reached),
            "{reached} requests reached Ada (at most {allowed})"
        );
        a.assert_no_problems();
        b.assert_no_problems();
        a.shutdown().await;
        b.shutdown().await;
        server.shutdown().await;
    })
    .await;
}
