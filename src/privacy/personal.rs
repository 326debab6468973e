//! The personal-data newtypes.

use serde::{Serialize, Serializer};
use std::fmt;
use std::net::SocketAddr;

macro_rules! personal_string {
    ($(#[$doc:meta])* $name:ident, $placeholder:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps an already validated value. Validation lives with the
            /// code that owns the rules (room::names).
            pub(crate) fn from_validated(value: String) -> Self {
                $name(value)
            }

            /// The raw personal value. Every call is an exposure: only for
            /// the participants' own wire messages and ERROR events.
            pub fn expose_personal(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($placeholder)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($placeholder)
            }
        }

        /// Sent only to participants of the same room (wire messages).
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

personal_string!(
    /// A participant's nickname, as shown to the others in the room.
    Nickname,
    "<nickname>"
);

personal_string!(
    /// A room's name (normalised).
    RoomName,
    "<room>"
);

personal_string!(
    /// A session description or ICE candidate from a browser: it lists the
    /// browser's IP addresses.
    Sdp,
    "<sdp>"
);

/// A participant's network address (IP and port).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(SocketAddr);

impl PeerAddr {
    pub fn new(addr: SocketAddr) -> Self {
        PeerAddr(addr)
    }

    /// The raw address. Every call is an exposure: only for sockets,
    /// address-based limits and ERROR events.
    pub fn expose_personal(&self) -> SocketAddr {
        self.0
    }
}

impl fmt::Debug for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<address>")
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<address>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let n = Nickname::from_validated("Canary Nick".into());
        let r = RoomName::from_validated("canary-room".into());
        let a = PeerAddr::new("192.0.2.7:5555".parse().unwrap());
        let all = format!("{n} {n:?} {r} {r:?} {a} {a:?} {:?}", Some(&n));
        for secret in ["Canary", "canary", "192.0.2.7", "5555"] {
            assert!(!all.contains(secret), "{all}");
        }
        assert_eq!(n.expose_personal(), "Canary Nick");
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"canary-room\"");
    }
}
