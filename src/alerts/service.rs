//! The alerting service: evaluates every rule against the [`World`] it
//! gathers, stores each transition and queues each notification in the same
//! transaction, and delivers the outbox with retries, backoff, dead letters
//! and a per-channel rate limit that folds bursts into one digest.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use super::AlertsConfig;
use super::channels::{Channel, Message, Notification};
use super::defs::{self, Defs};
use super::model::{Action, Instance, Notice, Observation, Phase, step};
use super::observe::{Seen, World, observe};
use super::repo::{self, InstanceRow, OutboxRow, Silence};
use super::rules::{Kind, Rule};
use crate::audit_trail::{Actioned, Trail};
use crate::auth::seal::Sealer;
use crate::bus::Signal;
use crate::checks::Checks;
use crate::clock::Clock;
use crate::error::AppError;
use crate::health::HealthState;
use crate::host::Host;
use crate::perf::Perf;
use crate::store::{Store, StoreError};
use crate::tasks::TaskBoard;

/// How long a brute-force signal (or an admin's login from a new address)
/// keeps its alert condition true.
const BRUTE_FORCE_WINDOW_MS: i64 = 10 * 60_000;
/// How long a task restart counts as Watchpost's health failing.
const RESTART_WINDOW_MS: i64 = 10 * 60_000;
/// How often the audit trail is verified for `trail_broken` rules.
const TRAIL_EVERY_MS: i64 = 3_600_000;
const FIRST_RETRY_MS: i64 = 5_000;
const MAX_RETRY_MS: i64 = 30 * 60_000;

/// Where the rules look.
pub struct Sources {
    pub checks: Arc<Checks>,
    pub host: Arc<Host>,
    pub perf: Arc<Perf>,
    pub health: Arc<HealthState>,
    pub tasks: TaskBoard,
    pub bus: crate::bus::Bus,
}

/// Signals from the bus, remembered for the rules that count them.
#[derive(Default)]
struct Heard {
    brute_force: HashMap<String, (i64, String)>,
    bans: VecDeque<i64>,
    new_admin_ips: HashMap<i64, (i64, String)>,
    restarts: HashMap<&'static str, (u32, i64)>,
}

pub struct Alerts {
    pub store: Store,
    pub clock: Clock,
    pub(super) trail: Trail,
    pub(super) sealer: Sealer,
    /// The rules and channels in force; replaced whole after every edit.
    defs: RwLock<Arc<Defs>>,
    /// Reminder interval for rules without their own.
    pub(super) reminder: Duration,
    rate_limit: i64,
    max_attempts: i64,
    pub sources: Sources,
    heard: Mutex<Heard>,
    trail_checked: Mutex<Option<(i64, Option<String>)>>,
    client: reqwest::Client,
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

    fn heard(&self) -> std::sync::MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a bus signal that a rule counts. An admin's login is
    /// looked up in the audit trail: new is an address none of their
    /// earlier logins came from (their first login ever is not new).
    pub async fn hear(&self, signal: &Signal) {
        let now = self.clock.now_ms();
        if let Signal::LoginSucceeded {
            user_id,
            admin: true,
            ip,
        } = signal
        {
            let (trail, target, from) = (self.trail.clone(), format!("user:{user_id}"), ip.clone());
            match self
                .store
                .read(move |c| trail.earlier_logins(c, &target, &from))
                .await
            {
                Ok((all, from_ip)) if all > 0 && from_ip == 0 => {
                    self.heard()
                        .new_admin_ips
                        .insert(*user_id, (now, ip.clone()));
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reading earlier logins failed"),
            }
            return;
        }
        let mut heard = self.heard();
        match signal {
            Signal::BruteForce { ip, detector, .. } => {
                heard
                    .brute_force
                    .insert(ip.clone(), (now, (*detector).to_string()));
            }
            Signal::BanCreated { .. } => heard.bans.push_back(now),
            _ => {}
        }
    }

    /// Everything the rules look at, now.
    pub async fn world(&self) -> Result<World, AppError> {
        let now = self.clock.now_ms();
        let checks = self
            .sources
            .checks
            .all()
            .await?
            .into_iter()
            .filter(|c| !c.row.paused)
            .map(|c| c.row)
            .collect();
        let mut self_failing: Vec<String> = self
            .sources
            .health
            .failing()
            .await
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        let (brute_force, bans_last_hour, new_admin_ips) = {
            let statuses = self.sources.tasks.read();
            let mut heard = self.heard();
            for (name, status) in statuses {
                let seen = heard.restarts.entry(name).or_insert((status.restarts, 0));
                if status.restarts > seen.0 {
                    *seen = (status.restarts, now);
                }
                if seen.1 > 0 && now - seen.1 < RESTART_WINDOW_MS {
                    self_failing.push(format!("task:{name}"));
                }
            }
            heard
                .brute_force
                .retain(|_, (at, _)| now - *at < BRUTE_FORCE_WINDOW_MS);
            while heard.bans.front().is_some_and(|t| now - t >= 3_600_000) {
                heard.bans.pop_front();
            }
            let mut brute_force: Vec<(String, String)> = heard
                .brute_force
                .iter()
                .map(|(ip, (_, d))| (ip.clone(), d.clone()))
                .collect();
            brute_force.sort();
            let bans_last_hour = heard.bans.len();
            heard
                .new_admin_ips
                .retain(|_, (at, _)| now - *at < BRUTE_FORCE_WINDOW_MS);
            let mut new_admin_ips: Vec<(i64, String)> = heard
                .new_admin_ips
                .iter()
                .map(|(user, (_, ip))| (*user, ip.clone()))
                .collect();
            new_admin_ips.sort();
            (brute_force, bans_last_hour, new_admin_ips)
        };
        let regressions = self
            .sources
            .perf
            .active_regressions()
            .into_iter()
            .map(|((source, route, method), active)| {
                (source, method, route, format!("{:?}", active.reason))
            })
            .collect();
        let mut perf_recent = Vec::new();
        for rule in self.defs().rules.iter().filter(|r| r.enabled) {
            let (Kind::PerfP95(w) | Kind::PerfErrorRate(w)) = &rule.kind else {
                continue;
            };
            if perf_recent
                .iter()
                .any(|(s, win, _)| *s == w.source && *win == w.window_s)
            {
                continue;
            }
            let routes =
                crate::perf::views::recent(&self.sources.perf, &w.source, w.window_s).await?;
            perf_recent.push((w.source.clone(), w.window_s, routes));
        }
        Ok(World {
            checks,
            host: self.sources.host.latest(),
            regressions,
            self_failing,
            brute_force,
            bans_last_hour,
            new_admin_ips,
            perf_recent,
            trail_problem: self.trail_problem(now).await?,
        })
    }

    /// Why the audit trail does not verify, if it does not; verified at
    /// most once an hour, and only when a rule watches it.
    async fn trail_problem(&self, now: i64) -> Result<Option<String>, AppError> {
        if !self
            .defs()
            .rules
            .iter()
            .any(|r| r.enabled && r.kind == Kind::TrailBroken)
        {
            return Ok(None);
        }
        let cached = self
            .trail_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((at, problem)) = cached
            && now - at < TRAIL_EVERY_MS
        {
            return Ok(problem);
        }
        let trail = self.trail.clone();
        let verdict = self.store.read(move |c| trail.verify(c)).await?;
        let problem = match verdict {
            crate::audit_trail::Verdict::Intact { .. } => None,
            crate::audit_trail::Verdict::Broken { id, problem } => {
                Some(format!("row {id}: {problem}"))
            }
        };
        *self.trail_checked.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((now, problem.clone()));
        Ok(problem)
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

    /// Sends what is due. Per channel: within the rate limit each goes on
    /// its own; over it, everything due goes as one digest once the minute
    /// allows. Returns how many notifications went out.
    pub async fn deliver_due(&self) -> Result<usize, AppError> {
        let now = self.clock.now_ms();
        let due = self.store.read(move |c| repo::due(c, now, 500)).await?;
        let mut sent = 0;
        let defs = self.defs();
        for channel in &defs.channels {
            let mine: Vec<OutboxRow> = due
                .iter()
                .filter(|r| r.channel_id == channel.id)
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            let id = channel.id.clone();
            let recent = self
                .store
                .read(move |c| repo::sent_since(c, &id, now - 60_000))
                .await?;
            let room = (self.rate_limit - recent).max(0);
            let batches: Vec<Vec<OutboxRow>> =
                if i64::try_from(mine.len()).unwrap_or(i64::MAX) <= room {
                    mine.into_iter().map(|r| vec![r]).collect()
                } else if room > 0 {
                    vec![mine]
                } else {
                    Vec::new()
                };
            for batch in batches {
                sent += self.send_batch(channel, batch, now).await?;
            }
        }
        Ok(sent)
    }

    async fn send_batch(
        &self,
        channel: &Channel,
        batch: Vec<OutboxRow>,
        now: i64,
    ) -> Result<usize, AppError> {
        let notes: Vec<Notification> = batch
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect();
        let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
        let (message, digest_key) = if batch.len() == 1 {
            match notes.into_iter().next() {
                Some(n) => (Message::One(Box::new(n)), None),
                None => {
                    self.store
                        .write(move |c| {
                            repo::mark_failed(
                                c,
                                &ids,
                                "the stored notification is not readable",
                                None,
                            )
                        })
                        .await?;
                    return Ok(0);
                }
            }
        } else {
            let key = format!("digest-{}-{}", uuid::Uuid::now_v7(), channel.id);
            (
                Message::Digest {
                    digest: true,
                    idempotency_key: key.clone(),
                    notifications: notes,
                },
                Some(key),
            )
        };
        let result = super::channels::deliver(&self.client, channel, &message, now / 1000).await;
        let attempts = batch.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
        let count = ids.len();
        match result {
            Ok(()) => {
                self.store
                    .write(move |c| repo::mark_sent(c, &ids, now, digest_key.as_deref()))
                    .await?;
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(channel = %channel.id, attempts, error = %error, "alert delivery failed");
                let next = (attempts < self.max_attempts).then(|| now + backoff_ms(attempts));
                self.store
                    .write(move |c| repo::mark_failed(c, &ids, &error, next))
                    .await?;
                Ok(0)
            }
        }
    }

    /// Queues a test notification on `channel_id`, audited.
    pub async fn send_test(&self, channel_id: &str, by: &Actioned) -> Result<(), AppError> {
        let defs = self.defs();
        let channel = defs
            .channels
            .iter()
            .find(|c| c.id == channel_id)
            .ok_or(AppError::NotFound)?;
        let now = self.clock.now_ms();
        let n = test_notification(
            &channel.id,
            self.base_url.get().map_or("", String::as_str),
            now,
        );
        let body = serde_json::to_string(&n).unwrap_or_default();
        let (id, key) = (channel.id.clone(), n.idempotency_key.clone());
        let entry = by.entry("alert.channel_tested", format!("channel:{id}"));
        let trail = self.trail.clone();
        self.store
            .write(move |c| {
                repo::enqueue(c, &id, &key, &body, now)?;
                trail.append(c, now, &entry)?;
                Ok(())
            })
            .await?;
        self.queued.notify_one();
        Ok(())
    }

    /// Starts a silence, audited. `minutes` from now, with a comment.
    pub async fn add_silence(
        &self,
        mut silence: Silence,
        minutes: i64,
        by: &Actioned,
        who: &str,
    ) -> Result<Silence, AppError> {
        silence.created_by = who.to_string();
        let now = self.clock.now_ms();
        start_silence(
            &self.store,
            &self.trail,
            &self.defs().rules,
            silence,
            minutes,
            by,
            now,
        )
        .await
    }

    /// Ends a silence now, audited.
    pub async fn end_silence(&self, id: i64, by: &Actioned) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let entry = by.entry("alert.silence_ended", format!("silence:{id}"));
        let trail = self.trail.clone();
        let ended = self
            .store
            .write(move |c| {
                let ended = repo::end_silence(c, id, now)?;
                if ended {
                    trail.append(c, now, &entry)?;
                }
                Ok(ended)
            })
            .await?;
        if ended {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// A dead letter queued again, audited.
    pub async fn retry(&self, id: i64, by: &Actioned) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let entry = by.entry("alert.delivery_retried", format!("notification:{id}"));
        let trail = self.trail.clone();
        let done = self
            .store
            .write(move |c| {
                let done = repo::requeue(c, id, now)?;
                if done {
                    trail.append(c, now, &entry)?;
                }
                Ok(done)
            })
            .await?;
        if !done {
            return Err(AppError::NotFound);
        }
        self.queued.notify_one();
        Ok(())
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

/// The notification "send test" sends on `channel_id`.
pub fn test_notification(channel_id: &str, base_url: &str, now_ms: i64) -> Notification {
    Notification {
        rule: "test".into(),
        status: "firing".into(),
        notice: Notice::Firing.as_str().into(),
        severity: "info".into(),
        summary: format!("A test notification from Watchpost to channel {channel_id:?}"),
        subject: format!("channel:{channel_id}"),
        started_at: rfc3339(now_ms),
        idempotency_key: format!("{}-{channel_id}", uuid::Uuid::now_v7()),
        labels: Default::default(),
        runbook: None,
        url: format!("{base_url}/alerts"),
    }
}

/// Validates and stores a silence of `minutes` from `now_ms`, audited
/// (the page, the API and the CLI all start silences here).
pub async fn start_silence(
    store: &Store,
    trail: &Trail,
    rules: &[Rule],
    mut silence: Silence,
    minutes: i64,
    by: &Actioned,
    now_ms: i64,
) -> Result<Silence, AppError> {
    check_silence(rules, &silence, minutes)?;
    silence.starts_ms = now_ms;
    silence.ends_ms = now_ms + minutes * 60_000;
    silence.created_ms = now_ms;
    let target = if silence.rule_id.is_empty() {
        "*"
    } else {
        &silence.rule_id
    };
    let entry = by
        .entry("alert.silenced", format!("rule:{target}"))
        .detail("subject", silence.subject.clone())
        .detail("label", silence.label.clone())
        .detail("minutes", minutes)
        .pii_detail("comment", silence.comment.clone());
    let (trail, s) = (trail.clone(), silence.clone());
    silence.id = store
        .write(move |c| {
            let id = repo::add_silence(c, &s)?;
            trail.append(c, now_ms, &entry)?;
            Ok(id)
        })
        .await?;
    Ok(silence)
}

/// What is wrong with a silence of `minutes`, if anything.
fn check_silence(rules: &[Rule], silence: &Silence, minutes: i64) -> Result<(), AppError> {
    if !(1..=60 * 24 * 90).contains(&minutes) {
        return Err(AppError::BadRequest(
            "minutes must be between 1 and 129600 (90 days)".into(),
        ));
    }
    if silence.comment.trim().is_empty() || silence.comment.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "say why in a comment of 1 to 500 characters".into(),
        ));
    }
    if !silence.rule_id.is_empty() && !rules.iter().any(|r| r.id == silence.rule_id) {
        return Err(AppError::BadRequest(format!(
            "{:?} is not a rule id",
            silence.rule_id
        )));
    }
    if !silence.label.is_empty() && !silence.label.contains('=') {
        return Err(AppError::BadRequest(
            "label must be written name=value".into(),
        ));
    }
    if [&silence.subject, &silence.label]
        .iter()
        .any(|t| t.chars().count() > 200 || t.chars().any(char::is_control))
    {
        return Err(AppError::BadRequest(
            "subject and label must be at most 200 printable characters".into(),
        ));
    }
    Ok(())
}

/// Whether `silence` covers `rule` on `subject` at `now_ms`.
pub fn covers(silence: &Silence, rule: &Rule, subject: &str, now_ms: i64) -> bool {
    let label_matches = silence.label.split_once('=').is_none_or(|(name, value)| {
        rule.labels
            .get(name.trim())
            .is_some_and(|v| v == value.trim())
    });
    silence.starts_ms <= now_ms
        && now_ms < silence.ends_ms
        && (silence.rule_id.is_empty() || silence.rule_id == rule.id)
        && subject.starts_with(&silence.subject)
        && label_matches
}

/// Exponential backoff with jitter: 5 s, 10 s, 20 s … up to 30 min, ±25 %.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = FIRST_RETRY_MS.saturating_mul(1i64 << exp).min(MAX_RETRY_MS);
    let jitter = i64::from(uuid::Uuid::new_v4().as_bytes()[0]) * base / 1020 - base / 8;
    base + jitter
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_is_capped() {
        for attempts in 1..30 {
            let base = (FIRST_RETRY_MS << (attempts.min(20) - 1)).min(MAX_RETRY_MS);
            let b = backoff_ms(attempts);
            assert!(
                b >= base - base / 8 && b <= base + base / 8,
                "{attempts}: {b}"
            );
        }
    }

    #[test]
    fn silences_match_by_rule_subject_and_label() {
        let defaults = super::super::rules::defaults();
        let mut rule = Rule::from_config(&defaults[2], Duration::ZERO).unwrap();
        assert_eq!(rule.id, "check-down");
        rule.labels.insert("team".into(), "web".into());
        let s = |rule_id: &str, subject: &str, label: &str| Silence {
            id: 1,
            rule_id: rule_id.into(),
            subject: subject.into(),
            label: label.into(),
            starts_ms: 0,
            ends_ms: 100,
            created_by: "a".into(),
            comment: "c".into(),
            created_ms: 0,
        };
        assert!(covers(&s("", "", ""), &rule, "check:web", 50));
        assert!(covers(
            &s("check-down", "check:", "team=web"),
            &rule,
            "check:web",
            50
        ));
        assert!(!covers(&s("disk-full", "", ""), &rule, "check:web", 50));
        assert!(!covers(&s("", "check:api", ""), &rule, "check:web", 50));
        assert!(!covers(&s("", "", "team=db"), &rule, "check:web", 50));
        assert!(!covers(&s("", "", ""), &rule, "check:web", 100), "ended");
    }
}
