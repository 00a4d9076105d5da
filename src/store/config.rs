//! The `[storage]` configuration section: where Watchpost keeps its data.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// Holds the database, the logs and the keys. Created `0700` when missing.
    pub data_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            data_dir: PathBuf::from("./data"),
        }
    }
}

impl Section for StorageConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if self.data_dir.as_os_str().is_empty() {
            problems.push(Problem::new(
                format!("{prefix}.data_dir"),
                "is empty; name a directory Watchpost may own, e.g. /var/lib/watchpost",
            ));
        } else if self.data_dir.exists() && !self.data_dir.is_dir() {
            problems.push(Problem::new(
                format!("{prefix}.data_dir"),
                format!(
                    "{} exists and is not a directory; point it at a directory",
                    self.data_dir.display()
                ),
            ));
        }
    }
}
