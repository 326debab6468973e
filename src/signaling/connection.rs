//! One signaling connection: an actor that owns its WebSocket, reads the
//! client's messages, relays SFU events and room news, and keeps the
//! connection alive (or ends it).

use super::hub::{ConnectionSlot, Hub, JoinArgs, Outbox, ToClient};
use super::messages::{
    ChatView, ClientMessage, P2pPayload, P2pStateName, PROTOCOL_VERSION, ParticipantView,
    ServerMessage, SettingsView, SignalingError, SourceName, TrackView, close, video_sizes,
};
use super::rate::{ChatRate, MessageRate, Verdict};
use crate::ids::ParticipantId;
use crate::privacy::{Nickname, PeerAddr, RoomName, Sdp};
use crate::room::chat::parse_chat_text;
use crate::room::names::{parse_nickname, parse_room_name};
use crate::room::{JoinError, MediaState, Moderation, P2pState};
use crate::sfu::{Command, SfuEvent, Source};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, mpsc};

/// Longest room password (docs/protocol.md, `lockRoom`).
const PASSWORD_MAX_CHARS: usize = 64;

/// Messages queued towards one client before it counts as not reading.
const OUTBOX_CAPACITY: usize = 256;
const SFU_EVENTS_CAPACITY: usize = 64;
/// How long a connection the server closes waits for the client's answer
/// to its close frame (RFC 6455 §7.1.1).
const CLOSE_ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// A `join` message's fields, borrowed.
struct Join<'a> {
    version: u32,
    room: &'a str,
    nickname: &'a str,
    media: MediaState,
    moderator_secret: Option<&'a str>,
    password: Option<&'a str>,
}

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed the socket (or it broke).
    ClientGone,
    /// Close with this code.
    Close(u16),
}

/// What handling one message asks the loop to do next.
enum Next {
    Continue,
    End(End),
}

struct Connection {
    hub: Arc<Hub>,
    socket: WebSocket,
    /// Personal: appears in logs only in ERROR events.
    peer: PeerAddr,
    participant: Option<ParticipantId>,
    /// Who this is, once joined: for ERROR events an admin must be able to
    /// act on (abuse, failures). Redacted in every other event.
    identity: Option<(RoomName, Nickname)>,
    /// The SFU dropped this participant on its own.
    media_failed: bool,
    outbox: Outbox,
    sfu_events: mpsc::Sender<SfuEvent>,
    rate: MessageRate,
    chat_rate: ChatRate,
    last_heard: Instant,
    pinged: bool,
}

pub async fn serve(socket: WebSocket, peer: PeerAddr, hub: Arc<Hub>, slot: ConnectionSlot) {
    let now = Instant::now();
    let (out_tx, mut out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let overflow = Arc::new(Notify::new());
    let (sfu_tx, mut sfu_rx) = mpsc::channel(SFU_EVENTS_CAPACITY);
    let limits = hub.limits.clone();
    let chat_per_minute = hub.rooms.chat_per_minute;
    let mut conn = Connection {
        hub,
        socket,
        peer,
        participant: None,
        identity: None,
        media_failed: false,
        outbox: Outbox {
            tx: out_tx,
            overflow: overflow.clone(),
        },
        sfu_events: sfu_tx,
        rate: MessageRate::new(limits.messages_per_second, limits.message_burst, now),
        chat_rate: ChatRate::new(chat_per_minute, now),
        last_heard: now,
        pinged: false,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let end = loop {
        let next = tokio::select! {
            incoming = conn.socket.recv() => conn.on_frame(incoming).await,
            Some(item) = out_rx.recv() => conn.on_hub(item).await,
            Some(e) = sfu_rx.recv() => conn.on_sfu_event(e).await,
            _ = overflow.notified() => Next::End(End::Close(close::TOO_SLOW)),
            _ = tick.tick() => conn.on_tick().await,
        };
        if let Next::End(end) = next {
            break end;
        }
    };
    conn.finish(end).await;
    drop(slot);
}

impl Connection {
    async fn send(&mut self, message: &ServerMessage) -> Next {
        match self
            .socket
            .send(Message::Text(message.to_json().into()))
            .await
        {
            Ok(()) => Next::Continue,
            Err(_) => Next::End(End::ClientGone),
        }
    }

    /// Something the hub wants of this connection.
    async fn on_hub(&mut self, item: ToClient) -> Next {
        match item {
            ToClient::Message(m) => self.send(&m).await,
            ToClient::Refuse(e) => self.refuse(e).await,
            ToClient::Hold(hold) => {
                self.forward_to_sfu(|participant| Command::Hold { participant, hold })
                    .await
            }
        }
    }

    /// Tells the client what went wrong; ends the connection if fatal.
    async fn refuse(&mut self, error: SignalingError) -> Next {
        let (_, _, fatal_close) = error.wire();
        if let Next::End(e) = self.send(&error.to_message()).await {
            return Next::End(e);
        }
        match fatal_close {
            Some(code) => Next::End(End::Close(code)),
            None => Next::Continue,
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Next {
        let now = Instant::now();
        let text = match frame {
            None | Some(Ok(Message::Close(_))) => return Next::End(End::ClientGone),
            Some(Err(e)) => {
                // tungstenite refuses frames over its own (larger) cap before
                // we see them; that is still "too large" to the client.
                let too_large = std::error::Error::source(&e)
                    .map(|s| s.to_string().to_lowercase().contains("too long"))
                    .unwrap_or(false)
                    || e.to_string().to_lowercase().contains("too long");
                if too_large {
                    return self
                        .refuse(SignalingError::TooLarge {
                            limit: self.hub.limits.max_message_bytes,
                        })
                        .await;
                }
                return Next::End(End::ClientGone);
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                self.heard(now);
                return Next::Continue;
            }
            // A binary frame is refused, but only after the size and rate
            // checks every frame goes through.
            Some(Ok(Message::Binary(b))) => Err(b.len()),
            Some(Ok(Message::Text(t))) => Ok(t),
        };
        self.heard(now);
        let len = match &text {
            Ok(t) => t.len(),
            Err(len) => *len,
        };
        if len > self.hub.limits.max_message_bytes as usize {
            return self
                .refuse(SignalingError::TooLarge {
                    limit: self.hub.limits.max_message_bytes,
                })
                .await;
        }
        match self.rate.check(now) {
            Verdict::Accept => {}
            Verdict::Drop { notify: true } => {
                return self.refuse(SignalingError::RateLimited).await;
            }
            Verdict::Drop { notify: false } => return Next::Continue,
            Verdict::Abuse => {
                // An admin may need to block the sender: this is one of the
                // errors whose personal details the log keeps (for 24 h).
                let (room, nickname) = self.identity.clone().unzip();
                tracing::error!(
                    peer = %self.peer,
                    room = ?room,
                    nickname = ?nickname,
                    "signaling flood: more than ten times the message rate; connection closed"
                );
                return Next::End(End::Close(close::RATE_LIMIT_ABUSED));
            }
        }
        let Ok(text) = text else {
            return self
                .refuse(SignalingError::BadMessage(
                    "Binary frames are not part of the protocol; send JSON text.".into(),
                ))
                .await;
        };
        match ClientMessage::parse(text.as_str()) {
            Ok(message) => self.on_message(message, now).await,
            Err(e) => self.refuse(e).await,
        }
    }

    fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.pinged = false;
    }

    async fn on_message(&mut self, message: ClientMessage, now: Instant) -> Next {
        match message {
            ClientMessage::Join {
                version,
                room,
                nickname,
                audio,
                video,
                moderator_secret,
                password,
            } => {
                let join = Join {
                    version,
                    room: &room,
                    nickname: &nickname,
                    media: MediaState { audio, video },
                    moderator_secret: moderator_secret.as_deref().filter(|s| !s.is_empty()),
                    password: password.as_deref(),
                };
                self.join(join, now).await
            }
            ClientMessage::Ping => self.send(&ServerMessage::Pong).await,
            ClientMessage::Pong => Next::Continue,
            ClientMessage::Leave => Next::End(End::Close(close::NORMAL)),
            ClientMessage::Offer { sdp, sources } => {
                let sources = sources
                    .into_iter()
                    .map(|(mid, s)| {
                        let source = match s {
                            SourceName::Camera => Source::Camera,
                            SourceName::Microphone => Source::Microphone,
                            SourceName::Screen => Source::Screen,
                        };
                        (mid, source)
                    })
                    .collect();
                self.forward_to_sfu(|participant| Command::Offer {
                    participant,
                    sdp: Sdp::from_validated(sdp),
                    sources,
                })
                .await
            }
            ClientMessage::Answer { sdp } => {
                self.forward_to_sfu(|participant| Command::Answer {
                    participant,
                    sdp: Sdp::from_validated(sdp),
                })
                .await
            }
            ClientMessage::Candidate { candidate } => {
                self.forward_to_sfu(|participant| Command::Candidate {
                    participant,
                    candidate: Sdp::from_validated(candidate),
                })
                .await
            }
            ClientMessage::MediaState { audio, video } => {
                let outcome = self.joined().map(|id| {
                    self.hub.set_media_state(id, MediaState { audio, video });
                });
                self.reply(outcome).await
            }
            ClientMessage::Hand { raised } => {
                let outcome = self.joined().map(|id| self.hub.set_hand(id, raised));
                self.reply(outcome).await
            }
            ClientMessage::Chat { text } => {
                let outcome = self.chat(&text, now);
                self.reply(outcome).await
            }
            ClientMessage::P2pState { state } => {
                let state = match state {
                    P2pStateName::Connected => P2pState::Connected,
                    P2pStateName::Failed => P2pState::Failed,
                };
                let outcome = self.joined().and_then(|id| self.hub.p2p_state(id, state));
                self.reply(outcome).await
            }
            ClientMessage::P2pSignal {
                to,
                description,
                candidate,
            } => {
                let outcome = self.joined().and_then(|id| {
                    let payload = P2pPayload::check(description, candidate)?;
                    let to = ParticipantId::parse(&to).ok_or(SignalingError::BadTarget)?;
                    self.hub.p2p_signal(id, to, payload)
                });
                self.reply(outcome).await
            }
            ClientMessage::MuteParticipant { id } => {
                let outcome = self.moderate(&id, Moderation::Mute);
                self.reply(outcome).await
            }
            ClientMessage::RemoveParticipant { id } => {
                let outcome = self.moderate(&id, Moderation::Remove);
                self.reply(outcome).await
            }
            ClientMessage::GrantModerator { id } => {
                let outcome = self.moderate(&id, Moderation::Grant);
                self.reply(outcome).await
            }
            ClientMessage::LockRoom { password } => {
                let outcome = self.joined().and_then(|id| {
                    let chars = password.chars().count();
                    if chars == 0 || chars > PASSWORD_MAX_CHARS {
                        return Err(SignalingError::BadMessage(format!(
                            "A room password has 1 to {PASSWORD_MAX_CHARS} characters."
                        )));
                    }
                    self.hub.moderate(id, Moderation::Lock(&password))
                });
                self.reply(outcome).await
            }
            ClientMessage::VideoSizes { sizes } => {
                let max = self.hub.limits.max_participants_per_room as usize;
                match video_sizes(sizes, max) {
                    Ok(sizes) => {
                        self.forward_to_sfu(|participant| Command::VideoSizes {
                            participant,
                            sizes,
                        })
                        .await
                    }
                    Err(e) => self.refuse(e).await,
                }
            }
            ClientMessage::UnlockRoom => {
                let outcome = self
                    .joined()
                    .and_then(|id| self.hub.moderate(id, Moderation::Unlock));
                self.reply(outcome).await
            }
        }
    }

    /// The own participant id, or `not-joined`.
    fn joined(&self) -> Result<ParticipantId, SignalingError> {
        self.participant.ok_or(SignalingError::NotJoined)
    }

    /// Nothing to say on success; the error otherwise.
    async fn reply(&mut self, outcome: Result<(), SignalingError>) -> Next {
        match outcome {
            Ok(()) => Next::Continue,
            Err(e) => self.refuse(e).await,
        }
    }

    fn chat(&mut self, text: &str, now: Instant) -> Result<(), SignalingError> {
        let id = self.joined()?;
        let max = self.hub.rooms.chat_max_chars as usize;
        let text =
            parse_chat_text(text, max).map_err(|e| SignalingError::InvalidChat(e.message()))?;
        if !self.chat_rate.allow(now) {
            return Err(SignalingError::ChatRateLimited {
                per_minute: self.hub.rooms.chat_per_minute,
            });
        }
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.hub.chat(id, text, unix_ms);
        Ok(())
    }

    /// A moderation message naming a participant by its wire id.
    fn moderate(
        &self,
        target: &str,
        action: fn(ParticipantId) -> Moderation<'static>,
    ) -> Result<(), SignalingError> {
        let id = self.joined()?;
        let Some(target) = ParticipantId::parse(target) else {
            // An id that does not even parse names nobody in the room; the
            // moderator check still comes first.
            return Err(if self.hub.is_moderator(id) {
                SignalingError::BadTarget
            } else {
                SignalingError::NotModerator
            });
        };
        self.hub.moderate(id, action(target))
    }

    async fn join(&mut self, join: Join<'_>, now: Instant) -> Next {
        if self.participant.is_some() {
            return self.refuse(SignalingError::AlreadyJoined).await;
        }
        if join.version != PROTOCOL_VERSION {
            return self
                .refuse(SignalingError::UnsupportedVersion {
                    requested: join.version,
                })
                .await;
        }
        let room = match parse_room_name(join.room) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .refuse(SignalingError::InvalidRoom(e.room_message()))
                    .await;
            }
        };
        let nickname = match parse_nickname(join.nickname) {
            Ok(n) => n,
            Err(e) => {
                return self
                    .refuse(SignalingError::InvalidNickname(e.nickname_message()))
                    .await;
            }
        };
        let args = JoinArgs {
            room: room.clone(),
            nickname: nickname.clone(),
            media: join.media,
            moderator_secret: join.moderator_secret,
            password: join.password,
        };
        let (id, joined) = match self.hub.join(args, self.outbox.clone(), now) {
            Ok(j) => j,
            Err(JoinError::RoomFull { limit }) => {
                return self.refuse(SignalingError::RoomFull { limit }).await;
            }
            Err(JoinError::Locked) => return self.refuse(SignalingError::RoomLocked).await,
            Err(JoinError::WrongPassword) => {
                return self.refuse(SignalingError::WrongPassword).await;
            }
            Err(JoinError::ServerFull | JoinError::IdTaken) => {
                return self.refuse(SignalingError::ServerFull).await;
            }
        };
        self.participant = Some(id);
        self.hub.watch_personal(&room, &nickname);
        self.identity = Some((room.clone(), nickname.clone()));
        tracing::info!(participant = ?id, others = joined.others.len(), "joined a room");
        let rooms = &self.hub.rooms;
        let reply = ServerMessage::Joined {
            version: PROTOCOL_VERSION,
            id,
            room,
            nickname: joined.you.nickname.clone(),
            participants: joined.others.iter().map(ParticipantView::from).collect(),
            ice_servers: self.hub.ice_servers_for(id),
            ice_transport_policy: self.hub.ice_transport_policy(),
            moderator: joined.you.moderator,
            locked: joined.locked,
            mode: joined.mode.into(),
            chat: joined.chat.iter().map(ChatView::from).collect(),
            settings: SettingsView {
                start_muted: joined.start_muted,
                video_max_height: rooms.video_max_height,
                video_max_framerate: rooms.video_max_framerate,
                screen_max_framerate: rooms.screen_max_framerate,
                chat_max_chars: rooms.chat_max_chars,
            },
        };
        if let Next::End(e) = self.send(&reply).await {
            return Next::End(e);
        }
        let command = Command::Join {
            participant: id,
            room: joined.room_id,
            events: self.sfu_events.clone(),
        };
        if self.hub.sfu.send(command).await.is_err() {
            return self.refuse(SignalingError::Internal).await;
        }
        Next::Continue
    }

    async fn forward_to_sfu(&mut self, command: impl FnOnce(ParticipantId) -> Command) -> Next {
        let Some(id) = self.participant else {
            return self.refuse(SignalingError::NotJoined).await;
        };
        if self.media_failed {
            return Next::Continue;
        }
        if self.hub.sfu.send(command(id)).await.is_err() {
            return self.refuse(SignalingError::Internal).await;
        }
        Next::Continue
    }

    async fn on_sfu_event(&mut self, event: SfuEvent) -> Next {
        match event {
            SfuEvent::Answer { sdp } => self.send(&ServerMessage::Answer { sdp }).await,
            SfuEvent::Offer { sdp, tracks } => {
                let tracks = tracks.iter().map(TrackView::from).collect();
                self.send(&ServerMessage::Offer { sdp, tracks }).await
            }
            SfuEvent::BadSdp { reason } => self.refuse(SignalingError::BadSdp(reason)).await,
            SfuEvent::BadCandidate => self.refuse(SignalingError::BadCandidate).await,
            SfuEvent::ActiveSpeaker { participant } => {
                self.send(&ServerMessage::ActiveSpeaker { id: participant })
                    .await
            }
            SfuEvent::VideoForwarded { participants } => {
                self.send(&ServerMessage::VideoForwarded { participants })
                    .await
            }
            SfuEvent::Failed { reason } => {
                self.media_failed = true;
                let (room, nickname) = self.identity.clone().unzip();
                tracing::error!(
                    peer = %self.peer,
                    room = ?room,
                    nickname = ?nickname,
                    participant = ?self.participant,
                    "media session failed: {reason}"
                );
                self.refuse(SignalingError::MediaFailed).await
            }
        }
    }

    async fn on_tick(&mut self) -> Next {
        let silent = self.last_heard.elapsed();
        if silent >= self.hub.signaling.timeout() {
            return Next::End(End::Close(close::TIMEOUT));
        }
        if silent >= self.hub.signaling.ping_after() && !self.pinged {
            self.pinged = true;
            return self.send(&ServerMessage::Ping).await;
        }
        Next::Continue
    }

    /// Leaves the room (telling the others and the SFU) and closes.
    async fn finish(mut self, end: End) {
        if let Some(id) = self.participant.take() {
            self.hub.leave(id);
            // Also after a media failure (the SFU dropped it already): the
            // leave is what frees its place on a media thread.
            let _ = self.hub.sfu.send(Command::Leave { participant: id }).await;
            tracing::info!(participant = ?id, "left a room");
        }
        if let End::Close(code) = end {
            let frame = CloseFrame {
                code,
                reason: "".into(),
            };
            if self.socket.send(Message::Close(Some(frame))).await.is_ok() {
                // Closed with frames of the client's still unread, the TCP
                // connection ends in a reset, which can swallow the close
                // frame and its code on the client's side (a flooder's
                // case): what the client still sends is read and dropped
                // until its close answers ours, for a short while.
                let _ = tokio::time::timeout(CLOSE_ANSWER_WITHIN, async {
                    while let Some(Ok(message)) = self.socket.recv().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
            }
        }
        // Last: until here the socket could still log what the client sent.
        if let Some((room, nickname)) = self.identity.take() {
            self.hub.unwatch_personal(&room, &nickname);
        }
    }
}
