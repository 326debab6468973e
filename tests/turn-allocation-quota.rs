//! Allocation quotas hold: per credential (486) and in total (508).

mod common;

use common::turn_client::{TurnTestClient, loopback_settings};
use funkraum::ids::ParticipantId;

#[tokio::test]
async fn quotas_hold() {
    let mut settings = loopback_settings(vec!["127.0.0.1:9".parse().unwrap()], false);
    settings.limits.max_allocations_per_credential = 2;
    settings.limits.max_allocations = 3;
    let turn = funkraum::turn::start(settings).await.unwrap();
    let a = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    let b = turn.issuer().issue(ParticipantId::from_u64(2)).unwrap();

    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut c = TurnTestClient::udp(turn.udp_addr, &a.username, &a.credential).await;
        assert!(c.allocate().await.is_ok());
        clients.push(c);
    }
    // Third allocation on the same credential, from a new transport address.
    let mut c = TurnTestClient::udp(turn.udp_addr, &a.username, &a.credential).await;
    assert_eq!(c.allocate().await, Err(486));
    let mut c = TurnTestClient::tcp(turn.tcp_addr, &a.username, &a.credential).await;
    assert_eq!(c.allocate().await, Err(486));

    // Another credential: one more fits the total of three, then 508.
    let mut c = TurnTestClient::udp(turn.udp_addr, &b.username, &b.credential).await;
    assert!(c.allocate().await.is_ok());
    clients.push(c);
    let mut c = TurnTestClient::udp(turn.udp_addr, &b.username, &b.credential).await;
    assert_eq!(c.allocate().await, Err(508));
    assert_eq!(turn.counts().1, 3);

    // Releasing one makes room again.
    assert!(clients[0].refresh(0).await.is_ok());
    let mut c = TurnTestClient::udp(turn.udp_addr, &b.username, &b.credential).await;
    assert!(c.allocate().await.is_ok());
    turn.stop();
}
