#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const RULE: Rule = Rule {
    p95_factor: 1.5,
    error_points: 5.0,
    min_requests: 50,
    clear_after: 900,
};

fn summary(requests: u64, p95_ms: Option<f64>, error_rate: f64) -> Summary {
    Summary {
        route: "/r".into(),
        method: "GET".into(),
        requests,
        p95_ms,
        error_rate,
        ..Summary::default()
    }
}

fn base(p95_ms: f64, error_rate: f64, requests: u64) -> Baseline {
    Baseline {
        p50_ms: p95_ms / 2.0,
        p95_ms,
        error_rate,
        requests,
    }
}

#[test]
fn cells_merge_and_keep_codes_bounded() {
    let mut a = Cell::default();
    a.observe(200, Some(1_000));
    a.observe(404, None);
    let mut b = Cell::default();
    b.observe(200, Some(3_000));
    a.merge(&b);
    assert_eq!(
        (a.count, a.sum_us, a.max_us, a.hist.count()),
        (3, 4_000, 3_000, 2)
    );
    assert_eq!(a.codes_text(), "200:2,404:1");
    assert_eq!(
        Cell::parse_codes("200:2,404:1,junk,9:x"),
        vec![(200, 2), (404, 1)]
    );
    let mut many = Cell::default();
    (0..40u16).for_each(|i| many.observe(400 + i, None));
    assert!(many.codes.len() <= MAX_CODES);
    assert_eq!(many.codes.iter().map(|(_, n)| n).sum::<u64>(), 40);
}

#[test]
fn totals_count_errors_by_class() {
    let mut t = Totals::default();
    let mut ok = Cell::default();
    (0..90).for_each(|_| ok.observe(200, Some(2_000)));
    let mut bad = Cell::default();
    (0..10).for_each(|_| bad.observe(503, Some(50_000)));
    t.add(2, &ok);
    t.add(5, &bad);
    let s = t.summary("/r", "GET", 10.0);
    assert_eq!((s.requests, s.errors_5xx, s.errors_4xx), (100, 10, 0));
    assert_eq!(s.error_rate, 10.0);
    assert_eq!(s.rpm, 10.0);
    assert_eq!(s.max_ms, Some(50.0));
    let p95 = s.p95_ms.unwrap();
    assert!((p95 - 50.0).abs() <= 2.5, "{p95}");
}

#[test]
fn latency_and_error_regressions_need_enough_requests() {
    let b = base(100.0, 1.0, 1_000);
    assert_eq!(judge(&summary(49, Some(500.0), 0.0), Some(&b), &RULE), None);
    assert_eq!(judge(&summary(60, Some(149.0), 0.0), Some(&b), &RULE), None);
    assert!(matches!(
        judge(&summary(60, Some(151.0), 0.0), Some(&b), &RULE),
        Some(Reason::Latency { .. })
    ));
    assert_eq!(judge(&summary(60, Some(100.0), 6.0), Some(&b), &RULE), None);
    assert!(matches!(
        judge(&summary(60, Some(100.0), 6.1), Some(&b), &RULE),
        Some(Reason::Errors { .. })
    ));
    assert_eq!(judge(&summary(60, Some(500.0), 50.0), None, &RULE), None);
    let thin = base(100.0, 1.0, 10);
    assert_eq!(
        judge(&summary(60, Some(500.0), 0.0), Some(&thin), &RULE),
        None
    );
}

#[test]
fn a_regression_clears_only_after_a_quarter_hour_under() {
    let reason = Reason::Latency {
        p95_ms: 300.0,
        baseline_p95_ms: 100.0,
    };
    let (s, t) = step(None, Some(reason), 0, &RULE);
    assert_eq!(t, Some(Transition::Started(reason)));
    let (s, t) = step(s, None, 60_000, &RULE);
    assert_eq!(t, None);
    assert_eq!(s.unwrap().under_since_ms, Some(60_000));
    // Back over: the clock for clearing starts again.
    let (s, t) = step(s, Some(reason), 120_000, &RULE);
    assert_eq!((t, s.unwrap().under_since_ms), (None, None));
    let (s, _) = step(s, None, 180_000, &RULE);
    let (s, t) = step(s, None, 180_000 + 899_000, &RULE);
    assert_eq!(t, None);
    let (s, t) = step(s, None, 180_000 + 900_000, &RULE);
    assert_eq!(t, Some(Transition::Cleared { since_ms: 0 }));
    assert_eq!(s, None);
    assert_eq!(step(None, None, 5, &RULE), (None, None));
}

#[test]
fn deploy_comparison_pairs_routes_and_computes_changes() {
    let mk = |route: &str, p95: Option<f64>, err: f64| Summary {
        route: route.into(),
        method: "GET".into(),
        requests: 100,
        p95_ms: p95,
        error_rate: err,
        ..Summary::default()
    };
    let before = [
        mk("/a", Some(100.0), 1.0),
        mk("/b", Some(50.0), 0.0),
        mk("/gone", Some(9.0), 0.0),
    ];
    let after = [
        mk("/a", Some(150.0), 3.5),
        mk("/b", Some(40.0), 0.0),
        mk("/new", Some(5.0), 0.0),
    ];
    let d = compare(&before, &after);
    assert_eq!(d.len(), 4);
    assert_eq!(d[0].route, "/a");
    assert_eq!(d[0].p95_change_pct, Some(50.0));
    assert_eq!(d[0].error_rate_change, 2.5);
    let b = d.iter().find(|x| x.route == "/b").unwrap();
    assert_eq!(b.p95_change_pct, Some(-20.0));
    let new = d.iter().find(|x| x.route == "/new").unwrap();
    assert_eq!((new.p95_change_pct, new.before.requests), (None, 0));
}

#[test]
fn labels_stay_bounded() {
    assert_eq!(status_class(204), 2);
    assert_eq!(status_class(503), 5);
    assert_eq!(status_class(99), 5);
    assert_eq!(standard_method("BREW"), "other");
    assert_eq!(standard_method("GET"), "GET");
}
