//! What the rules look at: the bus signals they count (brute force, bans,
//! admins' logins from new addresses, new and regressed error issues, new
//! high security-audit findings), and the [`World`] gathered for each
//! evaluation from checks, host, perf, health, tasks and the audit trail.

use std::collections::{HashMap, VecDeque};

use super::Alerts;
use super::observe::World;
use super::rules::Kind;
use crate::bus::Signal;
use crate::error::AppError;

/// How long a brute-force signal (or an admin's login from a new address)
/// keeps its alert condition true.
const BRUTE_FORCE_WINDOW_MS: i64 = 10 * 60_000;
/// How long a task restart counts as Watchpost's health failing.
const RESTART_WINDOW_MS: i64 = 10 * 60_000;
/// How often the audit trail is verified for `trail_broken` rules.
const TRAIL_EVERY_MS: i64 = 3_600_000;

/// Signals from the bus, remembered for the rules that count them.
#[derive(Default)]
pub(super) struct Heard {
    brute_force: HashMap<String, (i64, String)>,
    bans: VecDeque<i64>,
    new_admin_ips: HashMap<i64, (i64, String)>,
    restarts: HashMap<&'static str, (u32, i64)>,
    /// Issue id → (when, `new` or `regression`, project slug, title).
    error_issues: HashMap<i64, (i64, &'static str, String, String)>,
    /// New high audit findings, by id, kept while later runs still find them.
    audit_findings: std::collections::BTreeMap<String, String>,
}

impl Alerts {
    fn heard(&self) -> std::sync::MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a bus signal that a rule counts. An admin's login is
    /// looked up in the audit trail: new is an address none of their
    /// earlier logins came from (their first login ever is not new).
    pub async fn hear(&self, signal: &Signal) {
        let now = self.clock.now_ms();
        if let Signal::LoginSucceeded {
            user_id,
            admin: true,
            ip,
        } = signal
        {
            let (trail, target, from) = (self.trail.clone(), format!("user:{user_id}"), ip.clone());
            match self
                .store
                .read(move |c| trail.earlier_logins(c, &target, &from))
                .await
            {
                Ok((all, from_ip)) if all > 0 && from_ip == 0 => {
                    self.heard()
                        .new_admin_ips
                        .insert(*user_id, (now, ip.clone()));
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reading earlier logins failed"),
            }
            return;
        }
        let mut heard = self.heard();
        match signal {
            Signal::BruteForce { ip, detector, .. } => {
                heard
                    .brute_force
                    .insert(ip.clone(), (now, (*detector).to_string()));
            }
            Signal::BanCreated { .. } => heard.bans.push_back(now),
            Signal::ErrorIssue {
                project,
                issue_id,
                title,
                kind,
            } => {
                heard
                    .error_issues
                    .insert(*issue_id, (now, kind, project.clone(), title.clone()));
            }
            Signal::AuditFindings { new_high, high } => {
                remember_audit(&mut heard.audit_findings, new_high, high);
            }
            _ => {}
        }
    }

    /// Everything the rules look at, now.
    pub async fn world(&self) -> Result<World, AppError> {
        let now = self.clock.now_ms();
        let checks = self
            .sources
            .checks
            .all()
            .await?
            .into_iter()
            .filter(|c| !c.row.paused)
            .map(|c| c.row)
            .collect();
        let mut self_failing: Vec<String> = self
            .sources
            .health
            .failing()
            .await
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect();
        let (brute_force, bans_last_hour, new_admin_ips, error_issues, audit_findings) = {
            let statuses = self.sources.tasks.read();
            let mut heard = self.heard();
            for (name, status) in statuses {
                let seen = heard.restarts.entry(name).or_insert((status.restarts, 0));
                if status.restarts > seen.0 {
                    *seen = (status.restarts, now);
                }
                if seen.1 > 0 && now - seen.1 < RESTART_WINDOW_MS {
                    self_failing.push(format!("task:{name}"));
                }
            }
            heard
                .brute_force
                .retain(|_, (at, _)| now - *at < BRUTE_FORCE_WINDOW_MS);
            while heard.bans.front().is_some_and(|t| now - t >= 3_600_000) {
                heard.bans.pop_front();
            }
            let mut brute_force: Vec<(String, String)> = heard
                .brute_force
                .iter()
                .map(|(ip, (_, d))| (ip.clone(), d.clone()))
                .collect();
            brute_force.sort();
            let bans_last_hour = heard.bans.len();
            heard
                .new_admin_ips
                .retain(|_, (at, _)| now - *at < BRUTE_FORCE_WINDOW_MS);
            let mut new_admin_ips: Vec<(i64, String)> = heard
                .new_admin_ips
                .iter()
                .map(|(user, (_, ip))| (*user, ip.clone()))
                .collect();
            new_admin_ips.sort();
            heard
                .error_issues
                .retain(|_, (at, ..)| now - *at < BRUTE_FORCE_WINDOW_MS);
            let mut error_issues: Vec<(&'static str, String, i64, String)> = heard
                .error_issues
                .iter()
                .map(|(id, (_, kind, slug, title))| (*kind, slug.clone(), *id, title.clone()))
                .collect();
            error_issues.sort();
            let audit_findings = heard
                .audit_findings
                .iter()
                .map(|(id, title)| (id.clone(), title.clone()))
                .collect();
            (
                brute_force,
                bans_last_hour,
                new_admin_ips,
                error_issues,
                audit_findings,
            )
        };
        let mut error_rates: Vec<(i64, String, u64, f64)> = Vec::new();
        for rule in self.defs().rules.iter().filter(|r| r.enabled) {
            let Kind::ErrorRateSpike { window_s, .. } = rule.kind else {
                continue;
            };
            if error_rates.iter().any(|(w, ..)| *w == window_s) {
                continue;
            }
            let now_s = now.div_euclid(1000);
            let rates = self
                .store
                .read(move |c| crate::errors::digest_repo::rates(c, now_s, window_s))
                .await?;
            error_rates.extend(
                rates
                    .into_iter()
                    .map(|(slug, recent, usual)| (window_s, slug, recent, usual)),
            );
        }
        let regressions = self
            .sources
            .perf
            .active_regressions()
            .into_iter()
            .map(|((source, route, method), active)| {
                (source, method, route, format!("{:?}", active.reason))
            })
            .collect();
        let mut perf_recent = Vec::new();
        for rule in self.defs().rules.iter().filter(|r| r.enabled) {
            let (Kind::PerfP95(w) | Kind::PerfErrorRate(w)) = &rule.kind else {
                continue;
            };
            if perf_recent
                .iter()
                .any(|(s, win, _)| *s == w.source && *win == w.window_s)
            {
                continue;
            }
            let routes =
                crate::perf::views::recent(&self.sources.perf, &w.source, w.window_s).await?;
            perf_recent.push((w.source.clone(), w.window_s, routes));
        }
        Ok(World {
            checks,
            host: self.sources.host.latest(),
            regressions,
            self_failing,
            brute_force,
            bans_last_hour,
            new_admin_ips,
            perf_recent,
            trail_problem: self.trail_problem(now).await?,
            error_issues,
            error_rates,
            audit_findings,
        })
    }

    /// Why the audit trail does not verify, if it does not; verified at
    /// most once an hour, and only when a rule watches it.
    async fn trail_problem(&self, now: i64) -> Result<Option<String>, AppError> {
        if !self
            .defs()
            .rules
            .iter()
            .any(|r| r.enabled && r.kind == Kind::TrailBroken)
        {
            return Ok(None);
        }
        let cached = self
            .trail_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some((at, problem)) = cached
            && now - at < TRAIL_EVERY_MS
        {
            return Ok(problem);
        }
        let trail = self.trail.clone();
        let verdict = self.store.read(move |c| trail.verify(c)).await?;
        let problem = match verdict {
            crate::audit_trail::Verdict::Intact { .. } => None,
            crate::audit_trail::Verdict::Broken { id, problem } => {
                Some(format!("row {id}: {problem}"))
            }
        };
        *self.trail_checked.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((now, problem.clone()));
        Ok(problem)
    }
}

/// After an audit run: findings it no longer has are forgotten (their alert
/// resolves), its new high findings remembered (their alert fires).
fn remember_audit(
    held: &mut std::collections::BTreeMap<String, String>,
    new_high: &[(String, String)],
    high: &[String],
) {
    held.retain(|id, _| high.contains(id));
    for (id, title) in new_high {
        held.insert(id.clone(), title.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_findings_are_held_until_a_run_no_longer_has_them() {
        let mut held = std::collections::BTreeMap::new();
        let tls = ("config.bind_without_tls".to_string(), "No TLS".to_string());
        remember_audit(
            &mut held,
            std::slice::from_ref(&tls),
            std::slice::from_ref(&tls.0),
        );
        assert_eq!(held.len(), 1);
        // The next run still has it, and it is no longer new.
        remember_audit(&mut held, &[], std::slice::from_ref(&tls.0));
        assert_eq!(held.get(&tls.0).map(String::as_str), Some("No TLS"));
        // A high finding that was there before was never new: not held.
        remember_audit(
            &mut held,
            &[],
            &[tls.0.clone(), "host.ssh_root_login".into()],
        );
        assert_eq!(held.len(), 1);
        remember_audit(&mut held, &[], &["host.ssh_root_login".into()]);
        assert!(held.is_empty(), "fixed, so the alert resolves");
    }
}
