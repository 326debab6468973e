//! What all signaling connections share: the room registry, each joined
//! participant's outbox, and the per-address connection counts.

use super::messages::{IceServer, ParticipantView, ServerMessage};
use crate::config::{LimitsConfig, SignalingConfig};
use crate::ids::ParticipantId;
use crate::privacy::{Nickname, RoomName};
use crate::room::{JoinError, Joined, MediaState, Registry, RoomLimits};
use crate::sfu::Command;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{Notify, mpsc};

/// Where messages for one connection go. If its queue is full the client is
/// not reading; `overflow` tells the connection to close rather than let
/// the room's state on that client drift.
#[derive(Clone)]
pub struct Outbox {
    pub tx: mpsc::Sender<ServerMessage>,
    pub overflow: Arc<Notify>,
}

impl Outbox {
    fn deliver(&self, message: ServerMessage) {
        if self.tx.try_send(message).is_err() {
            self.overflow.notify_one();
        }
    }
}

struct HubState {
    registry: Registry,
    outboxes: HashMap<ParticipantId, Outbox>,
    connections: HashMap<IpAddr, u32>,
}

pub struct Hub {
    state: Mutex<HubState>,
    pub limits: LimitsConfig,
    pub signaling: SignalingConfig,
    pub sfu: mpsc::Sender<Command>,
    pub ice_servers: Vec<IceServer>,
    /// The built-in TURN server's credentials, one per participant.
    turn: Option<crate::turn::Issuer>,
}

impl Hub {
    pub fn new(
        limits: LimitsConfig,
        signaling: SignalingConfig,
        sfu: mpsc::Sender<Command>,
        ice_servers: Vec<IceServer>,
    ) -> Self {
        let room_limits = RoomLimits {
            max_participants_per_room: limits.max_participants_per_room,
            max_rooms: limits.max_rooms,
            max_participants: limits.max_participants,
        };
        Hub {
            state: Mutex::new(HubState {
                registry: Registry::new(room_limits),
                outboxes: HashMap::new(),
                connections: HashMap::new(),
            }),
            limits,
            signaling,
            sfu,
            ice_servers,
            turn: None,
        }
    }

    /// Hands out per-participant credentials of the built-in TURN server.
    pub fn with_turn(mut self, issuer: crate::turn::Issuer) -> Self {
        self.turn = Some(issuer);
        self
    }

    /// `joined.iceServers` for a participant: the configured ones, then a
    /// fresh credential of the built-in TURN server (revoked in `leave`).
    pub fn ice_servers_for(&self, id: ParticipantId) -> Vec<IceServer> {
        let mut servers = self.ice_servers.clone();
        if let Some(ice) = self.turn.as_ref().and_then(|t| t.issue(id)) {
            servers.push(IceServer {
                urls: ice.urls,
                username: Some(ice.username),
                credential: Some(ice.credential),
            });
        }
        servers
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves consistent-enough state
        // (each method updates registry and outboxes together).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `ip`; `None` if that address is at its
    /// limit. The slot is given back when dropped.
    pub fn open_connection(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut state = self.lock();
        let count = state.connections.entry(ip).or_insert(0);
        if *count >= self.limits.max_connections_per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            hub: self.clone(),
            ip,
        })
    }

    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.registry.room_count(),
            state.registry.participant_count(),
        )
    }

    /// Enters a room and tells everyone already there.
    pub fn join(
        &self,
        room: RoomName,
        nickname: Nickname,
        media: MediaState,
        outbox: Outbox,
        now: Instant,
    ) -> Result<(ParticipantId, Joined), JoinError> {
        let mut state = self.lock();
        let (id, joined) = loop {
            let id = ParticipantId::random();
            match state
                .registry
                .join(id, room.clone(), nickname.clone(), media, now)
            {
                Err(JoinError::IdTaken) => continue,
                Err(e) => return Err(e),
                Ok(j) => break (id, j),
            }
        };
        let view = ParticipantView {
            id,
            nickname,
            audio: media.audio,
            video: media.video,
        };
        for other in &joined.others {
            if let Some(o) = state.outboxes.get(&other.id) {
                o.deliver(ServerMessage::ParticipantJoined {
                    participant: view.clone(),
                });
            }
        }
        state.outboxes.insert(id, outbox);
        Ok((id, joined))
    }

    /// Leaves the room (idempotent) and tells the others.
    pub fn leave(&self, id: ParticipantId) {
        if let Some(turn) = &self.turn {
            turn.revoke(id);
        }
        let mut state = self.lock();
        state.outboxes.remove(&id);
        if let Some(left) = state.registry.leave(id) {
            for other in left.remaining {
                if let Some(o) = state.outboxes.get(&other) {
                    o.deliver(ServerMessage::ParticipantLeft { id });
                }
            }
        }
    }

    pub fn set_media_state(&self, id: ParticipantId, media: MediaState) {
        let mut state = self.lock();
        if let Some((member, others)) = state.registry.set_media_state(id, media) {
            let view = ParticipantView::from(&member);
            for other in others {
                if let Some(o) = state.outboxes.get(&other) {
                    o.deliver(ServerMessage::ParticipantUpdated {
                        participant: view.clone(),
                    });
                }
            }
        }
    }
}

/// One counted connection from an address.
pub struct ConnectionSlot {
    hub: Arc<Hub>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut state = self.hub.lock();
        if let Some(count) = state.connections.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                state.connections.remove(&self.ip);
            }
        }
    }
}
