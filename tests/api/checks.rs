//! Health checks against real servers on loopback: each failure gives its
//! own reason, state moves only after N failures and back after M
//! successes, incidents open and close, maintenance suppresses them,
//! heartbeats judge their pings, runs never overlap, `[[checks]]` is
//! provisioned idempotently, and the public pages show only what they may.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, app_with_admin, app_with_admin_and, audit_rows, viewer};
use crate::helpers::spawn_app_in;
use crate::targets::{HttpTarget, Reply, closed_port, tls_target};

async fn test_def(admin: &Browser, def: Value) -> Value {
    let res = admin.api(Method::POST, "/api/v1/checks/test", def).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn create(admin: &Browser, def: Value) -> Value {
    let res = admin.api(Method::POST, "/api/v1/checks", def).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn run(admin: &Browser, id: &str) -> Value {
    let res = admin
        .api(Method::POST, &format!("/api/v1/checks/{id}/run"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn get_json(who: &Browser, path: &str) -> Value {
    let res = who.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn http(url: &str) -> Value {
    json!({"id": "t", "name": "Target", "kind": "http", "url": url})
}

#[tokio::test]
async fn each_http_failure_has_its_own_reason() {
    let (_app, admin) = app_with_admin().await;
    let target = HttpTarget::start().await;
    let url = target.url("/");

    let mut def = http(&url);
    def["keyword"] = json!("Welcome");
    let up = test_def(&admin, def.clone()).await;
    assert_eq!(up["status"], "up", "{up}");
    assert_eq!(up["http_status"], 200);

    def["keyword"] = json!("Goodbye");
    let missing = test_def(&admin, def).await;
    assert_eq!(missing["status"], "down");
    assert_eq!(
        missing["reason"],
        "keyword \"Goodbye\" not found in the response"
    );

    target.set(Reply {
        status: 500,
        ..Reply::default()
    });
    let mismatch = test_def(&admin, http(&url)).await;
    assert_eq!(mismatch["reason"], "status 500, expected 200-399");

    target.set(Reply {
        body: r#"{"db": {"status": "ok"}, "version": "1.2.3"}"#.into(),
        content_type: "application/json",
        ..Reply::default()
    });
    let mut json_def = http(&url);
    json_def["json_pointer"] = json!("/db/status");
    json_def["json_equals"] = json!("ok");
    assert_eq!(test_def(&admin, json_def.clone()).await["status"], "up");
    json_def["json_pointer"] = json!("/version");
    json_def["json_equals"] = json!("2.0.0");
    let wrong = test_def(&admin, json_def).await;
    assert_eq!(wrong["reason"], "/version is \"1.2.3\", expected \"2.0.0\"");

    target.set(Reply {
        delay: Duration::from_millis(400),
        ..Reply::default()
    });
    let mut slow = http(&url);
    slow["degraded_after"] = json!("100ms");
    let degraded = test_def(&admin, slow).await;
    assert_eq!(degraded["status"], "degraded", "{degraded}");
    assert!(degraded["reason"].as_str().unwrap().starts_with("slow: "));

    let mut hurried = http(&url);
    hurried["timeout"] = json!("150ms");
    let timeout = test_def(&admin, hurried).await;
    assert_eq!(timeout["reason"], "timed out after 150ms");

    let refused = closed_port().await;
    let gone = test_def(&admin, http(&format!("http://{refused}/"))).await;
    assert_eq!(gone["reason"], "connection refused by 127.0.0.1", "{gone}");
    let tcp = test_def(
        &admin,
        json!({"id": "p", "name": "Port", "kind": "tcp", "target": refused.to_string()}),
    )
    .await;
    assert_eq!(tcp["reason"], "connection refused by 127.0.0.1");
    let open = test_def(
        &admin,
        json!({"id": "p", "name": "Port", "kind": "tcp", "target": target.addr.to_string()}),
    )
    .await;
    assert_eq!(open["status"], "up");
}

#[tokio::test]
async fn a_self_signed_certificate_is_a_tls_error_unless_verification_is_off() {
    let (_app, admin) = app_with_admin().await;
    let addr = tls_target(60).await;
    let url = format!("https://localhost:{}/", addr.port());
    let verified = test_def(&admin, http(&url)).await;
    assert_eq!(verified["status"], "down");
    assert!(
        verified["reason"]
            .as_str()
            .unwrap()
            .starts_with("TLS error: "),
        "{verified}"
    );
    let mut lax = http(&url);
    lax["verify_tls"] = json!(false);
    let up = test_def(&admin, lax).await;
    assert_eq!(up["status"], "up", "{up}");
    assert_eq!(up["cert_days"], 60);

    let tls = |target: String| json!({"id": "c", "name": "Cert", "kind": "tls", "target": target, "verify_tls": false});
    assert_eq!(
        test_def(&admin, tls(format!("localhost:{}", addr.port()))).await["status"],
        "up"
    );
    let soon = tls_target(10).await;
    let warning = test_def(&admin, tls(format!("localhost:{}", soon.port()))).await;
    assert_eq!(warning["status"], "degraded");
    assert_eq!(
        warning["reason"],
        "the certificate expires in 10 days (warning at 14)"
    );
    let very_soon = tls_target(2).await;
    let critical = test_def(&admin, tls(format!("localhost:{}", very_soon.port()))).await;
    assert_eq!(critical["status"], "down");
    let mut strict = tls(format!("localhost:{}", addr.port()));
    strict["verify_tls"] = json!(true);
    let refused = test_def(&admin, strict).await;
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("TLS error: ")
    );
}

#[tokio::test]
async fn down_only_after_n_failures_with_an_incident_that_closes() {
    let (_app, admin) = app_with_admin().await;
    let target = HttpTarget::start().await;
    let mut def = http(&target.url("/"));
    def["id"] = json!("api");
    def["interval"] = json!("1h");
    def["fail_after"] = json!(2);
    let created = create(&admin, def).await;
    assert_eq!(created["state"], "pending");
    assert_eq!(run(&admin, "api").await["state"], "up");

    target.set(Reply {
        status: 503,
        ..Reply::default()
    });
    assert_eq!(
        run(&admin, "api").await["state"],
        "up",
        "one failure is not enough"
    );
    assert_eq!(run(&admin, "api").await["state"], "down");
    let incidents = get_json(&admin, "/api/v1/checks/api/incidents").await;
    assert_eq!(incidents.as_array().unwrap().len(), 1);
    assert_eq!(incidents[0]["first_error"], "status 503, expected 200-399");
    assert!(incidents[0]["ended_ms"].is_null());

    let listed = get_json(&admin, "/api/v1/checks").await;
    assert_eq!(listed[0]["id"], "api");
    assert_eq!(listed[0]["state"], "down");
    assert_eq!(listed[0]["kind"], "http");

    target.set(Reply::default());
    assert_eq!(run(&admin, "api").await["state"], "up");
    let incidents = get_json(&admin, "/api/v1/checks/api/incidents").await;
    assert!(incidents[0]["ended_ms"].is_i64(), "{incidents}");
    let results = get_json(&admin, "/api/v1/checks/api/results").await;
    let outcomes: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["up", "down", "down", "up"]);
    let one = get_json(&admin, "/api/v1/checks/api").await;
    assert_eq!(one["uptime"]["h24"], 50.0);
    let series = get_json(&admin, "/api/v1/series/check.latency.api?range=1h").await;
    assert!(!series["points"].as_array().unwrap().is_empty(), "{series}");
}

#[tokio::test]
async fn failures_inside_a_maintenance_window_open_no_incident() {
    let (_app, admin) = app_with_admin().await;
    let target = HttpTarget::start().await;
    target.set(Reply {
        status: 500,
        ..Reply::default()
    });
    let mut def = http(&target.url("/"));
    def["interval"] = json!("1h");
    def["fail_after"] = json!(1);
    create(&admin, def).await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = &time::format_description::well_known::Rfc3339;
    let window = json!({
        "kind": "once",
        "starts": (now - time::Duration::minutes(5)).format(fmt).unwrap(),
        "ends": (now + time::Duration::hours(1)).format(fmt).unwrap(),
        "note": "database upgrade"
    });
    let res = admin
        .api(Method::POST, "/api/v1/checks/t/maintenance", window)
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(run(&admin, "t").await["state"], "maintenance");
    assert_eq!(run(&admin, "t").await["state"], "maintenance");
    let incidents = get_json(&admin, "/api/v1/checks/t/incidents").await;
    assert!(incidents.as_array().unwrap().is_empty(), "{incidents}");
    let results = get_json(&admin, "/api/v1/checks/t/results").await;
    assert_eq!(results[0]["outcome"], "maintenance");
    let bad = admin
        .api(
            Method::POST,
            "/api/v1/checks/t/maintenance",
            json!({"kind": "weekly", "weekday": "Funday", "start": "02:00", "duration": "1h"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("Funday"));
}

#[tokio::test]
async fn heartbeats_are_up_on_time_down_when_late_or_failed() {
    let (app, admin) = app_with_admin().await;
    let beat = create(
        &admin,
        json!({"id": "backup", "name": "Backup", "kind": "heartbeat", "period": "1h", "grace": "10m"}),
    )
    .await;
    let url = beat["ping_url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/ping/", app.url)), "{url}");
    let anon = reqwest::Client::new();
    assert_eq!(
        anon.get(format!("{url}/start"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let body = "x".repeat(20 * 1024);
    let res = anon.post(&url).body(body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let now = get_json(&admin, "/api/v1/checks/backup").await;
    assert_eq!(now["state"], "up", "{now}");
    let stored: i64 = rusqlite::Connection::open(app.db_path())
        .unwrap()
        .query_row("SELECT max(length(body)) FROM check_pings", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, 10 * 1024, "bodies are kept to 10 KiB");

    app.clock.advance(Duration::from_secs(71 * 60));
    // The session went idle over that time: log in again.
    admin
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    let late = run(&admin, "backup").await;
    assert_eq!(late["state"], "down");
    assert!(
        late["outcome"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("late: ")
    );

    assert_eq!(anon.head(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        get_json(&admin, "/api/v1/checks/backup").await["state"],
        "up"
    );
    assert_eq!(
        anon.post(format!("{url}/fail"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get_json(&admin, "/api/v1/checks/backup").await["state"],
        "down"
    );

    let wrong = anon
        .get(format!("{}/ping/not-a-token", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let viewer = viewer(&app, &admin).await;
    let seen = get_json(&viewer, "/api/v1/checks/backup").await;
    assert!(
        seen.get("ping_url").is_none(),
        "viewers do not see the secret URL"
    );
}

#[tokio::test]
async fn one_check_never_runs_twice_at_once() {
    let (_app, admin) = app_with_admin().await;
    let target = HttpTarget::start().await;
    target.set(Reply {
        delay: Duration::from_millis(1500),
        ..Reply::default()
    });
    let mut def = http(&target.url("/"));
    def["interval"] = json!("1h");
    create(&admin, def).await;
    // Let the scheduler's first run come and go.
    for _ in 0..100 {
        if get_json(&admin, "/api/v1/checks/t").await["state"] == "up" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = admin.api(Method::POST, "/api/v1/checks/t/run", json!({}));
    let second = async {
        for _ in 0..40 {
            if target.in_flight() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        admin
            .api(Method::POST, "/api/v1/checks/t/run", json!({}))
            .await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 409, "{}", second.text().await.unwrap());
    assert_eq!(
        target
            .most_at_once
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

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
