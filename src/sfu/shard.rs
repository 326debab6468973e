//! How rooms are spread over the media threads ("shards"), as plain logic:
//! which shard a room lives on ([`Placement`], kept by signaling), how a
//! shard is named in the server's ICE ufrag ([`ufrag_for`],
//! [`shard_of_ufrag`]), and which shard owns the datagrams of a remote
//! address ([`SourceOwners`], kept by each receiving shard).
//!
//! Every media thread has its own socket on the one media port
//! (`SO_REUSEPORT`); the kernel hands each remote address:port to one of
//! them, not necessarily the one that owns its participant. A remote
//! address always introduces itself with an ICE check whose USERNAME starts
//! with the server's ufrag, and that ufrag starts with the owner's index: so
//! the receiving shard hands the check to that shard, learns the owner once
//! the owner's core has accepted it, and hands that address's datagrams
//! over from then on.

use crate::ids::{ParticipantId, RoomId};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use str0m::ice::StunMessage;

/// Decimal digits of the shard index at the start of a ufrag. Two digits
/// name 100 shards, more than `media.threads` allows.
const UFRAG_DIGITS: usize = 2;
const _: () = assert!(crate::config::MAX_MEDIA_THREADS <= 100);

/// A fresh server-side ufrag for a participant of `shard`: the index in
/// two decimal digits, then `random` (str0m's 16 random characters). Digits
/// are ICE characters; 18 characters are well inside ICE's 4–256.
pub fn ufrag_for(shard: usize, random: &str) -> String {
    debug_assert!(shard < 100);
    format!("{shard:0UFRAG_DIGITS$}{random}")
}

/// The shard a server-side ufrag was made for, if it is one of ours in form.
pub fn shard_of_ufrag(ufrag: &str) -> Option<usize> {
    let digits = ufrag.as_bytes().get(..UFRAG_DIGITS)?;
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

/// Which shard each room lives on. A new room goes to the shard with the
/// fewest participants; everyone later in the same room follows it; a room
/// is forgotten when its last participant leaves.
#[derive(Debug)]
pub struct Placement {
    /// Participants per shard.
    load: Vec<u32>,
    /// (shard, participants) per room.
    rooms: HashMap<RoomId, (usize, u32)>,
    participants: HashMap<ParticipantId, (RoomId, usize)>,
}

impl Placement {
    pub fn new(shards: usize) -> Placement {
        Placement {
            load: vec![0; shards.max(1)],
            rooms: HashMap::new(),
            participants: HashMap::new(),
        }
    }

    /// The shard `participant` is on from now on. A second join of the
    /// same participant gives its shard again.
    pub fn join(&mut self, participant: ParticipantId, room: RoomId) -> usize {
        if let Some(&(_, shard)) = self.participants.get(&participant) {
            return shard;
        }
        let load = &self.load;
        let (shard, members) = self.rooms.entry(room).or_insert_with(|| {
            // The least loaded; of equals, the lowest index.
            let least = (0..load.len()).min_by_key(|&s| load[s]).unwrap_or(0);
            (least, 0)
        });
        *members += 1;
        let shard = *shard;
        self.load[shard] += 1;
        self.participants.insert(participant, (room, shard));
        shard
    }

    /// Forgets `participant`; the shard it was on, if it was placed.
    pub fn leave(&mut self, participant: ParticipantId) -> Option<usize> {
        let (room, shard) = self.participants.remove(&participant)?;
        self.load[shard] -= 1;
        if let Some((_, members)) = self.rooms.get_mut(&room) {
            *members -= 1;
            if *members == 0 {
                self.rooms.remove(&room);
            }
        }
        Some(shard)
    }

    pub fn shard_of(&self, participant: ParticipantId) -> Option<usize> {
        self.participants.get(&participant).map(|&(_, s)| s)
    }
}

/// Remote addresses a receiving shard knows the owner of, as (index of the
/// local socket, remote address) → owning shard.
///
/// An ICE check goes to the shard its USERNAME names; the address is
/// learned only once that shard's core has accepted the check (the ufrag
/// belongs to one of its participants, [`SourceOwners::confirm`]), so
/// checks with made-up names teach nothing and evict nothing. Bounded:
/// past [`SourceOwners::MAX`] the oldest entry is forgotten; the
/// participant's next check (the browser's consent check every few seconds
/// at the latest) teaches it again.
#[derive(Debug)]
pub struct SourceOwners {
    me: usize,
    shards: usize,
    owners: HashMap<(usize, SocketAddr), usize>,
    /// Keys in the order they were learned; exactly the keys of `owners`.
    order: VecDeque<(usize, SocketAddr)>,
}

impl SourceOwners {
    /// Far more remote addresses than the participants a server carries
    /// (`limits.max_participants`, 500 by default, a few addresses each).
    pub const MAX: usize = 16_384;

    pub fn new(me: usize, shards: usize) -> SourceOwners {
        SourceOwners {
            me,
            shards,
            owners: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The shard whose core gets this datagram: for an ICE check the shard
    /// its USERNAME names; for anything else the owner learned for its
    /// address, or this shard when there is none (its core drops what it
    /// does not know, as a single core always did).
    pub fn route(&self, local: usize, source: SocketAddr, data: &[u8]) -> usize {
        if self.shards == 1 {
            return self.me;
        }
        if let Some(owner) = ice_check_owner(data).filter(|&s| s < self.shards) {
            return owner;
        }
        self.owners
            .get(&(local, source))
            .copied()
            .unwrap_or(self.me)
    }

    /// `owner`'s core accepted an ICE check from `source` on `local`: its
    /// datagrams go there from now on.
    pub fn confirm(&mut self, local: usize, source: SocketAddr, owner: usize) {
        let key = (local, source);
        if let Some(known) = self.owners.get_mut(&key) {
            *known = owner;
            return;
        }
        if self.owners.len() >= Self::MAX
            && let Some(oldest) = self.order.pop_front()
        {
            self.owners.remove(&oldest);
        }
        self.owners.insert(key, owner);
        self.order.push_back(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.owners.len()
    }
}

/// Whether `data` may be an ICE check (STUN): the cheap first test, on the
/// owner's side, before asking the core whether it accepted one.
pub fn maybe_stun(data: &[u8]) -> bool {
    // RFC 7983: STUN starts with 0–3; RTP, RTCP and DTLS never do.
    data.first().is_some_and(|&b| b <= 3)
}

/// The shard named by the server's ufrag in an ICE check (`server:client`
/// USERNAME), if `data` is one.
fn ice_check_owner(data: &[u8]) -> Option<usize> {
    // Keeps the parser (and its error allocations) off the media path.
    if !maybe_stun(data) {
        return None;
    }
    let msg = StunMessage::parse(data).ok()?;
    if !msg.is_binding_request() {
        return None;
    }
    let (ours, _theirs) = msg.split_username()?;
    shard_of_ufrag(ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::ice::TransId;

    #[test]
    fn a_ufrag_names_its_shard_in_ice_characters() {
        for shard in [0, 1, 9, 10, 63] {
            let ufrag = ufrag_for(shard, "abcdefghijklmnop");
            assert_eq!(shard_of_ufrag(&ufrag), Some(shard), "{ufrag}");
            assert_eq!(ufrag.len(), 18);
            // ice-char: ALPHA / DIGIT / "+" / "/"
            assert!(ufrag.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_eq!(ufrag_for(3, "xyz"), "03xyz");
        assert_eq!(shard_of_ufrag("ab12"), None);
        assert_eq!(shard_of_ufrag("1"), None);
        assert_eq!(shard_of_ufrag(""), None);
    }

    fn pid(n: u64) -> ParticipantId {
        ParticipantId::from_u64(n)
    }

    fn room(n: u64) -> RoomId {
        RoomId::from_u64(n)
    }

    #[test]
    fn new_rooms_go_to_the_least_loaded_shard_and_stay_together() {
        let mut p = Placement::new(2);
        assert_eq!(p.join(pid(1), room(1)), 0);
        assert_eq!(p.join(pid(2), room(1)), 0);
        assert_eq!(p.join(pid(3), room(1)), 0, "a room stays on one shard");
        assert_eq!(p.join(pid(4), room(2)), 1, "a new room: the emptier shard");
        assert_eq!(p.join(pid(5), room(3)), 1, "1 participant on 1, 3 on 0");
        assert_eq!(p.join(pid(6), room(4)), 1, "3 on 0, 2 on 1");
        assert_eq!(p.join(pid(7), room(5)), 0, "3 and 3: a tie goes to 0");
        assert_eq!(p.join(pid(4), room(2)), 1, "joining twice changes nothing");
        assert_eq!(p.load, vec![4, 3]);
        assert_eq!(p.shard_of(pid(5)), Some(1));
        assert_eq!(p.shard_of(pid(99)), None);
    }

    #[test]
    fn an_emptied_room_is_forgotten_and_placed_anew() {
        let mut p = Placement::new(2);
        p.join(pid(1), room(1));
        p.join(pid(2), room(1));
        p.join(pid(3), room(2));
        assert_eq!(p.leave(pid(1)), Some(0));
        assert_eq!(p.leave(pid(1)), None, "a second leave is nothing");
        assert_eq!(p.join(pid(4), room(1)), 0, "room 1 still has pid 2");
        p.join(pid(5), room(3));
        assert_eq!(p.load, vec![2, 2]);
        for id in [2, 4] {
            p.leave(pid(id));
        }
        assert!(!p.rooms.contains_key(&room(1)));
        assert_eq!(p.join(pid(6), room(2)), 1, "room 2 lives on 1");
        assert_eq!(p.join(pid(7), room(1)), 0, "room 1 again: the emptier");
        assert!(p.participants.len() == 4 && p.rooms.len() == 3);
    }

    fn ice_check(username: &str) -> Vec<u8> {
        let msg = StunMessage::binding_request(username, TransId::new(), true, 7, 100, false);
        let mut buf = vec![0u8; 512];
        let n = msg
            .to_bytes(Some(b"password"), &mut buf, |_, _| [0u8; 20])
            .unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn an_ice_check_goes_to_the_shard_it_names() {
        let o = SourceOwners::new(0, 2);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(o.route(0, a, &ice_check("01abcdefgh:cli1")), 1);
        assert_eq!(o.route(0, a, &ice_check("00abcdefgh:cli1")), 0);
        assert_eq!(
            o.route(0, a, &ice_check("07abcdefgh:cli3")),
            0,
            "no shard 7"
        );
        assert_eq!(o.route(0, a, &ice_check("zzabcdefgh:cli3")), 0);
        assert_eq!(o.route(0, a, b"\x00\x01garbage"), 0);
        assert_eq!(o.route(0, a, &[0x80u8; 40]), 0, "a check teaches nothing");
        let single = SourceOwners::new(0, 1);
        assert_eq!(single.route(0, a, &ice_check("01abcdefgh:cli1")), 0);
        assert!(maybe_stun(&ice_check("01abcdefgh:cli1")));
        assert!(!maybe_stun(&[0x80u8; 40]) && !maybe_stun(&[22u8; 40]) && !maybe_stun(&[]));
    }

    #[test]
    fn a_confirmed_address_goes_to_its_owner() {
        let mut o = SourceOwners::new(0, 2);
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:5000".parse().unwrap();
        let rtp = [0x80u8; 40];
        assert_eq!(o.route(0, a, &rtp), 0, "unknown: stays here");
        o.confirm(0, a, 1);
        assert_eq!(o.route(0, a, &rtp), 1);
        assert_eq!(o.route(1, a, &rtp), 0, "per local socket");
        assert_eq!(o.route(0, b, &rtp), 0);
        o.confirm(0, a, 0);
        assert_eq!(o.route(0, a, &rtp), 0, "a later owner replaces it");
        assert_eq!(o.len(), 1);
    }

    #[test]
    fn learned_addresses_are_bounded_oldest_first() {
        let mut o = SourceOwners::new(1, 2);
        let addr = |i: usize| SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 4000 + i as u16));
        for i in 0..SourceOwners::MAX + 10 {
            o.confirm(0, addr(i), 0);
        }
        assert_eq!(o.len(), SourceOwners::MAX);
        assert_eq!(o.order.len(), SourceOwners::MAX);
        let rtp = [0x80u8; 40];
        assert_eq!(o.route(0, addr(0), &rtp), 1, "the oldest is forgotten");
        assert_eq!(o.route(0, addr(SourceOwners::MAX + 9), &rtp), 0);
    }
}
