//! A page of another site must not drive signaling from a visitor's
//! browser: a WebSocket upgrade with a foreign Origin is refused with HTTP
//! 403. The server's own pages (Origin equal to the host) and clients that
//! are not browsers (no Origin) get in.

mod common;

use common::socket::{RawSocket, connect_ws, request};
use common::within;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_from_a_foreign_origin_is_refused_with_403() {
    within(LIMIT, async {
        let server = common::server::start_default().await;
        let addr = server.http_addr;
        let port = addr.port();
        let foreign = [
            "https://evil.example".to_string(),
            "http://evil.example".to_string(),
            format!("http://127.0.0.1.evil.example:{port}"),
            format!("http://127.0.0.1:{}", port + 1),
            format!("http://localhost:{port}"),
            "null".to_string(),
            "file://".to_string(),
            format!("ws://{addr}"),
        ];
        for origin in &foreign {
            match connect_ws(request(addr, Some(origin))).await {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status(), 403, "Origin {origin}");
                }
                Err(e) => panic!("Origin {origin}: refused, but not with 403: {e}"),
                Ok(_) => panic!("Origin {origin} was let in"),
            }
        }
        assert_eq!(server.counts(), (0, 0));

        // The server's own page, and a client without Origin.
        let mut sockets = Vec::new();
        for origin in [Some(format!("http://{addr}")), None] {
            let ws = connect_ws(request(addr, origin.as_deref()))
                .await
                .unwrap_or_else(|e| panic!("Origin {origin:?} refused: {e}"));
            let mut socket = RawSocket::from_ws(ws);
            socket.join("daheim", "Local").await;
            sockets.push(socket);
        }
        assert_eq!(server.counts(), (1, 2));
        server.shutdown().await;
    })
    .await;
}
