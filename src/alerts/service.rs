//! The alerting service: the rules and channels in force, and evaluation —
//! every rule against the world `world.rs` gathers, each transition stored
//! and each notification queued in the same transaction — plus the preview.
//! Delivery is in `delivery.rs`, silences in `silences.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use super::AlertsConfig;
use super::channels::{Channel, Notification};
use super::defs::{self, Defs};
use super::delivery::rfc3339;
use super::model::{Action, Instance, Notice, Observation, Phase, step};
use super::observe::{Seen, observe};
use super::repo::{self, InstanceRow, OutboxRow, Silence};
use super::rules::Rule;
use super::silences::covers;
use super::world::Heard;
use crate::audit_trail::Trail;
use crate::auth::seal::Sealer;
use crate::checks::Checks;
use crate::clock::Clock;
use crate::error::AppError;
use crate::health::HealthState;
use crate::host::Host;
use crate::perf::Perf;
use crate::store::{Store, StoreError};
use crate::tasks::TaskBoard;

/// Where the rules look.
pub struct Sources {
    pub checks: Arc<Checks>,
    pub host: Arc<Host>,
    pub perf: Arc<Perf>,
    pub health: Arc<HealthState>,
    pub tasks: TaskBoard,
    pub bus: crate::bus::Bus,
}

pub struct Alerts {
    pub store: Store,
    pub clock: Clock,
    pub(super) trail: Trail,
    pub(super) sealer: Sealer,
    /// The rules and channels in force; replaced whole after every edit.
    pub(super) defs: RwLock<Arc<Defs>>,
    /// Reminder interval for rules without their own.
    pub(super) reminder: Duration,
    pub(super) rate_limit: i64,
    pub(super) max_attempts: i64,
    pub sources: Sources,
    pub(super) heard: Mutex<Heard>,
    pub(super) trail_checked: Mutex<Option<(i64, Option<String>)>>,
    pub(super) client: reqwest::Client,
    pub base_url: OnceLock<String>,
    /// Woken when something is queued, so delivery need not wait for its tick.
    pub queued: tokio::sync::Notify,
}

impl Alerts {
    /// Provisions the configuration's rules and channels, loads what is in
    /// force, and makes the delivery client.
    pub async fn start(
        config: &AlertsConfig,
        store: Store,
        clock: Clock,
        trail: Trail,
        sealer: Sealer,
        sources: Sources,
    ) -> anyhow::Result<Alerts> {
        let sealed = config
            .channels
            .iter()
            .map(|c| {
                Channel::from_config(c)?;
                defs::seal(&sealer, c, defs::ORIGIN_CONFIG)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(anyhow::Error::msg)?;
        let (file, now) = (config.clone(), clock.now_ms());
        store
            .write(move |c| defs::provision(c, &file, &sealed, now))
            .await?;
        let client = super::channels::client()?;
        let alerts = Alerts {
            store,
            clock,
            trail,
            sealer,
            defs: RwLock::default(),
            reminder: config.reminder(),
            rate_limit: i64::from(config.rate_limit_per_minute.max(1)),
            max_attempts: i64::from(config.max_attempts.max(1)),
            sources,
            heard: Mutex::new(Heard::default()),
            trail_checked: Mutex::new(None),
            client,
            base_url: OnceLock::new(),
            queued: tokio::sync::Notify::new(),
        };
        alerts.reload().await?;
        Ok(alerts)
    }

    /// The rules and channels in force now.
    pub fn defs(&self) -> Arc<Defs> {
        self.defs.read().map(|d| d.clone()).unwrap_or_default()
    }

    /// Reads the stored rules and channels again (after an edit).
    pub(super) async fn reload(&self) -> Result<(), StoreError> {
        let (sealer, reminder) = (self.sealer.clone(), self.reminder);
        let (loaded, problems) = self
            .store
            .read(move |c| defs::load(c, &sealer, reminder))
            .await?;
        for problem in problems {
            tracing::warn!(problem = %problem, "an alert definition is not in force");
        }
        if let Ok(mut defs) = self.defs.write() {
            *defs = Arc::new(loaded);
        }
        Ok(())
    }

    /// One evaluation of every rule: transitions stored, notifications queued.
    pub async fn evaluate(&self) -> Result<usize, AppError> {
        let world = self.world().await?;
        let now = self.clock.now_ms();
        let (stored, silences) = self
            .store
            .read(move |c| Ok((repo::instances(c)?, repo::silences(c, now)?)))
            .await?;
        let mut stored: HashMap<(String, String), InstanceRow> = stored
            .into_iter()
            .map(|r| ((r.rule_id.clone(), r.subject.clone()), r))
            .collect();
        let mut writes: Vec<Write> = Vec::new();
        let defs = self.defs();
        for rule in defs.rules.iter().filter(|r| r.enabled) {
            let mut seen_now = observe(rule, &world);
            // Subjects seen before but gone now (a deleted check) are clear.
            for ((rule_id, subject), row) in &stored {
                if *rule_id == rule.id && !seen_now.iter().any(|s| s.subject == *subject) {
                    seen_now.push(Seen {
                        subject: subject.clone(),
                        active: false,
                        summary: row.summary.clone(),
                        maintenance: false,
                    });
                }
            }
            for seen in seen_now {
                let before = stored
                    .remove(&(rule.id.clone(), seen.subject.clone()))
                    .and_then(|r| r.state)
                    .unwrap_or_else(|| Instance::new(now));
                let silenced = seen.maintenance
                    || silences.iter().any(|s| covers(s, rule, &seen.subject, now));
                let observation = Observation {
                    active: seen.active,
                    silenced,
                };
                let (after, actions) = step(before.clone(), observation, now, rule.timing());
                if after != before || !actions.is_empty() {
                    writes.push(self.write_for(&defs, rule, seen, after, actions, now));
                }
            }
        }
        let changed = writes.len();
        if changed > 0 {
            let queued = writes.iter().any(|w| !w.outbox.is_empty());
            self.store
                .write(move |c| {
                    for w in &writes {
                        repo::save_instance(
                            c,
                            &w.rule_id,
                            &w.subject,
                            &w.instance,
                            &w.summary,
                            &w.severity,
                        )?;
                        for (event, summary) in &w.events {
                            repo::add_event(c, now, &w.rule_id, &w.subject, event, summary)?;
                        }
                        for (channel, key, body) in &w.outbox {
                            repo::enqueue(c, channel, key, body, now)?;
                        }
                    }
                    Ok(())
                })
                .await?;
            if queued {
                self.queued.notify_one();
            }
        }
        Ok(changed)
    }

    fn write_for(
        &self,
        defs: &Defs,
        rule: &Rule,
        seen: Seen,
        after: Instance,
        actions: Vec<Action>,
        now: i64,
    ) -> Write {
        let mut events = Vec::new();
        let mut outbox = Vec::new();
        for action in actions {
            match action {
                Action::Transition { to, .. } => {
                    events.push((to.as_str().to_string(), seen.summary.clone()))
                }
                Action::Flapping => events.push(("flapping".into(), seen.summary.clone())),
                Action::Notify(notice) => {
                    if notice == Notice::Resolved {
                        events.push(("resolved".into(), seen.summary.clone()));
                    }
                    let started = if notice == Notice::Resolved {
                        now
                    } else {
                        after.since_ms
                    };
                    for channel in channels_of(defs, rule) {
                        let n = self.notification(rule, &seen, notice, started, &channel.id);
                        let body = serde_json::to_string(&n).unwrap_or_default();
                        outbox.push((channel.id.clone(), n.idempotency_key, body));
                    }
                    if channels_of(defs, rule).next().is_some() {
                        events.push(("notified".into(), format!("{} sent", notice.as_str())));
                    }
                }
            }
        }
        Write {
            rule_id: rule.id.clone(),
            subject: seen.subject,
            instance: after,
            summary: seen.summary,
            severity: rule.severity.as_str().into(),
            events,
            outbox,
        }
    }

    fn notification(
        &self,
        rule: &Rule,
        seen: &Seen,
        notice: Notice,
        started_ms: i64,
        channel: &str,
    ) -> Notification {
        Notification {
            rule: rule.id.clone(),
            status: if notice == Notice::Resolved {
                "resolved"
            } else {
                "firing"
            }
            .into(),
            notice: notice.as_str().into(),
            severity: rule.severity.as_str().into(),
            summary: seen.summary.clone(),
            subject: seen.subject.clone(),
            started_at: rfc3339(started_ms),
            idempotency_key: format!("{}-{channel}", uuid::Uuid::now_v7()),
            labels: rule.labels.clone(),
            runbook: rule.runbook.clone(),
            url: format!("{}/alerts", self.base_url.get().map_or("", String::as_str)),
        }
    }

    /// Would `rule` fire now, and why: each subject it sees, whether the
    /// condition holds, and what the stored state makes of it.
    pub async fn preview(&self, rule: &Rule) -> Result<Vec<Preview>, AppError> {
        let world = self.world().await?;
        let now = self.clock.now_ms();
        let stored = self.store.read(repo::instances).await?;
        Ok(observe(rule, &world)
            .into_iter()
            .map(|seen| {
                let phase = stored
                    .iter()
                    .find(|r| r.rule_id == rule.id && r.subject == seen.subject)
                    .map(|r| (r.phase, r.since_ms));
                let held_ms = match phase {
                    Some((Phase::Pending | Phase::Firing, since)) => now - since,
                    _ => 0,
                };
                let would_fire = seen.active && held_ms >= rule.for_s.saturating_mul(1000);
                let why = match (seen.active, would_fire) {
                    (false, _) => "the condition does not hold".to_string(),
                    (true, true) => "the condition holds and has held for `for`".to_string(),
                    (true, false) => format!(
                        "the condition holds, but `for` ({} s) has not passed yet",
                        rule.for_s
                    ),
                };
                Preview {
                    subject: seen.subject,
                    active: seen.active,
                    would_fire,
                    summary: seen.summary,
                    why,
                    phase: phase.map_or("inactive", |(p, _)| p.as_str()),
                }
            })
            .collect())
    }

    /// The stored history, for the pages and the API.
    pub async fn snapshot(
        &self,
    ) -> Result<
        (
            Vec<InstanceRow>,
            Vec<repo::EventRow>,
            Vec<Silence>,
            Vec<OutboxRow>,
        ),
        StoreError,
    > {
        let now = self.clock.now_ms();
        self.store
            .read(move |c| {
                Ok((
                    repo::instances(c)?,
                    repo::events(c, 200)?,
                    repo::silences(c, now)?,
                    repo::outbox(c, None, 200)?,
                ))
            })
            .await
    }
}

/// One subject of a previewed rule.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub subject: String,
    /// The condition holds now.
    pub active: bool,
    /// It holds and has held for the rule's `for`: it fires (or fires on).
    pub would_fire: bool,
    pub summary: String,
    pub why: String,
    /// The stored state of this rule on this subject.
    pub phase: &'static str,
}

/// What one evaluation writes for one instance.
struct Write {
    rule_id: String,
    subject: String,
    instance: Instance,
    summary: String,
    severity: String,
    events: Vec<(String, String)>,
    outbox: Vec<(String, String, String)>,
}

/// The channels `rule` sends to (every channel when it names none).
fn channels_of<'a>(defs: &'a Defs, rule: &'a Rule) -> impl Iterator<Item = &'a Channel> + 'a {
    defs.channels
        .iter()
        .filter(move |c| rule.channels.is_empty() || rule.channels.contains(&c.id))
}
