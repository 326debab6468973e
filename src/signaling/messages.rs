//! The wire types of docs/protocol.md, and the one place where errors are
//! mapped to what goes on the wire.

use crate::ids::ParticipantId;
use crate::privacy::{Nickname, RoomName};
use crate::room::Member;
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
    },
    Offer {
        sdp: String,
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
}

impl From<&Member> for ParticipantView {
    fn from(m: &Member) -> Self {
        ParticipantView {
            id: m.id,
            nickname: m.nickname.clone(),
            audio: m.media.audio,
            video: m.media.video,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackView {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: &'static str,
}

impl From<&TrackInfo> for TrackView {
    fn from(t: &TrackInfo) -> Self {
        TrackView {
            mid: t.mid.clone(),
            participant: t.participant,
            kind: t.kind.as_str(),
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
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server messages serialize")
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
    MediaFailed,
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
        .to_json();
        assert!(j.contains(r#""iceServers":[]"#), "{j}");
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
        };
        let d = format!("{j:?}");
        assert!(
            !d.contains("secretroom") && !d.contains("Secretnick"),
            "{d}"
        );
    }
}
