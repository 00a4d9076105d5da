//! The `[health]` configuration section.

use serde::{Deserialize, Serialize};

use super::disk::DiskThreshold;
use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// Free space the data directory's filesystem must keep: a size (`1GiB`),
    /// a share (`5%`), or both joined by `or` (healthy while either holds).
    pub min_free_disk: String,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            min_free_disk: "1GiB or 5%".to_string(),
        }
    }
}

impl Section for HealthConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if let Err(e) = DiskThreshold::parse(&self.min_free_disk) {
            problems.push(Problem::new(format!("{prefix}.min_free_disk"), e));
        }
    }
}
