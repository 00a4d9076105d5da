//! The `[logging]` configuration section.

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingConfig {
    /// A tracing filter: a level (`info`) or directives (`info,watchpost::store=debug`).
    pub level: String,
    /// Write log lines to standard output.
    pub stdout: bool,
    /// Standard output as JSON lines instead of human-readable text.
    pub json: bool,
    /// Write JSON lines to `data_dir/logs/watchpost.log`.
    pub file: bool,
    /// Also write the access log (one line per request) to stdout. Off by
    /// default so the journal is not flooded; always on when `file` is off.
    pub access_stdout: bool,
    /// Rotate the log file when it reaches this size.
    pub file_max_size: ByteSize,
    /// Rotated, gzip-compressed files to keep.
    pub file_count: usize,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_string(),
            stdout: true,
            json: false,
            file: true,
            access_stdout: false,
            file_max_size: ByteSize::mib(10),
            file_count: 10,
        }
    }
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// A level, or comma-separated directives where a bare word must be a level
/// (tracing would otherwise read a typo such as `loud` as a module name).
fn is_log_filter(text: &str) -> bool {
    tracing_subscriber::EnvFilter::builder().parse(text).is_ok()
        && text
            .split(',')
            .map(str::trim)
            .all(|d| d.contains('=') || LEVELS.contains(&d.to_ascii_lowercase().as_str()))
}

impl Section for LoggingConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if !is_log_filter(&self.level) {
            problems.push(Problem::new(
                format!("{prefix}.level"),
                format!(
                    "{:?} is not a log filter; use trace, debug, info, warn or error, optionally with per-module directives like info,watchpost::store=debug",
                    self.level
                ),
            ));
        }
        if self.file_max_size.as_u64() < 64 * 1024 {
            problems.push(Problem::new(
                format!("{prefix}.file_max_size"),
                format!(
                    "{} is too small; use at least 64 KiB, e.g. \"10 MiB\"",
                    self.file_max_size
                ),
            ));
        }
        if self.file_count > 1000 {
            problems.push(Problem::new(
                format!("{prefix}.file_count"),
                format!(
                    "{} rotated files is too many; keep at most 1000",
                    self.file_count
                ),
            ));
        }
    }
}
