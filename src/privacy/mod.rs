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
mod watchlist;

pub use addresses::OwnAddresses;
pub use watchlist::PersonalWatchlist;

/// What the logging gate consults besides the event itself: the server's
/// own addresses (not personal) and the personal strings in memory (never
/// below ERROR). The server fills both while it runs.
#[derive(Clone, Default, Debug)]
pub struct GateInputs {
    pub own: OwnAddresses,
    pub watchlist: PersonalWatchlist,
    /// What the gate did, for /metrics.
    pub counters: std::sync::Arc<logging::LogCounters>,
}

pub use personal::{ChatText, Nickname, PeerAddr, RoomName, Sdp};
