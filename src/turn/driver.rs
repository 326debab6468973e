//! The sockets and tasks around [`Core`]: the UDP listener, the TCP
//! listener and its connections (and any other byte stream, such as TLS
//! on 443, through [`StreamServer::serve`]), one reader task per
//! relay socket, and a one-second tick. All of them share one `Core`
//! behind a mutex; sends never wait (UDP `try_send_to`, bounded queues
//! per stream), so the lock is never held across an await.

use super::core::{ClientKey, Core, Io, PENDING_IDLE, Transport, TurnStats};
use super::credentials::CredentialStore;
use super::framing::{Deframer, Frame};
use super::policy::RelayPolicy;
use super::{Issuer, Settings, turn_urls};
use crate::privacy::PeerAddr;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinHandle};
use turn_server_proto::api::SocketAllocateError;
use turn_server_proto::types::AddressFamily;

/// Frames queued for one stream client before it counts as not reading.
const STREAM_QUEUE: usize = 256;
/// How often the host's interface addresses are read again.
const HOST_ADDRESSES_EVERY: Duration = Duration::from_secs(60);
/// Largest datagram read (ChannelData may carry up to 64 KiB).
const DATAGRAM: usize = 65_536;

struct StreamHandle {
    tx: mpsc::Sender<Vec<u8>>,
    closed: Arc<Notify>,
}

struct RelaySocket {
    socket: Arc<UdpSocket>,
    reader: AbortHandle,
}

struct DriverIo {
    shared: Weak<Shared>,
    listeners: HashMap<SocketAddr, Arc<UdpSocket>>,
    streams: HashMap<ClientKey, StreamHandle>,
    relays: HashMap<SocketAddr, RelaySocket>,
    relay_announced: IpAddr,
    relay_bind: IpAddr,
    relay_ports: (u16, u16),
}

impl Io for DriverIo {
    fn send_to_client(&mut self, key: &ClientKey, data: Vec<u8>) {
        match key.transport {
            Transport::Udp => {
                if let Some(socket) = self.listeners.get(&key.listen) {
                    // A full socket buffer drops, as UDP would.
                    let _ = socket.try_send_to(&data, key.client);
                }
            }
            Transport::Stream => {
                let full = match self.streams.get(key) {
                    Some(s) => s.tx.try_send(data).is_err(),
                    None => false,
                };
                if full {
                    // Not reading: close rather than lose control messages.
                    self.close_stream(key);
                }
            }
        }
    }

    fn send_to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: Vec<u8>) {
        if let Some(r) = self.relays.get(&relay) {
            let _ = r.socket.try_send_to(&data, peer);
        }
    }

    fn bind_relay(&mut self, family: AddressFamily) -> Result<SocketAddr, SocketAllocateError> {
        let family_matches = matches!(
            (family, self.relay_announced),
            (AddressFamily::IPV4, IpAddr::V4(_)) | (AddressFamily::IPV6, IpAddr::V6(_))
        );
        if !family_matches {
            return Err(SocketAllocateError::AddressFamilyNotSupported);
        }
        let Some(shared) = self.shared.upgrade() else {
            return Err(SocketAllocateError::InsufficientCapacity);
        };
        let socket = bind_relay_socket(self.relay_bind, self.relay_ports).map_err(|e| {
            tracing::warn!(error = %e, "cannot bind a TURN relay socket");
            SocketAllocateError::InsufficientCapacity
        })?;
        let port = socket
            .local_addr()
            .map_err(|_| SocketAllocateError::InsufficientCapacity)?
            .port();
        let announced = SocketAddr::new(self.relay_announced, port);
        let socket = Arc::new(socket);
        let reader = tokio::spawn(relay_reader(shared, socket.clone(), announced)).abort_handle();
        self.relays
            .insert(announced, RelaySocket { socket, reader });
        Ok(announced)
    }

    fn close_relay(&mut self, relay: SocketAddr) {
        if let Some(r) = self.relays.remove(&relay) {
            r.reader.abort();
        }
    }

    fn close_stream(&mut self, key: &ClientKey) {
        if let Some(s) = self.streams.remove(key) {
            s.closed.notify_one();
        }
    }
}

struct State {
    core: Core,
    io: DriverIo,
}

struct Shared {
    state: Mutex<State>,
    /// Open stream connections (TCP and TLS), bounded.
    streams: Semaphore,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Core methods leave consistent state between calls; a panic in
        // one does not make the next unsafe.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<R>(&self, f: impl FnOnce(&mut Core, &mut DriverIo) -> R) -> R {
        let mut guard = self.lock();
        let State { core, io } = &mut *guard;
        f(core, io)
    }
}

/// The running TURN server.
pub struct TurnService {
    shared: Arc<Shared>,
    issuer: Issuer,
    /// Where UDP and TCP listen: the first listen address…
    pub udp_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    /// …and all of them (UDP and TCP on each, same port).
    pub listen_addrs: Vec<SocketAddr>,
    pub stats: Arc<TurnStats>,
    tasks: Vec<JoinHandle<()>>,
}

/// Serves TURN over byte streams accepted elsewhere (TLS on 443); cheap to
/// clone.
#[derive(Clone)]
pub struct StreamServer(Arc<Shared>);

impl StreamServer {
    /// Serves TURN over any byte stream (RFC 5766 §11.5 framing) until it
    /// ends: the TCP listener's connections, and TURN over TLS from the
    /// HTTPS listener on 443. `already_read` are bytes the caller read
    /// from the stream to recognise it (see [`super::framing::sniff`]).
    /// `local` is the address the stream was accepted on.
    pub fn serve<S>(
        &self,
        stream: S,
        client: SocketAddr,
        local: SocketAddr,
        already_read: Vec<u8>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        serve_stream(self.0.clone(), stream, client, local, already_read)
    }
}

/// Binds UDP and TCP on every listen address and starts serving.
pub async fn start(settings: Settings) -> io::Result<TurnService> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    let mut port = None;
    let only_v6 = settings.listen.len() > 1;
    for listen in &settings.listen {
        // Port 0 (tests): every further address takes the port the first
        // one got.
        let addr = SocketAddr::new(listen.ip(), port.unwrap_or(listen.port()));
        let (socket, udp_addr, listener) = bind_udp_and_tcp(addr, only_v6)?;
        port = Some(udp_addr.port());
        udp.push((udp_addr, Arc::new(socket)));
        tcp.push(listener);
    }
    let Some(&(udp_addr, _)) = udp.first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no address to listen on",
        ));
    };
    let tcp_addr = tcp[0].local_addr()?;
    let listen_addrs: Vec<SocketAddr> = udp.iter().map(|(a, _)| *a).collect();

    let store = Arc::new(Mutex::new(CredentialStore::with_random_secret(
        settings.credential_lifetime,
        settings.max_credentials,
    )));
    let mut urls = turn_urls(&settings.url_host, udp_addr.port());
    urls.extend(settings.tls_url.clone());
    let issuer = Issuer::new(store.clone(), urls);
    let stats = Arc::new(TurnStats::default());
    let policy = RelayPolicy::new(settings.media.clone(), host_addresses(), settings.p2p);
    let core = Core::new(
        store,
        policy,
        settings.limits,
        stats.clone(),
        Instant::now(),
    );
    let max_streams = settings.limits.max_allocations + super::core::MAX_PENDING_CLIENTS;
    let shared = Arc::new_cyclic(|weak| Shared {
        state: Mutex::new(State {
            core,
            io: DriverIo {
                shared: weak.clone(),
                listeners: udp.iter().cloned().collect(),
                streams: HashMap::new(),
                relays: HashMap::new(),
                relay_announced: settings.relay_announced,
                relay_bind: settings.relay_bind,
                relay_ports: settings.relay_ports,
            },
        }),
        streams: Semaphore::new(max_streams),
    });

    let mut tasks = vec![tokio::spawn(ticker(shared.clone()))];
    for (addr, socket) in udp {
        tasks.push(tokio::spawn(udp_listener(shared.clone(), socket, addr)));
    }
    for listener in tcp {
        tasks.push(tokio::spawn(tcp_listener(shared.clone(), listener)));
    }
    let addrs = listen_addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(udp_and_tcp = %addrs, p2p = settings.p2p, "TURN is serving");
    Ok(TurnService {
        shared,
        issuer,
        udp_addr,
        tcp_addr,
        listen_addrs,
        stats,
        tasks,
    })
}

impl TurnService {
    /// The handle signaling uses to hand out and revoke credentials.
    pub fn issuer(&self) -> Issuer {
        self.issuer.clone()
    }

    /// Current (clients, allocations).
    pub fn counts(&self) -> (usize, usize) {
        self.shared
            .with(|core, _| (core.client_count(), core.allocation_count()))
    }

    /// A handle for the HTTPS listener, which hands it the TLS connections
    /// that speak STUN (TURN over TLS on 443).
    pub fn stream_server(&self) -> StreamServer {
        StreamServer(self.shared.clone())
    }

    /// Stops every task and closes every socket.
    pub fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.shared.with(|_, io| {
            for (_, r) in io.relays.drain() {
                r.reader.abort();
            }
            for (_, s) in io.streams.drain() {
                s.closed.notify_one();
            }
            io.listeners.clear();
        });
    }
}

async fn udp_listener(shared: Arc<Shared>, socket: Arc<UdpSocket>, listen: SocketAddr) {
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP errors surface here on some systems; keep serving.
            Err(e) => {
                tracing::debug!(error = %e, "TURN UDP receive error");
                continue;
            }
        };
        let key = ClientKey {
            transport: Transport::Udp,
            listen,
            client: from,
        };
        shared.with(|core, io| core.on_client(key, &buf[..n], Instant::now(), io));
    }
}

async fn relay_reader(shared: Arc<Shared>, socket: Arc<UdpSocket>, announced: SocketAddr) {
    // Holding `shared` strongly is fine: the task is aborted when the relay
    // closes, and on stop.
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(_) => continue,
        };
        shared.with(|core, io| core.on_peer(announced, from, &buf[..n], Instant::now(), io));
    }
}

async fn tcp_listener(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "TURN TCP accept error");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let local = match stream.local_addr() {
            Ok(a) => a,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_stream(
            shared.clone(),
            stream,
            peer,
            local,
            Vec::new(),
        ));
    }
}

async fn serve_stream<S>(
    shared: Arc<Shared>,
    stream: S,
    client: SocketAddr,
    local: SocketAddr,
    already_read: Vec<u8>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let Ok(_permit) = shared.streams.try_acquire() else {
        tracing::debug!(client = %PeerAddr::new(client), "too many TURN stream connections");
        return;
    };
    let key = ClientKey {
        transport: Transport::Stream,
        listen: local,
        client,
    };
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(STREAM_QUEUE);
    let closed = Arc::new(Notify::new());
    shared.with(|_, io| {
        io.streams.insert(
            key,
            StreamHandle {
                tx,
                closed: closed.clone(),
            },
        )
    });
    let (mut rd, mut wr) = tokio::io::split(stream);

    let writer = async move {
        while let Some(data) = rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };

    let reader_shared = shared.clone();
    let reader = async move {
        let mut deframer = Deframer::new();
        deframer.push(&already_read);
        let mut buf = vec![0u8; 16 * 1024];
        let mut check =
            tokio::time::interval_at(tokio::time::Instant::now() + PENDING_IDLE, PENDING_IDLE);
        loop {
            loop {
                match deframer.next_frame() {
                    Ok(Some(Frame::Stun(bytes) | Frame::Channel(bytes))) => {
                        reader_shared
                            .with(|core, io| core.on_client(key, &bytes, Instant::now(), io));
                    }
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
            tokio::select! {
                read = rd.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => deframer.push(&buf[..n]),
                },
                _ = closed.notified() => return,
                _ = check.tick() => {
                    // A connection that never made it to a client state
                    // machine (no STUN request, or only garbage) is closed.
                    if !reader_shared.with(|core, _| core.has_client(&key)) {
                        return;
                    }
                }
            }
        }
    };

    let writer = tokio::spawn(writer);
    reader.await;
    shared.with(|core, io| {
        // Dropping the sender ends the writer once the queue is flushed.
        io.streams.remove(&key);
        core.stream_closed(key, io);
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

async fn ticker(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut addresses_read = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let fresh = if now.duration_since(addresses_read) >= HOST_ADDRESSES_EVERY {
            addresses_read = now;
            Some(host_addresses())
        } else {
            None
        };
        shared.with(|core, io| {
            if let Some(addresses) = fresh {
                core.policy_mut().set_host_addresses(addresses);
            }
            core.tick(now, io);
        });
    }
}

/// UDP and TCP listening on one port number. With port 0 the kernel picks
/// a free UDP port, and TCP then takes the same number, which another
/// socket may hold for TCP (a connection's ephemeral port, say): then the
/// pair is picked again, a bounded number of times.
fn bind_udp_and_tcp(
    addr: SocketAddr,
    only_v6: bool,
) -> io::Result<(UdpSocket, SocketAddr, TcpListener)> {
    const PICKS_FOR_PORT_0: usize = 16;
    let picks = if addr.port() == 0 {
        PICKS_FOR_PORT_0
    } else {
        1
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let socket = bind_listener(addr, socket2::Type::DGRAM, only_v6)
            .and_then(|s| UdpSocket::from_std(s.into()))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}")))?;
        let udp_addr = socket.local_addr()?;
        match bind_listener(udp_addr, socket2::Type::STREAM, only_v6)
            .and_then(|s| TcpListener::from_std(s.into()))
        {
            Ok(listener) => return Ok((socket, udp_addr, listener)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && attempt < picks => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot bind TCP {udp_addr}: {e}"),
                ));
            }
        }
    }
}

/// A listening socket for `addr`, IPv6-only if asked (and IPv6).
fn bind_listener(
    addr: SocketAddr,
    kind: socket2::Type,
    only_v6: bool,
) -> io::Result<socket2::Socket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), kind, None)?;
    if addr.is_ipv6() && only_v6 {
        socket.set_only_v6(true)?;
    }
    if kind == socket2::Type::STREAM {
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    if kind == socket2::Type::STREAM {
        socket.listen(1024)?;
    }
    Ok(socket)
}

fn bind_relay_socket(ip: IpAddr, (min, max): (u16, u16)) -> io::Result<UdpSocket> {
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free relay port");
    for _ in 0..32 {
        let port = if min == 0 && max == 0 {
            0
        } else {
            rand::random_range(min..=max)
        };
        let addr = SocketAddr::new(ip, port);
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        match socket.bind(&addr.into()) {
            Ok(()) => {
                socket.set_nonblocking(true)?;
                return UdpSocket::from_std(socket.into());
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Every address of this host's interfaces. Errors read as "none": the
/// policy still refuses every non-public address.
pub fn host_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for ifa in addrs {
            let Some(address) = ifa.address else {
                continue;
            };
            if let Some(v4) = address.as_sockaddr_in() {
                out.push(IpAddr::V4(v4.ip()));
            } else if let Some(v6) = address.as_sockaddr_in6() {
                out.push(IpAddr::V6(v6.ip()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
