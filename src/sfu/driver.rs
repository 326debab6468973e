//! Runs the sans-IO core against the media sockets on a thread of its own,
//! so media never waits behind HTTP or signaling work.

use super::core::{Network, SfuCore};
use super::{Command, MediaSockets, SfuConfig, SfuStats};
use arrayvec::ArrayVec;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Commands queued towards the SFU before signaling waits.
const COMMAND_QUEUE: usize = 1024;
/// Datagrams read with one `recvmmsg` before the loop looks at the other
/// sockets and at timers again.
const BATCH: usize = 64;
/// Datagrams sent with one `sendmmsg` at most.
const SEND_BATCH: usize = 32;
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

/// Collects the core's datagrams during one turn of the loop and sends them
/// after it, when the batch's one drain per subscriber is done. The buffers
/// are kept and reused, so sending allocates nothing in steady state.
struct BatchNetwork<'a> {
    sockets: &'a [UdpSocket],
    announced: &'a [SocketAddr],
    /// The payloads, back to back.
    bytes: Vec<u8>,
    /// (socket index, destination, end of its payload in `bytes`).
    queued: Vec<(usize, SocketAddr, usize)>,
}

impl Network for BatchNetwork<'_> {
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
            self.bytes.extend_from_slice(payload);
            self.queued.push((i, destination, self.bytes.len()));
        }
    }
}

impl BatchNetwork<'_> {
    /// Sends everything queued, up to [`SEND_BATCH`] datagrams per
    /// `sendmmsg`. UDP: what does not fit into a full socket buffer is
    /// dropped, as the network would; an error that concerns one
    /// destination (ICMP unreachable from a departed browser) drops that
    /// datagram only.
    fn flush(&mut self) {
        let mut next = 0;
        let mut start = 0;
        while next < self.queued.len() {
            // A run of datagrams from the same socket.
            let socket = self.queued[next].0;
            let run = self.queued[next..]
                .iter()
                .take(SEND_BATCH)
                .take_while(|q| q.0 == socket)
                .count();
            let datagrams = &self.queued[next..next + run];
            let mut addresses = ArrayVec::<SocketAddrAny, SEND_BATCH>::new();
            let mut slices = ArrayVec::<[IoSlice<'_>; 1], SEND_BATCH>::new();
            let mut from = start;
            for &(_, destination, end) in datagrams {
                addresses.push(destination.into());
                slices.push([IoSlice::new(&self.bytes[from..end])]);
                from = end;
            }
            let mut controls: [SendAncillaryBuffer<'_, '_, '_>; SEND_BATCH] =
                std::array::from_fn(|_| SendAncillaryBuffer::default());
            let mut headers: ArrayVec<MMsgHdr<'_>, SEND_BATCH> = addresses
                .iter()
                .zip(&slices)
                .zip(&mut controls)
                .map(|((a, s), c)| MMsgHdr::new_with_addr(a, s, c))
                .collect();
            let udp = &self.sockets[socket];
            let mut sent = 0;
            while sent < run {
                let result = udp.try_io(Interest::WRITABLE, || {
                    sendmmsg(udp, &mut headers[sent..], SendFlags::DONTWAIT)
                        .map_err(io::Error::from)
                });
                match result {
                    Ok(n) if n > 0 => sent += n,
                    // A full socket buffer: the rest of the run is dropped.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The datagram at `sent` failed on its own.
                    _ => sent += 1,
                }
            }
            start = from;
            next += run;
        }
        self.bytes.clear();
        self.queued.clear();
    }
}

/// Receives up to [`BATCH`] datagrams with one `recvmmsg`. `Ok(0)` never
/// happens: an empty socket is `WouldBlock` (and clears the readiness).
fn receive_batch(
    socket: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    buf: &mut [u8],
    received: &mut [(usize, Option<SocketAddr>); BATCH],
) -> io::Result<usize> {
    socket.try_io(Interest::READABLE, || {
        let mut chunks = buf.chunks_exact_mut(DATAGRAM_BUFFER);
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
        let fd = socket.as_fd().as_raw_fd();
        let results = recvmmsg(fd, headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None)
            .map_err(io::Error::from)?;
        let mut n = 0;
        for (slot, msg) in received.iter_mut().zip(results) {
            *slot = (msg.bytes, msg.address.and_then(std_address));
            n += 1;
        }
        Ok(n)
    })
}

fn std_address(a: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
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
    let mut core = SfuCore::new(announced.clone(), config, stats, 0);
    let mut net = BatchNetwork {
        sockets: &udp,
        announced: &announced,
        bytes: Vec::new(),
        queued: Vec::new(),
    };
    // One set of headers per socket: recvmmsg leaves the kernel's address
    // length of the last datagram in them (nix does not reset it), which
    // is right only for the same address family.
    let mut recv_headers: Vec<MultiHeaders<SockaddrStorage>> = udp
        .iter()
        .map(|_| MultiHeaders::preallocate(BATCH, None))
        .collect();
    let mut buf = vec![0u8; DATAGRAM_BUFFER * BATCH];
    let mut received = [(0usize, None); BATCH];
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
                match receive_batch(&udp[index], &mut recv_headers[index], &mut buf, &mut received) {
                    Ok(n) => {
                        // One time for the whole batch: it arrived at once.
                        let now = Instant::now();
                        for (k, &(len, source)) in received[..n].iter().enumerate() {
                            let Some(source) = source else { continue };
                            let data = &buf[k * DATAGRAM_BUFFER..][..len.min(DATAGRAM_BUFFER)];
                            core.handle_datagram(now, announced[index], source, data, &mut net);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // ICMP errors surface here (port unreachable from a
                    // departed browser); they concern one peer only.
                    Err(_) => {}
                }
            }
            _ = sleep => {}
        }
        // Sends what the batch's forwarding queued: one Timeout and one
        // drain per touched subscriber, then the datagrams.
        core.handle_timeout(Instant::now(), &mut net);
        net.flush();
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
