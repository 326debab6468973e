//! Signaling: the wire protocol of docs/protocol.md and one actor per
//! WebSocket connection. Knows rooms (through `room`) and talks to the media
//! plane only through `sfu::Command` / `sfu::SfuEvent`.

mod connection;
mod hub;
pub mod messages;
mod rate;

pub use connection::serve;
pub use hub::{ConnectionSlot, Hub};
