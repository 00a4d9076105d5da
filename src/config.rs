//! Layered configuration: built-in defaults, then a TOML file, then `WATCHPOST_*`
//! environment variables (with `*_FILE` variants that read a value from a file).
//!
//! Each feature owns its section type in its own module and registers it here as
//! one field of [`Config`]; [`Config::validate`] asks every section for its
//! problems and returns them all at once, each naming the key and saying what to
//! do. Loading never touches the process environment directly: callers pass the
//! variables in, so tests stay hermetic. Secrets print as `[redacted]`.

mod secret;
mod sources;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertsConfig;
use crate::auth::AuthConfig;
use crate::checks::{Definition, SchedulerConfig, StatusPageConfig};
use crate::errors::ErrorsConfig;
use crate::health::HealthConfig;
use crate::host::CollectorConfig;
use crate::http::ServerConfig;
use crate::metrics::MetricsConfig;
use crate::perf::PerfConfig;
use crate::privacy::PrivacyConfig;
use crate::retention::RetentionConfig;
use crate::security_audit::AuditConfig;
use crate::store::StorageConfig;
use crate::telemetry::LoggingConfig;
use crate::threats::ThreatsConfig;

pub use secret::Secret;
pub use sources::{Loaded, Sources};

/// The whole effective configuration. Every section has defaults, so an empty
/// file (or none) is a valid configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub logging: LoggingConfig,
    pub health: HealthConfig,
    pub auth: AuthConfig,
    pub collector: CollectorConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    pub privacy: PrivacyConfig,
    pub scheduler: SchedulerConfig,
    pub status_page: StatusPageConfig,
    pub threats: ThreatsConfig,
    pub perf: PerfConfig,
    pub alerts: AlertsConfig,
    pub errors: ErrorsConfig,
    pub audit: AuditConfig,
    /// Checks as code (`[[checks]]`), provisioned at every start.
    pub checks: Vec<Definition>,
    /// `serve --demo` (never read from a file): demo checks and a demo viewer.
    #[serde(skip)]
    pub demo: bool,
    /// The configuration file this was read from (never read from a file):
    /// the security audit checks its mode and what secrets it holds.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// First-run admin (`WATCHPOST_ADMIN_EMAIL`): created at start when no user
    /// exists yet; never overwrites one.
    pub admin_email: Option<String>,
    /// Its password (`WATCHPOST_ADMIN_PASSWORD` or `WATCHPOST_ADMIN_PASSWORD_FILE`).
    pub admin_password: Option<Secret>,
}

/// One thing wrong with the configuration: the key and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A configuration section that can check itself. `prefix` is the section's key
/// (`server`), so messages name the full key (`server.bind`).
pub trait Section {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>);
}

impl Config {
    /// Loads and merges all layers. Returns every problem found while reading
    /// the layers (syntax, unreadable `*_FILE`s, wrong types).
    pub fn load(sources: &Sources) -> Result<Loaded, Vec<Problem>> {
        sources::load(sources)
    }

    /// Every semantic problem in the configuration, all at once.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.server.validate("server", &mut problems);
        self.storage.validate("storage", &mut problems);
        self.logging.validate("logging", &mut problems);
        self.health.validate("health", &mut problems);
        self.auth.validate("auth", &mut problems);
        self.collector.validate("collector", &mut problems);
        self.metrics.validate("metrics", &mut problems);
        self.retention.validate("retention", &mut problems);
        self.privacy.validate("privacy", &mut problems);
        self.scheduler.validate("scheduler", &mut problems);
        self.status_page.validate("status_page", &mut problems);
        self.threats.validate("threats", &mut problems);
        self.perf.validate("perf", &mut problems);
        self.alerts.validate("alerts", &mut problems);
        self.errors.validate("errors", &mut problems);
        self.audit.validate("audit", &mut problems);
        crate::checks::validate_entries(&self.checks, &mut problems);
        crate::auth::bootstrap::validate(self, &mut problems);
        problems
    }

    /// The effective configuration as TOML, secrets shown as `[redacted]`.
    pub fn dump(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        for check in &mut shown.checks {
            *check = crate::checks::definition::redacted(check);
        }
        Ok(toml::to_string_pretty(&shown)?)
    }

    /// The data directory as an absolute path (relative paths are resolved
    /// against the working directory at start).
    pub fn data_dir(&self) -> PathBuf {
        std::path::absolute(&self.storage.data_dir)
            .unwrap_or_else(|_| self.storage.data_dir.clone())
    }
}
