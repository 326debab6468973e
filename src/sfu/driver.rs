//! Runs the sans-IO core against the media sockets on a thread of its own,
//! so media never waits behind HTTP or signaling work.

use super::core::{Network, SfuCore};
use super::{Command, MediaSockets, SfuConfig, SfuStats};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Commands queued towards the SFU before signaling waits.
const COMMAND_QUEUE: usize = 1024;
/// Datagrams read from one socket before the loop looks at the others and
/// at timers again.
const READ_BATCH: usize = 64;
/// Larger than any datagram str0m accepts (MTU-sized); a bigger one is cut
/// and then refused by the parser.
const DATAGRAM_BUFFER: usize = 2048;

/// The signaling side's handle on the running SFU.
pub struct SfuHandle {
    commands: mpsc::Sender<Command>,
    /// Addresses (with the one media port) announced to browsers.
    pub announced: Vec<SocketAddr>,
    pub stats: Arc<SfuStats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SfuHandle {
    /// A sender for commands; cheap to clone, one per connection.
    pub fn commands(&self) -> mpsc::Sender<Command> {
        self.commands.clone()
    }

    /// A probe that tells whether the media thread still turns its loop.
    pub fn health_probe(&self) -> HealthProbe {
        HealthProbe {
            commands: self.commands.clone(),
        }
    }

    /// Stops the media thread and waits for it.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SfuHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asks the media thread for a sign of life (for the service watchdog).
#[derive(Clone)]
pub struct HealthProbe {
    commands: mpsc::Sender<Command>,
}

impl HealthProbe {
    /// Ok when the media thread answers a ping within `within`; otherwise
    /// why not.
    pub async fn check(&self, within: Duration) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let asked = async {
            self.commands
                .send(Command::Ping(reply))
                .await
                .map_err(|_| "the media thread has ended".to_string())?;
            answer
                .await
                .map_err(|_| "the media thread dropped the ping".to_string())
        };
        match tokio::time::timeout(within, asked).await {
            Ok(result) => result,
            Err(_) => Err(format!("the media thread did not answer within {within:?}")),
        }
    }
}

/// Starts the media thread on already bound sockets.
pub fn start(sockets: MediaSockets, config: SfuConfig) -> io::Result<SfuHandle> {
    let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
    let (shutdown, shutdown_rx) = oneshot::channel();
    let stats = Arc::new(SfuStats::default());
    let announced = sockets.announced.clone();
    let thread_stats = stats.clone();
    let thread = std::thread::Builder::new()
        .name("funkraum-media".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime builds");
            runtime.block_on(run(sockets, config, rx, shutdown_rx, thread_stats));
        })?;
    Ok(SfuHandle {
        commands,
        announced,
        stats,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

struct SocketNetwork<'a> {
    sockets: &'a [UdpSocket],
    announced: &'a [SocketAddr],
}

impl Network for SocketNetwork<'_> {
    fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: &[u8]) {
        let index = self
            .announced
            .iter()
            .position(|a| *a == source)
            .or_else(|| {
                self.announced
                    .iter()
                    .position(|a| a.is_ipv4() == destination.is_ipv4())
            });
        if let Some(i) = index {
            // UDP: a full socket buffer drops the datagram, as the network would.
            let _ = self.sockets[i].try_send_to(payload, destination);
        }
    }
}

async fn run(
    sockets: MediaSockets,
    config: SfuConfig,
    mut commands: mpsc::Receiver<Command>,
    mut shutdown: oneshot::Receiver<()>,
    stats: Arc<SfuStats>,
) {
    let announced = sockets.announced.clone();
    let udp: Vec<UdpSocket> = sockets
        .sockets
        .into_iter()
        .map(|s| UdpSocket::from_std(s).expect("media socket registers with the runtime"))
        .collect();
    let mut core = SfuCore::new(announced.clone(), config, stats);
    let mut net = SocketNetwork {
        sockets: &udp,
        announced: &announced,
    };
    let mut buf = vec![0u8; DATAGRAM_BUFFER];
    loop {
        let deadline = core.next_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            command = commands.recv() => match command {
                Some(c) => core.handle_command(Instant::now(), c, &mut net),
                None => break,
            },
            index = readable(&udp) => {
                for _ in 0..READ_BATCH {
                    match udp[index].try_recv_from(&mut buf) {
                        Ok((n, source)) => {
                            core.handle_datagram(Instant::now(), announced[index], source, &buf[..n], &mut net);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors surface here (port unreachable from a
                        // departed browser); they concern one peer only.
                        Err(_) => {}
                    }
                }
            }
            _ = sleep => {}
        }
        core.handle_timeout(Instant::now(), &mut net);
    }
}

/// Resolves to the index of a socket with a datagram waiting.
async fn readable(sockets: &[UdpSocket]) -> usize {
    poll_fn(|cx| {
        for (i, s) in sockets.iter().enumerate() {
            if s.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(i);
            }
        }
        Poll::Pending
    })
    .await
}
