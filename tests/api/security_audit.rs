//! The security audit through its page and JSON API: nothing before the
//! first run, "Run now" stores and shows the report, the API returns the
//! documented schema, each run is audited, and viewers are refused.

use reqwest::Method;
use serde_json::Value;

use crate::browser::{app_with_admin, audit_rows, viewer};

#[tokio::test]
async fn run_now_stores_the_report_the_page_and_the_api_show() {
    let (app, admin) = app_with_admin().await;
    let before = admin.get("/api/v1/security/audit").await;
    assert_eq!(before.status(), 404, "no run yet");
    let page = admin.get("/security/audit").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("No audit has run yet"));

    let res = admin
        .submit("/security/audit", "/security/audit/run", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "/security/audit?done=ran"
    );
    let html = admin
        .get("/security/audit?done=ran")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("The audit ran"), "{html}");
    // The test configuration turns admin 2FA off, and the admin has none.
    assert!(html.contains("config.admin_2fa_not_required"));
    assert!(html.contains("account.admin_without_2fa:1"));
    assert!(html.contains("[auth] require_2fa_for_admins = true"));
    assert!(
        html.contains("file.db_world_readable"),
        "passed checks listed"
    );
    assert_eq!(audit_rows(&app, "security_audit.run").len(), 1);

    let report: Value = admin
        .get("/api/v1/security/audit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["schema"], "watchpost.audit.v1");
    let ids: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"config.admin_2fa_not_required"), "{ids:?}");
    assert!(ids.contains(&"account.default_name:1"), "admin@example.com");
    assert!(report["summary"]["high"].as_u64().unwrap() >= 2);
    let first = &report["findings"][0];
    for key in ["id", "severity", "category", "title", "evidence", "fix"] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(
        report["passed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "integrity.trail_chain")
    );

    let res = admin
        .api(Method::POST, "/api/v1/security/audit/run", Value::Null)
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["schema"], "watchpost.audit.v1");
    assert_eq!(audit_rows(&app, "security_audit.run").len(), 2);
    let openapi: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(openapi["paths"]["/api/v1/security/audit"]["get"].is_object());
    assert!(openapi["paths"]["/api/v1/security/audit/run"]["post"].is_object());
}

#[tokio::test]
async fn viewers_and_forms_without_csrf_cannot_run_or_read_the_audit() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    assert_eq!(v.get("/security/audit").await.status(), 403);
    assert_eq!(v.get("/api/v1/security/audit").await.status(), 403);
    let res = v
        .api(Method::POST, "/api/v1/security/audit/run", Value::Null)
        .await;
    assert_eq!(res.status(), 403);
    let res = admin.post_form("/security/audit/run", &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert!(audit_rows(&app, "security_audit.run").is_empty());
}
