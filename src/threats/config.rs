//! The `[threats]` section: the allowlist, each detector's thresholds
//! (`[threats.detectors.<name>]`), the rate limit of each route class
//! (`[threats.rate_limits.<class>]`), the host logs to watch
//! (`[[threats.log_sources]]`), the firewall commands run on ban and unban,
//! and inbound webhooks provisioned as code (`[[threats.hooks]]`).
//! Durations are written the human way (`10s`, `4h`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::bucket::Rule;
use super::detect::Detector;
use super::ratelimit::CLASSES;
use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ThreatsConfig {
    /// Addresses and blocks never banned, rate limited or fed to detectors.
    pub allowlist: Vec<String>,
    pub detectors: BTreeMap<String, DetectorConfig>,
    pub rate_limits: BTreeMap<String, LimitConfig>,
    pub log_sources: Vec<LogSource>,
    /// Run when a ban starts: the program and its arguments (no shell). An
    /// argument that is exactly `{ip}` becomes the banned address and
    /// `{seconds}` the ban's length; without `{ip}` the address is appended.
    pub on_ban_command: Vec<String>,
    /// Run when a ban ends (expired or lifted), the same way.
    pub on_unban_command: Vec<String>,
    /// A firewall command still running after this is killed.
    pub command_timeout: String,
    pub hooks: Vec<HookConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DetectorConfig {
    pub enabled: bool,
    /// Hits within one `leak` interval that overflow the bucket (and ban
    /// the sender).
    pub capacity: u32,
    /// How long one hit takes to leak out of the bucket: the window.
    pub leak: String,
    /// The first ban's length; a repeat offender's is twice their last.
    pub ban_for: String,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            enabled: true,
            capacity: 5,
            leak: "2m".into(),
            ban_for: "4h".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitConfig {
    /// Requests per minute, sustained, per client address.
    pub per_minute: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            per_minute: 600,
            burst: 100,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogSource {
    /// A name for the source, unique (its read position is stored under it).
    pub id: String,
    /// `nginx`, `apache`, `sshd` or `journald-ssh`.
    pub kind: String,
    /// The file (globs allowed); not used by `journald-ssh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// nginx `log_format` of the lines, when not `combined` (optionally
    /// followed by `$request_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

pub const SOURCE_KINDS: [&str; 4] = ["nginx", "apache", "sshd", "journald-ssh"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HookConfig {
    pub name: String,
    /// A file holding the shared secret (read at start, sealed in the database).
    pub secret_file: PathBuf,
}

/// The baseline's thresholds (CrowdSec's scenarios, fail2ban's sshd jail).
fn default_detector(d: Detector) -> DetectorConfig {
    let (capacity, leak, ban_for) = match d {
        Detector::PathProbe => (10, "10s", "4h"),
        Detector::SensitiveFile => (4, "5s", "4h"),
        Detector::BadAgent => (1, "10s", "4h"),
        Detector::Traversal => (3, "10s", "4h"),
        Detector::AdminPath => (2, "10s", "4h"),
        Detector::Sqli => (10, "1s", "4h"),
        Detector::Xss => (5, "1s", "4h"),
        Detector::HttpBruteforce | Detector::SshBruteforce => (5, "10m", "10m"),
    };
    DetectorConfig {
        enabled: true,
        capacity,
        leak: leak.into(),
        ban_for: ban_for.into(),
    }
}

fn default_limit(class: &str) -> LimitConfig {
    let (per_minute, burst) = match class {
        "login" => (10, 5),
        "totp" => (10, 5),
        "ingest" => (1_200, 200),
        "pages" => (300, 100),
        "public" => (120, 60),
        _ => (600, 100),
    };
    LimitConfig { per_minute, burst }
}

impl Default for ThreatsConfig {
    fn default() -> Self {
        ThreatsConfig {
            allowlist: vec!["127.0.0.1/32".into(), "::1/128".into()],
            detectors: Detector::ALL
                .into_iter()
                .map(|d| (d.name().to_owned(), default_detector(d)))
                .collect(),
            rate_limits: CLASSES
                .iter()
                .map(|c| ((*c).to_owned(), default_limit(c)))
                .collect(),
            log_sources: Vec::new(),
            on_ban_command: Vec::new(),
            on_unban_command: Vec::new(),
            command_timeout: "10s".into(),
            hooks: Vec::new(),
        }
    }
}

fn duration(value: &str) -> Option<Duration> {
    humantime::parse_duration(value)
        .ok()
        .filter(|d| !d.is_zero())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ThreatsConfig {
    pub fn allow_networks(&self) -> Vec<IpNet> {
        self.allowlist
            .iter()
            .filter_map(|s| crate::http::parse_network(s).ok())
            .collect()
    }

    /// The rule of each detector (validated config; defaults fill gaps).
    pub fn rules(&self) -> BTreeMap<Detector, Rule> {
        Detector::ALL
            .into_iter()
            .map(|d| {
                let fallback = default_detector(d);
                let c = self.detectors.get(d.name()).unwrap_or(&fallback);
                let pick = |v: &str, f: &str| duration(v).or_else(|| duration(f));
                let leak = pick(&c.leak, &fallback.leak).unwrap_or(Duration::from_secs(1));
                let ban = pick(&c.ban_for, &fallback.ban_for).unwrap_or(Duration::from_secs(600));
                let rule = Rule {
                    enabled: c.enabled,
                    capacity: c.capacity.max(1),
                    leak_ms: ms(leak).max(1),
                    ban_ms: ms(ban).max(1),
                };
                (d, rule)
            })
            .collect()
    }

    pub fn limit(&self, class: &str) -> LimitConfig {
        self.rate_limits
            .get(class)
            .cloned()
            .unwrap_or_else(|| default_limit(class))
    }

    pub fn timeout(&self) -> Duration {
        duration(&self.command_timeout).unwrap_or(Duration::from_secs(10))
    }
}

impl Section for ThreatsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        for (i, entry) in self.allowlist.iter().enumerate() {
            if let Err(e) = crate::http::parse_network(entry) {
                problems.push(Problem::new(
                    format!("{prefix}.allowlist[{i}]"),
                    e.to_string(),
                ));
            }
        }
        for (name, d) in &self.detectors {
            let key = format!("{prefix}.detectors.{name}");
            if Detector::from_name(name).is_none() {
                let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
                problems.push(Problem::new(
                    key.clone(),
                    format!("is not a detector; use one of {}", names.join(", ")),
                ));
            }
            if d.capacity == 0 {
                problems.push(Problem::new(
                    format!("{key}.capacity"),
                    "must be at least 1",
                ));
            }
            for (field, value) in [("leak", &d.leak), ("ban_for", &d.ban_for)] {
                if duration(value).is_none() {
                    problems.push(Problem::new(
                        format!("{key}.{field}"),
                        format!(
                            "{value:?} is not a positive duration; write e.g. \"10s\" or \"4h\""
                        ),
                    ));
                }
            }
        }
        for (class, l) in &self.rate_limits {
            let key = format!("{prefix}.rate_limits.{class}");
            if !CLASSES.contains(&class.as_str()) {
                problems.push(Problem::new(
                    key.clone(),
                    format!("is not a route class; use one of {}", CLASSES.join(", ")),
                ));
            }
            if l.per_minute == 0 || l.burst == 0 {
                problems.push(Problem::new(
                    key,
                    "per_minute and burst must both be at least 1",
                ));
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, s) in self.log_sources.iter().enumerate() {
            let key = format!("{prefix}.log_sources[{i}]");
            if s.id.trim().is_empty() || !ids.insert(s.id.as_str()) {
                problems.push(Problem::new(
                    format!("{key}.id"),
                    "must be present and unique",
                ));
            }
            if !SOURCE_KINDS.contains(&s.kind.as_str()) {
                problems.push(Problem::new(
                    format!("{key}.kind"),
                    format!("{:?} is not one of {}", s.kind, SOURCE_KINDS.join(", ")),
                ));
            }
            if s.kind != "journald-ssh" && s.path.as_deref().is_none_or(|p| p.trim().is_empty()) {
                problems.push(Problem::new(
                    format!("{key}.path"),
                    "is required for a log file; e.g. \"/var/log/nginx/access.log\"",
                ));
            }
            if let Some(format) = &s.format
                && let Err(e) = crate::logwatch::access::LineFormat::parse(format)
            {
                problems.push(Problem::new(format!("{key}.format"), e));
            }
        }
        for (key, command) in [
            ("on_ban_command", &self.on_ban_command),
            ("on_unban_command", &self.on_unban_command),
        ] {
            if command.first().is_some_and(|p| !p.starts_with('/')) {
                problems.push(Problem::new(format!("{prefix}.{key}"), "the program must be an absolute path, e.g. \"/usr/sbin/nft\" (no shell runs it)"));
            }
        }
        if duration(&self.command_timeout).is_none() {
            problems.push(Problem::new(
                format!("{prefix}.command_timeout"),
                "is not a positive duration; write e.g. \"10s\"",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, h) in self.hooks.iter().enumerate() {
            if let Err(e) = super::hooks::check_name(&h.name) {
                problems.push(Problem::new(format!("{prefix}.hooks[{i}].name"), e));
            } else if !names.insert(h.name.as_str()) {
                problems.push(Problem::new(
                    format!("{prefix}.hooks[{i}].name"),
                    "is used twice; give each hook its own name",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_baselines_and_validate() {
        let c = ThreatsConfig::default();
        let mut problems = Vec::new();
        c.validate("threats", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let rules = c.rules();
        assert_eq!(rules[&Detector::PathProbe].capacity, 10);
        assert_eq!(rules[&Detector::SensitiveFile].ban_ms, 4 * 3_600_000);
        assert_eq!(rules[&Detector::SshBruteforce].ban_ms, 600_000);
        assert_eq!(c.limit("login").burst, 5);
    }

    #[test]
    fn every_problem_names_its_key() {
        let mut c = ThreatsConfig::default();
        c.allowlist.push("10.0.0.300/8".into());
        c.detectors
            .insert("sqlinjection".into(), DetectorConfig::default());
        if let Some(d) = c.detectors.get_mut("xss") {
            d.leak = "soon".into();
        }
        c.rate_limits.insert(
            "login".into(),
            LimitConfig {
                per_minute: 0,
                burst: 1,
            },
        );
        c.log_sources.push(LogSource {
            id: "a".into(),
            kind: "iis".into(),
            path: None,
            format: None,
        });
        c.on_ban_command = vec!["nft".into()];
        let mut problems = Vec::new();
        c.validate("threats", &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "threats.allowlist[2]",
            "threats.detectors.sqlinjection",
            "threats.detectors.xss.leak",
            "threats.rate_limits.login",
            "threats.log_sources[0].kind",
            "threats.log_sources[0].path",
            "threats.on_ban_command",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }
}
