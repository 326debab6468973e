//! Opaque identifiers shared by `room`, `signaling` and `sfu`, so that the
//! media plane can name participants and rooms without knowing who they are.

use serde::{Serialize, Serializer};
use std::fmt;

/// A participant for the duration of one connection. Random, so it says
/// nothing about how many people used the server.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(u64);

impl ParticipantId {
    pub fn random() -> Self {
        ParticipantId(rand::random())
    }

    pub fn from_u64(v: u64) -> Self {
        ParticipantId(v)
    }

    /// Parses the 16-hex-digit wire form.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(ParticipantId)
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{:016x}", self.0)
    }
}

impl Serialize for ParticipantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One room for as long as it exists; a room of the same name created later
/// gets a new id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RoomId(u64);

impl RoomId {
    pub fn random() -> Self {
        RoomId(rand::random())
    }

    pub fn from_u64(v: u64) -> Self {
        RoomId(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_id_round_trips() {
        let id = ParticipantId::from_u64(0xab);
        assert_eq!(id.to_string(), "00000000000000ab");
        assert_eq!(ParticipantId::parse(&id.to_string()), Some(id));
        assert_eq!(ParticipantId::parse("ab"), None);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"00000000000000ab\"");
    }
}
