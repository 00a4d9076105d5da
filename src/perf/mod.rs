//! Request performance: per-route latency histograms for Watchpost's own
//! traffic (`self`, through `http::RequestStats`) and for each access-log
//! source (`nginx:<id>`, fed by the log watchers), aggregated in memory and
//! stored once a minute; rolling baselines recomputed hourly; regressions
//! judged every minute against them (`perf.regression` on the bus); deploy
//! markers from the API or signed hooks with a before/after view; and the
//! pages, JSON API and `/metrics` families that show it all. A source is a
//! plain name, so the error inbox can add `app:<project>` without a new
//! code path.

pub mod aggregate;
pub mod api;
pub mod cards;
pub mod config;
pub mod histogram;
pub mod metrics;
pub mod model;
pub mod normalise;
mod pages;
pub mod repo;
pub mod service;
pub mod task;
pub mod views;

pub use api::PerfApi;
pub use cards::card_source;
pub use config::PerfConfig;
pub use metrics::contribution;
pub use service::{Perf, log_source_name};

use crate::http::routes::Routes;
use crate::store::StoreError;

pub fn routes(r: &mut Routes) {
    api::routes(r);
    pages::routes(r);
}

/// Retention: minute cells.
pub fn prune_minutes(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    repo::prune(conn, repo::Tier::Minutes, before_ms, limit)
}

/// Retention: deploy markers.
pub fn prune_deploys(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    repo::prune_deploys(conn, before_ms, limit)
}

/// Retention: cleared regressions (kept as long as the hour cells they describe).
pub fn prune_regressions(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    repo::prune_regressions(conn, before_ms, limit)
}

/// Retention: hour cells.
pub fn prune_hours(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    repo::prune(conn, repo::Tier::Hours, before_ms, limit)
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod task_tests;
