//! The peer-to-peer side of a test client (docs/protocol.md, "Peer-to-peer
//! for two"): on `mode p2p` a second `webrtc` peer connection towards the
//! peer, negotiated through `p2pSignal` (the impolite side offers), whose
//! state is reported with `p2pState`. It carries one audio m-line and no
//! media: what it proves is that two independent WebRTC stacks find each
//! other directly through the server's relaying.

use super::client::Outgoing;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};

/// What the test reads about the client's peer-to-peer connection.
#[derive(Default)]
pub struct P2pShared {
    /// (peer id, latest connection state) of the current link.
    pub state: Mutex<Option<(String, RTCPeerConnectionState)>>,
    /// `p2pState` messages sent.
    pub reported: Mutex<Vec<&'static str>>,
    /// Bumped for each new link; events of older links are ignored.
    generation: AtomicU64,
}

/// One direct connection to the peer.
pub struct P2pLink {
    pc: Arc<dyn PeerConnection>,
    peer: String,
    /// Candidates that came before the remote description.
    pending: Vec<RTCIceCandidateInit>,
    remote_set: bool,
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

impl P2pLink {
    /// Opens the link; the impolite side (`polite: false`) offers at once.
    pub async fn start(
        peer: String,
        polite: bool,
        udp_bind: SocketAddr,
        outgoing: mpsc::UnboundedSender<Outgoing>,
        shared: Arc<P2pShared>,
    ) -> Result<P2pLink, String> {
        let generation = shared.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *shared.state.lock().unwrap() = Some((peer.clone(), RTCPeerConnectionState::New));
        let mut media_engine = MediaEngine::default();
        media_engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: RTCRtpCodec {
                        mime_type: "audio/opus".to_owned(),
                        clock_rate: 48000,
                        channels: 2,
                        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                        rtcp_feedback: vec![],
                    },
                    payload_type: 111,
                },
                RtpCodecKind::Audio,
            )
            .map_err(|e| e.to_string())?;
        let registry = register_default_interceptors(Registry::new(), &mut media_engine)
            .map_err(|e| e.to_string())?;
        let handler = Arc::new(P2pHandler {
            peer: peer.clone(),
            outgoing: outgoing.clone(),
            shared,
            generation,
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![udp_bind])
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let link = P2pLink {
            pc,
            peer,
            pending: Vec::new(),
            remote_set: false,
            outgoing,
        };
        if !polite {
            link.pc
                .add_transceiver_from_kind(
                    RtpCodecKind::Audio,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Recvonly,
                        streams: vec![],
                        send_encodings: vec![],
                    }),
                )
                .await
                .map_err(|e| e.to_string())?;
            link.describe("offer").await?;
        }
        Ok(link)
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Creates an offer or an answer, sets it as the local description and
    /// sends it to the peer.
    async fn describe(&self, kind: &str) -> Result<(), String> {
        let description = if kind == "offer" {
            self.pc.create_offer(None).await
        } else {
            self.pc.create_answer(None).await
        }
        .map_err(|e| e.to_string())?;
        self.pc
            .set_local_description(description)
            .await
            .map_err(|e| e.to_string())?;
        self.send_description(kind).await;
        Ok(())
    }

    async fn send_description(&self, kind: &str) {
        let sdp = self
            .pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .unwrap_or_default();
        let m = json!({
            "type": "p2pSignal", "to": self.peer,
            "description": {"type": kind, "sdp": sdp},
        });
        let _ = self.outgoing.send(Outgoing::Text(m.to_string()));
    }

    /// Handles a relayed `p2pSignal` from the peer.
    pub async fn on_signal(&mut self, signal: &Value) -> Result<(), String> {
        if let Some(d) = signal.get("description") {
            let sdp = d["sdp"].as_str().unwrap_or_default().to_string();
            match d["type"].as_str() {
                Some("offer") => {
                    let offer = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
                    self.pc
                        .set_remote_description(offer)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.remote_set = true;
                    self.describe("answer").await?;
                }
                Some("answer") => {
                    let answer = RTCSessionDescription::answer(sdp).map_err(|e| e.to_string())?;
                    self.pc
                        .set_remote_description(answer)
                        .await
                        .map_err(|e| e.to_string())?;
                    self.remote_set = true;
                }
                other => return Err(format!("unexpected description type {other:?}")),
            }
            for c in std::mem::take(&mut self.pending) {
                self.pc
                    .add_ice_candidate(c)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        } else if let Some(c) = signal.get("candidate") {
            let init: RTCIceCandidateInit =
                serde_json::from_value(c.clone()).map_err(|e| e.to_string())?;
            if self.remote_set {
                self.pc
                    .add_ice_candidate(init)
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                self.pending.push(init);
            }
        }
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.pc.close().await;
    }
}

struct P2pHandler {
    peer: String,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<P2pShared>,
    generation: u64,
}

impl P2pHandler {
    fn current(&self) -> bool {
        self.shared.generation.load(Ordering::SeqCst) == self.generation
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for P2pHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if !self.current() {
            return;
        }
        if let Ok(init) = event.candidate.to_json() {
            let m = json!({"type": "p2pSignal", "to": self.peer, "candidate": init});
            let _ = self.outgoing.send(Outgoing::Text(m.to_string()));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if !self.current() {
            return;
        }
        *self.shared.state.lock().unwrap() = Some((self.peer.clone(), state));
        let report = match state {
            RTCPeerConnectionState::Connected => "connected",
            RTCPeerConnectionState::Failed => "failed",
            _ => return,
        };
        self.shared.reported.lock().unwrap().push(report);
        let m = json!({"type": "p2pState", "state": report});
        let _ = self.outgoing.send(Outgoing::Text(m.to_string()));
    }
}
