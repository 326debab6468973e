//! Runs the sans-IO core against the media sockets, one core per media
//! thread, so media never waits behind HTTP or signaling work and uses
//! every core. Each room lives on one thread (its "shard"); signaling's
//! commands go there ([`SfuCommands`]), and datagrams the kernel delivers
//! to another thread's socket are handed over to it in batches.

use super::core::SfuCore;
use super::egress::BatchNetwork;
use super::shard::{self, Placement, SourceOwners};
use super::{Command, MediaSockets, SfuConfig, SfuStats};
use arrayvec::ArrayVec;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, setsockopt, sockopt,
};
use nix::sys::time::{TimeSpec, TimeValLike};
use nix::time::{ClockId, clock_gettime};
use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Commands queued towards one media thread before signaling waits.
const COMMAND_QUEUE: usize = 1024;
/// Datagrams read with one `recvmmsg` before the loop looks at the other
/// sockets and at timers again.
const BATCH: usize = 64;
/// A batch of received datagrams that takes longer to handle is sent in
/// parts: forwarding one datagram to a room of 25 takes about 60 µs, a
/// whole batch of them several milliseconds, which would all be latency.
const SEND_WITHIN: Duration = Duration::from_micros(500);
/// Larger than any datagram str0m accepts (MTU-sized); a bigger one is cut
/// and then refused by the parser.
const DATAGRAM_BUFFER: usize = 2048;
/// Batches of handed-over datagrams waiting for one media thread, from
/// each other one. Full: further batches are dropped, as a full socket
/// buffer drops datagrams — an overloaded thread should drop early rather
/// than deliver late (docs/performance.md, finding 3).
const HANDOVER_QUEUE: usize = 32;
/// Emptied handover batches a thread keeps for reuse.
const SPARE_BATCHES: usize = 8;

/// The signaling side's handle on the running SFU.
pub struct SfuHandle {
    commands: SfuCommands,
    /// Addresses (with the one media port) announced to browsers.
    pub announced: Vec<SocketAddr>,
    pub stats: Arc<SfuStats>,
    shutdown: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl SfuHandle {
    /// A sender for commands; cheap to clone, one per connection.
    pub fn commands(&self) -> SfuCommands {
        self.commands.clone()
    }

    /// A probe that tells whether every media thread still turns its loop.
    pub fn health_probe(&self) -> HealthProbe {
        HealthProbe {
            shards: self.commands.shards.clone(),
        }
    }

    /// Stops the media threads and waits for them.
    pub fn stop(&mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for SfuHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The SFU is gone (its threads ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SfuGone;

/// Sends signaling's commands to the media thread of the participant's
/// room. Which thread that is, is decided here at `Join` ([`Placement`]):
/// a lock per command, never per packet.
#[derive(Clone)]
pub struct SfuCommands {
    shards: Arc<[mpsc::Sender<Command>]>,
    placement: Arc<Mutex<Placement>>,
}

impl SfuCommands {
    /// Queues `command` for its media thread, waiting while that queue is
    /// full. A command for a participant that is not (or no longer) in the
    /// SFU is dropped: there is nobody to apply it to. A `Ping` goes to the
    /// first thread; [`HealthProbe`] asks all of them.
    pub async fn send(&self, command: Command) -> Result<(), SfuGone> {
        let shard = {
            let mut placement = self
                .placement
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &command {
                Command::Join {
                    participant, room, ..
                } => Some(placement.join(*participant, *room)),
                Command::Leave { participant } => placement.leave(*participant),
                Command::Ping(_) => Some(0),
                other => other.participant().and_then(|p| placement.shard_of(p)),
            }
        };
        let Some(shard) = shard else {
            return Ok(());
        };
        self.shards[shard].send(command).await.map_err(|_| SfuGone)
    }
}

/// Asks the media threads for a sign of life (for the service watchdog).
#[derive(Clone)]
pub struct HealthProbe {
    shards: Arc<[mpsc::Sender<Command>]>,
}

impl HealthProbe {
    /// Ok when every media thread answers a ping within `within`;
    /// otherwise why not (for the first that did not).
    pub async fn check(&self, within: Duration) -> Result<(), String> {
        let asked = self.shards.iter().enumerate().map(|(i, shard)| async move {
            let (reply, answer) = oneshot::channel();
            shard
                .send(Command::Ping(reply))
                .await
                .map_err(|_| format!("media thread {i} has ended"))?;
            answer
                .await
                .map_err(|_| format!("media thread {i} dropped the ping"))
        });
        let all = async {
            for result in futures_util::future::join_all(asked).await {
                result?;
            }
            Ok(())
        };
        match tokio::time::timeout(within, all).await {
            Ok(result) => result,
            Err(_) => Err(format!("a media thread did not answer within {within:?}")),
        }
    }
}

/// Starts one media thread per socket set of `sockets`.
pub fn start(sockets: MediaSockets, config: SfuConfig) -> io::Result<SfuHandle> {
    let n = sockets.threads.len();
    let stats = Arc::new(SfuStats::new(n));
    let announced = sockets.announced.clone();
    let mut commands = Vec::with_capacity(n);
    let mut command_rx = Vec::with_capacity(n);
    let mut handover = Vec::with_capacity(n);
    let mut handover_rx = Vec::with_capacity(n);
    let mut recycle = Vec::with_capacity(n);
    let mut recycle_rx = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        commands.push(tx);
        command_rx.push(rx);
        let (tx, rx) = mpsc::channel(HANDOVER_QUEUE * n.saturating_sub(1).max(1));
        handover.push(tx);
        handover_rx.push(rx);
        let (tx, rx) = std::sync::mpsc::channel();
        recycle.push(tx);
        recycle_rx.push(rx);
    }
    let mut handle = SfuHandle {
        commands: SfuCommands {
            shards: commands.into(),
            placement: Arc::new(Mutex::new(Placement::new(n))),
        },
        announced: announced.clone(),
        stats: stats.clone(),
        shutdown: Vec::with_capacity(n),
        threads: Vec::with_capacity(n),
    };
    let inputs = sockets
        .threads
        .into_iter()
        .zip(command_rx)
        .zip(handover_rx)
        .zip(recycle_rx);
    for (index, (((udp, commands), inbox), recycled)) in inputs.enumerate() {
        let (shutdown, shutdown_rx) = oneshot::channel();
        let shard = Shard {
            index,
            announced: announced.clone(),
            config,
            stats: stats.clone(),
            commands,
            shutdown: shutdown_rx,
            peers: Peers {
                me: index,
                stats: stats.clone(),
                handover: handover.clone(),
                inbox,
                recycle: recycle.clone(),
                recycled,
                outgoing: (0..n).map(|_| None).collect(),
                spare: Vec::new(),
            },
        };
        // Named in full for Rust (panic messages); the kernel keeps 15
        // bytes of a thread's name, so `top -H` shows "funkraum-media-".
        let thread = std::thread::Builder::new()
            .name(format!("funkraum-media-{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                runtime.block_on(shard.run(udp));
            });
        match thread {
            Ok(t) => {
                handle.shutdown.push(shutdown);
                handle.threads.push(t);
            }
            // Dropping the handle stops the threads already running.
            Err(e) => return Err(e),
        }
    }
    Ok(handle)
}

/// One datagram of a batch: its length, its source, and when the kernel
/// received it (`SO_TIMESTAMPNS`, nanoseconds of the real-time clock).
type Received = (usize, Option<SocketAddr>, Option<i64>);

/// Receives up to [`BATCH`] datagrams with one `recvmmsg`. `Ok(0)` never
/// happens: an empty socket is `WouldBlock` (and clears the readiness).
fn receive_batch(
    socket: &UdpSocket,
    headers: &mut MultiHeaders<SockaddrStorage>,
    buf: &mut [u8],
    received: &mut [Received; BATCH],
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
            let stamp = msg.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmTimestampns(t) => Some(t.num_nanoseconds()),
                    _ => None,
                })
            });
            *slot = (msg.bytes, msg.address.and_then(std_address), stamp);
            n += 1;
        }
        Ok(n)
    })
}

/// Headers for [`receive_batch`] with room for the receive timestamp.
/// The kernel writes the control length back and nix does not reset it;
/// with the timestamp in every datagram it stays the same.
fn receive_headers() -> MultiHeaders<SockaddrStorage> {
    MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(TimeSpec)))
}

/// Whether a datagram is RTP (RFC 7983 and 5761: not STUN, DTLS or RTCP).
fn is_rtp(data: &[u8]) -> bool {
    data.len() >= 12 && (128..192).contains(&data[0]) && !(64..96).contains(&(data[1] & 0x7f))
}

/// The real-time clock in nanoseconds, the clock of `SO_TIMESTAMPNS`.
fn realtime_ns() -> i64 {
    clock_gettime(ClockId::CLOCK_REALTIME).map_or(0, |t| t.num_nanoseconds())
}

fn std_address(a: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

/// One media thread: its core, its sockets (one per announced address, in
/// the same order), and its ends of the handover between threads.
struct Shard {
    index: usize,
    announced: Vec<SocketAddr>,
    config: SfuConfig,
    stats: Arc<SfuStats>,
    commands: mpsc::Receiver<Command>,
    shutdown: oneshot::Receiver<()>,
    peers: Peers,
}

/// Datagrams one media thread hands to another: received on the first's
/// socket, for a participant of the second. The batch goes back to the
/// sender to be used again, with the addresses whose ICE checks the
/// owner's core accepted.
struct Batch {
    /// The thread that received them (where the emptied batch returns).
    from: usize,
    /// The thread they are for.
    owner: usize,
    /// The payloads, back to back.
    bytes: Vec<u8>,
    /// (index of the local address, source, end of its payload in `bytes`).
    datagrams: Vec<(usize, SocketAddr, usize)>,
    /// On the way back: (index of the local address, source) the owner's
    /// core accepted an ICE check from.
    accepted: Vec<(usize, SocketAddr)>,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.datagrams.clear();
        self.accepted.clear();
    }
}

/// A media thread's connections to the others: no lock and no shared
/// state per packet, one channel message per batch and destination.
struct Peers {
    me: usize,
    stats: Arc<SfuStats>,
    /// Each thread's inbox (mine included, unused).
    handover: Vec<mpsc::Sender<Batch>>,
    inbox: mpsc::Receiver<Batch>,
    /// Where handled batches return to, per thread that sent them.
    recycle: Vec<std::sync::mpsc::Sender<Batch>>,
    recycled: std::sync::mpsc::Receiver<Batch>,
    /// Batches being filled, per destination thread.
    outgoing: Vec<Option<Batch>>,
    spare: Vec<Batch>,
}

impl Peers {
    /// Takes back the batches the other threads have handled and learns
    /// the addresses they accepted. Called before routing each batch of
    /// received datagrams: an owner returns the batch with an ICE check
    /// before its answer to the check leaves, so the datagrams that follow
    /// the answer find the address learned.
    fn take_back(&mut self, owners: &mut SourceOwners) {
        while let Ok(mut batch) = self.recycled.try_recv() {
            for &(local, source) in &batch.accepted {
                owners.confirm(local, source, batch.owner);
            }
            batch.clear();
            self.keep(batch);
        }
    }

    /// Queues one datagram for `owner`, to be sent with [`Self::dispatch`].
    fn queue(&mut self, owner: usize, local: usize, source: SocketAddr, data: &[u8]) {
        let me = self.me;
        let batch = self.outgoing[owner].get_or_insert_with(|| {
            let mut batch = self.spare.pop().unwrap_or_else(|| Batch {
                from: me,
                owner,
                bytes: Vec::new(),
                datagrams: Vec::new(),
                accepted: Vec::new(),
            });
            batch.owner = owner;
            batch
        });
        batch.bytes.extend_from_slice(data);
        batch.datagrams.push((local, source, batch.bytes.len()));
    }

    /// Sends every filled batch to its thread; one that finds the inbox
    /// full is dropped (UDP: as a full socket buffer would).
    fn dispatch(&mut self) {
        for owner in 0..self.outgoing.len() {
            let Some(batch) = self.outgoing[owner].take() else {
                continue;
            };
            let count = batch.datagrams.len() as u64;
            self.stats.datagrams_handed_over.add(self.me, count);
            match self.handover[owner].try_send(batch) {
                Ok(()) => {}
                Err(
                    mpsc::error::TrySendError::Full(mut batch)
                    | mpsc::error::TrySendError::Closed(mut batch),
                ) => {
                    self.stats.handover_dropped.add(self.me, count);
                    batch.clear();
                    self.keep(batch);
                }
            }
        }
    }

    /// Returns a handled batch to the thread that filled it.
    fn give_back(&mut self, mut batch: Batch) {
        batch.bytes.clear();
        batch.datagrams.clear();
        // Fails only while shutting down.
        let _ = self.recycle[batch.from].send(batch);
    }

    fn keep(&mut self, batch: Batch) {
        if self.spare.len() < SPARE_BATCHES {
            self.spare.push(batch);
        }
    }
}

impl Shard {
    async fn run(mut self, sockets: Vec<std::net::UdpSocket>) {
        let announced = self.announced.clone();
        let udp: Vec<UdpSocket> = sockets
            .into_iter()
            .map(|s| {
                // Kernel receive timestamps, for the forwarding latency.
                let _ = setsockopt(&s, sockopt::ReceiveTimestampns, &true);
                UdpSocket::from_std(s).expect("media socket registers with the runtime")
            })
            .collect();
        let mut core = SfuCore::new(
            announced.clone(),
            self.config,
            self.stats.clone(),
            self.index,
        );
        let mut owners = SourceOwners::new(self.index, self.peers.handover.len());
        let mut net = BatchNetwork::new(&udp, &announced, self.stats.clone(), self.index);
        // One set of headers per socket: recvmmsg leaves the kernel's address
        // length of the last datagram in them (nix does not reset it), which
        // is right only for the same address family.
        let mut recv_headers: Vec<MultiHeaders<SockaddrStorage>> =
            udp.iter().map(|_| receive_headers()).collect();
        let mut buf = vec![0u8; DATAGRAM_BUFFER * BATCH];
        let mut received: [Received; BATCH] = [(0, None, None); BATCH];
        // Receive timestamps of this turn's RTP datagrams.
        let mut stamps = ArrayVec::<i64, BATCH>::new();
        let me = self.index;
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
                _ = &mut self.shutdown => break,
                command = self.commands.recv() => match command {
                    Some(c) => core.handle_command(Instant::now(), c, &mut net),
                    None => break,
                },
                index = readable(&udp) => {
                    match receive_batch(&udp[index], &mut recv_headers[index], &mut buf, &mut received) {
                        Ok(n) => {
                            self.peers.take_back(&mut owners);
                            // One time for the batch: it arrived at once.
                            let mut now = Instant::now();
                            let local = announced[index];
                            let mut unstamped = false;
                            for (k, &(len, source, stamp)) in received[..n].iter().enumerate() {
                                let Some(source) = source else { continue };
                                let data = &buf[k * DATAGRAM_BUFFER..][..len.min(DATAGRAM_BUFFER)];
                                let owner = owners.route(index, source, data);
                                if owner != me {
                                    self.peers.queue(owner, index, source, data);
                                    continue;
                                }
                                match stamp {
                                    Some(t) if is_rtp(data) => stamps.push(t),
                                    Some(_) => {}
                                    None => unstamped = true,
                                }
                                core.handle_datagram(now, local, source, data, &mut net);
                                // Learned here too: the address may have
                                // belonged to another thread's participant.
                                if shard::maybe_stun(data) && core.knows_remote(local, source) {
                                    owners.confirm(index, source, me);
                                }
                                // A batch for a big room takes milliseconds
                                // (each datagram goes to everyone): what is
                                // forwarded so far leaves now.
                                if now.elapsed() > SEND_WITHIN {
                                    send_turn(&mut core, &mut net, &mut stamps, &self.stats, me);
                                    now = Instant::now();
                                }
                            }
                            self.peers.dispatch();
                            if unstamped {
                                // A datagram without a timestamp shrank its
                                // header's control length for good.
                                recv_headers[index] = receive_headers();
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // ICMP errors surface here (port unreachable from a
                        // departed browser); they concern one peer only.
                        Err(_) => {}
                    }
                }
                batch = self.peers.inbox.recv() => {
                    if let Some(batch) = batch {
                        handle_handover(&mut core, &announced, batch, &mut self.peers, &mut net);
                    }
                }
                _ = sleep => {}
            }
            // Handed-over datagrams waiting behind a busy socket: the
            // socket's batch above never starves them, nor they it.
            for _ in 0..HANDOVER_QUEUE {
                let Ok(batch) = self.peers.inbox.try_recv() else {
                    break;
                };
                handle_handover(&mut core, &announced, batch, &mut self.peers, &mut net);
            }
            // Sends what the batch's forwarding queued: one Timeout and one
            // drain per touched subscriber, then the datagrams.
            send_turn(&mut core, &mut net, &mut stamps, &self.stats, me);
        }
    }
}

/// Drains the core (one Timeout and one drain per touched subscriber),
/// sends what it forwarded, and counts the forwarding latency of the RTP
/// datagrams received since the last time (`stamps`, emptied).
fn send_turn(
    core: &mut SfuCore,
    net: &mut BatchNetwork<'_>,
    stamps: &mut ArrayVec<i64, BATCH>,
    stats: &SfuStats,
    me: usize,
) {
    core.handle_timeout(Instant::now(), net);
    if net.flush() > 0 && !stamps.is_empty() {
        let sent = realtime_ns();
        for &t in stamps.iter() {
            let us = u64::try_from(sent - t).unwrap_or(0) / 1_000;
            stats.forwarding_latency.record(me, us);
        }
    }
    stamps.clear();
}

/// Feeds another thread's batch of this thread's datagrams to the core,
/// exactly as if they had arrived on its own socket of the same address
/// (egress leaves from that socket: the same address and port), and gives
/// the batch back with the addresses whose ICE checks the core accepted.
fn handle_handover(
    core: &mut SfuCore,
    announced: &[SocketAddr],
    mut batch: Batch,
    peers: &mut Peers,
    net: &mut BatchNetwork<'_>,
) {
    let now = Instant::now();
    let mut from = 0;
    for &(index, source, end) in &batch.datagrams {
        let data = &batch.bytes[from..end];
        let local = announced[index];
        core.handle_datagram(now, local, source, data, net);
        if shard::maybe_stun(data) && core.knows_remote(local, source) {
            batch.accepted.push((index, source));
        }
        from = end;
    }
    peers.give_back(batch);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads' handover ends, wired as `start` wires them.
    fn pair() -> (Peers, Peers) {
        let stats = Arc::new(SfuStats::new(2));
        let (h0, i0) = mpsc::channel(HANDOVER_QUEUE);
        let (h1, i1) = mpsc::channel(HANDOVER_QUEUE);
        let (r0, rr0) = std::sync::mpsc::channel();
        let (r1, rr1) = std::sync::mpsc::channel();
        let peers = |me, inbox, recycled| Peers {
            me,
            stats: stats.clone(),
            handover: vec![h0.clone(), h1.clone()],
            inbox,
            recycle: vec![r0.clone(), r1.clone()],
            recycled,
            outgoing: vec![None, None],
            spare: Vec::new(),
        };
        (peers(0, i0, rr0), peers(1, i1, rr1))
    }

    #[test]
    fn handed_over_datagrams_arrive_in_order_and_the_batch_comes_back() {
        let (mut receiver, mut owner) = pair();
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:6000".parse().unwrap();
        receiver.queue(1, 0, a, b"first");
        receiver.queue(1, 0, b, b"second one");
        receiver.dispatch();
        assert!(receiver.outgoing.iter().all(Option::is_none));

        let mut batch = owner.inbox.try_recv().expect("one message per batch");
        assert!(owner.inbox.try_recv().is_err());
        assert_eq!((batch.from, batch.owner), (0, 1));
        let mut from = 0;
        let mut got = Vec::new();
        for &(local, source, end) in &batch.datagrams {
            got.push((local, source, batch.bytes[from..end].to_vec()));
            from = end;
        }
        assert_eq!(
            got,
            vec![(0, a, b"first".to_vec()), (0, b, b"second one".to_vec())]
        );
        // The owner's core accepted an ICE check from `a`.
        batch.accepted.push((0, a));
        owner.give_back(batch);

        let mut owners = SourceOwners::new(0, 2);
        receiver.take_back(&mut owners);
        assert_eq!(owners.route(0, a, &[0x80; 20]), 1, "learned from the owner");
        assert_eq!(owners.route(0, b, &[0x80; 20]), 0);
        assert_eq!(receiver.spare.len(), 1, "the buffers are kept");
        let spare = &receiver.spare[0];
        assert!(spare.bytes.is_empty() && spare.datagrams.is_empty() && spare.accepted.is_empty());
        assert_eq!(SfuStats::get(&receiver.stats.datagrams_handed_over), 2);
    }

    #[test]
    fn a_full_inbox_drops_the_batch_and_counts_it() {
        let (mut receiver, _owner) = pair();
        let a: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        for _ in 0..HANDOVER_QUEUE + 2 {
            receiver.queue(1, 0, a, b"x");
            receiver.dispatch();
        }
        assert_eq!(SfuStats::get(&receiver.stats.handover_dropped), 2);
        assert_eq!(receiver.spare.len(), 1);
    }
}
