//! Privacy erasure: removes one person from everything Watchpost stores, in
//! one writer transaction, and records it as `user.erased` (target
//! `user:<id>`, counts only, never the address). The account stays as a
//! disabled tombstone `erased-<id>@invalid` without name, password or 2FA,
//! so its id is never reused; its sessions, API tokens, one-time links,
//! recovery codes, failed logins and lockouts go; the audit trail's personal
//! columns are blanked on every row they acted in, that names them, or that
//! is about their account with personal details (the chain still verifies,
//! DESIGN §8); with `[privacy] erase_ips_in_security_events` the addresses
//! the person used (from their sessions, failed logins and audit rows, read
//! before erasing) are replaced in security events and bans, and audit rows
//! and failed logins from them are blanked or deleted too; and their `user`
//! data leaves the ingested error events.
//!
//! The CLI (`watchpost user erase EMAIL`), the users page and
//! `POST /api/v1/users/{id}/erase` all call [`Privacy::erase`]. It lives
//! above the features (like `retention`) because it reaches into several of
//! them; each feature keeps its own SQL. Must never write the erased address
//! anywhere, logs included.

mod repo;
mod routes;

use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::audit_trail::{Actioned, Trail};
use crate::auth::model::{Role, normalise_email};
use crate::auth::repo as accounts;
use crate::clock::Clock;
use crate::config::{Problem, Section};
use crate::error::AppError;
use crate::store::{Store, StoreError};
use crate::threats::Threats;

pub use routes::{PrivacyApi, routes};

/// The `[privacy]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivacyConfig {
    /// Also replace the addresses the person used in security events, bans
    /// and sshd failure counts (and delete failed logins from them).
    pub erase_ips_in_security_events: bool,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            erase_ips_in_security_events: true,
        }
    }
}

impl Section for PrivacyConfig {
    fn validate(&self, _prefix: &str, _problems: &mut Vec<Problem>) {}
}

/// Whom to erase.
#[derive(Debug, Clone)]
pub enum Person {
    Email(String),
    Id(i64),
}

/// What an erasure removed or blanked, per data type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The erased account (now `erased-<id>@invalid`, disabled).
    pub user_id: i64,
    pub sessions: usize,
    pub api_tokens: usize,
    pub one_time_links: usize,
    pub recovery_codes: usize,
    pub login_failures: usize,
    pub lockouts: usize,
    /// Audit trail rows whose personal columns were blanked.
    pub audit_rows: usize,
    /// Distinct client addresses found for the person before erasing.
    pub ips_found: usize,
    /// Whether those addresses were erased from security data.
    pub ips_erased: bool,
    pub security_events: usize,
    pub ip_bans: usize,
    pub ssh_failures: usize,
    /// Stored error items whose payload changed.
    pub error_items: usize,
}

/// The erasure service.
#[derive(Clone)]
pub struct Privacy {
    store: Store,
    trail: Trail,
    clock: Clock,
    erase_ips: bool,
    /// The running server's threat detection, whose security events wait
    /// in memory for a while; they are written before an erasure so that
    /// none of the person's land after it.
    threats: Option<Arc<Threats>>,
}

const LAST_ADMIN: &str = "This is the last enabled admin; make another user admin first, so someone can still manage Watchpost.";

impl Privacy {
    pub fn new(config: &PrivacyConfig, store: Store, trail: Trail, clock: Clock) -> Privacy {
        Privacy {
            store,
            trail,
            clock,
            erase_ips: config.erase_ips_in_security_events,
            threats: None,
        }
    }

    /// Erasures in this process first write `threats`' pending events.
    pub fn flushing(mut self, threats: Arc<Threats>) -> Privacy {
        self.threats = Some(threats);
        self
    }

    /// Erases `person`, by `by`. `not_self` is the caller's own account id
    /// (an admin on the page cannot erase themselves). An unknown person is
    /// `NotFound` (by id) or `BadRequest` naming the address (by email).
    pub async fn erase(
        &self,
        person: Person,
        by: Actioned,
        not_self: Option<i64>,
    ) -> Result<Erased, AppError> {
        let person = match person {
            Person::Email(raw) => {
                Person::Email(normalise_email(&raw).map_err(AppError::BadRequest)?)
            }
            id => id,
        };
        if let Some(threats) = &self.threats {
            threats.flush().await?;
        }
        let (trail, now, erase_ips) = (self.trail.clone(), self.clock.now_ms(), self.erase_ips);
        self.store
            .write(move |conn| {
                let user = match &person {
                    Person::Email(email) => accounts::user_by_email(conn, email)?,
                    Person::Id(id) => accounts::user_by_id(conn, *id)?,
                };
                let Some(user) = user else {
                    return Ok(Err(match person {
                        Person::Email(email) => AppError::BadRequest(format!(
                            "No account has the email {email}; check the address with `watchpost user list`."
                        )),
                        Person::Id(_) => AppError::NotFound,
                    }));
                };
                if not_self == Some(user.id) {
                    return Ok(Err(AppError::Conflict(
                        "You cannot erase your own account here; ask another admin, or use `watchpost user erase` on the server.".into(),
                    )));
                }
                if user.role == Role::Admin
                    && !user.disabled
                    && accounts::other_active_admins(conn, user.id)? == 0
                {
                    return Ok(Err(AppError::Conflict(LAST_ADMIN.into())));
                }
                erase_in(conn, &trail, now, &user.email, user.id, erase_ips, by).map(Ok)
            })
            .await?
    }
}

/// The whole erasure, inside one transaction.
fn erase_in(
    conn: &Connection,
    trail: &Trail,
    now_ms: i64,
    email: &str,
    id: i64,
    erase_ips: bool,
    by: Actioned,
) -> Result<Erased, StoreError> {
    let secure = repo::secure_delete(conn, 1)?;
    let mut ips = accounts::erasure::session_ips(conn, id)?;
    ips.extend(accounts::erasure::failure_ips(conn, email)?);
    ips.extend(trail.ips_of(conn, id, email)?);
    ips.sort();
    ips.dedup();
    let none: &[String] = &[];
    let account =
        accounts::erasure::erase_account(conn, id, email, if erase_ips { &ips } else { none })?;
    let ip_rows = if erase_ips { &ips[..] } else { none };
    let audit_rows =
        trail.erase_person(conn, now_ms, email, Some(id), ip_rows, by.actor.clone())?;
    let security = if erase_ips {
        crate::threats::repo::erasure::erase_ips(conn, &ips, now_ms)?
    } else {
        Default::default()
    };
    let error_items = crate::errors::erase::erase_user(conn, email, &ips)?;
    let erased = Erased {
        user_id: id,
        sessions: account.sessions,
        api_tokens: account.api_tokens,
        one_time_links: account.one_time_links,
        recovery_codes: account.recovery_codes,
        login_failures: account.login_failures,
        lockouts: account.lockouts,
        audit_rows,
        ips_found: ips.len(),
        ips_erased: erase_ips,
        security_events: security.security_events,
        ip_bans: security.ip_bans,
        ssh_failures: security.ssh_failures,
        error_items,
    };
    // Keys that do not look like secrets, so the trail's redaction keeps
    // the counts (it hides any value under a `session` or `token` key).
    let mut details = serde_json::to_value(&erased).unwrap_or_default();
    if let Some(map) = details.as_object_mut() {
        for (from, to) in [
            ("sessions", "logins_ended"),
            ("api_tokens", "api_access_revoked"),
        ] {
            if let Some(v) = map.remove(from) {
                map.insert(to.to_string(), v);
            }
        }
    }
    let entry = by
        .entry("user.erased", format!("user:{id}"))
        .detail("removed", details);
    trail.append(conn, now_ms, &entry)?;
    repo::secure_delete(conn, secure)?;
    Ok(erased)
}
