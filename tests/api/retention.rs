//! Retention per data type: the page and `GET /api/v1/retention` list every
//! data type with figures read from the database; "run now" removes what is
//! past its keep (old security events, digested error items, old rotated
//! log files), keeps the rest, records the run per data type and audits it.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::app_with_admin;
use crate::threats::db_rows;
use watchpost::audit_trail::{Actioned, Trail};
use watchpost::errors::projects::Projects;

const DATA_TYPES: [&str; 19] = [
    "audit_trail",
    "series_raw",
    "series_1m",
    "series_1h",
    "top_processes",
    "check_results",
    "check_uptime_hours",
    "check_uptime",
    "check_pings",
    "security_events",
    "ip_bans",
    "annotations",
    "deploys",
    "perf_minutes",
    "perf_hours",
    "perf_regressions",
    "alert_history",
    "error_events",
    "log_files",
];

const DAY_MS: i64 = 86_400_000;

fn count(app: &crate::helpers::TestApp, sql: &str) -> i64 {
    db_rows(app, sql)[0][0].parse().unwrap()
}

async fn overview(admin: &crate::browser::Browser) -> Vec<Value> {
    let res = admin.get("/api/v1/retention").await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data_types"]
        .as_array()
        .unwrap()
        .clone()
}

fn of<'a>(rows: &'a [Value], data: &str) -> &'a Value {
    rows.iter().find(|r| r["data"] == data).unwrap()
}

#[tokio::test]
async fn the_page_and_the_api_list_every_data_type_with_real_figures() {
    let (app, admin) = app_with_admin().await;
    let before = overview(&admin).await;
    assert_eq!(of(&before, "security_events")["figures"]["rows"], 0);
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    for (minute, ip) in [(1_000_000, "198.51.100.1"), (2_000_000, "198.51.100.2")] {
        conn.execute(
            "INSERT INTO security_events (minute_ms, first_ms, last_ms, kind, severity, ip, source, details, count) \
             VALUES (?1, ?1, ?1, 'probe.sensitive_file', 'warning', ?2, 'http', '{}', 1)",
            rusqlite::params![minute, ip],
        )
        .unwrap();
    }
    drop(conn);
    let rows = overview(&admin).await;
    let events = of(&rows, "security_events");
    assert_eq!(events["figures"]["rows"], 2);
    assert_eq!(events["figures"]["oldest_ms"], 1_000_000);
    assert!(
        events["figures"]["bytes"].as_i64().unwrap() > 0,
        "its pages"
    );
    let names: Vec<&str> = rows.iter().map(|r| r["data"].as_str().unwrap()).collect();
    assert_eq!(names, DATA_TYPES);

    let trail = of(&rows, "audit_trail");
    assert_eq!(
        trail["figures"]["rows"].as_i64().unwrap(),
        count(&app, "SELECT count(*) FROM audit_trail")
    );
    assert!(trail["figures"]["bytes"].as_i64().unwrap() > 0);
    assert_eq!(trail["figures"]["bytes_exact"], true, "dbstat counts pages");
    assert_eq!(
        trail["figures"]["oldest_ms"].as_i64().unwrap(),
        count(&app, "SELECT min(ts_ms) FROM audit_trail")
    );
    assert!(trail["keep"].is_null());
    assert!(
        trail["kept_because"]
            .as_str()
            .unwrap()
            .contains("hash-chained")
    );
    assert_eq!(events["keep_secs"], 400 * 86_400);
    assert_eq!(events["key"], "retention.security_events");
    assert_eq!(of(&rows, "check_results")["keep_secs"], 7 * 86_400);
    assert_eq!(of(&rows, "perf_minutes")["keep_secs"], 30 * 86_400);
    assert_eq!(
        of(&rows, "error_events")["keep"],
        "per project (its quotas and retention)"
    );
    assert_eq!(of(&rows, "log_files")["keep_secs"], 14 * 86_400);

    let page = admin.get("/settings/retention").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for data in DATA_TYPES {
        assert!(
            html.contains(&format!("<td>{data}<br>")),
            "{data} on the page"
        );
    }
    assert!(html.contains("retention.security_events"));
    assert!(html.contains("Run retention now"));
    assert!(html.contains("href=\"/settings/retention\""), "in the nav");

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/retention"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/retention/run"]["post"].is_object());
}

#[tokio::test]
async fn run_now_removes_what_is_past_its_keep_and_records_the_run() {
    let (app, admin) = app_with_admin().await;
    let now = app.clock.now_ms();
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    for (minute, ip) in [
        (now - 500 * DAY_MS, "198.51.100.1"),
        (now - DAY_MS, "198.51.100.2"),
    ] {
        conn.execute(
            "INSERT INTO security_events (minute_ms, first_ms, last_ms, kind, severity, ip, source, details, count) \
             VALUES (?1, ?1, ?1, 'probe.sensitive_file', 'warning', ?2, 'http', '{}', 1)",
            rusqlite::params![minute, ip],
        )
        .unwrap();
    }
    let trail = Trail::load_or_create(&app.dir.path().join("data")).unwrap();
    let projects = Projects::new(app.store.clone(), app.clock.clone(), trail);
    let (project, _) = projects
        .add("shop", "python", &Actioned::system())
        .await
        .unwrap();
    conn.execute(
        "INSERT INTO error_issues (id, project_id, grouping_version, hash, title, level, event_count, \
         first_seen_ms, last_seen_ms) VALUES (1, ?1, 'wp-1', 'h', 'E: x', 'error', 3, ?2, ?3)",
        rusqlite::params![project, now - 100 * DAY_MS, now - DAY_MS],
    )
    .unwrap();
    // The first and latest events are kept whatever their age.
    for received in [now - 100 * DAY_MS, now - 100 * DAY_MS, now - DAY_MS] {
        conn.execute(
            "INSERT INTO error_events (issue_id, project_id, event_id, ts_ms, received_ms, level, payload) \
             VALUES (1, ?1, 'e', ?2, ?2, 'error', x'00')",
            rusqlite::params![project, received],
        )
        .unwrap();
    }
    drop(conn);
    let logs = app.dir.path().join("data").join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for name in ["watchpost.log.1.gz", "watchpost.log.2.gz"] {
        std::fs::write(logs.join(name), b"old lines").unwrap();
    }
    std::fs::File::options()
        .write(true)
        .open(logs.join("watchpost.log.2.gz"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(20 * 86_400))
        .unwrap();

    let before = overview(&admin).await;
    assert_eq!(of(&before, "security_events")["figures"]["rows"], 2);
    assert_eq!(of(&before, "error_events")["figures"]["rows"], 3);
    assert_eq!(of(&before, "log_files")["figures"]["rows"], 2);
    assert!(of(&before, "security_events")["last_run_ms"].is_null());

    let res = admin
        .submit("/settings/retention", "/settings/retention/run", &[])
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/settings/retention?removed="),
        "{location}"
    );

    assert_eq!(
        db_rows(&app, "SELECT ip FROM security_events ORDER BY id"),
        vec![vec!["198.51.100.2".to_string()]]
    );
    assert_eq!(
        db_rows(&app, "SELECT id FROM error_events ORDER BY id"),
        vec![vec!["1".to_string()], vec!["3".to_string()]],
        "the issue's first and latest events stay"
    );
    assert!(!logs.join("watchpost.log.2.gz").exists());
    assert!(logs.join("watchpost.log.1.gz").exists());

    let after = overview(&admin).await;
    for (data, removed) in [
        ("security_events", 1),
        ("error_events", 1),
        ("log_files", 1),
    ] {
        let row = of(&after, data);
        assert_eq!(row["last_removed"], removed, "{data}");
        assert!(row["last_run_ms"].as_i64().unwrap() >= now, "{data}");
    }
    assert!(
        of(&after, "audit_trail")["last_run_ms"].is_null(),
        "never pruned"
    );
    let page = admin.get(&location).await.text().await.unwrap();
    assert!(
        page.contains("Retention ran now: 3 record(s) removed."),
        "{page}"
    );

    let audited = db_rows(
        &app,
        "SELECT actor_kind, details FROM audit_trail WHERE action = 'retention.run'",
    );
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0][0], "user");
    assert!(
        audited[0][1].contains("\"security_events\":1"),
        "{}",
        audited[0][1]
    );

    // The API runs it too, and an empty run is still recorded and audited.
    let res = admin
        .api(Method::POST, "/api/v1/retention/run", json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let ran: Value = res.json().await.unwrap();
    assert_eq!(ran["total"], 0);
    assert_eq!(ran["removed"]["security_events"], 0);
    assert_eq!(
        db_rows(
            &app,
            "SELECT count(*) FROM audit_trail WHERE action = 'retention.run'"
        ),
        vec![vec!["2".to_string()]]
    );
}
