//! The in-memory room registry: who is in which room. Pure logic, no
//! sockets, no clocks of its own (time comes in as `now`), no media.
//!
//! A room exists while someone is in it. When the last participant leaves,
//! the room and everything about it is dropped.

pub mod names;

use crate::ids::{ParticipantId, RoomId};
use crate::privacy::{Nickname, RoomName};
use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    pub max_participants_per_room: u32,
    pub max_rooms: u32,
    pub max_participants: u32,
}

/// Whether a participant's microphone and camera are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: ParticipantId,
    pub nickname: Nickname,
    pub media: MediaState,
    pub joined_at: Instant,
}

#[derive(Debug)]
struct Room {
    id: RoomId,
    /// In join order.
    members: Vec<Member>,
}

#[derive(Debug)]
pub struct Joined {
    pub room_id: RoomId,
    /// Everyone else already in the room, in join order.
    pub others: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    RoomFull {
        limit: u32,
    },
    ServerFull,
    /// The id is already in use (the caller draws a new one).
    IdTaken,
}

#[derive(Debug)]
pub struct Left {
    pub room_id: RoomId,
    /// Who is still in the room and must be told.
    pub remaining: Vec<ParticipantId>,
    pub room_closed: bool,
}

#[derive(Debug)]
pub struct Registry {
    limits: RoomLimits,
    rooms: HashMap<RoomName, Room>,
    by_participant: HashMap<ParticipantId, RoomName>,
}

impl Registry {
    pub fn new(limits: RoomLimits) -> Self {
        Registry {
            limits,
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

    pub fn join(
        &mut self,
        id: ParticipantId,
        room: RoomName,
        nickname: Nickname,
        media: MediaState,
        now: Instant,
    ) -> Result<Joined, JoinError> {
        if self.by_participant.contains_key(&id) {
            return Err(JoinError::IdTaken);
        }
        if self.by_participant.len() >= self.limits.max_participants as usize {
            return Err(JoinError::ServerFull);
        }
        let member = Member {
            id,
            nickname,
            media,
            joined_at: now,
        };
        let joined = match self.rooms.get_mut(&room) {
            Some(existing) => {
                if existing.members.len() >= self.limits.max_participants_per_room as usize {
                    return Err(JoinError::RoomFull {
                        limit: self.limits.max_participants_per_room,
                    });
                }
                let others = existing.members.clone();
                existing.members.push(member);
                Joined {
                    room_id: existing.id,
                    others,
                }
            }
            None => {
                if self.rooms.len() >= self.limits.max_rooms as usize {
                    return Err(JoinError::ServerFull);
                }
                let room_id = RoomId::random();
                self.rooms.insert(
                    room.clone(),
                    Room {
                        id: room_id,
                        members: vec![member],
                    },
                );
                Joined {
                    room_id,
                    others: Vec::new(),
                }
            }
        };
        self.by_participant.insert(id, room);
        Ok(joined)
    }

    /// Removes a participant. `None` if it was not in any room.
    pub fn leave(&mut self, id: ParticipantId) -> Option<Left> {
        let name = self.by_participant.remove(&id)?;
        let room = self
            .rooms
            .get_mut(&name)
            .expect("every participant's room exists");
        room.members.retain(|m| m.id != id);
        let left = Left {
            room_id: room.id,
            remaining: room.members.iter().map(|m| m.id).collect(),
            room_closed: room.members.is_empty(),
        };
        if left.room_closed {
            self.rooms.remove(&name);
        }
        Some(left)
    }

    /// Records a participant's microphone/camera state. Returns the updated
    /// member and who else must be told; `None` if not in a room.
    pub fn set_media_state(
        &mut self,
        id: ParticipantId,
        media: MediaState,
    ) -> Option<(Member, Vec<ParticipantId>)> {
        let room = self.rooms.get_mut(self.by_participant.get(&id)?)?;
        let member = room.members.iter_mut().find(|m| m.id == id)?;
        member.media = media;
        let updated = member.clone();
        let others = room
            .members
            .iter()
            .map(|m| m.id)
            .filter(|&m| m != id)
            .collect();
        Some((updated, others))
    }

    /// Everyone in the participant's room but the participant.
    pub fn others_in_room(&self, id: ParticipantId) -> Vec<ParticipantId> {
        self.by_participant
            .get(&id)
            .and_then(|name| self.rooms.get(name))
            .map(|room| {
                room.members
                    .iter()
                    .map(|m| m.id)
                    .filter(|&m| m != id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
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

    fn p(n: u64) -> ParticipantId {
        ParticipantId::from_u64(n)
    }

    fn join(reg: &mut Registry, id: u64, room: &str) -> Result<Joined, JoinError> {
        reg.join(
            p(id),
            parse_room_name(room).unwrap(),
            parse_nickname(&format!("n{id}")).unwrap(),
            ON,
            Instant::now(),
        )
    }

    #[test]
    fn joiners_see_who_is_there_in_join_order() {
        let mut reg = Registry::new(limits(10, 10, 100));
        let a = join(&mut reg, 1, "r").unwrap();
        assert!(a.others.is_empty());
        join(&mut reg, 2, "r").unwrap();
        let c = join(&mut reg, 3, "R").unwrap();
        assert_eq!(c.room_id, a.room_id, "names normalise to one room");
        let ids: Vec<_> = c.others.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![p(1), p(2)]);
        assert_eq!(reg.others_in_room(p(2)), vec![p(1), p(3)]);
    }

    #[test]
    fn last_one_out_closes_the_room() {
        let mut reg = Registry::new(limits(10, 10, 100));
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
        let mut reg = Registry::new(limits(2, 1, 3));
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
        let mut reg = Registry::new(limits(5, 5, 1));
        join(&mut reg, 1, "a").unwrap();
        assert_eq!(join(&mut reg, 2, "a").unwrap_err(), JoinError::ServerFull);
    }

    #[test]
    fn an_id_joins_once() {
        let mut reg = Registry::new(limits(5, 5, 5));
        join(&mut reg, 1, "a").unwrap();
        assert_eq!(join(&mut reg, 1, "b").unwrap_err(), JoinError::IdTaken);
    }

    #[test]
    fn media_state_reaches_the_others_only() {
        let mut reg = Registry::new(limits(5, 5, 5));
        join(&mut reg, 1, "a").unwrap();
        join(&mut reg, 2, "a").unwrap();
        join(&mut reg, 3, "b").unwrap();
        let (m, others) = reg
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
        assert!(reg.set_media_state(p(9), ON).is_none());
    }
}
