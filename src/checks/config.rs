//! The checks' configuration: `[[checks]]` entries (config-as-code, each
//! validated as a [`Definition`] under `checks[N]`, ids unique),
//! `[scheduler]` (how many runs may be in flight at once) and
//! `[status_page]` (its title).

use serde::{Deserialize, Serialize};

use super::definition::{BUILTIN, Definition};
use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerConfig {
    /// Check runs in flight at once, across all checks.
    pub max_concurrent: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { max_concurrent: 64 }
    }
}

impl Section for SchedulerConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if !(1..=1024).contains(&self.max_concurrent) {
            problems.push(Problem::new(
                format!("{prefix}.max_concurrent"),
                "must be between 1 and 1024",
            ));
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusPageConfig {
    /// The heading of `/status`.
    pub title: String,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig {
            title: "Service status".into(),
        }
    }
}

impl Section for StatusPageConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        let n = self.title.trim().chars().count();
        if n == 0 || n > 100 || self.title.chars().any(char::is_control) {
            problems.push(Problem::new(
                format!("{prefix}.title"),
                "must be 1 to 100 characters, without control characters",
            ));
        }
    }
}

/// Every problem of the `[[checks]]` entries: each one's own, a repeated
/// id, and the builtin kind (reserved for Watchpost's self-checks).
pub fn validate_entries(entries: &[Definition], problems: &mut Vec<Problem>) {
    for (i, def) in entries.iter().enumerate() {
        let prefix = format!("checks[{i}]");
        if def.kind.trim() == BUILTIN {
            problems.push(Problem::new(
                format!("{prefix}.kind"),
                "builtin is reserved for Watchpost's own checks; use http, tcp, tls or heartbeat",
            ));
            continue;
        }
        if let Err(p) = def.validate(&prefix) {
            problems.extend(p);
        }
        let id = def.id.trim();
        if !id.is_empty() && entries[..i].iter().any(|d| d.id.trim() == id) {
            problems.push(Problem::new(
                format!("{prefix}.id"),
                format!("{id:?} is used by an earlier [[checks]] entry; ids must be unique"),
            ));
        }
        if id.starts_with("watchpost-") {
            problems.push(Problem::new(
                format!("{prefix}.id"),
                "ids starting with watchpost- are Watchpost's own; choose another",
            ));
        }
    }
}
