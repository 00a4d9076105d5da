//! Host metrics through the public face: the collector's samples reach the
//! series API, the overview cards, the host page's SVG charts and
//! `/metrics` (which needs a `metrics` token or an allowed address); the
//! OpenAPI document lists the series API; retention deletes exactly what the
//! policy says; the seeder marks its data synthetic.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use watchpost::audit_trail::{Actioned, Trail};
use watchpost::retention::{self, Policy, What};
use watchpost::series::{self, Sample, Unit};
use watchpost::store::Store;

use crate::browser::{Browser, app_with_admin, app_with_admin_and, viewer};
use crate::helpers::{TestApp, spawn_app_with};

/// Waits for the collector's first sample to be stored.
async fn first_sample(app: &TestApp, who: &Browser) {
    for _ in 0..100 {
        let res = who.get("/api/v1/series").await;
        let list: Value = res.json().await.unwrap();
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "host.memory.total")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no host sample was stored at {}", app.url);
}

pub async fn token(admin: &Browser, scope: &str) -> String {
    let res = admin
        .api(
            Method::POST,
            "/api/v1/tokens",
            json!({ "name": format!("{scope} token"), "scope": scope }),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every `<svg …>…</svg>` in a page.
fn svgs(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .filter_map(|(start, _)| {
            let end = html[start..].find("</svg>")? + start + "</svg>".len();
            Some(&html[start..end])
        })
        .collect()
}

#[tokio::test]
async fn metrics_need_a_metrics_token_and_parse_as_prometheus_text() {
    let (app, admin) = app_with_admin().await;
    first_sample(&app, &admin).await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let read = token(&admin, "read").await;
    let with = |t: String| app.client.get(app.at("/metrics")).bearer_auth(t).send();
    assert_eq!(with(read).await.unwrap().status(), 401);
    assert_eq!(with("wp_not-a-token".into()).await.unwrap().status(), 401);

    let metrics = token(&admin, "metrics").await;
    let res = with(metrics.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = res.text().await.unwrap();
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for expected in [
        "watchpost_host_memory_total_bytes",
        "watchpost_host_load1",
        "process_resident_memory_bytes",
        "watchpost_http_requests_total",
        "watchpost_http_request_duration_seconds",
        "watchpost_log_lines_total",
        "watchpost_log_lines_dropped_total",
        "watchpost_database_bytes",
        "watchpost_writer_queue_depth",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from:\n{body}"
        );
    }
    let requests = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "watchpost_http_requests_total"
                && s.labels.get("route") == Some("/api/v1/series")
        })
        .expect("the series API calls are counted by route pattern");
    assert_eq!(requests.labels.get("status"), Some("2xx"));
    assert!(!body.contains(&metrics), "the token is never echoed");
    assert!(body.contains("# TYPE watchpost_http_requests_total counter"));

    let open = app
        .client
        .get(app.at("/metrics"))
        .bearer_auth(&metrics)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(
        open.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(open.text().await.unwrap().ends_with("# EOF\n"));
}

#[tokio::test]
async fn an_allowed_network_scrapes_without_a_token() {
    let app = spawn_app_with(|c| c.metrics.allow_from = vec!["127.0.0.0/8".into()]).await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("watchpost_database_bytes")
    );
}

#[tokio::test]
async fn a_viewer_sees_the_overview_cards_and_the_host_charts() {
    let (app, admin) = app_with_admin().await;
    let viewer = viewer(&app, &admin).await;
    first_sample(&app, &viewer).await;

    let overview = viewer.get("/").await.text().await.unwrap();
    assert!(overview.contains("class=\"status-card\""), "{overview}");
    assert!(overview.contains("Memory"));
    for svg in svgs(&overview) {
        roxmltree::Document::parse(svg).unwrap();
    }

    for path in ["/host", "/host?range=24h", "/host/charts?range=30d"] {
        let res = viewer.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        let charts = svgs(&html);
        assert!(charts.len() >= 5, "{path} has a chart per family");
        for svg in charts {
            roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{path}: {e}\n{svg}"));
        }
        assert!(html.contains("id=\"memory\""));
        assert!(html.contains("Top processes"));
    }
    let page = viewer.get("/host").await.text().await.unwrap();
    assert!(page.contains("data-refresh=\"/host/charts?range=1h\""));
    assert!(page.contains("/assets/host.js"));
    let custom = viewer
        .get("/host?from=2026-01-01T00:00&to=2026-01-02T00:00")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !custom.contains("data-refresh"),
        "a past range does not refresh"
    );
    assert!(custom.contains("No data in this range"));

    assert_eq!(viewer.get("/host?range=forever").await.status(), 400);
    let logged_out = app.get("/host").await;
    assert_eq!(logged_out.status(), 303);
}

#[tokio::test]
async fn the_series_api_answers_ranges_and_refuses_bad_ones() {
    let (app, admin) = app_with_admin().await;
    first_sample(&app, &admin).await;
    let list: Value = admin.get("/api/v1/series").await.json().await.unwrap();
    let memory = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "host.memory.total")
        .unwrap();
    assert_eq!(memory["unit"], "bytes");

    let res = admin.get("/api/v1/series/host.memory.total").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tier"], "raw");
    let point = &body["points"][0];
    assert_eq!(point.as_array().unwrap().len(), 4);
    assert!(point[3].as_f64().unwrap() > 0.0);

    let month: Value = admin
        .get("/api/v1/series/host.memory.total?from=0&to=2592000&points=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(month["tier"], "1h");

    for (path, status) in [
        ("/api/v1/series/host.memory.total?points=0", 400),
        ("/api/v1/series/host.memory.total?points=lots", 400),
        ("/api/v1/series/host.memory.total?from=20&to=10", 400),
        ("/api/v1/series/host.memory.total?from=yesterday", 400),
        ("/api/v1/series/no.such.series", 404),
    ] {
        let res = admin.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let error: Value = res.json().await.unwrap();
        assert!(error["error"].as_str().is_some(), "{path} explains itself");
    }
    assert_eq!(app.get("/api/v1/series").await.status(), 401);
}

#[tokio::test]
async fn the_openapi_document_describes_the_series_api() {
    let app = spawn_app_with(|_| {}).await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["info"]["version"], "v1");
    assert!(doc["paths"]["/api/v1/series"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/me"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/tokens"]["post"]["requestBody"].is_object());
    assert!(doc["paths"]["/api/v1/series/{name}"]["get"]["parameters"].is_array());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    for (path, method) in [
        ("/api/v1/checks", "get"),
        ("/api/v1/checks", "post"),
        ("/api/v1/checks/{id}", "put"),
        ("/api/v1/checks/{id}", "delete"),
        ("/api/v1/checks/{id}/results", "get"),
        ("/api/v1/checks/{id}/incidents", "get"),
        ("/api/v1/checks/{id}/run", "post"),
        ("/api/v1/checks/test", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert!(doc["components"]["schemas"]["Definition"].is_object());
}

fn sample(name: &str, value: f64) -> Sample {
    Sample {
        name: name.into(),
        unit: Unit::Count,
        label: name.into(),
        value,
    }
}

#[tokio::test]
async fn retention_deletes_exactly_what_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let trail = Trail::load_or_create(dir.path()).unwrap();
    let hour = 3600;
    let now = 100 * hour;
    // One sample every 10 minutes for 100 hours, in two series.
    store
        .write(move |conn| {
            for ts in (0..now).step_by(600) {
                series::repo::record(conn, ts, &[sample("a", 1.0), sample("b", 2.0)])?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let policies = vec![
        Policy {
            data: "series_raw",
            key: "retention.series_raw",
            keep: Duration::from_secs(48 * 3600),
            what: What::Rows {
                prune: series::prune_raw,
                tables: &[("series_raw", "MIN(ts) * 1000")],
            },
        },
        Policy {
            data: "series_1h",
            key: "retention.series_1h",
            keep: Duration::from_secs(90 * 3600),
            what: What::Rows {
                prune: series::prune_hours,
                tables: &[("series_1h", "MIN(ts) * 1000")],
            },
        },
    ];
    let report = retention::run_once(&store, &trail, &policies, now * 1000, &Actioned::system())
        .await
        .unwrap();
    // Raw rows before hour 52 go: 52 hours × 6 per hour × 2 series.
    // Hour rows before hour 10 go: 10 × 2. Minute rows are not in the table.
    assert_eq!(report.removed, vec![("series_raw", 624), ("series_1h", 20)]);
    let counts = store
        .read(|conn| {
            let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
            Ok((
                count("SELECT count(*) FROM series_raw"),
                count("SELECT min(ts) FROM series_raw"),
                count("SELECT count(*) FROM series_1m"),
                count("SELECT min(ts) FROM series_1h"),
            ))
        })
        .await
        .unwrap();
    assert_eq!(counts, (48 * 6 * 2, 52 * hour, 100 * 6 * 2, 10 * hour));

    let audited = store
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT count(*), max(details) FROM audit_trail WHERE action = 'retention.run'",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(audited.0, 1);
    assert!(audited.1.contains("\"series_raw\":624"), "{}", audited.1);

    let again = retention::run_once(&store, &trail, &policies, now * 1000, &Actioned::system())
        .await
        .unwrap();
    assert_eq!(again.total(), 0);
    store.close().await;
}

#[tokio::test]
async fn seeded_history_is_marked_synthetic_on_the_host_page() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let now = watchpost::clock::now_ms() / 1000;
    let report = watchpost::host::seed::seed(&app.store, 1, now)
        .await
        .unwrap();
    assert!(report.series >= 20);
    assert_eq!(report.hour_rows, 24 * report.series as u64);
    let page = admin.get("/host?range=24h").await.text().await.unwrap();
    assert!(page.contains("Synthetic data: 1 days generated"), "{page}");
    let cpu: Value = admin
        .get(&format!(
            "/api/v1/series/host.cpu.total?from={}&to={now}",
            now - 86_400
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cpu["tier"], "1m");
    assert!(cpu["points"].as_array().unwrap().len() > 500);
}
