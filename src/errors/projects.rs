//! Projects and their keys, changed by people (audited): create a project
//! with its first key, add a key (several may be active at once, so a key
//! can be rotated without dropping events), revoke one, and set the
//! project's quotas and retention.

use super::model;
use super::repo;
use crate::audit_trail::{Actioned, Trail};
use crate::clock::Clock;
use crate::error::AppError;
use crate::store::Store;

pub struct Projects {
    store: Store,
    clock: Clock,
    trail: Trail,
}

/// A project's quotas (None: only the global quota applies) and retention.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Settings {
    pub quota_per_minute: Option<u32>,
    pub quota_per_hour: Option<u32>,
    /// Events kept per project (each issue's first and latest always are).
    pub keep_events: u32,
    /// Days events are kept.
    pub keep_days: u32,
}

impl Settings {
    fn check(&self) -> Result<(), AppError> {
        if self.quota_per_minute == Some(0) || self.quota_per_hour == Some(0) {
            return Err(AppError::BadRequest(
                "a quota is at least 1 event; leave it empty for no project quota".into(),
            ));
        }
        if !(100..=10_000_000).contains(&self.keep_events) {
            return Err(AppError::BadRequest(
                "keep_events must be 100 to 10000000, e.g. 10000".into(),
            ));
        }
        if !(1..=3_650).contains(&self.keep_days) {
            return Err(AppError::BadRequest(
                "keep_days must be 1 to 3650, e.g. 90".into(),
            ));
        }
        Ok(())
    }
}

fn new_key() -> Result<String, AppError> {
    model::new_public_key()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("no randomness for a key")))
}

/// A key's label; an empty one reads `rotated` (a key added after the first).
fn label_ok(label: &str) -> Result<String, AppError> {
    let label = match label.trim() {
        "" => "rotated",
        given => given,
    };
    if label.chars().count() > 64 || label.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a key's label is at most 64 printable characters, e.g. \"web frontend\"".into(),
        ));
    }
    Ok(label.to_string())
}

impl Projects {
    pub fn new(store: Store, clock: Clock, trail: Trail) -> Projects {
        Projects {
            store,
            clock,
            trail,
        }
    }

    /// Creates a project with one key; returns its id and key. An empty
    /// platform reads `other`. Audited.
    pub async fn add(
        &self,
        name: &str,
        platform: &str,
        by: &Actioned,
    ) -> Result<(i64, String), AppError> {
        let name = name.trim().to_string();
        let slug = model::slug(&name);
        if slug.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AppError::BadRequest(
                "a project needs a name of 1 to 100 printable characters with a letter or digit"
                    .into(),
            ));
        }
        let platform: String = match platform.trim() {
            "" => "other".into(),
            given => given.chars().take(32).collect(),
        };
        let key = new_key()?;
        let entry = by
            .entry("errors.project_created", format!("project:{slug}"))
            .detail("platform", platform.clone());
        let (trail, now, k) = (self.trail.clone(), self.clock.now_ms(), key.clone());
        let id = self
            .store
            .write(move |c| {
                if repo::slug_taken(c, &slug)? {
                    return Ok(None);
                }
                let id = repo::add_project(c, &slug, &name, &platform, &k, now)?;
                trail.append(c, now, &entry)?;
                Ok(Some(id))
            })
            .await?;
        id.map(|id| (id, key)).ok_or_else(|| {
            AppError::Conflict("a project with that name exists already; choose another".into())
        })
    }

    /// Adds an active key to a project; returns it. Audited.
    pub async fn add_key(
        &self,
        project_id: i64,
        label: &str,
        by: &Actioned,
    ) -> Result<String, AppError> {
        let label = label_ok(label)?;
        let key = new_key()?;
        let entry = by
            .entry("errors.key_added", format!("project:{project_id}"))
            .detail("label", label.clone())
            .detail("key_prefix", key.get(..8).unwrap_or_default().to_string());
        let (trail, now, k) = (self.trail.clone(), self.clock.now_ms(), key.clone());
        let added = self
            .store
            .write(move |c| {
                if !repo::add_key(c, project_id, &k, &label, now)? {
                    return Ok(false);
                }
                trail.append(c, now, &entry)?;
                Ok(true)
            })
            .await?;
        if !added {
            return Err(AppError::NotFound);
        }
        Ok(key)
    }

    /// Revokes a key; a project keeps at least one active key. Audited.
    pub async fn revoke_key(
        &self,
        project_id: i64,
        key: &str,
        by: &Actioned,
    ) -> Result<(), AppError> {
        let entry = by
            .entry("errors.key_revoked", format!("project:{project_id}"))
            .detail("key_prefix", key.get(..8).unwrap_or_default().to_string());
        let (trail, now, k) = (self.trail.clone(), self.clock.now_ms(), key.to_string());
        let outcome = self
            .store
            .write(move |c| {
                let outcome = repo::revoke_key(c, project_id, &k, now)?;
                if outcome == repo::Revoke::Done {
                    trail.append(c, now, &entry)?;
                }
                Ok(outcome)
            })
            .await?;
        match outcome {
            repo::Revoke::Done => Ok(()),
            repo::Revoke::Unknown => Err(AppError::NotFound),
            repo::Revoke::LastKey => Err(AppError::Conflict(
                "this is the project's last active key; add a new key first, then revoke this one"
                    .into(),
            )),
        }
    }

    /// Sets a project's quotas and retention. Audited.
    pub async fn set(
        &self,
        project_id: i64,
        settings: Settings,
        by: &Actioned,
    ) -> Result<(), AppError> {
        settings.check()?;
        let entry = by
            .entry("errors.project_settings", format!("project:{project_id}"))
            .detail(
                "settings",
                serde_json::to_value(&settings).unwrap_or_default(),
            );
        let (trail, now) = (self.trail.clone(), self.clock.now_ms());
        let found = self
            .store
            .write(move |c| {
                if !repo::set_settings(c, project_id, &settings)? {
                    return Ok(false);
                }
                trail.append(c, now, &entry)?;
                Ok(true)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
