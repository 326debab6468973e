//! The built-in TURN server: UDP and TCP on 3478 (and TURN over TLS on
//! 443 through [`TurnService::serve_stream`]), short-lived per-participant
//! credentials, and a relay that goes only where a participant needs to go.
//!
//! - [`credentials`]: the TURN REST API scheme, revocable, bounded.
//! - [`policy`]: which peer addresses may be relayed to (pure, densely tested).
//! - [`gate`]: checks in front of the TURN state machine (`turn-server-proto`).
//! - [`core`]: the sans-IO server, one state machine per client.
//! - [`framing`]: TURN over a byte stream.
//! - `driver`: the sockets and tasks around [`core`].
//!
//! Why `turn-server-proto` and what is wrapped around it: docs/turn.md.

pub mod core;
pub mod credentials;
mod driver;
pub mod framing;
pub mod gate;
pub mod policy;

pub use self::core::{Limits, TurnStats};
pub use credentials::Credential;
pub use driver::{StreamServer, TurnService, host_addresses, start};

use crate::ids::ParticipantId;
use credentials::CredentialStore;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Everything the TURN server needs, resolved from the config and from
/// what the other parts of the server bound (see `server.rs`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen, UDP and TCP (port 0: any, for tests).
    pub listen: SocketAddr,
    /// Host name or IP put into the `turn:` URLs.
    pub url_host: String,
    /// The address relay sockets are announced with (XOR-RELAYED-ADDRESS),
    /// and the address they bind to (the wildcard of its family when the
    /// announced address is not local, behind a NAT).
    pub relay_announced: IpAddr,
    pub relay_bind: IpAddr,
    /// Relay socket ports, inclusive.
    pub relay_ports: (u16, u16),
    /// The SFU's media addresses: always allowed as peers.
    pub media: Vec<SocketAddr>,
    /// Peer-to-peer on: public unicast peers allowed too (config key
    /// `rooms.p2p`).
    pub p2p: bool,
    pub credential_lifetime: Duration,
    /// At most this many live credentials (one per participant).
    pub max_credentials: usize,
    pub limits: Limits,
}

/// What signaling needs from TURN: a credential per participant, handed
/// out in `joined.iceServers`, and revocation when the participant leaves.
/// Cheap to clone.
#[derive(Clone)]
pub struct Issuer {
    store: Arc<Mutex<CredentialStore>>,
    urls: Vec<String>,
}

/// One participant's TURN server entry, in the `RTCIceServer` shape.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedIce {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

impl std::fmt::Debug for IssuedIce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedIce")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    fn new(store: Arc<Mutex<CredentialStore>>, urls: Vec<String>) -> Self {
        Issuer { store, urls }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CredentialStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh credential for `participant` (replacing an older one).
    /// `None` if the credential store is full.
    pub fn issue(&self, participant: ParticipantId) -> Option<IssuedIce> {
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let issued = self.lock().issue(participant, Instant::now(), unix_now);
        match issued {
            Some(c) => Some(IssuedIce {
                urls: self.urls.clone(),
                username: c.username,
                credential: c.password,
            }),
            None => {
                tracing::warn!("TURN credential store full; participant gets no TURN server");
                None
            }
        }
    }

    /// The participant left: its credential and its relays stop working
    /// (relays within a second, at the server's next tick).
    pub fn revoke(&self, participant: ParticipantId) {
        self.lock().revoke(participant, Instant::now());
    }

    /// The `turn:` URLs every credential is for.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }
}

/// `turn:` URLs for a host and port, UDP and TCP.
pub fn turn_urls(host: &str, port: u16) -> Vec<String> {
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_string(),
    };
    vec![
        format!("turn:{host}:{port}?transport=udp"),
        format!("turn:{host}:{port}?transport=tcp"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bracket_ipv6() {
        assert_eq!(
            turn_urls("127.0.0.1", 3478),
            vec![
                "turn:127.0.0.1:3478?transport=udp",
                "turn:127.0.0.1:3478?transport=tcp"
            ]
        );
        assert_eq!(
            turn_urls("2001:db8::1", 3478)[0],
            "turn:[2001:db8::1]:3478?transport=udp"
        );
        assert_eq!(
            turn_urls("meet.example", 3478)[1],
            "turn:meet.example:3478?transport=tcp"
        );
    }

    #[test]
    fn issued_ice_debug_redacts() {
        let store = Arc::new(Mutex::new(CredentialStore::with_random_secret(
            Duration::from_secs(60),
            4,
        )));
        let issuer = Issuer::new(store, turn_urls("127.0.0.1", 3478));
        let ice = issuer.issue(ParticipantId::from_u64(1)).unwrap();
        let d = format!("{ice:?}");
        assert!(
            !d.contains(&ice.username) && !d.contains(&ice.credential),
            "{d}"
        );
    }
}
