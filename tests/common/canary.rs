//! A conference with a canary participant: a known nickname and room, from a
//! known address other than the server's (127.0.0.x), so tests can look for
//! exactly these strings in whatever the daemon emitted.

use super::{ClientOptions, Kind, TestClient};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The canary joins `room` from `from` (signaling and media), a witness
/// joins from the default address, and both receive each other's media.
/// Returns (canary, witness).
pub async fn conference(
    server: SocketAddr,
    room: &str,
    nickname: &str,
    from: Ipv4Addr,
) -> (TestClient, TestClient) {
    let options = ClientOptions {
        udp_bind: (IpAddr::V4(from), 0).into(),
        ws_bind: Some(IpAddr::V4(from)),
        ..ClientOptions::default()
    };
    let mut canary = TestClient::join_with(server, room, nickname, options)
        .await
        .expect("the canary joins");
    let mut witness = TestClient::join(server, room, "Zeugin").await;
    let (canary_id, witness_id) = (canary.id.clone(), witness.id.clone());
    witness
        .wait_media_from(&canary_id, Kind::Video, 20, Duration::from_secs(15))
        .await;
    canary
        .wait_media_from(&witness_id, Kind::Audio, 20, Duration::from_secs(15))
        .await;
    (canary, witness)
}
