//! Alert rules: what to watch ([`Kind`], one variant per signal), how
//! urgently (severity, labels, runbook), where to send it (channels) and its
//! timings. Where they are kept is [`super::defs`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::config::{RuleConfig, parse_duration};
use super::model::Timing;

/// Every rule kind, as written in `kind = "…"`.
pub const KINDS: &[&str] = &[
    "metric_threshold",
    "check_down",
    "check_degraded",
    "cert_expiry",
    "heartbeat_missed",
    "perf_p95",
    "perf_error_rate",
    "perf_regression",
    "bruteforce",
    "bans_per_hour",
    "new_admin_ip",
    "self_health",
    "trail_broken",
    "error_new_issue",
    "error_regression",
    "error_rate_spike",
    "audit_finding",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A host metric compared with a value (per filesystem for `disk.*`).
    MetricThreshold {
        series: String,
        op: Op,
        value: f64,
    },
    /// A check down (empty = every check).
    CheckDown {
        checks: Vec<String>,
    },
    CheckDegraded {
        checks: Vec<String>,
    },
    /// A certificate with fewer than `days` left.
    CertExpiry {
        checks: Vec<String>,
        days: f64,
    },
    /// A heartbeat check whose ping is late or failed.
    HeartbeatMissed {
        checks: Vec<String>,
    },
    /// A route's p95 over `value` ms in the window.
    PerfP95(PerfWindow),
    /// A route's 5xx share over `value` % in the window.
    PerfErrorRate(PerfWindow),
    /// A route over its performance baseline.
    PerfRegression,
    /// A brute-force detector tripped (per address, for `window`).
    Bruteforce,
    /// More than `value` bans in the last hour.
    BansPerHour {
        value: f64,
    },
    /// An admin logged in from an address never seen for them (in the last 10 minutes).
    NewAdminIp,
    /// Watchpost's database or disk failing, or a background task restarted.
    SelfHealth,
    /// The audit trail's hash chain does not verify (checked hourly).
    TrailBroken,
    /// Error tracking opened a new issue (in the last 10 minutes); `project`
    /// is a project slug, None = every project.
    ErrorNewIssue {
        project: Option<String>,
    },
    /// A resolved issue got a new event (in the last 10 minutes).
    ErrorRegression {
        project: Option<String>,
    },
    /// A project's events in the window exceed `factor` × its usual rate
    /// (the previous 24 hours), and at least `min_events`.
    ErrorRateSpike {
        project: Option<String>,
        factor: f64,
        window_s: i64,
        min_events: u64,
    },
    /// A security audit run found a high finding the run before it did not
    /// have; it holds until a later run no longer finds it.
    AuditFinding,
}

/// Which requests a perf rule judges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfWindow {
    pub source: String,
    /// One route pattern, or every route separately.
    pub route: Option<String>,
    pub value: f64,
    pub window_s: i64,
    pub min_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            ">" => Op::Above,
            ">=" => Op::AtLeast,
            "<" => Op::Below,
            "<=" => Op::AtMost,
            _ => return None,
        })
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Above => left > right,
            Op::AtLeast => left >= right,
            Op::Below => left < right,
            Op::AtMost => left <= right,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Above => ">",
            Op::AtLeast => ">=",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    fn parse(text: &str) -> Option<Severity> {
        Some(match text {
            "critical" => Severity::Critical,
            "warning" => Severity::Warning,
            "info" => Severity::Info,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub kind: Kind,
    pub enabled: bool,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    /// Empty = every channel.
    pub channels: Vec<String>,
    pub runbook: Option<String>,
    pub for_s: i64,
    pub resolve_after_s: i64,
    pub reminder_s: i64,
    /// `default` or `config`.
    pub origin: &'static str,
}

/// The host series a threshold may name, besides `host.*` catalogue names.
pub const DERIVED_SERIES: &[&str] = &[
    "disk.used_percent",
    "memory.used_percent",
    "swap.used_percent",
    "cpu.percent",
    "load.1",
];

fn duration(field: &str, text: Option<&str>, default: Duration) -> Result<i64, String> {
    let Some(text) = text else {
        return Ok(secs(default));
    };
    parse_duration(text)
        .map(secs)
        .ok_or_else(|| format!("{field} {text:?} is not a duration; write it like 30s, 2m or 1h"))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Rule {
    pub fn timing(&self) -> Timing {
        Timing {
            for_ms: self.for_s.saturating_mul(1000),
            resolve_after_ms: self.resolve_after_s.saturating_mul(1000),
            reminder_ms: self.reminder_s.saturating_mul(1000),
        }
    }

    /// A rule from its `[[alerts.rules]]` entry, or what is wrong with it.
    pub fn from_config(c: &RuleConfig, reminder: Duration) -> Result<Rule, String> {
        if c.id.trim().is_empty() || c.id.len() > 64 {
            return Err("give the rule an id of 1 to 64 characters".into());
        }
        let value = |what: &str| {
            c.value
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("kind {:?} needs value = <{what}>", c.kind))
        };
        let kind = match c.kind.as_str() {
            "metric_threshold" => {
                let series = c.series.clone().unwrap_or_default();
                if !DERIVED_SERIES.contains(&series.as_str()) && !series.starts_with("host.") {
                    return Err(format!(
                        "series {series:?} is not a host metric; use one of {} or a host.* series",
                        DERIVED_SERIES.join(", ")
                    ));
                }
                let op = c.op.as_deref().unwrap_or(">");
                let op =
                    Op::parse(op).ok_or_else(|| format!("op {op:?} is not one of >, >=, <, <="))?;
                Kind::MetricThreshold {
                    series,
                    op,
                    value: value("number")?,
                }
            }
            "check_down" => Kind::CheckDown {
                checks: c.checks.clone(),
            },
            "check_degraded" => Kind::CheckDegraded {
                checks: c.checks.clone(),
            },
            "cert_expiry" => Kind::CertExpiry {
                checks: c.checks.clone(),
                days: c.value.unwrap_or(14.0),
            },
            "heartbeat_missed" => Kind::HeartbeatMissed {
                checks: c.checks.clone(),
            },
            "perf_p95" | "perf_error_rate" => {
                let window = PerfWindow {
                    source: c.source.clone().unwrap_or_else(|| "self".into()),
                    route: c.route.clone().filter(|r| !r.is_empty()),
                    value: value(if c.kind == "perf_p95" {
                        "milliseconds"
                    } else {
                        "percent"
                    })?,
                    window_s: duration("window", c.window.as_deref(), Duration::from_secs(300))?
                        .max(60),
                    min_requests: c.min_requests.unwrap_or(20),
                };
                if c.kind == "perf_p95" {
                    Kind::PerfP95(window)
                } else {
                    Kind::PerfErrorRate(window)
                }
            }
            "perf_regression" => Kind::PerfRegression,
            "bruteforce" => Kind::Bruteforce,
            "bans_per_hour" => Kind::BansPerHour {
                value: value("bans")?,
            },
            "self_health" => Kind::SelfHealth,
            "new_admin_ip" => Kind::NewAdminIp,
            "trail_broken" => Kind::TrailBroken,
            "error_new_issue" => Kind::ErrorNewIssue {
                project: c.source.clone().filter(|p| !p.is_empty()),
            },
            "error_regression" => Kind::ErrorRegression {
                project: c.source.clone().filter(|p| !p.is_empty()),
            },
            "error_rate_spike" => Kind::ErrorRateSpike {
                project: c.source.clone().filter(|p| !p.is_empty()),
                factor: c.value.unwrap_or(5.0).max(1.0),
                window_s: duration("window", c.window.as_deref(), Duration::from_secs(300))?
                    .clamp(60, 6 * 3_600),
                min_events: c.min_requests.unwrap_or(10),
            },
            "audit_finding" => Kind::AuditFinding,
            other => return Err(format!("{other:?} is not a rule kind")),
        };
        let severity = c.severity.as_deref().unwrap_or("warning");
        let severity = Severity::parse(severity).ok_or_else(|| {
            format!("severity {severity:?} is not one of critical, warning, info")
        })?;
        if let Some(link) = &c.runbook
            && !(link.starts_with("https://") || link.starts_with("http://"))
        {
            return Err(format!("runbook {link:?} is not an http(s) link"));
        }
        Ok(Rule {
            id: c.id.clone(),
            kind,
            enabled: c.enabled.unwrap_or(true),
            severity,
            labels: c.labels.clone(),
            channels: c.channels.clone(),
            runbook: c.runbook.clone(),
            for_s: duration("for", c.for_.as_deref(), Duration::ZERO)?,
            resolve_after_s: duration("resolve_after", c.resolve_after.as_deref(), Duration::ZERO)?,
            reminder_s: duration("reminder", c.reminder.as_deref(), reminder)?,
            origin: "config",
        })
    }
}

/// The shipped rules, on unless `alerts.default_rules = false`.
pub fn defaults() -> Vec<RuleConfig> {
    let rule = |id: &str, kind: &str, severity: &str, for_: &str| RuleConfig {
        id: id.into(),
        kind: kind.into(),
        severity: Some(severity.into()),
        for_: Some(for_.into()),
        ..RuleConfig::default()
    };
    vec![
        RuleConfig {
            series: Some("disk.used_percent".into()),
            op: Some(">".into()),
            value: Some(90.0),
            ..rule("disk-full", "metric_threshold", "critical", "10m")
        },
        RuleConfig {
            series: Some("memory.used_percent".into()),
            op: Some(">".into()),
            value: Some(95.0),
            ..rule("memory-full", "metric_threshold", "critical", "10m")
        },
        rule("check-down", "check_down", "critical", "2m"),
        RuleConfig {
            value: Some(14.0),
            ..rule("certificate-expiring", "cert_expiry", "warning", "0")
        },
        RuleConfig {
            resolve_after: Some("15m".into()),
            ..rule("brute-force", "bruteforce", "warning", "0")
        },
        rule("watchpost-health", "self_health", "critical", "1m"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_rule_parses_with_the_timings_of_the_issue() {
        let rules: Vec<Rule> = defaults()
            .iter()
            .map(|c| Rule::from_config(c, Duration::from_secs(4 * 3600)).unwrap())
            .collect();
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "disk-full",
                "memory-full",
                "check-down",
                "certificate-expiring",
                "brute-force",
                "watchpost-health"
            ]
        );
        assert_eq!(rules[0].for_s, 600);
        assert_eq!(rules[2].for_s, 120);
        assert!(rules.iter().all(|r| r.reminder_s == 4 * 3600 && r.enabled));
    }

    #[test]
    fn bad_entries_say_what_to_write() {
        let reminder = Duration::from_secs(3600);
        let bad = |c: RuleConfig| Rule::from_config(&c, reminder).unwrap_err();
        let base = RuleConfig {
            id: "r".into(),
            kind: "metric_threshold".into(),
            series: Some("memory.used_percent".into()),
            value: Some(90.0),
            ..RuleConfig::default()
        };
        assert!(
            bad(RuleConfig {
                op: Some("=>".into()),
                ..base.clone()
            })
            .contains("op")
        );
        assert!(
            bad(RuleConfig {
                value: None,
                ..base.clone()
            })
            .contains("value")
        );
        assert!(
            bad(RuleConfig {
                series: Some("x".into()),
                ..base.clone()
            })
            .contains("series")
        );
        assert!(
            bad(RuleConfig {
                for_: Some("soon".into()),
                ..base.clone()
            })
            .contains("for")
        );
        assert!(
            bad(RuleConfig {
                severity: Some("loud".into()),
                ..base.clone()
            })
            .contains("severity")
        );
        assert!(
            bad(RuleConfig {
                runbook: Some("javascript:x".into()),
                ..base
            })
            .contains("runbook")
        );
    }
}
