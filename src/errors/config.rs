//! The `[errors]` section: the global ingest quotas (every project
//! together), the most undigested items kept before ingest answers 429, and
//! how many items one digest pass takes. Per-project quotas and retention
//! are set on each project's page.

use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorsConfig {
    /// Events and transactions accepted per minute, all projects together.
    pub quota_per_minute: u32,
    /// … and per hour.
    pub quota_per_hour: u32,
    /// Undigested items kept before ingest refuses with 429.
    pub max_backlog: u32,
    /// Items one digest pass reads and commits in one transaction.
    pub digest_batch: u32,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig {
            quota_per_minute: 60_000,
            quota_per_hour: 1_000_000,
            max_backlog: 100_000,
            digest_batch: 500,
        }
    }
}

impl Section for ErrorsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        let positive = [
            ("quota_per_minute", self.quota_per_minute, "e.g. 60000"),
            ("quota_per_hour", self.quota_per_hour, "e.g. 1000000"),
            ("max_backlog", self.max_backlog, "e.g. 100000"),
        ];
        for (key, value, example) in positive {
            if value == 0 {
                problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("must be at least 1, {example}"),
                ));
            }
        }
        if !(1..=5_000).contains(&self.digest_batch) {
            problems.push(Problem::new(
                format!("{prefix}.digest_batch"),
                "must be 1 to 5000, e.g. 500",
            ));
        }
    }
}
