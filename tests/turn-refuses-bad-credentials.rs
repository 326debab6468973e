//! Expired, forged and revoked TURN credentials are refused; a revoked
//! credential's allocation stops working.

mod common;

use common::turn_client::{TurnTestClient, loopback_settings};
use funkraum::ids::ParticipantId;
use std::time::Duration;

fn media() -> Vec<std::net::SocketAddr> {
    vec!["127.0.0.1:9".parse().unwrap()]
}

#[tokio::test]
async fn forged_credentials_are_refused() {
    let turn = funkraum::turn::start(loopback_settings(media(), false))
        .await
        .unwrap();
    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    let (expiry, id) = ice.username.split_once(':').unwrap();
    let later: u64 = expiry.parse::<u64>().unwrap() + 86_400;
    let forged = [
        (ice.username.clone(), "d3JvbmcgcGFzc3dvcmQ=".to_string()),
        (format!("{later}:{id}"), ice.credential.clone()),
        (
            "1999999999:0123456789abcdef".to_string(),
            ice.credential.clone(),
        ),
        ("admin".to_string(), "admin".to_string()),
    ];
    for (username, password) in forged {
        let mut client = TurnTestClient::udp(turn.udp_addr, &username, &password).await;
        assert_eq!(client.allocate().await, Err(401), "{username}");
    }
    // The genuine one works.
    let mut client = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    assert!(client.allocate().await.is_ok());
    turn.stop();
}

#[tokio::test]
async fn expired_credentials_are_refused() {
    let mut settings = loopback_settings(media(), false);
    settings.credential_lifetime = Duration::from_secs(1);
    let turn = funkraum::turn::start(settings).await.unwrap();
    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut client = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    assert_eq!(client.allocate().await, Err(401));
    turn.stop();
}

#[tokio::test]
async fn revoked_credentials_are_refused_and_their_allocations_end() {
    let turn = funkraum::turn::start(loopback_settings(media(), false))
        .await
        .unwrap();
    let participant = ParticipantId::from_u64(1);
    let ice = turn.issuer().issue(participant).unwrap();
    let mut udp = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    udp.allocate().await.unwrap();
    let mut tcp = TurnTestClient::tcp(turn.tcp_addr, &ice.username, &ice.credential).await;
    tcp.allocate().await.unwrap();
    assert_eq!(turn.counts().1, 2);

    turn.issuer().revoke(participant);

    // New allocations: refused at once.
    let mut late = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    assert_eq!(late.allocate().await, Err(401));
    // Existing ones: gone within the server's one-second tick; the TCP
    // connection is closed, the UDP allocation no longer refreshes.
    assert!(
        tcp.tcp_closed(Duration::from_secs(3)).await,
        "TCP not closed"
    );
    assert_eq!(turn.counts().1, 0);
    assert!(udp.refresh(600).await.is_err());
    assert!(
        udp.create_permission("127.0.0.1:9".parse().unwrap())
            .await
            .is_err()
    );
    turn.stop();
}
