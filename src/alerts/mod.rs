//! Alerting: rules over the signals of every feature (host metrics, checks,
//! certificates, heartbeats, performance regressions, brute force, bans,
//! Watchpost's own health), evaluated by a pure state machine with `for`,
//! `resolve_after`, reminders and flap dampening; silences and maintenance
//! windows that keep the history but send nothing; and an outbox that
//! commits every notification before delivering it to webhooks, Slack,
//! Discord, ntfy, Telegram or e-mail with retries, backoff, dead letters, an
//! idempotency key and a per-channel rate limit that folds bursts into a
//! digest. `[[alerts.rules]]` and `[[alerts.channels]]` come from the
//! configuration file; the shipped default rules are on unless turned off.

mod channel_routes;
pub mod channels;
mod config;
pub mod defs;
pub mod delivery;
mod edit;
mod edit_routes;
pub mod email;
pub mod model;
pub mod observe;
pub mod repo;
mod routes;
pub mod rules;
pub mod service;
pub mod silences;
pub mod task;
mod world;

use std::sync::Arc;

pub use channel_routes::AlertChannelsApi;
pub use config::{AlertsConfig, ChannelConfig, RuleConfig};
pub use edit_routes::AlertEditsApi;
pub use routes::AlertsApi;
pub use service::{Alerts, Sources};

use crate::http::routes::Routes;
use crate::store::StoreError;
use crate::web::{Card, CardSource};

pub fn routes(r: &mut Routes) {
    edit_routes::routes(r);
    channel_routes::routes(r);
    routes::routes(r);
}

/// Retention: history and finished notifications.
pub fn prune(conn: &rusqlite::Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    repo::prune(conn, before_ms, limit)
}

/// The overview card: what fires now.
pub fn card_source(alerts: Arc<Alerts>) -> CardSource {
    Arc::new(move || {
        let alerts = alerts.clone();
        Box::pin(async move {
            let Ok(rows) = alerts.store.read(repo::instances).await else {
                return Vec::new();
            };
            let firing: Vec<_> = rows
                .iter()
                .filter(|r| r.phase == model::Phase::Firing)
                .collect();
            let detail = match firing.first() {
                None => "Nothing is firing.".to_string(),
                Some(first) if firing.len() == 1 => first.summary.clone(),
                Some(first) => format!("{} and {} more", first.summary, firing.len() - 1),
            };
            vec![Card {
                title: "Alerts".into(),
                value: format!("{} firing", firing.len()),
                detail,
                sparkline: None,
                href: "/alerts",
            }]
        })
    })
}
