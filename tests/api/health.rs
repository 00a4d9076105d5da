//! `/health`: 200 when reads, writes and disk are fine; 503 naming what fails.

use std::time::Duration;

use crate::helpers::{spawn_app, spawn_app_with};

async fn status_and_body(app: &crate::helpers::TestApp) -> (u16, serde_json::Value) {
    let res = app.get("/health").await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_healthy_instance_says_ok_with_its_version() {
    let app = spawn_app().await;
    let (status, body) = status_and_body(&app).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    let head = app.client.head(app.at("/health")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_unavailable_database_gives_503_and_recovery_gives_200() {
    let app = spawn_app().await;
    assert_eq!(status_and_body(&app).await.0, 200);
    let db = app.db_path();
    let moved = db.with_extension("moved");
    // As root, permission bits do not stop a read; a database file that is gone
    // (an unmounted volume, a deleted file) does, for any new connection.
    std::fs::rename(&db, &moved).unwrap();
    let mut failing = None;
    for _ in 0..40 {
        let (status, body) = status_and_body(&app).await;
        if status == 503 {
            failing = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = failing.expect("503 while the database is unavailable");
    assert_eq!(
        body,
        serde_json::json!({"status": "fail", "version": env!("CARGO_PKG_VERSION"), "failing": ["database"]})
    );
    let text = body.to_string();
    assert!(
        !text.contains('/') && !text.contains("watchpost.db"),
        "no paths in the public body"
    );

    std::fs::rename(&moved, &db).unwrap();
    let mut recovered = false;
    for _ in 0..40 {
        if status_and_body(&app).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "back to 200 once the database is back");
    app.stop().await;
}

#[tokio::test]
async fn too_little_free_disk_gives_503_naming_the_disk() {
    let app = spawn_app_with(|c| c.health.min_free_disk = "100%".into()).await;
    let (status, body) = status_and_body(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["failing"], serde_json::json!(["disk"]));
    app.stop().await;
}
