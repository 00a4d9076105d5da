//! The `[audit]` section: where the host checks find the host's files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// The host's root directory as Watchpost sees it: `/`, or where a
    /// container mounts the host's (`/host`). The host checks read
    /// `etc/ssh/sshd_config`, `proc/net/tcp` and the rest under it.
    pub host_root: PathBuf,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            host_root: PathBuf::from("/"),
        }
    }
}

impl Section for AuditConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if !self.host_root.is_absolute() {
            problems.push(Problem::new(
                format!("{prefix}.host_root"),
                format!(
                    "{} is not an absolute path; write \"/\" or where the host's root is mounted, e.g. \"/host\"",
                    self.host_root.display()
                ),
            ));
        } else if !self.host_root.is_dir() {
            problems.push(Problem::new(
                format!("{prefix}.host_root"),
                format!(
                    "{} is not a directory; write \"/\" or where the host's root is mounted",
                    self.host_root.display()
                ),
            ));
        }
    }
}
