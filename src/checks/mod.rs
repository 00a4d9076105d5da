//! Health checks of the team's services: HTTP(S), TCP, TLS-certificate and
//! heartbeat checks, plus Watchpost's own (database, disk, collector), run
//! by a scheduler with per-check intervals and a global concurrency cap.
//! Each run is stored (latency also as a time series); consecutive failures
//! move a check down and open an incident, maintenance windows suppress
//! them. Pages list and edit checks, `/status` shows the public ones with
//! 90 days of uptime, badges and `/ping/{token}` are public, `/api/v1/checks`
//! is the REST API, and `[[checks]]` in `watchpost.toml` provisions checks
//! as code.

mod api;
mod api_history;
pub mod builtin;
mod cards;
pub mod check;
mod config;
pub mod definition;
pub mod demo;
mod detail;
mod edit;
mod fields;
mod form;
pub mod heartbeat;
pub mod model;
mod pages;
pub mod probe;
mod public;
pub mod repo;
pub mod service;
mod socket;
pub mod task;
mod views;

pub use api::ChecksApi;
pub use api_history::CheckHistoryApi;
pub use builtin::{Builtin, Builtins};
pub use cards::card_source;
pub use config::{SchedulerConfig, StatusPageConfig, validate_entries};
pub use definition::Definition;
pub use model::State;
pub use repo::{prune_days, prune_hours, prune_pings, prune_results};
pub use service::Checks;

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    pages::routes(r);
    public::routes(r);
    api::routes(r);
}

/// What every `[[checks]]` entry and self-check provisions at start.
pub fn wanted(entries: &[Definition], builtins: &Builtins) -> Vec<(Definition, &'static str)> {
    let mut out: Vec<(Definition, &'static str)> = entries
        .iter()
        .map(|d| (d.clone(), service::ORIGIN_CONFIG))
        .collect();
    out.extend(
        builtins
            .definitions()
            .into_iter()
            .map(|d| (d, service::ORIGIN_BUILTIN)),
    );
    out
}
