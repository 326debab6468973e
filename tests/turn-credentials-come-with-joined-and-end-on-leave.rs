//! A participant gets its own TURN credential in `joined.iceServers`
//! (UDP and TCP URLs of this server, nothing else), it works, and it stops
//! working when the participant leaves.

mod common;

use common::turn_client::TurnTestClient;
use funkraum::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn join(
    server: &Server,
    nickname: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    serde_json::Value,
) {
    let url = format!("ws://{}/ws", server.http_addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let join = serde_json::json!({"type": "join", "version": 1, "room": "turn-test", "nickname": nickname});
    ws.send(Message::text(join.to_string())).await.unwrap();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "joined" {
                return (ws, v);
            }
        }
    }
}

#[tokio::test]
async fn credentials_come_with_joined_and_end_on_leave() {
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.media.port = 0;
    config.media.addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    let server = Server::start(config).await.unwrap();
    let turn_port = server.turn().unwrap().udp_addr.port();

    let (mut ws, joined) = join(&server, "Ada").await;
    let servers = joined["iceServers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{joined}");
    let entry = &servers[0];
    let urls: Vec<&str> = entry["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        vec![
            format!("turn:127.0.0.1:{turn_port}?transport=udp"),
            format!("turn:127.0.0.1:{turn_port}?transport=tcp"),
        ]
    );
    let username = entry["username"].as_str().unwrap().to_string();
    let credential = entry["credential"].as_str().unwrap().to_string();
    let (expiry, id) = username.split_once(':').unwrap();
    assert!(
        expiry.parse::<u64>().is_ok() && id.len() == 16,
        "{username}"
    );
    assert!(!username.contains(joined["id"].as_str().unwrap()));

    // Another participant gets another credential.
    let (_ws2, joined2) = join(&server, "Grace").await;
    assert_ne!(
        joined2["iceServers"][0]["username"].as_str().unwrap(),
        username
    );

    let turn_addr = server.turn().unwrap().udp_addr;
    let mut client = TurnTestClient::udp(turn_addr, &username, &credential).await;
    assert!(client.allocate().await.is_ok());

    ws.send(Message::text(r#"{"type":"leave"}"#)).await.unwrap();
    // The server closes the connection after leave.
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
        if matches!(m, Message::Close(_)) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut late = TurnTestClient::udp(turn_addr, &username, &credential).await;
    assert_eq!(late.allocate().await, Err(401));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        client.refresh(600).await.is_err(),
        "allocation outlived the participant"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn switched_off_turn_hands_out_nothing() {
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.media.port = 0;
    config.media.addresses = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    config.turn.enabled = false;
    let server = Server::start(config).await.unwrap();
    assert!(server.turn().is_none());
    let (_ws, joined) = join(&server, "Ada").await;
    assert_eq!(joined["iceServers"], serde_json::json!([]));
    server.shutdown().await;
}
