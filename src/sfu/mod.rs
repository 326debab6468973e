//! The media plane: one str0m `Rtc` per participant, every participant's
//! media on one UDP port, RTP forwarded from each publisher to every other
//! participant of its room.
//!
//! The SFU knows participants and rooms only by opaque ids. Signaling talks
//! to it with [`Command`]s and hears back per participant through
//! [`SfuEvent`]s. The logic lives in the sans-IO [`core`]; [`driver`] runs
//! one core per media thread against real sockets, each room on one of
//! them ([`shard`] decides which).

mod addresses;
mod core;
mod driver;
mod egress;
mod forward;
mod lastn;
mod layers;
#[doc(hidden)]
pub mod rig;
mod shard;
mod speaker;

pub use addresses::MediaSockets;
pub use driver::{HealthProbe, SfuCommands, SfuGone, SfuHandle, start};

use crate::ids::{ParticipantId, RoomId};
use crate::privacy::Sdp;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// What signaling asks of the SFU.
#[derive(Debug)]
pub enum Command {
    /// A participant entered a room; its events go to `events`.
    Join {
        participant: ParticipantId,
        room: RoomId,
        events: mpsc::Sender<SfuEvent>,
    },
    /// The client's SDP offer (its own tracks), with what each of its
    /// m-lines carries (`offer.sources`; unnamed ones are camera or
    /// microphone by kind).
    Offer {
        participant: ParticipantId,
        sdp: Sdp,
        sources: Vec<(String, Source)>,
    },
    /// The client's answer to the server's latest offer.
    Answer {
        participant: ParticipantId,
        sdp: Sdp,
    },
    /// A trickled ICE candidate from the client (`candidate:` line).
    Candidate {
        participant: ParticipantId,
        candidate: Sdp,
    },
    /// The participant left; its tracks go away for everyone.
    Leave { participant: ParticipantId },
    /// What of the participant's media not to forward, from now on.
    Hold {
        participant: ParticipantId,
        hold: Hold,
    },
    /// The heights in pixels at which the participant's client shows the
    /// others' cameras (0: not shown); others: it did not say
    /// (`videoSizes`). Replaces what it said before.
    VideoSizes {
        participant: ParticipantId,
        sizes: Vec<(ParticipantId, u16)>,
    },
    /// Liveness check for the service watchdog: each media thread answers
    /// when it gets to it, which it does only while its loop turns.
    Ping(oneshot::Sender<()>),
}

impl Command {
    /// The participant it concerns (`Ping` concerns none).
    pub fn participant(&self) -> Option<ParticipantId> {
        match self {
            Command::Join { participant, .. }
            | Command::Offer { participant, .. }
            | Command::Answer { participant, .. }
            | Command::Candidate { participant, .. }
            | Command::Leave { participant }
            | Command::Hold { participant, .. }
            | Command::VideoSizes { participant, .. } => Some(*participant),
            Command::Ping(_) => None,
        }
    }
}

/// What the SFU tells one participant's signaling connection.
#[derive(Debug, Clone, PartialEq)]
pub enum SfuEvent {
    Answer {
        sdp: String,
    },
    Offer {
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    /// An offer or answer from the client could not be used.
    BadSdp {
        reason: String,
    },
    BadCandidate,
    /// The participant's media session ended on the server's side; the
    /// participant is gone from the SFU.
    Failed {
        reason: String,
    },
    /// The loudest participant of the room changed (`None`: nobody speaks).
    ActiveSpeaker {
        participant: Option<ParticipantId>,
    },
    /// Whose camera video the participant receives now (last-N), most
    /// recently active first; sent when that set changes.
    VideoForwarded {
        participants: Vec<ParticipantId>,
    },
}

/// How the SFU treats rooms (from `[rooms]` of the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SfuConfig {
    /// Each subscriber receives the camera video of this many most recently
    /// active participants (0: all).
    pub last_n: u32,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig { last_n: 9 }
    }
}

/// Media of one participant that the SFU holds back instead of forwarding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hold {
    /// Its audio (a moderator muted it).
    pub audio: bool,
    /// All of it (it talks peer to peer).
    pub all: bool,
}

/// What a published track shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Camera,
    Microphone,
    Screen,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Camera => "camera",
            Source::Microphone => "microphone",
            Source::Screen => "screen",
        }
    }

    /// The source of an m-line the client did not name.
    pub fn default_for(kind: TrackKind) -> Source {
        match kind {
            TrackKind::Audio => Source::Microphone,
            TrackKind::Video => Source::Camera,
        }
    }
}

/// One server-created m-line: which participant's track it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: TrackKind,
    pub source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Audio,
    Video,
}

impl TrackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Audio => "audio",
            TrackKind::Video => "video",
        }
    }
}

/// Upper bounds of the forwarding-latency buckets, microseconds: fine
/// around the 2 ms the server may add at most (docs/performance.md).
pub const LATENCY_BOUNDS_US: [u64; 13] = [
    50, 100, 250, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 50_000,
];

/// A latency histogram in the buckets of [`LATENCY_BOUNDS_US`] and one
/// above them, per media thread like [`Counter`].
#[derive(Debug)]
pub struct LatencyHistogram {
    /// Per bucket, not cumulative; the last counts what is above every bound.
    buckets: Box<[Counter]>,
    sum_us: Counter,
}

impl LatencyHistogram {
    fn new(shards: usize) -> LatencyHistogram {
        LatencyHistogram {
            buckets: (0..=LATENCY_BOUNDS_US.len())
                .map(|_| Counter::new(shards))
                .collect(),
            sum_us: Counter::new(shards),
        }
    }

    /// Counts one observation of `us` microseconds; only `shard`'s thread
    /// calls it.
    pub(crate) fn record(&self, shard: usize, us: u64) {
        let bucket = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[bucket].add(shard, 1);
        self.sum_us.add(shard, us);
    }

    /// (upper bound in µs, `None` for +Inf; observations up to it),
    /// cumulative as Prometheus wants them.
    pub fn cumulative(&self) -> Vec<(Option<u64>, u64)> {
        let mut total = 0;
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, c)| {
                total += c.total();
                (LATENCY_BOUNDS_US.get(i).copied(), total)
            })
            .collect()
    }

    /// The sum of all observations, microseconds.
    pub fn sum_us(&self) -> u64 {
        self.sum_us.total()
    }
}

/// Counters read by /healthz, /metrics and the tests, one slot per media
/// thread; read as their sum with [`SfuStats::get`].
#[derive(Debug)]
pub struct SfuStats {
    pub participants: Counter,
    pub rtp_packets_in: Counter,
    pub rtp_packets_out: Counter,
    pub participants_failed: Counter,
    /// Datagrams a media thread received for a room of another one and
    /// handed over to it.
    pub datagrams_handed_over: Counter,
    /// Of those, the ones dropped because the other thread's queue was
    /// full (it does not keep up).
    pub handover_dropped: Counter,
    /// Datagrams sent in groups with UDP segmentation offload (GSO).
    pub gso_datagrams: Counter,
    /// Groups the kernel refused to send with GSO (sent one by one).
    pub gso_refused: Counter,
    /// From the kernel's receive timestamp of an RTP datagram to the end
    /// of the send of what the turn that read it forwarded.
    pub forwarding_latency: LatencyHistogram,
}

impl SfuStats {
    /// Counters for `shards` media threads.
    pub fn new(shards: usize) -> SfuStats {
        SfuStats {
            participants: Counter::new(shards),
            rtp_packets_in: Counter::new(shards),
            rtp_packets_out: Counter::new(shards),
            participants_failed: Counter::new(shards),
            datagrams_handed_over: Counter::new(shards),
            handover_dropped: Counter::new(shards),
            gso_datagrams: Counter::new(shards),
            gso_refused: Counter::new(shards),
            forwarding_latency: LatencyHistogram::new(shards),
        }
    }

    /// The counter over all media threads.
    pub fn get(counter: &Counter) -> u64 {
        counter.total()
    }

    /// How many media threads there are.
    pub fn threads(&self) -> usize {
        self.participants.slots.len()
    }
}

impl Default for SfuStats {
    /// For one media thread.
    fn default() -> Self {
        SfuStats::new(1)
    }
}

/// A statistic with a slot of its own per media thread. Only that thread
/// writes its slot, so forwarding never makes two cores fight over one
/// cache line; readers sum. Relaxed atomics: statistics, not
/// synchronisation.
#[derive(Debug)]
pub struct Counter {
    slots: Box<[Slot]>,
}

/// One slot on a cache line of its own (128 bytes: the adjacent-line
/// prefetcher of x86 fetches pairs of 64-byte lines).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl Counter {
    fn new(shards: usize) -> Counter {
        Counter {
            slots: (0..shards.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// The sum over all media threads.
    pub fn total(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }

    /// One media thread's part.
    pub fn of(&self, shard: usize) -> u64 {
        self.slots
            .get(shard)
            .map_or(0, |s| s.0.load(Ordering::Relaxed))
    }

    /// Adds to `shard`'s slot; called only by that shard's thread, so a
    /// plain load and store suffice (no locked read-modify-write).
    pub(crate) fn add(&self, shard: usize, n: u64) {
        let slot = &self.slots[shard].0;
        slot.store(slot.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Sets `shard`'s slot (a gauge); only that shard's thread calls it.
    pub(crate) fn set(&self, shard: usize, v: u64) {
        self.slots[shard].0.store(v, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_keep_a_cache_line_per_thread_and_read_as_the_sum() {
        assert_eq!(std::mem::size_of::<Slot>(), 128);
        let stats = SfuStats::new(3);
        stats.rtp_packets_out.add(0, 5);
        stats.rtp_packets_out.add(2, 7);
        stats.rtp_packets_out.add(2, 1);
        stats.participants.set(1, 4);
        stats.participants.set(1, 3);
        assert_eq!(SfuStats::get(&stats.rtp_packets_out), 13);
        assert_eq!(stats.rtp_packets_out.of(2), 8);
        assert_eq!(stats.rtp_packets_out.of(9), 0);
        assert_eq!(SfuStats::get(&stats.participants), 3);
        assert_eq!(stats.threads(), 3);
    }
}
