//! Changing rules and channels from the UI or the API: every change is
//! validated with the same messages as the configuration file, audited,
//! and in force at once. Entries from the configuration file are read-only
//! here (409); a shipped default rule may be edited or turned off, not
//! deleted (it would come back at the next start).

use super::Alerts;
use super::channels::Channel;
use super::config::{ChannelConfig, RuleConfig};
use super::defs::{self, ORIGIN_CONFIG, ORIGIN_DEFAULT, ORIGIN_UI};
use super::repo;
use super::rules::Rule;
use crate::audit_trail::Actioned;
use crate::error::AppError;

pub(super) fn managed(what: &str, id: &str) -> AppError {
    AppError::Conflict(format!(
        "{what} {id:?} is managed by the configuration file; change it there"
    ))
}

impl Alerts {
    /// Creates a rule (`path_id` None) or replaces rule `path_id`.
    pub async fn save_rule(
        &self,
        mut entry: RuleConfig,
        path_id: Option<&str>,
        by: &Actioned,
    ) -> Result<Rule, AppError> {
        entry.id = entry.id.trim().to_string();
        if let Some(id) = path_id {
            entry.id = id.to_string();
        }
        defs::check_id("rule", &entry.id).map_err(AppError::BadRequest)?;
        let rule = Rule::from_config(&entry, self.reminder).map_err(AppError::BadRequest)?;
        let defs = self.defs();
        if let Some(unknown) = rule
            .channels
            .iter()
            .find(|c| !defs.channels.iter().any(|d| d.id == **c))
        {
            return Err(AppError::BadRequest(format!(
                "channels: {unknown:?} is not a channel; use one of {}",
                defs.channels
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let id = entry.id.clone();
        let found = {
            let id = id.clone();
            self.store.read(move |c| repo::rule_origin(c, &id)).await?
        };
        match (path_id, found.as_deref()) {
            (None, Some(_)) => {
                return Err(AppError::Conflict(format!(
                    "a rule {id:?} exists already; change that one or choose another id"
                )));
            }
            (Some(_), None) => return Err(AppError::NotFound),
            (Some(_), Some(ORIGIN_CONFIG)) => return Err(managed("rule", &id)),
            _ => {}
        }
        let action = if path_id.is_some() {
            "alert.rule_changed"
        } else {
            "alert.rule_created"
        };
        let json = serde_json::to_string(&entry)
            .map_err(|e| AppError::BadRequest(format!("the rule cannot be stored: {e}")))?;
        let audit = by.entry(action, format!("rule:{id}")).detail(
            "definition",
            serde_json::to_value(&entry).unwrap_or_default(),
        );
        let (trail, now) = (self.trail.clone(), self.clock.now_ms());
        self.store
            .write(move |c| {
                repo::put_rule(c, &id, &json, ORIGIN_UI, now, false)?;
                trail.append(c, now, &audit)?;
                Ok(())
            })
            .await?;
        self.reload().await?;
        Ok(Rule {
            origin: ORIGIN_UI,
            ..rule
        })
    }

    /// Deletes a rule made in the UI or the API, with its state.
    pub async fn delete_rule(&self, id: &str, by: &Actioned) -> Result<(), AppError> {
        let found = {
            let id = id.to_string();
            self.store.read(move |c| repo::rule_origin(c, &id)).await?
        };
        match found.as_deref() {
            None => return Err(AppError::NotFound),
            Some(ORIGIN_CONFIG) => return Err(managed("rule", id)),
            Some(ORIGIN_DEFAULT) => {
                return Err(AppError::Conflict(format!(
                    "{id:?} is a shipped default rule; turn it off (enabled = false) instead, or set alerts.default_rules = false"
                )));
            }
            Some(_) => {}
        }
        let audit = by.entry("alert.rule_deleted", format!("rule:{id}"));
        let (trail, now, id) = (self.trail.clone(), self.clock.now_ms(), id.to_string());
        self.store
            .write(move |c| {
                repo::delete_rule(c, &id)?;
                trail.append(c, now, &audit)?;
                Ok(())
            })
            .await?;
        self.reload().await?;
        Ok(())
    }

    /// Creates a channel; its secrets are sealed at rest and never shown again.
    pub async fn add_channel(
        &self,
        mut entry: ChannelConfig,
        by: &Actioned,
    ) -> Result<Channel, AppError> {
        entry.id = entry.id.trim().to_string();
        defs::check_id("channel", &entry.id).map_err(AppError::BadRequest)?;
        defs::refuse_files(&entry).map_err(AppError::BadRequest)?;
        let channel = Channel::from_config(&entry).map_err(AppError::BadRequest)?;
        if self.defs().channels.iter().any(|c| c.id == entry.id) {
            return Err(AppError::Conflict(format!(
                "a channel {:?} exists already; choose another id",
                entry.id
            )));
        }
        self.put_channel(&entry, channel, by, "alert.channel_created")
            .await
    }

    /// Channel `id`'s stored entry, secrets in clear, and its origin.
    pub async fn stored_channel(&self, id: &str) -> Result<(ChannelConfig, String), AppError> {
        let wanted = id.to_string();
        let row = self
            .store
            .read(move |c| Ok(repo::channels(c)?.into_iter().find(|r| r.id == wanted)))
            .await?
            .ok_or(AppError::NotFound)?;
        let entry = defs::open_channel(&self.sealer, &row)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored channel {id:?}: {e}")))?;
        Ok((entry, row.origin))
    }

    /// Replaces channel `id` (made in the UI or the API) with `entry`. The
    /// kind stays what it was. A secret left empty (the URL, the webhook
    /// secret, the bot token, the SMTP password) keeps its stored value, so
    /// an edit never asks for them again; the rules naming the channel keep
    /// sending to it.
    pub async fn update_channel(
        &self,
        id: &str,
        mut entry: ChannelConfig,
        by: &Actioned,
    ) -> Result<Channel, AppError> {
        let (stored, origin) = self.stored_channel(id).await?;
        if origin == ORIGIN_CONFIG {
            return Err(managed("channel", id));
        }
        let kind = entry.kind.trim();
        if !kind.is_empty() && kind != stored.kind {
            return Err(AppError::BadRequest(format!(
                "channel {id:?} is a {} channel and stays one; add a new channel for {kind}",
                stored.kind
            )));
        }
        entry.id = id.to_string();
        entry.kind = stored.kind.clone();
        defs::refuse_files(&entry).map_err(AppError::BadRequest)?;
        for (given, kept) in [
            (&mut entry.url, stored.url),
            (&mut entry.secret, stored.secret),
            (&mut entry.bot_token, stored.bot_token),
            (&mut entry.password, stored.password),
        ] {
            if given.is_none() {
                *given = kept;
            }
        }
        let channel = Channel::from_config(&entry).map_err(AppError::BadRequest)?;
        self.put_channel(&entry, channel, by, "alert.channel_updated")
            .await
    }

    /// Stores `entry` sealed, as made here, audited as `action`, and puts
    /// it in force.
    async fn put_channel(
        &self,
        entry: &ChannelConfig,
        channel: Channel,
        by: &Actioned,
        action: &str,
    ) -> Result<Channel, AppError> {
        let row = defs::seal(&self.sealer, entry, ORIGIN_UI)
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
        let audit = by
            .entry(action, format!("channel:{}", entry.id))
            .detail("kind", channel.kind())
            .detail("target", channel.shown_target());
        let (trail, now) = (self.trail.clone(), self.clock.now_ms());
        self.store
            .write(move |c| {
                repo::put_channel(c, &row, now)?;
                trail.append(c, now, &audit)?;
                Ok(())
            })
            .await?;
        self.reload().await?;
        Ok(Channel {
            origin: ORIGIN_UI,
            ..channel
        })
    }

    /// Deletes a channel made in the UI or the API that no rule names.
    pub async fn delete_channel(&self, id: &str, by: &Actioned) -> Result<(), AppError> {
        let defs = self.defs();
        let channel = defs
            .channels
            .iter()
            .find(|c| c.id == id)
            .ok_or(AppError::NotFound)?;
        if channel.origin == ORIGIN_CONFIG {
            return Err(managed("channel", id));
        }
        let users: Vec<&str> = defs
            .rules
            .iter()
            .filter(|r| r.channels.iter().any(|c| c == id))
            .map(|r| r.id.as_str())
            .collect();
        if !users.is_empty() {
            return Err(AppError::Conflict(format!(
                "rules {} send to {id:?}; change them first",
                users.join(", ")
            )));
        }
        let audit = by.entry("alert.channel_deleted", format!("channel:{id}"));
        let (trail, now, id) = (self.trail.clone(), self.clock.now_ms(), id.to_string());
        self.store
            .write(move |c| {
                repo::delete_channel(c, &id)?;
                trail.append(c, now, &audit)?;
                Ok(())
            })
            .await?;
        self.reload().await?;
        Ok(())
    }
}
