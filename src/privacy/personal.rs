//! The personal-data newtypes.

use serde::{Serialize, Serializer};
use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;

thread_local! {
    /// True while a log event of level ERROR is being written on this
    /// thread (set by the logging gate): the only time personal values may
    /// be formatted into a log line.
    static REVEAL: Cell<bool> = const { Cell::new(false) };
}

/// While alive, personal types format their real values on this thread.
/// Only the logging gate creates one, around writing an ERROR event.
pub(crate) struct RevealForErrorEvent {
    previous: bool,
}

impl RevealForErrorEvent {
    pub(crate) fn start() -> Self {
        RevealForErrorEvent {
            previous: REVEAL.with(|r| r.replace(true)),
        }
    }
}

impl Drop for RevealForErrorEvent {
    fn drop(&mut self) {
        REVEAL.with(|r| r.set(self.previous));
    }
}

fn revealing() -> bool {
    REVEAL.with(|r| r.get())
}

macro_rules! personal_string {
    ($(#[$doc:meta])* $name:ident, $placeholder:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps an already validated value. Validation lives with the
            /// code that owns the rules (room::names).
            #[allow(dead_code, reason = "chat text is built once chat exists")]
            pub(crate) fn from_validated(value: String) -> Self {
                $name(value)
            }

            /// The raw personal value. Every call is an exposure: only for
            /// the participants' own wire messages and ERROR events.
            pub fn expose_personal(&self) -> &str {
                &self.0
            }
        }

        /// Redacted, except inside an ERROR log event.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if revealing() {
                    write!(f, "{:?}", self.0)
                } else {
                    f.write_str($placeholder)
                }
            }
        }

        /// Redacted, except inside an ERROR log event.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if revealing() {
                    f.write_str(&self.0)
                } else {
                    f.write_str($placeholder)
                }
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
    /// A chat message's text.
    ChatText,
    "<chat text>"
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

/// Redacted, except inside an ERROR log event.
impl fmt::Debug for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Redacted, except inside an ERROR log event.
impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if revealing() {
            write!(f, "{}", self.0)
        } else {
            f.write_str("<address>")
        }
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

    #[test]
    fn values_show_only_while_an_error_event_is_written() {
        let n = Nickname::from_validated("Canary Nick".into());
        let a = PeerAddr::new("192.0.2.7:5555".parse().unwrap());
        {
            let _reveal = RevealForErrorEvent::start();
            assert_eq!(format!("{n} {a}"), "Canary Nick 192.0.2.7:5555");
            {
                let _nested = RevealForErrorEvent::start();
            }
            assert_eq!(n.to_string(), "Canary Nick", "nesting restores, not clears");
        }
        assert_eq!(format!("{n} {a}"), "<nickname> <address>");
    }
}
