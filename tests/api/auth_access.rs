//! Who may do what: CSRF on every state-changing route, viewers refused by
//! every admin route (walked from the route table itself, so a new route
//! without its check fails here), API tokens and their scopes, the first-run
//! setup link, and `/health/detail` (security baseline behaviours 12, 13, 17).

use std::os::unix::fs::PermissionsExt;

use reqwest::Method;
use serde_json::{Value, json};
use watchpost::app::route_table;
use watchpost::http::routes::Access;

use crate::browser::*;
use crate::helpers::{assert_security_headers, spawn_app_with};

/// A concrete path for a route pattern (`/users/{id}/{action}` → `/users/2/disable`).
fn concrete(pattern: &str, id: i64) -> String {
    pattern
        .replace("{id}", &id.to_string())
        .replace("{action}", "disable")
        .replace("{path:.*}", "app.css")
        .replace("{incident}", "1")
        .replace("{window}", "1")
}

fn state_changing() -> Vec<(Method, &'static str, Access)> {
    route_table()
        .into_iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .map(|r| {
            (
                Method::from_bytes(r.method.as_str().as_bytes()).unwrap(),
                r.path,
                r.access,
            )
        })
        .collect()
}

#[test]
fn the_route_table_declares_every_state_changing_route() {
    let routes = state_changing();
    assert!(routes.len() >= 15, "{routes:?}");
    let public: Vec<_> = routes
        .iter()
        .filter(|(_, _, a)| *a == Access::Public)
        .map(|(_, p, _)| *p)
        .collect();
    // The ways in, heartbeat pings (their secret token is the credential),
    // signed webhooks (the signature is) and error ingest (the DSN key is),
    // with its CORS preflight.
    assert_eq!(
        public,
        [
            "/login",
            "/login/totp",
            "/setup",
            "/set-password",
            "/ping/{token}",
            "/ping/{token}/{kind}",
            "/api/v1/hooks/{name}",
            "/api/{project_id}/envelope/",
            "/api/{project_id}/store/",
            "/api/{project_id}/envelope/",
            "/api/{project_id}/store/"
        ],
        "only the ways in, heartbeat pings, signed webhooks and error ingest are public"
    );
}

#[tokio::test]
async fn a_viewer_gets_403_from_every_admin_route_and_nothing_changes() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    let target = add_user(&admin, "target@example.com", "viewer", VIEWER_PASSWORD).await;
    let csrf = v.me().await["csrf_token"].as_str().unwrap().to_string();
    let before = admin.get("/api/v1/users").await.text().await.unwrap();
    let admin_routes: Vec<_> = state_changing()
        .into_iter()
        .filter(|(_, _, a)| *a == Access::Admin)
        .collect();
    assert!(admin_routes.len() >= 4);
    for (method, pattern, _) in admin_routes {
        let path = concrete(pattern, target);
        let csrf = csrf.clone();
        let res = v
            .send(method.clone(), &path, |r| {
                r.header("x-csrf-token", &csrf).form(&[
                    ("csrf", csrf.as_str()),
                    ("role", "admin"),
                    ("email", "x@example.com"),
                ])
            })
            .await;
        assert_eq!(res.status(), 403, "{method} {path} let a viewer through");
        assert_security_headers(&res);
    }
    let after = admin.get("/api/v1/users").await.text().await.unwrap();
    assert_eq!(before, after, "a viewer changed something");
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_missing_or_foreign_csrf_token() {
    let (app, admin) = app_with_admin().await;
    let other = Browser::new(&app);
    other.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let foreign = other.me().await["csrf_token"].as_str().unwrap().to_string();
    let target = add_user(&admin, "target@example.com", "viewer", VIEWER_PASSWORD).await;
    let before = admin.get("/api/v1/users").await.text().await.unwrap();
    for (method, pattern, access) in state_changing() {
        if access == Access::Public {
            continue;
        }
        let path = concrete(pattern, target);
        for token in ["", foreign.as_str()] {
            let res = admin
                .send(method.clone(), &path, |r| {
                    let r = if path.starts_with("/api/") && !token.is_empty() {
                        r.header("x-csrf-token", token)
                    } else {
                        r
                    };
                    r.form(&[
                        ("csrf", token),
                        ("role", "admin"),
                        ("name", "x"),
                        ("scope", "read"),
                    ])
                })
                .await;
            assert_eq!(res.status(), 403, "{method} {path} with csrf {token:?}");
        }
    }
    let after = admin.get("/api/v1/users").await.text().await.unwrap();
    assert_eq!(before, after);
    assert_eq!(
        admin.get("/api/v1/me").await.status(),
        200,
        "still logged in"
    );
}

#[tokio::test]
async fn viewers_see_no_edit_controls_and_no_users_page() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    let home = v.get("/").await.text().await.unwrap();
    assert!(!home.contains("href=\"/users\""));
    assert_eq!(v.get("/users").await.status(), 403);
    let admin_home = admin.get("/").await.text().await.unwrap();
    assert!(admin_home.contains("href=\"/users\""));
}

#[tokio::test]
async fn api_tokens_authenticate_with_their_scope_and_can_be_revoked() {
    let (app, admin) = app_with_admin().await;
    let res = admin
        .api(
            Method::POST,
            "/api/v1/tokens",
            json!({ "name": "ci", "scope": "read" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("wp_"));
    let bearer = |method: Method, path: &str| {
        app.client
            .request(method, app.at(path))
            .bearer_auth(&token)
            .json(&json!({ "email": "t@example.com", "password": VIEWER_PASSWORD }))
            .send()
    };
    assert_eq!(
        bearer(Method::GET, "/api/v1/me").await.unwrap().status(),
        200
    );
    assert_eq!(
        bearer(Method::POST, "/api/v1/users")
            .await
            .unwrap()
            .status(),
        403,
        "a read token cannot write"
    );
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let stored: String = conn
        .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
        .unwrap();
    assert_ne!(stored, token, "stored hashed");
    let id = created["id"].as_i64().unwrap();
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/tokens/{id}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        bearer(Method::GET, "/api/v1/me").await.unwrap().status(),
        401
    );

    let res = admin
        .api(
            Method::POST,
            "/api/v1/tokens",
            json!({ "name": "deploy", "scope": "write", "expires_in": "1h" }),
        )
        .await;
    let write: Value = res.json().await.unwrap();
    let write = write["token"].as_str().unwrap().to_string();
    let created_user = app
        .client
        .post(app.at("/api/v1/users"))
        .bearer_auth(&write)
        .json(&json!({ "email": "bot@example.com", "password": VIEWER_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created_user.status(),
        201,
        "bearer calls need no CSRF token"
    );
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let expired = app
        .client
        .get(app.at("/api/v1/me"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    assert_security_headers(&expired);
}

#[tokio::test]
async fn first_run_prints_a_setup_link_that_creates_the_admin_once() {
    let app = spawn_app_with(|_| {}).await;
    let file = app.dir.path().join("data").join("setup-token");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let link = std::fs::read_to_string(&file).unwrap();
    let token = link.trim().split("token=").nth(1).unwrap().to_string();
    let b = Browser::new(&app);
    assert_eq!(b.get("/setup?token=wrong").await.status(), 404);
    let page = format!("/setup?token={token}");
    let fields = [
        ("token", token.as_str()),
        ("email", "First@Example.com"),
        ("name", "First"),
        ("password", ADMIN_PASSWORD),
        ("password_confirm", ADMIN_PASSWORD),
    ];
    let res = b.submit(&page, "/setup", &fields).await;
    assert_eq!(res.status(), 303);
    assert!(!file.exists(), "the token file is removed once used");
    let again = b.submit("/login", "/setup", &fields).await;
    assert_eq!(again.status(), 404, "the link dies on use");
    assert_eq!(
        b.login("first@example.com", ADMIN_PASSWORD).await.status(),
        303
    );
    assert_eq!(b.me().await["role"], "admin");
}

#[tokio::test]
async fn the_configured_admin_never_overwrites_an_existing_user() {
    let (app, _admin) = app_with_admin().await;
    let dir = app.stop().await;
    let mut config = crate::helpers::test_config(dir.path());
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(watchpost::config::Secret::new(
        "a different long passphrase here ok",
    ));
    let again = crate::helpers::spawn_app_in(config).await;
    let conn = rusqlite::Connection::open(again.db_path()).unwrap();
    let users: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn health_detail_needs_a_login_and_reports_the_platform() {
    let (app, admin) = app_with_admin().await;
    assert_eq!(app.get("/health/detail").await.status(), 303);
    let res = admin.get("/health/detail").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["database"]["read_latency_us"].as_u64().is_some());
    assert!(body["database"]["writer_queue_depth"].as_u64().is_some());
    assert!(body["disk"]["free_bytes"].as_u64().unwrap() > 0);
    let tasks: Vec<_> = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tasks.contains(&"health-probe") && tasks.contains(&"auth-sweeper"),
        "{tasks:?}"
    );
    assert!(body["log"]["dropped_lines"].as_u64().is_some());
}

#[tokio::test]
async fn auth_responses_carry_the_security_headers() {
    let (app, admin) = app_with_admin().await;
    let anon = Browser::new(&app);
    assert_security_headers(&anon.get("/login").await); // 200
    assert_security_headers(&anon.get("/account").await); // 303
    assert_security_headers(&anon.login(ADMIN_EMAIL, "wrong wrong wrong").await); // 401
    assert_security_headers(&anon.get("/api/v1/me").await); // 401 JSON
    let v = viewer(&app, &admin).await;
    assert_security_headers(&v.get("/users").await); // 403
}

#[tokio::test]
async fn a_user_created_without_a_password_sets_it_through_a_one_time_link() {
    let (app, admin) = app_with_admin().await;
    let res = admin
        .submit(
            "/users",
            "/users",
            &[
                ("email", "new@example.com"),
                ("role", "viewer"),
                ("name", "Nia"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let at = page.find("id=\"set-password-link\">").unwrap() + "id=\"set-password-link\">".len();
    let link = page[at..].split('<').next().unwrap().to_string();
    let path = &link[link.find("/set-password").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_string();

    let b = Browser::new(&app);
    assert_eq!(
        b.login("new@example.com", "").await.status(),
        401,
        "no password yet"
    );
    let fields = [
        ("token", token.as_str()),
        ("password", VIEWER_PASSWORD),
        ("password_confirm", VIEWER_PASSWORD),
    ];
    let weak = [
        ("token", token.as_str()),
        ("password", "password1234"),
        ("password_confirm", "password1234"),
    ];
    assert_eq!(
        b.submit(path, "/set-password", &weak).await.status(),
        400,
        "the policy applies"
    );
    assert_eq!(b.submit(path, "/set-password", &fields).await.status(), 303);
    assert_eq!(b.get(path).await.status(), 404, "the link dies on use");
    assert_eq!(
        b.login("new@example.com", VIEWER_PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn the_users_page_searches_filters_counts_and_acts_in_bulk() {
    let (app, admin) = app_with_admin().await;
    let a = add_user(&admin, "alice@example.com", "viewer", VIEWER_PASSWORD).await;
    let b = add_user(&admin, "bob@example.com", "viewer", VIEWER_PASSWORD).await;
    let page = admin.get("/users?q=ali").await.text().await.unwrap();
    assert!(page.contains("alice@example.com") && !page.contains("bob@example.com"));
    let admins = admin.get("/users?role=admin").await.text().await.unwrap();
    assert!(admins.contains(ADMIN_EMAIL) && !admins.contains("alice@example.com"));
    let bob = Browser::new(&app);
    assert_eq!(
        bob.login("bob@example.com", VIEWER_PASSWORD).await.status(),
        303
    );
    let (a, b) = (a.to_string(), b.to_string());
    let res = admin
        .submit(
            "/users",
            "/users/bulk",
            &[("action", "disable"), ("id", &a), ("id", &b)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        bob.get("/api/v1/me").await.status(),
        401,
        "disabled users lose their sessions"
    );
    let disabled = admin
        .get("/users?status=disabled")
        .await
        .text()
        .await
        .unwrap();
    assert!(disabled.contains("alice@example.com") && disabled.contains("bob@example.com"));
    assert!(
        disabled.contains("<strong>2</strong>disabled"),
        "the counts show it"
    );
    assert_eq!(audit_rows(&app, "user.disabled").len(), 2);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let (_app, admin) = app_with_admin().await;
    let id = admin.me().await["id"].as_i64().unwrap();
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/role"),
            json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(admin.me().await["role"], "admin");
}
