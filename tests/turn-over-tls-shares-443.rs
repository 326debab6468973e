//! HTTPS and TURN over TLS share the HTTPS port: after the TLS handshake a
//! connection that speaks STUN (with ALPN `stun.turn`, or with no ALPN and a
//! STUN message first, as browsers' TURN clients do) reaches the TURN
//! server; one that speaks HTTP reaches the web server.

mod common;

use common::tls::{
    TempDir, client_pinning, client_pinning_alpn, connect, current_fingerprint, get, tls_config,
};
use funkraum::Server;
use funkraum::config::TlsMode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A STUN Allocate request without credentials (RFC 8656 §7.1): type
/// 0x0003, REQUESTED-TRANSPORT UDP, the magic cookie, transaction `id`.
fn allocate(id: [u8; 12]) -> Vec<u8> {
    let mut m = vec![0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&id);
    m.extend_from_slice(&[0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0]);
    m
}

/// The TURN server's answer to an unauthenticated Allocate: an Allocate
/// error response (0x0113) for the same transaction, ERROR-CODE 401.
async fn assert_turn_answers<S>(mut stream: S, id: [u8; 12])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(&allocate(id)).await.unwrap();
    let mut header = [0u8; 20];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header))
        .await
        .expect("an answer within 5 s")
        .expect("a STUN header");
    assert_eq!(&header[0..2], &[0x01, 0x13], "Allocate error response");
    assert_eq!(&header[8..20], &id, "same transaction");
    let mut body = vec![0u8; u16::from_be_bytes([header[2], header[3]]) as usize];
    stream.read_exact(&mut body).await.unwrap();
    let mut at = 0;
    let mut code = None;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        if kind == 0x0009 {
            code = Some(body[at + 6] as u16 * 100 + body[at + 7] as u16);
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    assert_eq!(code, Some(401), "Unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun_on_the_https_port_reaches_turn_and_http_the_web_server() {
    let state = TempDir::new("turn-over-tls");
    let mut config = tls_config(TlsMode::SelfSigned, state.path(), 0, 0);
    config.turn.enabled = true;
    config.validate().expect("valid test configuration");
    let server = Server::start(config).await.expect("server starts");
    assert!(server.turn().is_some());
    let fingerprint = current_fingerprint(&server);
    let addr = server.http_addr;

    // No ALPN, STUN first (how browsers do TURN over TLS).
    let bare = client_pinning_alpn(&fingerprint, &[]);
    let stream = connect(addr, "localhost", &bare).await.unwrap();
    assert_turn_answers(stream, [1; 12]).await;

    // ALPN stun.turn (RFC 7443).
    let turn_alpn = client_pinning_alpn(&fingerprint, &[b"stun.turn"]);
    let stream = connect(addr, "localhost", &turn_alpn).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"stun.turn"[..]));
    assert_turn_answers(stream, [2; 12]).await;

    // HTTP, with ALPN http/1.1 and without any ALPN, on the same port.
    let r = get(addr, "localhost", &client_pinning(&fingerprint), "/healthz")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let r = get(addr, "localhost", &bare, "/healthz").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    server.shutdown().await;
}
