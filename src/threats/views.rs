//! What the security page and the summary API show, read in one go: events
//! in the window, per hour and kind, the top offending addresses, bans in
//! force, lockouts, sshd failures and the watched logs' health.

use serde::Serialize;

use super::repo::bans::{self, Ban};
use super::repo::events::{self, EventRow, Filter};
use super::service::{SourceStatus, Threats};
use crate::auth::repo::ActiveLockout;
use crate::error::AppError;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TopIp {
    pub ip: String,
    pub count: i64,
    pub kinds: Vec<String>,
    pub banned: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub name: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub hours: i64,
    pub since_ms: i64,
    pub events_total: i64,
    /// (hour start ms, kind, occurrences)
    pub per_hour: Vec<(i64, String, i64)>,
    pub top_ips: Vec<TopIp>,
    pub bans: Vec<Ban>,
    pub lockouts: Vec<ActiveLockout>,
    pub ssh_total: i64,
    pub ssh_users: Vec<Named>,
    pub ssh_ips: Vec<Named>,
    pub sources: Vec<SourceStatus>,
}

pub async fn summary(threats: &Threats, hours: i64) -> Result<Summary, AppError> {
    let hours = hours.clamp(1, 24 * 90);
    let now = threats.clock.now_ms();
    let since = now - hours * HOUR_MS;
    let hour_start = since - since.rem_euclid(HOUR_MS);
    let read = threats
        .store
        .read(move |conn| {
            let active = bans::active(conn, now)?;
            let top = events::top_ips(conn, since, 10)?;
            let named = |rows: Vec<(String, i64)>| {
                rows.into_iter()
                    .map(|(name, count)| Named { name, count })
                    .collect::<Vec<_>>()
            };
            Ok(Summary {
                hours,
                since_ms: since,
                events_total: events::total_since(conn, since)?,
                per_hour: events::per_hour(conn, hour_start)?,
                top_ips: top
                    .into_iter()
                    .map(|(ip, count, kinds)| TopIp {
                        banned: active.iter().any(|b| b.ip == ip),
                        kinds: kinds
                            .split(',')
                            .filter(|k| !k.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        ip,
                        count,
                    })
                    .collect(),
                lockouts: crate::auth::repo::active_lockouts(conn, now)?,
                ssh_total: events::ssh_total(conn, hour_start)?,
                ssh_users: named(events::ssh_top(conn, true, hour_start, 10)?),
                ssh_ips: named(events::ssh_top(conn, false, hour_start, 10)?),
                bans: active,
                sources: Vec::new(),
            })
        })
        .await?;
    Ok(Summary {
        sources: threats.source_statuses(),
        ..read
    })
}

/// The timeline: events matching the filter, newest first.
pub async fn timeline(threats: &Threats, filter: Filter) -> Result<Vec<EventRow>, AppError> {
    Ok(threats
        .store
        .read(move |conn| events::list(conn, &filter))
        .await?)
}
