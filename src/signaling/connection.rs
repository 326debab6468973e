//! One signaling connection: an actor that owns its WebSocket, reads the
//! client's messages, relays SFU events and room news, and keeps the
//! connection alive (or ends it).

use super::hub::{ConnectionSlot, Hub, Outbox};
use super::messages::{
    ClientMessage, PROTOCOL_VERSION, ParticipantView, ServerMessage, SignalingError, TrackView,
    close,
};
use super::rate::{MessageRate, Verdict};
use crate::ids::ParticipantId;
use crate::privacy::{Nickname, PeerAddr, RoomName, Sdp};
use crate::room::names::{parse_nickname, parse_room_name};
use crate::room::{JoinError, MediaState};
use crate::sfu::{Command, SfuEvent};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Messages queued towards one client before it counts as not reading.
const OUTBOX_CAPACITY: usize = 256;
const SFU_EVENTS_CAPACITY: usize = 64;

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
    last_heard: Instant,
    pinged: bool,
}

pub async fn serve(socket: WebSocket, peer: PeerAddr, hub: Arc<Hub>, slot: ConnectionSlot) {
    let now = Instant::now();
    let (out_tx, mut out_rx) = mpsc::channel(OUTBOX_CAPACITY);
    let overflow = Arc::new(Notify::new());
    let (sfu_tx, mut sfu_rx) = mpsc::channel(SFU_EVENTS_CAPACITY);
    let limits = hub.limits.clone();
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
        last_heard: now,
        pinged: false,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let end = loop {
        let next = tokio::select! {
            incoming = conn.socket.recv() => conn.on_frame(incoming).await,
            Some(m) = out_rx.recv() => conn.send(&m).await,
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
            } => {
                self.join(version, &room, &nickname, MediaState { audio, video }, now)
                    .await
            }
            ClientMessage::Ping => self.send(&ServerMessage::Pong).await,
            ClientMessage::Pong => Next::Continue,
            ClientMessage::Leave => Next::End(End::Close(close::NORMAL)),
            ClientMessage::Offer { sdp } => {
                self.forward_to_sfu(|participant| Command::Offer {
                    participant,
                    sdp: Sdp::from_validated(sdp),
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
            ClientMessage::MediaState { audio, video } => match self.participant {
                Some(id) => {
                    self.hub.set_media_state(id, MediaState { audio, video });
                    Next::Continue
                }
                None => self.refuse(SignalingError::NotJoined).await,
            },
        }
    }

    async fn join(
        &mut self,
        version: u32,
        room: &str,
        nickname: &str,
        media: MediaState,
        now: Instant,
    ) -> Next {
        if self.participant.is_some() {
            return self.refuse(SignalingError::AlreadyJoined).await;
        }
        if version != PROTOCOL_VERSION {
            return self
                .refuse(SignalingError::UnsupportedVersion { requested: version })
                .await;
        }
        let room = match parse_room_name(room) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .refuse(SignalingError::InvalidRoom(e.room_message()))
                    .await;
            }
        };
        let nickname = match parse_nickname(nickname) {
            Ok(n) => n,
            Err(e) => {
                return self
                    .refuse(SignalingError::InvalidNickname(e.nickname_message()))
                    .await;
            }
        };
        let joined = self.hub.join(
            room.clone(),
            nickname.clone(),
            media,
            self.outbox.clone(),
            now,
        );
        let (id, joined) = match joined {
            Ok(j) => j,
            Err(JoinError::RoomFull { limit }) => {
                return self.refuse(SignalingError::RoomFull { limit }).await;
            }
            Err(JoinError::ServerFull | JoinError::IdTaken) => {
                return self.refuse(SignalingError::ServerFull).await;
            }
        };
        self.participant = Some(id);
        self.identity = Some((room.clone(), nickname.clone()));
        tracing::info!(participant = ?id, others = joined.others.len(), "joined a room");
        let reply = ServerMessage::Joined {
            version: PROTOCOL_VERSION,
            id,
            room,
            nickname,
            participants: joined.others.iter().map(ParticipantView::from).collect(),
            ice_servers: self.hub.ice_servers_for(id),
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
            if !self.media_failed {
                let _ = self.hub.sfu.send(Command::Leave { participant: id }).await;
            }
            tracing::info!(participant = ?id, "left a room");
        }
        if let End::Close(code) = end {
            let frame = CloseFrame {
                code,
                reason: "".into(),
            };
            let _ = self.socket.send(Message::Close(Some(frame))).await;
        }
    }
}
