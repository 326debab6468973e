//! A camera frame of several packets leaves the server for each subscriber
//! as one send with UDP segmentation offload (GSO), and arrives as the
//! same separate packets, none lost. Where the kernel refuses GSO (a path
//! whose MTU is below the packets, as on some mesh links), the packets go
//! one by one and still arrive.

mod common;

use common::{ClientOptions, FLOWING, Kind, MEDIA_WITHIN, TestClient, within};
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

/// Packets per camera frame: four of 1000 bytes and one of 500.
const FRAME_PACKETS: usize = 5;

/// Anna publishes multi-packet frames to Ben and Cem, whose media sockets
/// are bound to `subscribers`; asserts that both received (nearly) all of
/// Anna's video sent over two seconds, and returns the server's GSO
/// counters (datagrams sent grouped, groups refused).
async fn frames_to_two_subscribers(subscribers: IpAddr) -> (u64, u64) {
    let server = common::server::start_default().await;
    let addr = server.http_addr;
    let options = ClientOptions {
        video_frame_packets: FRAME_PACKETS,
        ..ClientOptions::default()
    };
    let anna = TestClient::join_with(addr, "segmente", "Anna", options)
        .await
        .expect("Anna joins");
    let subscriber = || ClientOptions {
        udp_bind: (subscribers, 0).into(),
        ..ClientOptions::default()
    };
    let join = |name, options| async move {
        TestClient::join_with(addr, "segmente", name, options)
            .await
            .unwrap_or_else(|e| panic!("{name} cannot join: {e}"))
    };
    let mut ben = join("Ben", subscriber()).await;
    let mut cem = join("Cem", subscriber()).await;
    for sub in [&mut ben, &mut cem] {
        sub.wait_media_from(
            &anna.id,
            Kind::Video,
            FLOWING * FRAME_PACKETS as u64,
            MEDIA_WITHIN,
        )
        .await;
        // Anna's client sends a keyframe every second: one must arrive
        // whole, its first packet intact. Not necessarily the very
        // first: a CI run once saw that one lost (the client may still
        // have been setting up its track), and the next came a second on.
        let what = "a keyframe from Anna: the first packet of a frame arriving intact";
        sub.wait_video(&anna.id, 0, MEDIA_WITHIN, what, |v| v.keyframe)
            .await;
    }
    // Two seconds of Anna's media: of each tick's packets one is audio.
    let sent = anna.packets_sent();
    let got = [
        ben.received(&anna.id, Kind::Video),
        cem.received(&anna.id, Kind::Video),
    ];
    tokio::time::sleep(Duration::from_secs(2)).await;
    // What was sent in the last moment may still be on its way.
    let video_sent =
        (anna.packets_sent() - sent) as f64 * FRAME_PACKETS as f64 / (FRAME_PACKETS + 1) as f64;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let arrived = [
        ben.received(&anna.id, Kind::Video) - got[0],
        cem.received(&anna.id, Kind::Video) - got[1],
    ];
    eprintln!("Anna sent about {video_sent:.0} video packets; Ben and Cem got {arrived:?}");
    let share = arrived
        .iter()
        .map(|&n| n as f64 / video_sent)
        .fold(f64::MAX, f64::min);
    for client in [&anna, &ben, &cem] {
        client.assert_no_problems();
    }
    let grouped = common::http::metric(addr, "media_gso_datagrams_total").await;
    let refused = common::http::metric(addr, "media_gso_refused_total").await;
    eprintln!("{grouped} datagrams left in GSO sends, {refused} groups refused");
    assert!(
        share >= 0.95,
        "only {:.1} % of the video arrived",
        share * 100.0
    );
    (grouped, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_leaves_in_one_send_per_subscriber_and_arrives_whole() {
    within(Duration::from_secs(60), async {
        let (grouped, refused) = frames_to_two_subscribers(Ipv4Addr::LOCALHOST.into()).await;
        // Two subscribers × 5 packets × 50 frames per second, for seconds.
        assert!(grouped >= 500, "only {grouped} datagrams were sent grouped");
        assert_eq!(refused, 0, "loopback takes GSO");
    })
    .await;
}

/// The subscribers' address in the namespace of the second test, reached
/// over a route with an MTU of 1000 bytes.
const MTU_1000: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// In a network namespace of its own, where the route to the subscribers
/// has an MTU of 1000 bytes: the kernel refuses GSO for the frames'
/// 1000-byte packets and fragments each datagram, as it did before GSO.
#[test]
fn where_the_kernel_refuses_gso_packets_go_one_by_one() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root for a network namespace of its own (make test runs as root)"
    );
    // This thread and every thread and process it starts from now on.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("a new network namespace");
    // The test clients' WebRTC stack joins the mDNS group: multicast
    // needs a route, here over loopback.
    for args in [
        "link set lo multicast on up",
        "route add 224.0.0.0/4 dev lo",
        "route add local 127.0.0.2/32 dev lo mtu 1000 table local",
    ] {
        let status = Command::new("ip")
            .args(args.split(' '))
            .status()
            .expect("ip (iproute2) runs");
        assert!(status.success(), "ip {args}: {status}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(within(Duration::from_secs(60), async {
        let (_, refused) = frames_to_two_subscribers(MTU_1000).await;
        assert!(refused >= 100, "only {refused} groups were refused GSO");
    }));
}
