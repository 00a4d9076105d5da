//! The `[collector]` configuration section: how often the host is sampled,
//! and which filesystems and network interfaces count.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CollectorConfig {
    /// Time between samples (at least `1s`).
    pub interval: String,
    /// Mount points to watch even when their filesystem type is skipped
    /// (tmpfs, overlay, …). Empty: every real filesystem.
    pub filesystems_include: Vec<String>,
    /// Mount points never to watch.
    pub filesystems_exclude: Vec<String>,
    /// Interfaces to watch; empty: every one but `lo`.
    pub interfaces_include: Vec<String>,
    /// Interfaces never to watch.
    pub interfaces_exclude: Vec<String>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            interval: "10s".into(),
            filesystems_include: Vec::new(),
            filesystems_exclude: Vec::new(),
            interfaces_include: Vec::new(),
            interfaces_exclude: Vec::new(),
        }
    }
}

impl CollectorConfig {
    /// The interval; 10 s when it does not parse (validation refuses that first).
    pub fn every(&self) -> Duration {
        humantime::parse_duration(&self.interval)
            .ok()
            .filter(|d| *d >= Duration::from_secs(1))
            .unwrap_or(Duration::from_secs(10))
    }
}

impl Section for CollectorConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        match humantime::parse_duration(&self.interval) {
            Ok(d) if d < Duration::from_secs(1) => problems.push(Problem::new(
                format!("{prefix}.interval"),
                format!(
                    "{:?} is under the 1s minimum; sample at most once a second",
                    self.interval
                ),
            )),
            Ok(_) => {}
            Err(e) => problems.push(Problem::new(
                format!("{prefix}.interval"),
                format!(
                    "{:?} is not a duration ({e}); write e.g. \"10s\"",
                    self.interval
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_has_a_floor() {
        let mut problems = Vec::new();
        let fast = CollectorConfig {
            interval: "500ms".into(),
            ..CollectorConfig::default()
        };
        fast.validate("collector", &mut problems);
        assert_eq!(problems[0].key, "collector.interval");
        assert_eq!(CollectorConfig::default().every(), Duration::from_secs(10));
    }
}
