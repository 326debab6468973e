//! funkraum: a privacy-first, ephemeral video-conferencing appliance.
//!
//! One process serves the browser client, runs the signaling, forwards
//! media (SFU) and keeps every piece of personal data in memory only. See
//! ../shared/DESIGN.md for the architecture; `main.rs` is the command line.

#![forbid(unsafe_code)]

pub mod config;
pub mod hardening;
pub mod http;
pub mod ids;
pub mod privacy;
pub mod room;
pub mod server;
pub mod sfu;
pub mod signaling;
pub mod tls;
pub mod turn;

pub use config::Config;
pub use server::Server;
