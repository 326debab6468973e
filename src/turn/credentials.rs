//! Ephemeral TURN credentials in the TURN REST API scheme
//! (draft-uberti-behave-turn-rest): the username is
//! `<expiry unix time>:<opaque id>`, the password is
//! `base64(HMAC-SHA1(secret, username))`. The secret is random, made at
//! start and never leaves memory; a restart invalidates every credential.
//!
//! One credential per participant. It is refused once it expires and as
//! soon as the participant leaves (revoked): unlike a plain REST secret
//! shared with coturn, we also keep the live set, so revocation is exact.
//! The live set is bounded: at most `capacity` entries, expired ones are
//! swept. Pure logic; wall-clock time enters only as an argument.

use crate::ids::ParticipantId;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

/// A credential as handed to one participant. `Debug` redacts the
/// password and the username (the username is linkable to a participant).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// Why a username is not (or no longer) accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Not of the form `<expiry>:<id>`, or the id was never issued here
    /// (forged, or from before a restart).
    Unknown,
    /// Past its expiry.
    Expired,
    /// The participant left.
    Revoked,
}

struct Entry {
    participant: ParticipantId,
    username: String,
    expires_at: Instant,
}

/// Issued, still-live credentials.
pub struct CredentialStore {
    secret: [u8; 32],
    lifetime: Duration,
    capacity: usize,
    /// Opaque id (random, not the participant id) → entry.
    live: HashMap<u64, Entry>,
    by_participant: HashMap<ParticipantId, u64>,
    /// Recently revoked ids, so a revoked credential is told apart from a
    /// forged one (only for the answer's reason; both are refused). Bounded
    /// like `live`.
    revoked: HashMap<u64, Instant>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("live", &self.live.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    pub fn new(secret: [u8; 32], lifetime: Duration, capacity: usize) -> Self {
        CredentialStore {
            secret,
            lifetime,
            capacity: capacity.max(1),
            live: HashMap::new(),
            by_participant: HashMap::new(),
            revoked: HashMap::new(),
        }
    }

    /// A store with a fresh random secret.
    pub fn with_random_secret(lifetime: Duration, capacity: usize) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        CredentialStore::new(secret, lifetime, capacity)
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Issues the participant's credential, replacing (revoking) an older
    /// one of the same participant. `None` when the store is full of live
    /// credentials — the participant then gets no TURN server.
    pub fn issue(
        &mut self,
        participant: ParticipantId,
        now: Instant,
        unix_now: u64,
    ) -> Option<Credential> {
        self.revoke(participant, now);
        if self.live.len() >= self.capacity {
            self.sweep(now);
            if self.live.len() >= self.capacity {
                return None;
            }
        }
        let id = loop {
            let id = rand::random::<u64>();
            if !self.live.contains_key(&id) && !self.revoked.contains_key(&id) {
                break id;
            }
        };
        let expiry = unix_now.saturating_add(self.lifetime.as_secs());
        let username = format!("{expiry}:{id:016x}");
        let password = self.password_for(&username);
        self.live.insert(
            id,
            Entry {
                participant,
                username: username.clone(),
                expires_at: now + self.lifetime,
            },
        );
        self.by_participant.insert(participant, id);
        Some(Credential { username, password })
    }

    /// The participant left: its credential stops working now.
    pub fn revoke(&mut self, participant: ParticipantId, now: Instant) {
        if let Some(id) = self.by_participant.remove(&participant)
            && let Some(entry) = self.live.remove(&id)
        {
            if self.revoked.len() >= self.capacity {
                self.sweep(now);
            }
            if self.revoked.len() < self.capacity {
                self.revoked.insert(id, entry.expires_at);
            }
        }
    }

    /// The password of a live credential; why not otherwise.
    pub fn verify(&self, username: &str, now: Instant) -> Result<String, Invalid> {
        let id = parse_username(username).ok_or(Invalid::Unknown)?;
        let Some(entry) = self.live.get(&id) else {
            return Err(if self.revoked.contains_key(&id) {
                Invalid::Revoked
            } else {
                Invalid::Unknown
            });
        };
        // The whole username must match what was issued: the expiry in it
        // is not the client's to change (the HMAC would not match either).
        if entry.username != username {
            return Err(Invalid::Unknown);
        }
        if now >= entry.expires_at {
            return Err(Invalid::Expired);
        }
        Ok(self.password_for(username))
    }

    /// Drops expired credentials and forgets old revocations.
    pub fn sweep(&mut self, now: Instant) {
        let by_participant = &mut self.by_participant;
        self.live.retain(|_, e| {
            let keep = now < e.expires_at;
            if !keep {
                by_participant.remove(&e.participant);
            }
            keep
        });
        self.revoked.retain(|_, expires_at| now < *expires_at);
    }

    fn password_for(&self, username: &str) -> String {
        let mut mac =
            Hmac::<Sha1>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// The opaque id of a `<expiry>:<id>` username.
fn parse_username(username: &str) -> Option<u64> {
    let (expiry, id) = username.split_once(':')?;
    if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) || id.len() != 16 {
        return None;
    }
    u64::from_str_radix(id, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIX: u64 = 1_800_000_000;

    fn store() -> CredentialStore {
        CredentialStore::new([7; 32], Duration::from_secs(600), 4)
    }

    #[test]
    fn username_and_password_follow_the_rest_scheme() {
        let mut s = store();
        let now = Instant::now();
        let c = s.issue(ParticipantId::from_u64(1), now, UNIX).unwrap();
        let (expiry, id) = c.username.split_once(':').unwrap();
        assert_eq!(expiry, (UNIX + 600).to_string());
        assert_eq!(id.len(), 16);
        // Independent check of the password: HMAC-SHA1 over the username.
        let mut mac = Hmac::<Sha1>::new_from_slice(&[7; 32]).unwrap();
        mac.update(c.username.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(c.password, expected);
        assert_eq!(s.verify(&c.username, now), Ok(c.password.clone()));
    }

    #[test]
    fn expired_credentials_are_refused() {
        let mut s = store();
        let now = Instant::now();
        let c = s.issue(ParticipantId::from_u64(1), now, UNIX).unwrap();
        assert!(
            s.verify(&c.username, now + Duration::from_secs(599))
                .is_ok()
        );
        assert_eq!(
            s.verify(&c.username, now + Duration::from_secs(600)),
            Err(Invalid::Expired)
        );
    }

    #[test]
    fn revoked_credentials_are_refused() {
        let mut s = store();
        let now = Instant::now();
        let p = ParticipantId::from_u64(1);
        let c = s.issue(p, now, UNIX).unwrap();
        s.revoke(p, now);
        assert_eq!(s.verify(&c.username, now), Err(Invalid::Revoked));
        assert!(s.is_empty());
    }

    #[test]
    fn reissue_revokes_the_old_credential() {
        let mut s = store();
        let now = Instant::now();
        let p = ParticipantId::from_u64(1);
        let old = s.issue(p, now, UNIX).unwrap();
        let new = s.issue(p, now, UNIX).unwrap();
        assert_ne!(old.username, new.username);
        assert_eq!(s.verify(&old.username, now), Err(Invalid::Revoked));
        assert!(s.verify(&new.username, now).is_ok());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn forged_usernames_are_refused() {
        let mut s = store();
        let now = Instant::now();
        let c = s.issue(ParticipantId::from_u64(1), now, UNIX).unwrap();
        let (_, id) = c.username.split_once(':').unwrap();
        for forged in [
            format!("{}:{id}", UNIX + 999_999), // extended expiry
            format!("{}:{id}", UNIX),
            format!("{}:0000000000000001", UNIX + 600),
            "admin".to_string(),
            String::new(),
            ":".to_string(),
            format!("{}:{id}x", UNIX + 600),
            format!("-1:{id}"),
            format!("{}:{}", UNIX + 600, &id[1..]),
        ] {
            assert_eq!(s.verify(&forged, now), Err(Invalid::Unknown), "{forged}");
        }
    }

    #[test]
    fn another_secret_gives_another_password() {
        let mut a = CredentialStore::new([1; 32], Duration::from_secs(60), 4);
        let b = CredentialStore::new([2; 32], Duration::from_secs(60), 4);
        let c = a
            .issue(ParticipantId::from_u64(1), Instant::now(), UNIX)
            .unwrap();
        assert_ne!(b.password_for(&c.username), c.password);
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = store();
        let now = Instant::now();
        for i in 0..4 {
            assert!(s.issue(ParticipantId::from_u64(i), now, UNIX).is_some());
        }
        // Full of live credentials: refused, nothing grows.
        assert!(s.issue(ParticipantId::from_u64(99), now, UNIX).is_none());
        assert_eq!(s.len(), 4);
        // Once they expire, there is room again.
        let later = now + Duration::from_secs(601);
        assert!(s.issue(ParticipantId::from_u64(99), later, UNIX).is_some());
        assert_eq!(s.len(), 1);
        // Revocations are bounded too.
        for round in 0..10u64 {
            for i in 0..4 {
                let p = ParticipantId::from_u64(1000 + round * 10 + i);
                s.issue(p, later, UNIX);
                s.revoke(p, later);
            }
        }
        assert!(s.revoked.len() <= 4, "{}", s.revoked.len());
        assert!(s.by_participant.len() <= 4);
    }

    #[test]
    fn debug_redacts() {
        let mut s = store();
        let c = s
            .issue(ParticipantId::from_u64(1), Instant::now(), UNIX)
            .unwrap();
        let d = format!("{c:?} {s:?}");
        assert!(!d.contains(&c.password) && !d.contains(&c.username), "{d}");
    }
}
