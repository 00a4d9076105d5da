//! Logging for the whole process: JSON lines (or readable text) on stdout and
//! JSON lines in size-rotated, gzip-compressed files under `data_dir/logs/`,
//! written through non-blocking writers that drop (and count) lines rather
//! than ever block a request. Secret-named fields are redacted and control
//! characters escaped in [`layer`]. The last 1,000 lines and per-level counts
//! stay readable in-process for pages and `/metrics`.

mod config;
mod layer;
mod recent;
mod rotate;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use config::LoggingConfig;
pub use layer::{LineLayer, Sinks, StdoutFormat};
pub use recent::{LevelCounts, RECENT_CAPACITY, Recent};

/// The log file inside `data_dir/logs/`.
pub const LOG_FILE: &str = "watchpost.log";
/// Lines a writer may hold before it starts dropping.
const BUFFERED_LINES: usize = 16_384;

struct Installed {
    recent: Arc<Recent>,
    dropped: Vec<ErrorCounter>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Keeps the writer threads alive; dropping it flushes what they hold.
pub struct TelemetryGuard {
    _guards: Vec<WorkerGuard>,
}

/// Installs the process-wide subscriber. Call once, early.
pub fn init(config: &LoggingConfig, data_dir: &Path) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::builder()
        .parse(&config.level)
        .with_context(|| format!("logging.level {:?}", config.level))?;
    let mut guards = Vec::new();
    let mut dropped = Vec::new();
    let mut writer = |w: Box<dyn std::io::Write + Send>| {
        let (nb, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(BUFFERED_LINES)
            .finish(w);
        dropped.push(nb.error_counter());
        guards.push(guard);
        nb
    };
    let file: Option<NonBlocking> = if config.file {
        let dir = data_dir.join("logs");
        crate::store::create_private_dir(&dir)?;
        let rotating = rotate::RotatingFile::open(
            dir.join(LOG_FILE),
            config.file_max_size.as_u64(),
            config.file_count,
        )
        .with_context(|| format!("opening log file in {}", dir.display()))?;
        Some(writer(Box::new(rotating)))
    } else {
        None
    };
    let stdout = config.stdout.then(|| {
        let format = if config.json {
            StdoutFormat::Json
        } else {
            StdoutFormat::Human
        };
        (writer(Box::new(std::io::stdout())), format)
    });
    let recent = Arc::new(Recent::default());
    let layer = LineLayer::new(Sinks {
        recent: recent.clone(),
        file,
        stdout,
    });
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .context("a logging subscriber is already installed")?;
    let _ = INSTALLED.set(Installed { recent, dropped });
    Ok(TelemetryGuard { _guards: guards })
}

/// The last [`RECENT_CAPACITY`] lines, oldest first (empty before [`init`]).
pub fn recent_lines() -> Vec<String> {
    INSTALLED
        .get()
        .map(|i| i.recent.lines())
        .unwrap_or_default()
}

/// Lines logged per level since start.
pub fn level_counts() -> LevelCounts {
    INSTALLED
        .get()
        .map(|i| i.recent.counts())
        .unwrap_or_default()
}

/// Lines dropped because a writer's buffer was full.
pub fn dropped_lines() -> u64 {
    INSTALLED
        .get()
        .map(|i| i.dropped.iter().map(|c| c.dropped_lines() as u64).sum())
        .unwrap_or(0)
}
