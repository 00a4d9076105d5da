//! Health checks as people meet them: `[[checks]]` provisioned idempotently
//! and read-only in the UI, the public status page and badges showing only
//! what they may, viewers reading and bad input refused, and the check form
//! testing before it saves.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, app_with_admin, app_with_admin_and, audit_rows, viewer};
use crate::checks::{create, get_json, http, run};
use crate::helpers::spawn_app_in;
use crate::targets::{HttpTarget, Reply};

const CHECKS_TOML: &str = r#"
[[checks]]
id = "homepage"
name = "Homepage"
kind = "http"
url = "http://127.0.0.1:9/"
interval = "60s"
expect_status = ["200-399"]
public = true
tags = ["web"]

[[checks]]
id = "nightly-backup"
name = "Nightly backup"
kind = "heartbeat"
period = "24h"
grace = "1h"
"#;

#[tokio::test]
async fn config_checks_are_provisioned_idempotently_and_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let config_with = |text: &str| {
        let mut config = crate::helpers::test_config(dir.path());
        let parsed: watchpost::config::Config = toml::from_str(text).unwrap();
        config.checks = parsed.checks;
        config.admin_email = Some(crate::browser::ADMIN_EMAIL.into());
        config.admin_password = Some(watchpost::config::Secret::new(
            crate::browser::ADMIN_PASSWORD,
        ));
        config
    };
    let app = spawn_app_in(config_with(CHECKS_TOML)).await;
    let admin = Browser::new(&app);
    admin
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    let listed = get_json(&admin, "/api/v1/checks").await;
    let ours: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["managed_by"] == "config")
        .collect();
    assert_eq!(ours.len(), 2, "{listed}");
    let builtin: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["managed_by"] == "builtin")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        builtin.len(),
        3,
        "database, disk and collector: {builtin:?}"
    );
    let put = admin
        .api(
            Method::PUT,
            "/api/v1/checks/homepage",
            json!({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(put.status(), 409);
    let page = admin.get("/checks/homepage/edit").await;
    assert_eq!(page.status(), 409);
    let ping_before = get_json(&admin, "/api/v1/checks/nightly-backup").await["ping_url"].clone();
    app.stop().await;

    let app = spawn_app_in(config_with(CHECKS_TOML)).await;
    let admin = Browser::new(&app);
    admin
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    let after = get_json(&admin, "/api/v1/checks/nightly-backup").await;
    assert_eq!(
        after["ping_url"].as_str().unwrap().rsplit('/').next(),
        ping_before.as_str().unwrap().rsplit('/').next(),
        "the ping token survives restarts"
    );
    assert_eq!(
        audit_rows(&app, "check.create").len(),
        5,
        "nothing is created twice"
    );
    assert!(
        audit_rows(&app, "check.provision").is_empty(),
        "nothing changed, nothing written"
    );
    app.stop().await;

    let changed = CHECKS_TOML.replace("name = \"Homepage\"", "name = \"Front page\"");
    let only_home = &changed[..changed.find("[[checks]]\nid = \"nightly").unwrap()];
    let app = spawn_app_in(config_with(only_home)).await;
    let admin = Browser::new(&app);
    admin
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    assert_eq!(
        get_json(&admin, "/api/v1/checks/homepage").await["name"],
        "Front page"
    );
    assert_eq!(
        admin.get("/api/v1/checks/nightly-backup").await.status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn the_status_page_shows_public_checks_without_their_internals() {
    let (app, admin) = app_with_admin().await;
    let target = HttpTarget::start().await;
    target.set(Reply {
        status: 502,
        ..Reply::default()
    });
    let mut public = http(&target.url("/internal-admin"));
    public["id"] = json!("shop");
    public["name"] = json!("Shop");
    public["public"] = json!(true);
    public["fail_after"] = json!(1);
    public["interval"] = json!("1h");
    create(&admin, public).await;
    let mut hidden = http(&target.url("/"));
    hidden["id"] = json!("secret-db");
    hidden["name"] = json!("Secret database");
    hidden["interval"] = json!("1h");
    create(&admin, hidden).await;
    run(&admin, "shop").await;

    let anon = reqwest::Client::new();
    let page = anon.get(app.at("/status")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Shop") && html.contains("Some services are down"),
        "{html}"
    );
    assert!(!html.contains("Secret database"));
    assert!(
        !html.contains("internal-admin") && !html.contains("502"),
        "no internals: {html}"
    );
    assert_eq!(html.matches("class=\"bar ").count(), 90);

    let badge = anon
        .get(app.at("/badge/shop/status.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(badge.status(), 200);
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    let svg = badge.text().await.unwrap();
    assert!(svg.contains(">down</text>"), "{svg}");
    roxmltree::Document::parse(&svg).unwrap();
    let uptime = anon
        .get(app.at("/badge/shop/uptime.svg?days=30"))
        .send()
        .await
        .unwrap();
    assert!(uptime.text().await.unwrap().contains(">0.00%</text>"));
    assert_eq!(
        anon.get(app.at("/badge/secret-db/status.svg"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        anon.get(app.at("/badge/shop/uptime.svg?days=900"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    let res = admin
        .api(
            Method::PUT,
            "/api/v1/checks/shop",
            json!({"name": "Shop", "kind": "http", "url": target.url("/internal-admin"), "public": true, "public_details": true, "fail_after": 1}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let incident = get_json(&admin, "/api/v1/checks/shop/incidents").await[0]["id"]
        .as_i64()
        .unwrap();
    let note = admin
        .api(
            Method::POST,
            &format!("/api/v1/incidents/{incident}/notes"),
            json!({"body": "We are restarting the shop."}),
        )
        .await;
    assert_eq!(note.status(), 201);
    let html = anon
        .get(app.at("/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("internal-admin") && html.contains("We are restarting the shop."),
        "{html}"
    );
}

#[tokio::test]
async fn viewers_read_checks_and_bad_input_gets_a_clear_400() {
    let (app, admin) = app_with_admin().await;
    let bad = admin
        .api(
            Method::POST,
            "/api/v1/checks",
            json!({"id": "Bad Id", "kind": "http", "interval": "1s"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let message = bad.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    for key in ["id:", "name:", "interval:", "url:"] {
        assert!(message.contains(key), "{message}");
    }
    let junk = admin
        .api(
            Method::POST,
            "/api/v1/checks",
            json!({"id": "x", "nmae": "typo"}),
        )
        .await;
    assert_eq!(junk.status(), 400);
    create(&admin, http("http://127.0.0.1:9/")).await;
    let twice = admin
        .api(Method::POST, "/api/v1/checks", http("http://127.0.0.1:9/"))
        .await;
    assert_eq!(twice.status(), 409);

    let viewer = viewer(&app, &admin).await;
    assert_eq!(viewer.get("/api/v1/checks").await.status(), 200);
    assert_eq!(viewer.get("/checks").await.status(), 200);
    let refused = viewer
        .api(Method::POST, "/api/v1/checks", http("http://127.0.0.1:9/"))
        .await;
    assert_eq!(refused.status(), 403);
    let refused = viewer
        .api(Method::DELETE, "/api/v1/checks/t", json!({}))
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/checks/t", json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(admin.get("/api/v1/checks/t").await.status(), 404);
    assert_eq!(audit_rows(&app, "check.delete").len(), 1);
}

#[tokio::test]
async fn the_form_tests_before_saving_and_the_pages_show_the_check() {
    let (_app, admin) = app_with_admin_and(|_| {}).await;
    let target = HttpTarget::start().await;
    let url = target.url("/");
    let fields = [
        ("name", "Web"),
        ("id", "web"),
        ("kind", "http"),
        ("url", url.as_str()),
        ("keyword", "Welcome"),
        ("tags", "web, prod"),
    ];
    let mut test = fields.to_vec();
    test.push(("action", "test"));
    let res = admin.submit("/checks/new", "/checks", &test).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Test run:") && html.contains("state-up"),
        "{html}"
    );
    assert_eq!(
        admin.get("/api/v1/checks/web").await.status(),
        404,
        "testing saves nothing"
    );

    let mut save = fields.to_vec();
    save.push(("action", "save"));
    let res = admin.submit("/checks/new", "/checks", &save).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/checks/web?done=saved");
    let detail = admin.get("/checks/web").await.text().await.unwrap();
    assert!(detail.contains("Web") && detail.contains("Latency"));
    let list = admin.get("/checks?tag=prod").await.text().await.unwrap();
    assert!(list.contains("href=\"/checks/web\""), "{list}");
    let filtered = admin.get("/checks?state=down").await.text().await.unwrap();
    assert!(!filtered.contains("href=\"/checks/web\""));

    let bad = [
        ("name", "Web 2"),
        ("id", "web2"),
        ("kind", "http"),
        ("url", "not a url"),
        ("action", "save"),
    ];
    let res = admin.submit("/checks/new", "/checks", &bad).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("is not a URL"));
    let home = admin.get("/").await.text().await.unwrap();
    assert!(
        home.contains("Checks") && home.contains(" up · "),
        "the overview card counts checks"
    );
}
