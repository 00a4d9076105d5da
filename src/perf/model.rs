//! The request-statistics model and its pure logic: one [`Cell`] per
//! (source, route, method, status class) per minute, summaries of merged
//! cells (rpm, error rates, percentiles), baselines, the regression rule
//! and its state machine, and the before/after comparison of a deploy.
//!
//! The error rate is the share of 5xx answers: 4xx are the client's doing
//! (scanners alone produce thousands of 404s) and are shown beside it.

use serde::Serialize;

use super::histogram::Histogram;

/// Watchpost's own traffic.
pub const SELF_SOURCE: &str = "self";
/// Distinct status codes kept per cell; more are folded into their class.
const MAX_CODES: usize = 16;

/// 1…5 for 1xx…5xx.
pub fn status_class(status: u16) -> u8 {
    match status {
        100..=199 => 1,
        200..=299 => 2,
        300..=399 => 3,
        400..=499 => 4,
        _ => 5,
    }
}

/// Unknown methods share one value, so they cannot grow the key space.
pub fn standard_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// One key over one span (a minute or an hour).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    /// Every request, timed or not.
    pub count: u64,
    /// Of the timed ones (the histogram's count).
    pub sum_us: u64,
    pub max_us: u64,
    pub hist: Histogram,
    /// (status code, requests); at most [`MAX_CODES`] distinct codes.
    pub codes: Vec<(u16, u64)>,
}

impl Cell {
    /// One request; `us` is None when the source did not time it.
    pub fn observe(&mut self, status: u16, us: Option<u64>) {
        self.count += 1;
        if let Some(us) = us {
            self.sum_us = self.sum_us.saturating_add(us);
            self.max_us = self.max_us.max(us);
            self.hist.record(us);
        }
        self.add_code(status, 1);
    }

    fn add_code(&mut self, status: u16, n: u64) {
        if let Some(c) = self.codes.iter_mut().find(|(s, _)| *s == status) {
            c.1 += n;
        } else if self.codes.len() < MAX_CODES {
            self.codes.push((status, n));
        } else {
            // Folded into the class's round number (e.g. 4xx → 400).
            let folded = u16::from(status_class(status)) * 100;
            match self.codes.iter_mut().find(|(s, _)| *s == folded) {
                Some(c) => c.1 += n,
                None => {
                    if let Some(last) = self.codes.last_mut() {
                        last.1 += n;
                    }
                }
            }
        }
    }

    pub fn merge(&mut self, other: &Cell) {
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
        self.hist.merge(&other.hist);
        for (status, n) in &other.codes {
            self.add_code(*status, *n);
        }
    }

    /// `200:15,404:2` for storage.
    pub fn codes_text(&self) -> String {
        let mut codes = self.codes.clone();
        codes.sort_unstable();
        codes
            .iter()
            .map(|(s, n)| format!("{s}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Cell::codes_text`]; unreadable pairs are skipped.
    pub fn parse_codes(text: &str) -> Vec<(u16, u64)> {
        text.split(',')
            .filter_map(|pair| {
                let (s, n) = pair.split_once(':')?;
                Some((s.parse().ok()?, n.parse().ok()?))
            })
            .collect()
    }
}

/// A stored cell with its key and time.
#[derive(Debug, Clone)]
pub struct Row {
    pub source: String,
    pub route: String,
    pub method: String,
    pub class: u8,
    /// Unix seconds at the start of the span.
    pub ts: i64,
    pub cell: Cell,
}

/// Merged cells of one route and method (or of a whole source).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub route: String,
    pub method: String,
    pub requests: u64,
    pub errors_4xx: u64,
    pub errors_5xx: u64,
    /// Share of 5xx answers, 0–100.
    pub error_rate: f64,
    /// Requests per minute over the window.
    pub rpm: f64,
    /// Milliseconds; None without timed requests.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

/// Merged cells with their 4xx and 5xx counts.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub cell: Cell,
    pub errors_4xx: u64,
    pub errors_5xx: u64,
}

impl Totals {
    pub fn add(&mut self, class: u8, cell: &Cell) {
        self.cell.merge(cell);
        match class {
            4 => self.errors_4xx += cell.count,
            5 => self.errors_5xx += cell.count,
            _ => {}
        }
    }

    pub fn error_rate(&self) -> f64 {
        if self.cell.count == 0 {
            0.0
        } else {
            100.0 * self.errors_5xx as f64 / self.cell.count as f64
        }
    }

    pub fn summary(&self, route: &str, method: &str, minutes: f64) -> Summary {
        let ms = |us: Option<f64>| us.map(|u| u / 1000.0);
        let timed = self.cell.hist.count();
        Summary {
            route: route.to_owned(),
            method: method.to_owned(),
            requests: self.cell.count,
            errors_4xx: self.errors_4xx,
            errors_5xx: self.errors_5xx,
            error_rate: self.error_rate(),
            rpm: if minutes > 0.0 {
                self.cell.count as f64 / minutes
            } else {
                0.0
            },
            p50_ms: ms(self.cell.hist.quantile(0.50)),
            p95_ms: ms(self.cell.hist.quantile(0.95)),
            p99_ms: ms(self.cell.hist.quantile(0.99)),
            max_ms: (timed > 0).then(|| self.cell.max_us as f64 / 1000.0),
            mean_ms: (timed > 0).then(|| self.cell.sum_us as f64 / timed as f64 / 1000.0),
        }
    }
}

/// What a route usually does, over the baseline window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Baseline {
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// 0–100.
    pub error_rate: f64,
    pub requests: u64,
}

impl Baseline {
    /// None without timed requests.
    pub fn of(totals: &Totals) -> Option<Baseline> {
        let h = &totals.cell.hist;
        Some(Baseline {
            p50_ms: h.quantile(0.50)? / 1000.0,
            p95_ms: h.quantile(0.95)? / 1000.0,
            error_rate: totals.error_rate(),
            requests: totals.cell.count,
        })
    }
}

/// The regression rule (`[perf.regression]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub p95_factor: f64,
    pub error_points: f64,
    pub min_requests: u64,
    /// Seconds a route must be back under before its regression clears.
    pub clear_after: i64,
}

/// Why a route is regressed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    Latency {
        p95_ms: f64,
        baseline_p95_ms: f64,
    },
    Errors {
        error_rate: f64,
        baseline_error_rate: f64,
    },
}

impl Reason {
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Latency { .. } => "latency",
            Reason::Errors { .. } => "errors",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Reason::Latency {
                p95_ms,
                baseline_p95_ms,
            } => format!("p95 {p95_ms:.1} ms against a baseline of {baseline_p95_ms:.1} ms"),
            Reason::Errors {
                error_rate,
                baseline_error_rate,
            } => {
                format!("{error_rate:.1} % errors against a baseline of {baseline_error_rate:.1} %")
            }
        }
    }
}

/// The recent window against the baseline: a reason when it is regressed.
/// Too few requests on either side is never a regression.
pub fn judge(recent: &Summary, baseline: Option<&Baseline>, rule: &Rule) -> Option<Reason> {
    let base = baseline?;
    if recent.requests < rule.min_requests || base.requests < rule.min_requests {
        return None;
    }
    if let Some(p95) = recent.p95_ms
        && p95 > rule.p95_factor * base.p95_ms
    {
        return Some(Reason::Latency {
            p95_ms: p95,
            baseline_p95_ms: base.p95_ms,
        });
    }
    if recent.error_rate > base.error_rate + rule.error_points {
        return Some(Reason::Errors {
            error_rate: recent.error_rate,
            baseline_error_rate: base.error_rate,
        });
    }
    None
}

/// A regression in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Active {
    pub since_ms: i64,
    pub reason: Reason,
    /// When the route last went back under, if it still is.
    pub under_since_ms: Option<i64>,
}

/// What a judgement changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    Started(Reason),
    Cleared { since_ms: i64 },
}

/// The regression state machine: `(state, verdict, now) → (state, transition)`.
/// It starts on the first regressed verdict and clears only after
/// `clear_after` of verdicts that are all fine.
pub fn step(
    state: Option<Active>,
    verdict: Option<Reason>,
    now_ms: i64,
    rule: &Rule,
) -> (Option<Active>, Option<Transition>) {
    match (state, verdict) {
        (None, None) => (None, None),
        (None, Some(reason)) => (
            Some(Active {
                since_ms: now_ms,
                reason,
                under_since_ms: None,
            }),
            Some(Transition::Started(reason)),
        ),
        (Some(active), Some(reason)) => (
            Some(Active {
                reason,
                under_since_ms: None,
                ..active
            }),
            None,
        ),
        (Some(active), None) => {
            let under = active.under_since_ms.unwrap_or(now_ms);
            if now_ms - under >= rule.clear_after * 1000 {
                (
                    None,
                    Some(Transition::Cleared {
                        since_ms: active.since_ms,
                    }),
                )
            } else {
                (
                    Some(Active {
                        under_since_ms: Some(under),
                        ..active
                    }),
                    None,
                )
            }
        }
    }
}

/// One route before and after a deploy.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeployDelta {
    pub route: String,
    pub method: String,
    pub before: Summary,
    pub after: Summary,
    /// (after − before) / before × 100; None when either side has no p95.
    pub p95_change_pct: Option<f64>,
    /// After − before, in points.
    pub error_rate_change: f64,
}

/// Pairs the routes of the two windows (a route on one side only is shown
/// with an empty other side), biggest p95 change first.
pub fn compare(before: &[Summary], after: &[Summary]) -> Vec<DeployDelta> {
    let mut keys: Vec<(&str, &str)> = before
        .iter()
        .chain(after)
        .map(|s| (s.route.as_str(), s.method.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let find = |side: &[Summary], (route, method): (&str, &str)| {
        side.iter()
            .find(|s| s.route == route && s.method == method)
            .cloned()
            .unwrap_or_else(|| Summary {
                route: route.to_owned(),
                method: method.to_owned(),
                ..Summary::default()
            })
    };
    let mut deltas: Vec<DeployDelta> = keys
        .into_iter()
        .map(|key| {
            let (b, a) = (find(before, key), find(after, key));
            let p95_change_pct = match (b.p95_ms, a.p95_ms) {
                (Some(x), Some(y)) if x > 0.0 => Some((y - x) / x * 100.0),
                _ => None,
            };
            DeployDelta {
                route: key.0.to_owned(),
                method: key.1.to_owned(),
                error_rate_change: a.error_rate - b.error_rate,
                p95_change_pct,
                before: b,
                after: a,
            }
        })
        .collect();
    deltas.sort_by(|x, y| {
        let v = |d: &DeployDelta| d.p95_change_pct.map_or(f64::NEG_INFINITY, f64::abs);
        v(y).total_cmp(&v(x))
    });
    deltas
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
