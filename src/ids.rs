//! Opaque identifiers shared by `room`, `signaling` and `sfu`, so that the
//! media plane can name participants and rooms without knowing who they are.

use serde::{Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

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

/// A map keyed by [`ParticipantId`] or [`RoomId`], for the media plane's
/// per-packet lookups. The ids are random and chosen by the server, so no
/// client can pick keys that collide; SipHash's protection is not needed
/// and its cost was 3 % of the forwarding path's instructions.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Hashes one `u64` id with a multiplication (Fibonacci hashing), which
/// spreads sequential ids (tests, the bench) over all bits as well.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only ids hash here, through `write_u64`; anything else still
        // hashes correctly, byte by byte.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    #[test]
    fn ids_spread_over_the_hash() {
        let hash = |v: u64| {
            let mut h = IdHasher::default();
            ParticipantId::from_u64(v).hash(&mut h);
            h.finish()
        };
        // hashbrown takes its control byte from the top 7 bits.
        let tops: std::collections::HashSet<u64> = (0..64).map(|v| hash(v) >> 57).collect();
        assert!(tops.len() > 32, "{}", tops.len());
        let mut map = IdMap::default();
        for v in 0..1000 {
            map.insert(RoomId::from_u64(v), v);
        }
        assert!((0..1000).all(|v| map[&RoomId::from_u64(v)] == v));
    }

    #[test]
    fn participant_id_round_trips() {
        let id = ParticipantId::from_u64(0xab);
        assert_eq!(id.to_string(), "00000000000000ab");
        assert_eq!(ParticipantId::parse(&id.to_string()), Some(id));
        assert_eq!(ParticipantId::parse("ab"), None);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"00000000000000ab\"");
    }
}
