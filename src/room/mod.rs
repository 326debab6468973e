//! The in-memory room registry: who is in which room, moderation, chat
//! history and whether a room talks through the SFU or peer to peer. Pure
//! logic, no sockets, no clocks of its own (time comes in as `now`), no
//! media.
//!
//! A room exists while someone is in it. When the last participant leaves,
//! the room and everything about it (chat, secret, password) is dropped.
//!
//! Operations return what changed as data ([`Effects`] and friends); the
//! caller (signaling) turns that into messages and SFU commands.

pub mod chat;
pub mod names;
pub mod secret;

use crate::ids::{ParticipantId, RoomId};
use crate::privacy::{ChatText, Nickname, RoomName};
use chat::{ChatHistory, ChatMessage};
use secret::SecretHash;
use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    pub max_participants_per_room: u32,
    pub max_rooms: u32,
    pub max_participants: u32,
}

/// What the `[rooms]` config decides for every room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomSettings {
    /// Two participants alone talk peer to peer.
    pub p2p: bool,
    /// Joiners start muted when the room already has this many participants.
    pub start_muted_after: u32,
    /// Chat messages kept for later joiners.
    pub chat_history: usize,
}

impl Default for RoomSettings {
    fn default() -> Self {
        RoomSettings {
            p2p: true,
            start_muted_after: 8,
            chat_history: 100,
        }
    }
}

/// Whether a participant's microphone and camera are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
}

/// What the SFU must hold back of one participant's media.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarding {
    /// A moderator muted the participant, who has not switched the
    /// microphone on again since: its audio is not forwarded.
    pub audio_muted: bool,
    /// The participant's peer-to-peer connection is up: none of its media
    /// is forwarded.
    pub p2p_direct: bool,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: ParticipantId,
    pub nickname: Nickname,
    pub media: MediaState,
    pub joined_at: Instant,
    pub hand: bool,
    pub moderator: bool,
    pub forwarding: Forwarding,
}

/// How a room's media travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sfu,
    P2p,
}

/// A `mode` message for one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeNotice {
    Sfu,
    /// `polite: false` is the side that offers.
    P2p {
        peer: ParticipantId,
        polite: bool,
    },
}

/// What an operation changed besides its main result.
#[derive(Debug, Default)]
pub struct Effects {
    /// Members whose hand, moderator or media state changed: everyone in
    /// the room (the member included) is told.
    pub updated: Vec<Member>,
    /// `mode` messages, per recipient, in order.
    pub modes: Vec<(ParticipantId, ModeNotice)>,
    /// The new forwarding state of participants, for the SFU.
    pub forwarding: Vec<(ParticipantId, Forwarding)>,
}

/// A join, as signaling parsed it.
#[derive(Debug)]
pub struct JoinRequest<'a> {
    pub id: ParticipantId,
    pub room: RoomName,
    pub nickname: Nickname,
    pub media: MediaState,
    pub moderator_secret: Option<&'a str>,
    pub password: Option<&'a str>,
    pub now: Instant,
}

#[derive(Debug)]
pub struct Joined {
    pub room_id: RoomId,
    /// The new member as recorded (moderator, media as started).
    pub you: Member,
    /// Everyone else already in the room, in join order.
    pub others: Vec<Member>,
    pub locked: bool,
    pub mode: Mode,
    /// The room's chat history, oldest first.
    pub chat: Vec<ChatMessage>,
    /// The room already had `start_muted_after` participants: the joiner
    /// starts with microphone and camera off.
    pub start_muted: bool,
    pub effects: Effects,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    RoomFull {
        limit: u32,
    },
    ServerFull,
    /// The id is already in use (the caller draws a new one).
    IdTaken,
    /// The room is locked and the join names no password.
    Locked,
    WrongPassword,
}

#[derive(Debug)]
pub struct Left {
    pub room_id: RoomId,
    /// Who is still in the room and must be told.
    pub remaining: Vec<ParticipantId>,
    pub room_closed: bool,
    pub effects: Effects,
}

/// What a moderator may do.
#[derive(Debug, Clone, Copy)]
pub enum Moderation<'a> {
    Mute(ParticipantId),
    Remove(ParticipantId),
    /// A password already checked for length.
    Lock(&'a str),
    Unlock,
    Grant(ParticipantId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModerationError {
    NotJoined,
    NotModerator,
    /// The target is not in the moderator's room, or is the moderator.
    BadTarget,
}

#[derive(Debug)]
pub enum Moderated {
    /// The target's microphone counts as off and its audio is held back
    /// (in `effects`) until it switches the microphone on itself.
    Muted {
        target: ParticipantId,
        effects: Effects,
    },
    /// The target is out of the room.
    Removed {
        target: ParticipantId,
        left: Left,
    },
    LockChanged {
        locked: bool,
    },
    Granted {
        effects: Effects,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P2pState {
    Connected,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P2pError {
    NotJoined,
    /// The room is not in peer-to-peer mode.
    NotP2p,
    /// `p2pSignal.to` is not the peer.
    BadTarget,
}

#[derive(Debug)]
struct Room {
    id: RoomId,
    /// In join order: the first is the one present longest.
    members: Vec<Member>,
    /// Fixed by the first join (a hash of `join.moderatorSecret`).
    secret: Option<SecretHash>,
    /// Set while the room is locked.
    password: Option<SecretHash>,
    chat: ChatHistory,
    /// The two talking peer to peer, (offerer, polite); `None`: SFU.
    pair: Option<(ParticipantId, ParticipantId)>,
    /// This pair reported that peer to peer failed; it stays on the SFU for
    /// as long as the two are alone.
    failed_pair: Option<(ParticipantId, ParticipantId)>,
}

impl Room {
    fn member_mut(&mut self, id: ParticipantId) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn ids(&self) -> Vec<ParticipantId> {
        self.members.iter().map(|m| m.id).collect()
    }

    fn mode(&self) -> Mode {
        if self.pair.is_some() {
            Mode::P2p
        } else {
            Mode::Sfu
        }
    }

    /// The member set as an order-independent pair, if it is two.
    fn as_pair(&self) -> Option<(ParticipantId, ParticipantId)> {
        match self.members.as_slice() {
            [a, b] => Some(sorted(a.id, b.id)),
            _ => None,
        }
    }

    /// Brings the mode in line with the rule "peer to peer iff enabled,
    /// exactly two, and these two have not failed at it", recording the
    /// `mode` messages and forwarding changes that follows.
    fn update_mode(&mut self, p2p_enabled: bool, effects: &mut Effects) {
        if self.failed_pair.is_some() && self.failed_pair != self.as_pair() {
            self.failed_pair = None;
        }
        let wanted = match self.members.as_slice() {
            [a, b] if p2p_enabled && self.failed_pair.is_none() => Some((a.id, b.id)),
            _ => None,
        };
        if wanted == self.pair {
            return;
        }
        if let Some((a, b)) = self.pair {
            for id in [a, b] {
                let Some(m) = self.member_mut(id) else {
                    continue;
                };
                if wanted.is_none() {
                    effects.modes.push((id, ModeNotice::Sfu));
                }
                if m.forwarding.p2p_direct {
                    m.forwarding.p2p_direct = false;
                    effects.forwarding.push((id, m.forwarding));
                }
            }
        }
        if let Some((a, b)) = wanted {
            effects.modes.push((
                a,
                ModeNotice::P2p {
                    peer: b,
                    polite: false,
                },
            ));
            effects.modes.push((
                b,
                ModeNotice::P2p {
                    peer: a,
                    polite: true,
                },
            ));
        }
        self.pair = wanted;
    }

    /// Someone must moderate: when nobody does, the one present longest.
    fn ensure_moderator(&mut self, effects: &mut Effects) {
        if self.members.iter().any(|m| m.moderator) {
            return;
        }
        if let Some(first) = self.members.first_mut() {
            first.moderator = true;
            effects.updated.push(first.clone());
        }
    }
}

fn sorted(a: ParticipantId, b: ParticipantId) -> (ParticipantId, ParticipantId) {
    if a <= b { (a, b) } else { (b, a) }
}

#[derive(Debug)]
pub struct Registry {
    limits: RoomLimits,
    settings: RoomSettings,
    rooms: HashMap<RoomName, Room>,
    by_participant: HashMap<ParticipantId, RoomName>,
}

impl Registry {
    pub fn new(limits: RoomLimits, settings: RoomSettings) -> Self {
        Registry {
            limits,
            settings,
            rooms: HashMap::new(),
            by_participant: HashMap::new(),
        }
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn participant_count(&self) -> usize {
        self.by_participant.len()
    }

    fn room_of(&self, id: ParticipantId) -> Option<&Room> {
        self.rooms.get(self.by_participant.get(&id)?)
    }

    fn room_of_mut(&mut self, id: ParticipantId) -> Option<&mut Room> {
        self.rooms.get_mut(self.by_participant.get(&id)?)
    }

    pub fn join(&mut self, req: JoinRequest<'_>) -> Result<Joined, JoinError> {
        if self.by_participant.contains_key(&req.id) {
            return Err(JoinError::IdTaken);
        }
        if self.by_participant.len() >= self.limits.max_participants as usize {
            return Err(JoinError::ServerFull);
        }
        let existing = self.rooms.get(&req.room);
        let moderator = match existing {
            Some(room) => {
                let by_secret = match (&room.secret, req.moderator_secret) {
                    (Some(hash), Some(given)) => hash.matches(given),
                    _ => false,
                };
                if let Some(password) = &room.password
                    && !by_secret
                {
                    match req.password {
                        None | Some("") => return Err(JoinError::Locked),
                        Some(given) if !password.matches(given) => {
                            return Err(JoinError::WrongPassword);
                        }
                        Some(_) => {}
                    }
                }
                if room.members.len() >= self.limits.max_participants_per_room as usize {
                    return Err(JoinError::RoomFull {
                        limit: self.limits.max_participants_per_room,
                    });
                }
                by_secret
            }
            None => {
                if self.rooms.len() >= self.limits.max_rooms as usize {
                    return Err(JoinError::ServerFull);
                }
                // The creator: with a secret, the one who holds it; without,
                // the first participant. Either way a moderator.
                true
            }
        };
        let settings = self.settings;
        let room = self.rooms.entry(req.room.clone()).or_insert_with(|| Room {
            id: RoomId::random(),
            members: Vec::new(),
            secret: req
                .moderator_secret
                .filter(|s| !s.is_empty())
                .map(SecretHash::new),
            password: None,
            chat: ChatHistory::new(settings.chat_history),
            pair: None,
            failed_pair: None,
        });
        let start_muted = room.members.len() >= settings.start_muted_after as usize;
        let media = if start_muted {
            MediaState {
                audio: false,
                video: false,
            }
        } else {
            req.media
        };
        let you = Member {
            id: req.id,
            nickname: req.nickname,
            media,
            joined_at: req.now,
            hand: false,
            moderator,
            forwarding: Forwarding::default(),
        };
        let others = room.members.clone();
        room.members.push(you.clone());
        let mut effects = Effects::default();
        room.update_mode(settings.p2p, &mut effects);
        let joined = Joined {
            room_id: room.id,
            you,
            others,
            locked: room.password.is_some(),
            mode: room.mode(),
            chat: room.chat.recent(),
            start_muted,
            effects,
        };
        self.by_participant.insert(req.id, req.room);
        Ok(joined)
    }

    /// Removes a participant. `None` if it was not in any room.
    pub fn leave(&mut self, id: ParticipantId) -> Option<Left> {
        let name = self.by_participant.remove(&id)?;
        let p2p = self.settings.p2p;
        let room = self
            .rooms
            .get_mut(&name)
            .expect("every participant's room exists");
        room.members.retain(|m| m.id != id);
        let mut effects = Effects::default();
        room.ensure_moderator(&mut effects);
        room.update_mode(p2p, &mut effects);
        let left = Left {
            room_id: room.id,
            remaining: room.ids(),
            room_closed: room.members.is_empty(),
            effects,
        };
        if left.room_closed {
            self.rooms.remove(&name);
        }
        Some(left)
    }

    /// Records a participant's microphone/camera state. Returns the updated
    /// member, who else must be told, and forwarding changes (switching the
    /// microphone on ends a moderator's mute). `None` if not in a room.
    pub fn set_media_state(
        &mut self,
        id: ParticipantId,
        media: MediaState,
    ) -> Option<(Member, Vec<ParticipantId>, Effects)> {
        let room = self.room_of_mut(id)?;
        let member = room.member_mut(id)?;
        member.media = media;
        let mut effects = Effects::default();
        if media.audio && member.forwarding.audio_muted {
            member.forwarding.audio_muted = false;
            effects.forwarding.push((id, member.forwarding));
        }
        let updated = member.clone();
        let others = room.ids().into_iter().filter(|&m| m != id).collect();
        Some((updated, others, effects))
    }

    /// Raises or lowers a hand; everyone is told (`effects.updated`).
    pub fn set_hand(&mut self, id: ParticipantId, raised: bool) -> Option<Effects> {
        let member = self.room_of_mut(id)?.member_mut(id)?;
        member.hand = raised;
        Some(Effects {
            updated: vec![member.clone()],
            ..Effects::default()
        })
    }

    /// Adds a chat message to the room's history; the caller sends it to
    /// everyone in the room.
    pub fn chat(&mut self, id: ParticipantId, text: ChatText, unix_ms: u64) -> Option<ChatMessage> {
        let room = self.room_of_mut(id)?;
        let nickname = room.member_mut(id)?.nickname.clone();
        Some(room.chat.push(id, nickname, text, unix_ms))
    }

    pub fn moderate(
        &mut self,
        id: ParticipantId,
        action: Moderation<'_>,
    ) -> Result<Moderated, ModerationError> {
        let room = self.room_of_mut(id).ok_or(ModerationError::NotJoined)?;
        let me = room
            .members
            .iter()
            .find(|m| m.id == id)
            .ok_or(ModerationError::NotJoined)?;
        if !me.moderator {
            return Err(ModerationError::NotModerator);
        }
        let target_ok = |t: ParticipantId| t != id && room.members.iter().any(|m| m.id == t);
        match action {
            Moderation::Mute(target) => {
                if !target_ok(target) {
                    return Err(ModerationError::BadTarget);
                }
                let m = room.member_mut(target).expect("checked");
                m.media.audio = false;
                m.forwarding.audio_muted = true;
                Ok(Moderated::Muted {
                    target,
                    effects: Effects {
                        updated: vec![m.clone()],
                        forwarding: vec![(target, m.forwarding)],
                        ..Effects::default()
                    },
                })
            }
            Moderation::Grant(target) => {
                if !target_ok(target) {
                    return Err(ModerationError::BadTarget);
                }
                let m = room.member_mut(target).expect("checked");
                m.moderator = true;
                Ok(Moderated::Granted {
                    effects: Effects {
                        updated: vec![m.clone()],
                        ..Effects::default()
                    },
                })
            }
            Moderation::Lock(password) => {
                room.password = Some(SecretHash::new(password));
                Ok(Moderated::LockChanged { locked: true })
            }
            Moderation::Unlock => {
                room.password = None;
                Ok(Moderated::LockChanged { locked: false })
            }
            Moderation::Remove(target) => {
                if !target_ok(target) {
                    return Err(ModerationError::BadTarget);
                }
                let left = self.leave(target).expect("the target is in the room");
                Ok(Moderated::Removed { target, left })
            }
        }
    }

    pub fn is_moderator(&self, id: ParticipantId) -> bool {
        self.room_of(id)
            .and_then(|r| r.members.iter().find(|m| m.id == id))
            .is_some_and(|m| m.moderator)
    }

    /// A participant's report on its peer-to-peer connection.
    pub fn p2p_state(&mut self, id: ParticipantId, state: P2pState) -> Result<Effects, P2pError> {
        let p2p = self.settings.p2p;
        let room = self.room_of_mut(id).ok_or(P2pError::NotJoined)?;
        let Some((a, b)) = room.pair else {
            return Err(P2pError::NotP2p);
        };
        let mut effects = Effects::default();
        match state {
            P2pState::Connected => {
                let m = room.member_mut(id).ok_or(P2pError::NotJoined)?;
                if !m.forwarding.p2p_direct {
                    m.forwarding.p2p_direct = true;
                    effects.forwarding.push((id, m.forwarding));
                }
            }
            P2pState::Failed => {
                room.failed_pair = Some(sorted(a, b));
                room.update_mode(p2p, &mut effects);
            }
        }
        Ok(effects)
    }

    /// Whether `id` may send `p2pSignal` to `to`: only to its peer, only in
    /// peer-to-peer mode.
    pub fn p2p_peer(&self, id: ParticipantId, to: ParticipantId) -> Result<(), P2pError> {
        let room = self.room_of(id).ok_or(P2pError::NotJoined)?;
        match room.pair {
            None => Err(P2pError::NotP2p),
            Some((a, b)) if (a == id && b == to) || (b == id && a == to) => Ok(()),
            Some(_) => Err(P2pError::BadTarget),
        }
    }

    /// Everyone in the participant's room, the participant included.
    pub fn members_of(&self, id: ParticipantId) -> Vec<ParticipantId> {
        self.room_of(id).map(Room::ids).unwrap_or_default()
    }

    /// Everyone in the participant's room but the participant.
    pub fn others_in_room(&self, id: ParticipantId) -> Vec<ParticipantId> {
        let mut ids = self.members_of(id);
        ids.retain(|&m| m != id);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::chat::parse_chat_text;
    use super::names::{parse_nickname, parse_room_name};
    use super::*;

    const ON: MediaState = MediaState {
        audio: true,
        video: true,
    };

    fn limits(per_room: u32, rooms: u32, total: u32) -> RoomLimits {
        RoomLimits {
            max_participants_per_room: per_room,
            max_rooms: rooms,
            max_participants: total,
        }
    }

    fn registry(per_room: u32, rooms: u32, total: u32) -> Registry {
        Registry::new(limits(per_room, rooms, total), RoomSettings::default())
    }

    fn p(n: u64) -> ParticipantId {
        ParticipantId::from_u64(n)
    }

    fn request<'a>(
        id: u64,
        room: &str,
        secret: Option<&'a str>,
        password: Option<&'a str>,
    ) -> JoinRequest<'a> {
        JoinRequest {
            id: p(id),
            room: parse_room_name(room).unwrap(),
            nickname: parse_nickname(&format!("n{id}")).unwrap(),
            media: ON,
            moderator_secret: secret,
            password,
            now: Instant::now(),
        }
    }

    fn join(reg: &mut Registry, id: u64, room: &str) -> Result<Joined, JoinError> {
        reg.join(request(id, room, None, None))
    }

    fn member(reg: &Registry, id: u64) -> Member {
        reg.room_of(p(id))
            .unwrap()
            .members
            .iter()
            .find(|m| m.id == p(id))
            .unwrap()
            .clone()
    }

    fn moderators(reg: &Registry, id: u64) -> Vec<ParticipantId> {
        reg.room_of(p(id))
            .unwrap()
            .members
            .iter()
            .filter(|m| m.moderator)
            .map(|m| m.id)
            .collect()
    }

    fn p2p(peer: u64, polite: bool) -> ModeNotice {
        ModeNotice::P2p {
            peer: p(peer),
            polite,
        }
    }

    #[test]
    fn joiners_see_who_is_there_in_join_order() {
        let mut reg = registry(10, 10, 100);
        let a = join(&mut reg, 1, "r").unwrap();
        assert!(a.others.is_empty());
        join(&mut reg, 2, "r").unwrap();
        let c = join(&mut reg, 3, "R").unwrap();
        assert_eq!(c.room_id, a.room_id, "names normalise to one room");
        let ids: Vec<_> = c.others.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![p(1), p(2)]);
        assert_eq!(reg.others_in_room(p(2)), vec![p(1), p(3)]);
        assert_eq!(reg.members_of(p(2)), vec![p(1), p(2), p(3)]);
    }

    #[test]
    fn last_one_out_closes_the_room() {
        let mut reg = registry(10, 10, 100);
        let first = join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        let left = reg.leave(p(1)).unwrap();
        assert_eq!(left.remaining, vec![p(2)]);
        assert!(!left.room_closed);
        let left = reg.leave(p(2)).unwrap();
        assert!(left.room_closed);
        assert_eq!(reg.room_count(), 0);
        assert_eq!(reg.participant_count(), 0);
        assert!(reg.leave(p(2)).is_none());
        // A new room of the same name is a new room.
        let again = join(&mut reg, 3, "r").unwrap();
        assert_ne!(again.room_id, first.room_id);
    }

    #[test]
    fn room_full_and_server_full() {
        let mut reg = registry(2, 1, 3);
        join(&mut reg, 1, "a").unwrap();
        join(&mut reg, 2, "a").unwrap();
        assert_eq!(
            join(&mut reg, 3, "a").unwrap_err(),
            JoinError::RoomFull { limit: 2 }
        );
        assert_eq!(join(&mut reg, 3, "b").unwrap_err(), JoinError::ServerFull);
        // The failed joins changed nothing.
        assert_eq!(reg.participant_count(), 2);
        assert_eq!(reg.room_count(), 1);
        let mut reg = registry(5, 5, 1);
        join(&mut reg, 1, "a").unwrap();
        assert_eq!(join(&mut reg, 2, "a").unwrap_err(), JoinError::ServerFull);
    }

    #[test]
    fn an_id_joins_once() {
        let mut reg = registry(5, 5, 5);
        join(&mut reg, 1, "a").unwrap();
        assert_eq!(join(&mut reg, 1, "b").unwrap_err(), JoinError::IdTaken);
    }

    #[test]
    fn media_state_reaches_the_others_only() {
        let mut reg = registry(5, 5, 5);
        join(&mut reg, 1, "a").unwrap();
        join(&mut reg, 2, "a").unwrap();
        join(&mut reg, 3, "b").unwrap();
        let (m, others, effects) = reg
            .set_media_state(
                p(1),
                MediaState {
                    audio: false,
                    video: true,
                },
            )
            .unwrap();
        assert!(!m.media.audio);
        assert_eq!(others, vec![p(2)]);
        assert!(effects.forwarding.is_empty());
        assert!(reg.set_media_state(p(9), ON).is_none());
    }

    // ---- chat -----------------------------------------------------------

    #[test]
    fn chat_history_is_per_room_bounded_and_goes_with_the_room() {
        let mut reg = Registry::new(
            limits(10, 10, 10),
            RoomSettings {
                chat_history: 2,
                ..RoomSettings::default()
            },
        );
        join(&mut reg, 1, "a").unwrap();
        join(&mut reg, 9, "b").unwrap();
        for (i, t) in ["eins", "zwei", "drei"].iter().enumerate() {
            let m = reg
                .chat(p(1), parse_chat_text(t, 100).unwrap(), 1000 + i as u64)
                .unwrap();
            assert_eq!(
                (m.id, m.from, m.time),
                (i as u64 + 1, p(1), 1000 + i as u64)
            );
            assert_eq!(m.nickname.expose_personal(), "n1");
        }
        reg.chat(p(9), parse_chat_text("other room", 100).unwrap(), 0);
        let late = join(&mut reg, 2, "a").unwrap();
        let texts: Vec<_> = late
            .chat
            .iter()
            .map(|m| m.text.expose_personal().to_string())
            .collect();
        assert_eq!(texts, ["zwei", "drei"]);
        // The sender left; the history keeps its name as it was.
        reg.leave(p(1));
        let later = join(&mut reg, 3, "a").unwrap();
        assert_eq!(later.chat[0].nickname.expose_personal(), "n1");
        reg.leave(p(2));
        reg.leave(p(3));
        assert!(join(&mut reg, 4, "a").unwrap().chat.is_empty());
        assert!(
            reg.chat(p(77), parse_chat_text("x", 9).unwrap(), 0)
                .is_none()
        );
    }

    // ---- moderation -----------------------------------------------------

    #[test]
    fn first_participant_moderates_a_room_without_secret() {
        let mut reg = registry(10, 10, 10);
        assert!(join(&mut reg, 1, "r").unwrap().you.moderator);
        assert!(!join(&mut reg, 2, "r").unwrap().you.moderator);
        // A secret given after the room exists is no secret of this room.
        let late = reg.join(request(3, "r", Some("s"), None)).unwrap();
        assert!(!late.you.moderator);
        assert_eq!(moderators(&reg, 1), vec![p(1)]);
    }

    #[test]
    fn the_creators_secret_makes_moderators() {
        let mut reg = registry(10, 10, 10);
        let creator = reg.join(request(1, "r", Some("geheim"), None)).unwrap();
        assert!(creator.you.moderator);
        assert!(!join(&mut reg, 2, "r").unwrap().you.moderator);
        let wrong = reg.join(request(3, "r", Some("geheim2"), None)).unwrap();
        assert!(!wrong.you.moderator);
        let right = reg.join(request(4, "r", Some("geheim"), None)).unwrap();
        assert!(right.you.moderator);
        assert_eq!(moderators(&reg, 1), vec![p(1), p(4)]);
        // An empty secret is no secret.
        let mut reg = registry(10, 10, 10);
        reg.join(request(1, "e", Some(""), None)).unwrap();
        assert!(
            !reg.join(request(2, "e", Some(""), None))
                .unwrap()
                .you
                .moderator
        );
    }

    #[test]
    fn non_moderators_cannot_moderate_and_targets_must_be_others_in_the_room() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        join(&mut reg, 3, "other").unwrap();
        for action in [
            Moderation::Mute(p(1)),
            Moderation::Remove(p(1)),
            Moderation::Grant(p(2)),
            Moderation::Lock("pw"),
            Moderation::Unlock,
            Moderation::Mute(p(99)),
        ] {
            assert_eq!(
                reg.moderate(p(2), action).unwrap_err(),
                ModerationError::NotModerator,
                "{action:?}"
            );
        }
        for target in [p(3), p(99), p(1)] {
            for action in [
                Moderation::Mute(target),
                Moderation::Remove(target),
                Moderation::Grant(target),
            ] {
                assert_eq!(
                    reg.moderate(p(1), action).unwrap_err(),
                    ModerationError::BadTarget,
                    "{action:?}"
                );
            }
        }
        assert_eq!(
            reg.moderate(p(42), Moderation::Unlock).unwrap_err(),
            ModerationError::NotJoined
        );
        assert_eq!(reg.participant_count(), 3, "nothing changed");
    }

    #[test]
    fn mute_holds_audio_back_until_the_target_switches_it_on() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        let Moderated::Muted { target, effects } =
            reg.moderate(p(1), Moderation::Mute(p(2))).unwrap()
        else {
            panic!("muted expected");
        };
        assert_eq!(target, p(2));
        assert!(
            !effects.updated[0].media.audio,
            "shown as muted to everyone"
        );
        let held = Forwarding {
            audio_muted: true,
            p2p_direct: false,
        };
        assert_eq!(effects.forwarding, vec![(p(2), held)]);
        // The target's client switches the microphone off: still held back.
        let off = MediaState {
            audio: false,
            video: true,
        };
        let (_, _, effects) = reg.set_media_state(p(2), off).unwrap();
        assert!(effects.forwarding.is_empty());
        assert!(member(&reg, 2).forwarding.audio_muted);
        // Someone else switching on changes nothing for the target.
        reg.set_media_state(p(1), ON).unwrap();
        assert!(member(&reg, 2).forwarding.audio_muted);
        // The target itself switches on: forwarded again.
        let (m, _, effects) = reg.set_media_state(p(2), ON).unwrap();
        assert!(m.media.audio);
        assert_eq!(effects.forwarding, vec![(p(2), Forwarding::default())]);
    }

    #[test]
    fn remove_takes_the_target_out() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        join(&mut reg, 3, "r").unwrap();
        let Moderated::Removed { target, left } =
            reg.moderate(p(1), Moderation::Remove(p(2))).unwrap()
        else {
            panic!("removed expected");
        };
        assert_eq!(target, p(2));
        assert_eq!(left.remaining, vec![p(1), p(3)]);
        assert_eq!(reg.members_of(p(1)), vec![p(1), p(3)]);
        assert!(reg.members_of(p(2)).is_empty());
        // Two left: peer to peer.
        assert_eq!(
            left.effects.modes,
            vec![(p(1), p2p(3, false)), (p(3), p2p(1, true))]
        );
    }

    #[test]
    fn grant_and_transfer_when_the_last_moderator_leaves() {
        let mut reg = registry(10, 10, 10);
        for id in 1..=4 {
            join(&mut reg, id, "r").unwrap();
        }
        let Moderated::Granted { effects } = reg.moderate(p(1), Moderation::Grant(p(3))).unwrap()
        else {
            panic!("granted expected");
        };
        assert_eq!(effects.updated[0].id, p(3));
        assert!(effects.updated[0].moderator);
        // One of two moderators leaves: no transfer.
        let left = reg.leave(p(1)).unwrap();
        assert!(left.effects.updated.is_empty());
        assert_eq!(moderators(&reg, 2), vec![p(3)]);
        // The last one leaves: the one present longest (2) moderates.
        let left = reg.leave(p(3)).unwrap();
        assert_eq!(left.effects.updated.len(), 1);
        assert_eq!(left.effects.updated[0].id, p(2));
        assert!(left.effects.updated[0].moderator);
        assert_eq!(moderators(&reg, 2), vec![p(2)]);
        // The new moderator can moderate.
        assert!(reg.moderate(p(2), Moderation::Mute(p(4))).is_ok());
    }

    #[test]
    fn a_locked_room_needs_the_password_or_the_moderator_secret() {
        let mut reg = registry(10, 10, 10);
        reg.join(request(1, "r", Some("mod-secret"), None)).unwrap();
        let Moderated::LockChanged { locked: true } =
            reg.moderate(p(1), Moderation::Lock("sesam")).unwrap()
        else {
            panic!("locked expected");
        };
        assert_eq!(
            reg.join(request(2, "r", None, None)).unwrap_err(),
            JoinError::Locked
        );
        assert_eq!(
            reg.join(request(2, "r", None, Some(""))).unwrap_err(),
            JoinError::Locked
        );
        assert_eq!(
            reg.join(request(2, "r", None, Some("Sesam"))).unwrap_err(),
            JoinError::WrongPassword
        );
        assert_eq!(
            reg.join(request(2, "r", Some("wrong"), Some("x")))
                .unwrap_err(),
            JoinError::WrongPassword
        );
        assert_eq!(reg.participant_count(), 1, "refused joins change nothing");
        let ok = reg.join(request(2, "r", None, Some("sesam"))).unwrap();
        assert!(ok.locked && !ok.you.moderator);
        let moderator = reg.join(request(3, "r", Some("mod-secret"), None)).unwrap();
        assert!(moderator.you.moderator);
        // Other rooms are not locked.
        assert!(!join(&mut reg, 4, "elsewhere").unwrap().locked);
        let Moderated::LockChanged { locked: false } =
            reg.moderate(p(1), Moderation::Unlock).unwrap()
        else {
            panic!("unlocked expected");
        };
        assert!(!join(&mut reg, 5, "r").unwrap().locked);
    }

    #[test]
    fn a_locked_full_room_says_locked_first() {
        let mut reg = registry(1, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        reg.moderate(p(1), Moderation::Lock("pw")).unwrap();
        assert_eq!(join(&mut reg, 2, "r").unwrap_err(), JoinError::Locked);
        assert_eq!(
            reg.join(request(2, "r", None, Some("pw"))).unwrap_err(),
            JoinError::RoomFull { limit: 1 }
        );
    }

    #[test]
    fn hands_go_up_and_down_for_everyone_to_see() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        let e = reg.set_hand(p(2), true).unwrap();
        assert!(e.updated[0].hand);
        assert!(member(&reg, 2).hand);
        assert!(!reg.set_hand(p(2), false).unwrap().updated[0].hand);
        assert!(reg.set_hand(p(7), true).is_none());
    }

    #[test]
    fn start_muted_after_the_threshold() {
        let mut reg = Registry::new(
            limits(10, 10, 10),
            RoomSettings {
                start_muted_after: 2,
                ..RoomSettings::default()
            },
        );
        assert!(!join(&mut reg, 1, "r").unwrap().start_muted);
        assert!(!join(&mut reg, 2, "r").unwrap().start_muted);
        let third = join(&mut reg, 3, "r").unwrap();
        assert!(third.start_muted);
        assert_eq!(
            third.you.media,
            MediaState {
                audio: false,
                video: false
            },
            "recorded as off, so the others see it so"
        );
        let mut always = Registry::new(
            limits(10, 10, 10),
            RoomSettings {
                start_muted_after: 0,
                ..RoomSettings::default()
            },
        );
        assert!(join(&mut always, 1, "r").unwrap().start_muted);
    }

    // ---- peer to peer ---------------------------------------------------

    #[test]
    fn two_alone_talk_peer_to_peer_and_a_third_moves_them_to_the_sfu() {
        let mut reg = registry(10, 10, 10);
        let a = join(&mut reg, 1, "r").unwrap();
        assert_eq!(a.mode, Mode::Sfu);
        assert!(a.effects.modes.is_empty(), "alone: nothing to switch");
        let b = join(&mut reg, 2, "r").unwrap();
        assert_eq!(b.mode, Mode::P2p);
        assert_eq!(
            b.effects.modes,
            vec![(p(1), p2p(2, false)), (p(2), p2p(1, true))],
            "opposite politeness; the one present longer offers"
        );
        let c = join(&mut reg, 3, "r").unwrap();
        assert_eq!(c.mode, Mode::Sfu);
        assert_eq!(
            c.effects.modes,
            vec![(p(1), ModeNotice::Sfu), (p(2), ModeNotice::Sfu)]
        );
        // Back to two: peer to peer again, with the new pair.
        let left = reg.leave(p(1)).unwrap();
        assert_eq!(
            left.effects.modes,
            vec![(p(2), p2p(3, false)), (p(3), p2p(2, true))]
        );
        // Down to one: the one left is told it is on the SFU.
        let left = reg.leave(p(3)).unwrap();
        assert_eq!(left.effects.modes, vec![(p(2), ModeNotice::Sfu)]);
    }

    #[test]
    fn p2p_off_in_the_config_means_always_sfu() {
        let mut reg = Registry::new(
            limits(10, 10, 10),
            RoomSettings {
                p2p: false,
                ..RoomSettings::default()
            },
        );
        join(&mut reg, 1, "r").unwrap();
        let b = join(&mut reg, 2, "r").unwrap();
        assert_eq!(b.mode, Mode::Sfu);
        assert!(b.effects.modes.is_empty());
        assert_eq!(reg.p2p_peer(p(1), p(2)), Err(P2pError::NotP2p));
        assert_eq!(
            reg.p2p_state(p(1), P2pState::Connected).unwrap_err(),
            P2pError::NotP2p
        );
    }

    #[test]
    fn p2p_signals_go_only_to_the_peer_in_p2p_mode() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        assert_eq!(reg.p2p_peer(p(1), p(2)), Err(P2pError::NotP2p));
        join(&mut reg, 2, "r").unwrap();
        join(&mut reg, 5, "s").unwrap();
        assert_eq!(reg.p2p_peer(p(1), p(2)), Ok(()));
        assert_eq!(reg.p2p_peer(p(2), p(1)), Ok(()));
        assert_eq!(reg.p2p_peer(p(1), p(1)), Err(P2pError::BadTarget));
        assert_eq!(reg.p2p_peer(p(1), p(5)), Err(P2pError::BadTarget));
        assert_eq!(reg.p2p_peer(p(9), p(1)), Err(P2pError::NotJoined));
        join(&mut reg, 3, "r").unwrap();
        assert_eq!(reg.p2p_peer(p(1), p(2)), Err(P2pError::NotP2p));
    }

    #[test]
    fn connected_holds_media_back_until_the_room_is_sfu_again() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        let direct = Forwarding {
            audio_muted: false,
            p2p_direct: true,
        };
        let e = reg.p2p_state(p(1), P2pState::Connected).unwrap();
        assert_eq!(e.forwarding, vec![(p(1), direct)]);
        assert!(
            reg.p2p_state(p(1), P2pState::Connected)
                .unwrap()
                .forwarding
                .is_empty(),
            "reported twice, changed once"
        );
        reg.p2p_state(p(2), P2pState::Connected).unwrap();
        let c = join(&mut reg, 3, "r").unwrap();
        assert_eq!(
            c.effects.forwarding,
            vec![(p(1), Forwarding::default()), (p(2), Forwarding::default())]
        );
        // A report that arrives after the switch is refused.
        assert_eq!(
            reg.p2p_state(p(1), P2pState::Connected).unwrap_err(),
            P2pError::NotP2p
        );
    }

    #[test]
    fn a_failed_pair_stays_on_the_sfu_while_alone() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        reg.p2p_state(p(1), P2pState::Connected).unwrap();
        let e = reg.p2p_state(p(2), P2pState::Failed).unwrap();
        assert_eq!(
            e.modes,
            vec![(p(1), ModeNotice::Sfu), (p(2), ModeNotice::Sfu)]
        );
        assert_eq!(e.forwarding, vec![(p(1), Forwarding::default())]);
        assert_eq!(reg.p2p_peer(p(1), p(2)), Err(P2pError::NotP2p));
        // A hand or a chat changes nothing about it.
        reg.set_hand(p(1), true).unwrap();
        assert_eq!(reg.room_of(p(1)).unwrap().mode(), Mode::Sfu);
        // A third comes and goes: the two may try again.
        let c = join(&mut reg, 3, "r").unwrap();
        assert!(c.effects.modes.is_empty(), "already on the SFU");
        let left = reg.leave(p(3)).unwrap();
        assert_eq!(
            left.effects.modes,
            vec![(p(1), p2p(2, false)), (p(2), p2p(1, true))]
        );
        // One of a failed pair leaves and someone new comes: a new pair.
        reg.p2p_state(p(1), P2pState::Failed).unwrap();
        reg.leave(p(2));
        let d = join(&mut reg, 4, "r").unwrap();
        assert_eq!(d.mode, Mode::P2p);
    }

    #[test]
    fn moderator_mute_and_p2p_are_independent() {
        let mut reg = registry(10, 10, 10);
        join(&mut reg, 1, "r").unwrap();
        join(&mut reg, 2, "r").unwrap();
        reg.moderate(p(1), Moderation::Mute(p(2))).unwrap();
        let e = reg.p2p_state(p(2), P2pState::Connected).unwrap();
        assert_eq!(
            e.forwarding,
            vec![(
                p(2),
                Forwarding {
                    audio_muted: true,
                    p2p_direct: true
                }
            )]
        );
        let c = join(&mut reg, 3, "r").unwrap();
        assert_eq!(
            c.effects.forwarding,
            vec![(
                p(2),
                Forwarding {
                    audio_muted: true,
                    p2p_direct: false
                }
            )]
        );
    }
}
