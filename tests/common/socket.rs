//! Raw signaling: a WebSocket to /ws with no WebRTC behind it, for saying
//! exactly what a test wants on the wire (hostile input included) and
//! reading exactly what comes back.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

pub type Ws = WebSocketStream<Box<dyn ByteStream>>;

/// How long a test waits for one reply before it fails.
pub const REPLY_WITHIN: Duration = Duration::from_secs(5);

/// What came in on the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A text frame holding JSON.
    Message(Value),
    /// A text frame that is not JSON (the server must never send one).
    NotJson(String),
    Binary(Vec<u8>),
    /// The server closed, with this close code (None: no close frame, or the
    /// connection simply ended).
    Closed(Option<u16>),
}

/// Builds the upgrade request for `addr`, optionally with an Origin header.
pub fn request(addr: SocketAddr, origin: Option<&str>) -> tungstenite::handshake::client::Request {
    let mut req = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("a valid ws URL");
    if let Some(origin) = origin {
        req.headers_mut().insert(
            "Origin",
            HeaderValue::from_str(origin).expect("a valid header value"),
        );
    }
    req
}

/// The byte stream under a test WebSocket: plain TCP or TLS.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// Runs the WebSocket handshake over `stream`. Our own frame limits are
/// raised far above the server's, so an over-sized frame really goes out.
async fn upgrade(
    req: tungstenite::handshake::client::Request,
    stream: Box<dyn ByteStream>,
) -> Result<Ws, tungstenite::Error> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (ws, _response) = tokio::time::timeout(
        REPLY_WITHIN,
        tokio_tungstenite::client_async_with_config(req, stream, Some(config)),
    )
    .await
    .expect("the WebSocket handshake finishes in time")?;
    Ok(ws)
}

/// Connects a WebSocket to the signaling endpoint the request names.
pub async fn connect_ws(
    req: tungstenite::handshake::client::Request,
) -> Result<Ws, tungstenite::Error> {
    let host = req
        .uri()
        .host()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']']);
    let port = req.uri().port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(tungstenite::Error::Io)?;
    upgrade(req, Box::new(stream)).await
}

/// Like [`connect_ws`], but from a chosen local address (e.g. 127.0.0.2,
/// so a test can tell the client's address from the server's in logs).
pub async fn connect_ws_from(
    req: tungstenite::handshake::client::Request,
    server: SocketAddr,
    local: std::net::IpAddr,
) -> Result<Ws, tungstenite::Error> {
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(tungstenite::Error::Io)?;
    socket
        .bind(SocketAddr::new(local, 0))
        .map_err(tungstenite::Error::Io)?;
    let stream = socket
        .connect(server)
        .await
        .map_err(tungstenite::Error::Io)?;
    upgrade(req, Box::new(stream)).await
}

/// Signaling over TLS (`wss://`), checking the server as `tls` says.
pub async fn connect_wss(
    req: tungstenite::handshake::client::Request,
    server: SocketAddr,
    tls: &WssClient,
) -> Result<Ws, tungstenite::Error> {
    let stream = super::tls::connect(server, &tls.name, &tls.config)
        .await
        .map_err(tungstenite::Error::Io)?;
    upgrade(req, Box::new(stream)).await
}

/// How a test client reaches a server with TLS on.
#[derive(Clone)]
pub struct WssClient {
    pub config: std::sync::Arc<rustls::ClientConfig>,
    /// The name the certificate is checked against.
    pub name: String,
}

impl std::fmt::Debug for WssClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WssClient({})", self.name)
    }
}

pub struct RawSocket {
    ws: Ws,
    /// Every message read so far, in order.
    pub log: Vec<Incoming>,
    /// Read from the wire but passed over by a `wait_for`; read again first.
    unread: VecDeque<Incoming>,
    closed: Option<Option<u16>>,
}

impl RawSocket {
    /// A signaling connection as a non-browser client opens it (no Origin).
    pub async fn connect(addr: SocketAddr) -> RawSocket {
        let ws = connect_ws(request(addr, None))
            .await
            .unwrap_or_else(|e| panic!("signaling connection refused: {e}"));
        RawSocket::from_ws(ws)
    }

    pub fn from_ws(ws: Ws) -> RawSocket {
        RawSocket {
            ws,
            log: Vec::new(),
            unread: VecDeque::new(),
            closed: None,
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        self.send(Message::text(text)).await;
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.send(Message::binary(data)).await;
    }

    /// Sends a frame; a connection the server already closed is not an
    /// error here (a flood test keeps writing into a closing socket), the
    /// close shows up on the next read.
    pub async fn send(&mut self, message: Message) {
        let _ = self.ws.send(message).await;
    }

    /// The next thing that arrives within `within`; `None` on silence.
    pub async fn next_within(&mut self, within: Duration) -> Option<Incoming> {
        if let Some(incoming) = self.unread.pop_front() {
            return Some(incoming);
        }
        if let Some(code) = self.closed {
            return Some(Incoming::Closed(code));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(f) => f,
            };
            let incoming = match frame {
                None => Incoming::Closed(None),
                Some(Err(_)) => Incoming::Closed(None),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<Value>(t.as_str()) {
                    Ok(v) => Incoming::Message(v),
                    Err(_) => Incoming::NotJson(t.to_string()),
                },
                Some(Ok(Message::Binary(b))) => Incoming::Binary(b.to_vec()),
                Some(Ok(Message::Close(frame))) => {
                    Incoming::Closed(frame.map(|f| u16::from(f.code)))
                }
                // WebSocket-level ping/pong: tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            };
            if let Incoming::Closed(code) = incoming {
                self.closed = Some(code);
            }
            self.log.push(incoming.clone());
            return Some(incoming);
        }
    }

    /// The next thing that arrives; fails the test on silence.
    pub async fn next(&mut self) -> Incoming {
        self.next_within(REPLY_WITHIN)
            .await
            .expect("the server replies within 5 s")
    }

    /// The next JSON message; fails if the socket closes first.
    pub async fn next_message(&mut self) -> Value {
        match self.next().await {
            Incoming::Message(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Reads until a message satisfies `pred` (skipping others, which stay
    /// in the log); fails on close or silence.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + REPLY_WITHIN;
        let mut passed_over = Vec::new();
        let found = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Incoming::Message(v)) if pred(&v) => break v,
                Some(Incoming::Message(v)) => passed_over.push(Incoming::Message(v)),
                Some(other) => panic!("waiting for {what}, got {other:?}"),
                None => panic!("waiting for {what}: nothing within {REPLY_WITHIN:?}"),
            }
        };
        for m in passed_over.into_iter().rev() {
            self.unread.push_front(m);
        }
        found
    }

    /// Reads until a message of this type arrives.
    pub async fn wait_for_type(&mut self, kind: &str) -> Value {
        self.wait_for(kind, |v| v["type"] == kind).await
    }

    /// The next message that is not news about the room or an offer of
    /// media (which a joined connection may get at any time) must be the
    /// error `code`. Returns the error.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let e = self
            .wait_for(&format!("error {code}"), |v| !is_room_news(v))
            .await;
        assert_eq!(e["type"], "error", "expected error {code}, got {e}");
        assert_eq!(e["code"], code, "expected error {code}, got {e}");
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "an error carries a message for people: {e}"
        );
        e
    }

    /// Like [`expect_error`](Self::expect_error), and the error says the
    /// connection stays (`fatal: false`), which [`assert_alive`](Self::assert_alive)
    /// then checks.
    pub async fn expect_error_not_fatal(&mut self, code: &str) -> Value {
        let e = self.expect_error(code).await;
        assert_eq!(e["fatal"], false, "{code} must not be fatal: {e}");
        self.assert_alive().await;
        e
    }

    /// The server closes the connection with `code` (messages before the
    /// close frame are skipped).
    pub async fn expect_close(&mut self, code: u16) {
        assert_eq!(
            self.wait_closed().await,
            Some(code),
            "expected close code {code}; log: {:?}",
            self.log
        );
    }

    /// Waits for the close; returns its code.
    pub async fn wait_closed(&mut self) -> Option<u16> {
        self.wait_closed_within(REPLY_WITHIN).await
    }

    /// Waits up to `within` for the close; returns its code.
    pub async fn wait_closed_within(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Incoming::Closed(code)) => return code,
                Some(_) => {}
                None => panic!("the server did not close within {within:?}"),
            }
        }
    }

    /// The connection still works: a `ping` gets its `pong`.
    pub async fn assert_alive(&mut self) {
        self.send_json(json!({"type": "ping"})).await;
        self.wait_for("pong after ping", |v| {
            assert_ne!(v["type"], "error", "a ping was refused: {v}");
            v["type"] == "pong"
        })
        .await;
    }

    /// Nothing but room news arrives for `d`.
    pub async fn expect_quiet(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                None => return,
                Some(Incoming::Message(v)) if is_room_news(&v) => {}
                Some(other) => panic!("expected quiet, got {other:?}"),
            }
        }
    }

    /// Sends a valid join and returns the `joined` reply.
    pub async fn join(&mut self, room: &str, nickname: &str) -> Value {
        self.send_json(join_message(room, nickname)).await;
        let v = self.next_message().await;
        assert_eq!(v["type"], "joined", "join refused: {v}");
        v
    }

    /// Closes from our side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// `{"type":"join","version":1,"room":…,"nickname":…}`
pub fn join_message(room: &str, nickname: &str) -> Value {
    json!({"type": "join", "version": 1, "room": room, "nickname": nickname})
}

/// Messages a joined connection may receive at any moment, unasked.
pub fn is_room_news(v: &Value) -> bool {
    matches!(
        v["type"].as_str(),
        Some(
            "participantJoined"
                | "participantLeft"
                | "participantUpdated"
                | "offer"
                | "ping"
                | "mode"
                | "activeSpeaker"
                | "videoForwarded"
        )
    )
}
