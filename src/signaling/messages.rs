//! The wire types of docs/protocol.md, and the one place where errors are
//! mapped to what goes on the wire.

use crate::ids::ParticipantId;
use crate::privacy::{ChatText, Nickname, RoomName, Sdp};
use crate::room::chat::ChatMessage;
use crate::room::{Member, Mode, ModeNotice};
use crate::sfu::TrackInfo;
use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;

/// Messages from the browser. `Debug` shows only the type: the fields hold
/// names and SDP (with the browser's addresses).
#[derive(Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ClientMessage {
    Join {
        version: u32,
        room: String,
        nickname: String,
        #[serde(default = "yes")]
        audio: bool,
        #[serde(default = "yes")]
        video: bool,
        #[serde(default)]
        moderator_secret: Option<String>,
        #[serde(default)]
        password: Option<String>,
    },
    Offer {
        sdp: String,
        /// mid → what the m-line carries.
        #[serde(default)]
        sources: std::collections::BTreeMap<String, SourceName>,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: String,
    },
    MediaState {
        audio: bool,
        video: bool,
    },
    Leave,
    Ping,
    Pong,
    Chat {
        text: String,
    },
    Hand {
        raised: bool,
    },
    P2pSignal {
        to: String,
        #[serde(default)]
        description: Option<DescriptionIn>,
        #[serde(default)]
        candidate: Option<CandidateIn>,
    },
    P2pState {
        state: P2pStateName,
    },
    MuteParticipant {
        id: String,
    },
    RemoveParticipant {
        id: String,
    },
    LockRoom {
        password: String,
    },
    UnlockRoom,
    GrantModerator {
        id: String,
    },
    VideoSizes {
        /// participant id → pixel height at which the client shows that
        /// participant's camera (0: not shown).
        sizes: std::collections::BTreeMap<String, u32>,
    },
}

/// `offer.sources` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceName {
    Camera,
    Microphone,
    Screen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum P2pStateName {
    Connected,
    Failed,
}

/// `RTCSessionDescriptionInit.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DescriptionType {
    Offer,
    Answer,
    Pranswer,
    Rollback,
}

/// A peer-to-peer session description from a client (`RTCSessionDescriptionInit`).
#[derive(Deserialize)]
pub struct DescriptionIn {
    #[serde(rename = "type")]
    pub kind: DescriptionType,
    #[serde(default)]
    pub sdp: String,
}

/// A peer-to-peer ICE candidate from a client (`RTCIceCandidateInit`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateIn {
    #[serde(default)]
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// Bounds on what the server relays between two peers, far above what
/// browsers send, far below the message limit.
pub const P2P_MAX_SDP_BYTES: usize = 65_536;
pub const P2P_MAX_CANDIDATE_BYTES: usize = 1024;
const P2P_MAX_FIELD_BYTES: usize = 256;

#[derive(Debug, Clone, Serialize)]
pub struct DescriptionOut {
    #[serde(rename = "type")]
    pub kind: DescriptionType,
    pub sdp: Sdp,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateOut {
    pub candidate: Sdp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// What a `p2pSignal` carries, checked and ready to relay.
#[derive(Debug, Clone)]
pub enum P2pPayload {
    Description(DescriptionOut),
    Candidate(CandidateOut),
}

impl P2pPayload {
    /// Exactly one of description and candidate, each within its bounds.
    pub fn check(
        description: Option<DescriptionIn>,
        candidate: Option<CandidateIn>,
    ) -> Result<P2pPayload, SignalingError> {
        let bad = |m: &str| Err(SignalingError::BadMessage(m.into()));
        match (description, candidate) {
            (Some(d), None) => {
                if d.sdp.len() > P2P_MAX_SDP_BYTES {
                    return bad("p2pSignal.description.sdp is too long.");
                }
                Ok(P2pPayload::Description(DescriptionOut {
                    kind: d.kind,
                    sdp: Sdp::from_validated(d.sdp),
                }))
            }
            (None, Some(c)) => {
                let long =
                    |f: &Option<String>| f.as_ref().is_some_and(|v| v.len() > P2P_MAX_FIELD_BYTES);
                if c.candidate.len() > P2P_MAX_CANDIDATE_BYTES
                    || long(&c.sdp_mid)
                    || long(&c.username_fragment)
                {
                    return bad("p2pSignal.candidate is too long.");
                }
                Ok(P2pPayload::Candidate(CandidateOut {
                    candidate: Sdp::from_validated(c.candidate),
                    sdp_mid: c.sdp_mid,
                    sdp_m_line_index: c.sdp_m_line_index,
                    username_fragment: c.username_fragment,
                }))
            }
            _ => bad("p2pSignal carries either a description or a candidate."),
        }
    }
}

impl std::fmt::Debug for ClientMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            ClientMessage::Join { .. } => "join",
            ClientMessage::Offer { .. } => "offer",
            ClientMessage::Answer { .. } => "answer",
            ClientMessage::Candidate { .. } => "candidate",
            ClientMessage::MediaState { .. } => "mediaState",
            ClientMessage::Leave => "leave",
            ClientMessage::Ping => "ping",
            ClientMessage::Pong => "pong",
            ClientMessage::Chat { .. } => "chat",
            ClientMessage::Hand { .. } => "hand",
            ClientMessage::P2pSignal { .. } => "p2pSignal",
            ClientMessage::P2pState { .. } => "p2pState",
            ClientMessage::MuteParticipant { .. } => "muteParticipant",
            ClientMessage::RemoveParticipant { .. } => "removeParticipant",
            ClientMessage::LockRoom { .. } => "lockRoom",
            ClientMessage::UnlockRoom => "unlockRoom",
            ClientMessage::GrantModerator { .. } => "grantModerator",
            ClientMessage::VideoSizes { .. } => "videoSizes",
        };
        write!(f, "ClientMessage::{kind}")
    }
}

fn yes() -> bool {
    true
}

const CLIENT_TYPES: &[&str] = &[
    "join",
    "offer",
    "answer",
    "candidate",
    "mediaState",
    "leave",
    "ping",
    "pong",
    "chat",
    "hand",
    "p2pSignal",
    "p2pState",
    "muteParticipant",
    "removeParticipant",
    "lockRoom",
    "unlockRoom",
    "grantModerator",
    "videoSizes",
];

impl ClientMessage {
    /// Parses one text frame, telling a malformed message from an unknown
    /// type so the client learns which.
    pub fn parse(text: &str) -> Result<ClientMessage, SignalingError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| SignalingError::BadMessage("The message is not valid JSON.".into()))?;
        let Some(kind) = value.get("type").and_then(|t| t.as_str()) else {
            return Err(SignalingError::BadMessage(
                "The message must be a JSON object with a string field \"type\".".into(),
            ));
        };
        if !CLIENT_TYPES.contains(&kind) {
            return Err(SignalingError::UnknownType);
        }
        serde_json::from_value(value)
            .map_err(|e| SignalingError::BadMessage(format!("Malformed message: {e}.")))
    }
}

/// A participant as the others see it.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub id: ParticipantId,
    pub nickname: Nickname,
    pub audio: bool,
    pub video: bool,
    pub hand: bool,
    pub moderator: bool,
}

impl From<&Member> for ParticipantView {
    fn from(m: &Member) -> Self {
        ParticipantView {
            id: m.id,
            nickname: m.nickname.clone(),
            audio: m.media.audio,
            video: m.media.video,
            hand: m.hand,
            moderator: m.moderator,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackView {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: &'static str,
    pub source: &'static str,
}

impl From<&TrackInfo> for TrackView {
    fn from(t: &TrackInfo) -> Self {
        TrackView {
            mid: t.mid.clone(),
            participant: t.participant,
            kind: t.kind.as_str(),
            source: t.source.as_str(),
        }
    }
}

/// A *chat message* of docs/protocol.md.
#[derive(Debug, Clone, Serialize)]
pub struct ChatView {
    pub id: u64,
    pub from: ParticipantId,
    pub nickname: Nickname,
    pub text: ChatText,
    pub time: u64,
}

impl From<&ChatMessage> for ChatView {
    fn from(m: &ChatMessage) -> Self {
        ChatView {
            id: m.id,
            from: m.from,
            nickname: m.nickname.clone(),
            text: m.text.clone(),
            time: m.time,
        }
    }
}

/// *settings*: the community-uplink defaults the client applies.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub start_muted: bool,
    pub video_max_height: u32,
    pub video_max_framerate: u32,
    pub screen_max_framerate: u32,
    pub chat_max_chars: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Sfu,
    P2p,
}

impl From<Mode> for ModeName {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Sfu => ModeName::Sfu,
            Mode::P2p => ModeName::P2p,
        }
    }
}

/// An entry of `iceServers`, in the browser's `RTCIceServer` shape.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Messages to the browser.
#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ServerMessage {
    Joined {
        version: u32,
        id: ParticipantId,
        room: RoomName,
        nickname: Nickname,
        participants: Vec<ParticipantView>,
        ice_servers: Vec<IceServer>,
        /// "all", or "relay" when the server forces its TURN relay.
        ice_transport_policy: &'static str,
        moderator: bool,
        locked: bool,
        mode: ModeName,
        chat: Vec<ChatView>,
        settings: SettingsView,
    },
    ParticipantJoined {
        participant: ParticipantView,
    },
    ParticipantLeft {
        id: ParticipantId,
    },
    ParticipantUpdated {
        participant: ParticipantView,
    },
    Offer {
        sdp: String,
        tracks: Vec<TrackView>,
    },
    Answer {
        sdp: String,
    },
    Error {
        code: &'static str,
        message: String,
        fatal: bool,
    },
    Ping,
    Pong,
    Chat(ChatView),
    ActiveSpeaker {
        id: Option<ParticipantId>,
    },
    Mode {
        mode: ModeName,
        #[serde(skip_serializing_if = "Option::is_none")]
        peer: Option<ParticipantId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        polite: Option<bool>,
    },
    P2pSignal {
        from: ParticipantId,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<DescriptionOut>,
        #[serde(skip_serializing_if = "Option::is_none")]
        candidate: Option<CandidateOut>,
    },
    Muted {
        by: ParticipantId,
    },
    RoomLocked {
        locked: bool,
        by: ParticipantId,
    },
    VideoForwarded {
        participants: Vec<ParticipantId>,
    },
}

/// A `videoSizes` map checked for the SFU: at most `max_entries` entries
/// (more is `bad-message`), entries naming no valid participant id
/// skipped, heights capped at 65535.
pub fn video_sizes(
    sizes: std::collections::BTreeMap<String, u32>,
    max_entries: usize,
) -> Result<Vec<(ParticipantId, u16)>, SignalingError> {
    if sizes.len() > max_entries {
        return Err(SignalingError::BadMessage(format!(
            "videoSizes names more than {max_entries} participants."
        )));
    }
    Ok(sizes
        .into_iter()
        .filter_map(|(id, h)| {
            Some((
                ParticipantId::parse(&id)?,
                h.min(u32::from(u16::MAX)) as u16,
            ))
        })
        .collect())
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages serialize")
    }

    pub fn mode(notice: ModeNotice) -> ServerMessage {
        match notice {
            ModeNotice::Sfu => ServerMessage::Mode {
                mode: ModeName::Sfu,
                peer: None,
                polite: None,
            },
            ModeNotice::P2p { peer, polite } => ServerMessage::Mode {
                mode: ModeName::P2p,
                peer: Some(peer),
                polite: Some(polite),
            },
        }
    }

    pub fn p2p_signal(from: ParticipantId, payload: P2pPayload) -> ServerMessage {
        let (description, candidate) = match payload {
            P2pPayload::Description(d) => (Some(d), None),
            P2pPayload::Candidate(c) => (None, Some(c)),
        };
        ServerMessage::P2pSignal {
            from,
            description,
            candidate,
        }
    }
}

/// Everything a client can do wrong (or the server can fail at) in
/// signaling. `wire()` is the one mapping to codes, texts and close codes.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalingError {
    BadMessage(String),
    UnknownType,
    TooLarge { limit: u32 },
    UnsupportedVersion { requested: u32 },
    InvalidRoom(String),
    InvalidNickname(String),
    AlreadyJoined,
    NotJoined,
    RoomFull { limit: u32 },
    ServerFull,
    BadSdp(String),
    BadCandidate,
    RateLimited,
    ChatRateLimited { per_minute: u32 },
    MediaFailed,
    InvalidChat(String),
    NotModerator,
    BadTarget,
    RoomLocked,
    WrongPassword,
    NotP2p,
    Removed,
    Internal,
}

impl SignalingError {
    /// (code, message for the participant, close code if fatal)
    pub fn wire(&self) -> (&'static str, String, Option<u16>) {
        use SignalingError::*;
        match self {
            BadMessage(m) => ("bad-message", m.clone(), None),
            UnknownType => (
                "unknown-type",
                "Unknown message type (see docs/protocol.md).".into(),
                None,
            ),
            TooLarge { limit } => (
                "too-large",
                format!("The message is larger than {limit} bytes."),
                Some(close::TOO_LARGE),
            ),
            UnsupportedVersion { requested } => (
                "unsupported-version",
                format!(
                    "This server speaks protocol version {PROTOCOL_VERSION}, not {requested}. Reload the page."
                ),
                Some(close::NORMAL),
            ),
            InvalidRoom(m) => ("invalid-room", m.clone(), None),
            InvalidNickname(m) => ("invalid-nickname", m.clone(), None),
            AlreadyJoined => (
                "already-joined",
                "This connection is already in a room.".into(),
                None,
            ),
            NotJoined => ("not-joined", "Join a room first.".into(), None),
            RoomFull { limit } => (
                "room-full",
                format!("This room is full ({limit} participants)."),
                None,
            ),
            ServerFull => (
                "server-full",
                "The server is at its limit of rooms or participants; try again later.".into(),
                None,
            ),
            BadSdp(m) => ("bad-sdp", m.clone(), None),
            BadCandidate => (
                "bad-candidate",
                "The ICE candidate does not parse.".into(),
                None,
            ),
            RateLimited => (
                "rate-limited",
                "Too many messages; this one was dropped.".into(),
                None,
            ),
            ChatRateLimited { per_minute } => (
                "rate-limited",
                format!("At most {per_minute} chat messages a minute; this one was dropped."),
                None,
            ),
            InvalidChat(m) => ("invalid-chat", m.clone(), None),
            NotModerator => (
                "not-moderator",
                "Only a moderator of this room can do that.".into(),
                None,
            ),
            BadTarget => (
                "bad-target",
                "That participant is not in this room (or not the one this can go to).".into(),
                None,
            ),
            RoomLocked => (
                "room-locked",
                "This room is locked. Enter its password to join.".into(),
                None,
            ),
            WrongPassword => (
                "wrong-password",
                "That is not the room's password.".into(),
                None,
            ),
            NotP2p => (
                "not-p2p",
                "The room is not in peer-to-peer mode.".into(),
                None,
            ),
            Removed => (
                "removed",
                "A moderator removed you from the room.".into(),
                Some(close::REMOVED),
            ),
            MediaFailed => (
                "media-failed",
                "The media connection failed. Reload the page to rejoin.".into(),
                Some(close::MEDIA_FAILED),
            ),
            Internal => (
                "internal",
                "Something went wrong on the server.".into(),
                Some(close::INTERNAL),
            ),
        }
    }

    pub fn to_message(&self) -> ServerMessage {
        let (code, message, close) = self.wire();
        ServerMessage::Error {
            code,
            message,
            fatal: close.is_some(),
        }
    }
}

/// WebSocket close codes (docs/protocol.md).
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_LARGE: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    pub const TIMEOUT: u16 = 4000;
    pub const MEDIA_FAILED: u16 = 4001;
    pub const RATE_LIMIT_ABUSED: u16 = 4002;
    pub const TOO_SLOW: u16 = 4003;
    pub const REMOVED: u16 = 4004;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SettingsView {
        SettingsView {
            start_muted: false,
            video_max_height: 720,
            video_max_framerate: 30,
            screen_max_framerate: 5,
            chat_max_chars: 2000,
        }
    }

    #[test]
    fn parse_tells_the_kinds_of_bad_input_apart() {
        assert!(matches!(
            ClientMessage::parse("{nope"),
            Err(SignalingError::BadMessage(_))
        ));
        assert!(matches!(
            ClientMessage::parse("[1,2]"),
            Err(SignalingError::BadMessage(_))
        ));
        assert_eq!(
            ClientMessage::parse(r#"{"type":"dance"}"#).unwrap_err(),
            SignalingError::UnknownType
        );
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"offer"}"#),
            Err(SignalingError::BadMessage(_))
        ));
        let m = ClientMessage::parse(r#"{"type":"join","version":1,"room":"r","nickname":"n"}"#)
            .unwrap();
        assert!(matches!(
            m,
            ClientMessage::Join {
                audio: true,
                video: true,
                ..
            }
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"mediaState","audio":false,"video":true,"extra":1}"#)
                .unwrap(),
            ClientMessage::MediaState { audio: false, .. }
        ));
    }

    #[test]
    fn server_messages_use_the_documented_names() {
        let m = ServerMessage::ParticipantLeft {
            id: ParticipantId::from_u64(1),
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"participantLeft","id":"0000000000000001"}"#
        );
        let e = SignalingError::RoomFull { limit: 3 }.to_message().to_json();
        assert!(e.contains(r#""code":"room-full""#) && e.contains(r#""fatal":false"#));
        let j = ServerMessage::Joined {
            version: 1,
            id: ParticipantId::from_u64(2),
            room: crate::room::names::parse_room_name("r").unwrap(),
            nickname: crate::room::names::parse_nickname("n").unwrap(),
            participants: vec![],
            ice_servers: vec![],
            ice_transport_policy: "all",
            moderator: true,
            locked: false,
            mode: ModeName::Sfu,
            chat: vec![],
            settings: settings(),
        }
        .to_json();
        assert!(j.contains(r#""iceServers":[]"#), "{j}");
        for field in [
            r#""moderator":true"#,
            r#""locked":false"#,
            r#""mode":"sfu""#,
            r#""chat":[]"#,
            r#""settings":{"startMuted":false,"videoMaxHeight":720,"videoMaxFramerate":30,"screenMaxFramerate":5,"chatMaxChars":2000}"#,
        ] {
            assert!(j.contains(field), "{field} in {j}");
        }
    }

    #[test]
    fn new_messages_use_the_documented_shapes() {
        let p = |n| ParticipantId::from_u64(n);
        let cases = [
            (
                ServerMessage::ActiveSpeaker { id: None },
                r#"{"type":"activeSpeaker","id":null}"#,
            ),
            (
                ServerMessage::ActiveSpeaker { id: Some(p(1)) },
                r#"{"type":"activeSpeaker","id":"0000000000000001"}"#,
            ),
            (
                ServerMessage::mode(ModeNotice::Sfu),
                r#"{"type":"mode","mode":"sfu"}"#,
            ),
            (
                ServerMessage::mode(ModeNotice::P2p {
                    peer: p(2),
                    polite: true,
                }),
                r#"{"type":"mode","mode":"p2p","peer":"0000000000000002","polite":true}"#,
            ),
            (
                ServerMessage::Muted { by: p(3) },
                r#"{"type":"muted","by":"0000000000000003"}"#,
            ),
            (
                ServerMessage::RoomLocked {
                    locked: true,
                    by: p(3),
                },
                r#"{"type":"roomLocked","locked":true,"by":"0000000000000003"}"#,
            ),
            (
                ServerMessage::Chat(ChatView {
                    id: 7,
                    from: p(4),
                    nickname: crate::room::names::parse_nickname("Ann").unwrap(),
                    text: crate::room::chat::parse_chat_text("<b>hi</b>", 10).unwrap(),
                    time: 1700000000000,
                }),
                r#"{"type":"chat","id":7,"from":"0000000000000004","nickname":"Ann","text":"<b>hi</b>","time":1700000000000}"#,
            ),
        ];
        for (m, json) in cases {
            assert_eq!(m.to_json(), json);
        }
    }

    #[test]
    fn p2p_signals_are_checked_and_relayed_as_documented() {
        let parse = |t: &str| match ClientMessage::parse(t) {
            Ok(ClientMessage::P2pSignal {
                description,
                candidate,
                ..
            }) => P2pPayload::check(description, candidate),
            other => panic!("{:?}", other.map(|_| ())),
        };
        let d =
            parse(r#"{"type":"p2pSignal","to":"x","description":{"type":"offer","sdp":"v=0"}}"#)
                .unwrap();
        let out = ServerMessage::p2p_signal(ParticipantId::from_u64(1), d).to_json();
        assert_eq!(
            out,
            r#"{"type":"p2pSignal","from":"0000000000000001","description":{"type":"offer","sdp":"v=0"}}"#
        );
        let c = parse(
            r#"{"type":"p2pSignal","to":"x","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0,"extra":1}}"#,
        )
        .unwrap();
        let out = ServerMessage::p2p_signal(ParticipantId::from_u64(1), c).to_json();
        assert_eq!(
            out,
            r#"{"type":"p2pSignal","from":"0000000000000001","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}"#
        );
        // Debug never shows the addresses.
        let c = parse(r#"{"type":"p2pSignal","to":"x","candidate":{"candidate":"candidate:1 1 udp 1 192.0.2.1 9 typ host"}}"#).unwrap();
        assert!(!format!("{c:?}").contains("192.0.2.1"));
        for bad in [
            r#"{"type":"p2pSignal","to":"x"}"#.to_string(),
            r#"{"type":"p2pSignal","to":"x","description":{"type":"offer","sdp":""},"candidate":{"candidate":""}}"#.to_string(),
            format!(
                r#"{{"type":"p2pSignal","to":"x","description":{{"type":"offer","sdp":"{}"}}}}"#,
                "a".repeat(P2P_MAX_SDP_BYTES + 1)
            ),
            format!(
                r#"{{"type":"p2pSignal","to":"x","candidate":{{"candidate":"{}"}}}}"#,
                "a".repeat(P2P_MAX_CANDIDATE_BYTES + 1)
            ),
        ] {
            assert!(matches!(parse(&bad), Err(SignalingError::BadMessage(_))), "{bad}");
        }
        // An unknown description type is a malformed message.
        assert!(matches!(
            ClientMessage::parse(
                r#"{"type":"p2pSignal","to":"x","description":{"type":"bogus","sdp":""}}"#
            ),
            Err(SignalingError::BadMessage(_))
        ));
    }

    #[test]
    fn new_client_messages_parse() {
        for (text, ok) in [
            (r#"{"type":"chat","text":"hi"}"#, true),
            (r#"{"type":"chat"}"#, false),
            (r#"{"type":"hand","raised":true}"#, true),
            (r#"{"type":"hand","raised":"yes"}"#, false),
            (r#"{"type":"p2pState","state":"connected"}"#, true),
            (r#"{"type":"p2pState","state":"failed"}"#, true),
            (r#"{"type":"p2pState","state":"meh"}"#, false),
            (
                r#"{"type":"muteParticipant","id":"0000000000000001"}"#,
                true,
            ),
            (
                r#"{"type":"removeParticipant","id":"0000000000000001"}"#,
                true,
            ),
            (r#"{"type":"grantModerator","id":"0000000000000001"}"#, true),
            (r#"{"type":"lockRoom","password":"x"}"#, true),
            (r#"{"type":"lockRoom"}"#, false),
            (r#"{"type":"unlockRoom"}"#, true),
            (
                r#"{"type":"offer","sdp":"v=0","sources":{"0":"camera","2":"screen"}}"#,
                true,
            ),
            (
                r#"{"type":"offer","sdp":"v=0","sources":{"0":"webcam"}}"#,
                false,
            ),
            (
                r#"{"type":"join","version":1,"room":"r","nickname":"n","moderatorSecret":"s","password":"p"}"#,
                true,
            ),
        ] {
            let parsed = ClientMessage::parse(text);
            assert_eq!(parsed.is_ok(), ok, "{text}");
            if !ok {
                assert!(
                    matches!(parsed, Err(SignalingError::BadMessage(_))),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn video_sizes_are_bounded_and_video_forwarded_has_its_shape() {
        let sizes = |text: &str| match ClientMessage::parse(text) {
            Ok(ClientMessage::VideoSizes { sizes }) => video_sizes(sizes, 3),
            Ok(_) => panic!("not videoSizes"),
            Err(e) => Err(e),
        };
        let one = ParticipantId::from_u64(1);
        assert_eq!(
            sizes(r#"{"type":"videoSizes","sizes":{"0000000000000001":360,"nobody":5,"0000000000000002":100000}}"#)
                .unwrap(),
            vec![(one, 360), (ParticipantId::from_u64(2), u16::MAX)]
        );
        assert_eq!(
            sizes(r#"{"type":"videoSizes","sizes":{}}"#).unwrap(),
            vec![]
        );
        for bad in [
            r#"{"type":"videoSizes"}"#,
            r#"{"type":"videoSizes","sizes":[1]}"#,
            r#"{"type":"videoSizes","sizes":{"0000000000000001":-1}}"#,
            r#"{"type":"videoSizes","sizes":{"0000000000000001":1.5}}"#,
            r#"{"type":"videoSizes","sizes":{"a":1,"b":2,"c":3,"d":4}}"#,
        ] {
            assert!(
                matches!(sizes(bad), Err(SignalingError::BadMessage(_))),
                "{bad}"
            );
        }
        assert_eq!(
            ServerMessage::VideoForwarded {
                participants: vec![one]
            }
            .to_json(),
            r#"{"type":"videoForwarded","participants":["0000000000000001"]}"#
        );
    }

    #[test]
    fn new_errors_map_to_the_documented_codes() {
        for (e, code, close) in [
            (
                SignalingError::InvalidChat("x".into()),
                "invalid-chat",
                None,
            ),
            (SignalingError::NotModerator, "not-moderator", None),
            (SignalingError::BadTarget, "bad-target", None),
            (SignalingError::RoomLocked, "room-locked", None),
            (SignalingError::WrongPassword, "wrong-password", None),
            (SignalingError::NotP2p, "not-p2p", None),
            (SignalingError::Removed, "removed", Some(4004)),
            (
                SignalingError::ChatRateLimited { per_minute: 30 },
                "rate-limited",
                None,
            ),
        ] {
            let (c, message, fatal) = e.wire();
            assert_eq!((c, fatal), (code, close));
            assert!(!message.is_empty());
        }
    }

    #[test]
    fn debug_of_messages_redacts_names() {
        let j = ServerMessage::Joined {
            version: 1,
            id: ParticipantId::from_u64(2),
            room: crate::room::names::parse_room_name("secretroom").unwrap(),
            nickname: crate::room::names::parse_nickname("Secretnick").unwrap(),
            participants: vec![],
            ice_servers: vec![],
            ice_transport_policy: "all",
            moderator: true,
            locked: false,
            mode: ModeName::Sfu,
            chat: vec![],
            settings: settings(),
        };
        let d = format!("{j:?}");
        assert!(
            !d.contains("secretroom") && !d.contains("Secretnick"),
            "{d}"
        );
    }
}
