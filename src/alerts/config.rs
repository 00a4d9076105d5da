//! The `[alerts]` section: how often rules are evaluated, the defaults for
//! reminders and delivery, whether the shipped default rules are on, and
//! the `[[alerts.channels]]` and `[[alerts.rules]]` provisioned from the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rules::{KINDS, Rule};
use crate::config::{Problem, Secret, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often every rule is evaluated.
    pub evaluate_every: String,
    /// The shipped rules (disk, memory, checks down, certificates, brute
    /// force, Watchpost's own health). A `[[alerts.rules]]` entry with the
    /// same id replaces one.
    pub default_rules: bool,
    /// Reminder interval while firing, for rules that do not set one ("0" = none).
    pub reminder: String,
    /// Notifications per channel per minute; a burst beyond is sent as one digest.
    pub rate_limit_per_minute: u32,
    /// Delivery attempts before a notification is dead-lettered.
    pub max_attempts: u32,
    pub channels: Vec<ChannelConfig>,
    pub rules: Vec<RuleConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            evaluate_every: "15s".into(),
            default_rules: true,
            reminder: "4h".into(),
            rate_limit_per_minute: 30,
            max_attempts: 8,
            channels: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// `[[alerts.channels]]`. Which fields apply depends on `kind`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: String,
    /// webhook | slack | discord | ntfy | telegram | email
    pub kind: String,
    /// The webhook, Slack or Discord URL, or the ntfy topic URL. A secret
    /// for Slack and Discord (the URL is the credential).
    #[schema(value_type = Option<String>)]
    pub url: Option<Secret>,
    /// webhook: a file holding the HMAC secret the body is signed with.
    #[schema(value_type = Option<String>)]
    pub secret_file: Option<PathBuf>,
    /// webhook: the secret itself (channels made in the UI or the API).
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
    /// ntfy: 1 (min) … 5 (max); by default from the severity.
    pub priority: Option<u8>,
    /// ntfy: tags shown as emoji or labels.
    pub tags: Vec<String>,
    /// telegram: the bot token (or `bot_token_file`).
    #[schema(value_type = Option<String>)]
    pub bot_token: Option<Secret>,
    #[schema(value_type = Option<String>)]
    pub bot_token_file: Option<PathBuf>,
    /// telegram: the chat to post to.
    pub chat_id: Option<String>,
    /// email: the SMTP server.
    pub smtp_host: Option<String>,
    /// email: its port (465 for tls, 587 for starttls, 25 for none).
    pub smtp_port: Option<u16>,
    /// email: `starttls` (default), `tls`, or `none` (loopback relays only).
    pub tls: Option<String>,
    /// email: SMTP login (with `password` or `password_file`).
    pub username: Option<String>,
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    #[schema(value_type = Option<String>)]
    pub password_file: Option<PathBuf>,
    /// email: the sender, like `Watchpost <watchpost@example.com>`.
    pub from: Option<String>,
    /// email: the recipients.
    pub to: Vec<String>,
}

/// `[[alerts.rules]]`. Which fields apply depends on `kind`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    pub id: String,
    pub kind: String,
    pub enabled: Option<bool>,
    /// Check kinds: the check slugs; empty = every check.
    pub checks: Vec<String>,
    /// metric_threshold: the series (`disk.used_percent`, `memory.used_percent`, …).
    pub series: Option<String>,
    /// metric_threshold: `>`, `>=`, `<`, `<=`.
    pub op: Option<String>,
    /// The threshold: a metric value, days (cert_expiry), bans
    /// (bans_per_hour), milliseconds (perf_p95), percent (perf_error_rate),
    /// a factor over the usual rate (error_rate_spike, 5 by default).
    pub value: Option<f64>,
    /// perf kinds: the source (`self`, `nginx:<id>`, `app:<project>`); `self`
    /// by default. error kinds: a project slug; every project by default.
    pub source: Option<String>,
    /// perf kinds: one route pattern; every route separately by default.
    pub route: Option<String>,
    /// perf kinds: the window judged (`5m` by default).
    pub window: Option<String>,
    /// perf kinds: fewer requests in the window never fire (20 by default);
    /// error_rate_spike: fewer events never fire (10 by default).
    pub min_requests: Option<u64>,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    pub resolve_after: Option<String>,
    pub reminder: Option<String>,
    /// critical | warning | info
    pub severity: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Channel ids; empty = every channel.
    pub channels: Vec<String>,
    pub runbook: Option<String>,
}

pub const CHANNEL_KINDS: &[&str] = &["webhook", "slack", "discord", "ntfy", "telegram", "email"];

/// A duration such as `15s`, `2m`, `4h`; `0` is zero.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text.trim() == "0" {
        return Some(Duration::ZERO);
    }
    humantime::parse_duration(text.trim()).ok()
}

impl AlertsConfig {
    pub fn evaluate_every(&self) -> Duration {
        parse_duration(&self.evaluate_every)
            .filter(|d| *d >= Duration::from_secs(1))
            .unwrap_or(Duration::from_secs(15))
    }

    pub fn reminder(&self) -> Duration {
        parse_duration(&self.reminder).unwrap_or(Duration::from_secs(4 * 3600))
    }
}

impl Section for AlertsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        for (key, value) in [
            ("evaluate_every", &self.evaluate_every),
            ("reminder", &self.reminder),
        ] {
            if parse_duration(value).is_none() {
                problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("{value:?} is not a duration; write it like 15s, 2m or 4h"),
                ));
            }
        }
        if self.rate_limit_per_minute == 0 {
            problems.push(Problem::new(
                format!("{prefix}.rate_limit_per_minute"),
                "must be at least 1",
            ));
        }
        if !(1..=50).contains(&self.max_attempts) {
            problems.push(Problem::new(
                format!("{prefix}.max_attempts"),
                "must be between 1 and 50",
            ));
        }
        let mut ids = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            let key = format!("{prefix}.channels[{i}]");
            if c.id.trim().is_empty() {
                problems.push(Problem::new(format!("{key}.id"), "give the channel an id"));
            } else if ids.contains(&c.id) {
                problems.push(Problem::new(
                    format!("{key}.id"),
                    format!("{:?} is used twice; channel ids must be unique", c.id),
                ));
            }
            ids.push(c.id.clone());
            if let Err(message) = super::channels::Channel::from_config(c) {
                problems.push(Problem::new(key, message));
            }
        }
        let mut rule_ids = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            let key = format!("{prefix}.rules[{i}]");
            if rule_ids.contains(&r.id) {
                problems.push(Problem::new(
                    format!("{key}.id"),
                    format!("{:?} is used twice; rule ids must be unique", r.id),
                ));
            }
            rule_ids.push(r.id.clone());
            if !KINDS.contains(&r.kind.as_str()) {
                problems.push(Problem::new(
                    format!("{key}.kind"),
                    format!(
                        "{:?} is not a rule kind; use one of {}",
                        r.kind,
                        KINDS.join(", ")
                    ),
                ));
                continue;
            }
            if let Err(message) = Rule::from_config(r, self.reminder()) {
                problems.push(Problem::new(key.clone(), message));
            }
            for channel in &r.channels {
                if !ids.contains(channel) {
                    problems.push(Problem::new(
                        format!("{key}.channels"),
                        format!("{channel:?} is not the id of an [[alerts.channels]] entry"),
                    ));
                }
            }
        }
    }
}
