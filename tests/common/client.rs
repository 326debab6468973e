//! A conference participant built on the `webrtc` crate, an implementation
//! of WebRTC written by other people than str0m's: its own ICE, DTLS, SRTP
//! and TURN client. It joins through the real signaling, publishes a
//! synthetic Opus and a synthetic VP8 track, answers the server's offers and
//! counts what it receives, per remote participant and kind.
//!
//! Negotiation follows docs/protocol.md ("Who offers what"): the client
//! offers its own tracks once, right after `joined`; the server offers the
//! others' tracks and the client answers. The server holds its first offer
//! back until it has answered the client's (or for two seconds), so the
//! client offering at once avoids a collision. Should one happen anyway,
//! the client is polite as the protocol asks: it rolls back its offer,
//! answers the server's and offers again. It never offers otherwise.

use super::media::{self, Kind};
use super::p2p::{P2pLink, P2pShared};
use super::socket::{self, Ws};
use futures_util::{SinkExt, StreamExt};
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpTransceiver};

/// How a test client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Publish a synthetic Opus track.
    pub audio: bool,
    /// Publish a synthetic VP8 track.
    pub video: bool,
    /// ICE transport policy `relay`: only TURN-relayed candidates, with the
    /// TURN servers the server named in `joined.iceServers`.
    pub relay_only: bool,
    /// Send our ICE candidates as `candidate` messages (the server does not
    /// need them, being ICE-lite, but browsers send them).
    pub trickle: bool,
    /// Answer the server's `ping` with `pong`.
    pub answer_pings: bool,
    /// Where the peer connection binds its UDP socket.
    pub udp_bind: SocketAddr,
    /// The local address the signaling connection comes from (`None`: the
    /// kernel's choice).
    pub ws_bind: Option<std::net::IpAddr>,
    /// Signaling over TLS (`wss://`) to a server with TLS on.
    pub wss: Option<socket::WssClient>,
    /// A VP8 keyframe every this many frames (besides the first frame and
    /// one for every keyframe request). `None`: only those, so a keyframe
    /// at a subscriber proves that its request reached the publisher.
    pub keyframe_interval: Option<u64>,
    /// With `relay_only`: these TURN servers instead of `joined.iceServers`
    /// (a test that puts a proxy between client and server).
    pub ice_servers: Option<Vec<RTCIceServer>>,
    /// Also publish a synthetic VP8 track named `"screen"` in
    /// `offer.sources`; [`TestClient::stop_screen`] stops it.
    pub screen: bool,
    /// Send the RFC 6464 audio-level header extension on the synthetic
    /// audio with this level (−dBov: 0 loudest, 127 silence);
    /// [`TestClient::set_audio_level`] changes it. `None`: no extension.
    pub audio_level: Option<u8>,
    /// Follow `mode p2p`: open a direct connection to the peer through
    /// `p2pSignal` and report it with `p2pState` (see [`super::p2p`]).
    pub p2p: bool,
    /// Extra fields for the `join` message (`moderatorSecret`, `password`).
    pub join_fields: Option<Value>,
    /// Publish the camera as three simulcast layers (rids `q`, `h`, `f`
    /// of [`media::LAYERS`]), each payload naming its layer, each layer
    /// answering keyframe requests for its own SSRC.
    pub simulcast: bool,
    /// Packets per camera frame (not simulcast): more than one cuts each
    /// frame as a packetizer does ([`media::vp8_frame`]).
    pub video_frame_packets: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            audio: true,
            video: true,
            relay_only: false,
            trickle: true,
            answer_pings: true,
            udp_bind: ([127, 0, 0, 1], 0).into(),
            ws_bind: None,
            wss: None,
            keyframe_interval: Some(media::KEYFRAME_INTERVAL),
            ice_servers: None,
            screen: false,
            audio_level: None,
            p2p: false,
            join_fields: None,
            simulcast: false,
            video_frame_packets: 1,
        }
    }
}

/// One server-created m-line, as the latest server `offer` described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedTrack {
    pub participant: String,
    pub kind: Kind,
    /// `"camera"`, `"microphone"` or `"screen"`.
    pub source: String,
}

/// What one remote track delivered.
#[derive(Debug, Clone, Default)]
pub struct TrackStats {
    pub packets: u64,
    pub keyframes: u64,
    pub first_packet: Option<Instant>,
    pub last_packet: Option<Instant>,
}

/// A remote track that delivered media: whose, its SSRC, the track.
type RemoteTrack = (OfferedTrack, u32, Arc<dyn TrackRemote>);

/// One video packet that arrived, as the subscriber's decoder sees it.
#[derive(Debug, Clone)]
pub struct ReceivedVideo {
    pub seq: u16,
    pub timestamp: u32,
    pub picture_id: Option<u16>,
    pub tl0: Option<u8>,
    /// The simulcast layer the publisher sent it on (its payload says).
    pub layer: Option<char>,
    pub keyframe: bool,
    pub at: Instant,
}

/// Everything the client's tasks share with the test.
#[derive(Default)]
struct Shared {
    own_id: String,
    /// Every message from the server, in order.
    log: Mutex<Vec<Value>>,
    /// mid → track, from the latest server offer.
    offered: Mutex<HashMap<String, OfferedTrack>>,
    /// (participant, kind) → what arrived, summed over that participant's
    /// tracks of that kind.
    received: Mutex<BTreeMap<(String, Kind), TrackStats>>,
    /// Things a user would call broken (own media echoed back, media on a
    /// track signalled as someone else's, negotiation failures).
    problems: Mutex<Vec<String>>,
    /// The socket closed, with this close code.
    closed: Mutex<Option<Option<u16>>>,
    connection_state: Mutex<Option<RTCPeerConnectionState>>,
    packets_sent: AtomicU64,
    candidates_sent: AtomicU64,
    /// PLI/FIR that reached our video publisher.
    keyframe_requests: AtomicU64,
    /// Remote tracks by publisher and kind, with their SSRC (for sending
    /// keyframe requests the way a decoder would).
    remote_tracks: Mutex<Vec<RemoteTrack>>,
    /// Bumped on every server message and state change.
    changed: Mutex<Option<watch::Sender<u64>>>,
    /// (participant, source) → packets, from the sources the server named.
    received_sources: Mutex<BTreeMap<(String, String), u64>>,
    /// The audio level written into the audio-level extension.
    audio_level: AtomicU8,
    /// The direct connection to the peer, with `ClientOptions::p2p`.
    p2p: Arc<P2pShared>,
    /// Publisher id → every video packet received from it, in order.
    video_log: Mutex<BTreeMap<String, Vec<ReceivedVideo>>>,
    /// The REMB this client sends for the video it receives (0: none).
    remb: AtomicU64,
    /// Keyframe requests that reached each simulcast layer we send.
    layer_keyframe_requests: Mutex<BTreeMap<char, u64>>,
}

impl Shared {
    fn problem(&self, p: String) {
        self.problems.lock().unwrap().push(p);
    }
}

/// What goes out on the signaling socket.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    /// Close from our side.
    Close,
    /// Stop the screen-sharing transceiver and offer again.
    StopScreen,
}

/// What the signaling task needs beyond the basics.
struct Extras {
    /// Set once the server answered our offer (the publisher waits for it).
    answered: watch::Sender<bool>,
    /// The screen-sharing transceiver, named `"screen"` in our offers.
    screen: Option<Arc<dyn RtpTransceiver>>,
    /// For the direct connection's callbacks.
    outgoing: mpsc::UnboundedSender<Outgoing>,
}

pub struct TestClient {
    pub id: String,
    pub nickname: String,
    /// The `joined` message.
    pub joined: Value,
    shared: Arc<Shared>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    pc: Arc<dyn PeerConnection>,
    tasks: Vec<JoinHandle<()>>,
    changed: watch::Receiver<u64>,
}

impl TestClient {
    /// Joins `room` with default options, publishing audio and video.
    pub async fn join(addr: SocketAddr, room: &str, nickname: &str) -> TestClient {
        TestClient::join_with(addr, room, nickname, ClientOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{nickname} could not join {room}: {e}"))
    }

    /// Joins; a refused join returns the server's `error` message.
    pub async fn join_with(
        addr: SocketAddr,
        room: &str,
        nickname: &str,
        options: ClientOptions,
    ) -> Result<TestClient, Value> {
        let request = socket::request(addr, None);
        let connected = match (&options.wss, options.ws_bind) {
            (Some(tls), _) => socket::connect_wss(request, addr, tls).await,
            (None, Some(local)) => socket::connect_ws_from(request, addr, local).await,
            (None, None) => socket::connect_ws(request).await,
        };
        let mut ws = connected.unwrap_or_else(|e| panic!("signaling connection refused: {e}"));
        let mut join = json!({
            "type": "join", "version": 1, "room": room, "nickname": nickname,
            "audio": options.audio, "video": options.video,
        });
        if let Some(Value::Object(extra)) = &options.join_fields {
            for (k, v) in extra {
                join[k] = v.clone();
            }
        }
        ws.send(Message::text(join.to_string()))
            .await
            .expect("send join");
        let joined = loop {
            let frame = tokio::time::timeout(socket::REPLY_WITHIN, ws.next())
                .await
                .expect("an answer to join within 5 s");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                    match v["type"].as_str() {
                        Some("joined") => break v,
                        Some("error") => return Err(v),
                        _ => panic!("unexpected reply to join: {v}"),
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("unexpected reply to join: {other:?}"),
            }
        };
        let id = joined["id"]
            .as_str()
            .expect("joined carries our id")
            .to_string();
        let nickname = joined["nickname"].as_str().unwrap_or(nickname).to_string();

        let (changed_tx, changed_rx) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            own_id: id.clone(),
            changed: Mutex::new(Some(changed_tx)),
            audio_level: AtomicU8::new(options.audio_level.unwrap_or(127)),
            ..Shared::default()
        });
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (track_tx, track_rx) = mpsc::unbounded_channel();

        let handler = Arc::new(Handler {
            shared: shared.clone(),
            outgoing: options.trickle.then(|| out_tx.clone()),
            tracks: track_tx,
        });
        let pc = build_peer_connection(&options, &joined, handler).await;

        // The client's own tracks: send-only m-lines it creates.
        let mut senders = Vec::new();
        if options.audio {
            senders.push(add_local_track(&pc, Kind::Audio).await);
        }
        if options.video && options.simulcast {
            senders.push(add_simulcast_track(&pc).await);
        } else if options.video {
            senders.push(add_local_track(&pc, Kind::Video).await);
        }
        let mut screen = None;
        if options.screen {
            let track = add_local_track(&pc, Kind::Video).await;
            screen = Some(track.transceiver.clone());
            senders.push(track);
        }

        let (answered_tx, answered_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(route_tracks(
            pc.clone(),
            shared.clone(),
            track_rx,
        )));
        tasks.push(tokio::spawn(signaling(
            ws,
            pc.clone(),
            shared.clone(),
            out_rx,
            options.clone(),
            !senders.is_empty(),
            Extras {
                answered: answered_tx,
                screen,
                outgoing: out_tx.clone(),
            },
        )));
        tasks.push(tokio::spawn(send_remb(shared.clone())));
        if !senders.is_empty() {
            tasks.push(tokio::spawn(publish(
                shared.clone(),
                senders,
                answered_rx,
                options.keyframe_interval,
                options.audio_level.is_some(),
                options.video_frame_packets,
            )));
        }
        Ok(TestClient {
            id,
            nickname,
            joined,
            shared,
            outgoing: out_tx,
            pc,
            tasks,
            changed: changed_rx,
        })
    }

    // ---- what the client saw ----------------------------------------

    /// Every message the server sent so far (after `joined`).
    pub fn messages(&self) -> Vec<Value> {
        self.shared.log.lock().unwrap().clone()
    }

    /// A position in the message log, for "what came after this".
    pub fn mark(&self) -> usize {
        self.shared.log.lock().unwrap().len()
    }

    pub fn messages_since(&self, mark: usize) -> Vec<Value> {
        self.shared.log.lock().unwrap()[mark..].to_vec()
    }

    /// Waits until a message after `mark` satisfies `pred`; returns it.
    pub async fn wait_message_since(
        &mut self,
        mark: usize,
        within: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let shared = self.shared.clone();
        self.wait_until(within, what, || {
            shared.log.lock().unwrap()[mark..]
                .iter()
                .find(|v| pred(v))
                .cloned()
        })
        .await
    }

    /// Packets received from `participant`'s tracks of `kind`.
    pub fn received(&self, participant: &str, kind: Kind) -> u64 {
        self.stats(participant, kind).packets
    }

    pub fn stats(&self, participant: &str, kind: Kind) -> TrackStats {
        self.shared
            .received
            .lock()
            .unwrap()
            .get(&(participant.to_string(), kind))
            .cloned()
            .unwrap_or_default()
    }

    /// Everyone we received anything from, with packet counts.
    pub fn received_all(&self) -> BTreeMap<(String, Kind), u64> {
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(k, s)| (k.clone(), s.packets))
            .collect()
    }

    /// The server-created m-lines of the latest server offer.
    pub fn offered_tracks(&self) -> HashMap<String, OfferedTrack> {
        self.shared.offered.lock().unwrap().clone()
    }

    /// Packets received from `participant`'s tracks of `source`
    /// (`"camera"`, `"microphone"`, `"screen"`), as the server named them.
    pub fn received_source(&self, participant: &str, source: &str) -> u64 {
        self.shared
            .received_sources
            .lock()
            .unwrap()
            .get(&(participant.to_string(), source.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Waits until at least `packets` arrived from `participant`'s tracks
    /// of `source`.
    pub async fn wait_source_from(
        &mut self,
        participant: &str,
        source: &str,
        packets: u64,
        within: Duration,
    ) {
        let what = format!("{packets} packets of {participant}'s {source}");
        let shared = self.shared.clone();
        let key = (participant.to_string(), source.to_string());
        self.wait_until(within, &what, || {
            let r = shared.received_sources.lock().unwrap();
            (r.get(&key).copied().unwrap_or(0) >= packets).then_some(())
        })
        .await;
    }

    /// The audio level (−dBov) sent in the audio-level extension from now on.
    pub fn set_audio_level(&self, level: u8) {
        self.shared.audio_level.store(level, Ordering::Relaxed);
    }

    /// Stops the screen-sharing transceiver and offers again, as a browser
    /// does when the user ends the share.
    pub fn stop_screen(&self) {
        let _ = self.outgoing.send(Outgoing::StopScreen);
    }

    /// The direct connection to the peer: (peer id, state), with
    /// `ClientOptions::p2p`.
    pub fn p2p_state(&self) -> Option<(String, RTCPeerConnectionState)> {
        self.shared.p2p.state.lock().unwrap().clone()
    }

    /// `p2pState` values sent so far.
    pub fn p2p_reported(&self) -> Vec<&'static str> {
        self.shared.p2p.reported.lock().unwrap().clone()
    }

    /// Waits until the direct connection to `peer` is connected.
    pub async fn wait_p2p_connected(&mut self, peer: &str, within: Duration) {
        let shared = self.shared.clone();
        let peer = peer.to_string();
        self.wait_until(within, "a direct connection to the peer", || {
            matches!(
                &*shared.p2p.state.lock().unwrap(),
                Some((p, RTCPeerConnectionState::Connected)) if *p == peer
            )
            .then_some(())
        })
        .await;
    }

    /// Waits until this client sent `count` `p2pState` messages.
    pub async fn wait_p2p_reported(&mut self, count: usize, within: Duration) {
        let shared = self.shared.clone();
        self.wait_until(within, "p2pState reports", || {
            (shared.p2p.reported.lock().unwrap().len() >= count).then_some(())
        })
        .await;
    }

    /// Keyframe requests (PLI/FIR) that reached our video publisher.
    pub fn keyframe_requests(&self) -> u64 {
        self.shared.keyframe_requests.load(Ordering::Relaxed)
    }

    /// Keyframe requests that reached each simulcast layer we send.
    pub fn layer_keyframe_requests(&self) -> BTreeMap<char, u64> {
        self.shared.layer_keyframe_requests.lock().unwrap().clone()
    }

    /// Every video packet received from `participant`, in order of arrival.
    pub fn video_log(&self, participant: &str) -> Vec<ReceivedVideo> {
        self.shared
            .video_log
            .lock()
            .unwrap()
            .get(participant)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until a video packet from `participant` after the first
    /// `from` of them satisfies `pred`; returns its index in the log.
    pub async fn wait_video(
        &mut self,
        participant: &str,
        from: usize,
        within: Duration,
        what: &str,
        pred: impl Fn(&ReceivedVideo) -> bool,
    ) -> usize {
        let shared = self.shared.clone();
        let key = participant.to_string();
        self.wait_until(within, what, || {
            let log = shared.video_log.lock().unwrap();
            let packets = log.get(&key)?;
            packets
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, v)| pred(v))
                .map(|(i, _)| i)
        })
        .await
    }

    /// Sends `videoSizes`: the pixel height at which we show each of these
    /// participants' cameras.
    pub fn send_video_sizes(&self, sizes: &[(&str, u32)]) {
        let sizes: serde_json::Map<String, Value> = sizes
            .iter()
            .map(|(id, h)| (id.to_string(), json!(h)))
            .collect();
        self.send_json(json!({"type": "videoSizes", "sizes": sizes}));
    }

    /// From now on reports, twice a second, a REMB of `bits_per_second`
    /// for every video stream it receives: the most this receiver says it
    /// can take, as a browser with a thin downlink would. `None` stops.
    pub fn set_remb(&self, bits_per_second: Option<u64>) {
        self.shared
            .remb
            .store(bits_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    /// Sends a PLI for `participant`'s video, as a decoder that lost the
    /// picture would. False if no such track has delivered media yet.
    pub async fn request_keyframe(&self, participant: &str) -> bool {
        let track = self
            .shared
            .remote_tracks
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(t, _, _)| t.participant == participant && t.kind == Kind::Video)
            .map(|(_, ssrc, track)| (*ssrc, track.clone()));
        let Some((ssrc, track)) = track else {
            return false;
        };
        track
            .write_rtcp(vec![super::keyframes::pli(ssrc)])
            .await
            .is_ok()
    }

    /// ICE candidates trickled to the server as `candidate` messages.
    pub fn candidates_sent(&self) -> u64 {
        self.shared.candidates_sent.load(Ordering::Relaxed)
    }

    pub fn packets_sent(&self) -> u64 {
        self.shared.packets_sent.load(Ordering::Relaxed)
    }

    /// Failures seen by the client's tasks; a test asserts this is empty.
    pub fn problems(&self) -> Vec<String> {
        self.shared.problems.lock().unwrap().clone()
    }

    pub fn assert_no_problems(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "{} ({}) ran into problems: {problems:#?}",
            self.nickname,
            self.id
        );
    }

    /// The close code, once the server closed the socket.
    pub fn closed(&self) -> Option<Option<u16>> {
        *self.shared.closed.lock().unwrap()
    }

    pub fn connection_state(&self) -> Option<RTCPeerConnectionState> {
        *self.shared.connection_state.lock().unwrap()
    }

    /// Waits until `probe` returns something; fails the test with `what`
    /// after `within`. Wakes on every server message and every 20 ms (media
    /// counters change too often to signal each packet).
    pub async fn wait_until<T>(
        &mut self,
        within: Duration,
        what: &str,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(t) = probe() {
                return t;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{} ({}) waited {within:?} for {what}; received {:?}; problems {:?}; \
                     last messages {:?}",
                    self.nickname,
                    self.id,
                    self.received_all(),
                    self.problems(),
                    last_types(&self.messages()),
                );
            }
            let _ = tokio::time::timeout(Duration::from_millis(20), self.changed.changed()).await;
        }
    }

    /// Waits until at least `packets` of `kind` arrived from `participant`.
    pub async fn wait_media_from(
        &mut self,
        participant: &str,
        kind: Kind,
        packets: u64,
        within: Duration,
    ) {
        let what = format!("{packets} {kind} packets from {participant}");
        let shared = self.shared.clone();
        let key = (participant.to_string(), kind);
        self.wait_until(within, &what, || {
            let r = shared.received.lock().unwrap();
            (r.get(&key).map_or(0, |s| s.packets) >= packets).then_some(())
        })
        .await;
    }

    // ---- what the client does ---------------------------------------

    /// Sends a text frame as it is.
    pub fn send_raw(&self, text: impl Into<String>) {
        let _ = self.outgoing.send(Outgoing::Text(text.into()));
    }

    pub fn send_json(&self, value: Value) {
        self.send_raw(value.to_string());
    }

    pub fn send_binary(&self, data: Vec<u8>) {
        let _ = self.outgoing.send(Outgoing::Binary(data));
    }

    /// Waits until the server closed the signaling socket; its close code.
    pub async fn wait_closed(&mut self, within: Duration) -> Option<u16> {
        let shared = self.shared.clone();
        self.wait_until(within, "the server to close the socket", || {
            *shared.closed.lock().unwrap()
        })
        .await
    }

    /// Leaves as the protocol says (`leave`; the server closes with 1000),
    /// then closes the peer connection.
    pub async fn leave(mut self) {
        self.send_json(json!({"type": "leave"}));
        let code = self.wait_closed(socket::REPLY_WITHIN).await;
        assert_eq!(code, Some(1000), "leave is answered with close 1000");
        self.shutdown().await;
    }

    /// Goes away without a word: the socket (no close frame) and the media
    /// just end, as when a laptop lid closes.
    pub async fn vanish(self) {
        self.shutdown().await;
    }

    /// Ends only the media session (the peer connection), keeping the
    /// signaling connection open and answering pings.
    pub async fn close_media(&self) {
        let _ = self.pc.close().await;
    }

    /// Stops the peer connection and every task of this client.
    pub async fn shutdown(mut self) {
        let _ = self.pc.close().await;
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn last_types(log: &[Value]) -> Vec<String> {
    log.iter()
        .rev()
        .take(8)
        .rev()
        .map(|v| match v["type"].as_str() {
            Some("error") => format!("error {}", v["code"]),
            // Lists of ids: short, and what a failed wait often needs.
            Some(t @ ("videoForwarded" | "activeSpeaker")) => format!("{t} {}", v),
            Some(t) => t.to_string(),
            None => v.to_string(),
        })
        .collect()
}

// ---- the peer connection ------------------------------------------------

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/VP8".to_owned(),
        clock_rate: 90000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

async fn build_peer_connection(
    options: &ClientOptions,
    joined: &Value,
    handler: Arc<Handler>,
) -> Arc<dyn PeerConnection> {
    // Only what browsers are sure to decode, as the server expects.
    let mut media_engine = MediaEngine::default();
    media_engine
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: opus(),
                payload_type: 111,
            },
            RtpCodecKind::Audio,
        )
        .expect("register Opus");
    media_engine
        .register_codec(
            RTCRtpCodecParameters {
                rtp_codec: vp8(),
                payload_type: 96,
            },
            RtpCodecKind::Video,
        )
        .expect("register VP8");
    if options.audio_level.is_some() {
        media_engine
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: AUDIO_LEVEL_URI.to_owned(),
                },
                RtpCodecKind::Audio,
                None,
            )
            .expect("register the audio-level extension");
    }
    let registry = register_default_interceptors(Registry::new(), &mut media_engine)
        .expect("default interceptors");
    let registry = super::keyframes::deliver_keyframe_requests(registry);

    let mut config = RTCConfigurationBuilder::new();
    if options.relay_only {
        config = config
            .with_ice_servers(
                options
                    .ice_servers
                    .clone()
                    .unwrap_or_else(|| ice_servers(joined)),
            )
            .with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_media_engine(media_engine)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![options.udp_bind])
        .build()
        .await
        .expect("a webrtc peer connection builds");
    Arc::new(pc)
}

/// `joined.iceServers` in the webrtc crate's shape.
pub fn ice_servers(joined: &Value) -> Vec<RTCIceServer> {
    joined["iceServers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| RTCIceServer {
            urls: match &s["urls"] {
                Value::String(u) => vec![u.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|u| u.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            },
            username: s["username"].as_str().unwrap_or_default().to_string(),
            credential: s["credential"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// RFC 6464, as browsers offer it.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// A local track the client writes RTP into.
struct LocalTrack {
    kind: Kind,
    ssrc: u32,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn webrtc::rtp_transceiver::RtpSender>,
    transceiver: Arc<dyn RtpTransceiver>,
    /// Simulcast: each layer's rid and SSRC (empty otherwise).
    layers: Vec<(char, u32)>,
}

async fn add_local_track(pc: &Arc<dyn PeerConnection>, kind: Kind) -> LocalTrack {
    let ssrc: u32 = rand::random();
    let (codec, codec_kind) = match kind {
        Kind::Audio => (opus(), RtpCodecKind::Audio),
        Kind::Video => (vp8(), RtpCodecKind::Video),
    };
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "test-client".to_owned(),
        format!("test-client-{kind}"),
        format!("synthetic {kind}"),
        codec_kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    )));
    send_only(pc, kind, ssrc, track, Vec::new()).await
}

/// Adds `track` on a send-only m-line of its own.
async fn send_only(
    pc: &Arc<dyn PeerConnection>,
    kind: Kind,
    ssrc: u32,
    track: Arc<TrackLocalStaticRTP>,
    layers: Vec<(char, u32)>,
) -> LocalTrack {
    let transceiver = pc
        .add_transceiver_from_track(
            track.clone() as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .expect("add a send-only transceiver");
    let sender = transceiver
        .sender()
        .await
        .expect("transceiver is alive")
        .expect("a track-backed transceiver has a sender");
    LocalTrack {
        kind,
        ssrc,
        track,
        sender,
        transceiver,
        layers,
    }
}

/// The camera as three simulcast layers ([`media::LAYERS`]): one track,
/// one send-only m-line, one SSRC per rid.
async fn add_simulcast_track(pc: &Arc<dyn PeerConnection>) -> LocalTrack {
    let layers: Vec<(char, u32)> = media::LAYERS
        .iter()
        .map(|&(rid, _, _)| (rid, rand::random()))
        .collect();
    let encodings = layers
        .iter()
        .map(|&(rid, ssrc)| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: rid.to_string(),
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: vp8(),
            ..Default::default()
        })
        .collect();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "test-client".to_owned(),
        "test-client-simulcast".to_owned(),
        "synthetic simulcast video".to_owned(),
        RtpCodecKind::Video,
        encodings,
    )));
    send_only(pc, Kind::Video, layers[0].1, track, layers).await
}

/// A header extension written as it is (the `sdes:mid` and
/// `sdes:rtp-stream-id` strings, which the webrtc crate does not add).
struct RawExtension(Vec<u8>);

impl rtc::shared::marshal::MarshalSize for RawExtension {
    fn marshal_size(&self) -> usize {
        self.0.len()
    }
}

impl rtc::shared::marshal::Marshal for RawExtension {
    fn marshal_to(&self, buf: &mut [u8]) -> rtc::shared::error::Result<usize> {
        buf[..self.0.len()].copy_from_slice(&self.0);
        Ok(self.0.len())
    }
}

fn raw_extension(uri: &'static str, value: &str) -> rtp::extension::HeaderExtension {
    rtp::extension::HeaderExtension::Custom {
        uri: uri.into(),
        extension: Box::new(RawExtension(value.as_bytes().to_vec())),
    }
}

/// Reports the REMB the test set, twice a second, for every video stream
/// received so far.
async fn send_remb(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let bitrate = shared.remb.load(Ordering::Relaxed);
        if bitrate == 0 {
            continue;
        }
        let tracks: Vec<(u32, Arc<dyn TrackRemote>)> = shared
            .remote_tracks
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t.kind == Kind::Video)
            .map(|(_, ssrc, track)| (*ssrc, track.clone()))
            .collect();
        let Some((_, track)) = tracks.first() else {
            continue;
        };
        let ssrcs = tracks.iter().map(|(ssrc, _)| *ssrc).collect();
        let _ = track
            .write_rtcp(vec![super::keyframes::remb(bitrate, ssrcs)])
            .await;
    }
}

/// The callbacks of the webrtc crate.
struct Handler {
    shared: Arc<Shared>,
    outgoing: Option<mpsc::UnboundedSender<Outgoing>>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Some(out) = &self.outgoing else {
            return;
        };
        if let Ok(init) = event.candidate.to_json() {
            let m = json!({"type": "candidate", "candidate": init.candidate});
            if out.send(Outgoing::Text(m.to_string())).is_ok() {
                self.shared.candidates_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        *self.shared.connection_state.lock().unwrap() = Some(state);
        bump(&self.shared);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // Runs on the connection's driver: hand the track on, do no work here.
        let _ = self.tracks.send(track);
    }
}

fn bump(shared: &Shared) {
    if let Some(tx) = &*shared.changed.lock().unwrap() {
        tx.send_modify(|n| *n += 1);
    }
}

// ---- the client's tasks -------------------------------------------------

/// Owns the signaling socket: sends what the test and the handler queue,
/// and handles what the server sends (offers, answers, pings).
async fn signaling(
    mut ws: Ws,
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    options: ClientOptions,
    publishes: bool,
    extras: Extras,
) {
    let answered = &extras.answered;
    let mut p2p: Option<P2pLink> = None;
    // Our one offer: the tracks we publish.
    let mut offer_pending = false;
    if publishes {
        match make_offer(&pc).await {
            Ok(sdp) => {
                offer_pending = true;
                let m = offer_message(sdp, &extras).await;
                if ws.send(Message::text(m.to_string())).await.is_err() {
                    return;
                }
            }
            Err(e) => shared.problem(format!("cannot create our offer: {e}")),
        }
    }
    loop {
        tokio::select! {
            out = outgoing.recv() => {
                let frame = match out {
                    Some(Outgoing::Text(t)) => Message::text(t),
                    Some(Outgoing::Binary(b)) => Message::binary(b),
                    Some(Outgoing::Close) | None => {
                        let _ = ws.close(None).await;
                        set_closed(&shared, None);
                        return;
                    }
                    Some(Outgoing::StopScreen) => {
                        let Some(screen) = &extras.screen else {
                            shared.problem("stop_screen without a screen track".into());
                            continue;
                        };
                        if let Err(e) = screen.stop().await {
                            shared.problem(format!("cannot stop the screen transceiver: {e}"));
                        }
                        match make_offer(&pc).await {
                            Ok(sdp) => {
                                offer_pending = true;
                                Message::text(offer_message(sdp, &extras).await.to_string())
                            }
                            Err(e) => {
                                shared.problem(format!("cannot offer after stopping: {e}"));
                                continue;
                            }
                        }
                    }
                };
                if ws.send(frame).await.is_err() {
                    set_closed(&shared, None);
                    return;
                }
            }
            incoming = ws.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(frame))) => {
                        set_closed(&shared, frame.map(|f| u16::from(f.code)));
                        return;
                    }
                    None | Some(Err(_)) => {
                        set_closed(&shared, None);
                        return;
                    }
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    shared.problem(format!("the server sent text that is not JSON: {text}"));
                    continue;
                };
                shared.log.lock().unwrap().push(v.clone());
                match v["type"].as_str() {
                    Some("offer") => {
                        if offer_pending {
                            // A collision: be polite (docs/protocol.md).
                            if let Err(e) = rollback(&pc).await {
                                shared.problem(format!("rollback after a collision failed: {e}"));
                            }
                        }
                        remember_offered(&shared, &v);
                        match answer(&pc, &v).await {
                            Ok(sdp) => {
                                let m = json!({"type": "answer", "sdp": sdp});
                                if ws.send(Message::text(m.to_string())).await.is_err() {
                                    set_closed(&shared, None);
                                    return;
                                }
                            }
                            Err(e) => shared.problem(format!("cannot answer the server's offer: {e}")),
                        }
                        if offer_pending {
                            match make_offer(&pc).await {
                                Ok(sdp) => {
                                    let m = offer_message(sdp, &extras).await;
                                    let _ = ws.send(Message::text(m.to_string())).await;
                                }
                                Err(e) => shared.problem(format!("cannot offer again: {e}")),
                            }
                        }
                    }
                    Some("answer") => {
                        if !offer_pending {
                            shared.problem("an answer arrived but we had not offered".into());
                        } else {
                            offer_pending = false;
                            let sdp = v["sdp"].as_str().unwrap_or_default().to_string();
                            let applied = match RTCSessionDescription::answer(sdp) {
                                Ok(d) => pc.set_remote_description(d).await,
                                Err(e) => Err(e),
                            };
                            match applied {
                                Ok(()) => {
                                    let _ = answered.send(true);
                                }
                                Err(e) => shared.problem(format!("the server's answer does not apply: {e}")),
                            }
                        }
                    }
                    Some("ping") if options.answer_pings => {
                        let _ = ws.send(Message::text(json!({"type": "pong"}).to_string())).await;
                    }
                    Some("mode") if options.p2p => {
                        if let Some(old) = p2p.take() {
                            old.close().await;
                        }
                        if v["mode"] == "p2p" {
                            let peer = v["peer"].as_str().unwrap_or_default().to_string();
                            let polite = v["polite"].as_bool().unwrap_or(true);
                            match P2pLink::start(
                                peer,
                                polite,
                                options.udp_bind,
                                extras.outgoing.clone(),
                                shared.p2p.clone(),
                            )
                            .await
                            {
                                Ok(link) => p2p = Some(link),
                                Err(e) => shared.problem(format!("cannot open the direct connection: {e}")),
                            }
                        } else {
                            *shared.p2p.state.lock().unwrap() = None;
                        }
                    }
                    Some("p2pSignal") if options.p2p => match &mut p2p {
                        Some(link) if v["from"] == link.peer() => {
                            if let Err(e) = link.on_signal(&v).await {
                                shared.problem(format!("a p2pSignal does not apply: {e}"));
                            }
                        }
                        _ => shared.problem(format!("a p2pSignal from someone not our peer: {}", v["from"])),
                    },
                    _ => {}
                }
                bump(&shared);
            }
        }
    }
}

fn set_closed(shared: &Shared, code: Option<u16>) {
    shared.closed.lock().unwrap().get_or_insert(code);
    bump(shared);
}

/// Our `offer` message; the screen's m-line named in `sources`.
async fn offer_message(sdp: String, extras: &Extras) -> Value {
    let mut m = json!({"type": "offer", "sdp": sdp});
    if let Some(screen) = &extras.screen
        && let Ok(Some(mid)) = screen.mid().await
    {
        m["sources"] = json!({ mid: "screen" });
    }
    m
}

async fn make_offer(pc: &Arc<dyn PeerConnection>) -> webrtc::error::Result<String> {
    let offer = pc.create_offer(None).await?;
    pc.set_local_description(offer).await?;
    let local = pc
        .local_description()
        .await
        .expect("a local description after setting one");
    Ok(local.sdp)
}

async fn rollback(pc: &Arc<dyn PeerConnection>) -> webrtc::error::Result<()> {
    pc.set_local_description(RTCSessionDescription::rollback(None)?)
        .await
}

async fn answer(pc: &Arc<dyn PeerConnection>, offer: &Value) -> webrtc::error::Result<String> {
    let sdp = offer["sdp"].as_str().unwrap_or_default().to_string();
    pc.set_remote_description(RTCSessionDescription::offer(sdp)?)
        .await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    let local = pc
        .local_description()
        .await
        .expect("a local description after setting one");
    Ok(local.sdp)
}

/// Records `offer.tracks`: which participant each server m-line carries.
fn remember_offered(shared: &Shared, offer: &Value) {
    let mut offered = HashMap::new();
    for t in offer["tracks"].as_array().into_iter().flatten() {
        let (Some(mid), Some(participant), Some(kind), Some(source)) = (
            t["mid"].as_str(),
            t["participant"].as_str(),
            t["kind"].as_str().and_then(Kind::parse),
            t["source"].as_str(),
        ) else {
            shared.problem(format!("a malformed entry in offer.tracks: {t}"));
            continue;
        };
        if participant == shared.own_id {
            shared.problem(format!("the server offered us our own {kind} (mid {mid})"));
        }
        offered.insert(
            mid.to_string(),
            OfferedTrack {
                participant: participant.to_string(),
                kind,
                source: source.to_string(),
            },
        );
    }
    *shared.offered.lock().unwrap() = offered;
}

/// For each remote track: find its mid, look up whose it is, count packets.
async fn route_tracks(
    pc: Arc<dyn PeerConnection>,
    shared: Arc<Shared>,
    mut tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
) {
    while let Some(track) = tracks.recv().await {
        let mid = mid_of(&pc, &track).await;
        let offered = mid
            .as_ref()
            .and_then(|m| shared.offered.lock().unwrap().get(m).cloned());
        let Some(offered) = offered else {
            shared.problem(format!(
                "media arrived on an m-line no server offer described (mid {mid:?})"
            ));
            continue;
        };
        tokio::spawn(count_packets(track, offered, shared.clone()));
    }
}

async fn mid_of(pc: &Arc<dyn PeerConnection>, track: &Arc<dyn TrackRemote>) -> Option<String> {
    // Addresses as integers: raw pointers may not live across an await.
    let wanted = Arc::as_ptr(track) as *const () as usize;
    for t in pc.get_transceivers().await {
        let Ok(Some(receiver)) = t.receiver().await else {
            continue;
        };
        if Arc::as_ptr(receiver.track()) as *const () as usize == wanted {
            return t.mid().await.ok().flatten();
        }
    }
    None
}

async fn count_packets(track: Arc<dyn TrackRemote>, offered: OfferedTrack, shared: Arc<Shared>) {
    let key = (offered.participant.clone(), offered.kind);
    if let Some(&ssrc) = track.ssrcs().await.first() {
        shared
            .remote_tracks
            .lock()
            .unwrap()
            .push((offered.clone(), ssrc, track.clone()));
    }
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let now = Instant::now();
        match media::publisher_of(&packet.payload) {
            Some(p) if p == shared.own_id => {
                shared.problem(format!("we received our own {} back", offered.kind));
            }
            Some(p) if p != offered.participant => {
                shared.problem(format!(
                    "{}'s media arrived on a track signalled as {}'s",
                    p, offered.participant
                ));
            }
            Some(_) => {}
            None => shared.problem("a packet without the synthetic tag arrived".into()),
        }
        let keyframe = offered.kind == Kind::Video && media::vp8_is_keyframe(&packet.payload);
        if offered.kind == Kind::Video {
            let (picture_id, tl0) = media::vp8_picture_id(&packet.payload);
            shared
                .video_log
                .lock()
                .unwrap()
                .entry(offered.participant.clone())
                .or_default()
                .push(ReceivedVideo {
                    seq: packet.header.sequence_number,
                    timestamp: packet.header.timestamp,
                    picture_id,
                    tl0,
                    layer: media::layer_of(&packet.payload),
                    keyframe,
                    at: now,
                });
        }
        *shared
            .received_sources
            .lock()
            .unwrap()
            .entry((offered.participant.clone(), offered.source.clone()))
            .or_default() += 1;
        let mut received = shared.received.lock().unwrap();
        let s = received.entry(key.clone()).or_default();
        s.packets += 1;
        s.keyframes += u64::from(keyframe);
        s.first_packet.get_or_insert(now);
        s.last_packet = Some(now);
    }
}

/// Writes the synthetic tracks, one packet per track every 20 ms, once the
/// server has answered our offer.
async fn publish(
    shared: Arc<Shared>,
    tracks: Vec<LocalTrack>,
    mut answered: watch::Receiver<bool>,
    keyframe_interval: Option<u64>,
    audio_level: bool,
    frame_packets: usize,
) {
    if answered.wait_for(|a| *a).await.is_err() {
        return;
    }
    // Keyframe requests for the video track, answered with the next frame
    // (of the layer whose SSRC they name, with simulcast).
    let keyframe_wanted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let layer_wanted: Arc<Vec<(char, u32, std::sync::atomic::AtomicBool)>> = Arc::new(
        tracks
            .iter()
            .flat_map(|t| &t.layers)
            .map(|&(rid, ssrc)| (rid, ssrc, std::sync::atomic::AtomicBool::new(false)))
            .collect(),
    );
    let mut listeners = Vec::new();
    for t in tracks.iter().filter(|t| t.kind == Kind::Video) {
        let (track, shared, wanted, layers) = (
            t.track.clone(),
            shared.clone(),
            keyframe_wanted.clone(),
            layer_wanted.clone(),
        );
        listeners.push(AbortOnDrop(tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                    continue;
                };
                let n = packets
                    .iter()
                    .filter(|p| super::keyframes::is_keyframe_request(p.as_ref()))
                    .count() as u64;
                if n > 0 {
                    shared.keyframe_requests.fetch_add(n, Ordering::Relaxed);
                    wanted.store(true, Ordering::Relaxed);
                }
                for ssrc in packets
                    .iter()
                    .flat_map(|p| super::keyframes::requested_ssrcs(p.as_ref()))
                {
                    if let Some((rid, _, flag)) = layers.iter().find(|(_, s, _)| *s == ssrc) {
                        flag.store(true, Ordering::Relaxed);
                        *shared
                            .layer_keyframe_requests
                            .lock()
                            .unwrap()
                            .entry(*rid)
                            .or_default() += 1;
                    }
                }
            }
        })));
    }
    // The negotiated payload type of each track.
    let mut pts = Vec::new();
    for t in &tracks {
        let params = match t.sender.get_parameters().await {
            Ok(p) => p,
            Err(e) => {
                shared.problem(format!("no send parameters for {}: {e}", t.kind));
                return;
            }
        };
        let wanted = match t.kind {
            Kind::Audio => "audio/opus",
            Kind::Video => "video/vp8",
        };
        let Some(pt) = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(wanted))
            .map(|c| c.payload_type)
        else {
            shared.problem(format!("the server did not accept {wanted}"));
            return;
        };
        pts.push(pt);
    }
    let own = shared.own_id.clone();
    let mut seq: u16 = rand::random();
    // Multi-packet frames: the camera's own sequence numbers.
    let mut video_seq: u16 = rand::random();
    let mut frame: u64 = 0;
    // Simulcast: each layer's own sequence numbers, RTP clock offset,
    // picture ids and TL0PICIDX, as separate encoders have.
    let mut layer_state: Vec<(u16, u32, u16, u8)> = layer_wanted
        .iter()
        .map(|_| {
            (
                rand::random(),
                rand::random(),
                rand::random::<u16>() & 0x7fff,
                rand::random(),
            )
        })
        .collect();
    let mut mids = Vec::new();
    for t in &tracks {
        mids.push(t.transceiver.mid().await.ok().flatten().unwrap_or_default());
    }
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / media::PACKETS_PER_SECOND));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        for ((t, &pt), mid) in tracks.iter().zip(&pts).zip(&mids) {
            if !t.layers.is_empty() {
                for (i, &(rid, ssrc)) in t.layers.iter().enumerate() {
                    let (_, height, size) = media::LAYERS[i];
                    let state = &mut layer_state[i];
                    let keyframe = frame == 0
                        || keyframe_interval.is_some_and(|n| frame.is_multiple_of(n))
                        || layer_wanted[i].2.swap(false, Ordering::Relaxed);
                    state.0 = state.0.wrapping_add(1);
                    state.2 = (state.2 + 1) & 0x7fff;
                    state.3 = state.3.wrapping_add(1);
                    let payload = media::vp8_layer_payload(
                        &own, rid, state.2, state.3, keyframe, height, size,
                    );
                    let packet = rtp::packet::Packet {
                        header: rtp::header::Header {
                            version: 2,
                            marker: true,
                            payload_type: pt,
                            sequence_number: state.0,
                            timestamp: state.1.wrapping_add((frame * 1800) as u32),
                            ssrc,
                            ..Default::default()
                        },
                        payload: payload.into(),
                    };
                    let extensions = [
                        raw_extension("urn:ietf:params:rtp-hdrext:sdes:mid", mid),
                        raw_extension(
                            "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
                            &rid.to_string(),
                        ),
                    ];
                    match t.track.write_rtp_with_extensions(packet, &extensions).await {
                        Ok(()) => {
                            shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if frame < 3 => {
                            shared.problem(format!("cannot send simulcast layer {rid}: {e}"))
                        }
                        Err(_) => {}
                    }
                }
                continue;
            }
            if t.kind == Kind::Video && frame_packets > 1 {
                let keyframe = frame == 0
                    || keyframe_interval.is_some_and(|n| frame.is_multiple_of(n))
                    || keyframe_wanted.swap(false, Ordering::Relaxed);
                let payloads = media::vp8_frame(&own, frame as u16, keyframe, frame_packets);
                let last = payloads.len() - 1;
                for (i, payload) in payloads.into_iter().enumerate() {
                    let packet = rtp::packet::Packet {
                        header: rtp::header::Header {
                            version: 2,
                            marker: i == last,
                            payload_type: pt,
                            sequence_number: video_seq,
                            timestamp: (frame * 1800) as u32,
                            ssrc: t.ssrc,
                            ..Default::default()
                        },
                        payload: payload.into(),
                    };
                    video_seq = video_seq.wrapping_add(1);
                    if t.track.write_rtp(packet).await.is_ok() {
                        shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
            let (payload, timestamp) = match t.kind {
                Kind::Audio => (media::opus_payload(&own), (frame * 960) as u32),
                Kind::Video => {
                    let keyframe = frame == 0
                        || keyframe_interval.is_some_and(|n| frame.is_multiple_of(n))
                        || keyframe_wanted.swap(false, Ordering::Relaxed);
                    (
                        media::vp8_payload(&own, frame as u16, keyframe),
                        (frame * 1800) as u32,
                    )
                }
            };
            let packet = rtp::packet::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker: t.kind == Kind::Video,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp,
                    ssrc: t.ssrc,
                    ..Default::default()
                },
                payload: payload.into(),
            };
            let written = if audio_level && t.kind == Kind::Audio {
                let level = shared.audio_level.load(Ordering::Relaxed).min(127);
                let ext = rtp::extension::HeaderExtension::AudioLevel(
                    rtp::extension::audio_level_extension::AudioLevelExtension {
                        level,
                        voice: level < 127,
                    },
                );
                t.track.write_rtp_with_extensions(packet, &[ext]).await
            } else {
                t.track.write_rtp(packet).await
            };
            if written.is_ok() {
                shared.packets_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        seq = seq.wrapping_add(1);
        frame += 1;
    }
}

/// Ends a helper task together with the task that owns it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
