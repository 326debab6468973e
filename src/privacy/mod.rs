//! Personal data and how it is kept out of logs.
//!
//! Nicknames, room names, peer addresses, chat text and browsers' SDP are
//! wrapped in types whose `Debug` and `Display` print a redacted placeholder
//! — except while a log event of level ERROR is being written (see
//! [`logging`]). The raw value is otherwise reachable only through
//! `expose_personal()` (and the wire `Serialize` impls, which send it only to
//! the participants of the same room), so
//! `grep -rn 'expose_personal\|impl Serialize for' src/` lists every exposure.
//!
//! docs/privacy-design.md maps each privacy invariant to the code here and
//! the test that proves it.

mod addresses;
pub mod error_log;
pub mod logging;
mod personal;
pub mod runtime_dir;

pub use addresses::OwnAddresses;

pub use personal::{ChatText, Nickname, PeerAddr, RoomName, Sdp};
