//! funkraum's signaling (docs/protocol.md) from a participant's side: join,
//! offer the own tracks, answer the server's offers, answer pings. The
//! client is the polite peer: on a collision it drops its own offer,
//! answers the server's and offers again.

use crate::participant::{Env, Signaling};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};

const PING_EVERY: Duration = Duration::from_secs(15);

/// What a participant that publishes nothing offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverOffer {
    /// Only a data channel: a pure subscriber, like a Janus subscriber
    /// handle; the server has no tracks of it to offer to the others.
    DataChannel,
    /// What the browser client does with camera and microphone off: audio
    /// and video m-lines, sendonly, on which nothing is sent. The server
    /// offers them to everyone else, so every join renegotiates with all.
    Browser,
}

pub struct Funkraum {
    room: String,
    receiver_offer: ReceiverOffer,
    pending: Option<(SdpPendingOffer, Option<(Mid, Mid)>)>,
    next_ping: Instant,
}

impl Funkraum {
    pub fn new(room: String, receiver_offer: ReceiverOffer) -> Funkraum {
        Funkraum {
            room,
            receiver_offer,
            pending: None,
            next_ping: Instant::now() + PING_EVERY,
        }
    }

    /// The client's own m-lines, as the browser client creates them: audio
    /// and video, sendonly (for a receiver: see [`ReceiverOffer`]).
    fn offer(&mut self, env: &mut Env) -> Result<(), String> {
        let peer = &mut env.peers[0];
        let mut change = peer.rtc.sdp_api();
        let mids = if env.plan.is_some() || self.receiver_offer == ReceiverOffer::Browser {
            let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            Some((audio, video))
        } else {
            change.add_channel("bench".into());
            None
        };
        let (offer, pending) = change.apply().ok_or("no offer to make")?;
        self.pending = Some((pending, mids));
        env.out
            .push(json!({"type": "offer", "sdp": offer.to_sdp_string()}).to_string());
        Ok(())
    }
}

impl Signaling for Funkraum {
    fn start(&mut self, env: &mut Env) -> Result<(), String> {
        env.peers
            .push(env.factory.peer(env.now).map_err(|e| e.to_string())?);
        env.out.push(
            json!({
                "type": "join", "version": 1, "room": self.room,
                "nickname": format!("bench {}", env.index),
            })
            .to_string(),
        );
        Ok(())
    }

    fn on_message(&mut self, text: &str, env: &mut Env) -> Result<(), String> {
        let m: Value = serde_json::from_str(text).map_err(|e| format!("bad json: {e}"))?;
        match m["type"].as_str().unwrap_or("") {
            "joined" => self.offer(env)?,
            "answer" => {
                let sdp = m["sdp"].as_str().ok_or("answer without sdp")?;
                let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("answer: {e}"))?;
                if let Some((pending, mids)) = self.pending.take() {
                    let peer = &mut env.peers[0];
                    peer.rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| format!("accept answer: {e}"))?;
                    if let (Some(plan), Some((audio, video))) = (env.plan, mids) {
                        peer.start_publishing(plan, Some(audio), Some(video));
                    }
                }
            }
            "offer" => {
                let sdp = m["sdp"].as_str().ok_or("offer without sdp")?;
                let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| format!("offer: {e}"))?;
                // Polite: a pending own offer is rolled back (accept_offer
                // invalidates it) and made again after answering.
                let again = self.pending.take().is_some();
                let answer = env.peers[0]
                    .rtc
                    .sdp_api()
                    .accept_offer(offer)
                    .map_err(|e| format!("accept offer: {e}"))?;
                env.out
                    .push(json!({"type": "answer", "sdp": answer.to_sdp_string()}).to_string());
                if again {
                    self.offer(env)?;
                }
            }
            "ping" => env.out.push(json!({"type": "pong"}).to_string()),
            "error" if m["fatal"].as_bool() == Some(true) || m["code"] == "bad-sdp" => {
                return Err(format!("server error: {}", m["code"]));
            }
            _ => {}
        }
        Ok(())
    }

    fn tick(&mut self, env: &mut Env) -> Result<(), String> {
        if env.now >= self.next_ping {
            self.next_ping = env.now + PING_EVERY;
            env.out.push(json!({"type": "ping"}).to_string());
        }
        Ok(())
    }

    fn next_tick(&self) -> Instant {
        self.next_ping
    }

    fn leave(&mut self, env: &mut Env) {
        env.out.push(json!({"type": "leave"}).to_string());
    }
}
