//! The threats feature's SQL, and only its SQL: bans ([`bans`]), security
//! events and sshd failures ([`events`]), log read positions and webhooks
//! ([`hooks`]).

pub mod bans;
pub mod erasure;
pub mod events;
pub mod hooks;

pub use bans::Ban;
