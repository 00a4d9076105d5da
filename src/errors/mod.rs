//! Error tracking for the team's apps, Sentry-SDK compatible. Projects
//! have DSN keys (`watchpost errors project add`); `POST
//! /api/{project_id}/envelope/` (and the legacy `/store/`) authenticates
//! the key, decompresses within caps, parses leniently, checks the quotas
//! and commits the items before answering `{"id"}`. A background task
//! digests them: events are scrubbed, grouped into issues and counted;
//! transactions feed request performance as `app:<project>`; sessions and
//! client reports are counted.
//! [`erase::erase_user`] removes one person from the stored items and
//! events (privacy erasure).

mod api;
pub mod config;
pub mod decode;
pub mod digest;
pub mod digest_repo;
pub mod envelope;
pub mod erase;
pub mod event;
pub mod event_view;
pub mod grouping;
pub mod issues;
pub mod issues_repo;
pub mod model;
mod pages;
pub mod projects;
mod quota;
pub mod repo;
mod routes;
pub mod scrub;
pub mod service;
pub mod task;

pub use api::ErrorsApi;
pub use config::ErrorsConfig;
pub use routes::routes;
pub use service::{Errors, Parts};
