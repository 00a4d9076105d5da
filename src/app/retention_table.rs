//! The retention table: every kind of stored history, in the order the
//! retention page lists it, with its configuration key, how long it is
//! kept and how it is pruned (or why it is kept). Each feature supplies its
//! own prune function; this file only assembles them.

use crate::config::Config;
use crate::retention::{Policy, Prune, What};
use crate::{alerts, checks, errors, host, perf, series, threats};

/// Every kind of stored history and how long it is kept, in the order the
/// retention page lists them.
pub(super) fn retention_policies(config: &Config) -> Vec<Policy> {
    let r = &config.retention;
    let rows = |data, key: &'static str, keep, prune, tables| Policy {
        data,
        key,
        keep,
        what: What::Rows { prune, tables },
    };
    let day = std::time::Duration::from_secs(86_400);
    vec![
        Policy {
            data: "audit_trail",
            key: "",
            keep: std::time::Duration::from_secs(400 * 86_400),
            what: What::Kept {
                tables: &[("audit_trail", "MIN(ts_ms)")],
                why: "hash-chained and append-only: rows are never deleted; erasure blanks personal data instead",
            },
        },
        rows(
            "series_raw",
            "retention.series_raw",
            r.keep("series_raw"),
            series::prune_raw as Prune,
            &[("series_raw", "MIN(ts) * 1000")],
        ),
        rows(
            "series_1m",
            "retention.series_1m",
            r.keep("series_1m"),
            series::prune_minutes,
            &[("series_1m", "MIN(ts) * 1000")],
        ),
        rows(
            "series_1h",
            "retention.series_1h",
            r.keep("series_1h"),
            series::prune_hours,
            &[("series_1h", "MIN(ts) * 1000")],
        ),
        rows(
            "top_processes",
            "retention.top_processes",
            r.keep("top_processes"),
            host::prune_top,
            &[("host_top_processes", "MIN(ts) * 1000")],
        ),
        rows(
            "check_results",
            "retention.check_results",
            r.keep("check_results"),
            checks::prune_results,
            &[("check_results", "MIN(ts_ms)")],
        ),
        // A day longer than the results, so 7-day uptime always has 7 days.
        rows(
            "check_uptime_hours",
            "retention.check_results",
            r.keep("check_results") + day,
            checks::prune_hours,
            &[("check_uptime_hours", "MIN(hour) * 3600000")],
        ),
        rows(
            "check_uptime",
            "retention.check_uptime",
            r.keep("check_uptime"),
            checks::prune_days,
            &[("check_uptime_days", "MIN(day) * 86400000")],
        ),
        rows(
            "check_pings",
            "retention.check_pings",
            r.keep("check_pings"),
            checks::prune_pings,
            &[("check_pings", "MIN(ts_ms)")],
        ),
        rows(
            "security_events",
            "retention.security_events",
            r.keep("security_events"),
            threats::prune_events,
            &[
                ("security_events", "MIN(minute_ms)"),
                ("ssh_failures", "MIN(hour_ms)"),
            ],
        ),
        rows(
            "ip_bans",
            "retention.ip_bans",
            r.keep("ip_bans"),
            threats::prune_bans,
            &[("ip_bans", "MIN(created_ms)")],
        ),
        rows(
            "annotations",
            "retention.annotations",
            r.keep("annotations"),
            threats::prune_deliveries,
            &[("hook_events", "MIN(ts_ms)")],
        ),
        rows(
            "deploys",
            "retention.annotations",
            r.keep("annotations"),
            perf::prune_deploys,
            &[("deploys", "MIN(ts_ms)")],
        ),
        rows(
            "perf_minutes",
            "retention.perf_minutes",
            r.keep("perf_minutes"),
            perf::prune_minutes,
            &[("perf_minutes", "MIN(ts) * 1000")],
        ),
        rows(
            "perf_hours",
            "retention.perf_hours",
            r.keep("perf_hours"),
            perf::prune_hours,
            &[("perf_hours", "MIN(ts) * 1000")],
        ),
        rows(
            "perf_regressions",
            "retention.perf_hours",
            r.keep("perf_hours"),
            perf::prune_regressions,
            &[("perf_regressions", "MIN(started_ms)")],
        ),
        rows(
            "alert_history",
            "retention.alert_history",
            r.keep("alert_history"),
            alerts::prune,
            &[
                ("alert_events", "MIN(ts_ms)"),
                ("alert_outbox", "MIN(created_ms)"),
                ("alert_silences", "MIN(starts_ms)"),
            ],
        ),
        // Each project's own limits apply (set on its page); pruning counts from now.
        rows(
            "error_events",
            "",
            std::time::Duration::ZERO,
            errors::digest_repo::prune_events,
            &[("error_events", "MIN(received_ms)")],
        ),
        Policy {
            data: "log_files",
            key: "retention.log_files",
            keep: r.keep("log_files"),
            what: What::Files {
                dir: config.data_dir().join("logs"),
                stem: crate::telemetry::LOG_FILE,
            },
        },
    ]
}
