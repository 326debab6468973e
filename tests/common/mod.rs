//! Shared test harness.
pub mod captured_logs;
pub mod pebble;
pub mod tls;
