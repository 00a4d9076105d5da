//! Error tracking for the team's apps, Sentry-SDK compatible. This part is
//! the ingest fast path: projects with DSN keys (`watchpost errors project
//! add`), and `POST /api/{project_id}/envelope/` (and the legacy
//! `/store/`) that authenticates the key (query string, `X-Sentry-Auth`, or
//! the envelope's `dsn`), decompresses within caps, parses the envelope
//! leniently and commits the items before answering `{"id"}`. Digesting
//! them into issues is the next step. [`erase::erase_user`] removes one
//! person from the stored items (privacy erasure).

pub mod decode;
pub mod envelope;
pub mod erase;
pub mod model;
pub mod repo;
mod routes;
pub mod service;

pub use routes::routes;

/// Retention: raw items already digested, older than the keep.
pub fn prune_items(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, crate::store::StoreError> {
    repo::prune_items(conn, before_ms, limit)
}
pub use service::Errors;
