//! The relay path itself, over UDP and TCP: a client's ChannelData and Send
//! indications reach the media address (a loopback socket standing in for
//! the SFU), and the media address's answers come back — on TCP with
//! ChannelData padded to four bytes, as browsers expect. The rate limit
//! per allocation holds.

mod common;

use common::turn_client::{Incoming, TurnTestClient, loopback_settings};
use funkraum::ids::ParticipantId;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::net::UdpSocket;

async fn relay_both_ways(transport: &str) {
    let sfu = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let media = sfu.local_addr().unwrap();
    let turn = funkraum::turn::start(loopback_settings(vec![media], false))
        .await
        .unwrap();
    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    let mut client = match transport {
        "udp" => TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await,
        _ => TurnTestClient::tcp(turn.tcp_addr, &ice.username, &ice.credential).await,
    };
    let relayed = client.allocate().await.unwrap();
    client.create_permission(media).await.unwrap();

    // Send indication → SFU.
    client.send_indication(media, b"hello sfu").await;
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(2), sfu.recv_from(&mut buf))
        .await
        .expect("Send indication relayed")
        .unwrap();
    assert_eq!(&buf[..n], b"hello sfu");
    assert_eq!(from, relayed);

    // SFU → client, as a Data indication (no channel yet).
    sfu.send_to(b"hello client", relayed).await.unwrap();
    assert_eq!(
        client.next_incoming(Duration::from_secs(2)).await,
        Some(Incoming::DataIndication {
            peer: media,
            data: b"hello client".to_vec()
        })
    );

    // ChannelData both ways, with lengths that need padding on TCP.
    client.channel_bind(0x4000, media).await.unwrap();
    for len in [1usize, 2, 3, 5, 160] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        client.send_channel_data(0x4000, &payload).await;
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), sfu.recv_from(&mut buf))
            .await
            .expect("ChannelData relayed")
            .unwrap();
        assert_eq!(&buf[..n], &payload[..], "{transport} {len}");
        sfu.send_to(&payload, relayed).await.unwrap();
        assert_eq!(
            client.next_incoming(Duration::from_secs(2)).await,
            Some(Incoming::ChannelData {
                channel: 0x4000,
                data: payload
            }),
            "{transport} {len}"
        );
    }
    turn.stop();
}

#[tokio::test]
async fn relays_over_udp() {
    relay_both_ways("udp").await;
}

#[tokio::test]
async fn relays_over_tcp() {
    relay_both_ways("tcp").await;
}

#[tokio::test]
async fn rate_limit_per_allocation_holds() {
    let sfu = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let media = sfu.local_addr().unwrap();
    let mut settings = loopback_settings(vec![media], false);
    settings.limits.bytes_per_second = 20_000;
    let turn = funkraum::turn::start(settings).await.unwrap();
    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    let mut client = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    client.allocate().await.unwrap();
    client.channel_bind(0x4000, media).await.unwrap();
    // 100 kB at once: only about one second's worth (20 kB) gets through.
    let payload = [7u8; 1000];
    for _ in 0..100 {
        client.send_channel_data(0x4000, &payload).await;
    }
    let mut received = 0;
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(300), sfu.recv_from(&mut buf)).await
    {
        received += n;
    }
    assert!(received >= 10_000, "{received}");
    assert!(received <= 30_000, "{received}");
    assert!(funkraum::turn::TurnStats::get(&turn.stats.rate_limited) > 0);
    turn.stop();
}
