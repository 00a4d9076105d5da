//! The `[perf]` section: the baseline window, the regression rule, the
//! slow-request threshold, the cap on distinct routes per log source and
//! the user's route rules for log sources (`[[perf.routes]]`, regex → name,
//! tried before the built-in placeholders).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::Rule;
use super::normalise::RouteRule;
use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PerfConfig {
    /// Days of history a route's baseline is computed over.
    pub baseline_days: u32,
    /// Own requests slower than this are kept in the slowest-requests list.
    pub slow_threshold: String,
    /// Distinct routes kept per log source; more are counted as `{other}`.
    pub max_routes: usize,
    pub regression: RegressionConfig,
    /// `[[perf.routes]]`: `pattern` (a regex over the whole path) → `name`.
    pub routes: Vec<RouteRuleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RegressionConfig {
    /// The recent window compared with the baseline.
    pub window: String,
    /// Regressed when the window's p95 exceeds this × the baseline p95.
    pub p95_factor: f64,
    /// … or its 5xx rate exceeds the baseline's by this many points.
    pub error_points: f64,
    /// Fewer requests than this in the window (or the baseline) never regress.
    pub min_requests: u64,
    /// A regression clears after this long back under.
    pub clear_after: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteRuleConfig {
    pub pattern: String,
    pub name: String,
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            baseline_days: 7,
            slow_threshold: "500ms".into(),
            max_routes: 500,
            regression: RegressionConfig::default(),
            routes: Vec::new(),
        }
    }
}

impl Default for RegressionConfig {
    fn default() -> Self {
        RegressionConfig {
            window: "15m".into(),
            p95_factor: 1.5,
            error_points: 5.0,
            min_requests: 50,
            clear_after: "15m".into(),
        }
    }
}

fn duration(value: &str) -> Option<Duration> {
    humantime::parse_duration(value)
        .ok()
        .filter(|d| !d.is_zero())
}

fn secs(value: &str, default: u64) -> i64 {
    i64::try_from(duration(value).map_or(default, |d| d.as_secs().max(1))).unwrap_or(i64::MAX)
}

impl PerfConfig {
    pub fn rule(&self) -> Rule {
        Rule {
            p95_factor: self.regression.p95_factor,
            error_points: self.regression.error_points,
            min_requests: self.regression.min_requests,
            clear_after: secs(&self.regression.clear_after, 900),
        }
    }

    /// The recent window, in seconds.
    pub fn window_secs(&self) -> i64 {
        secs(&self.regression.window, 900)
    }

    pub fn slow_us(&self) -> u64 {
        duration(&self.slow_threshold).map_or(500_000, |d| {
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
        })
    }

    /// The compiled route rules (validation refuses a bad regex first).
    pub fn route_rules(&self) -> Vec<RouteRule> {
        self.routes
            .iter()
            .filter_map(|r| {
                Some(RouteRule {
                    regex: regex::Regex::new(&r.pattern).ok()?,
                    name: r.name.clone(),
                })
            })
            .collect()
    }
}

impl Section for PerfConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if !(1..=90).contains(&self.baseline_days) {
            problems.push(Problem::new(
                format!("{prefix}.baseline_days"),
                "must be 1 to 90 days, e.g. 7",
            ));
        }
        if self.max_routes == 0 || self.max_routes > 10_000 {
            problems.push(Problem::new(
                format!("{prefix}.max_routes"),
                "must be 1 to 10000, e.g. 500",
            ));
        }
        let r = &self.regression;
        for (key, value) in [
            ("slow_threshold", &self.slow_threshold),
            ("regression.window", &r.window),
            ("regression.clear_after", &r.clear_after),
        ] {
            if duration(value).is_none() {
                problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("{value:?} is not a duration; use e.g. \"500ms\" or \"15m\""),
                ));
            }
        }
        if !(r.p95_factor > 1.0 && r.p95_factor.is_finite()) {
            problems.push(Problem::new(
                format!("{prefix}.regression.p95_factor"),
                "must be a number above 1, e.g. 1.5",
            ));
        }
        if !(r.error_points > 0.0 && r.error_points <= 100.0) {
            problems.push(Problem::new(
                format!("{prefix}.regression.error_points"),
                "must be above 0 and at most 100 percentage points, e.g. 5",
            ));
        }
        for (i, rule) in self.routes.iter().enumerate() {
            if let Err(e) = regex::Regex::new(&rule.pattern) {
                problems.push(Problem::new(
                    format!("{prefix}.routes[{i}].pattern"),
                    format!("is not a valid regex: {e}"),
                ));
            }
            if rule.name.is_empty() || rule.name.len() > 200 {
                problems.push(Problem::new(
                    format!("{prefix}.routes[{i}].name"),
                    "must be 1 to 200 characters, e.g. \"/users/{user}/avatar\"",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_names_its_key() {
        let mut c = PerfConfig {
            baseline_days: 0,
            slow_threshold: "soon".into(),
            max_routes: 0,
            ..PerfConfig::default()
        };
        c.regression.p95_factor = 0.5;
        c.regression.error_points = 0.0;
        c.regression.window = "x".into();
        c.routes.push(RouteRuleConfig {
            pattern: "(".into(),
            name: String::new(),
        });
        let mut problems = Vec::new();
        c.validate("perf", &mut problems);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "perf.baseline_days",
                "perf.max_routes",
                "perf.slow_threshold",
                "perf.regression.window",
                "perf.regression.p95_factor",
                "perf.regression.error_points",
                "perf.routes[0].pattern",
                "perf.routes[0].name",
            ]
        );
        let mut none = Vec::new();
        PerfConfig::default().validate("perf", &mut none);
        assert!(none.is_empty(), "{none:?}");
        assert_eq!(PerfConfig::default().slow_us(), 500_000);
        assert_eq!(PerfConfig::default().window_secs(), 900);
    }
}
