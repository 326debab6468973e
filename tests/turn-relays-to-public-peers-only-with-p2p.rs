//! With peer-to-peer on, a public peer (8.8.8.8) is accepted at the
//! protocol level (CreatePermission, ChannelBind); with it off, refused.
//! Private peers stay refused either way. Nothing is ever sent to the
//! public address: only the answers are checked.

mod common;

use common::turn_client::{TurnTestClient, loopback_settings};
use funkraum::ids::ParticipantId;
use std::net::SocketAddr;

async fn answers(p2p: bool) -> (Result<(), u16>, Result<(), u16>, Result<(), u16>) {
    let media: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let turn = funkraum::turn::start(loopback_settings(vec![media], p2p))
        .await
        .unwrap();
    let ice = turn.issuer().issue(ParticipantId::from_u64(1)).unwrap();
    let mut client = TurnTestClient::udp(turn.udp_addr, &ice.username, &ice.credential).await;
    client.allocate().await.unwrap();
    let public: SocketAddr = "8.8.8.8:3478".parse().unwrap();
    let permission = client.create_permission(public).await;
    let channel = client.channel_bind(0x4000, public).await;
    let private = client
        .create_permission("10.0.0.1:3478".parse().unwrap())
        .await;
    turn.stop();
    (permission, channel, private)
}

#[tokio::test]
async fn public_peer_is_accepted_with_p2p() {
    assert_eq!(answers(true).await, (Ok(()), Ok(()), Err(403)));
}

#[tokio::test]
async fn public_peer_is_refused_without_p2p() {
    assert_eq!(answers(false).await, (Err(403), Err(403), Err(403)));
}
