//! The perf task: it stores the finished minutes of every source (one
//! transaction, merged into the minute and hour tiers) and the slowest
//! requests — own traffic once, just after each minute ends; log lines that
//! arrive late for a minute are merged into it within seconds — and at each
//! new minute judges every route's recent window against its baseline;
//! every hour it recomputes the baselines. Deploy markers that
//! signed hooks deliver arrive on the bus and are stored. On shutdown it
//! stores everything aggregated so far, the open minute included.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::{MissedTickBehavior, interval};

use super::model::{Active, Reason, Totals, Transition, judge, step};
use super::repo::{self, Deploy, RegressionRow, Tier};
use super::service::{Perf, RouteKey, SLOW_KEPT};
use crate::bus::Signal;
use crate::store::StoreError;
use crate::tasks::Shutdown;

/// How often finished minutes are looked for (each is written once it ends).
const FLUSH_EVERY: Duration = Duration::from_secs(5);
const BASELINE_EVERY: Duration = Duration::from_secs(3_600);

pub async fn run(perf: Arc<Perf>, mut shutdown: Shutdown) {
    let mut signals = perf.bus.subscribe();
    if let Err(e) = load(&perf).await {
        tracing::error!(error = %e, "loading baselines and regressions failed; they are recomputed within the hour");
    }
    let mut flush = interval(FLUSH_EVERY);
    let mut baselines = interval(BASELINE_EVERY);
    for t in [&mut flush, &mut baselines] {
        t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    }
    let mut judged = perf.open_minute();
    loop {
        tokio::select! {
            _ = flush.tick() => {
                let open = perf.open_minute();
                store_minutes(&perf, Some(open)).await;
                if open != judged {
                    judged = open;
                    if let Err(e) = judge_all(&perf).await {
                        tracing::error!(error = %e, "judging regressions failed; retrying in a minute");
                    }
                }
            }
            _ = baselines.tick() => {
                if let Err(e) = recompute_baselines(&perf).await {
                    tracing::error!(error = %e, "recomputing baselines failed; retrying in an hour");
                }
            }
            signal = signals.recv() => match signal {
                Ok(Signal::Deploy { version, source, notes, hook, ts_ms }) => {
                    let d = Deploy { id: 0, ts_ms, version, source, notes, origin: format!("hook:{hook}") };
                    if let Err(e) = perf.store.write(move |c| repo::insert_deploy(c, &d)).await {
                        tracing::error!(error = %e, "storing a deploy marker from a hook failed");
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "perf fell behind the bus"),
                Err(RecvError::Closed) => signals = perf.bus.subscribe(),
            },
            () = shutdown.wait() => break,
        }
    }
    store_minutes(&perf, None).await;
}

/// Stores the minutes before `open` (all with None) and the slow requests.
pub async fn store_minutes(perf: &Perf, open: Option<i64>) {
    let rows = perf.take_rows(open);
    let slow = perf.take_slow();
    if rows.is_empty() && slow.is_empty() {
        return;
    }
    let n = rows.len();
    let result = perf
        .store
        .write(move |c| {
            repo::write_cells(c, &rows)?;
            repo::save_slow(c, &slow, SLOW_KEPT as i64)
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, cells = n, "writing request statistics failed; this minute is lost");
    }
}

async fn load(perf: &Perf) -> Result<(), StoreError> {
    let sources = perf.live_sources();
    let (baselines, open) = perf
        .store
        .read(move |c| {
            let mut all = Vec::new();
            for s in &sources {
                for (route, method, b) in repo::baselines(c, s)? {
                    all.push(((s.clone(), route, method), b));
                }
            }
            Ok((all, repo::regressions(c, true, 10_000)?))
        })
        .await?;
    perf.set_baselines(baselines.into_iter().collect());
    let mut active = perf.active.lock().unwrap_or_else(|p| p.into_inner());
    for r in open {
        // The figures are refreshed by the next judgement.
        let reason = if r.kind == "errors" {
            Reason::Errors {
                error_rate: 0.0,
                baseline_error_rate: 0.0,
            }
        } else {
            Reason::Latency {
                p95_ms: 0.0,
                baseline_p95_ms: 0.0,
            }
        };
        active.insert(
            (r.source, r.route, r.method),
            Active {
                since_ms: r.started_ms,
                reason,
                under_since_ms: None,
            },
        );
    }
    Ok(())
}

/// Merged cells per (route, method) of a source over `[from, to)`.
pub fn totals_by_route(rows: &[super::model::Row]) -> HashMap<(String, String), Totals> {
    let mut out: HashMap<(String, String), Totals> = HashMap::new();
    for r in rows {
        out.entry((r.route.clone(), r.method.clone()))
            .or_default()
            .add(r.class, &r.cell);
    }
    out
}

pub async fn recompute_baselines(perf: &Perf) -> Result<(), StoreError> {
    let now = perf.clock.now_s();
    let to = now - perf.config.window_secs();
    let from = now - i64::from(perf.config.baseline_days) * 86_400;
    let now_ms = perf.clock.now_ms();
    let sources = perf.live_sources();
    let computed = perf
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for source in sources {
                let rows = repo::cells(c, Tier::Hours, &source, from, to, None)?;
                let list: Vec<(String, String, super::model::Baseline)> = totals_by_route(&rows)
                    .into_iter()
                    .filter_map(|((route, method), t)| {
                        Some((route, method, super::model::Baseline::of(&t)?))
                    })
                    .collect();
                out.push((source, list));
            }
            Ok(out)
        })
        .await?;
    let mut map = HashMap::new();
    for (source, list) in &computed {
        for (route, method, b) in list {
            map.insert((source.clone(), route.clone(), method.clone()), *b);
        }
    }
    perf.set_baselines(map);
    perf.store
        .write(move |c| {
            for (source, list) in &computed {
                repo::save_baselines(c, source, list, now_ms)?;
            }
            Ok(())
        })
        .await
}

/// Judges every route with recent traffic or an open regression.
pub async fn judge_all(perf: &Perf) -> Result<(), StoreError> {
    let now_ms = perf.clock.now_ms();
    let to = perf.open_minute();
    let window = perf.config.window_secs();
    let from = to - window;
    let sources = perf.live_sources();
    let recent = perf
        .store
        .read(move |c| {
            let mut out = Vec::new();
            for source in sources {
                let rows = repo::cells(c, Tier::Minutes, &source, from, to, None)?;
                out.push((source, totals_by_route(&rows)));
            }
            Ok(out)
        })
        .await?;
    let rule = perf.config.rule();
    let baselines = perf.baselines_snapshot();
    let mut changes: Vec<(RouteKey, Transition)> = Vec::new();
    {
        let mut active = perf.active.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<RouteKey> = active.keys().cloned().collect();
        for (source, routes) in &recent {
            keys.extend(
                routes
                    .keys()
                    .map(|(r, m)| (source.clone(), r.clone(), m.clone())),
            );
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            let summary = recent
                .iter()
                .find(|(s, _)| *s == key.0)
                .and_then(|(_, routes)| routes.get(&(key.1.clone(), key.2.clone())))
                .map(|t| t.summary(&key.1, &key.2, window as f64 / 60.0))
                .unwrap_or_default();
            let verdict = judge(&summary, baselines.get(&key), &rule);
            let (state, transition) = step(active.get(&key).copied(), verdict, now_ms, &rule);
            match state {
                Some(s) => active.insert(key.clone(), s),
                None => active.remove(&key),
            };
            if let Some(t) = transition {
                changes.push((key, t));
            }
        }
    }
    for ((source, route, method), t) in changes {
        match t {
            Transition::Started(reason) => {
                let row = RegressionRow {
                    id: 0,
                    source: source.clone(),
                    route: route.clone(),
                    method: method.clone(),
                    kind: reason.kind().to_owned(),
                    detail: reason.describe(),
                    started_ms: now_ms,
                    cleared_ms: None,
                };
                tracing::warn!(source = %source, route = %route, method = %method, detail = %row.detail, "performance regression");
                perf.store
                    .write(move |c| repo::open_regression(c, &row))
                    .await?;
                perf.bus.publish(Signal::PerfRegression {
                    source,
                    route,
                    method,
                    kind: reason.kind(),
                    detail: reason.describe(),
                });
            }
            Transition::Cleared { .. } => {
                let (s, r, m) = (source.clone(), route.clone(), method.clone());
                perf.store
                    .write(move |c| repo::clear_regression(c, &s, &r, &m, now_ms))
                    .await?;
                tracing::info!(source = %source, route = %route, method = %method, "performance regression cleared");
                perf.bus.publish(Signal::PerfRecovered {
                    source,
                    route,
                    method,
                });
            }
        }
    }
    Ok(())
}
