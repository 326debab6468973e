//! A TURN client for the tests, over UDP or TCP, built on `stun-types` /
//! `turn-types` message builders. It exposes each answer's error code, so a
//! test can assert "403" for CreatePermission and ChannelBind exactly —
//! the full clients (webrtc-rs `rtc-turn`, `turn-client-proto`) hide the
//! code behind a generic failure. Only ever talks to loopback.

#![allow(dead_code)]

use funkraum::turn::framing::{Deframer, Frame, frame_for_stream};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageIntegrityCredentials,
    MessageWrite, MessageWriteExt, MessageWriteVec, Method, TransactionId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use turn_types::attribute::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::channel::ChannelData;
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};

const TIMEOUT: Duration = Duration::from_secs(3);

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream, Deframer),
}

/// What came back from the server, other than responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    ChannelData { channel: u16, data: Vec<u8> },
    DataIndication { peer: SocketAddr, data: Vec<u8> },
}

pub struct TurnTestClient {
    link: Link,
    pub server: SocketAddr,
    username: String,
    password: String,
    realm: Option<String>,
    nonce: Option<String>,
    /// Data that arrived while waiting for a response.
    pub incoming: Vec<Incoming>,
}

/// An answer: `Ok(message bytes)` for success, `Err(code)` for an error
/// response, `Err(0)` for no answer in time.
pub type Answer = Result<Vec<u8>, u16>;

impl TurnTestClient {
    pub async fn udp(server: SocketAddr, username: &str, password: &str) -> Self {
        let local: SocketAddr = if server.is_ipv6() {
            (Ipv6Addr::LOCALHOST, 0).into()
        } else {
            (Ipv4Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local).await.unwrap();
        Self::new(Link::Udp(socket), server, username, password)
    }

    pub async fn tcp(server: SocketAddr, username: &str, password: &str) -> Self {
        let stream = TcpStream::connect(server).await.unwrap();
        Self::new(
            Link::Tcp(stream, Deframer::new()),
            server,
            username,
            password,
        )
    }

    fn new(link: Link, server: SocketAddr, username: &str, password: &str) -> Self {
        TurnTestClient {
            link,
            server,
            username: username.to_string(),
            password: password.to_string(),
            realm: None,
            nonce: None,
            incoming: Vec::new(),
        }
    }

    async fn send_raw(&mut self, bytes: Vec<u8>) {
        match &mut self.link {
            Link::Udp(s) => {
                s.send_to(&bytes, self.server).await.unwrap();
            }
            Link::Tcp(s, _) => {
                s.write_all(&frame_for_stream(bytes)).await.unwrap();
            }
        }
    }

    /// The next frame from the server, or `None` after `wait`.
    async fn recv_raw(&mut self, wait: Duration) -> Option<Vec<u8>> {
        match &mut self.link {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65536];
                let (n, _) = tokio::time::timeout(wait, s.recv_from(&mut buf))
                    .await
                    .ok()?
                    .ok()?;
                buf.truncate(n);
                Some(buf)
            }
            Link::Tcp(s, deframer) => {
                let deadline = tokio::time::Instant::now() + wait;
                loop {
                    match deframer.next_frame() {
                        Ok(Some(Frame::Stun(b) | Frame::Channel(b))) => return Some(b),
                        Ok(None) => {}
                        Err(_) => panic!("server broke TCP framing"),
                    }
                    let mut buf = vec![0u8; 65536];
                    let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
                        .await
                        .ok()?
                        .ok()?;
                    if n == 0 {
                        return None;
                    }
                    deframer.push(&buf[..n]);
                }
            }
        }
    }

    /// Whether the server closed a TCP connection (reads EOF within `wait`).
    pub async fn tcp_closed(&mut self, wait: Duration) -> bool {
        let Link::Tcp(s, _) = &mut self.link else {
            panic!("not TCP");
        };
        let mut buf = [0u8; 1024];
        matches!(
            tokio::time::timeout(wait, s.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    fn credentials(&self) -> MessageIntegrityCredentials {
        LongTermKeyCredentials::new(
            self.username.clone(),
            self.password.clone(),
            self.realm.clone().unwrap_or_default(),
        )
        .into()
    }

    /// Sends a request built by `add` (signed once a nonce is known) and
    /// waits for its response; handles 401/438 by retrying once with the
    /// server's nonce.
    async fn transaction(
        &mut self,
        method: Method,
        add: &dyn Fn(&mut MessageWriteVec, TransactionId),
    ) -> Answer {
        for _ in 0..3 {
            let mut m = Message::builder_request(method, MessageWriteVec::new());
            let tid = m.transaction_id();
            add(&mut m, tid);
            if let (Some(realm), Some(nonce)) = (self.realm.clone(), self.nonce.clone()) {
                m.add_attribute(&Username::new(&self.username).unwrap())
                    .unwrap();
                m.add_attribute(&Realm::new(&realm).unwrap()).unwrap();
                m.add_attribute(&Nonce::new(&nonce).unwrap()).unwrap();
                m.add_message_integrity(&self.credentials(), IntegrityAlgorithm::Sha1)
                    .unwrap();
            }
            m.add_fingerprint().unwrap();
            self.send_raw(m.finish()).await;
            let reply = loop {
                let Some(bytes) = self.recv_raw(TIMEOUT).await else {
                    return Err(0);
                };
                match Message::from_bytes(&bytes) {
                    Ok(msg) if msg.transaction_id() == tid => break bytes,
                    Ok(msg) if msg.class() == MessageClass::Indication => {
                        self.note_indication(&bytes);
                    }
                    Ok(_) => {}
                    Err(_) => self.note_channel(&bytes),
                }
            };
            let msg = Message::from_bytes(&reply).unwrap();
            if msg.class() == MessageClass::Success {
                return Ok(reply);
            }
            let code = msg.attribute::<ErrorCode>().map(|e| e.code()).unwrap_or(0);
            let retry = (code == 401 && self.nonce.is_none()) || code == 438;
            if retry {
                if let Ok(n) = msg.attribute::<Nonce>() {
                    self.nonce = Some(n.nonce().to_string());
                }
                if let Ok(r) = msg.attribute::<Realm>() {
                    self.realm = Some(r.realm().to_string());
                }
                if self.nonce.is_some() && self.realm.is_some() {
                    continue;
                }
            }
            return Err(code);
        }
        Err(0)
    }

    fn note_indication(&mut self, bytes: &[u8]) {
        let msg = Message::from_bytes(bytes).unwrap();
        let tid = msg.transaction_id();
        if let (Ok(peer), Ok(data)) = (msg.attribute::<XorPeerAddress>(), msg.attribute::<Data>()) {
            self.incoming.push(Incoming::DataIndication {
                peer: peer.addr(tid),
                data: data.data().to_vec(),
            });
        }
    }

    fn note_channel(&mut self, bytes: &[u8]) {
        if let Ok(c) = ChannelData::parse(bytes) {
            self.incoming.push(Incoming::ChannelData {
                channel: c.id(),
                data: c.data().to_vec(),
            });
        }
    }

    /// Allocate (UDP relay). `Ok(relayed address)` or the error code.
    pub async fn allocate(&mut self) -> Result<SocketAddr, u16> {
        let reply = self
            .transaction(ALLOCATE, &|m, _| {
                m.add_attribute(&RequestedTransport::new(RequestedTransport::UDP))
                    .unwrap();
            })
            .await?;
        let msg = Message::from_bytes(&reply).unwrap();
        Ok(msg
            .attribute::<XorRelayedAddress>()
            .unwrap()
            .addr(msg.transaction_id()))
    }

    /// Allocate asking for a TCP relay (RFC 6062).
    pub async fn allocate_tcp_relay(&mut self) -> Result<(), u16> {
        self.transaction(ALLOCATE, &|m, _| {
            m.add_attribute(&RequestedTransport::new(RequestedTransport::TCP))
                .unwrap();
        })
        .await
        .map(|_| ())
    }

    pub async fn create_permission(&mut self, peer: SocketAddr) -> Result<(), u16> {
        self.transaction(CREATE_PERMISSION, &|m, tid| {
            m.add_attribute(&XorPeerAddress::new(peer, tid)).unwrap();
        })
        .await
        .map(|_| ())
    }

    pub async fn channel_bind(&mut self, channel: u16, peer: SocketAddr) -> Result<(), u16> {
        self.transaction(CHANNEL_BIND, &|m, tid| {
            m.add_attribute(&ChannelNumber::new(channel)).unwrap();
            m.add_attribute(&XorPeerAddress::new(peer, tid)).unwrap();
        })
        .await
        .map(|_| ())
    }

    pub async fn refresh(&mut self, lifetime: u32) -> Result<(), u16> {
        self.transaction(REFRESH, &|m, _| {
            m.add_attribute(&Lifetime::new(lifetime)).unwrap();
        })
        .await
        .map(|_| ())
    }

    /// A Send indication (no answer in TURN, by design).
    pub async fn send_indication(&mut self, peer: SocketAddr, data: &[u8]) {
        let mut m = Message::builder_indication(SEND, MessageWriteVec::new());
        let tid = m.transaction_id();
        m.add_attribute(&XorPeerAddress::new(peer, tid)).unwrap();
        m.add_attribute(&Data::new(data)).unwrap();
        m.add_fingerprint().unwrap();
        self.send_raw(m.finish()).await;
    }

    pub async fn send_channel_data(&mut self, channel: u16, data: &[u8]) {
        let mut bytes = Vec::with_capacity(4 + data.len());
        bytes.extend_from_slice(&channel.to_be_bytes());
        bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
        bytes.extend_from_slice(data);
        self.send_raw(bytes).await;
    }

    /// Waits up to `wait` for data relayed from a peer.
    pub async fn next_incoming(&mut self, wait: Duration) -> Option<Incoming> {
        if !self.incoming.is_empty() {
            return Some(self.incoming.remove(0));
        }
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            let left = deadline - tokio::time::Instant::now();
            let bytes = self.recv_raw(left).await?;
            if Message::from_bytes(&bytes).is_ok() {
                self.note_indication(&bytes);
            } else {
                self.note_channel(&bytes);
            }
            if !self.incoming.is_empty() {
                return Some(self.incoming.remove(0));
            }
        }
        None
    }
}

/// Settings for a TURN server alone on loopback (no SFU): `media` stands
/// for the SFU's media addresses.
pub fn loopback_settings(media: Vec<SocketAddr>, p2p: bool) -> funkraum::turn::Settings {
    funkraum::turn::Settings {
        listen: vec![(Ipv4Addr::LOCALHOST, 0).into()],
        url_host: "127.0.0.1".into(),
        tls_url: None,
        relay_announced: Ipv4Addr::LOCALHOST.into(),
        relay_bind: Ipv4Addr::LOCALHOST.into(),
        relay_ports: (0, 0),
        media,
        p2p,
        credential_lifetime: Duration::from_secs(600),
        max_credentials: 100,
        limits: funkraum::turn::Limits {
            max_allocations: 100,
            max_allocations_per_credential: 10,
            bytes_per_second: 10_000_000,
        },
    }
}
