//! Health checks against real servers on loopback: each failure gives its
//! own reason, state moves only after N failures and back after M
//! successes, incidents open and close, maintenance suppresses them,
//! heartbeats judge their pings, runs never overlap, `[[checks]]` is
//! provisioned idempotently, and the public pages show only what they may.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, app_with_admin, viewer};
use crate::targets::{HttpTarget, Reply, closed_port, tls_target};

pub async fn test_def(admin: &Browser, def: Value) -> Value {
    let res = admin.api(Method::POST, "/api/v1/checks/test", def).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub async fn create(admin: &Browser, def: Value) -> Value {
    let res = admin.api(Method::POST, "/api/v1/checks", def).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub async fn run(admin: &Browser, id: &str) -> Value {
    let res = admin
        .api(Method::POST, &format!("/api/v1/checks/{id}/run"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub async fn get_json(who: &Browser, path: &str) -> Value {
    let res = who.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

pub fn http(url: &str) -> Value {
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
