//! Moderator secrets and room passwords, kept only as salted hashes.
//!
//! The room needs to recognise a secret again, never to show it, so it keeps
//! SHA-256 over a per-secret random salt and the secret, and compares in
//! constant time. Both live in memory only and die with the room; the hash
//! just keeps the plain text out of the process's memory for the room's
//! lifetime (and out of any `Debug` output).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone)]
pub struct SecretHash {
    salt: [u8; 16],
    digest: [u8; 32],
}

impl SecretHash {
    pub fn new(secret: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        SecretHash {
            salt,
            digest: digest(&salt, secret),
        }
    }

    /// Whether `candidate` is the secret, in time independent of where the
    /// two differ.
    pub fn matches(&self, candidate: &str) -> bool {
        digest(&self.salt, candidate).ct_eq(&self.digest).into()
    }
}

fn digest(salt: &[u8; 16], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_secret() {
        let h = SecretHash::new("correct horse");
        assert!(h.matches("correct horse"));
        assert!(!h.matches("correct hors"));
        assert!(!h.matches("correct horse "));
        assert!(!h.matches(""));
    }

    #[test]
    fn salted_and_not_shown() {
        let a = SecretHash::new("same");
        let b = SecretHash::new("same");
        assert_ne!(a.digest, b.digest, "a fresh salt each time");
        assert_eq!(format!("{a:?}"), "SecretHash(..)");
    }
}
