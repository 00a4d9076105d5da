//! The audit trail's page, CSV download and JSON API, as admins and viewers
//! see them.

use serde_json::Value;

use crate::browser::*;

#[tokio::test]
async fn admins_read_the_trail_and_viewers_are_refused() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    let page = admin.get("/audit-trail").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("login.success") && html.contains("user.created"));
    assert!(!html.contains("style=") && !html.contains("<script"));
    for path in ["/audit-trail", "/audit-trail.csv", "/api/v1/audit-trail"] {
        assert_eq!(v.get(path).await.status(), 403, "{path}");
    }
    let anon = Browser::new(&app);
    assert_eq!(anon.get("/audit-trail").await.status(), 303);
    assert_eq!(anon.get("/api/v1/audit-trail").await.status(), 401);
}

#[tokio::test]
async fn the_api_pages_with_a_cursor_and_the_csv_download_is_recorded() {
    let (app, admin) = app_with_admin().await;
    for i in 0..3 {
        add_user(
            &admin,
            &format!("u{i}@example.com"),
            "viewer",
            VIEWER_PASSWORD,
        )
        .await;
    }
    let first: Value = admin
        .get("/api/v1/audit-trail?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let next = first["next"].as_i64().unwrap();
    let second: Value = admin
        .get(&format!("/api/v1/audit-trail?limit=2&before={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(second["entries"][0]["id"].as_i64().unwrap() < next);

    let csv = admin.get("/audit-trail.csv?action=user.").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert!(lines[0].starts_with("id,time_utc,"));
    assert_eq!(
        lines.len(),
        1 + 4,
        "header, the admin and three users created: {text}"
    );
    assert_eq!(audit_rows(&app, "trail.exported").len(), 1);

    let bad = admin.get("/api/v1/audit-trail?outcome=bogus").await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"].is_string() && body["request_id"].is_string());
}

#[tokio::test]
async fn the_whole_login_story_verifies_as_a_chain() {
    let (app, admin) = app_with_admin().await;
    Browser::new(&app)
        .login(ADMIN_EMAIL, "not the right one at all")
        .await;
    add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let dir = app.stop().await;
    let data = dir.path().join("data");
    let store = watchpost::store::Store::open(&data).unwrap();
    let trail = watchpost::audit_trail::Trail::load(&data).unwrap();
    let verdict = store.read(move |conn| trail.verify(conn)).await.unwrap();
    assert!(
        matches!(verdict, watchpost::audit_trail::Verdict::Intact { rows, .. } if rows >= 4),
        "{verdict:?}"
    );
    let conn = rusqlite::Connection::open(data.join("watchpost.db")).unwrap();
    let (email, pii): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT actor_email, pii_details FROM audit_trail WHERE action = 'login.failure'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(email, None);
    assert!(
        pii.unwrap().contains("ad***@example.com"),
        "the failed login's email is masked"
    );
}
