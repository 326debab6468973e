//! Janus' VideoRoom API (Janus 1.x, multistream) from a participant's side,
//! over the WebSocket transport (subprotocol `janus-protocol`).
//!
//! A publishing participant has two handles, so two peer connections: the
//! publisher (`joinandconfigure` with our offer, Janus answers) and one
//! subscriber for every other publisher's streams (`join` with `streams`,
//! Janus offers, we answer with `start`; later publishers are added with
//! `subscribe`, which brings a new offer). A receive-only participant has
//! only the subscriber and learns the publishers from `listparticipants`.

use crate::participant::{Env, Signaling};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};

/// Janus drops a session after 60 s without a message.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(20);
const RETRY_LIST: Duration = Duration::from_millis(500);
pub const SUBPROTOCOL: &str = "janus-protocol";

pub struct Janus {
    room: u64,
    session: Option<u64>,
    pub_handle: Option<u64>,
    sub_handle: Option<u64>,
    pub_peer: Option<usize>,
    sub_peer: Option<usize>,
    pending: Option<(SdpPendingOffer, Mid, Mid)>,
    my_feed: Option<u64>,
    /// Feeds asked for or subscribed.
    feeds: HashSet<u64>,
    /// Feeds to ask for once the subscriber is free.
    queued: Vec<u64>,
    /// A `join`/`subscribe` is out; its offer has not been answered yet.
    sub_busy: bool,
    sub_joined: bool,
    transaction: u64,
    next_keepalive: Instant,
    /// Receive-only: when to ask for the publishers again.
    list_again: Option<Instant>,
}

impl Janus {
    pub fn new(room: u64) -> Janus {
        Janus {
            room,
            session: None,
            pub_handle: None,
            sub_handle: None,
            pub_peer: None,
            sub_peer: None,
            pending: None,
            my_feed: None,
            feeds: HashSet::new(),
            queued: Vec::new(),
            sub_busy: false,
            sub_joined: false,
            transaction: 0,
            next_keepalive: Instant::now() + KEEPALIVE_EVERY,
            list_again: None,
        }
    }

    fn tx(&mut self, what: &str) -> String {
        self.transaction += 1;
        format!("{what}-{}", self.transaction)
    }

    fn send(&mut self, env: &mut Env, what: &str, mut m: Value) {
        m["transaction"] = self.tx(what).into();
        if let Some(s) = self.session {
            m["session_id"] = s.into();
        }
        env.out.push(m.to_string());
    }

    fn message(
        &mut self,
        env: &mut Env,
        what: &str,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) {
        let mut m = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            m["jsep"] = j;
        }
        self.send(env, what, m);
    }

    fn attach(&mut self, env: &mut Env, what: &str) {
        self.send(
            env,
            what,
            json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
        );
    }

    fn publish(&mut self, env: &mut Env, handle: u64) -> Result<(), String> {
        let peer = env.factory.peer(env.now).map_err(|e| e.to_string())?;
        env.peers.push(peer);
        let index = env.peers.len() - 1;
        self.pub_peer = Some(index);
        let mut change = env.peers[index].rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().ok_or("no offer to make")?;
        self.pending = Some((pending, audio, video));
        let body = json!({
            "request": "joinandconfigure", "room": self.room, "ptype": "publisher",
            "display": format!("bench {}", env.index), "audio": true, "video": true,
        });
        let jsep = json!({"type": "offer", "sdp": offer.to_sdp_string()});
        self.message(env, "publish", handle, body, Some(jsep));
        self.trickle_done(env, handle);
        Ok(())
    }

    /// Our candidates are all in the SDP.
    fn trickle_done(&mut self, env: &mut Env, handle: u64) {
        self.send(
            env,
            "trickle",
            json!({"janus": "trickle", "handle_id": handle, "candidate": {"completed": true}}),
        );
    }

    fn add_feeds(&mut self, env: &mut Env, list: &Value) {
        for p in list.as_array().into_iter().flatten() {
            let Some(id) = p["id"].as_u64() else { continue };
            if Some(id) == self.my_feed || p["publisher"] == false {
                continue;
            }
            if self.feeds.insert(id) {
                self.queued.push(id);
            }
        }
        self.subscribe_queued(env);
    }

    fn subscribe_queued(&mut self, env: &mut Env) {
        let Some(handle) = self.sub_handle else {
            return;
        };
        if self.sub_busy || self.queued.is_empty() {
            return;
        }
        let streams: Vec<Value> = self.queued.drain(..).map(|f| json!({"feed": f})).collect();
        let body = if self.sub_joined {
            json!({"request": "subscribe", "streams": streams})
        } else {
            json!({"request": "join", "ptype": "subscriber", "room": self.room, "streams": streams})
        };
        self.sub_busy = true;
        self.message(env, "subscribe", handle, body, None);
    }

    fn list_publishers(&mut self, env: &mut Env) {
        if let Some(h) = self.sub_handle {
            let body = json!({"request": "listparticipants", "room": self.room});
            self.message(env, "list", h, body, None);
        }
    }

    fn on_event(&mut self, m: &Value, env: &mut Env) -> Result<(), String> {
        let sender = m["sender"].as_u64();
        let data = &m["plugindata"]["data"];
        if let Some(e) = data.get("error") {
            return Err(format!("videoroom error {}: {e}", data["error_code"]));
        }
        let jsep = &m["jsep"];
        if sender.is_some() && sender == self.pub_handle {
            if data["videoroom"] == "joined" {
                self.my_feed = data["id"].as_u64();
                self.attach(env, "attach-sub");
            }
            if jsep["type"] == "answer" {
                let sdp = jsep["sdp"].as_str().ok_or("answer without sdp")?;
                let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("answer: {e}"))?;
                let (pending, audio, video) = self.pending.take().ok_or("unexpected answer")?;
                let peer = &mut env.peers[self.pub_peer.ok_or("no publisher peer")?];
                peer.rtc
                    .sdp_api()
                    .accept_answer(pending, answer)
                    .map_err(|e| format!("accept answer: {e}"))?;
                if let Some(plan) = env.plan {
                    peer.start_publishing(plan, Some(audio), Some(video));
                }
            }
            if data.get("publishers").is_some() {
                self.add_feeds(env, &data["publishers"]);
            }
        } else if sender.is_some() && sender == self.sub_handle && jsep["type"] == "offer" {
            let sdp = jsep["sdp"].as_str().ok_or("offer without sdp")?;
            let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| format!("offer: {e}"))?;
            if self.sub_peer.is_none() {
                env.peers
                    .push(env.factory.peer(env.now).map_err(|e| e.to_string())?);
                self.sub_peer = Some(env.peers.len() - 1);
            }
            let peer = &mut env.peers[self.sub_peer.unwrap()];
            let answer = peer
                .rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| format!("accept offer: {e}"))?;
            let first = !self.sub_joined;
            self.sub_joined = true;
            let handle = self.sub_handle.unwrap();
            let jsep = json!({"type": "answer", "sdp": answer.to_sdp_string()});
            self.message(
                env,
                "start",
                handle,
                json!({"request": "start"}),
                Some(jsep),
            );
            if first {
                self.trickle_done(env, handle);
            }
            self.sub_busy = false;
            self.subscribe_queued(env);
        }
        Ok(())
    }
}

impl Signaling for Janus {
    fn start(&mut self, env: &mut Env) -> Result<(), String> {
        self.send(env, "create", json!({"janus": "create"}));
        Ok(())
    }

    fn on_message(&mut self, text: &str, env: &mut Env) -> Result<(), String> {
        let m: Value = serde_json::from_str(text).map_err(|e| format!("bad json: {e}"))?;
        let transaction = m["transaction"].as_str().unwrap_or("");
        let what = transaction.split('-').next().unwrap_or("");
        match m["janus"].as_str().unwrap_or("") {
            "success" => match what {
                "create" => {
                    self.session = m["data"]["id"].as_u64();
                    if env.plan.is_some() {
                        self.attach(env, "attach-pub");
                    } else {
                        self.attach(env, "attach-sub");
                    }
                }
                "attach" => {
                    let id = m["data"]["id"].as_u64().ok_or("attach without id")?;
                    if env.plan.is_some() && self.pub_handle.is_none() {
                        self.pub_handle = Some(id);
                        self.publish(env, id)?;
                    } else {
                        self.sub_handle = Some(id);
                        if env.plan.is_none() {
                            self.list_publishers(env);
                        } else {
                            self.subscribe_queued(env);
                        }
                    }
                }
                "list" => {
                    let data = &m["plugindata"]["data"];
                    if let Some(e) = data.get("error") {
                        return Err(format!("listparticipants: {e}"));
                    }
                    let before = self.feeds.len();
                    self.add_feeds(env, &data["participants"]);
                    if self.feeds.len() == before {
                        self.list_again = Some(env.now + RETRY_LIST);
                    }
                }
                _ => {}
            },
            "event" => self.on_event(&m, env)?,
            "error" => return Err(format!("janus error: {}", m["error"])),
            "hangup" => return Err(format!("janus hangup: {}", m["reason"])),
            "timeout" => return Err("janus session timeout".into()),
            _ => {} // ack, webrtcup, media, slowlink, trickle
        }
        Ok(())
    }

    fn tick(&mut self, env: &mut Env) -> Result<(), String> {
        if env.now >= self.next_keepalive && self.session.is_some() {
            self.next_keepalive = env.now + KEEPALIVE_EVERY;
            self.send(env, "keepalive", json!({"janus": "keepalive"}));
        }
        if self.list_again.is_some_and(|t| env.now >= t) {
            self.list_again = None;
            self.list_publishers(env);
        }
        Ok(())
    }

    fn next_tick(&self) -> Instant {
        match self.list_again {
            Some(t) => t.min(self.next_keepalive),
            None => self.next_keepalive,
        }
    }

    fn leave(&mut self, env: &mut Env) {
        if self.session.is_some() {
            self.send(env, "destroy", json!({"janus": "destroy"}));
        }
    }
}

/// Creates the benchmark's rooms over a connection of its own (Janus keeps
/// them until it stops). `publishers` is the most any room gets.
pub async fn create_rooms(
    url: &str,
    rooms: &[u64],
    publishers: usize,
    bitrate: u64,
) -> Result<(), String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("janus websocket: {e}"))?;
    let mut ask = async |m: Value| -> Result<Value, String> {
        let t = format!("setup-{}", rand_u64());
        let mut m = m;
        m["transaction"] = t.clone().into();
        ws.send(Message::Text(m.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .map_err(|_| "janus did not answer".to_string())?
                .ok_or("janus closed")?
                .map_err(|e| e.to_string())?;
            if let Message::Text(text) = reply {
                let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                if v["transaction"] == t.as_str() && v["janus"] != "ack" {
                    return Ok(v);
                }
            }
        }
    };
    let session = ask(json!({"janus": "create"})).await?["data"]["id"]
        .as_u64()
        .ok_or("no session")?;
    let handle =
        ask(json!({"janus": "attach", "session_id": session, "plugin": "janus.plugin.videoroom"}))
            .await?["data"]["id"]
            .as_u64()
            .ok_or("no handle")?;
    for &room in rooms {
        let body = json!({
            "request": "create", "room": room, "publishers": publishers,
            "bitrate": bitrate, "audiocodec": "opus", "videocodec": "vp8",
            "fir_freq": 0, "notify_joining": false,
        });
        let r = ask(
            json!({"janus": "message", "session_id": session, "handle_id": handle, "body": body}),
        )
        .await?;
        let data = &r["plugindata"]["data"];
        // 427: the room exists already (from an earlier run against this Janus).
        if data.get("error").is_some() && data["error_code"] != 427 {
            return Err(format!("create room {room}: {}", data["error"]));
        }
    }
    let _ = ask(json!({"janus": "destroy", "session_id": session})).await;
    Ok(())
}

fn rand_u64() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
