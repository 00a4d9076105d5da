//! Threat detection and response. Leaky-bucket detectors (one bucket per
//! detector and IP) watch Watchpost's own requests (the threat-observer
//! layer), the host's nginx/apache access logs and sshd's authentication
//! failures; an overflow bans the sender for a while (twice as long for a
//! repeat offender), which the ban-gate layer enforces with a 403 before any
//! other work, `/api/v1/bans.txt` hands to nginx or ipset, and an optional
//! firewall command applies. Rate limits per IP and route class answer 429.
//! Security events are aggregated per kind, IP and minute. Signed inbound
//! webhooks store deploy markers and annotations. Pages show the timeline,
//! top offenders, bans, lockouts, sshd failures and the watched logs.

mod api;
pub mod bans;
pub mod bucket;
mod cards;
pub mod command;
mod config;
pub mod detect;
pub mod events;
pub mod gate;
pub mod hooks;
mod hooks_api;
pub mod model;
mod pages;
mod patterns;
pub mod ratelimit;
pub mod repo;
pub mod service;
pub mod task;
mod views;
pub mod watch;

pub use api::ThreatsApi;
pub use bans::{Actioned, Order};
pub use cards::card_source;
pub use config::{DetectorConfig, HookConfig, LimitConfig, LogSource, ThreatsConfig};
pub use hooks_api::HooksApi;
pub use model::Target;
pub use service::Threats;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    pages::routes(r);
    api::routes(r);
    hooks_api::routes(r);
}

/// Retention: security events and sshd counts.
pub fn prune_events(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, crate::store::StoreError> {
    repo::events::prune(conn, before_ms, limit)
}

/// Retention: bans that ended long ago.
pub fn prune_bans(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, crate::store::StoreError> {
    repo::bans::prune(conn, before_ms, limit)
}

/// Retention: stored webhook deliveries.
pub fn prune_deliveries(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, crate::store::StoreError> {
    repo::hooks::prune_hook_events(conn, before_ms, limit)
}
