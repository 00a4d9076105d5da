//! What people do with issues: list them (filtered, searched, sorted),
//! read one with an event, and change their status — resolve (optionally
//! in the next release), ignore (until N more events or a time), reopen —
//! one or many at once. Every change is audited.

use serde::Deserialize;

use super::Errors;
use super::digest::inflate;
use super::issues_repo::{self, Filter, Issue, StatusChange, StoredEvent, TagValues};
use crate::audit_trail::Actioned;
use crate::error::AppError;

/// The most issues one page or API call lists, and one bulk action changes.
pub const PAGE: i64 = 50;
const MAX_BULK: usize = 500;

/// A status change as asked for (form or JSON).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct Action {
    /// `resolve`, `resolve_next_release`, `ignore` or `reopen`.
    #[serde(default)]
    pub action: String,
    /// For `ignore`: until this many more events.
    #[serde(default)]
    pub until_events: Option<i64>,
    /// For `ignore`: for this long (`1h`, `7d`).
    #[serde(default)]
    pub for_duration: Option<String>,
}

impl Action {
    fn change(&self, now_ms: i64) -> Result<StatusChange, AppError> {
        let plain = |status| StatusChange {
            status,
            in_next_release: false,
            ignore_until_ms: None,
            ignore_more_events: None,
        };
        match self.action.as_str() {
            "resolve" => Ok(plain("resolved")),
            "resolve_next_release" => Ok(StatusChange {
                in_next_release: true,
                ..plain("resolved")
            }),
            "reopen" => Ok(plain("unresolved")),
            "ignore" => {
                let events = self.until_events.filter(|n| *n != 0);
                if events.is_some_and(|n| !(1..=1_000_000).contains(&n)) {
                    return Err(AppError::BadRequest(
                        "until_events must be 1 to 1000000".into(),
                    ));
                }
                let until = match self.for_duration.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(text) => {
                        let d = humantime::parse_duration(text).map_err(|e| {
                            AppError::BadRequest(format!(
                                "for_duration {text:?} is not a duration ({e}); write e.g. \"24h\""
                            ))
                        })?;
                        Some(
                            now_ms.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                        )
                    }
                };
                Ok(StatusChange {
                    ignore_until_ms: until,
                    ignore_more_events: events,
                    ..plain("ignored")
                })
            }
            other => Err(AppError::BadRequest(format!(
                "unknown action {other:?}: use resolve, resolve_next_release, ignore or reopen"
            ))),
        }
    }
}

/// One issue with one of its events, decoded.
pub struct Detail {
    pub issue: Issue,
    pub tags: TagValues,
    pub event: Option<(StoredEvent, serde_json::Value)>,
}

impl Errors {
    pub async fn issues(&self, filter: Filter) -> Result<(Vec<Issue>, i64), AppError> {
        Ok(self
            .store
            .read(move |c| issues_repo::list(c, &filter))
            .await?)
    }

    pub async fn facets(&self) -> Result<(Vec<String>, Vec<String>), AppError> {
        Ok(self.store.read(issues_repo::facets).await?)
    }

    /// An issue with the event `event` (a row id; the latest when None).
    pub async fn detail(&self, id: i64, event: Option<i64>) -> Result<Detail, AppError> {
        let (issue, tags, stored) = self
            .store
            .read(move |c| {
                Ok((
                    issues_repo::get(c, id)?,
                    issues_repo::tags(c, id)?,
                    issues_repo::event(c, id, event)?,
                ))
            })
            .await?;
        let issue = issue.ok_or(AppError::NotFound)?;
        if event.is_some() && stored.is_none() {
            return Err(AppError::NotFound);
        }
        let event = stored.map(|s| {
            let json = inflate(&s.payload, super::service::MAX_DECOMPRESSED)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(serde_json::Value::Null);
            (s, json)
        });
        Ok(Detail { issue, tags, event })
    }

    /// Changes the status of issues; returns how many exist. Audited, one row per issue.
    pub async fn act(
        &self,
        ids: Vec<i64>,
        action: &Action,
        by: &Actioned,
    ) -> Result<usize, AppError> {
        if ids.is_empty() {
            return Err(AppError::BadRequest("select at least one issue".into()));
        }
        if ids.len() > MAX_BULK {
            return Err(AppError::BadRequest(format!(
                "at most {MAX_BULK} issues at once"
            )));
        }
        let now = self.clock.now_ms();
        let change = action.change(now)?;
        let (trail, by, name) = (self.trail.clone(), by.clone(), action.action.clone());
        let done = self
            .store
            .write(move |c| {
                let done = issues_repo::set_status(c, &ids, &change)?;
                for id in &done {
                    let mut entry = by
                        .entry(
                            &format!("errors.issue_{}", change.status),
                            format!("issue:{id}"),
                        )
                        .detail("action", name.clone());
                    if let Some(until) = change.ignore_until_ms {
                        entry = entry.detail("until_ms", until);
                    }
                    if let Some(n) = change.ignore_more_events {
                        entry = entry.detail("until_more_events", n);
                    }
                    trail.append(c, now, &entry)?;
                }
                Ok(done.len())
            })
            .await?;
        if done == 0 {
            return Err(AppError::NotFound);
        }
        Ok(done)
    }
}
