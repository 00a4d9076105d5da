//! Signed inbound webhooks end to end: created by an admin, deliveries
//! accepted only with a fresh, right, unused signature; refusals are
//! security events; provisioned hooks read their secret from a file.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use watchpost::http::signature::sign;

use crate::browser::*;
use crate::helpers::{TestApp, spawn_app_with};
use crate::threats::{db_rows, eventually};

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn deliver(
    app: &TestApp,
    name: &str,
    ts: i64,
    signature: &str,
    body: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.at(&format!("/api/v1/hooks/{name}")))
        .header("X-Watchpost-Timestamp", ts.to_string())
        .header("X-Watchpost-Signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_delivery_is_stored_once_and_every_bad_one_refused() {
    let (app, admin) = app_with_admin().await;
    let created: Value = admin
        .api(Method::POST, "/api/v1/hooks", json!({"name": "deploys"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(
        created["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/hooks/deploys")
    );

    let body = br#"{"kind":"deploy","version":"2.7.0"}"#;
    let ts = now_s();
    let good = sign(secret.as_bytes(), ts, body);
    let res = deliver(&app, "deploys", ts, &good, body).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    eventually("the deploy marker reaches the performance charts", || {
        db_rows(&app, "SELECT version, origin FROM deploys") == [["2.7.0", "hook:deploys"]]
    })
    .await;

    let replay = deliver(&app, "deploys", ts, &good, body).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("already used"));

    let mut flipped = body.to_vec();
    flipped[10] ^= 1;
    let res = deliver(
        &app,
        "deploys",
        ts,
        &sign(secret.as_bytes(), ts, body),
        &flipped,
    )
    .await;
    assert_eq!(res.status(), 401, "a flipped byte breaks the signature");

    let stale = ts - 301;
    let res = deliver(
        &app,
        "deploys",
        stale,
        &sign(secret.as_bytes(), stale, body),
        body,
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("away from the server's clock")
    );

    let res = deliver(
        &app,
        "nosuchhook",
        ts,
        &sign(secret.as_bytes(), ts, body),
        body,
    )
    .await;
    assert_eq!(
        res.status(),
        401,
        "an unknown hook looks like a bad signature"
    );

    let res = app
        .client
        .post(app.at("/api/v1/hooks/deploys"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let stored: Vec<Value> = admin.get("/api/v1/annotations").await.json().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0]["kind"].as_str(), stored[0]["title"].as_str()),
        (Some("deploy"), Some("deploy 2.7.0"))
    );
    eventually("refusals are security events", || {
        db_rows(
            &app,
            "SELECT SUM(count) FROM security_events WHERE kind = 'signature.invalid'",
        ) == [["5"]]
    })
    .await;
    let hooks: Vec<Value> = admin.get("/api/v1/hooks").await.json().await.unwrap();
    assert!(
        !hooks[0].to_string().contains(&secret),
        "the secret is shown once only"
    );
    assert!(!audit_rows(&app, "hook.created").is_empty());
}

#[tokio::test]
async fn provisioned_hooks_use_their_secret_file_and_cannot_be_deleted_here() {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("ci.secret");
    std::fs::write(&secret_file, "a-long-shared-secret-from-the-ci\n").unwrap();
    let app = spawn_app_with(|c| {
        c.admin_email = Some(ADMIN_EMAIL.into());
        c.admin_password = Some(watchpost::config::Secret::new(ADMIN_PASSWORD));
        c.threats.hooks = vec![watchpost::threats::HookConfig {
            name: "ci".into(),
            secret_file: secret_file.clone(),
        }];
    })
    .await;
    let body = b"nightly build finished";
    let ts = now_s();
    let res = deliver(
        &app,
        "ci",
        ts,
        &sign(b"a-long-shared-secret-from-the-ci", ts, body),
        body,
    )
    .await;
    assert_eq!(res.status(), 202);
    let admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = admin
        .api(Method::DELETE, "/api/v1/hooks/ci", json!({}))
        .await;
    assert_eq!(res.status(), 409);
    let sealed = db_rows(
        &app,
        "SELECT hex(secret_sealed) FROM hooks WHERE name = 'ci'",
    );
    let plain_hex: String = b"a-long-shared-secret"
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(
        !sealed[0][0].contains(&plain_hex),
        "the secret is sealed at rest"
    );
}

#[tokio::test]
async fn hooks_are_made_and_removed_from_the_security_page() {
    let (app, admin) = app_with_admin().await;
    let res = admin
        .submit("/security", "/security/hooks", &[("name", "releases")])
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("id=\"hook-secret\""),
        "the secret is shown once"
    );
    let res = admin
        .submit("/security", "/security/hooks", &[("name", "Bad Name")])
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .submit("/security", "/security/hooks/releases/delete", &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(db_rows(&app, "SELECT 1 FROM hooks").is_empty());
}
