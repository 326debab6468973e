//! Shared test harness.

pub mod turn_client;
