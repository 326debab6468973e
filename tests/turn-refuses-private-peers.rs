//! SSRF: the built-in TURN server refuses (403) CreatePermission and
//! ChannelBind towards loopback, private, CGNAT, link-local, unique-local,
//! unspecified and IPv4-mapped addresses and towards the host's own
//! non-media addresses, and relays no Send indication there — over UDP and
//! TCP. The SFU's media address is the one loopback peer it accepts.
//! Only loopback traffic: the answers are checked, nothing is delivered.

mod common;

use common::turn_client::TurnTestClient;
use funkraum::turn::TurnStats;
use funkraum::{Config, Server};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const FORBIDDEN: &[&str] = &[
    "127.0.0.1:9",
    "10.0.0.1:3478",
    "172.16.0.1:80",
    "192.168.1.1:53",
    "100.64.0.1:3478",
    "169.254.169.254:80",
    "0.0.0.0:9",
    "[::1]:9",
    "[fd00::1]:9",
    "[fe80::1]:9",
    "[::ffff:127.0.0.1]:9",
    // Public, but peer-to-peer is off: only the SFU may be reached.
    "8.8.8.8:3478",
];

async fn start() -> Server {
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.media.port = 0;
    config.media.addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    // With peer to peer (on by default) public peers are allowed; this test
    // is about a server that reaches nothing but its SFU.
    config.rooms.p2p = false;
    Server::start(config).await.unwrap()
}

/// Addresses of this host that are not the media address: the HTTP and
/// TURN ports on loopback, and every interface address at the media port.
fn own_non_media(server: &Server) -> Vec<SocketAddr> {
    let media = server.media_addrs[0];
    let turn = server.turn().unwrap();
    let mut own = vec![
        server.http_addr,
        turn.udp_addr,
        SocketAddr::new(media.ip(), 22),
    ];
    for ip in funkraum::turn::host_addresses() {
        if !ip.is_loopback() {
            own.push(SocketAddr::new(ip, media.port()));
        }
    }
    own
}

async fn check(transport: &str) {
    let server = start().await;
    let turn = server.turn().expect("TURN is on by default");
    let ice = turn
        .issuer()
        .issue(funkraum::ids::ParticipantId::from_u64(1))
        .unwrap();
    let mut client = match transport {
        "udp" => TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await,
        _ => TurnTestClient::tcp(turn.tcp_addr, &ice.username, &ice.credential).await,
    };
    client.allocate().await.expect("allocation");

    // The positive control: the SFU's media address is accepted.
    let media = server.media_addrs[0];
    assert_eq!(client.create_permission(media).await, Ok(()), "{transport}");
    assert_eq!(
        client.channel_bind(0x4000, media).await,
        Ok(()),
        "{transport}"
    );

    let mut peers: Vec<SocketAddr> = FORBIDDEN.iter().map(|s| s.parse().unwrap()).collect();
    peers.extend(own_non_media(&server));
    for (i, peer) in peers.iter().enumerate() {
        assert_eq!(
            client.create_permission(*peer).await,
            Err(403),
            "{transport}: CreatePermission {peer}"
        );
        assert_eq!(
            client.channel_bind(0x4001 + i as u16, *peer).await,
            Err(403),
            "{transport}: ChannelBind {peer}"
        );
    }

    // Send indications have no answer: check that nothing arrives at a
    // loopback socket of ours, and that the server counted the refusal.
    let target = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let target_addr = target.local_addr().unwrap();
    let refused_before = TurnStats::get(&turn.stats.peers_refused);
    client.send_indication(target_addr, b"ssrf").await;
    client
        .send_indication("[::ffff:127.0.0.1]:9".parse().unwrap(), b"ssrf")
        .await;
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(500), target.recv_from(&mut buf)).await;
    assert!(
        got.is_err(),
        "{transport}: a Send indication was relayed to loopback"
    );
    assert!(
        TurnStats::get(&turn.stats.peers_refused) >= refused_before + 2,
        "{transport}: Send indications not counted as refused"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn private_peers_are_refused_over_udp() {
    check("udp").await;
}

#[tokio::test]
async fn private_peers_are_refused_over_tcp() {
    check("tcp").await;
}

#[tokio::test]
async fn tcp_relays_are_not_offered() {
    let server = start().await;
    let turn = server.turn().unwrap();
    let ice = turn
        .issuer()
        .issue(funkraum::ids::ParticipantId::from_u64(2))
        .unwrap();
    let mut client = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    // RFC 6062 TCP relaying would be a way to reach TCP services.
    assert_eq!(client.allocate_tcp_relay().await, Err(442));
    server.shutdown().await;
}
