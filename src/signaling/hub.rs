//! What all signaling connections share: the room registry, each joined
//! participant's outbox, and the per-address connection counts.
//!
//! Every room decision is taken under one lock, and its consequences are
//! put into the outboxes under that same lock, so each participant hears of
//! changes in the order they happened. That includes what the SFU must hold
//! back of a participant's media ([`ToClient::Hold`]): it travels through
//! the participant's own connection, which also sent its `Join` to the
//! SFU, so the SFU sees them in order too.

use super::messages::{
    ChatView, IceServer, P2pPayload, ParticipantView, ServerMessage, SignalingError,
};
use crate::config::{LimitsConfig, RoomsConfig, SignalingConfig};
use crate::ids::ParticipantId;
use crate::privacy::{ChatText, Nickname, RoomName};
use crate::room::{
    Effects, Forwarding, JoinError, JoinRequest, Joined, MediaState, Moderated, Moderation,
    ModerationError, P2pError, P2pState, Registry, RoomLimits, RoomSettings,
};
use crate::sfu::{Hold, SfuCommands};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, mpsc};

/// What the hub hands a connection.
#[derive(Debug)]
pub enum ToClient {
    /// Send this to the client.
    Message(ServerMessage),
    /// Tell the SFU to hold back this much of the client's media.
    Hold(Hold),
    /// End the connection with this error (a moderator removed the client).
    Refuse(SignalingError),
}

/// Where messages for one connection go. If its queue is full the client is
/// not reading; `overflow` tells the connection to close rather than let
/// the room's state on that client drift.
#[derive(Clone)]
pub struct Outbox {
    pub tx: mpsc::Sender<ToClient>,
    pub overflow: Arc<Notify>,
}

impl Outbox {
    fn put(&self, item: ToClient) {
        if self.tx.try_send(item).is_err() {
            self.overflow.notify_one();
        }
    }

    fn deliver(&self, message: ServerMessage) {
        self.put(ToClient::Message(message));
    }
}

struct HubState {
    registry: Registry,
    outboxes: HashMap<ParticipantId, Outbox>,
    connections: HashMap<IpAddr, u32>,
}

impl HubState {
    fn send(&self, to: ParticipantId, message: ServerMessage) {
        if let Some(o) = self.outboxes.get(&to) {
            o.deliver(message);
        }
    }

    fn send_all(&self, to: &[ParticipantId], message: &ServerMessage) {
        for &id in to {
            self.send(id, message.clone());
        }
    }

    /// Turns a room operation's side effects into messages and holds.
    fn apply(&self, effects: Effects) {
        for m in &effects.updated {
            let message = ServerMessage::ParticipantUpdated {
                participant: ParticipantView::from(m),
            };
            self.send_all(&self.registry.members_of(m.id), &message);
        }
        for (to, notice) in effects.modes {
            self.send(to, ServerMessage::mode(notice));
        }
        for (to, forwarding) in effects.forwarding {
            if let Some(o) = self.outboxes.get(&to) {
                o.put(ToClient::Hold(hold(forwarding)));
            }
        }
    }
}

fn hold(f: Forwarding) -> Hold {
    Hold {
        audio: f.audio_muted,
        all: f.p2p_direct,
    }
}

/// A join as the connection parsed it.
pub struct JoinArgs<'a> {
    pub room: RoomName,
    pub nickname: Nickname,
    pub media: MediaState,
    pub moderator_secret: Option<&'a str>,
    pub password: Option<&'a str>,
}

pub struct Hub {
    state: Mutex<HubState>,
    pub limits: LimitsConfig,
    pub signaling: SignalingConfig,
    pub rooms: RoomsConfig,
    pub sfu: SfuCommands,
    pub ice_servers: Vec<IceServer>,
    /// The built-in TURN server's credentials, one per participant.
    turn: Option<crate::turn::Issuer>,
    /// `turn.force_relay`: browsers use only relayed candidates.
    force_relay: bool,
    /// Names in memory, which the logging gate keeps out of events below ERROR.
    watchlist: crate::privacy::PersonalWatchlist,
}

impl Hub {
    pub fn new(
        limits: LimitsConfig,
        signaling: SignalingConfig,
        rooms: RoomsConfig,
        sfu: SfuCommands,
        ice_servers: Vec<IceServer>,
    ) -> Self {
        let room_limits = RoomLimits {
            max_participants_per_room: limits.max_participants_per_room,
            max_rooms: limits.max_rooms,
            max_participants: limits.max_participants,
        };
        let settings = RoomSettings {
            p2p: rooms.p2p,
            start_muted_after: rooms.start_muted_after,
            chat_history: rooms.chat_history as usize,
        };
        Hub {
            state: Mutex::new(HubState {
                registry: Registry::new(room_limits, settings),
                outboxes: HashMap::new(),
                connections: HashMap::new(),
            }),
            limits,
            signaling,
            rooms,
            sfu,
            ice_servers,
            turn: None,
            force_relay: false,
            watchlist: Default::default(),
        }
    }

    /// Reports the nicknames and room names in use to the logging gate.
    pub fn with_watchlist(mut self, watchlist: crate::privacy::PersonalWatchlist) -> Self {
        self.watchlist = watchlist;
        self
    }

    /// A participant's names are in memory from its join…
    pub fn watch_personal(&self, room: &RoomName, nickname: &Nickname) {
        self.watchlist.add(room.expose_personal());
        self.watchlist.add(nickname.expose_personal());
    }

    /// …until its connection ends.
    pub fn unwatch_personal(&self, room: &RoomName, nickname: &Nickname) {
        self.watchlist.remove(room.expose_personal());
        self.watchlist.remove(nickname.expose_personal());
    }

    /// Hands out per-participant credentials of the built-in TURN server;
    /// with `force_relay`, browsers are told to use nothing else.
    pub fn with_turn(mut self, issuer: crate::turn::Issuer, force_relay: bool) -> Self {
        self.turn = Some(issuer);
        self.force_relay = force_relay;
        self
    }

    /// `joined.iceTransportPolicy`.
    pub fn ice_transport_policy(&self) -> &'static str {
        if self.force_relay && self.turn.is_some() {
            "relay"
        } else {
            "all"
        }
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

    /// Enters a room and tells everyone already there. What the joiner
    /// itself must hear besides `joined` (its `mode`) is already in its
    /// outbox, behind which the connection sends `joined` first.
    pub fn join(
        &self,
        args: JoinArgs<'_>,
        outbox: Outbox,
        now: std::time::Instant,
    ) -> Result<(ParticipantId, Joined), JoinError> {
        let mut state = self.lock();
        let (id, mut joined) = loop {
            let id = ParticipantId::random();
            let request = JoinRequest {
                id,
                room: args.room.clone(),
                nickname: args.nickname.clone(),
                media: args.media,
                moderator_secret: args.moderator_secret,
                password: args.password,
                now,
            };
            match state.registry.join(request) {
                Err(JoinError::IdTaken) => continue,
                Err(e) => return Err(e),
                Ok(j) => break (id, j),
            }
        };
        let news = ServerMessage::ParticipantJoined {
            participant: ParticipantView::from(&joined.you),
        };
        for other in &joined.others {
            state.send(other.id, news.clone());
        }
        state.outboxes.insert(id, outbox);
        state.apply(std::mem::take(&mut joined.effects));
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
            state.send_all(&left.remaining, &ServerMessage::ParticipantLeft { id });
            state.apply(left.effects);
        }
    }

    pub fn set_media_state(&self, id: ParticipantId, media: MediaState) {
        let mut state = self.lock();
        if let Some((member, others, effects)) = state.registry.set_media_state(id, media) {
            let message = ServerMessage::ParticipantUpdated {
                participant: ParticipantView::from(&member),
            };
            state.send_all(&others, &message);
            state.apply(effects);
        }
    }

    pub fn set_hand(&self, id: ParticipantId, raised: bool) {
        let mut state = self.lock();
        if let Some(effects) = state.registry.set_hand(id, raised) {
            state.apply(effects);
        }
    }

    /// Records a chat message and sends it to everyone in the room.
    pub fn chat(&self, id: ParticipantId, text: ChatText, unix_ms: u64) {
        let mut state = self.lock();
        if let Some(message) = state.registry.chat(id, text, unix_ms) {
            let message = ServerMessage::Chat(ChatView::from(&message));
            state.send_all(&state.registry.members_of(id), &message);
        }
    }

    pub fn moderate(
        &self,
        id: ParticipantId,
        action: Moderation<'_>,
    ) -> Result<(), SignalingError> {
        let mut state = self.lock();
        let outcome = state.registry.moderate(id, action).map_err(|e| match e {
            ModerationError::NotJoined => SignalingError::NotJoined,
            ModerationError::NotModerator => SignalingError::NotModerator,
            ModerationError::BadTarget => SignalingError::BadTarget,
        })?;
        match outcome {
            Moderated::Muted { target, effects } => {
                state.send(target, ServerMessage::Muted { by: id });
                state.apply(effects);
            }
            Moderated::Removed { target, left } => {
                if let Some(outbox) = state.outboxes.remove(&target) {
                    outbox.put(ToClient::Refuse(SignalingError::Removed));
                }
                if let Some(turn) = &self.turn {
                    turn.revoke(target);
                }
                state.send_all(
                    &left.remaining,
                    &ServerMessage::ParticipantLeft { id: target },
                );
                state.apply(left.effects);
            }
            Moderated::LockChanged { locked } => {
                let message = ServerMessage::RoomLocked { locked, by: id };
                state.send_all(&state.registry.members_of(id), &message);
            }
            Moderated::Granted { effects } => state.apply(effects),
        }
        Ok(())
    }

    pub fn is_moderator(&self, id: ParticipantId) -> bool {
        self.lock().registry.is_moderator(id)
    }

    pub fn p2p_state(&self, id: ParticipantId, report: P2pState) -> Result<(), SignalingError> {
        let mut state = self.lock();
        let effects = state.registry.p2p_state(id, report).map_err(p2p_error)?;
        state.apply(effects);
        Ok(())
    }

    /// Relays a `p2pSignal` to the peer, if `to` is the peer.
    pub fn p2p_signal(
        &self,
        id: ParticipantId,
        to: ParticipantId,
        payload: P2pPayload,
    ) -> Result<(), SignalingError> {
        let state = self.lock();
        state.registry.p2p_peer(id, to).map_err(p2p_error)?;
        state.send(to, ServerMessage::p2p_signal(id, payload));
        Ok(())
    }
}

fn p2p_error(e: P2pError) -> SignalingError {
    match e {
        P2pError::NotJoined => SignalingError::NotJoined,
        P2pError::NotP2p => SignalingError::NotP2p,
        P2pError::BadTarget => SignalingError::BadTarget,
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
