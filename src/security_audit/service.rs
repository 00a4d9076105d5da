//! Running the audit: [`audit`] gathers what every check needs (the
//! configuration and its file, the data directory's files, the accounts,
//! the audit trail's verdict, the host's files, the health checks'
//! certificates) and returns the report; the CLI calls it directly.
//! [`SecurityAudit`] is the server's side: it stores each run, audits it as
//! `security_audit.run`, and announces new high findings on the bus.

use std::path::PathBuf;
use std::time::Duration;

use super::host_checks::HostPaths;
use super::model::{Category, Collector, Finding, Report, Severity};
use super::{account_checks, config_checks, file_checks, host_checks, repo};
use crate::audit_trail::{Actioned, Actor, Entry, Outcome, Trail, Verdict};
use crate::bus::{Bus, Signal};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::AppError;
use crate::store::{Store, StoreError};

/// A scheduled run happens this long after the last run.
pub const EVERY: Duration = Duration::from_secs(24 * 3600);

/// What the audit looks at besides the database.
#[derive(Debug, Clone)]
pub struct Setup {
    pub config: Config,
    /// The configuration file read at start, if any.
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub host: HostPaths,
}

impl Setup {
    pub fn new(config: &Config) -> Setup {
        Setup {
            config: config.clone(),
            config_file: config.config_file.clone(),
            data_dir: config.data_dir(),
            host: HostPaths::under(&config.audit.host_root),
        }
    }
}

/// Why a run started, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

fn integrity(verdict: Result<Verdict, String>, out: &mut Collector) {
    let (problem, fix) = match verdict {
        Ok(Verdict::Intact { .. }) => {
            out.pass("integrity.trail_chain");
            return;
        }
        Ok(Verdict::Broken { id, problem }) => (
            format!("row {id}: {problem}"),
            "Find out who changed the database (watchpost trail verify names the row); restore the database from a backup taken before that row",
        ),
        Err(e) => (
            format!("the trail could not be verified: {e}"),
            "Restore trail.key into the data directory from a backup of it; on a new installation, start watchpost serve once to create it",
        ),
    };
    out.add(Finding::new(
        "integrity.trail_chain",
        Severity::High,
        Category::Integrity,
        "The audit trail's hash chain does not verify",
        problem,
        fix,
    ));
}

/// Every check, now. `trail` is the audit trail's key, or why it could not
/// be loaded (which is itself a finding).
pub async fn audit(
    setup: &Setup,
    store: &Store,
    trail: Result<Trail, String>,
    now_ms: i64,
) -> Result<Report, StoreError> {
    let (users, tokens, certs, verdict) = store
        .read(move |conn| {
            let verdict = match &trail {
                Ok(trail) => trail.verify(conn).map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            Ok((
                repo::users(conn)?,
                repo::tokens(conn)?,
                repo::certificates(conn)?,
                verdict,
            ))
        })
        .await?;
    let setup = setup.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut out = Collector::default();
        let file_text = setup
            .config_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok());
        config_checks::check(&setup.config, file_text.as_deref(), &mut out);
        let targets = file_checks::targets(
            &setup.data_dir,
            setup.config_file.as_deref(),
            setup.config.server.tls.key.as_deref(),
        );
        file_checks::check(&targets, file_checks::process_uid(), &mut out);
        account_checks::check(
            &users,
            &tokens,
            setup.config.auth.password_hash,
            now_ms,
            &mut out,
        );
        integrity(verdict, &mut out);
        host_checks::check(&setup.host, &certs, &mut out);
        out.into_report(now_ms)
    })
    .await
    .map_err(|e| StoreError::Io {
        context: "running the security audit's checks".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(report)
}

/// The last stored run: when (ms), its trigger, its report.
pub type LastRun = (i64, String, Report);

/// The server's audit: runs, stores, announces.
pub struct SecurityAudit {
    pub store: Store,
    pub trail: Trail,
    pub clock: Clock,
    bus: Bus,
    setup: Setup,
    /// One run at a time.
    running: tokio::sync::Mutex<()>,
}

impl SecurityAudit {
    pub fn new(store: Store, trail: Trail, clock: Clock, bus: Bus, setup: Setup) -> SecurityAudit {
        SecurityAudit {
            store,
            trail,
            clock,
            bus,
            setup,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs every check, stores the report and audits the run (by `by`, or
    /// by Watchpost itself for a scheduled run). High findings the previous
    /// run did not have are announced on the bus.
    pub async fn run(&self, trigger: Trigger, by: Option<&Actioned>) -> Result<Report, AppError> {
        let _one = self.running.lock().await;
        let now = self.clock.now_ms();
        let report = audit(&self.setup, &self.store, Ok(self.trail.clone()), now).await?;
        let entry = match by {
            Some(by) => by.entry("security_audit.run", "security_audit"),
            None => Entry::new(Actor::System, "security_audit.run", Outcome::Success)
                .target("security_audit"),
        }
        .detail("trigger", trigger.as_str())
        .detail("high", report.summary.high)
        .detail("medium", report.summary.medium)
        .detail("low", report.summary.low);
        let (trail, stored) = (self.trail.clone(), report.clone());
        let previous = self
            .store
            .write(move |conn| {
                let previous = repo::last_run(conn)?.map(|(_, _, r)| r);
                repo::insert_run(conn, now, trigger.as_str(), &stored)?;
                trail.append(conn, now, &entry)?;
                Ok(previous)
            })
            .await?;
        let new_high: Vec<(String, String)> = report
            .new_high(previous.as_ref())
            .into_iter()
            .map(|f| (f.id.clone(), f.title.clone()))
            .collect();
        let high: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .map(|f| f.id.clone())
            .collect();
        if !new_high.is_empty() {
            tracing::warn!(
                new = new_high.len(),
                "the security audit found new high findings"
            );
        }
        self.bus.publish(Signal::AuditFindings { new_high, high });
        Ok(report)
    }

    /// The newest stored run, if any ran yet.
    pub async fn last(&self) -> Result<Option<LastRun>, AppError> {
        Ok(self.store.read(repo::last_run).await?)
    }

    /// How long until the next scheduled run: a day after the last run,
    /// and never sooner than `min` (so a start-up is not slowed).
    pub async fn next_due(&self, min: Duration) -> Duration {
        let last = self.last().await.ok().flatten().map(|(ts, _, _)| ts);
        let now = self.clock.now_ms();
        let every = i64::try_from(EVERY.as_millis()).unwrap_or(i64::MAX);
        let wait_ms = last.map_or(0, |ts| ts.saturating_add(every) - now);
        Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0)).max(min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_or_unverifiable_trail_is_a_high_finding() {
        let mut out = Collector::default();
        integrity(
            Ok(Verdict::Intact {
                rows: 3,
                head: None,
            }),
            &mut out,
        );
        assert!(out.is_empty());
        integrity(
            Ok(Verdict::Broken {
                id: 7,
                problem: crate::audit_trail::Problem::Altered,
            }),
            &mut out,
        );
        integrity(Err("trail.key is missing".into()), &mut out);
        let r = out.into_report(0);
        assert_eq!(r.findings.len(), 1, "one id, kept once");
        assert_eq!(r.findings[0].id, "integrity.trail_chain");
        assert!(r.findings[0].evidence.starts_with("row 7"));
        assert!(r.findings[0].fix.contains("backup taken before that row"));
        let mut out = Collector::default();
        integrity(Err("trail.key is missing".into()), &mut out);
        assert!(
            out.into_report(0).findings[0]
                .fix
                .starts_with("Restore trail.key")
        );
        assert_eq!(r.passed, ["integrity.trail_chain"]);
    }
}
