//! What each rule sees now: a pure function from a [`World`] (the checks'
//! states, the latest host sample, open performance regressions, Watchpost's
//! own health and the recent bus signals) to one [`Seen`] per subject.
//! Subjects are stable names (`check:homepage`, `fs:/var`, `ip:203.0.113.9`)
//! so one rule tracks each thing separately.

use crate::checks::State;
use crate::checks::repo::CheckRow;
use crate::host::Snapshot;
use crate::perf::model::Summary;

use super::rules::{Kind, PerfWindow, Rule};

/// Everything the rules look at, gathered once per evaluation.
#[derive(Default)]
pub struct World {
    pub checks: Vec<CheckRow>,
    pub host: Option<Snapshot>,
    /// Open regressions: (source, method, route, what).
    pub regressions: Vec<(String, String, String, String)>,
    /// Watchpost's failing parts: `database`, `disk`, `task:<name>`.
    pub self_failing: Vec<String>,
    /// Addresses a brute-force detector tripped on recently, with the detector.
    pub brute_force: Vec<(String, String)>,
    pub bans_last_hour: usize,
    /// Admins who recently logged in from an address new for them: (user id, address).
    pub new_admin_ips: Vec<(i64, String)>,
    /// Each (source, window in seconds) a perf rule asked for: its routes.
    pub perf_recent: Vec<(String, i64, Vec<Summary>)>,
    /// Why the audit trail does not verify, when it does not.
    pub trail_problem: Option<String>,
    /// Recent issue signals: (`new` or `regression`, project slug, issue id, title).
    pub error_issues: Vec<(&'static str, String, i64, String)>,
    /// Per project slug: events in each spike rule's window, and the usual
    /// number per window (the previous 24 hours' average): (window s, slug, recent, usual).
    pub error_rates: Vec<(i64, String, u64, f64)>,
    /// High security-audit findings that were new when found and that the
    /// latest run still has: (finding id, title).
    pub audit_findings: Vec<(String, String)>,
}

fn project_matches(filter: &Option<String>, slug: &str) -> bool {
    filter.as_deref().is_none_or(|p| p == slug)
}

fn issue_seen(world: &World, kind: &str, project: &Option<String>) -> Vec<Seen> {
    world
        .error_issues
        .iter()
        .filter(|(k, slug, _, _)| *k == kind && project_matches(project, slug))
        .map(|(_, slug, id, title)| {
            let what = if kind == "new" {
                "new issue"
            } else {
                "regression"
            };
            seen(
                format!("issue:{id}"),
                true,
                format!("{what} in {slug}: {title}"),
            )
        })
        .collect()
}

/// One subject of one rule, now.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub subject: String,
    pub active: bool,
    pub summary: String,
    /// Inside a check's maintenance window: states change, nothing is sent.
    pub maintenance: bool,
}

fn seen(subject: String, active: bool, summary: String) -> Seen {
    Seen {
        subject,
        active,
        summary,
        maintenance: false,
    }
}

fn selected<'a>(world: &'a World, slugs: &'a [String]) -> impl Iterator<Item = &'a CheckRow> {
    world
        .checks
        .iter()
        .filter(move |c| slugs.is_empty() || slugs.contains(&c.slug))
}

fn check_seen(c: &CheckRow, active: bool, what: &str) -> Seen {
    let active = active || c.state == State::Maintenance;
    let summary = match (&c.last_error, active) {
        (Some(error), true) => format!("{} is {what}: {error}", c.name),
        _ => format!("{} is {}", c.name, c.state.as_str()),
    };
    Seen {
        subject: format!("check:{}", c.slug),
        active,
        summary,
        maintenance: c.state == State::Maintenance,
    }
}

/// Every subject of `rule` and whether its condition holds.
pub fn observe(rule: &Rule, world: &World) -> Vec<Seen> {
    match &rule.kind {
        Kind::CheckDown { checks } => selected(world, checks)
            .map(|c| check_seen(c, c.state == State::Down, "down"))
            .collect(),
        Kind::CheckDegraded { checks } => selected(world, checks)
            .map(|c| check_seen(c, c.state == State::Degraded, "degraded"))
            .collect(),
        Kind::HeartbeatMissed { checks } => selected(world, checks)
            .filter(|c| c.kind == "heartbeat")
            .map(|c| check_seen(c, c.state == State::Down, "missing its heartbeat"))
            .collect(),
        Kind::CertExpiry { checks, days } => selected(world, checks)
            .filter_map(|c| {
                let left = c.cert_days?;
                Some(seen(
                    format!("check:{}", c.slug),
                    (left as f64) < *days,
                    format!("the certificate of {} expires in {left} days", c.name),
                ))
            })
            .collect(),
        Kind::MetricThreshold { series, op, value } => world
            .host
            .as_ref()
            .map(|host| {
                metric_values(host, series)
                    .into_iter()
                    .map(|(subject, v)| {
                        seen(
                            subject.clone(),
                            op.holds(v, *value),
                            format!("{series} of {subject} is {v:.1} ({} {value})", op.as_str()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Kind::PerfP95(w) => perf_seen(world, w, "p95", |s| {
            s.p95_ms.map(|p| (p, format!("{p:.1} ms")))
        }),
        Kind::PerfErrorRate(w) => perf_seen(world, w, "5xx share", |s| {
            Some((s.error_rate, format!("{:.1} %", s.error_rate)))
        }),
        Kind::TrailBroken => vec![seen(
            "audit-trail".into(),
            world.trail_problem.is_some(),
            world.trail_problem.clone().map_or_else(
                || "the audit trail verifies".into(),
                |p| format!("the audit trail does not verify: {p}"),
            ),
        )],
        Kind::PerfRegression => world
            .regressions
            .iter()
            .map(|(source, method, route, what)| {
                seen(
                    format!("route:{source} {method} {route}"),
                    true,
                    format!("{method} {route} ({source}) regressed: {what}"),
                )
            })
            .collect(),
        Kind::Bruteforce => world
            .brute_force
            .iter()
            .map(|(ip, detector)| {
                seen(
                    format!("ip:{ip}"),
                    true,
                    format!("{detector} detected brute force from {ip}"),
                )
            })
            .collect(),
        Kind::BansPerHour { value } => vec![seen(
            "bans".into(),
            world.bans_last_hour as f64 > *value,
            format!("{} bans in the last hour (> {value})", world.bans_last_hour),
        )],
        Kind::NewAdminIp => world
            .new_admin_ips
            .iter()
            .map(|(user, ip)| {
                seen(
                    format!("user:{user}"),
                    true,
                    format!(
                        "admin user:{user} logged in from {ip}, an address never seen for them"
                    ),
                )
            })
            .collect(),
        Kind::ErrorNewIssue { project } => issue_seen(world, "new", project),
        Kind::ErrorRegression { project } => issue_seen(world, "regression", project),
        Kind::ErrorRateSpike {
            project,
            factor,
            window_s,
            min_events,
        } => world
            .error_rates
            .iter()
            .filter(|(w, slug, _, _)| w == window_s && project_matches(project, slug))
            .map(|(_, slug, recent, usual)| {
                let active = *recent >= *min_events && *recent as f64 > factor * usual.max(1.0 / factor);
                seen(
                    format!("project:{slug}"),
                    active,
                    format!(
                        "{recent} events in {slug} in the last {} min, usually {usual:.1} (× {factor} fires)",
                        window_s / 60
                    ),
                )
            })
            .collect(),
        Kind::AuditFinding => world
            .audit_findings
            .iter()
            .map(|(id, title)| {
                seen(
                    format!("audit:{id}"),
                    true,
                    format!("the security audit found a new high finding: {title} ({id})"),
                )
            })
            .collect(),
        Kind::SelfHealth => world
            .self_failing
            .iter()
            .map(|part| {
                seen(
                    format!("watchpost:{part}"),
                    true,
                    format!("Watchpost's own {part} is failing"),
                )
            })
            .collect(),
    }
}

/// Each route of the rule's source and window, judged by `figure`.
fn perf_seen(
    world: &World,
    w: &PerfWindow,
    what: &str,
    figure: impl Fn(&Summary) -> Option<(f64, String)>,
) -> Vec<Seen> {
    let Some((_, _, routes)) = world
        .perf_recent
        .iter()
        .find(|(s, win, _)| *s == w.source && *win == w.window_s)
    else {
        return Vec::new();
    };
    routes
        .iter()
        .filter(|s| w.route.as_ref().is_none_or(|r| *r == s.route))
        .filter_map(|s| {
            let (value, shown) = figure(s)?;
            Some(seen(
                format!("route:{} {} {}", w.source, s.method, s.route),
                s.requests >= w.min_requests && value > w.value,
                format!(
                    "{what} of {} {} ({}) is {shown} over {} requests in {} min (threshold {})",
                    s.method,
                    s.route,
                    w.source,
                    s.requests,
                    w.window_s / 60,
                    w.value
                ),
            ))
        })
        .collect()
}

/// The values a threshold compares, by subject. `disk.used_percent` is per
/// filesystem (each mount its own subject); the rest are host-wide.
fn metric_values(host: &Snapshot, series: &str) -> Vec<(String, f64)> {
    let plain = |name: &str| {
        host.readings
            .iter()
            .find(|r| r.metric.series == name && r.label.is_none())
            .map(|r| r.value)
    };
    let percent = |used: Option<f64>, total: Option<f64>| match (used, total) {
        (Some(u), Some(t)) if t > 0.0 => Some(u / t * 100.0),
        _ => None,
    };
    let host_wide = |v: Option<f64>| v.map(|v| vec![("host".to_string(), v)]).unwrap_or_default();
    match series {
        "disk.used_percent" => host
            .readings
            .iter()
            .filter(|r| r.metric.series == "host.fs.used")
            .filter_map(|used| {
                let mount = used.label.clone()?;
                let total = host.readings.iter().find(|r| {
                    r.metric.series == "host.fs.total" && r.label.as_ref() == Some(&mount)
                })?;
                Some((
                    format!("fs:{mount}"),
                    percent(Some(used.value), Some(total.value))?,
                ))
            })
            .collect(),
        "memory.used_percent" => host_wide(percent(
            plain("host.memory.used"),
            plain("host.memory.total"),
        )),
        "swap.used_percent" => {
            host_wide(percent(plain("host.swap.used"), plain("host.swap.total")))
        }
        "cpu.percent" => host_wide(plain("host.cpu.total")),
        "load.1" => host_wide(plain("host.load.1")),
        other => host_wide(plain(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::RuleConfig;

    fn rule(kind: &str, extra: impl FnOnce(&mut RuleConfig)) -> Rule {
        let mut c = RuleConfig {
            id: "r".into(),
            kind: kind.into(),
            ..RuleConfig::default()
        };
        extra(&mut c);
        Rule::from_config(&c, std::time::Duration::ZERO).unwrap()
    }

    fn check(slug: &str, state: State, kind: &str) -> CheckRow {
        CheckRow {
            id: 1,
            slug: slug.into(),
            name: slug.into(),
            kind: kind.into(),
            spec: String::new(),
            headers_sealed: None,
            origin: "ui".into(),
            public: false,
            paused: false,
            ping_sealed: None,
            state,
            state_since_ms: 0,
            fails: 0,
            successes: 0,
            last_run_ms: None,
            last_latency_ms: None,
            last_error: Some("connection refused".into()),
            cert_days: None,
            last_ping_ms: None,
            last_start_ms: None,
            last_ping_kind: None,
            created_ms: 0,
        }
    }

    #[test]
    fn check_rules_see_each_selected_check_and_maintenance_is_marked() {
        let world = World {
            checks: vec![
                check("web", State::Down, "http"),
                check("api", State::Up, "http"),
                check("db", State::Maintenance, "tcp"),
                check("cron", State::Down, "heartbeat"),
            ],
            ..World::default()
        };
        let all = observe(&rule("check_down", |_| {}), &world);
        let active: Vec<_> = all
            .iter()
            .filter(|s| s.active)
            .map(|s| s.subject.as_str())
            .collect();
        assert_eq!(active, ["check:web", "check:db", "check:cron"]);
        assert!(all[0].summary.contains("connection refused"));
        assert!(
            all.iter()
                .find(|s| s.subject == "check:db")
                .unwrap()
                .maintenance
        );
        let one = observe(
            &rule("check_down", |c| c.checks = vec!["api".into()]),
            &world,
        );
        assert_eq!(one.len(), 1);
        assert!(!one[0].active);
        assert_eq!(one[0].summary, "api is up", "a clear check says its state");
        let beats = observe(&rule("heartbeat_missed", |_| {}), &world);
        assert_eq!(beats.len(), 1);
        assert_eq!(beats[0].subject, "check:cron");
    }

    #[test]
    fn counted_signals_compare_with_their_value() {
        let world = World {
            bans_last_hour: 11,
            brute_force: vec![("203.0.113.9".into(), "ssh_bruteforce".into())],
            self_failing: vec!["disk".into()],
            ..World::default()
        };
        let bans = observe(&rule("bans_per_hour", |c| c.value = Some(10.0)), &world);
        assert!(bans[0].active);
        let bans = observe(&rule("bans_per_hour", |c| c.value = Some(11.0)), &world);
        assert!(!bans[0].active, "more than N, not N");
        let brute = observe(&rule("bruteforce", |_| {}), &world);
        assert_eq!(brute[0].subject, "ip:203.0.113.9");
        let world = World {
            new_admin_ips: vec![(3, "198.51.100.4".into())],
            ..world
        };
        let new_ip = observe(&rule("new_admin_ip", |_| {}), &world);
        assert_eq!(new_ip[0].subject, "user:3");
        assert!(new_ip[0].summary.contains("198.51.100.4"));
        let world = World {
            audit_findings: vec![(
                "config.bind_without_tls".into(),
                "Listening beyond loopback without TLS or a reverse proxy".into(),
            )],
            ..world
        };
        let audit = observe(&rule("audit_finding", |_| {}), &world);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].subject, "audit:config.bind_without_tls");
        assert!(audit[0].active && audit[0].summary.contains("without TLS"));
        let health = observe(&rule("self_health", |_| {}), &world);
        assert_eq!(health[0].subject, "watchpost:disk");
        assert!(!observe(&rule("trail_broken", |_| {}), &world)[0].active);
    }

    #[test]
    fn perf_rules_judge_each_route_with_enough_requests() {
        let summary = |route: &str, requests: u64, p95: f64, error_rate: f64| Summary {
            route: route.into(),
            method: "GET".into(),
            requests,
            p95_ms: Some(p95),
            error_rate,
            ..Summary::default()
        };
        let world = World {
            perf_recent: vec![(
                "self".into(),
                300,
                vec![
                    summary("/a", 100, 900.0, 0.0),
                    summary("/b", 5, 900.0, 50.0),
                    summary("/c", 100, 10.0, 12.0),
                ],
            )],
            trail_problem: Some("row 7 was changed".into()),
            ..World::default()
        };
        let slow = observe(&rule("perf_p95", |c| c.value = Some(500.0)), &world);
        let active: Vec<_> = slow
            .iter()
            .filter(|s| s.active)
            .map(|s| s.subject.as_str())
            .collect();
        assert_eq!(active, ["route:self GET /a"], "/b has too few requests");
        assert!(slow[0].summary.contains("900.0 ms"));
        let errors = observe(&rule("perf_error_rate", |c| c.value = Some(10.0)), &world);
        let active: Vec<_> = errors
            .iter()
            .filter(|s| s.active)
            .map(|s| s.subject.as_str())
            .collect();
        assert_eq!(active, ["route:self GET /c"]);
        let one = observe(
            &rule("perf_p95", |c| {
                c.value = Some(500.0);
                c.route = Some("/c".into());
            }),
            &world,
        );
        assert_eq!(one.len(), 1);
        let other_window = observe(
            &rule("perf_p95", |c| {
                c.value = Some(500.0);
                c.window = Some("15m".into());
            }),
            &world,
        );
        assert!(other_window.is_empty(), "only the window asked for");
        let trail = observe(&rule("trail_broken", |_| {}), &world);
        assert!(trail[0].active && trail[0].summary.contains("row 7"));
    }
}
