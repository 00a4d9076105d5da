//! Request performance through HTTP: own traffic counted per route pattern
//! and agreeing with `/metrics`, nginx access lines normalised into routes,
//! deploy markers (admins record, viewers read, audited) with the
//! before/after view, the slowest requests redacted, and the pages.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::{TestApp, assert_security_headers, spawn_app_in, test_config};
use crate::host::token;
use crate::threats::{db_rows, eventually};
use watchpost::threats::LogSource;

/// Moves the app past the current minute, so the flusher stores it.
async fn finish_minute(app: &TestApp) {
    app.clock.advance(Duration::from_secs(60));
}

/// `n` requests to `/api/v1/perf/sources` by `who`, their minute stored.
async fn stored_traffic(app: &TestApp, who: &Browser, n: usize) {
    for _ in 0..n {
        who.get("/api/v1/perf/sources").await;
    }
    finish_minute(app).await;
    eventually("the minute is stored", || {
        db_rows(
            app,
            "SELECT COUNT(*) FROM perf_minutes WHERE route = '/api/v1/perf/sources'",
        ) != [["0"]]
    })
    .await;
}

async fn route_requests(admin: &Browser, route: &str) -> u64 {
    let res = admin.get("/api/v1/perf/source?hours=1").await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == route)
        .map(|r| r["requests"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn own_requests_are_counted_by_route_pattern_and_agree_with_metrics() {
    let (app, admin) = app_with_admin().await;
    for _ in 0..7 {
        assert_eq!(admin.get("/api/v1/checks/999999").await.status(), 404);
    }
    finish_minute(&app).await;
    eventually("the minute is stored", || {
        db_rows(
            &app,
            "SELECT COALESCE(SUM(count), 0) FROM perf_minutes WHERE route = '/api/v1/checks/{id}'",
        ) == [["7"]]
    })
    .await;
    assert_eq!(route_requests(&admin, "/api/v1/checks/{id}").await, 7);
    let v: Value = admin
        .get("/api/v1/perf/route?route=/api/v1/checks/{id}&hours=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["summary"]["requests"], 7);
    assert_eq!(v["summary"]["errors_4xx"], 7);
    assert_eq!(v["codes"], json!([[404, 7]]));
    assert!(v["summary"]["p95_ms"].as_f64().unwrap() > 0.0);

    let metrics_token = token(&admin, "metrics").await;
    let text = app
        .client
        .get(app.at("/metrics"))
        .bearer_auth(&metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("watchpost_http_request_duration_seconds_count")
                && l.contains("route=\"/api/v1/checks/{id}\"")
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.ends_with(" 7"),
        "/metrics and the stored minutes agree: {line}"
    );
    let inf = text
        .lines()
        .find(|l| l.contains("route=\"/api/v1/checks/{id}\"") && l.contains("le=\"+Inf\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(inf.ends_with(" 7"), "{inf}");
}

fn nginx_line(path: &str, status: u16, secs: &str, minute: u32) -> String {
    format!(
        r#"198.51.100.20 - - [02/Dec/2026:10:{minute:02}:00 +0000] "GET {path} HTTP/1.1" {status} 153 "-" "Mozilla/5.0" {secs}"#
    )
}

async fn app_with_nginx(dir: &Path, log: &Path) -> (TestApp, Browser) {
    let mut config = test_config(dir);
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(watchpost::config::Secret::new(ADMIN_PASSWORD));
    config.threats.log_sources = vec![LogSource {
        id: "shop".into(),
        kind: "nginx".into(),
        path: Some(log.to_string_lossy().into_owned()),
        format: None,
    }];
    config.perf.max_routes = 3;
    let app = spawn_app_in(config).await;
    let admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (app, admin)
}

#[tokio::test]
async fn nginx_lines_become_normalised_routes_with_their_timings() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let (app, admin) = app_with_nginx(dir.path(), &log).await;
    eventually("the watcher starts", || {
        db_rows(&app, "SELECT COUNT(*) FROM log_positions") == [["1"]]
    })
    .await;
    let mut lines: Vec<String> = (1..=20)
        .map(|i| nginx_line(&format!("/orders/{i}"), 200, "0.020", 1))
        .collect();
    lines.push(nginx_line("/orders/7", 502, "1.500", 1));
    lines.push(nginx_line(
        "/u/550e8400-e29b-41d4-a716-446655440000",
        200,
        "0.004",
        2,
    ));
    lines.push(nginx_line("/a", 200, "0.001", 2));
    lines.push(nginx_line("/b", 200, "0.001", 2));
    lines.push(nginx_line("/c", 200, "0.001", 2));
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    eventually("the lines are stored", || {
        db_rows(
            &app,
            "SELECT COALESCE(SUM(count), 0) FROM perf_minutes WHERE source = 'nginx:shop'",
        ) == [["25"]]
    })
    .await;
    let routes = db_rows(
        &app,
        "SELECT route, SUM(count) FROM perf_minutes WHERE source = 'nginx:shop' GROUP BY route ORDER BY route",
    );
    assert_eq!(
        routes,
        [
            ["/a", "1"],
            ["/orders/{id}", "21"],
            ["/u/{uuid}", "1"],
            ["{other}", "2"],
        ],
        "numbers and UUIDs are placeholders; beyond 3 routes is {{other}}"
    );
    // The lines are from 02/Dec/2026 10:01; the app's clock may be anywhere,
    // so read that hour straight from the API's cells.
    let rows = db_rows(
        &app,
        "SELECT class, count, max_us FROM perf_minutes WHERE source = 'nginx:shop' AND route = '/orders/{id}' ORDER BY class",
    );
    assert_eq!(rows, [["2", "20", "20000"], ["5", "1", "1500000"]]);
    let res = admin
        .get("/api/v1/perf/source?source=nginx:shop&hours=1")
        .await;
    assert_eq!(res.status(), 200);
    let res = admin.get("/api/v1/perf/source?source=nginx:nope").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("nginx:shop"));
}

#[tokio::test]
async fn deploys_are_recorded_by_admins_read_by_viewers_and_compared() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    // Traffic before the deploy, stored.
    stored_traffic(&app, &admin, 5).await;
    let res = admin
        .api(
            Method::POST,
            "/api/v1/deploys",
            json!({"version": "v2.4.1", "notes": "faster orders"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let deploy: Value = res.json().await.unwrap();
    assert_eq!(deploy["version"], "v2.4.1");
    assert_eq!(deploy["origin"], "api");
    assert_eq!(audit_rows(&app, "deploy.recorded").len(), 1);

    for bad in [
        json!({"version": ""}),
        json!({"version": "x", "source": "nope"}),
        json!({"wat": 1}),
    ] {
        let res = admin
            .api(Method::POST, "/api/v1/deploys", bad.clone())
            .await;
        assert_eq!(res.status(), 400, "{bad}");
        assert!(
            res.json::<Value>().await.unwrap()["error"]
                .as_str()
                .is_some()
        );
    }
    let res = v
        .api(Method::POST, "/api/v1/deploys", json!({"version": "v9"}))
        .await;
    assert_eq!(res.status(), 403, "a viewer changes nothing");
    let read = token(&admin, "read").await;
    let res = app
        .client
        .post(app.at("/api/v1/deploys"))
        .bearer_auth(&read)
        .json(&json!({"version": "v9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a read token changes nothing");
    let write = token(&admin, "write").await;
    let res = app
        .client
        .post(app.at("/api/v1/deploys"))
        .bearer_auth(&write)
        .json(&json!({"version": "v2.4.2", "source": "self"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "CI records deploys with a write token");

    let list: Value = v.get("/api/v1/deploys").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let id = deploy["id"].as_i64().unwrap();
    let view: Value = v
        .get(&format!("/api/v1/deploys/{id}?hours=1"))
        .await
        .json()
        .await
        .unwrap();
    let sources = view["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/api/v1/perf/sources")
        .unwrap_or_else(|| panic!("{view}"));
    assert_eq!(sources["before"]["requests"], 5);
    assert_eq!(v.get("/api/v1/deploys/999999").await.status(), 404);

    let page = v.get(&format!("/perf/deploys/{id}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("v2.4.1"));
    let overview = v.get("/perf?hours=1").await.text().await.unwrap();
    assert!(
        overview.contains("class=\"marker\""),
        "deploys are drawn on the charts"
    );
    assert!(overview.contains("/api/v1/perf/sources"));
    assert!(!overview.contains("Record deploy"), "viewers get no form");
    let overview = admin.get("/perf").await.text().await.unwrap();
    assert!(overview.contains("Record deploy"));
    let res = admin
        .submit(
            "/perf",
            "/perf/deploys",
            &[("version", "v3 by hand"), ("source", ""), ("notes", "")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(audit_rows(&app, "deploy.recorded").len(), 3);
}

#[tokio::test]
async fn slow_requests_are_kept_with_their_request_id_and_redacted_query() {
    let (app, admin) = app_with_admin_and(|c| c.perf.slow_threshold = "1us".into()).await;
    let res = admin.get("/api/v1/perf/sources?token=hunter2&page=3").await;
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    finish_minute(&app).await;
    eventually("the slow request is stored", || {
        !db_rows(
            &app,
            &format!("SELECT path FROM perf_slow WHERE request_id = '{request_id}'"),
        )
        .is_empty()
    })
    .await;
    let slow: Value = admin.get("/api/v1/perf/slow").await.json().await.unwrap();
    let mine = slow
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["request_id"] == request_id.as_str())
        .unwrap();
    assert_eq!(mine["route"], "/api/v1/perf/sources");
    let path = mine["path"].as_str().unwrap();
    assert!(
        path.contains("token=[redacted]") && path.contains("page=3"),
        "{path}"
    );
    assert!(
        !admin
            .get("/perf")
            .await
            .text()
            .await
            .unwrap()
            .contains("hunter2")
    );
}

#[tokio::test]
async fn a_viewer_reads_every_page_and_bad_windows_are_refused() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    stored_traffic(&app, &v, 3).await;
    for path in [
        "/perf",
        "/perf?hours=720&sort=p95",
        "/perf/route?route=/api/v1/perf/sources&method=GET&hours=1",
        "/api/v1/perf/sources",
        "/api/v1/perf/regressions",
        "/api/v1/perf/slow",
        "/api/v1/deploys",
    ] {
        let res = v.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_security_headers(&res);
    }
    let page = v
        .get("/perf/route?route=/api/v1/perf/sources&method=GET&hours=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Latency percentiles") && page.contains("<svg"));
    for (path, status) in [
        ("/api/v1/perf/source?hours=0", 400),
        ("/api/v1/perf/source?hours=99999", 400),
        ("/api/v1/perf/source?hours=abc", 400),
        ("/api/v1/perf/route?route=/never&hours=1", 404),
        ("/api/v1/perf/route", 400),
        ("/perf?hours=0", 400),
    ] {
        assert_eq!(v.get(path).await.status(), status, "{path}");
    }
    let doc: Value = v.get("/api/v1/openapi.json").await.json().await.unwrap();
    for p in [
        "/api/v1/perf/source",
        "/api/v1/perf/route",
        "/api/v1/deploys",
        "/api/v1/deploys/{id}",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} is in the OpenAPI document"
        );
    }
}
