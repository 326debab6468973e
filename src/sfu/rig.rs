//! A room of simulated participants around the sans-IO core, in simulated
//! time over a simulated network: str0m clients that publish audio and
//! VP8-like video and receive everyone else. For benchmarks of the
//! forwarding path (`bench/alloc.rs` counts heap allocations per forwarded
//! packet with it); the daemon does not use it.

use super::core::{Network, SfuCore};
use super::{Command, SfuConfig, SfuEvent, SfuStats};
use crate::ids::{ParticipantId, RoomId};
use crate::privacy::Sdp;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Input, Output, Rtc};
use tokio::sync::mpsc;

/// Simulated time per step: a video frame at 30 frames/s is due every
/// 33 ms, an audio packet every 20 ms.
/// How far simulated time moves between two rounds of the core's input
/// (every client's datagrams, then one `handle_timeout`) unless
/// [`Rig::set_step`] says otherwise: the core sees batches of this much
/// media.
const STEP: Duration = Duration::from_millis(5);
const VIDEO_PACKET: usize = 1000;
/// An Opus-like packet every 20 ms, a video frame at 30 frames/s.
const AUDIO_PERIOD: Duration = Duration::from_millis(20);
const VIDEO_PERIOD: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// Datagrams of one step, in buffers that are kept: the network itself
/// allocates nothing once warm.
#[derive(Default)]
struct SimNetwork {
    bytes: Vec<u8>,
    queued: Vec<(SocketAddr, SocketAddr, usize)>,
}

impl Network for SimNetwork {
    fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        self.queued.push((source, destination, self.bytes.len()));
    }
}

struct Client {
    id: ParticipantId,
    rtc: Rtc,
    addr: SocketAddr,
    events: mpsc::Receiver<SfuEvent>,
    audio: Option<(Mid, Pt)>,
    video: Option<(Mid, Pt)>,
    seq: u64,
    video_seq: u64,
    frames: u64,
    next_audio: Instant,
    next_frame: Instant,
}

/// The room: `n` participants, each publishing audio and video with
/// `packets_per_frame` packets per frame and a keyframe every second.
pub struct Rig {
    core: SfuCore,
    clients: Vec<Client>,
    net: SimNetwork,
    now: Instant,
    stats: Arc<SfuStats>,
    packets_per_frame: usize,
    step: Duration,
}

impl Rig {
    pub fn new(n: usize, packets_per_frame: usize) -> Rig {
        let server: SocketAddr = "10.0.0.1:10000".parse().expect("an address");
        let stats = Arc::new(SfuStats::default());
        let now = Instant::now();
        let mut core = SfuCore::new(vec![server], SfuConfig { last_n: 0 }, stats.clone(), 0);
        let room = RoomId::from_u64(1);
        let mut clients = Vec::new();
        for i in 0..n {
            let id = ParticipantId::from_u64(i as u64 + 1);
            let (tx, events) = mpsc::channel(4096);
            core.handle_command(
                now,
                Command::Join {
                    participant: id,
                    room,
                    events: tx,
                },
                &mut SimNetwork::default(),
            );
            let addr = SocketAddr::new([10, 0, 1, i as u8 + 1].into(), 5000);
            let mut rtc = client_rtc(addr, now);
            let mut api = rtc.sdp_api();
            let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            let (offer, pending) = api.apply().expect("a change to offer");
            core.handle_command(
                now,
                Command::Offer {
                    participant: id,
                    sdp: Sdp::from_validated(offer.to_sdp_string()),
                    sources: Vec::new(),
                },
                &mut SimNetwork::default(),
            );
            let mut client = Client {
                id,
                rtc,
                addr,
                events,
                audio: None,
                video: None,
                seq: 0,
                video_seq: 0,
                frames: 0,
                // Each participant's media clocks at its own phase, spread
                // evenly, as independent browsers (and the load generator)
                // have them: with all of them at one instant, every
                // subscriber got all frames of a 33 ms period in one batch,
                // and its pacer's scan over the queues holding packets
                // weighed far more than in a real room
                // (docs/performance.md, "Latest").
                next_audio: now + AUDIO_PERIOD * i as u32 / n as u32,
                next_frame: now + VIDEO_PERIOD * i as u32 / n as u32,
            };
            loop {
                match client.events.try_recv() {
                    Ok(SfuEvent::Answer { sdp }) => {
                        let answer = SdpAnswer::from_sdp_string(&sdp).expect("an answer");
                        client
                            .rtc
                            .sdp_api()
                            .accept_answer(pending, answer)
                            .expect("the answer applies");
                        break;
                    }
                    Ok(_) => continue,
                    Err(e) => panic!("the core answers the offer: {e}"),
                }
            }
            client.audio = pt_of(&client.rtc, audio, Codec::Opus).map(|pt| (audio, pt));
            client.video = pt_of(&client.rtc, video, Codec::Vp8).map(|pt| (video, pt));
            clients.push(client);
        }
        Rig {
            core,
            clients,
            net: SimNetwork::default(),
            now,
            stats,
            packets_per_frame,
            step: STEP,
        }
    }

    /// Batches of `step` (whole milliseconds, at least 1) from now on. The
    /// media thread drains its socket each time it wakes: under load
    /// that is about once a millisecond, a smaller batch than the
    /// default's, so it pays more per-batch work per packet.
    pub fn set_step(&mut self, step: Duration) {
        self.step = step.max(Duration::from_millis(1));
    }

    /// Forwarded RTP packets so far.
    pub fn forwarded(&self) -> u64 {
        SfuStats::get(&self.stats.rtp_packets_out)
    }

    /// Advances simulated time by `duration`. `count` reads a counter (of
    /// heap allocations, say); the return value is how much it grew inside
    /// the core's calls only, not in the simulated clients.
    pub fn run(&mut self, duration: Duration, count: &dyn Fn() -> u64) -> u64 {
        let mut inside = 0;
        let steps = duration.as_millis() / self.step.as_millis();
        for _ in 0..steps {
            inside += self.step(count);
        }
        inside
    }

    fn step(&mut self, count: &dyn Fn() -> u64) -> u64 {
        self.now += self.step;
        let now = self.now;
        let mut inside = 0;
        // Each client: timers, media, its datagrams into the core.
        for c in &mut self.clients {
            let _ = c.rtc.handle_input(Input::Timeout(now));
            if c.rtc.is_connected() {
                publish(c, now, self.packets_per_frame);
            }
            loop {
                match c.rtc.poll_output() {
                    Ok(Output::Timeout(_)) | Err(_) => break,
                    Ok(Output::Transmit(t)) => {
                        let before = count();
                        self.core.handle_datagram(
                            now,
                            t.destination,
                            t.source,
                            &t.contents,
                            &mut self.net,
                        );
                        inside += count() - before;
                    }
                    Ok(Output::Event(_)) => {}
                }
            }
        }
        let before = count();
        self.core.handle_timeout(now, &mut self.net);
        inside += count() - before;
        // The core's datagrams to the clients.
        let mut start = 0;
        for &(source, destination, end) in &self.net.queued {
            let data = &self.net.bytes[start..end];
            start = end;
            let Some(c) = self.clients.iter_mut().find(|c| c.addr == destination) else {
                continue;
            };
            if let Ok(r) = Receive::new(Protocol::Udp, source, destination, data) {
                let _ = c.rtc.handle_input(Input::Receive(now, r));
            }
        }
        self.net.bytes.clear();
        self.net.queued.clear();
        // Signaling: the core's offers are answered at once.
        for c in &mut self.clients {
            while let Ok(event) = c.events.try_recv() {
                let SfuEvent::Offer { sdp, .. } = event else {
                    continue;
                };
                let Ok(offer) = SdpOffer::from_sdp_string(&sdp) else {
                    continue;
                };
                let Ok(answer) = c.rtc.sdp_api().accept_offer(offer) else {
                    continue;
                };
                let before = count();
                self.core.handle_command(
                    now,
                    Command::Answer {
                        participant: c.id,
                        sdp: Sdp::from_validated(answer.to_sdp_string()),
                    },
                    &mut self.net,
                );
                inside += count() - before;
            }
        }
        inside
    }
}

fn pt_of(rtc: &Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    if let Some(pt) = rtc.media(mid).and_then(|m| m.remote_pts().first().copied()) {
        return Some(pt);
    }
    rtc.codec_config()
        .iter()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

/// Audio every 20 ms, a video frame every 33 ms (a keyframe every 30th).
fn publish(c: &mut Client, now: Instant, packets_per_frame: usize) {
    if let Some((mid, pt)) = c.audio
        && now >= c.next_audio
    {
        c.next_audio += AUDIO_PERIOD;
        let mut payload = vec![0u8; 100];
        payload[0] = 0xf8;
        let ts = (c.seq * 960) as u32;
        if let Some(tx) = c.rtc.direct_api().stream_tx_by_mid(mid, None) {
            tx.write_rtp(
                RtpWrite::new(pt, c.seq.into(), ts, now, Arc::<[u8]>::from(payload)).marker(true),
            );
        }
        c.seq += 1;
    }
    if let Some((mid, pt)) = c.video
        && now >= c.next_frame
    {
        c.next_frame += VIDEO_PERIOD;
        let keyframe = c.frames.is_multiple_of(30);
        let ts = (c.frames * 3000) as u32;
        let picture_id = (c.frames & 0x7fff) as u16;
        c.frames += 1;
        for i in 0..packets_per_frame {
            let mut payload = vec![0u8; VIDEO_PACKET];
            write_vp8_headers(&mut payload, i == 0, keyframe, picture_id);
            if let Some(tx) = c.rtc.direct_api().stream_tx_by_mid(mid, None) {
                tx.write_rtp(
                    RtpWrite::new(pt, c.video_seq.into(), ts, now, Arc::<[u8]>::from(payload))
                        .marker(i + 1 == packets_per_frame)
                        .nackable(true),
                );
            }
            c.video_seq += 1;
        }
    }
}

/// Writes a VP8 payload descriptor (RFC 7741: X and S on the first packet
/// of a frame, I with a 15-bit picture id) at the start of `payload`, and on
/// a frame's first packet the frame tag (P bit clear on keyframes,
/// show_frame set) with, for a keyframe, the start code and a 640×360 size:
/// enough for the SFU (and str0m) to see frames and keyframes.
/// `payload` must be at least 14 bytes long.
pub fn write_vp8_headers(
    payload: &mut [u8],
    first_of_frame: bool,
    keyframe: bool,
    picture_id: u16,
) {
    payload[0] = if first_of_frame { 0x90 } else { 0x80 };
    payload[1] = 0x80;
    payload[2] = 0x80 | (picture_id >> 8) as u8;
    payload[3] = picture_id as u8;
    if first_of_frame {
        let tag: u32 = (24 << 5) | (1 << 4) | u32::from(!keyframe);
        payload[4..7].copy_from_slice(&tag.to_le_bytes()[..3]);
        if keyframe {
            payload[7..10].copy_from_slice(&[0x9d, 0x01, 0x2a]);
            payload[10..12].copy_from_slice(&640u16.to_le_bytes());
            payload[12..14].copy_from_slice(&360u16.to_le_bytes());
        }
    }
}

/// A str0m peer as the simulated participants (and the core's unit tests)
/// use it: RTP mode, Opus and VP8 only, one host candidate at `addr`.
pub(crate) fn client_rtc(addr: SocketAddr, now: Instant) -> Rtc {
    let mut rtc = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("a host candidate"));
    rtc
}
