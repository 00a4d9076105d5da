//! What the pages and the API show, computed from stored cells: a source's
//! totals and its per-step points (requests per minute, 5xx rate, p95), the
//! routes table with Δ against the baseline and regression badges, one
//! route's percentiles and status codes, and a deploy's before/after.
//! Windows up to two days read the minute tier, longer ones the hour tier.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Baseline, DeployDelta, Summary, Totals, compare};
use super::repo::{self, Deploy, Tier};
use super::service::Perf;
use super::task::totals_by_route;
use crate::error::AppError;

/// The longest window, in hours (90 days, the hour tier's retention).
pub const MAX_HOURS: i64 = 24 * 90;

/// One step of a source's or route's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// Unix seconds.
    pub ts: i64,
    pub requests: u64,
    pub rpm: f64,
    pub error_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// A row of the routes table.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteRow {
    #[serde(flatten)]
    pub summary: Summary,
    pub baseline: Option<Baseline>,
    /// Window p95 against the baseline p95, in %.
    pub p95_vs_baseline_pct: Option<f64>,
    pub regressed: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceView {
    pub source: String,
    pub hours: i64,
    /// Seconds per point.
    pub step: i64,
    pub total: Summary,
    pub points: Vec<Point>,
    pub routes: Vec<RouteRow>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteView {
    pub source: String,
    pub hours: i64,
    pub step: i64,
    pub summary: Summary,
    pub baseline: Option<Baseline>,
    pub points: Vec<Point>,
    /// (status code, requests) over the window.
    pub codes: Vec<(u16, u64)>,
}

pub fn tier_for(hours: i64) -> Tier {
    if hours <= 48 {
        Tier::Minutes
    } else {
        Tier::Hours
    }
}

pub fn check_hours(hours: Option<i64>) -> Result<i64, AppError> {
    let h = hours.unwrap_or(24);
    if (1..=MAX_HOURS).contains(&h) {
        Ok(h)
    } else {
        Err(AppError::BadRequest(format!(
            "hours {h} is out of range; use 1 to {MAX_HOURS}"
        )))
    }
}

fn points(rows: &[super::model::Row], step: i64) -> Vec<Point> {
    let mut by_ts: BTreeMap<i64, Totals> = BTreeMap::new();
    for r in rows {
        by_ts
            .entry(r.ts - r.ts.rem_euclid(step))
            .or_default()
            .add(r.class, &r.cell);
    }
    by_ts
        .into_iter()
        .map(|(ts, t)| {
            let s = t.summary("", "", step as f64 / 60.0);
            Point {
                ts,
                requests: s.requests,
                rpm: s.rpm,
                error_rate: s.error_rate,
                p50_ms: s.p50_ms,
                p95_ms: s.p95_ms,
                p99_ms: s.p99_ms,
            }
        })
        .collect()
}

/// `[from, to)` in unix seconds for the last `hours`, up to the open minute.
fn window(perf: &Perf, hours: i64) -> (i64, i64) {
    let to = perf.open_minute();
    (to - hours * 3_600, to)
}

pub async fn source(perf: &Perf, source: &str, hours: i64) -> Result<SourceView, AppError> {
    let (from, to) = window(perf, hours);
    let tier = tier_for(hours);
    let name = source.to_owned();
    let rows = perf
        .store
        .read(move |c| repo::cells(c, tier, &name, from, to, None))
        .await?;
    let minutes = (to - from) as f64 / 60.0;
    let mut total = Totals::default();
    rows.iter().for_each(|r| total.add(r.class, &r.cell));
    let baselines = perf.baselines_snapshot();
    let active = perf.active_regressions();
    let mut routes: Vec<RouteRow> = totals_by_route(&rows)
        .into_iter()
        .map(|((route, method), t)| {
            let key = (source.to_owned(), route.clone(), method.clone());
            let baseline = baselines.get(&key).copied();
            let summary = t.summary(&route, &method, minutes);
            let p95_vs_baseline_pct = match (summary.p95_ms, baseline) {
                (Some(p), Some(b)) if b.p95_ms > 0.0 => Some((p - b.p95_ms) / b.p95_ms * 100.0),
                _ => None,
            };
            RouteRow {
                regressed: active.iter().any(|(k, _)| *k == key),
                summary,
                baseline,
                p95_vs_baseline_pct,
            }
        })
        .collect();
    routes.sort_by(|a, b| {
        b.summary
            .requests
            .cmp(&a.summary.requests)
            .then(a.summary.route.cmp(&b.summary.route))
    });
    Ok(SourceView {
        source: source.to_owned(),
        hours,
        step: tier.step(),
        total: total.summary("", "", minutes),
        points: points(&rows, tier.step()),
        routes,
    })
}

pub async fn route(
    perf: &Perf,
    source: &str,
    route: &str,
    method: &str,
    hours: i64,
) -> Result<RouteView, AppError> {
    let (from, to) = window(perf, hours);
    let tier = tier_for(hours);
    let (s, r, m) = (source.to_owned(), route.to_owned(), method.to_owned());
    let rows = perf
        .store
        .read(move |c| repo::cells(c, tier, &s, from, to, Some((&r, &m))))
        .await?;
    if rows.is_empty() {
        return Err(AppError::NotFound);
    }
    let mut total = Totals::default();
    rows.iter().for_each(|r| total.add(r.class, &r.cell));
    let mut codes = total.cell.codes.clone();
    codes.sort_unstable();
    Ok(RouteView {
        source: source.to_owned(),
        hours,
        step: tier.step(),
        summary: total.summary(route, method, (to - from) as f64 / 60.0),
        baseline: perf
            .baselines_snapshot()
            .get(&(source.to_owned(), route.to_owned(), method.to_owned()))
            .copied(),
        points: points(&rows, tier.step()),
        codes,
    })
}

/// Per-route figures of a source over `[from, to)`.
async fn summaries(
    perf: &Perf,
    source: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Summary>, AppError> {
    let tier = if to - from <= 48 * 3_600 {
        Tier::Minutes
    } else {
        Tier::Hours
    };
    let s = source.to_owned();
    let rows = perf
        .store
        .read(move |c| repo::cells(c, tier, &s, from, to, None))
        .await?;
    let minutes = (to - from) as f64 / 60.0;
    Ok(totals_by_route(&rows)
        .into_iter()
        .map(|((r, m), t)| t.summary(&r, &m, minutes))
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeployView {
    pub deploy: Deploy,
    pub source: String,
    pub hours: i64,
    pub routes: Vec<DeployDelta>,
}

/// `hours` before the deploy against `hours` after it (up to now).
pub async fn deploy(
    perf: &Perf,
    id: i64,
    source: &str,
    hours: i64,
) -> Result<DeployView, AppError> {
    let deploy = perf
        .store
        .read(move |c| repo::deploy(c, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let at = deploy.ts_ms.div_euclid(1000);
    let source = if deploy.source.is_empty() {
        source.to_owned()
    } else {
        deploy.source.clone()
    };
    let span = hours * 3_600;
    let before = summaries(perf, &source, at - span, at).await?;
    let after = summaries(
        perf,
        &source,
        at,
        (at + span).min(perf.open_minute().max(at)),
    )
    .await?;
    Ok(DeployView {
        routes: compare(&before, &after),
        deploy,
        source,
        hours,
    })
}

/// Deploys within the window, newest first.
pub async fn deploys(perf: &Perf, hours: i64) -> Result<Vec<Deploy>, AppError> {
    let to = perf.clock.now_ms() + 1;
    let from = to - hours * 3_600_000;
    Ok(perf
        .store
        .read(move |c| repo::deploys(c, from, to, 500))
        .await?)
}

/// Each route's figures over the last `window_secs` of stored minutes (the
/// minute still being aggregated is not in yet). For the alert rules.
pub async fn recent(perf: &Perf, source: &str, window_secs: i64) -> Result<Vec<Summary>, AppError> {
    let to = perf.open_minute();
    let from = to - window_secs;
    let s = source.to_owned();
    let rows = perf
        .store
        .read(move |c| repo::cells(c, Tier::Minutes, &s, from, to, None))
        .await?;
    let minutes = window_secs as f64 / 60.0;
    let mut out: Vec<Summary> = totals_by_route(&rows)
        .into_iter()
        .map(|((route, method), totals)| totals.summary(&route, &method, minutes))
        .collect();
    out.sort_by(|a, b| (&a.route, &a.method).cmp(&(&b.route, &b.method)));
    Ok(out)
}
