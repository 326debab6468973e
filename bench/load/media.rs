//! Synthetic media and one str0m peer connection of a synthetic participant.
//!
//! Every RTP payload ends in a [`Stamp`]: which participant sent it, on which
//! track, its own counter and the send time. Receivers compute loss from the
//! counters (independent of the server's sequence number rewriting) and
//! one-way latency from the send time: sender and receiver are tasks of this
//! one process, so they share one monotonic clock.

use crate::stats::{RxStats, TxStats, Window};
use funkraum::sfu::rig::write_vp8_headers;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::media::{KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

/// Audio: one Opus-like packet per 20 ms.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
pub const AUDIO_PAYLOAD: usize = 100;
/// Video: 30 frames per second, each a burst of packets.
pub const VIDEO_FPS: u32 = 30;
/// A keyframe is this many times a delta frame.
const KEYFRAME_FACTOR: usize = 3;
/// Largest RTP payload we send (leaves room for header, extensions, SRTP tag).
const MAX_VIDEO_PAYLOAD: usize = 1100;
/// Receive buffer forced on every client socket (root may exceed rmem_max):
/// the generator must not be the one that drops.
const CLIENT_RCVBUF: usize = 2 << 20;

const MAGIC: u32 = 0x464b_424e; // "FKBN"
pub const STAMP_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio = 0,
    Video = 1,
}

/// What every synthetic payload carries in its last [`STAMP_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub participant: u32,
    pub kind: Kind,
    pub counter: u32,
    /// Nanoseconds since the window's epoch.
    pub sent_ns: u64,
}

impl Stamp {
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        out[4..8].copy_from_slice(&self.participant.to_be_bytes());
        out[8..12].copy_from_slice(&(self.kind as u32).to_be_bytes());
        out[12..16].copy_from_slice(&self.counter.to_be_bytes());
        out[16..24].copy_from_slice(&self.sent_ns.to_be_bytes());
    }

    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let s = payload.get(payload.len().checked_sub(STAMP_LEN)?..)?;
        let word = |i: usize| u32::from_be_bytes(s[i..i + 4].try_into().unwrap());
        if word(0) != MAGIC {
            return None;
        }
        let kind = match word(8) {
            0 => Kind::Audio,
            1 => Kind::Video,
            _ => return None,
        };
        Some(Stamp {
            participant: word(4),
            kind,
            counter: word(12),
            sent_ns: u64::from_be_bytes(s[16..24].try_into().unwrap()),
        })
    }
}

/// What a publishing peer sends.
#[derive(Debug, Clone, Copy)]
pub struct MediaPlan {
    pub audio: bool,
    pub video: bool,
    /// Video bitrate in kbit/s (payload).
    pub video_kbps: u32,
}

impl MediaPlan {
    /// Packets of one delta frame and their payload size.
    fn frame_shape(&self) -> (usize, usize) {
        let frame_bytes = (self.video_kbps as usize * 1000 / 8) / VIDEO_FPS as usize;
        let packets = frame_bytes.div_ceil(MAX_VIDEO_PAYLOAD).max(1);
        (packets, (frame_bytes / packets).max(STAMP_LEN + 16))
    }
}

/// The sending side of a publishing peer, active once negotiated.
struct Publisher {
    plan: MediaPlan,
    audio: Option<(Mid, Pt)>,
    video: Option<(Mid, Pt)>,
    next_audio: Instant,
    next_frame: Instant,
    audio_seq: u64,
    video_seq: u64,
    audio_counter: u32,
    video_counter: u32,
    frames: u64,
    picture_id: u16,
    keyframe_wanted: bool,
}

/// One str0m peer connection with its own UDP socket.
pub struct Peer {
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    timeout: Instant,
    publisher: Option<Publisher>,
    pub connected: bool,
    /// Why the connection ended, if it did.
    pub failed: Option<String>,
}

/// Shared by all peers: one DTLS certificate (generating one per peer would
/// cost the generator time for nothing).
#[derive(Clone)]
pub struct PeerFactory {
    crypto: Arc<CryptoProvider>,
    cert: DtlsCert,
    bind: IpAddr,
}

impl PeerFactory {
    pub fn new(bind: IpAddr) -> PeerFactory {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let cert = crypto
            .dtls_provider
            .generate_certificate()
            .expect("the crypto provider generates a DTLS certificate");
        PeerFactory { crypto, cert, bind }
    }

    pub fn peer(&self, now: Instant) -> io::Result<Peer> {
        let std_socket = std::net::UdpSocket::bind((self.bind, 0))?;
        std_socket.set_nonblocking(true)?;
        let _ = nix::sys::socket::setsockopt(
            &std_socket,
            nix::sys::socket::sockopt::RcvBufForce,
            &CLIENT_RCVBUF,
        );
        let local = std_socket.local_addr()?;
        let socket = UdpSocket::from_std(std_socket)?;
        let mut rtc = Rtc::builder()
            .set_crypto_provider(self.crypto.clone())
            .set_dtls_cert(self.cert.clone())
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate = Candidate::host(local, "udp")
            .map_err(|e| io::Error::other(format!("host candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        Ok(Peer {
            rtc,
            socket,
            local,
            timeout: now,
            publisher: None,
            connected: false,
            failed: None,
        })
    }
}

/// Where a peer's measurements go.
pub struct Ctx<'a> {
    pub window: &'a Window,
    pub participant: u32,
    pub rx: &'a mut RxStats,
    pub tx: &'a mut TxStats,
}

impl Peer {
    /// Starts sending `plan` on the negotiated m-lines (client-created,
    /// sendonly). Payload types are the ones the remote side accepted.
    pub fn start_publishing(&mut self, plan: MediaPlan, audio: Option<Mid>, video: Option<Mid>) {
        let pt_of = |rtc: &Rtc, mid: Mid, kind: MediaKind| -> Option<Pt> {
            let media = rtc.media(mid)?;
            if let Some(pt) = media.remote_pts().first() {
                return Some(*pt);
            }
            rtc.codec_config()
                .iter()
                .find(|p| match kind {
                    MediaKind::Audio => p.spec().codec == str0m::format::Codec::Opus,
                    MediaKind::Video => p.spec().codec == str0m::format::Codec::Vp8,
                })
                .map(|p| p.pt())
        };
        let now = Instant::now();
        // Independent senders' media clocks are not aligned: a random phase
        // each, or participants that join at a multiple of the frame
        // interval apart would all send their frames at the same instant.
        let phase =
            |interval: Duration| interval.mul_f64(rand::random::<u32>() as f64 / u32::MAX as f64);
        let audio = audio
            .filter(|_| plan.audio)
            .and_then(|m| pt_of(&self.rtc, m, MediaKind::Audio).map(|pt| (m, pt)));
        let video = video
            .filter(|_| plan.video)
            .and_then(|m| pt_of(&self.rtc, m, MediaKind::Video).map(|pt| (m, pt)));
        self.publisher = Some(Publisher {
            plan,
            audio,
            video,
            next_audio: now + phase(AUDIO_INTERVAL),
            next_frame: now + phase(Duration::from_secs(1) / VIDEO_FPS),
            audio_seq: 1,
            video_seq: 1,
            audio_counter: 0,
            video_counter: 0,
            frames: 0,
            picture_id: 0,
            keyframe_wanted: true,
        });
    }

    /// When this peer next needs [`Peer::tick`].
    pub fn next_due(&self) -> Instant {
        let mut due = self.timeout;
        if let Some(p) = &self.publisher
            && self.connected
        {
            if p.audio.is_some() {
                due = due.min(p.next_audio);
            }
            if p.video.is_some() {
                due = due.min(p.next_frame);
            }
        }
        due
    }

    /// Whether a datagram waits on this peer's socket.
    pub fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        self.socket.poll_recv_ready(cx).map(|_| ())
    }

    /// Reads up to a batch of datagrams and feeds them to str0m.
    pub fn receive(&mut self, buf: &mut [u8], ctx: &mut Ctx) {
        for _ in 0..64 {
            let (n, source) = match self.socket.try_recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            let arrived = Instant::now();
            let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, &buf[..n]) else {
                continue;
            };
            let _ = self.rtc.handle_input(Input::Receive(arrived, receive));
            self.drain(arrived, ctx);
        }
    }

    /// Timers and media due by `now`.
    pub fn tick(&mut self, now: Instant, ctx: &mut Ctx) {
        if now >= self.timeout {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        if self.connected {
            self.send_media(now, ctx);
        }
        self.drain(now, ctx);
    }

    fn send_media(&mut self, now: Instant, ctx: &mut Ctx) {
        let Some(p) = self.publisher.as_mut() else {
            return;
        };
        let sent_ns = ctx.window.ns(now);
        let in_window = ctx.window.contains_ns(sent_ns);
        if let Some((mid, pt)) = p.audio
            && now >= p.next_audio
        {
            p.next_audio = next_tick(p.next_audio, AUDIO_INTERVAL, now);
            let mut payload = vec![0u8; AUDIO_PAYLOAD];
            payload[0] = 0xf8; // Opus TOC: CELT fullband 20 ms, mono
            let stamp = Stamp {
                participant: ctx.participant,
                kind: Kind::Audio,
                counter: p.audio_counter,
                sent_ns,
            };
            stamp.write(&mut payload[AUDIO_PAYLOAD - STAMP_LEN..]);
            p.audio_counter += 1;
            let ts = (p.audio_seq * 960) as u32;
            if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(mid, None) {
                tx.write_rtp(
                    RtpWrite::new(pt, p.audio_seq.into(), ts, now, Arc::<[u8]>::from(payload))
                        .marker(true),
                );
                if in_window {
                    ctx.tx.audio += 1;
                }
            }
            p.audio_seq += 1;
        }
        if let Some((mid, pt)) = p.video
            && now >= p.next_frame
        {
            p.next_frame = next_tick(p.next_frame, Duration::from_secs(1) / VIDEO_FPS, now);
            let keyframe = std::mem::take(&mut p.keyframe_wanted);
            let (mut packets, size) = p.plan.frame_shape();
            if keyframe {
                packets *= KEYFRAME_FACTOR;
            }
            let ts = (p.frames * 3000) as u32;
            p.frames += 1;
            p.picture_id = (p.picture_id + 1) & 0x7fff;
            for i in 0..packets {
                let mut payload = vec![0u8; size];
                write_vp8_headers(&mut payload, i == 0, keyframe, p.picture_id);
                let stamp = Stamp {
                    participant: ctx.participant,
                    kind: Kind::Video,
                    counter: p.video_counter,
                    sent_ns,
                };
                stamp.write(&mut payload[size - STAMP_LEN..]);
                p.video_counter += 1;
                if let Some(tx) = self.rtc.direct_api().stream_tx_by_mid(mid, None) {
                    tx.write_rtp(
                        RtpWrite::new(pt, p.video_seq.into(), ts, now, Arc::<[u8]>::from(payload))
                            .marker(i + 1 == packets)
                            .nackable(true),
                    );
                    if in_window {
                        ctx.tx.video += 1;
                    }
                }
                p.video_seq += 1;
            }
        }
    }

    /// Drains str0m's output: datagrams out, events into the statistics.
    pub fn drain(&mut self, now: Instant, ctx: &mut Ctx) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    if self.socket.try_send_to(&t.contents, t.destination).is_err() {
                        ctx.tx.send_errors += 1;
                    }
                }
                Ok(Output::Event(e)) => self.event(e, now, ctx),
                Err(e) => {
                    self.failed = Some(format!("str0m: {e}"));
                    self.timeout = now + Duration::from_secs(3600);
                    break;
                }
            }
        }
    }

    fn event(&mut self, e: Event, now: Instant, ctx: &mut Ctx) {
        match e {
            Event::Connected => self.connected = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.failed = Some("ICE disconnected".into());
            }
            Event::RtpPacket(packet) => {
                if let Some(stamp) = Stamp::read(&packet.payload) {
                    ctx.rx.record(ctx.window, &stamp, now);
                } else {
                    ctx.rx.unstamped += 1;
                }
            }
            Event::KeyframeRequest(req) => {
                if let Some(p) = self.publisher.as_mut()
                    && p.video.is_some_and(|(mid, _)| mid == req.mid)
                {
                    p.keyframe_wanted = true;
                    match req.kind {
                        KeyframeRequestKind::Pli => ctx.tx.plis += 1,
                        KeyframeRequestKind::Fir => ctx.tx.firs += 1,
                    }
                }
            }
            _ => {}
        }
    }
}

/// The next send time on a fixed schedule (timer lateness does not add
/// up); after a stall of more than a few intervals, the schedule restarts
/// from now rather than sending a burst to catch up.
fn next_tick(previous: Instant, interval: Duration, now: Instant) -> Instant {
    let next = previous + interval;
    if next + interval * 5 < now { now } else { next }
}

/// Resolves to the index of a peer with a datagram waiting.
pub async fn readable(peers: &[Peer]) -> usize {
    std::future::poll_fn(|cx| {
        for (i, p) in peers.iter().enumerate() {
            if p.poll_readable(cx).is_ready() {
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
    .await
}
