//! One synthetic participant: a signaling connection (funkraum's protocol
//! or Janus' VideoRoom API, behind [`Signaling`]) and its str0m peers, all
//! driven from one task.

use crate::media::{Ctx, MediaPlan, Peer, PeerFactory, readable};
use crate::stats::{RxStats, TxStats, Window};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Bytes tungstenite reads (and first zeroes) per read of the signaling
/// socket.
const WS_READ_CHUNK: usize = 8 * 1024;

/// What a signaling adapter may touch while it handles a message.
pub struct Env<'a> {
    pub now: Instant,
    pub peers: &'a mut Vec<Peer>,
    pub factory: &'a PeerFactory,
    /// Text frames to send, in order.
    pub out: &'a mut Vec<String>,
    /// What this participant publishes; `None`: it only receives.
    pub plan: Option<MediaPlan>,
    pub index: u32,
}

/// A server's signaling protocol, from the participant's side.
pub trait Signaling: Send {
    /// The first messages after the WebSocket opened.
    fn start(&mut self, env: &mut Env) -> Result<(), String>;
    fn on_message(&mut self, text: &str, env: &mut Env) -> Result<(), String>;
    /// Keepalives and retries; called whenever the loop turns.
    fn tick(&mut self, env: &mut Env) -> Result<(), String>;
    fn next_tick(&self) -> Instant;
    fn leave(&mut self, env: &mut Env);
}

pub struct Spec {
    pub index: u32,
    pub room: u32,
    pub plan: Option<MediaPlan>,
    pub url: String,
    /// `Sec-WebSocket-Protocol` to ask for.
    pub subprotocol: Option<&'static str>,
    pub leave_at: Instant,
}

pub struct Outcome {
    pub index: u32,
    pub room: u32,
    pub publishes: bool,
    pub rx: RxStats,
    pub tx: TxStats,
    pub ws_open: Option<Instant>,
    pub error: Option<String>,
}

pub async fn run(
    spec: Spec,
    signaling: Box<dyn Signaling>,
    factory: PeerFactory,
    window: Arc<Window>,
) -> Outcome {
    let mut outcome = Outcome {
        index: spec.index,
        room: spec.room,
        publishes: spec.plan.is_some(),
        rx: RxStats::default(),
        tx: TxStats::default(),
        ws_open: None,
        error: None,
    };
    if let Err(e) = drive(&spec, signaling, &factory, &window, &mut outcome).await {
        outcome.error = Some(e);
    }
    outcome
}

async fn drive(
    spec: &Spec,
    mut signaling: Box<dyn Signaling>,
    factory: &PeerFactory,
    window: &Window,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let mut request = spec
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("url: {e}"))?;
    if let Some(p) = spec.subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().expect("a header value"));
    }
    // tungstenite zeroes `read_buffer_size` bytes at every read attempt,
    // and the loop below polls the socket at each of its turns (every
    // datagram): at the default 128 KiB that memset was 15 % of the
    // generator's CPU. Signaling messages are assembled over reads anyway.
    let config = WebSocketConfig::default().read_buffer_size(WS_READ_CHUNK);
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async_with_config(request, Some(config), false),
    )
    .await
    .map_err(|_| "websocket: connect timed out".to_string())?
    .map_err(|e| format!("websocket: {e}"))?;
    outcome.ws_open = Some(Instant::now());
    let (mut ws_tx, mut ws_rx) = ws.split();
    let mut peers: Vec<Peer> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut buf = vec![0u8; 2048];
    let debug = std::env::var_os("LOAD_DEBUG").is_some();
    macro_rules! env {
        ($now:expr) => {
            Env {
                now: $now,
                peers: &mut peers,
                factory,
                out: &mut out,
                plan: spec.plan,
                index: spec.index,
            }
        };
    }
    macro_rules! ctx {
        () => {
            Ctx {
                window,
                participant: spec.index,
                rx: &mut outcome.rx,
                tx: &mut outcome.tx,
            }
        };
    }
    signaling.start(&mut env!(Instant::now()))?;
    let result = loop {
        for text in out.drain(..) {
            let t0 = Instant::now();
            if let Err(e) = ws_tx.send(Message::Text(text.into())).await {
                return Err(format!("websocket send: {e}"));
            }
            if debug && t0.elapsed() > Duration::from_millis(20) {
                eprintln!(
                    "participant {}: sending signaling took {:?}",
                    spec.index,
                    t0.elapsed()
                );
            }
        }
        let now = Instant::now();
        if now >= spec.leave_at {
            break Ok(());
        }
        if let Some(f) = peers.iter().find_map(|p| p.failed.clone()) {
            break Err(f);
        }
        let mut due = spec.leave_at.min(signaling.next_tick());
        for p in &peers {
            due = due.min(p.next_due());
        }
        tokio::select! {
            message = ws_rx.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let t0 = Instant::now();
                    if let Err(e) = signaling.on_message(&text, &mut env!(t0)) {
                        break Err(e);
                    }
                    if debug && t0.elapsed() > Duration::from_millis(20) {
                        eprintln!("participant {}: {} bytes of signaling took {:?}", spec.index, text.len(), t0.elapsed());
                    }
                }
                Some(Ok(Message::Close(frame))) => break Err(format!("signaling closed: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("websocket: {e}")),
                None => break Err("signaling closed".into()),
            },
            i = readable(&peers) => {
                peers[i].receive(&mut buf, &mut ctx!());
            }
            _ = tokio::time::sleep_until(due.into()) => {}
        }
        let now = Instant::now();
        if let Err(e) = signaling.tick(&mut env!(now)) {
            break Err(e);
        }
        for p in peers.iter_mut() {
            p.tick(now, &mut ctx!());
        }
    };
    signaling.leave(&mut env!(Instant::now()));
    for text in out.drain(..) {
        let _ = ws_tx.send(Message::Text(text.into())).await;
    }
    let _ = ws_tx.close().await;
    result
}
