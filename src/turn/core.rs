//! The TURN server's logic, without sockets: funkraum's checks wrapped
//! around `turn-server-proto`'s sans-IO state machine.
//!
//! One `turn-server-proto` instance per client transport address (UDP
//! source or TCP/TLS connection). That crate keeps users and nonces for
//! the life of an instance and offers no way to remove a user; giving each
//! client its own instance and dropping it with the client's last
//! allocation is what keeps memory bounded and makes revocation final.
//!
//! In front of the state machine (see [`super::gate`]): credential check,
//! relay policy on CreatePermission / ChannelBind / Send (403 before
//! anything is relayed), TCP relaying refused, quotas. Behind it: every
//! datagram to or from a peer is checked against the policy again and
//! rate-limited per allocation. The I/O is done by the caller through
//! [`Io`]; time enters as `now`.

use super::credentials::CredentialStore;
use super::framing::frame_for_stream;
use super::gate::{self, Kind, Signer};
use super::policy::RelayPolicy;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use turn_server_proto::api::{
    SocketAllocateError, TcpConnectError, TurnServerApi, TurnServerPollRet,
};
use turn_server_proto::server::TurnServer;
use turn_server_proto::stun::agent::Transmit;
use turn_server_proto::types::AddressFamily;
use turn_server_proto::types::TransportType;
use turn_server_proto::types::stun::attribute::{ErrorCode, Userhash};
use turn_server_proto::types::stun::prelude::AttributeStaticType;

/// The realm in every 401 and in the long-term key.
pub const REALM: &str = "funkraum";

/// Clients that have no allocation (yet): each holds a small state
/// machine. Beyond this many, the least recently heard one is dropped.
pub const MAX_PENDING_CLIENTS: usize = 1024;

/// A client without an allocation is forgotten after this much silence.
pub const PENDING_IDLE: Duration = Duration::from_secs(30);

/// Distinct usernames one client may present (a browser uses one).
const MAX_USERS_PER_CLIENT: usize = 2;

/// The protocol the client talks to us over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    /// TCP or TLS: a byte stream, one client per connection.
    Stream,
}

/// One client transport address: our listening address and theirs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub transport: Transport,
    pub listen: SocketAddr,
    pub client: SocketAddr,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client address is personal data.
        write!(
            f,
            "ClientKey({:?}, {}, <address>)",
            self.transport, self.listen
        )
    }
}

/// What the core asks of the sockets.
pub trait Io {
    /// Sends to a client (UDP datagram from `key.listen`, or the stream).
    fn send_to_client(&mut self, key: &ClientKey, data: Vec<u8>);
    /// Sends a datagram from relay socket `relay` to `peer`.
    fn send_to_peer(&mut self, relay: SocketAddr, peer: SocketAddr, data: Vec<u8>);
    /// Binds a new relay socket of that family; its announced address.
    fn bind_relay(&mut self, family: AddressFamily) -> Result<SocketAddr, SocketAllocateError>;
    fn close_relay(&mut self, relay: SocketAddr);
    /// Closes a TCP/TLS connection.
    fn close_stream(&mut self, key: &ClientKey);
}

/// Quotas, from `[turn]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_allocations: usize,
    pub max_allocations_per_credential: usize,
    pub bytes_per_second: u64,
}

/// Counters for /metrics and the tests.
#[derive(Debug, Default)]
pub struct TurnStats {
    pub allocations: AtomicU64,
    pub allocations_refused_quota: AtomicU64,
    /// CreatePermission, ChannelBind and Send refused by the relay policy,
    /// and relayed datagrams dropped by it.
    pub peers_refused: AtomicU64,
    /// Relayed datagrams dropped because an allocation was over its rate.
    pub rate_limited: AtomicU64,
    /// Datagrams relayed to peers (SFU or p2p).
    pub relayed_to_peers: AtomicU64,
    pub clients: AtomicU64,
}

impl TurnStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: f64,
}

impl TokenBucket {
    fn new(rate: u64, now: Instant) -> Self {
        TokenBucket {
            tokens: rate as f64,
            last: now,
            rate: rate as f64,
        }
    }

    /// Takes `n` bytes; false if over the rate (burst: one second's worth).
    fn take(&mut self, n: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

struct Relay {
    addr: SocketAddr,
    to_peers: TokenBucket,
    from_peers: TokenBucket,
}

struct Client {
    server: TurnServer,
    /// The credential the client's allocation was made with.
    username: Option<String>,
    /// Usernames added to `server`.
    users: Vec<String>,
    relays: Vec<Relay>,
    last_heard: Instant,
    wake: Instant,
}

/// All TURN clients of this process.
pub struct Core {
    credentials: Arc<Mutex<CredentialStore>>,
    policy: RelayPolicy,
    limits: Limits,
    base: Instant,
    clients: HashMap<ClientKey, Client>,
    relays: HashMap<SocketAddr, ClientKey>,
    stats: Arc<TurnStats>,
}

impl Core {
    pub fn new(
        credentials: Arc<Mutex<CredentialStore>>,
        policy: RelayPolicy,
        limits: Limits,
        stats: Arc<TurnStats>,
        now: Instant,
    ) -> Self {
        Core {
            credentials,
            policy,
            limits,
            base: now,
            clients: HashMap::new(),
            relays: HashMap::new(),
            stats,
        }
    }

    pub fn policy_mut(&mut self) -> &mut RelayPolicy {
        &mut self.policy
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    pub fn has_client(&self, key: &ClientKey) -> bool {
        self.clients.contains_key(key)
    }

    pub fn allocation_count(&self) -> usize {
        self.relays.len()
    }

    fn proto_now(&self, now: Instant) -> turn_server_proto::types::Instant {
        let nanos = now.saturating_duration_since(self.base).as_nanos();
        turn_server_proto::types::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn verify(&self, username: &str, now: Instant) -> Option<String> {
        let store = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        store.verify(username, now).ok()
    }

    /// A STUN message or ChannelData (one frame) from a client.
    pub fn on_client(&mut self, key: ClientKey, bytes: &[u8], now: Instant, io: &mut dyn Io) {
        let Some(inspected) = gate::inspect(bytes) else {
            // ChannelData: only for a client we know; the state machine
            // relays it to the bound peer, checked again in `route`.
            if let Some(client) = self.clients.get_mut(&key) {
                client.last_heard = now;
                self.feed(key, bytes, now, io);
            }
            return;
        };
        if inspected.message.has_attribute(Userhash::TYPE) {
            // Anonymous usernames (RFC 8489) would get past the
            // per-credential checks; funkraum never needs them.
            return;
        }

        // The credential, verified by us (the state machine verifies again,
        // with its nonce).
        let mut signer_parts = None;
        if let Some(username) = &inspected.username {
            match self.verify(username, now) {
                Some(password) => {
                    if let Some(algorithm) =
                        gate::verify_integrity(&inspected.message, username, &password, REALM)
                    {
                        signer_parts = Some((username.clone(), password, algorithm));
                    }
                }
                None => {
                    // Expired, revoked or forged. If this client's state
                    // machine knows the name, forget the client: a fresh
                    // one does not, and answers 401.
                    if self
                        .clients
                        .get(&key)
                        .is_some_and(|c| c.users.contains(username))
                    {
                        self.teardown(key, io, false);
                    }
                }
            }
        }
        let signer = signer_parts.as_ref().map(|(u, p, a)| Signer {
            username: u,
            password: p,
            realm: REALM,
            algorithm: *a,
        });

        // The relay policy: before the state machine, whether or not the
        // request is authenticated.
        let refused_peer = || {
            gate::has_undecodable_peer(&inspected)
                || inspected
                    .peers
                    .iter()
                    .any(|p| self.policy.check(*p).is_err())
        };
        match inspected.kind {
            Kind::SendIndication => {
                if refused_peer() {
                    TurnStats::add(&self.stats.peers_refused);
                    return;
                }
            }
            Kind::CreatePermission | Kind::ChannelBind => {
                if refused_peer() {
                    TurnStats::add(&self.stats.peers_refused);
                    self.refuse(&key, &inspected, ErrorCode::FORBIDDEN, signer.as_ref(), io);
                    return;
                }
            }
            Kind::TcpRelay => {
                self.refuse(&key, &inspected, ErrorCode::FORBIDDEN, signer.as_ref(), io);
                return;
            }
            Kind::Allocate => {
                if let Some(signer) = &signer {
                    if inspected.requested_transport.is_some_and(|t| {
                        t != turn_server_proto::types::attribute::RequestedTransport::UDP
                    }) {
                        self.refuse(
                            &key,
                            &inspected,
                            ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL,
                            Some(signer),
                            io,
                        );
                        return;
                    }
                    let has_allocation =
                        self.clients.get(&key).is_some_and(|c| !c.relays.is_empty());
                    if !has_allocation {
                        let code = if self.allocations_of(signer.username)
                            >= self.limits.max_allocations_per_credential
                        {
                            Some(ErrorCode::ALLOCATION_QUOTA_REACHED)
                        } else if self.relays.len() >= self.limits.max_allocations {
                            Some(ErrorCode::INSUFFICIENT_CAPACITY)
                        } else {
                            None
                        };
                        if let Some(code) = code {
                            TurnStats::add(&self.stats.allocations_refused_quota);
                            self.refuse(&key, &inspected, code, Some(signer), io);
                            return;
                        }
                    }
                }
            }
            Kind::OtherRequest | Kind::Other => {}
        }

        let is_request = matches!(
            inspected.kind,
            Kind::Allocate | Kind::CreatePermission | Kind::ChannelBind | Kind::OtherRequest
        );
        if !self.clients.contains_key(&key) {
            if !is_request {
                return;
            }
            self.make_room_for_pending(now, io);
            let server = TurnServer::new(
                match key.transport {
                    Transport::Udp => TransportType::Udp,
                    Transport::Stream => TransportType::Tcp,
                },
                key.listen,
                REALM.to_string(),
            );
            self.clients.insert(
                key,
                Client {
                    server,
                    username: None,
                    users: Vec::new(),
                    relays: Vec::new(),
                    last_heard: now,
                    wake: now,
                },
            );
            self.stats
                .clients
                .store(self.clients.len() as u64, Ordering::Relaxed);
        }
        let client = self.clients.get_mut(&key).expect("inserted above");
        client.last_heard = now;
        if let Some((username, password, _)) = signer_parts {
            if !client.users.contains(&username) {
                if client.users.len() >= MAX_USERS_PER_CLIENT {
                    return;
                }
                client.server.add_user(username.clone(), password);
                client.users.push(username.clone());
            }
            if inspected.kind == Kind::Allocate && client.relays.is_empty() {
                client.username = Some(username);
            }
        }
        drop(inspected);
        self.feed(key, bytes, now, io);
    }

    /// A datagram from a peer arrived at relay socket `relay`.
    pub fn on_peer(
        &mut self,
        relay: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
        io: &mut dyn Io,
    ) {
        let Some(&key) = self.relays.get(&relay) else {
            return;
        };
        if self.policy.check(from).is_err() {
            TurnStats::add(&self.stats.peers_refused);
            return;
        }
        let sans_now = self.proto_now(now);
        let Some(client) = self.clients.get_mut(&key) else {
            return;
        };
        if let Some(r) = client.relays.iter_mut().find(|r| r.addr == relay)
            && !r.from_peers.take(bytes.len(), now)
        {
            TurnStats::add(&self.stats.rate_limited);
            return;
        }
        let transmit = Transmit::new(bytes, TransportType::Udp, from, relay);
        if let Some(out) = client.server.recv(transmit, sans_now) {
            let out = out.build();
            self.route(key, out, now, io);
        }
        self.drive(key, now, io);
    }

    /// The TCP/TLS connection of `key` ended.
    pub fn stream_closed(&mut self, key: ClientKey, io: &mut dyn Io) {
        self.teardown(key, io, false);
    }

    /// Timers: expiries in the state machines, revoked and expired
    /// credentials, idle clients. Call about once a second.
    pub fn tick(&mut self, now: Instant, io: &mut dyn Io) {
        let dead_users: Vec<ClientKey> = {
            let mut store = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
            store.sweep(now);
            self.clients
                .iter()
                .filter(|(_, c)| c.users.iter().any(|u| store.verify(u, now).is_err()))
                .map(|(k, _)| *k)
                .collect()
        };
        for key in dead_users {
            // The participant left (or the credential expired): its
            // allocations end now, not at their lifetime.
            self.teardown(key, io, true);
        }
        let due: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, c)| c.wake <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            self.drive(key, now, io);
        }
        let idle: Vec<ClientKey> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.relays.is_empty() && now.saturating_duration_since(c.last_heard) >= PENDING_IDLE
            })
            .map(|(k, _)| *k)
            .collect();
        for key in idle {
            self.teardown(key, io, true);
        }
    }

    fn allocations_of(&self, username: &str) -> usize {
        self.clients
            .values()
            .filter(|c| !c.relays.is_empty() && c.username.as_deref() == Some(username))
            .map(|c| c.relays.len())
            .sum()
    }

    fn make_room_for_pending(&mut self, now: Instant, io: &mut dyn Io) {
        let pending = self
            .clients
            .values()
            .filter(|c| c.relays.is_empty())
            .count();
        if pending < MAX_PENDING_CLIENTS {
            return;
        }
        let oldest = self
            .clients
            .iter()
            .filter(|(_, c)| c.relays.is_empty())
            .min_by_key(|(_, c)| c.last_heard)
            .map(|(k, _)| *k);
        if let Some(key) = oldest {
            let _ = now;
            self.teardown(key, io, true);
        }
    }

    fn refuse(
        &mut self,
        key: &ClientKey,
        inspected: &gate::Inspected<'_>,
        code: u16,
        signer: Option<&Signer<'_>>,
        io: &mut dyn Io,
    ) {
        if inspected.message.class()
            != turn_server_proto::types::stun::message::MessageClass::Request
        {
            return;
        }
        let answer = match signer {
            Some(s) => gate::signed_error(&inspected.message, code, s),
            None => gate::unsigned_error(&inspected.message, code),
        };
        if let Some(answer) = answer {
            self.send_client(key, answer, io);
        }
    }

    fn send_client(&self, key: &ClientKey, data: Vec<u8>, io: &mut dyn Io) {
        let data = match key.transport {
            Transport::Udp => data,
            Transport::Stream => frame_for_stream(data),
        };
        io.send_to_client(key, data);
    }

    /// Hands one message or ChannelData to the client's state machine.
    fn feed(&mut self, key: ClientKey, bytes: &[u8], now: Instant, io: &mut dyn Io) {
        let sans_now = self.proto_now(now);
        let Some(client) = self.clients.get_mut(&key) else {
            return;
        };
        let transport = match key.transport {
            Transport::Udp => TransportType::Udp,
            Transport::Stream => TransportType::Tcp,
        };
        let transmit = Transmit::new(bytes, transport, key.client, key.listen);
        if let Some(out) = client.server.recv(transmit, sans_now) {
            let out = out.build();
            self.route(key, out, now, io);
        }
        self.drive(key, now, io);
    }

    /// Runs the client's state machine until it waits: relay sockets to
    /// bind or close, messages to send.
    fn drive(&mut self, key: ClientKey, now: Instant, io: &mut dyn Io) {
        let sans_now = self.proto_now(now);
        loop {
            let Some(client) = self.clients.get_mut(&key) else {
                return;
            };
            match client.server.poll(sans_now) {
                TurnServerPollRet::WaitUntil(at) => {
                    let wait = at.saturating_duration_since(sans_now);
                    client.wake = now + wait.max(Duration::from_millis(10));
                    break;
                }
                TurnServerPollRet::AllocateSocket {
                    transport,
                    listen_addr,
                    client_addr,
                    allocation_transport,
                    family,
                } => {
                    let result = if allocation_transport != TransportType::Udp {
                        Err(SocketAllocateError::AddressFamilyNotSupported)
                    } else if self.relays.len() >= self.limits.max_allocations {
                        Err(SocketAllocateError::InsufficientCapacity)
                    } else {
                        io.bind_relay(family)
                    };
                    if let Ok(addr) = result {
                        client.relays.push(Relay {
                            addr,
                            to_peers: TokenBucket::new(self.limits.bytes_per_second, now),
                            from_peers: TokenBucket::new(self.limits.bytes_per_second, now),
                        });
                        self.relays.insert(addr, key);
                        self.stats
                            .allocations
                            .store(self.relays.len() as u64, Ordering::Relaxed);
                    }
                    client.server.allocated_socket(
                        transport,
                        listen_addr,
                        client_addr,
                        allocation_transport,
                        family,
                        result,
                        sans_now,
                    );
                }
                TurnServerPollRet::SocketClose { listen_addr, .. } => {
                    client.relays.retain(|r| r.addr != listen_addr);
                    if self.relays.remove(&listen_addr).is_some() {
                        io.close_relay(listen_addr);
                    }
                    self.stats
                        .allocations
                        .store(self.relays.len() as u64, Ordering::Relaxed);
                }
                TurnServerPollRet::TcpConnect {
                    relayed_addr,
                    peer_addr,
                    listen_addr,
                    client_addr,
                } => {
                    // Never asked for: Connect is refused in front.
                    client.server.tcp_connected(
                        relayed_addr,
                        peer_addr,
                        listen_addr,
                        client_addr,
                        Err(TcpConnectError::Forbidden),
                        sans_now,
                    );
                }
                TurnServerPollRet::TcpClose { .. } => {}
            }
        }
        while let Some(client) = self.clients.get_mut(&key) {
            let Some(out) = client.server.poll_transmit(sans_now) else {
                break;
            };
            self.route(key, out, now, io);
        }
    }

    /// Sends what the state machine produced: to the client, or from a
    /// relay to a peer — the latter only where the policy allows.
    fn route(&mut self, key: ClientKey, out: Transmit<Vec<u8>>, now: Instant, io: &mut dyn Io) {
        if out.to == key.client {
            self.send_client(&key, out.data, io);
            return;
        }
        let Some(client) = self.clients.get_mut(&key) else {
            return;
        };
        let Some(relay) = client.relays.iter_mut().find(|r| r.addr == out.from) else {
            return;
        };
        if self.policy.check(out.to).is_err() {
            TurnStats::add(&self.stats.peers_refused);
            return;
        }
        if !relay.to_peers.take(out.data.len(), now) {
            TurnStats::add(&self.stats.rate_limited);
            return;
        }
        TurnStats::add(&self.stats.relayed_to_peers);
        io.send_to_peer(out.from, out.to, out.data);
    }

    /// Forgets a client: its relay sockets close, a stream is closed if
    /// `close_stream`.
    fn teardown(&mut self, key: ClientKey, io: &mut dyn Io, close_stream: bool) {
        let Some(client) = self.clients.remove(&key) else {
            return;
        };
        for r in client.relays {
            if self.relays.remove(&r.addr).is_some() {
                io.close_relay(r.addr);
            }
        }
        if close_stream && key.transport == Transport::Stream {
            io.close_stream(&key);
        }
        self.stats
            .allocations
            .store(self.relays.len() as u64, Ordering::Relaxed);
        self.stats
            .clients
            .store(self.clients.len() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turn_server_proto::types::attribute::{Data, XorPeerAddress};
    use turn_server_proto::types::message::{CREATE_PERMISSION, SEND};
    use turn_server_proto::types::stun::message::{
        Message, MessageWrite, MessageWriteExt, MessageWriteVec,
    };

    #[derive(Default)]
    struct FakeIo {
        to_clients: Vec<Vec<u8>>,
        to_peers: Vec<SocketAddr>,
        relays_bound: usize,
    }

    impl Io for FakeIo {
        fn send_to_client(&mut self, _key: &ClientKey, data: Vec<u8>) {
            self.to_clients.push(data);
        }
        fn send_to_peer(&mut self, _relay: SocketAddr, peer: SocketAddr, _data: Vec<u8>) {
            self.to_peers.push(peer);
        }
        fn bind_relay(&mut self, _f: AddressFamily) -> Result<SocketAddr, SocketAllocateError> {
            self.relays_bound += 1;
            Ok(SocketAddr::from((
                [127, 0, 0, 1],
                50000 + self.relays_bound as u16,
            )))
        }
        fn close_relay(&mut self, _relay: SocketAddr) {}
        fn close_stream(&mut self, _key: &ClientKey) {}
    }

    fn core() -> Core {
        let store = Arc::new(Mutex::new(CredentialStore::with_random_secret(
            Duration::from_secs(60),
            4,
        )));
        let policy = RelayPolicy::new(vec!["127.0.0.1:10000".parse().unwrap()], vec![], false);
        let limits = Limits {
            max_allocations: 4,
            max_allocations_per_credential: 2,
            bytes_per_second: 1_000_000,
        };
        Core::new(store, policy, limits, Arc::default(), Instant::now())
    }

    fn key() -> ClientKey {
        ClientKey {
            transport: Transport::Udp,
            listen: "127.0.0.1:3478".parse().unwrap(),
            client: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    #[test]
    fn refused_peers_get_403_and_nothing_is_relayed() {
        let mut core = core();
        let mut io = FakeIo::default();
        let now = Instant::now();
        let mut m = Message::builder_request(CREATE_PERMISSION, MessageWriteVec::new());
        let tid = m.transaction_id();
        m.add_attribute(&XorPeerAddress::new("10.0.0.1:80".parse().unwrap(), tid))
            .unwrap();
        core.on_client(key(), &m.finish(), now, &mut io);
        assert_eq!(io.to_clients.len(), 1);
        let reply = Message::from_bytes(&io.to_clients[0]).unwrap();
        let code = reply
            .attribute::<turn_server_proto::types::stun::attribute::ErrorCode>()
            .unwrap()
            .code();
        assert_eq!(code, 403);
        // Refused in front: no state machine was made for it.
        assert_eq!(core.client_count(), 0);

        let mut m = Message::builder_indication(SEND, MessageWriteVec::new());
        let tid = m.transaction_id();
        m.add_attribute(&XorPeerAddress::new("127.0.0.1:22".parse().unwrap(), tid))
            .unwrap();
        m.add_attribute(&Data::new(b"x")).unwrap();
        core.on_client(key(), &m.finish(), now, &mut io);
        assert!(io.to_peers.is_empty());
        assert_eq!(io.to_clients.len(), 1, "a Send indication gets no answer");
        assert_eq!(TurnStats::get(&core.stats.peers_refused), 2);
    }

    #[test]
    fn garbage_makes_no_client() {
        let mut core = core();
        let mut io = FakeIo::default();
        for bytes in [&b"GET / HTTP/1.1\r\n"[..], &[0x40, 0, 0, 1, 9][..], &[][..]] {
            core.on_client(key(), bytes, Instant::now(), &mut io);
        }
        assert_eq!(core.client_count(), 0);
        assert!(io.to_clients.is_empty() && io.to_peers.is_empty());
    }

    #[test]
    fn pending_clients_are_bounded_and_forgotten() {
        let mut core = core();
        let mut io = FakeIo::default();
        let now = Instant::now();
        let binding = || {
            let m = Message::builder_request(
                turn_server_proto::types::stun::message::BINDING,
                MessageWriteVec::new(),
            );
            m.finish()
        };
        for port in 0..(MAX_PENDING_CLIENTS as u16 + 50) {
            let mut k = key();
            k.client.set_port(20000 + port);
            core.on_client(k, &binding(), now, &mut io);
        }
        assert_eq!(core.client_count(), MAX_PENDING_CLIENTS);
        core.tick(now + PENDING_IDLE, &mut io);
        assert_eq!(core.client_count(), 0);
    }
}
