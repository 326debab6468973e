//! The media plane: one str0m `Rtc` per participant, every participant's
//! media on one UDP port, RTP forwarded from each publisher to every other
//! participant of its room.
//!
//! The SFU knows participants and rooms only by opaque ids. Signaling talks
//! to it with [`Command`]s and hears back per participant through
//! [`SfuEvent`]s. The logic lives in the sans-IO [`core`]; [`driver`] runs it
//! against real sockets on a thread of its own.

mod addresses;
mod core;
mod driver;
mod forward;
mod lastn;
mod layers;
#[doc(hidden)]
pub mod rig;
mod speaker;

pub use addresses::MediaSockets;
pub use driver::{HealthProbe, SfuHandle, start};

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
    /// Liveness check for the service watchdog: the media thread answers
    /// when it gets to it, which it does only while its loop turns.
    Ping(oneshot::Sender<()>),
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

/// Counters read by /healthz, /metrics and the tests. Relaxed atomics: they
/// are statistics, not synchronisation.
#[derive(Debug, Default)]
pub struct SfuStats {
    pub participants: AtomicU64,
    pub rtp_packets_in: AtomicU64,
    pub rtp_packets_out: AtomicU64,
    pub participants_failed: AtomicU64,
}

impl SfuStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
