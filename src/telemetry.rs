//! Logging for the whole process: JSON lines (or readable text) on stdout and
//! JSON lines in size-rotated, gzip-compressed files under `data_dir/logs/`,
//! written by one background thread in batches; a full buffer drops (and
//! counts) lines rather than ever blocking a request. Secret-named fields are
//! redacted and control characters escaped (`layer.rs`, `line.rs`). The last
//! 1,000 lines and per-level counts stay readable in-process for pages and
//! `/metrics`.

#[cfg(test)]
mod capture;
mod config;
mod layer;
mod line;
mod recent;
mod rotate;
mod sink;

use std::borrow::Cow;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use tokio::task::futures::TaskLocalFuture;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use config::LoggingConfig;
pub use layer::{LineLayer, Sinks, StdoutFormat};
pub use line::{FieldValue, Fields, Line};
pub use recent::{LevelCounts, RECENT_CAPACITY, Recent, RecentLines};
pub use sink::{LineSink, SinkGuard, Tee};

/// The log file inside `data_dir/logs/`.
pub const LOG_FILE: &str = "watchpost.log";
/// Bytes each output may hold pending before lines are dropped.
const PENDING_BYTES: usize = 8 << 20;

struct Installed {
    sinks: Arc<Sinks>,
    /// Whether hot-path lines (the access log) also go to stdout.
    emit_to_stdout: bool,
}

tokio::task_local! {
    /// The id of the request whose future is being polled.
    static REQUEST_ID: Rc<str>;
}

/// `future`, run as the handling of request `id`: every line logged while it
/// is polled carries `request_id`. (Cheaper than a tracing span per request.)
pub fn in_request<F: Future>(id: Rc<str>, future: F) -> InRequest<F> {
    REQUEST_ID.scope(id, future)
}

/// The future returned by [`in_request`].
pub type InRequest<F> = TaskLocalFuture<Rc<str>, F>;

fn current_request_id() -> Option<Rc<str>> {
    REQUEST_ID.try_with(Rc::clone).ok()
}

/// Writes one line straight to the outputs, for hot paths (the access log)
/// whose field names are fixed and not secret. Callers check the level filter
/// first (`tracing::enabled!`); values are still scrubbed of secret-looking
/// content. The line goes to the ring and the log file, and to stdout only
/// when `logging.access_stdout` is on or there is no log file.
pub fn emit(
    level: tracing::Level,
    target: &'static str,
    message: &'static str,
    fields: &mut [(&'static str, FieldValue<'_>)],
) {
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    for (_, value) in fields.iter_mut() {
        if let FieldValue::Text(text) = value
            && let Cow::Owned(scrubbed) = crate::redact::scrub_value(text)
        {
            *text = Cow::Owned(scrubbed);
        }
    }
    let id = current_request_id();
    let line = Line::new(level.as_str(), target, message, id.as_deref(), fields);
    installed
        .sinks
        .write(&line, &level, installed.emit_to_stdout);
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Keeps the writer thread alive; dropping it writes out what is pending.
pub struct TelemetryGuard {
    _sink: SinkGuard,
}

/// Installs the process-wide subscriber. Call once, early.
pub fn init(config: &LoggingConfig, data_dir: &Path) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::builder()
        .parse(&config.level)
        .with_context(|| format!("logging.level {:?}", config.level))?;
    let recent = Arc::new(Recent::default());
    let mut json: Vec<Box<dyn std::io::Write + Send>> = vec![Box::new(RecentLines(recent.clone()))];
    if config.file {
        let dir = data_dir.join("logs");
        crate::store::create_private_dir(&dir)?;
        let rotating = rotate::RotatingFile::open(
            dir.join(LOG_FILE),
            config.file_max_size.as_u64(),
            config.file_count,
        )
        .with_context(|| format!("opening log file in {}", dir.display()))?;
        json.push(Box::new(rotating));
    }
    let mut outputs: Vec<Box<dyn std::io::Write + Send>> = vec![Box::new(Tee(json))];
    let stdout = config.stdout.then(|| {
        outputs.push(Box::new(std::io::stdout()));
        let format = if config.json {
            StdoutFormat::Json
        } else {
            StdoutFormat::Human
        };
        (outputs.len() - 1, format)
    });
    let (lines, guard) =
        LineSink::start(outputs, PENDING_BYTES).context("starting the log writer")?;
    let sinks = Arc::new(Sinks {
        recent,
        lines,
        json: 0,
        stdout,
    });
    let layer = LineLayer::new(sinks.clone());
    tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init()
        .context("a logging subscriber is already installed")?;
    let _ = INSTALLED.set(Installed {
        sinks,
        emit_to_stdout: config.access_stdout || !config.file,
    });
    Ok(TelemetryGuard { _sink: guard })
}

/// The last [`RECENT_CAPACITY`] lines, oldest first (empty before [`init`]).
pub fn recent_lines() -> Vec<String> {
    INSTALLED
        .get()
        .map(|i| i.sinks.recent.lines())
        .unwrap_or_default()
}

/// Lines logged per level since start.
pub fn level_counts() -> LevelCounts {
    INSTALLED
        .get()
        .map(|i| i.sinks.recent.counts())
        .unwrap_or_default()
}

/// Lines dropped because a writer's buffer was full.
pub fn dropped_lines() -> u64 {
    INSTALLED.get().map_or(0, |i| i.sinks.lines.dropped())
}
