//! Retention: every kind of stored history has a policy (how long to keep it,
//! and how to delete a bounded batch of what is older), listed in one table
//! that `app.rs` assembles from the `[retention]` section. An hourly task
//! applies each policy in batches of [`BATCH`] rows, one writer transaction
//! per batch so no write lock is held for long, then returns freed pages to
//! the filesystem with `PRAGMA incremental_vacuum`, records per data type
//! when it ran and what it removed (`retention_runs`), and logs and audits
//! what it removed (`retention.run`, with a count per data type).
//!
//! Rotated log files are a policy too (files older than the keep, beyond
//! what the rotation count already removes). The audit trail is listed but
//! never pruned: its rows are hash-chained and the database refuses deletes,
//! so its policy says so ([`What::Kept`]). `/settings/retention` and
//! `GET /api/v1/retention` show each data type's rows, size, oldest record,
//! policy and last run, with a "run now" action ([`routes`]).

mod files;
mod repo;
mod routes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::audit_trail::{Actioned, Actor, Trail};
use crate::config::{Problem, Section};
use crate::store::{Store, StoreError};
use crate::tasks::Shutdown;

pub use repo::Figures;
pub use routes::{RetentionApi, routes};

/// Rows deleted per transaction.
pub const BATCH: i64 = 2_000;
/// How often the task runs; the first run comes a minute after start.
const EVERY: Duration = Duration::from_secs(3600);
const FIRST_AFTER: Duration = Duration::from_secs(60);

/// The `[retention]` section: how long each kind of history is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionConfig {
    /// Raw time-series samples.
    pub series_raw: String,
    /// 1-minute rollups.
    pub series_1m: String,
    /// 1-hour rollups.
    pub series_1h: String,
    /// Snapshots of the top processes.
    pub top_processes: String,
    /// Raw health-check results.
    pub check_results: String,
    /// Per-day uptime of health checks (the status page shows 90 days).
    pub check_uptime: String,
    /// Heartbeat pings and their bodies.
    pub check_pings: String,
    /// Security events and sshd failure counts.
    pub security_events: String,
    /// Bans that have ended (bans in force are always kept).
    pub ip_bans: String,
    /// Deploy markers and annotations received by webhooks.
    pub annotations: String,
    /// Request statistics per minute (regressions and charts up to 48 h read them).
    pub perf_minutes: String,
    /// Request statistics per hour (baselines and longer charts).
    pub perf_hours: String,
    /// Alert transitions, finished notifications and ended silences.
    pub alert_history: String,
    /// Rotated log files (`logs/watchpost.log.N.gz`), besides `[logging]
    /// file_count`.
    pub log_files: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            series_raw: "48h".into(),
            series_1m: "30d".into(),
            series_1h: "400d".into(),
            top_processes: "48h".into(),
            check_results: "7d".into(),
            check_uptime: "400d".into(),
            check_pings: "30d".into(),
            security_events: "400d".into(),
            ip_bans: "90d".into(),
            annotations: "400d".into(),
            perf_minutes: "30d".into(),
            perf_hours: "90d".into(),
            alert_history: "90d".into(),
            log_files: "14d".into(),
        }
    }
}

impl RetentionConfig {
    fn entries(&self) -> [(&'static str, &str); 14] {
        [
            ("series_raw", &self.series_raw),
            ("series_1m", &self.series_1m),
            ("series_1h", &self.series_1h),
            ("top_processes", &self.top_processes),
            ("check_results", &self.check_results),
            ("check_uptime", &self.check_uptime),
            ("check_pings", &self.check_pings),
            ("security_events", &self.security_events),
            ("ip_bans", &self.ip_bans),
            ("annotations", &self.annotations),
            ("perf_minutes", &self.perf_minutes),
            ("perf_hours", &self.perf_hours),
            ("alert_history", &self.alert_history),
            ("log_files", &self.log_files),
        ]
    }

    /// How long `key` is kept (defaults apply to a value that does not parse;
    /// [`Section::validate`] refuses such a configuration before start).
    pub fn keep(&self, key: &str) -> Duration {
        let parse = |v: &str| humantime::parse_duration(v).ok();
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| parse(v))
            .or_else(|| {
                RetentionConfig::default()
                    .entries()
                    .into_iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| parse(v))
            })
            .unwrap_or(Duration::from_secs(86_400))
    }
}

impl Section for RetentionConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        for (key, value) in self.entries() {
            match humantime::parse_duration(value) {
                Ok(d) if d < Duration::from_secs(3600) => problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("{value:?} is under an hour; keep history at least \"1h\""),
                )),
                Ok(_) => {}
                Err(e) => problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("{value:?} is not a duration ({e}); write e.g. \"48h\" or \"30d\""),
                )),
            }
        }
    }
}

/// Deletes at most `limit` rows older than `before_ms` (Unix ms); returns how many.
pub type Prune = fn(&Connection, i64, i64) -> Result<usize, StoreError>;

/// A table a policy covers, and the SQL expression of its oldest record in
/// Unix ms (an aggregate over the table, e.g. `MIN(ts) * 1000`).
pub type Table = (&'static str, &'static str);

/// What a policy applies to.
#[derive(Clone)]
pub enum What {
    /// Rows, deleted in batches by `prune`.
    Rows {
        prune: Prune,
        tables: &'static [Table],
    },
    /// Rows that are never deleted, and why.
    Kept {
        tables: &'static [Table],
        why: &'static str,
    },
    /// Rotated log files `<dir>/<stem>.<n>.gz`.
    Files { dir: PathBuf, stem: &'static str },
}

/// One data type's policy.
#[derive(Clone)]
pub struct Policy {
    pub data: &'static str,
    /// The configuration key that sets `keep` (empty when none does).
    pub key: &'static str,
    pub keep: Duration,
    pub what: What,
}

/// What one run removed, per data type, in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub removed: Vec<(&'static str, usize)>,
}

impl Report {
    pub fn total(&self) -> usize {
        self.removed.iter().map(|(_, n)| n).sum()
    }
}

/// Applies every policy once, as of `now_ms`, on behalf of `by` (the task
/// runs as the system and is audited only when it removed something; a run
/// someone asked for is always audited).
pub async fn run_once(
    store: &Store,
    trail: &Trail,
    policies: &[Policy],
    now_ms: i64,
    by: &Actioned,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    for policy in policies {
        let keep_ms = i64::try_from(policy.keep.as_millis()).unwrap_or(i64::MAX);
        let before_ms = now_ms.saturating_sub(keep_ms);
        let removed = match &policy.what {
            What::Kept { .. } => continue,
            What::Rows { prune, .. } => {
                let prune = *prune;
                let mut removed = 0;
                loop {
                    let n = store
                        .write(move |conn| prune(conn, before_ms, BATCH))
                        .await?;
                    removed += n;
                    if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                        break;
                    }
                }
                removed
            }
            What::Files { dir, stem } => {
                let (dir, stem) = (dir.clone(), *stem);
                tokio::task::spawn_blocking(move || files::prune(&dir, stem, before_ms))
                    .await
                    .unwrap_or(0)
            }
        };
        report.removed.push((policy.data, removed));
    }
    let total = report.total();
    let counts: serde_json::Map<String, serde_json::Value> = report
        .removed
        .iter()
        .map(|(data, n)| ((*data).to_string(), (*n).into()))
        .collect();
    let trail = trail.clone();
    let details = serde_json::Value::Object(counts);
    let runs = report.removed.clone();
    let asked = !matches!(by.actor, Actor::System);
    let entry = by
        .entry("retention.run", "retention")
        .detail("removed", details);
    store
        .write(move |conn| {
            for (data, removed) in &runs {
                repo::record_run(conn, data, now_ms, *removed)?;
            }
            conn.execute_batch("PRAGMA incremental_vacuum")?;
            if total > 0 || asked {
                trail.append(conn, now_ms, &entry)?;
            }
            Ok(())
        })
        .await?;
    tracing::info!(removed = total, by_type = ?report.removed, "retention run done");
    Ok(report)
}

/// The policies and what the pages and the task need to apply them.
pub struct Retention {
    pub store: Store,
    pub trail: Trail,
    pub clock: crate::clock::Clock,
    pub policies: Vec<Policy>,
}

impl Retention {
    /// Every policy with its figures and last run, in table order.
    pub async fn overview(&self) -> Result<Vec<repo::Row>, StoreError> {
        let policies = self.policies.clone();
        let mut rows = self
            .store
            .read(move |conn| repo::overview(conn, &policies))
            .await?;
        for (row, policy) in rows.iter_mut().zip(&self.policies) {
            if let What::Files { dir, stem } = &policy.what {
                let (dir, stem) = (dir.clone(), *stem);
                row.figures = tokio::task::spawn_blocking(move || files::figures(&dir, stem))
                    .await
                    .unwrap_or_default();
            }
        }
        Ok(rows)
    }
}

/// The hourly task.
pub async fn run(retention: Arc<Retention>, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_AFTER, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        let r = &retention;
        let now = r.clock.now_ms();
        if let Err(e) = run_once(&r.store, &r.trail, &r.policies, now, &Actioned::system()).await {
            tracing::warn!(error = %e, "retention run failed; trying again next hour");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_checked_and_read() {
        let config = RetentionConfig {
            series_raw: "10m".into(),
            series_1m: "soon".into(),
            ..RetentionConfig::default()
        };
        let mut problems = Vec::new();
        config.validate("retention", &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["retention.series_raw", "retention.series_1m"]);
        let default = RetentionConfig::default();
        assert_eq!(default.keep("series_raw"), Duration::from_secs(48 * 3600));
        assert_eq!(default.keep("series_1h"), Duration::from_secs(400 * 86_400));
        assert_eq!(config.keep("series_1m"), Duration::from_secs(30 * 86_400));
        assert_eq!(
            default.keep("check_results"),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            default.keep("check_uptime"),
            Duration::from_secs(400 * 86_400)
        );
        assert_eq!(
            default.keep("check_pings"),
            Duration::from_secs(30 * 86_400)
        );
    }

    /// The defaults the issue asks for.
    #[test]
    fn defaults_match_the_issue() {
        let default = RetentionConfig::default();
        let days = |d: u64| Duration::from_secs(d * 86_400);
        assert_eq!(default.keep("security_events"), days(400));
        assert_eq!(default.keep("check_results"), days(7));
        assert_eq!(default.keep("perf_minutes"), days(30));
        assert_eq!(default.keep("log_files"), days(14));
        assert_eq!(default.keep("series_1h"), days(400));
        assert_eq!(crate::telemetry::LoggingConfig::default().file_count, 10);
    }
}
