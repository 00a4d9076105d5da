//! The log watchers: one task per `[[threats.log_sources]]` entry. File
//! sources (nginx, apache, sshd) are tailed by `logwatch::tail` on the
//! blocking pool — globs re-expanded every 30 s, read positions (inode and
//! offset) stored after each batch so a restart neither re-reads nor skips
//! — and `journald-ssh` follows `journalctl -o json`, resuming after its
//! stored cursor. Each line is parsed and fed to the detectors; each
//! source's health (reading, waiting for the file, or the error) is kept
//! for the security page and `/health/detail`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::time::{Instant, MissedTickBehavior, interval};

use super::config::LogSource;
use super::detect::Request;
use super::repo::hooks::{self as positions, StoredPosition};
use super::service::{SourceStatus, Threats};
use crate::logwatch::access::{AccessLine, LineFormat};
use crate::logwatch::tail::{Position, Tailer, expand};
use crate::logwatch::{AccessSink, journald, sshd};
use crate::tasks::Shutdown;

const POLL_EVERY: Duration = Duration::from_millis(500);
const EXPAND_EVERY: Duration = Duration::from_secs(30);
/// Lines read per file per batch; a full batch is followed at once by the next.
const BATCH: usize = 20_000;
const JOURNAL_CURSOR_EVERY: Duration = Duration::from_secs(5);

/// How a source's lines are read.
enum Parser {
    /// Access lines also go to the sink (perf takes their timings).
    Access {
        format: LineFormat,
        sink: Arc<dyn AccessSink>,
        kind: String,
    },
    Sshd,
}

impl Parser {
    fn of(source: &LogSource, sink: Arc<dyn AccessSink>) -> Parser {
        match source.kind.as_str() {
            "sshd" | "journald-ssh" => Parser::Sshd,
            _ => Parser::Access {
                format: source
                    .format
                    .as_deref()
                    .and_then(|f| LineFormat::parse(f).ok())
                    .unwrap_or_else(LineFormat::combined),
                sink,
                kind: source.kind.clone(),
            },
        }
    }

    fn feed(&self, threats: &Threats, source: &str, line: &str) {
        match self {
            Parser::Access { format, sink, kind } => {
                if let Some(a) = format.parse_line(line) {
                    feed_access(threats, source, &a);
                    sink.access(kind, source, &a);
                }
            }
            Parser::Sshd => {
                if let Some(f) = sshd::parse(line) {
                    threats.feed_ssh(&f, source);
                }
            }
        }
    }
}

fn feed_access(threats: &Threats, source: &str, a: &AccessLine) {
    let req = Request {
        method: &a.method,
        path: &a.path,
        query: a.query.as_deref(),
        user_agent: a.user_agent.as_deref(),
        status: a.status,
        // Behind nginx a 401 is a failed basic-auth or application login.
        login: a.status == 401,
    };
    threats.feed_request(a.ip, &req, source, None);
}

pub async fn run(
    threats: Arc<Threats>,
    sink: Arc<dyn AccessSink>,
    source: LogSource,
    shutdown: Shutdown,
) {
    if source.kind == "journald-ssh" {
        follow_journal(threats, source, shutdown).await;
    } else {
        tail_files(threats, sink, source, shutdown).await;
    }
}

fn status(source: &LogSource, path: &str) -> SourceStatus {
    SourceStatus {
        id: source.id.clone(),
        kind: source.kind.clone(),
        path: path.to_owned(),
        state: "waiting".into(),
        ..SourceStatus::default()
    }
}

async fn tail_files(
    threats: Arc<Threats>,
    sink: Arc<dyn AccessSink>,
    source: LogSource,
    mut shutdown: Shutdown,
) {
    let pattern = source.path.clone().unwrap_or_default();
    let parser = Parser::of(&source, sink);
    let id = source.id.clone();
    let stored: HashMap<String, StoredPosition> = {
        let id = id.clone();
        threats
            .store
            .read(move |conn| positions::positions(conn, &id))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.path.clone(), p))
            .collect()
    };
    let mut tailers: Vec<Tailer> = Vec::new();
    let mut health = status(&source, &pattern);
    threats.set_source_status(health.clone());
    let mut tick = interval(POLL_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut expanded_at: Option<Instant> = None;
    let mut saved_at: Vec<Option<Position>> = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        if expanded_at.is_none_or(|t| t.elapsed() >= EXPAND_EVERY) {
            expanded_at = Some(Instant::now());
            for path in expand(&pattern) {
                if !tailers.iter().any(|t| t.path() == path) {
                    let start =
                        stored
                            .get(&path.to_string_lossy().into_owned())
                            .map(|p| Position {
                                inode: p.inode,
                                offset: p.offset,
                            });
                    tailers.push(Tailer::new(path, start));
                }
            }
        }
        loop {
            let batch = tokio::task::spawn_blocking(move || {
                let results: Vec<_> = tailers.iter_mut().map(|t| t.poll(BATCH)).collect();
                (tailers, results)
            })
            .await;
            let Ok((back, results)) = batch else {
                tracing::error!(source = %id, "a log read did not finish; retrying");
                tailers = Vec::new();
                expanded_at = None;
                break;
            };
            tailers = back;
            let mut full = false;
            let mut error = None;
            let mut read = 0u64;
            for result in results {
                match result {
                    Ok(lines) => {
                        full |= lines.len() >= BATCH;
                        read += lines.len() as u64;
                        for line in &lines {
                            parser.feed(&threats, &id, line);
                        }
                    }
                    Err(e) => error = Some(e.to_string()),
                }
            }
            health.lines += read;
            if read > 0 {
                health.last_line_ms = Some(threats.clock.now_ms());
            }
            // Stored whenever it moved, the first open included: a restart
            // then resumes here instead of skipping to the new end.
            let now_at: Vec<_> = tailers.iter().map(Tailer::position).collect();
            if now_at != saved_at {
                save_positions(&threats, &id, &tailers).await;
                saved_at = now_at;
            }
            let opened = tailers.iter().any(|t| t.position().is_some());
            health.state = match (&error, opened) {
                (Some(_), _) => "error",
                (None, true) => "ok",
                (None, false) => "waiting",
            }
            .into();
            health.message = error.or_else(|| {
                (!opened).then(|| format!("{pattern} does not exist yet; waiting for it"))
            });
            threats.set_source_status(health.clone());
            if !full {
                break;
            }
        }
    }
}

async fn save_positions(threats: &Threats, id: &str, tailers: &[Tailer]) {
    let rows: Vec<StoredPosition> = tailers
        .iter()
        .filter_map(|t| {
            t.position().map(|p| StoredPosition {
                path: t.path().to_string_lossy().into_owned(),
                inode: p.inode,
                offset: p.offset,
                cursor: None,
            })
        })
        .collect();
    let (id, now) = (id.to_owned(), threats.clock.now_ms());
    let saved = threats
        .store
        .write(move |conn| {
            for p in &rows {
                positions::save_position(conn, &id, p, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = saved {
        tracing::error!(error = %e, "storing a log read position failed; a restart may re-read some lines");
    }
}

const JOURNAL: &str = "journald";

async fn follow_journal(threats: Arc<Threats>, source: LogSource, mut shutdown: Shutdown) {
    let id = source.id.clone();
    let mut health = status(&source, "journalctl -u ssh -u sshd");
    let mut backoff = Duration::from_secs(1);
    loop {
        let cursor = {
            let id = id.clone();
            threats
                .store
                .read(move |conn| positions::positions(conn, &id))
                .await
                .ok()
                .and_then(|p| p.into_iter().find(|p| p.path == JOURNAL))
                .and_then(|p| p.cursor)
        };
        let argv = journald::follow_command(cursor.as_deref());
        let Some((program, args)) = argv.split_first() else {
            return;
        };
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                health.state = "error".into();
                health.message = Some(format!(
                    "journalctl cannot be started ({e}); install systemd's journalctl or watch /var/log/auth.log with kind = \"sshd\""
                ));
                threats.set_source_status(health.clone());
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(60)) => continue,
                    () = shutdown.wait() => return,
                }
            }
        };
        let Some(stdout) = child.stdout.take() else {
            return;
        };
        health.state = "ok".into();
        health.message = None;
        threats.set_source_status(health.clone());
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut last_cursor: Option<String> = None;
        let mut saved_at = Instant::now();
        loop {
            let line = tokio::select! {
                line = lines.next_line() => line,
                () = shutdown.wait() => {
                    save_cursor(&threats, &id, last_cursor.take()).await;
                    return;
                }
            };
            let Ok(Some(line)) = line else { break };
            let Some(entry) = journald::parse_entry(&line) else {
                continue;
            };
            health.lines += 1;
            health.last_line_ms = Some(threats.clock.now_ms());
            if let Some(f) = sshd::parse(&entry.message) {
                threats.feed_ssh(&f, &id);
            }
            if entry.cursor.is_some() {
                last_cursor = entry.cursor;
            }
            if saved_at.elapsed() >= JOURNAL_CURSOR_EVERY {
                saved_at = Instant::now();
                save_cursor(&threats, &id, last_cursor.take()).await;
                threats.set_source_status(health.clone());
            }
        }
        save_cursor(&threats, &id, last_cursor.take()).await;
        health.state = "error".into();
        health.message = Some("journalctl stopped; restarting it".into());
        threats.set_source_status(health.clone());
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.wait() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

async fn save_cursor(threats: &Threats, id: &str, cursor: Option<String>) {
    let Some(cursor) = cursor else { return };
    let (id, now) = (id.to_owned(), threats.clock.now_ms());
    let p = StoredPosition {
        path: JOURNAL.into(),
        inode: 0,
        offset: 0,
        cursor: Some(cursor),
    };
    if let Err(e) = threats
        .store
        .write(move |conn| positions::save_position(conn, &id, &p, now))
        .await
    {
        tracing::error!(error = %e, "storing the journal cursor failed");
    }
}
