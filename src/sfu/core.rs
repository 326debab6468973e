//! The sans-IO SFU: participants, their str0m `Rtc`s, negotiation and
//! forwarding. Time comes in as `now`; datagrams go out through [`Network`].
//!
//! Invariants kept here:
//! - every mutation of an `Rtc` is followed by a full drain of `poll_output`
//!   (`mutate`), and events found while draining are handled afterwards from
//!   a queue, never recursively; the one exception is forwarded RTP, which
//!   is only queued (`write`) and sent by one `Timeout` and one drain per
//!   subscriber at the end of the batch (`handle_timeout`);
//! - a panic inside str0m, or a fatal `RtcError`, drops that participant only;
//! - client-created m-lines are the client's publications, server-created
//!   m-lines carry the others' tracks; the server is the impolite peer;
//! - a subscriber gets one layer of each video track (simulcast), of the
//!   video tracks only those of the last-N most recent speakers and every
//!   screen share; the choice is made per speaker interval (and at once when
//!   a subscriber's estimate falls), in the pure [`layers`] and [`lastn`]
//!   logic; the per-packet work is [`OutStream::map`].

use super::forward::{Incoming, OutStream, PtMap, Vp8Info, forwarded_extensions};
use super::lastn::{self, Recency};
use super::layers::{self, Layer, LayerChooser, VideoDemand};
use super::shard;
use super::speaker::{SPEAKER_INTERVAL, SpeechLevel, choose_speaker};
use super::{Command, Hold, SfuConfig, SfuEvent, SfuStats, Source, TrackInfo, TrackKind};
use crate::ids::{IdMap, ParticipantId, RoomId};
use arrayvec::ArrayVec;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::ice::StunMessage;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Where the core's datagrams go.
pub trait Network {
    fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: &[u8]);
}

/// If the client has not offered by then, the server offers the others'
/// tracks anyway (a participant without camera and microphone never offers).
const FIRST_OFFER_GRACE: Duration = Duration::from_secs(2);
/// At most one keyframe request per published track in this interval; a
/// request inside it is sent when the interval ends.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// Remote addresses remembered per participant for demultiplexing.
const MAX_ADDRS_PER_PARTICIPANT: usize = 8;
/// `offer.sources` entries kept per participant (a client has a handful of
/// m-lines; a hostile one cannot make this grow).
const MAX_SOURCES: usize = 32;
/// Client-created m-lines tracked per participant; beyond, new ones are
/// still published but cannot be unpublished and re-published.
const MAX_CLIENT_MIDS: usize = 64;
/// Simulcast layers accepted per track (browsers send up to three); packets
/// of further rids are dropped.
const MAX_LAYERS: usize = 3;
/// A layer without packets for this long is not sent now (the browser
/// dropped it, e.g. for lack of uplink).
const LAYER_ACTIVE: Duration = Duration::from_secs(1);
/// A camera without packets for this long counts as off for last-N, and one
/// that never sent counts as on only this long after it was published.
const CAMERA_ACTIVE: Duration = Duration::from_secs(2);
const CAMERA_GRACE: Duration = Duration::from_secs(3);
/// A switch still waiting for its keyframe asks again after this long.
const SWITCH_RETRY: Duration = Duration::from_secs(1);
/// Bytes per packet on the wire beyond the payload (RTP header and
/// extensions, SRTP tag, UDP, IP), for layer rates comparable with the
/// bandwidth estimate.
const PACKET_OVERHEAD: u64 = 50;
/// Where a subscriber's bandwidth estimate starts, before feedback says
/// more; BWE probes from here towards what the subscriber's tiles want.
const INITIAL_ESTIMATE: Bitrate = Bitrate::kbps(1000);
/// A timeout str0m asks for this soon after `now` is given at once while
/// draining (its pacer's "immediate" is 1 µs after the last timeout)...
const IMMEDIATE: Duration = Duration::from_micros(50);
/// ... at most this many times per drain (a burst of a batch's packets).
const MAX_IMMEDIATE: u32 = 4096;
/// Retransmission history per forwarded video stream: the last second, at
/// most 256 packets (a second of a 2.5 Mbit/s layer). A NACK comes within
/// a round trip of the loss; str0m's default of 3 s and 1000 packets was
/// most of the memory per participant (docs/performance.md, finding 5).
/// Forwarded audio keeps no history: browsers do not NACK Opus.
const VIDEO_HISTORY_PACKETS: usize = 256;
const VIDEO_HISTORY_AGE: Duration = Duration::from_secs(1);
/// str0m's default: queued resends are dropped beyond 15 % of what is sent.
const VIDEO_RTX_RATIO_CAP: Option<f32> = Some(0.15);
/// `videoSizes` entries kept per subscriber.
const MAX_SHOWN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackOutState {
    /// Waiting to be offered.
    ToOpen,
    /// Offered, answer outstanding.
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

struct TrackIn {
    mid: Mid,
    kind: TrackKind,
    source: Source,
    /// The client offered simulcast layers on this m-line.
    simulcast: bool,
    published: Instant,
    /// Its layers (one without simulcast), in the order first seen; a
    /// subscriber's choice is an index into this.
    layers: Vec<LayerIn>,
}

/// One simulcast layer of a published track (or the one stream of a track
/// without simulcast).
struct LayerIn {
    rid: Option<Rid>,
    /// Bytes since the last rate update.
    bytes: u64,
    /// Smoothed rate, bits per second.
    bitrate: u64,
    /// From the latest keyframe; 0 while unknown.
    height: u16,
    last_packet: Option<Instant>,
    last_keyframe_request: Option<Instant>,
    /// A keyframe request that arrived inside the throttle interval.
    keyframe_wanted: Option<KeyframeRequestKind>,
}

impl TrackIn {
    /// The layer `rid` belongs to, added when new (up to [`MAX_LAYERS`]).
    fn layer_for(&mut self, rid: Option<Rid>) -> Option<usize> {
        if let Some(i) = self.layers.iter().position(|l| l.rid == rid) {
            return Some(i);
        }
        if self.layers.len() >= MAX_LAYERS {
            return None;
        }
        self.layers.push(LayerIn {
            rid,
            bytes: 0,
            bitrate: 0,
            height: 0,
            last_packet: None,
            last_keyframe_request: None,
            keyframe_wanted: None,
        });
        Some(self.layers.len() - 1)
    }

    /// The layers that flow now, lowest first: by height where every
    /// height is known, else by rate.
    fn active_layers(&self, now: Instant) -> ArrayVec<Layer, MAX_LAYERS> {
        let mut active: ArrayVec<Layer, MAX_LAYERS> = self
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.last_packet.is_some_and(|t| now < t + LAYER_ACTIVE))
            .map(|(i, l)| Layer {
                id: i as u8,
                bitrate: l.bitrate,
                height: l.height,
            })
            .collect();
        if active.iter().all(|l| l.height > 0) {
            active.sort_by_key(|l| (l.height, l.bitrate));
        } else {
            active.sort_by_key(|l| l.bitrate);
        }
        active
    }

    /// A camera that sends now (or was published just now and may yet).
    fn sends(&self, now: Instant) -> bool {
        match self.layers.iter().filter_map(|l| l.last_packet).max() {
            Some(last) => now < last + CAMERA_ACTIVE,
            None => now < self.published + CAMERA_GRACE,
        }
    }
}

struct TrackOut {
    publisher: ParticipantId,
    source_mid: Mid,
    kind: TrackKind,
    source: Source,
    state: TrackOutState,
    /// The SSRC str0m sends it with, found once it opens: forwarding looks
    /// the stream up by it (a hash lookup) instead of by mid (a walk over
    /// every send stream of the subscriber) for each packet.
    out_ssrc: Option<Ssrc>,
    /// The publisher left while this track was being offered: stop it as
    /// soon as the answer is in.
    orphaned: bool,
    /// The publisher sends simulcast on it (so it is paced; single streams
    /// go out as they come, see `client_answer`).
    simulcast: bool,
    /// Which layer the subscriber gets, and its numbering.
    stream: OutStream,
    /// When the keyframe that starts a wanted layer was last asked for.
    switch_asked: Option<Instant>,
    pts: PtMap,
}

impl TrackOut {
    fn out_mid(&self) -> Option<Mid> {
        match self.state {
            TrackOutState::ToOpen => None,
            TrackOutState::Negotiating(m)
            | TrackOutState::Open(m)
            | TrackOutState::ToStop(m)
            | TrackOutState::NegotiatingStop(m) => Some(m),
        }
    }
}

/// A subscriber's outgoing tracks, with an index by where each comes
/// from: forwarding looks one up for every copy of every packet, and a
/// walk over all of them (two per other participant in the room) touched
/// a cache line per track. Only `push` and `retain` change the list's
/// length or order, and they rebuild the index; a track's publisher and
/// source mid never change.
#[derive(Default)]
struct TracksOut {
    list: Vec<TrackOut>,
    /// Per publisher: (source mid, position in `list`) of its tracks.
    by_source: IdMap<ParticipantId, Vec<(Mid, u16)>>,
}

impl TracksOut {
    /// The track of `publisher`'s m-line `source_mid`.
    fn find_mut(&mut self, publisher: ParticipantId, source_mid: Mid) -> Option<&mut TrackOut> {
        let &(_, at) = self
            .by_source
            .get(&publisher)?
            .iter()
            .find(|(m, _)| *m == source_mid)?;
        let track = &mut self.list[usize::from(at)];
        debug_assert!(track.publisher == publisher && track.source_mid == source_mid);
        Some(track)
    }

    fn push(&mut self, track: TrackOut) {
        self.list.push(track);
        self.reindex();
    }

    fn retain(&mut self, keep: impl FnMut(&mut TrackOut) -> bool) {
        self.list.retain_mut(keep);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.by_source.clear();
        for (at, t) in self.list.iter().enumerate() {
            // A subscriber's tracks are bounded far below this (a track per
            // m-line of each other participant, `MAX_CLIENT_MIDS`).
            let Ok(at) = u16::try_from(at) else { break };
            self.by_source
                .entry(t.publisher)
                .or_default()
                .push((t.source_mid, at));
        }
    }
}

impl From<Vec<TrackOut>> for TracksOut {
    fn from(list: Vec<TrackOut>) -> Self {
        let mut tracks = TracksOut {
            list,
            by_source: IdMap::default(),
        };
        tracks.reindex();
        tracks
    }
}

impl std::ops::Deref for TracksOut {
    type Target = [TrackOut];
    fn deref(&self) -> &[TrackOut] {
        &self.list
    }
}

impl std::ops::DerefMut for TracksOut {
    fn deref_mut(&mut self) -> &mut [TrackOut] {
        &mut self.list
    }
}

struct Participant {
    id: ParticipantId,
    room: RoomId,
    rtc: Rtc,
    events: mpsc::Sender<SfuEvent>,
    ufrag: String,
    pending_offer: Option<SdpPendingOffer>,
    /// Until the client's first offer is answered (or the grace period is
    /// over) the server holds back its own offer, avoiding a collision on
    /// nearly every join.
    first_offer_deadline: Option<Instant>,
    tracks_in: Vec<TrackIn>,
    tracks_out: TracksOut,
    /// What the client's latest offer said its m-lines carry.
    sources: Vec<(Mid, Source)>,
    /// The m-lines the client created (its publications, live or not).
    client_mids: Vec<Mid>,
    /// Those of them on which it offered simulcast.
    simulcast_mids: Vec<Mid>,
    /// Media not to forward (moderator mute, peer to peer).
    hold: Hold,
    /// The level of its forwarded audio, for the active speaker.
    speech: SpeechLevel,
    /// Loudness at the end of the last speaker interval.
    loudness: u32,
    /// The active speaker it was last told of: who joins late, or whose
    /// event queue was full, is told at the next interval.
    speaker_told: Option<ParticipantId>,
    /// (local, remote) pairs this participant is known by.
    addrs: Vec<(SocketAddr, SocketAddr)>,
    rtc_timeout: Instant,
    /// The earliest entry this participant has in the timer heap.
    scheduled: Option<Instant>,
    /// Bandwidth towards it, bits per second: str0m's estimate from
    /// transport-wide congestion control feedback, and what its client
    /// itself says it can take (REMB).
    twcc_estimate: Option<u64>,
    remb_estimate: Option<u64>,
    /// Heights at which its client shows the others' cameras (`videoSizes`).
    shown: Vec<(ParticipantId, u16)>,
    /// Whose camera it was last told it gets (`videoForwarded`).
    forwarded: Option<Vec<ParticipantId>>,
    layers: LayerChooser,
    /// The rate of the layers chosen at the last allocation.
    allocated: u64,
    /// The rate BWE was last asked to probe for.
    desired: u64,
}

impl Participant {
    fn next_due(&self) -> Instant {
        let mut due = self.rtc_timeout;
        if let Some(d) = self.first_offer_deadline {
            due = due.min(d);
        }
        for l in self.tracks_in.iter().flat_map(|t| &t.layers) {
            if l.keyframe_wanted.is_some()
                && let Some(last) = l.last_keyframe_request
            {
                due = due.min(last + KEYFRAME_REQUEST_INTERVAL);
            }
        }
        due
    }

    /// Queues an event for its signaling connection. `Closed`: the
    /// connection is gone (its `Leave` is on the way); `Full`: it does not
    /// keep up.
    fn tell(&self, event: SfuEvent) -> Result<(), TrySendError<()>> {
        self.events.try_send(event).map_err(|e| match e {
            TrySendError::Full(_) => TrySendError::Full(()),
            TrySendError::Closed(_) => TrySendError::Closed(()),
        })
    }

    /// The bandwidth towards it, where anything is known.
    fn estimate(&self) -> Option<u64> {
        match (self.twcc_estimate, self.remb_estimate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One room: who is in it, who speaks, who spoke last.
#[derive(Default)]
struct Room {
    members: Vec<ParticipantId>,
    /// The announced active speaker.
    speaker: Option<ParticipantId>,
    /// For last-N.
    recent: Recency,
}

pub struct SfuCore {
    local_candidates: Vec<SocketAddr>,
    crypto: Arc<CryptoProvider>,
    dtls_cert: DtlsCert,
    participants: IdMap<ParticipantId, Participant>,
    rooms: IdMap<RoomId, Room>,
    by_remote: HashMap<(SocketAddr, SocketAddr), ParticipantId>,
    by_ufrag: HashMap<String, ParticipantId>,
    timers: BinaryHeap<Reverse<(Instant, ParticipantId)>>,
    /// Events drained from `Rtc`s, handled after the mutation that caused them.
    work: VecDeque<(ParticipantId, Event)>,
    /// Participants whose server-side offer may be due.
    to_negotiate: Vec<ParticipantId>,
    /// Reused list of a room's members while forwarding (no allocation per packet).
    scratch_members: Vec<ParticipantId>,
    /// Subscribers whose layers and last-N set are to be chosen again now.
    to_allocate: Vec<ParticipantId>,
    /// Reused lists of `allocate` (every subscriber, every 300 ms).
    allocation: AllocationScratch,
    /// When speakers (and layers) are next chosen; `None` while nobody is here.
    next_speaker_tick: Option<Instant>,
    /// When layer rates were last measured.
    rates_measured: Option<Instant>,
    /// Video of this many recent speakers per subscriber (0: all).
    last_n: u32,
    stats: Arc<SfuStats>,
    /// The media thread this core runs on: named in its ufrags (so other
    /// threads can hand datagrams over) and its slot of the stats.
    shard: usize,
}

impl SfuCore {
    pub fn new(
        local_candidates: Vec<SocketAddr>,
        config: SfuConfig,
        stats: Arc<SfuStats>,
        shard: usize,
    ) -> Self {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        // One DTLS certificate for all participants: generating a key per
        // join would cost milliseconds of join time for nothing.
        let dtls_cert = crypto
            .dtls_provider
            .generate_certificate()
            .expect("the crypto provider generates a DTLS certificate");
        SfuCore {
            local_candidates,
            crypto,
            dtls_cert,
            participants: IdMap::default(),
            rooms: IdMap::default(),
            by_remote: HashMap::new(),
            by_ufrag: HashMap::new(),
            timers: BinaryHeap::new(),
            work: VecDeque::new(),
            to_negotiate: Vec::new(),
            scratch_members: Vec::new(),
            allocation: AllocationScratch::default(),
            to_allocate: Vec::new(),
            next_speaker_tick: None,
            rates_measured: None,
            last_n: config.last_n,
            stats,
            shard,
        }
    }

    /// When `handle_timeout` wants to be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((t, _))| *t);
        match (timer, self.next_speaker_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_command(&mut self, now: Instant, command: Command, net: &mut dyn Network) {
        match command {
            Command::Join {
                participant,
                room,
                events,
            } => self.join(participant, room, events, now),
            Command::Offer {
                participant,
                sdp,
                sources,
            } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.sources = sources
                        .iter()
                        .take(MAX_SOURCES)
                        .map(|(mid, source)| (Mid::from(mid.as_str()), *source))
                        .collect();
                }
                self.client_offer(participant, sdp.expose_personal(), now, net)
            }
            Command::Answer { participant, sdp } => {
                self.client_answer(participant, sdp.expose_personal(), now, net)
            }
            Command::Candidate {
                participant,
                candidate,
            } => self.client_candidate(participant, candidate.expose_personal(), now, net),
            Command::Leave { participant } => self.remove(participant),
            Command::Hold { participant, hold } => self.set_hold(participant, hold, now, net),
            Command::VideoSizes { participant, sizes } => {
                if let Some(p) = self.participants.get_mut(&participant) {
                    p.shown = sizes.into_iter().take(MAX_SHOWN).collect();
                    self.to_allocate.push(participant);
                }
            }
            Command::Ping(reply) => {
                let _ = reply.send(());
                return;
            }
        }
        self.process_work(now, net);
    }

    /// One datagram that arrived on the socket announced as `local`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
        net: &mut dyn Network,
    ) {
        let Some(pid) = self.demultiplex(local, source, data) else {
            return;
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, local, data) else {
            return;
        };
        self.mutate(pid, now, net, |p| {
            // A single undecodable packet is the peer's problem, not a reason
            // to drop it; str0m keeps its state consistent.
            let _ = p.rtc.handle_input(Input::Receive(now, receive));
        });
        self.process_work(now, net);
    }

    /// Whether datagrams from `source` on `local` reach a participant (an
    /// ICE check with its ufrag introduced the address).
    pub fn knows_remote(&self, local: SocketAddr, source: SocketAddr) -> bool {
        self.by_remote.contains_key(&(local, source))
    }

    /// Runs what is due at `now`: str0m timeouts, which also send what
    /// forwarding queued since the last call (the driver calls this once
    /// per batch of datagrams), keyframe requests, the speaker interval.
    pub fn handle_timeout(&mut self, now: Instant, net: &mut dyn Network) {
        self.run_timers(now, net);
        if self.next_speaker_tick.is_some_and(|t| t <= now) {
            self.choose_speakers();
            self.measure_rates(now);
            self.to_allocate.extend(self.participants.keys().copied());
            self.next_speaker_tick = (!self.participants.is_empty()).then(|| {
                let next = self.next_speaker_tick.unwrap_or(now) + SPEAKER_INTERVAL;
                // After a stall, do not catch up with a burst of ticks.
                next.max(now)
            });
        }
        loop {
            self.process_work(now, net);
            // Forwarding during that work queued packets on subscribers
            // that are now due: send them before returning.
            if self
                .timers
                .peek()
                .is_none_or(|Reverse((due, _))| *due > now)
            {
                break;
            }
            self.run_timers(now, net);
        }
    }

    fn run_timers(&mut self, now: Instant, net: &mut dyn Network) {
        while let Some(&Reverse((due, pid))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(p) = self.participants.get_mut(&pid) else {
                continue;
            };
            if p.scheduled == Some(due) {
                p.scheduled = None;
            }
            if p.next_due() > now {
                // A stale entry: the participant's deadline moved later.
                self.schedule(pid);
                continue;
            }
            self.mutate(pid, now, net, |p| {
                let _ = p.rtc.handle_input(Input::Timeout(now));
            });
            self.service_keyframe_requests(pid, now, net);
            if let Some(p) = self.participants.get_mut(&pid)
                && p.first_offer_deadline.is_some_and(|d| d <= now)
            {
                p.first_offer_deadline = None;
                self.to_negotiate.push(pid);
            }
            self.schedule(pid);
        }
    }

    // ---- participants -------------------------------------------------

    fn join(
        &mut self,
        pid: ParticipantId,
        room: RoomId,
        events: mpsc::Sender<SfuEvent>,
        now: Instant,
    ) {
        if self.participants.contains_key(&pid) {
            return;
        }
        let mut creds = IceCreds::new();
        creds.ufrag = shard::ufrag_for(self.shard, &creds.ufrag);
        let ufrag = creds.ufrag.clone();
        let mut rtc = Rtc::builder()
            .set_crypto_provider(self.crypto.clone())
            .set_dtls_cert(self.dtls_cert.clone())
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            // Estimates the bandwidth towards this participant as a
            // subscriber (TWCC feedback from its browser), for the layers
            // it gets.
            .enable_bwe(Some(INITIAL_ESTIMATE))
            // Bounds for streams declared before their history is set
            // (`VIDEO_HISTORY_*`); audio is written non-nackable.
            .set_send_buffer_video(VIDEO_HISTORY_PACKETS)
            .set_send_buffer_audio(1)
            .set_local_ice_credentials(creds)
            .build(now);
        for &addr in &self.local_candidates {
            if let Ok(c) = Candidate::host(addr, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        // Everything already published in the room is to be offered.
        let room_state = self.rooms.entry(room).or_default();
        let mut tracks_out = Vec::new();
        for other in room_state.members.iter() {
            if let Some(o) = self.participants.get(other) {
                for t in &o.tracks_in {
                    tracks_out.push(new_track_out(o.id, t));
                }
            }
        }
        room_state.members.push(pid);
        room_state.recent.joined(pid);
        self.by_ufrag.insert(ufrag.clone(), pid);
        self.participants.insert(
            pid,
            Participant {
                id: pid,
                room,
                rtc,
                events,
                ufrag,
                pending_offer: None,
                first_offer_deadline: Some(now + FIRST_OFFER_GRACE),
                tracks_in: Vec::new(),
                tracks_out: tracks_out.into(),
                sources: Vec::new(),
                client_mids: Vec::new(),
                simulcast_mids: Vec::new(),
                hold: Hold::default(),
                speech: SpeechLevel::default(),
                loudness: 0,
                speaker_told: None,
                addrs: Vec::new(),
                rtc_timeout: now,
                scheduled: None,
                twcc_estimate: None,
                remb_estimate: None,
                shown: Vec::new(),
                forwarded: None,
                layers: LayerChooser::default(),
                allocated: 0,
                desired: 0,
            },
        );
        self.stats
            .participants
            .set(self.shard, self.participants.len() as u64);
        self.next_speaker_tick.get_or_insert(now + SPEAKER_INTERVAL);
        self.schedule(pid);
    }

    /// Drops a participant: gone from the SFU, its tracks stopped for the
    /// others at their next negotiation.
    fn remove(&mut self, pid: ParticipantId) {
        let Some(mut p) = self.participants.remove(&pid) else {
            return;
        };
        p.rtc.disconnect();
        for key in &p.addrs {
            self.by_remote.remove(key);
        }
        self.by_ufrag.remove(&p.ufrag);
        if let Some(room) = self.rooms.get_mut(&p.room) {
            room.members.retain(|&m| m != pid);
            room.recent.left(pid);
            if room.speaker == Some(pid) {
                room.speaker = None;
            }
            if room.members.is_empty() {
                self.rooms.remove(&p.room);
            }
        }
        self.stop_tracks(p.room, pid, None);
        if self.participants.is_empty() {
            self.next_speaker_tick = None;
        }
        self.stats
            .participants
            .set(self.shard, self.participants.len() as u64);
    }

    /// Stops a publisher's tracks (one, or all with `None`) for everyone
    /// else in the room, at their next negotiation.
    fn stop_tracks(&mut self, room: RoomId, publisher: ParticipantId, mid: Option<Mid>) {
        let Some(room) = self.rooms.get(&room) else {
            return;
        };
        for m in &room.members {
            let Some(s) = self.participants.get_mut(m) else {
                continue;
            };
            let mut changed = false;
            s.tracks_out.retain(|t| {
                if t.publisher != publisher || mid.is_some_and(|mid| mid != t.source_mid) {
                    return true;
                }
                changed = true;
                match t.state {
                    TrackOutState::ToOpen => return false,
                    TrackOutState::Negotiating(_) => t.orphaned = true,
                    TrackOutState::Open(m) => t.state = TrackOutState::ToStop(m),
                    TrackOutState::ToStop(_) | TrackOutState::NegotiatingStop(_) => {}
                }
                true
            });
            if changed {
                self.to_negotiate.push(*m);
            }
        }
    }

    /// What of a participant's media to hold back from now on.
    fn set_hold(&mut self, pid: ParticipantId, hold: Hold, now: Instant, net: &mut dyn Network) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let resumed = p.hold.all && !hold.all;
        p.hold = hold;
        if resumed {
            // Its subscribers' decoders have been without its video since
            // the switch to peer to peer: they need a fresh keyframe.
            let layers: Vec<(Mid, u8)> = p
                .tracks_in
                .iter()
                .filter(|t| t.kind == TrackKind::Video)
                .flat_map(|t| (0..t.layers.len()).map(|l| (t.mid, l as u8)))
                .collect();
            for (mid, layer) in layers {
                self.request_keyframe(pid, mid, layer, KeyframeRequestKind::Pli, now, net);
            }
        }
    }

    /// Closes the speaker interval of every room and tells each member the
    /// speaker, unless it already knows.
    fn choose_speakers(&mut self) {
        for room in self.rooms.values_mut() {
            for m in &room.members {
                if let Some(p) = self.participants.get_mut(m) {
                    p.loudness = p.speech.close_interval();
                }
            }
            let current = room.speaker;
            let levels = room
                .members
                .iter()
                .filter_map(|m| self.participants.get(m).map(|p| (p.id, p.loudness)));
            let chosen = choose_speaker(levels, current);
            if let Some(id) = chosen {
                room.recent.active(id);
            }
            room.speaker = chosen;
            for m in &room.members {
                if let Some(p) = self.participants.get_mut(m)
                    && p.speaker_told != chosen
                    && p.tell(SfuEvent::ActiveSpeaker {
                        participant: chosen,
                    })
                    .is_ok()
                {
                    p.speaker_told = chosen;
                }
            }
        }
    }

    fn fail(&mut self, pid: ParticipantId, reason: &str) {
        if let Some(p) = self.participants.get(&pid) {
            tracing::warn!(participant = ?pid, reason, "dropping participant's media session");
            let _ = p.tell(SfuEvent::Failed {
                reason: reason.to_string(),
            });
            self.stats.participants_failed.add(self.shard, 1);
        }
        self.remove(pid);
    }

    // ---- the str0m contract -------------------------------------------

    /// Runs one mutation on a participant's `Rtc` and drains it, containing
    /// panics and fatal errors to that participant. `None` if it was dropped
    /// (or did not exist).
    fn mutate<R>(
        &mut self,
        pid: ParticipantId,
        now: Instant,
        net: &mut dyn Network,
        f: impl FnOnce(&mut Participant) -> R,
    ) -> Option<R> {
        let p = self.participants.get_mut(&pid)?;
        let work = &mut self.work;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let r = f(p);
            drain(p, now, net, work).map(|()| r)
        }));
        match outcome {
            Ok(Ok(r)) => {
                self.schedule(pid);
                Some(r)
            }
            Ok(Err(reason)) => {
                self.fail(pid, reason);
                None
            }
            Err(_) => {
                tracing::error!(participant = ?pid, "str0m panicked; dropping this participant only");
                self.fail(pid, "internal error in the media session");
                None
            }
        }
    }

    /// Queues RTP on a subscriber's `Rtc` without draining it: str0m's
    /// `write_rtp` only appends to the stream's send queue (unbounded;
    /// packets leave on the next `Timeout` input), so the drain can wait
    /// until the batch of datagrams being handled is done. The subscriber
    /// is made due now; `handle_timeout` gives it one `Timeout` and one
    /// drain for everything written in the batch. Written through
    /// `Rtc::write_rtp` (patched str0m), that timeout only stamps the
    /// written packets and asks the pacer, unless something else in the
    /// `Rtc` is due. Panics are contained as in [`Self::mutate`].
    fn write<R>(
        &mut self,
        pid: ParticipantId,
        now: Instant,
        f: impl FnOnce(&mut Participant) -> R,
    ) -> Option<R> {
        let p = self.participants.get_mut(&pid)?;
        match catch_unwind(AssertUnwindSafe(|| f(p))) {
            Ok(r) => {
                p.rtc_timeout = p.rtc_timeout.min(now);
                // Already due by now (an earlier copy of this batch put it
                // there): the timers run it this turn anyway, and a walk
                // of its deadlines and a heap entry per copy bought
                // nothing.
                if p.scheduled.is_none_or(|s| s > now) {
                    self.schedule(pid);
                }
                Some(r)
            }
            Err(_) => {
                tracing::error!(participant = ?pid, "str0m panicked; dropping this participant only");
                self.fail(pid, "internal error in the media session");
                None
            }
        }
    }

    fn schedule(&mut self, pid: ParticipantId) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let due = p.next_due();
        if p.scheduled.is_none_or(|s| due < s) {
            p.scheduled = Some(due);
            self.timers.push(Reverse((due, pid)));
        }
    }

    fn demultiplex(
        &mut self,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
    ) -> Option<ParticipantId> {
        if let Some(&pid) = self.by_remote.get(&(local, source)) {
            return Some(pid);
        }
        // Only an ICE check introduces a new address; its USERNAME names our
        // side's ufrag. str0m verifies the check's integrity afterwards.
        let msg = StunMessage::parse(data).ok()?;
        let (ours, _theirs) = msg.split_username()?;
        let pid = *self.by_ufrag.get(ours)?;
        let p = self.participants.get_mut(&pid)?;
        if p.addrs.len() >= MAX_ADDRS_PER_PARTICIPANT {
            let oldest = p.addrs.remove(0);
            self.by_remote.remove(&oldest);
        }
        p.addrs.push((local, source));
        self.by_remote.insert((local, source), pid);
        Some(pid)
    }

    // ---- events -------------------------------------------------------

    fn process_work(&mut self, now: Instant, net: &mut dyn Network) {
        loop {
            while let Some((pid, event)) = self.work.pop_front() {
                if self.participants.contains_key(&pid) {
                    self.handle_event(pid, event, now, net);
                }
            }
            if self.to_negotiate.is_empty() && self.to_allocate.is_empty() {
                break;
            }
            // The lists are taken while their work may queue more, and
            // given back with that appended: their buffers are kept (every
            // speaker tick queues every participant for allocation).
            let mut due = std::mem::take(&mut self.to_negotiate);
            for pid in due.drain(..) {
                self.negotiate(pid, now, net);
            }
            due.append(&mut self.to_negotiate);
            self.to_negotiate = due;
            let mut due = std::mem::take(&mut self.to_allocate);
            due.sort_unstable();
            due.dedup();
            for pid in due.drain(..) {
                self.allocate(pid, now, net);
            }
            due.append(&mut self.to_allocate);
            self.to_allocate = due;
        }
    }

    fn handle_event(
        &mut self,
        pid: ParticipantId,
        event: Event,
        now: Instant,
        net: &mut dyn Network,
    ) {
        match event {
            Event::RtpPacket(packet) => self.forward(pid, &packet, now),
            Event::MediaAdded(added) => {
                // Fires for client-created m-lines only.
                if let Some(p) = self.participants.get_mut(&pid)
                    && p.client_mids.len() < MAX_CLIENT_MIDS
                    && !p.client_mids.contains(&added.mid)
                {
                    p.client_mids.push(added.mid);
                    if added.simulcast.is_some() {
                        p.simulcast_mids.push(added.mid);
                    }
                }
                // Only m-lines the client sends on are publications.
                if added.direction.is_receiving() {
                    self.publish(pid, added.mid, kind_of(added.kind), now);
                }
            }
            Event::MediaChanged(changed) => {
                // A client-created m-line the client stopped sending on
                // (transceiver stopped: rejected; or made inactive) is
                // unpublished; one it sends on again, published again.
                let Some(p) = self.participants.get(&pid) else {
                    return;
                };
                if !p.client_mids.contains(&changed.mid) {
                    return;
                }
                let published = p.tracks_in.iter().any(|t| t.mid == changed.mid);
                if published && !changed.direction.is_receiving() {
                    self.unpublish(pid, changed.mid);
                } else if !published && changed.direction.is_receiving() {
                    let kind = p.rtc.media(changed.mid).map(|m| kind_of(m.kind()));
                    if let Some(kind) = kind {
                        self.publish(pid, changed.mid, kind, now);
                    }
                }
            }
            Event::KeyframeRequest(req) => {
                // For the layer the subscriber gets (or is about to).
                let source = self.participants.get(&pid).and_then(|s| {
                    let t = s.tracks_out.iter().find(|t| t.out_mid() == Some(req.mid))?;
                    let layer = t.stream.current().or(t.stream.target())?;
                    Some((t.publisher, t.source_mid, layer))
                });
                if let Some((publisher, mid, layer)) = source {
                    self.request_keyframe(publisher, mid, layer, req.kind, now, net);
                }
            }
            Event::EgressBitrateEstimate(estimate) => {
                let Some(p) = self.participants.get_mut(&pid) else {
                    return;
                };
                match estimate {
                    BweKind::Twcc {
                        estimate,
                        can_probe: true,
                    } => p.twcc_estimate = Some(estimate.as_u64()),
                    BweKind::Remb { estimate, .. } => p.remb_estimate = Some(estimate.as_u64()),
                    _ => return,
                }
                // Down promptly when it no longer carries what it gets;
                // up at the next interval.
                if p.estimate().is_some_and(|e| e < p.allocated) {
                    self.to_allocate.push(pid);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.fail(pid, "media connection lost");
            }
            Event::Closed => self.fail(pid, "media connection closed by the browser"),
            _ => {}
        }
    }

    /// A participant started sending on a new m-line: offer it to everyone
    /// else in the room.
    fn publish(&mut self, pid: ParticipantId, mid: Mid, kind: TrackKind, now: Instant) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        if p.tracks_in.iter().any(|t| t.mid == mid) {
            return;
        }
        // Audio is always the microphone; video is the camera unless the
        // client named it the screen.
        let named = p.sources.iter().find(|(m, _)| *m == mid).map(|&(_, s)| s);
        let source = match (kind, named) {
            (TrackKind::Video, Some(Source::Screen)) => Source::Screen,
            _ => Source::default_for(kind),
        };
        let track = TrackIn {
            mid,
            kind,
            source,
            simulcast: kind == TrackKind::Video && p.simulcast_mids.contains(&mid),
            published: now,
            layers: Vec::new(),
        };
        let room = p.room;
        if let Some(room) = self.rooms.get_mut(&room) {
            // Who starts sharing a screen counts as active (last-N).
            if source == Source::Screen {
                room.recent.active(pid);
            }
            for &m in &room.members {
                if m == pid {
                    continue;
                }
                if let Some(s) = self.participants.get_mut(&m) {
                    s.tracks_out.push(new_track_out(pid, &track));
                    self.to_negotiate.push(m);
                }
            }
        }
        if let Some(p) = self.participants.get_mut(&pid) {
            p.tracks_in.push(track);
        }
    }

    /// A participant stopped sending on an m-line: the track goes away for
    /// everyone else.
    fn unpublish(&mut self, pid: ParticipantId, mid: Mid) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        p.tracks_in.retain(|t| t.mid != mid);
        let room = p.room;
        self.stop_tracks(room, pid, Some(mid));
    }

    // ---- forwarding ---------------------------------------------------

    fn forward(&mut self, pid: ParticipantId, packet: &RtpPacket, now: Instant) {
        self.stats.rtp_packets_in.add(self.shard, 1);
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let ssrc = packet.header.ssrc;
        // Read-only (patched str0m): the direct API's `stream_rx` counts as
        // a change and would make the publisher's next timeout a whole one.
        let Some((mid, rid)) = p.rtc.stream_rx_ids(ssrc) else {
            return;
        };
        let hold = p.hold;
        let Some(track) = p.tracks_in.iter_mut().find(|t| t.mid == mid) else {
            return;
        };
        let kind = track.kind;
        if hold.all || (kind == TrackKind::Audio && hold.audio) {
            return;
        }
        let Some(layer) = track.layer_for(rid) else {
            return;
        };
        // Read once here, used for every subscriber.
        let vp8 = (kind == TrackKind::Video).then(|| Vp8Info::parse(&packet.payload));
        let l = &mut track.layers[layer];
        l.bytes += packet.payload.len() as u64 + PACKET_OVERHEAD;
        l.last_packet = Some(now);
        if let Some(height) = vp8.and_then(|v| v.height) {
            l.height = height;
        }
        if kind == TrackKind::Audio
            && let Some(level) = packet.header.ext_vals.audio_level
        {
            p.speech.record(level);
        }
        let in_pt = packet.header.payload_type;
        let Some(params) = p.rtc.codec_config().find(|c| c.pt() == in_pt).copied() else {
            return;
        };
        let room = p.room;
        let mut members = std::mem::take(&mut self.scratch_members);
        members.clear();
        if let Some(r) = self.rooms.get(&room) {
            members.extend_from_slice(&r.members);
        }
        let incoming = Incoming {
            layer: layer as u8,
            seq: packet.seq_no,
            timestamp: packet.header.timestamp,
            arrival: packet.timestamp,
            vp8: vp8.as_ref(),
        };
        let ext = forwarded_extensions(&packet.header.ext_vals);
        let mut sent = 0u64;
        for &sid in &members {
            if sid == pid {
                continue;
            }
            // Whether and how this subscriber gets the packet; only then is
            // its `Rtc` touched.
            let Some(s) = self.participants.get_mut(&sid) else {
                continue;
            };
            let Some(out) = s.tracks_out.find_mut(pid, mid) else {
                continue;
            };
            let TrackOutState::Open(out_mid) = out.state else {
                continue;
            };
            let out_ssrc = out.out_ssrc;
            let out_pt = match out.pts.get(in_pt) {
                Some(pt) => pt,
                None => {
                    let Some(local) = s.rtc.codec_config().match_params(params) else {
                        continue;
                    };
                    out.pts.insert(in_pt, local.pt());
                    local.pt()
                }
            };
            let Some(mapped) = out.stream.map(&incoming) else {
                continue;
            };
            // Queued only: the subscriber's `Rtc` is drained once per batch
            // of datagrams, in `handle_timeout`, not once per copy.
            let wrote = self.write(sid, now, |s| {
                let mut write = RtpWrite::new(
                    out_pt,
                    mapped.seq,
                    mapped.timestamp,
                    packet.timestamp,
                    packet.payload.clone(),
                )
                .marker(packet.header.marker)
                .ext_vals(ext.clone())
                .nackable(kind == TrackKind::Video);
                if let Some(patch) = mapped.patch {
                    write = write.vp8_patch(patch);
                }
                match out_ssrc {
                    // Patched str0m: the subscriber's next timeout then does
                    // only what the written streams need, unless something
                    // else in its `Rtc` is due (`Rtc::write_rtp`).
                    Some(ssrc) => s.rtc.write_rtp(ssrc, out_mid, write),
                    None => match s.rtc.direct_api().stream_tx_by_mid(out_mid, None) {
                        Some(tx) => {
                            tx.write_rtp(write);
                            true
                        }
                        None => false,
                    },
                }
            });
            if wrote == Some(true) {
                sent += 1;
            }
        }
        self.scratch_members = members;
        self.stats.rtp_packets_out.add(self.shard, sent);
    }

    /// Asks a publisher for a keyframe on one layer of a video track, at
    /// most once per [`KEYFRAME_REQUEST_INTERVAL`] per layer.
    fn request_keyframe(
        &mut self,
        publisher: ParticipantId,
        mid: Mid,
        layer: u8,
        kind: KeyframeRequestKind,
        now: Instant,
        net: &mut dyn Network,
    ) {
        let Some(p) = self.participants.get_mut(&publisher) else {
            return;
        };
        let Some(track) = p.tracks_in.iter_mut().find(|t| t.mid == mid) else {
            return;
        };
        if track.kind != TrackKind::Video {
            return;
        }
        let Some(l) = track.layers.get_mut(usize::from(layer)) else {
            return;
        };
        let throttled = l
            .last_keyframe_request
            .is_some_and(|last| now < last + KEYFRAME_REQUEST_INTERVAL);
        if throttled {
            // FIR outranks PLI if both were asked for.
            if l.keyframe_wanted != Some(KeyframeRequestKind::Fir) {
                l.keyframe_wanted = Some(kind);
            }
            self.schedule(publisher);
            return;
        }
        l.last_keyframe_request = Some(now);
        l.keyframe_wanted = None;
        let rid = l.rid;
        self.mutate(publisher, now, net, |p| {
            if let Some(rx) = p.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                rx.request_keyframe(kind);
            }
        });
    }

    fn service_keyframe_requests(
        &mut self,
        pid: ParticipantId,
        now: Instant,
        net: &mut dyn Network,
    ) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let mut due: Vec<(Mid, u8, KeyframeRequestKind)> = Vec::new();
        for t in &mut p.tracks_in {
            for (i, l) in t.layers.iter_mut().enumerate() {
                let Some(kind) = l.keyframe_wanted else {
                    continue;
                };
                let ready = l
                    .last_keyframe_request
                    .is_none_or(|last| now >= last + KEYFRAME_REQUEST_INTERVAL);
                if ready {
                    l.keyframe_wanted = None;
                    l.last_keyframe_request = None;
                    due.push((t.mid, i as u8, kind));
                }
            }
        }
        for (mid, layer, kind) in due {
            self.request_keyframe(pid, mid, layer, kind, now, net);
        }
    }

    // ---- layers and last-N ----------------------------------------------

    /// Updates every layer's rate from the bytes since the last update.
    fn measure_rates(&mut self, now: Instant) {
        let elapsed = self
            .rates_measured
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or(SPEAKER_INTERVAL);
        self.rates_measured = Some(now);
        let micros = elapsed.as_micros().max(1) as u64;
        for p in self.participants.values_mut() {
            for l in p.tracks_in.iter_mut().flat_map(|t| &mut t.layers) {
                let rate = l.bytes * 8 * 1_000_000 / micros;
                l.bytes = 0;
                // Smoothed over about a second: keyframes come in bursts.
                l.bitrate = if l.bitrate == 0 {
                    rate
                } else {
                    (l.bitrate * 2 + rate) / 3
                };
            }
        }
    }

    /// Chooses whose camera a subscriber gets (last-N) and which layer of
    /// each video track, tells it whose video it gets when that changed,
    /// and asks publishers for the keyframes that start new layers.
    fn allocate(&mut self, sid: ParticipantId, now: Instant, net: &mut dyn Network) {
        let mut scratch = std::mem::take(&mut self.allocation);
        self.allocate_with(sid, now, net, &mut scratch);
        self.allocation = scratch;
    }

    fn allocate_with(
        &mut self,
        sid: ParticipantId,
        now: Instant,
        net: &mut dyn Network,
        scratch: &mut AllocationScratch,
    ) {
        let AllocationScratch {
            forwarded,
            candidates,
            stopped,
            chosen,
            asks,
            sorted,
            known,
        } = scratch;
        candidates.clear();
        stopped.clear();
        asks.clear();
        let Some(s) = self.participants.get(&sid) else {
            return;
        };
        let Some(room) = self.rooms.get(&s.room) else {
            return;
        };
        let camera_sends = |publisher: ParticipantId| {
            self.participants.get(&publisher).is_some_and(|p| {
                !p.hold.all
                    && p.tracks_in
                        .iter()
                        .any(|t| t.source == Source::Camera && t.sends(now))
            })
        };
        lastn::forwarded(
            room.recent.order(),
            sid,
            self.last_n,
            camera_sends,
            forwarded,
        );
        // The video tracks it may get, by priority: screen shares, then
        // cameras of the most recent speakers first.
        for (index, t) in s.tracks_out.iter().enumerate() {
            if t.kind != TrackKind::Video || !matches!(t.state, TrackOutState::Open(_)) {
                continue;
            }
            let rank = match t.source {
                Source::Screen => Some(0),
                _ => forwarded
                    .iter()
                    .position(|&p| p == t.publisher)
                    .map(|r| r + 1),
            };
            let Some(rank) = rank else {
                stopped.push(index);
                continue;
            };
            let layers = self
                .participants
                .get(&t.publisher)
                .and_then(|p| p.tracks_in.iter().find(|i| i.mid == t.source_mid))
                .map(|i| i.active_layers(now))
                .unwrap_or_default();
            let shown = match t.source {
                Source::Screen => None,
                _ => s
                    .shown
                    .iter()
                    .find(|(p, _)| *p == t.publisher)
                    .map(|&(_, h)| h),
            };
            candidates.push(VideoCandidate {
                rank,
                index,
                layers,
                shown,
                current: t.stream.current(),
            });
        }
        // Screens share rank 0 and keep their order (`index`); a stable
        // sort would allocate a buffer beyond 20 tracks.
        candidates.sort_unstable_by_key(|c| (c.rank, c.index));
        let estimate = s.estimate();
        let Some(s) = self.participants.get_mut(&sid) else {
            return;
        };
        let wanted = s.layers.choose(now, estimate, candidates, chosen);
        // Apply: out of last-N stops at once; a new layer starts at its
        // keyframe, asked for now (and again while it does not come).
        for &index in stopped.iter() {
            let t = &mut s.tracks_out[index];
            t.stream.set_target(None);
            t.switch_asked = None;
        }
        let mut allocated = 0;
        for (c, layer) in candidates.iter().zip(chosen.iter()) {
            let Some(layer) = *layer else {
                continue;
            };
            if let Some(l) = c.layers.iter().find(|l| l.id == layer) {
                allocated += l.bitrate.max(layers::MIN_LAYER_BITRATE);
            }
            let t = &mut s.tracks_out[c.index];
            let changed = t.stream.set_target(Some(layer));
            if !t.stream.switching() {
                t.switch_asked = None;
            } else if changed || t.switch_asked.is_none_or(|a| now >= a + SWITCH_RETRY) {
                t.switch_asked = Some(now);
                asks.push((t.publisher, t.source_mid, layer));
            }
        }
        s.allocated = allocated;
        sorted.clear();
        sorted.extend_from_slice(forwarded);
        sorted.sort_unstable();
        known.clear();
        if let Some(f) = &s.forwarded {
            known.extend_from_slice(f);
            known.sort_unstable();
        }
        // Only on a change of the set. Remembered once it is on its way:
        // an event lost to a full queue is sent again at the next
        // allocation (within 300 ms), as the active speaker is.
        if (s.forwarded.is_none() || known != sorted)
            && s.tell(SfuEvent::VideoForwarded {
                participants: forwarded.clone(),
            })
            .is_ok()
        {
            s.forwarded = Some(forwarded.clone());
        }
        // Let bandwidth estimation probe for what the tiles want. Nothing
        // wanted (no video forwarded, e.g. the two of a room talking peer to
        // peer): no probing either, which would send padding for nothing.
        let desired = if wanted == 0 {
            0
        } else {
            wanted.max(INITIAL_ESTIMATE.as_u64())
        };
        if desired.abs_diff(s.desired) > s.desired / 10 {
            s.desired = desired;
            self.mutate(sid, now, net, |s| {
                s.rtc
                    .bwe()
                    .set_bitrate(Bitrate::ZERO, Bitrate::bps(desired));
            });
        }
        for &(publisher, mid, layer) in asks.iter() {
            self.request_keyframe(publisher, mid, layer, KeyframeRequestKind::Pli, now, net);
        }
    }

    // ---- negotiation --------------------------------------------------

    fn client_offer(&mut self, pid: ParticipantId, sdp: &str, now: Instant, net: &mut dyn Network) {
        let Some(p) = self.participants.get(&pid) else {
            return;
        };
        if p.pending_offer.is_some() {
            // Collision: the client is polite, rolls back and answers ours.
            tracing::debug!(participant = ?pid, "ignoring client offer while ours is pending");
            return;
        }
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(o) => o,
            // Not `{e}`: str0m's parse error names a heap address
            // ("PointerOffset(0x7f…)"), which is nothing for a participant
            // and would hand anyone a hint past ASLR.
            Err(_) => {
                tracing::debug!(participant = ?pid, "refused an offer that does not parse");
                let _ = p.tell(SfuEvent::BadSdp {
                    reason: "The offer is not valid SDP.".into(),
                });
                return;
            }
        };
        let answer = self.mutate(pid, now, net, |p| p.rtc.sdp_api().accept_offer(offer));
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        match answer {
            Some(Ok(answer)) => {
                let _ = p.tell(SfuEvent::Answer {
                    sdp: answer.to_sdp_string(),
                });
                p.first_offer_deadline = None;
                self.to_negotiate.push(pid);
            }
            Some(Err(e)) => {
                let _ = p.tell(SfuEvent::BadSdp {
                    reason: format!("The offer cannot be used: {e}"),
                });
            }
            None => {}
        }
    }

    fn client_answer(
        &mut self,
        pid: ParticipantId,
        sdp: &str,
        now: Instant,
        net: &mut dyn Network,
    ) {
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(a) => a,
            // Not `{e}`: see `client_offer`.
            Err(_) => {
                tracing::debug!(participant = ?pid, "refused an answer that does not parse");
                let _ = p.tell(SfuEvent::BadSdp {
                    reason: "The answer is not valid SDP.".into(),
                });
                return;
            }
        };
        let Some(pending) = p.pending_offer.take() else {
            let _ = p.tell(SfuEvent::BadSdp {
                reason: "There is no offer from the server to answer.".into(),
            });
            return;
        };
        let result = self.mutate(pid, now, net, |p| {
            let accepted = p.rtc.sdp_api().accept_answer(pending, answer);
            if accepted.is_ok() {
                // A stream without layers goes out as it comes: holding it
                // back cannot make it smaller, only later (str0m's pacer
                // would keep up to two seconds when the estimate is low).
                // Simulcast tracks are paced at the estimate their layer
                // was chosen for.
                for t in p.tracks_out.iter() {
                    if let TrackOutState::Negotiating(m) = t.state
                        && t.kind == TrackKind::Video
                        && let Some(tx) = p.rtc.direct_api().stream_tx_by_mid(m, None)
                    {
                        if !t.simulcast {
                            tx.set_unpaced(true);
                        }
                        tx.set_rtx_cache(
                            VIDEO_HISTORY_PACKETS,
                            VIDEO_HISTORY_AGE,
                            VIDEO_RTX_RATIO_CAP,
                        );
                    }
                }
            }
            accepted
        });
        let Some(result) = result else {
            return;
        };
        let Some(p) = self.participants.get_mut(&pid) else {
            return;
        };
        match result {
            Ok(()) => {
                for t in p.tracks_out.iter_mut() {
                    if let TrackOutState::Negotiating(m) = t.state {
                        if t.orphaned {
                            t.state = TrackOutState::ToStop(m);
                        } else {
                            t.state = TrackOutState::Open(m);
                            t.out_ssrc = p
                                .rtc
                                .direct_api()
                                .stream_tx_by_mid(m, None)
                                .map(|tx| tx.ssrc());
                        }
                    }
                }
                p.tracks_out
                    .retain(|t| !matches!(t.state, TrackOutState::NegotiatingStop(_)));
            }
            Err(e) => {
                // The offer's changes are void; offer them again later.
                for t in p.tracks_out.iter_mut() {
                    match t.state {
                        TrackOutState::Negotiating(_) => t.state = TrackOutState::ToOpen,
                        TrackOutState::NegotiatingStop(m) => t.state = TrackOutState::ToStop(m),
                        _ => {}
                    }
                }
                p.tracks_out
                    .retain(|t| !(t.orphaned && t.state == TrackOutState::ToOpen));
                let _ = p.tell(SfuEvent::BadSdp {
                    reason: format!("The answer cannot be used: {e}"),
                });
            }
        }
        self.to_negotiate.push(pid);
        // New tracks get their layers now; their video starts at a
        // keyframe, asked for there.
        self.to_allocate.push(pid);
    }

    fn client_candidate(
        &mut self,
        pid: ParticipantId,
        line: &str,
        now: Instant,
        net: &mut dyn Network,
    ) {
        let Some(p) = self.participants.get(&pid) else {
            return;
        };
        let line = line.trim();
        if line.is_empty() {
            return; // end of candidates
        }
        let line = line.strip_prefix("a=").unwrap_or(line);
        match Candidate::from_sdp_string(line) {
            Ok(c) => {
                self.mutate(pid, now, net, |p| p.rtc.add_remote_candidate(c));
            }
            Err(_) => {
                let _ = p.tell(SfuEvent::BadCandidate);
            }
        }
    }

    /// Sends the server's offer if anything changed and no offer is pending.
    fn negotiate(&mut self, pid: ParticipantId, now: Instant, net: &mut dyn Network) {
        let Some(p) = self.participants.get(&pid) else {
            return;
        };
        if p.pending_offer.is_some() || p.first_offer_deadline.is_some() {
            return;
        }
        let offer = self.mutate(pid, now, net, |p| {
            let mut change = p.rtc.sdp_api();
            for t in p.tracks_out.iter_mut() {
                match t.state {
                    TrackOutState::ToOpen => {
                        let stream_id = t.publisher.to_string();
                        let track_id = format!("{}-{}", t.publisher, t.source_mid);
                        let mid = change.add_media(
                            media_kind(t.kind),
                            Direction::SendOnly,
                            Some(stream_id),
                            Some(track_id),
                            None,
                        );
                        t.state = TrackOutState::Negotiating(mid);
                    }
                    TrackOutState::ToStop(m) => {
                        change.stop_media(m);
                        t.state = TrackOutState::NegotiatingStop(m);
                    }
                    _ => {}
                }
            }
            if !change.has_changes() {
                return None;
            }
            let (offer, pending) = change.apply()?;
            p.pending_offer = Some(pending);
            let tracks = p
                .tracks_out
                .iter()
                .filter_map(|t| match t.state {
                    TrackOutState::Negotiating(m) | TrackOutState::Open(m) if !t.orphaned => {
                        Some(TrackInfo {
                            mid: m.to_string(),
                            participant: t.publisher,
                            kind: t.kind,
                            source: t.source,
                        })
                    }
                    _ => None,
                })
                .collect();
            Some(SfuEvent::Offer {
                sdp: offer.to_sdp_string(),
                tracks,
            })
        });
        if let Some(Some(event)) = offer
            && let Some(p) = self.participants.get(&pid)
        {
            match p.tell(event) {
                Ok(()) => {}
                // The participant is leaving: its signaling connection
                // closed and its `Leave` is on the way. Nothing to report.
                Err(TrySendError::Closed(())) => {
                    tracing::debug!(participant = ?pid, "signaling connection closed; media session ends");
                    self.remove(pid);
                }
                Err(TrySendError::Full(())) => self.fail(pid, "signaling connection too slow"),
            }
        }
    }
}

/// The lists `allocate` fills for one subscriber, kept for the next.
#[derive(Default)]
struct AllocationScratch {
    /// Whose camera it gets (last-N), most recent speaker first.
    forwarded: Vec<ParticipantId>,
    candidates: Vec<VideoCandidate>,
    /// Its video tracks out of last-N.
    stopped: Vec<usize>,
    /// The layer chosen per candidate.
    chosen: Vec<Option<u8>>,
    /// Keyframes to ask for: (publisher, its mid, layer).
    asks: Vec<(ParticipantId, Mid, u8)>,
    /// `forwarded` and the subscriber's last list, sorted, to compare.
    sorted: Vec<ParticipantId>,
    known: Vec<ParticipantId>,
}

/// One video track a subscriber may get, with its priority (0: a screen
/// share, then the rank of the publisher among the recent speakers).
struct VideoCandidate {
    rank: usize,
    /// Of the track in the subscriber's `tracks_out`.
    index: usize,
    layers: ArrayVec<Layer, MAX_LAYERS>,
    shown: Option<u16>,
    current: Option<u8>,
}

impl VideoDemand for VideoCandidate {
    fn layers(&self) -> &[Layer] {
        &self.layers
    }
    fn shown(&self) -> Option<u16> {
        self.shown
    }
    fn current(&self) -> Option<u8> {
        self.current
    }
}

fn drain(
    p: &mut Participant,
    now: Instant,
    net: &mut dyn Network,
    work: &mut VecDeque<(ParticipantId, Event)>,
) -> Result<(), &'static str> {
    let mut immediate = 0;
    loop {
        match p.rtc.poll_output() {
            // With bandwidth estimation str0m paces. Patched
            // (vendor/str0m/PATCHES.md), its pacer releases what is due in
            // one drain; what still asks for a timeout at once (the next
            // packet of a probe, time that must advance by 1 µs) gets it
            // here: left to the timer (1 ms steps), that would cap a
            // subscriber at ~1,000 packets/s.
            Ok(Output::Timeout(t)) if t <= now + IMMEDIATE && immediate < MAX_IMMEDIATE => {
                immediate += 1;
                if p.rtc.handle_input(Input::Timeout(t.max(now))).is_err() {
                    return Err("media session error");
                }
            }
            Ok(Output::Timeout(t)) => {
                p.rtc_timeout = t;
                break;
            }
            Ok(Output::Transmit(t)) => {
                net.send(t.source, t.destination, &t.contents);
                // The network copied it: str0m protects the next packets
                // into this buffer instead of a new one.
                p.rtc.recycle_datagram(t.contents);
            }
            Ok(Output::Event(e)) => work.push_back((p.id, e)),
            Err(_) => return Err("media session error"),
        }
    }
    if p.rtc.is_alive() {
        Ok(())
    } else {
        Err("media session ended")
    }
}

fn new_track_out(publisher: ParticipantId, track: &TrackIn) -> TrackOut {
    TrackOut {
        publisher,
        source_mid: track.mid,
        kind: track.kind,
        source: track.source,
        state: TrackOutState::ToOpen,
        out_ssrc: None,
        orphaned: false,
        simulcast: track.simulcast,
        stream: match track.kind {
            TrackKind::Audio => OutStream::passthrough(),
            TrackKind::Video => OutStream::default(),
        },
        switch_asked: None,
        pts: PtMap::default(),
    }
}

fn kind_of(kind: MediaKind) -> TrackKind {
    match kind {
        MediaKind::Audio => TrackKind::Audio,
        MediaKind::Video => TrackKind::Video,
    }
}

fn media_kind(kind: TrackKind) -> MediaKind {
    match kind {
        TrackKind::Audio => MediaKind::Audio,
        TrackKind::Video => MediaKind::Video,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoNetwork;
    impl Network for NoNetwork {
        fn send(&mut self, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    }

    fn core_with(ids: &[u64]) -> (SfuCore, Vec<mpsc::Receiver<SfuEvent>>) {
        let mut core = SfuCore::new(
            vec!["127.0.0.1:10000".parse().unwrap()],
            SfuConfig::default(),
            Arc::new(SfuStats::default()),
            0,
        );
        let room = RoomId::from_u64(1);
        let mut receivers = Vec::new();
        for &id in ids {
            let (tx, rx) = mpsc::channel(8);
            core.handle_command(
                Instant::now(),
                Command::Join {
                    participant: ParticipantId::from_u64(id),
                    room,
                    events: tx,
                },
                &mut NoNetwork,
            );
            receivers.push(rx);
        }
        (core, receivers)
    }

    /// One speaker interval in which `pid` speaks at `level` dBov.
    fn speak_one_interval(core: &mut SfuCore, pid: ParticipantId, level: i8) {
        for _ in 0..15 {
            core.participants
                .get_mut(&pid)
                .unwrap()
                .speech
                .record(level);
        }
        core.choose_speakers();
    }

    #[test]
    fn a_panic_in_one_media_session_drops_only_that_participant() {
        let (mut core, mut rx) = core_with(&[1, 2]);
        let one = ParticipantId::from_u64(1);
        let two = ParticipantId::from_u64(2);
        let result = core.mutate(one, Instant::now(), &mut NoNetwork, |_| -> () {
            panic!("simulated bug inside str0m")
        });
        assert!(result.is_none());
        assert!(!core.participants.contains_key(&one));
        assert!(core.participants.contains_key(&two));
        assert_eq!(core.rooms[&RoomId::from_u64(1)].members, vec![two]);
        assert!(matches!(rx[0].try_recv(), Ok(SfuEvent::Failed { .. })));
        assert!(
            rx[1].try_recv().is_err(),
            "the other participant hears nothing"
        );
        assert_eq!(SfuStats::get(&core.stats.participants), 1);
    }

    #[test]
    fn outgoing_tracks_are_found_by_source_after_pushes_and_removals() {
        let track = |mid: &str, kind| TrackIn {
            mid: Mid::from(mid),
            kind,
            source: Source::Camera,
            simulcast: false,
            published: Instant::now(),
            layers: Vec::new(),
        };
        let (a, b) = (ParticipantId::from_u64(1), ParticipantId::from_u64(2));
        let mut tracks = TracksOut::from(vec![
            new_track_out(a, &track("0", TrackKind::Audio)),
            new_track_out(b, &track("0", TrackKind::Audio)),
        ]);
        tracks.push(new_track_out(a, &track("1", TrackKind::Video)));
        tracks.push(new_track_out(b, &track("1", TrackKind::Video)));
        let kind_of =
            |tracks: &mut TracksOut, p, mid| tracks.find_mut(p, Mid::from(mid)).map(|t| t.kind);
        assert_eq!(kind_of(&mut tracks, a, "1"), Some(TrackKind::Video));
        assert_eq!(kind_of(&mut tracks, b, "0"), Some(TrackKind::Audio));
        assert_eq!(kind_of(&mut tracks, a, "2"), None);

        // Removing tracks moves the others; each is still found as itself.
        tracks.retain(|t| !(t.publisher == a && t.source_mid == Mid::from("0")));
        assert_eq!(kind_of(&mut tracks, a, "0"), None);
        assert_eq!(kind_of(&mut tracks, a, "1"), Some(TrackKind::Video));
        for (p, mid) in [(b, "0"), (b, "1")] {
            let t = tracks.find_mut(p, Mid::from(mid)).expect("still there");
            assert_eq!((t.publisher, t.source_mid), (p, Mid::from(mid)));
        }
        tracks.retain(|t| t.publisher != b);
        assert_eq!(kind_of(&mut tracks, b, "1"), None);
        assert_eq!(tracks.len(), 1);
    }

    /// Makes `subscriber` due for an offer of a track of `publisher`.
    fn offer_due(core: &mut SfuCore, subscriber: u64, publisher: u64) {
        let s = core
            .participants
            .get_mut(&ParticipantId::from_u64(subscriber))
            .unwrap();
        s.first_offer_deadline = None;
        let track = TrackIn {
            mid: Mid::from("0"),
            kind: TrackKind::Audio,
            source: Source::Microphone,
            simulcast: false,
            published: Instant::now(),
            layers: Vec::new(),
        };
        s.tracks_out
            .push(new_track_out(ParticipantId::from_u64(publisher), &track));
        core.to_negotiate.push(ParticipantId::from_u64(subscriber));
        core.process_work(Instant::now(), &mut NoNetwork);
    }

    #[test]
    fn a_closed_signaling_connection_is_a_leave_and_a_full_one_a_failure() {
        let (mut core, mut rx) = core_with(&[1, 2, 3]);
        // 2 is leaving: its connection has closed, its `Leave` is on the way.
        drop(rx.remove(1));
        offer_due(&mut core, 2, 1);
        assert!(!core.participants.contains_key(&ParticipantId::from_u64(2)));
        assert_eq!(SfuStats::get(&core.stats.participants_failed), 0);
        // 3 does not read its events: that is a failure.
        while rx[1].capacity() > 0 {
            core.participants[&ParticipantId::from_u64(3)]
                .tell(SfuEvent::BadCandidate)
                .unwrap();
        }
        offer_due(&mut core, 3, 1);
        assert!(!core.participants.contains_key(&ParticipantId::from_u64(3)));
        assert_eq!(SfuStats::get(&core.stats.participants_failed), 1);
        assert!(core.participants.contains_key(&ParticipantId::from_u64(1)));
    }

    fn leave(core: &mut SfuCore, participant: u64) {
        core.handle_command(
            Instant::now(),
            Command::Leave {
                participant: ParticipantId::from_u64(participant),
            },
            &mut NoNetwork,
        );
    }

    #[test]
    fn leaving_closes_the_room_and_forgets_everything() {
        let (mut core, _rx) = core_with(&[1]);
        leave(&mut core, 1);
        assert!(core.participants.is_empty());
        assert!(core.rooms.is_empty());
        assert!(core.by_ufrag.is_empty());
        assert!(core.by_remote.is_empty());
    }

    #[test]
    fn garbage_sdp_is_refused_to_its_sender_only() {
        let (mut core, mut rx) = core_with(&[1, 2]);
        core.handle_command(
            Instant::now(),
            Command::Offer {
                participant: ParticipantId::from_u64(1),
                sdp: crate::privacy::Sdp::from_validated("v=0\r\ngarbage".into()),
                sources: vec![],
            },
            &mut NoNetwork,
        );
        assert!(matches!(rx[0].try_recv(), Ok(SfuEvent::BadSdp { .. })));
        assert!(rx[1].try_recv().is_err());
        assert_eq!(core.participants.len(), 2);
    }

    #[test]
    fn sdp_parse_errors_tell_the_sender_no_server_internals() {
        let (mut core, mut rx) = core_with(&[1]);
        let one = ParticipantId::from_u64(1);
        let garbage = || crate::privacy::Sdp::from_validated("garbage".into());
        let now = Instant::now();
        core.handle_command(
            now,
            Command::Offer {
                participant: one,
                sdp: garbage(),
                sources: vec![],
            },
            &mut NoNetwork,
        );
        core.handle_command(
            now,
            Command::Answer {
                participant: one,
                sdp: garbage(),
            },
            &mut NoNetwork,
        );
        for _ in 0..2 {
            let Ok(SfuEvent::BadSdp { reason }) = rx[0].try_recv() else {
                panic!("bad-sdp expected");
            };
            assert!(!reason.contains("0x"), "a heap address in {reason:?}");
            assert!(reason.ends_with("is not valid SDP."), "{reason}");
        }
    }

    #[test]
    fn the_loudest_is_announced_to_the_room_on_change_only() {
        let (mut core, mut rx) = core_with(&[1, 2]);
        let one = ParticipantId::from_u64(1);
        // A few intervals of speech: announced once, to both.
        for _ in 0..4 {
            speak_one_interval(&mut core, one, -25);
        }
        for r in &mut rx {
            let mut events = Vec::new();
            while let Ok(e) = r.try_recv() {
                events.push(e);
            }
            assert_eq!(
                events,
                vec![SfuEvent::ActiveSpeaker {
                    participant: Some(one)
                }]
            );
        }
        // Silence: `None`, once.
        for _ in 0..6 {
            speak_one_interval(&mut core, one, -127);
        }
        let mut events = Vec::new();
        while let Ok(e) = rx[1].try_recv() {
            events.push(e);
        }
        assert_eq!(events, vec![SfuEvent::ActiveSpeaker { participant: None }]);
    }

    #[test]
    fn who_joins_after_the_speaker_was_chosen_is_told_too() {
        let (mut core, mut rx) = core_with(&[1]);
        let one = ParticipantId::from_u64(1);
        for _ in 0..4 {
            speak_one_interval(&mut core, one, -25);
        }
        assert_eq!(
            rx[0].try_recv().ok(),
            Some(SfuEvent::ActiveSpeaker {
                participant: Some(one)
            })
        );
        // The speaker stays the same; the newcomer still learns it, once.
        let (tx, mut late) = mpsc::channel(8);
        core.handle_command(
            Instant::now(),
            Command::Join {
                participant: ParticipantId::from_u64(2),
                room: RoomId::from_u64(1),
                events: tx,
            },
            &mut NoNetwork,
        );
        for _ in 0..3 {
            speak_one_interval(&mut core, one, -25);
        }
        assert_eq!(
            late.try_recv().ok(),
            Some(SfuEvent::ActiveSpeaker {
                participant: Some(one)
            })
        );
        assert!(late.try_recv().is_err(), "told more than once");
        assert!(rx[0].try_recv().is_err(), "the speaker was told again");
    }

    #[test]
    fn a_speaker_event_lost_to_a_full_queue_is_sent_again() {
        let (mut core, mut rx) = core_with(&[1, 2]);
        let one = ParticipantId::from_u64(1);
        // Fill two's queue (capacity 8) with something else.
        let two = core.participants.get(&ParticipantId::from_u64(2)).unwrap();
        while two
            .tell(SfuEvent::ActiveSpeaker { participant: None })
            .is_ok()
        {}
        for _ in 0..4 {
            speak_one_interval(&mut core, one, -25);
        }
        while rx[1].try_recv().is_ok() {}
        speak_one_interval(&mut core, one, -25);
        assert_eq!(
            rx[1].try_recv().ok(),
            Some(SfuEvent::ActiveSpeaker {
                participant: Some(one)
            })
        );
    }

    #[test]
    fn a_video_forwarded_event_lost_to_a_full_queue_is_sent_again() {
        let (mut core, _rx) = core_with(&[]);
        let pid = ParticipantId::from_u64(1);
        // Its queue is full when it joins, so the first `videoForwarded`
        // (nobody's camera yet) is lost.
        let (tx, mut rx) = mpsc::channel(8);
        while tx
            .try_send(SfuEvent::ActiveSpeaker { participant: None })
            .is_ok()
        {}
        core.handle_command(
            Instant::now(),
            Command::Join {
                participant: pid,
                room: RoomId::from_u64(1),
                events: tx,
            },
            &mut NoNetwork,
        );
        assert!(core.participants[&pid].forwarded.is_none(), "not told yet");
        while rx.try_recv().is_ok() {}
        core.allocate(pid, Instant::now(), &mut NoNetwork);
        assert_eq!(
            rx.try_recv().ok(),
            Some(SfuEvent::VideoForwarded {
                participants: vec![]
            })
        );
        assert_eq!(core.participants[&pid].forwarded, Some(vec![]));
        core.allocate(pid, Instant::now(), &mut NoNetwork);
        assert!(rx.try_recv().is_err(), "told once, then only on a change");
    }

    #[test]
    fn holds_and_sources_are_kept_per_participant() {
        let (mut core, _rx) = core_with(&[1, 2]);
        let one = ParticipantId::from_u64(1);
        let hold = Hold {
            audio: true,
            all: false,
        };
        let now = Instant::now();
        core.handle_command(
            now,
            Command::Hold {
                participant: one,
                hold,
            },
            &mut NoNetwork,
        );
        assert_eq!(core.participants[&one].hold, hold);
        // A hold for someone the SFU does not know changes nothing.
        core.handle_command(
            now,
            Command::Hold {
                participant: ParticipantId::from_u64(9),
                hold,
            },
            &mut NoNetwork,
        );
        assert_eq!(core.participants.len(), 2);
        // Sources are bounded, and kept even when the offer is refused.
        let sources = (0..100).map(|i| (i.to_string(), Source::Screen)).collect();
        core.handle_command(
            now,
            Command::Offer {
                participant: one,
                sdp: crate::privacy::Sdp::from_validated("garbage".into()),
                sources,
            },
            &mut NoNetwork,
        );
        assert_eq!(core.participants[&one].sources.len(), MAX_SOURCES);
    }

    #[test]
    fn the_speaker_timer_runs_only_while_someone_is_here() {
        let (mut core, _rx) = core_with(&[1]);
        assert!(core.next_speaker_tick.is_some());
        assert!(core.next_timeout().is_some());
        leave(&mut core, 1);
        assert!(core.next_speaker_tick.is_none());
        assert!(core.rooms.is_empty());
    }

    /// Datagrams the core sent, for a test peer to read.
    #[derive(Default)]
    struct Captured(Vec<(SocketAddr, SocketAddr, Vec<u8>)>);
    impl Network for Captured {
        fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: &[u8]) {
            self.0.push((source, destination, payload.to_vec()));
        }
    }

    /// A client made with str0m itself, talking to the core over a
    /// simulated network with simulated time.
    struct StrClient {
        rtc: Rtc,
        addr: SocketAddr,
        now: Instant,
    }

    impl StrClient {
        fn new(now: Instant) -> Self {
            let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
            let rtc = crate::sfu::rig::client_rtc(addr, now);
            StrClient { rtc, addr, now }
        }

        /// Offers own send-only m-lines (`change` makes them and names
        /// their sources) and applies the core's answer.
        fn offer(
            &mut self,
            core: &mut SfuCore,
            rx: &mut mpsc::Receiver<SfuEvent>,
            pid: ParticipantId,
            change: impl FnOnce(&mut str0m::change::SdpApi) -> Vec<(String, Source)>,
        ) {
            let mut api = self.rtc.sdp_api();
            let sources = change(&mut api);
            let (offer, pending) = api.apply().expect("a change to offer");
            core.handle_command(
                self.now,
                Command::Offer {
                    participant: pid,
                    sdp: crate::privacy::Sdp::from_validated(offer.to_sdp_string()),
                    sources,
                },
                &mut NoNetwork,
            );
            let answer = loop {
                match rx.try_recv() {
                    Ok(SfuEvent::Answer { sdp }) => break sdp,
                    Ok(_) => continue,
                    Err(e) => panic!("an answer expected: {e}"),
                }
            };
            let answer = SdpAnswer::from_sdp_string(&answer).unwrap();
            self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        }

        /// Lets ICE, DTLS and the SDP's consequences play out for `ms`.
        fn run(&mut self, core: &mut SfuCore, ms: u64) {
            for _ in 0..ms / 5 {
                self.now += Duration::from_millis(5);
                let _ = self.rtc.handle_input(Input::Timeout(self.now));
                let mut to_core = Vec::new();
                while let Ok(out) = self.rtc.poll_output() {
                    match out {
                        Output::Timeout(_) => break,
                        Output::Transmit(t) => {
                            to_core.push((t.source, t.destination, t.contents.to_vec()))
                        }
                        Output::Event(_) => {}
                    }
                }
                let mut net = Captured::default();
                for (source, destination, data) in to_core {
                    core.handle_datagram(self.now, destination, source, &data, &mut net);
                }
                core.handle_timeout(self.now, &mut net);
                for (source, destination, data) in net.0 {
                    if destination == self.addr
                        && let Ok(r) = Receive::new(Protocol::Udp, source, destination, &data)
                    {
                        let _ = self.rtc.handle_input(Input::Receive(self.now, r));
                    }
                }
            }
        }
    }

    fn offered_to(core: &SfuCore, subscriber: u64) -> Vec<(TrackKind, Source)> {
        let mut t: Vec<_> = core.participants[&ParticipantId::from_u64(subscriber)]
            .tracks_out
            .iter()
            .filter(|t| !matches!(t.state, TrackOutState::ToStop(_)))
            .map(|t| (t.kind, t.source))
            .collect();
        t.sort_by_key(|&(k, s)| (k.as_str(), s.as_str()));
        t
    }

    #[test]
    fn sources_label_tracks_and_a_rejected_m_line_unpublishes() {
        let (mut core, mut rx) = core_with(&[1, 2]);
        let one = ParticipantId::from_u64(1);
        let mut client = StrClient::new(Instant::now());
        let mut screen = None;
        client.offer(&mut core, &mut rx[0], one, |api| {
            let mut add = |kind| api.add_media(kind, Direction::SendOnly, None, None, None);
            let _mic = add(MediaKind::Audio);
            let camera = add(MediaKind::Video);
            let scr = add(MediaKind::Video);
            let odd = add(MediaKind::Audio);
            screen = Some(scr);
            vec![
                (camera.to_string(), Source::Camera),
                (scr.to_string(), Source::Screen),
                // Audio is always the microphone, whatever it is called.
                (odd.to_string(), Source::Screen),
            ]
        });
        let screen = screen.unwrap();
        client.run(&mut core, 1000);
        assert_eq!(
            offered_to(&core, 2),
            vec![
                (TrackKind::Audio, Source::Microphone),
                (TrackKind::Audio, Source::Microphone),
                (TrackKind::Video, Source::Camera),
                (TrackKind::Video, Source::Screen),
            ]
        );
        // The client stops the screen: port 0 in its next offer.
        client.offer(&mut core, &mut rx[0], one, |api| {
            api.stop_media(screen);
            vec![]
        });
        client.run(&mut core, 100);
        assert_eq!(
            offered_to(&core, 2),
            vec![
                (TrackKind::Audio, Source::Microphone),
                (TrackKind::Audio, Source::Microphone),
                (TrackKind::Video, Source::Camera),
            ]
        );
        assert!(
            !core.participants[&one]
                .tracks_in
                .iter()
                .any(|t| t.mid == screen)
        );
    }

    #[test]
    fn unknown_datagrams_are_dropped() {
        let (mut core, _rx) = core_with(&[1]);
        let local = "127.0.0.1:10000".parse().unwrap();
        let stranger = "127.0.0.1:5555".parse().unwrap();
        core.handle_datagram(Instant::now(), local, stranger, &[0x80; 40], &mut NoNetwork);
        core.handle_datagram(Instant::now(), local, stranger, b"hello", &mut NoNetwork);
        assert!(core.by_remote.is_empty());
    }
}
