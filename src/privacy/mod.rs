//! Personal data and how it is kept out of logs.
//!
//! Nicknames, room names, peer addresses and chat text are wrapped in types
//! whose `Debug` and `Display` print a redacted placeholder. The raw value is
//! reachable only through `expose_personal()` (and the wire `Serialize`
//! impls, which send it only to the participants of the same room), so
//! `grep -rn 'expose_personal\|impl Serialize for' src/` lists every exposure.

mod personal;

pub use personal::{Nickname, PeerAddr, RoomName, Sdp};
