//! Baselines and regressions end to end over a real store, with synthetic
//! minutes written straight into it and the injectable clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::*;
use crate::audit_trail::Trail;
use crate::bus::{Bus, Signal};
use crate::clock::Clock;
use crate::perf::config::PerfConfig;
use crate::perf::model::{Cell, Row};
use crate::store::Store;

struct Fixture {
    _dir: tempfile::TempDir,
    perf: Perf,
    signals: tokio::sync::broadcast::Receiver<Signal>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let trail = Trail::load_or_create(dir.path()).unwrap();
    let bus = Bus::default();
    let signals = bus.subscribe();
    let perf = Perf::new(
        &PerfConfig::default(),
        store,
        Clock::system(),
        bus,
        trail,
        Vec::new(),
    );
    Fixture {
        _dir: dir,
        perf,
        signals,
    }
}

/// `n` requests of `ms` each, `errors` of them 5xx, at `ts`.
fn rows(ts: i64, n: u64, ms: u64, errors: u64) -> Vec<Row> {
    let mut ok = Cell::default();
    let mut bad = Cell::default();
    for i in 0..n {
        if i < errors {
            bad.observe(503, Some(ms * 1000));
        } else {
            ok.observe(200, Some(ms * 1000));
        }
    }
    [(2, ok), (5, bad)]
        .into_iter()
        .filter(|(_, c)| c.count > 0)
        .map(|(class, cell)| Row {
            source: "self".into(),
            route: "/api/x".into(),
            method: "GET".into(),
            class,
            ts,
            cell,
        })
        .collect()
}

async fn write(perf: &Perf, rows: Vec<Row>) {
    perf.store
        .write(move |c| repo::write_cells(c, &rows))
        .await
        .unwrap();
}

/// The last 15 minutes before the open one, `n` requests per minute of `ms`.
async fn recent(perf: &Perf, n: u64, ms: u64, errors: u64) {
    let open = perf.open_minute();
    for m in 1..=15 {
        write(perf, rows(open - m * 60, n, ms, errors)).await;
    }
}

async fn regressions(perf: &Perf) -> Vec<repo::RegressionRow> {
    perf.store
        .read(|c| repo::regressions(c, false, 10))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_slow_quarter_hour_opens_a_regression_and_a_quiet_one_clears_it() {
    let mut f = fixture();
    let perf = &f.perf;
    // A week of 10 ms hours, ending before the recent window.
    let hour = perf.clock.now_s() / 3600 * 3600;
    for h in 2..=24 * 7 {
        write(perf, rows(hour - h * 3600, 100, 10, 0)).await;
    }
    task::recompute_baselines(perf).await.unwrap();
    let b = perf.baselines_snapshot();
    let base = b[&("self".into(), "/api/x".into(), "GET".into())];
    assert!((base.p95_ms - 10.0).abs() <= 0.5, "{base:?}");
    assert_eq!(base.error_rate, 0.0);

    // The last quarter hour at 40 ms: 60 requests, over 1.5 × 10 ms.
    recent(perf, 4, 40, 0).await;
    task::judge_all(perf).await.unwrap();
    let open = regressions(perf).await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].kind.as_str(), open[0].cleared_ms),
        ("latency", None)
    );
    match f.signals.try_recv().unwrap() {
        Signal::PerfRegression { route, kind, .. } => {
            assert_eq!((route.as_str(), kind), ("/api/x", "latency"))
        }
        other => panic!("{other:?}"),
    }
    // Judged again while still slow: no second regression.
    task::judge_all(perf).await.unwrap();
    assert_eq!(regressions(perf).await.len(), 1);

    // Back to normal: not cleared until 15 minutes under.
    perf.clock.advance(Duration::from_secs(16 * 60));
    recent(perf, 4, 10, 0).await;
    task::judge_all(perf).await.unwrap();
    assert_eq!(regressions(perf).await[0].cleared_ms, None);
    perf.clock.advance(Duration::from_secs(15 * 60));
    recent(perf, 4, 10, 0).await;
    task::judge_all(perf).await.unwrap();
    assert!(regressions(perf).await[0].cleared_ms.is_some());
    assert!(matches!(
        f.signals.try_recv().unwrap(),
        Signal::PerfRecovered { .. }
    ));
}

#[tokio::test]
async fn errors_regress_and_thin_traffic_does_not() {
    let f = fixture();
    let perf = &f.perf;
    let hour = perf.clock.now_s() / 3600 * 3600;
    for h in 2..=48 {
        write(perf, rows(hour - h * 3600, 100, 10, 1)).await;
    }
    task::recompute_baselines(perf).await.unwrap();
    // 45 requests, all failing: under min_requests (50), no regression.
    recent(perf, 3, 10, 3).await;
    task::judge_all(perf).await.unwrap();
    assert!(regressions(perf).await.is_empty());
    // 75 requests with 8 % errors against a 1 % baseline.
    perf.clock.advance(Duration::from_secs(16 * 60));
    let open = perf.open_minute();
    for m in 1..=15 {
        let errors = u64::from(m <= 6);
        write(perf, rows(open - m * 60, 5, 10, errors)).await;
    }
    task::judge_all(perf).await.unwrap();
    let r = regressions(perf).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].kind, "errors");
}

#[tokio::test]
async fn late_log_minutes_merge_into_the_stored_cells() {
    let f = fixture();
    let perf = &f.perf;
    let ts = perf.open_minute() - 600;
    write(perf, rows(ts, 10, 5, 0)).await;
    write(perf, rows(ts, 5, 50, 5)).await;
    let cells = perf
        .store
        .read(move |c| repo::cells(c, repo::Tier::Minutes, "self", ts, ts + 60, None))
        .await
        .unwrap();
    let total: u64 = cells.iter().map(|r| r.cell.count).sum();
    assert_eq!(total, 15);
    let hours = perf
        .store
        .read(move |c| repo::cells(c, repo::Tier::Hours, "self", ts - 3600, ts + 3600, None))
        .await
        .unwrap();
    assert_eq!(
        hours.iter().map(|r| r.cell.count).sum::<u64>(),
        15,
        "the hour tier has them too"
    );
}

#[tokio::test]
async fn nginx_fixture_lines_are_aggregated_by_route_at_their_own_minute() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let trail = Trail::load_or_create(dir.path()).unwrap();
    let perf = Perf::new(
        &PerfConfig::default(),
        store,
        Clock::system(),
        Bus::default(),
        trail,
        vec![("nginx:main".into(), Vec::new())],
    );
    let format = crate::logwatch::LineFormat::combined();
    for line in include_str!("../../tests/fixtures/logs/nginx-timed.log").lines() {
        let parsed = format.parse_line(line).unwrap();
        crate::logwatch::AccessSink::access(&perf, "nginx", "main", &parsed);
    }
    let mut rows = perf.take_rows(None);
    rows.sort_by(|a, b| a.route.cmp(&b.route));
    let got: Vec<(&str, &str, u8, i64, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.route.as_str(),
                r.method.as_str(),
                r.class,
                r.ts,
                r.cell.count,
                r.cell.max_us,
            )
        })
        .collect();
    // 10:00 UTC on 2026-12-01, also for the +0100 line; the TLS garbage
    // line is not an HTTP request and is left out.
    let minute = 1_796_119_200;
    assert_eq!(
        got,
        [
            ("/api/v1/items", "POST", 2, minute, 1, 1_250_000),
            ("/index.html", "GET", 2, minute, 1, 4_000),
            ("/wp-login.php", "GET", 4, minute, 1, 0),
        ]
    );
    assert!(rows.iter().all(|r| r.source == "nginx:main"));
}

#[tokio::test]
async fn retention_prunes_old_cells_and_cleared_regressions_only() {
    let f = fixture();
    let perf = &f.perf;
    write(perf, rows(3_600, 1, 5, 0)).await;
    write(perf, rows(90_000, 1, 5, 0)).await;
    let regression = |started_ms: i64| repo::RegressionRow {
        id: 0,
        source: "self".into(),
        route: "/r".into(),
        method: "GET".into(),
        kind: "latency".into(),
        detail: String::new(),
        started_ms,
        cleared_ms: None,
    };
    let (old, open) = (regression(1_000), regression(2_000));
    let counts = perf
        .store
        .write(move |c| {
            repo::open_regression(c, &old)?;
            repo::clear_regression(c, "self", "/r", "GET", 1_500)?;
            repo::open_regression(c, &open)?;
            let before_ms = 80_000_000;
            Ok((
                crate::perf::prune_minutes(c, before_ms, 100)?,
                crate::perf::prune_hours(c, before_ms, 100)?,
                crate::perf::prune_regressions(c, before_ms, 100)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        counts,
        (1, 1, 1),
        "the 1 h cells in both tiers and the cleared regression"
    );
    let left = regressions(perf).await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].cleared_ms, None,
        "an open regression is never pruned"
    );
    let cells = perf
        .store
        .read(|c| repo::cells(c, repo::Tier::Minutes, "self", 0, i64::MAX, None))
        .await
        .unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].ts, 90_000);
}
