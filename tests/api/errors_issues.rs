//! Error tracking after ingest: events digested into issues (scrubbed,
//! grouped, counted), the issue list and detail over the API and the
//! pages, status changes with regressions and ignores, per-project quotas
//! with the 429 SDKs understand, transactions in request performance,
//! sessions per release, retention, key rotation and the alert rules.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{Browser, app_with_admin_and, audit_rows};
use crate::errors::{project, stored_event};
use crate::helpers::TestApp;
use crate::threats::{db_rows, eventually};

fn event_id(n: u32) -> String {
    format!("{n:032x}")
}

/// Sends one item of `kind` to the project; returns the status and the answer.
async fn send(
    app: &TestApp,
    (id, key): &(i64, String),
    kind: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap) {
    let eid = body["event_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| event_id(0));
    let envelope = format!("{{\"event_id\":\"{eid}\"}}\n{{\"type\":\"{kind}\"}}\n{body}\n");
    let res = app
        .client
        .post(app.at(&format!("/api/{id}/envelope/?sentry_key={key}")))
        .body(envelope)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.headers().clone())
}

fn exception(n: u32, kind: &str, value: &str) -> Value {
    json!({
        "event_id": event_id(n),
        "level": "error",
        "release": "shop@1.0",
        "environment": "prod",
        "tags": {"browser": if n.is_multiple_of(2) { "Firefox" } else { "Chrome" }},
        "user": {"id": format!("user-{}", n % 3), "email": "buyer@example.com"},
        "exception": {"values": [{"type": kind, "value": value, "stacktrace": {"frames": [
            {"filename": "django/core/handlers.py", "function": "inner", "lineno": 55, "in_app": false},
            {"filename": "shop/views.py", "module": "shop.views", "function": "checkout", "lineno": 42, "in_app": true,
             "context_line": "    total = cart.total / count", "vars": {"password": "hunter2", "count": "0"}}
        ]}}]},
        "request": {"method": "POST", "url": "https://shop.example.com/checkout",
            "headers": {"Cookie": "sessionid=abc", "Authorization": "Bearer xyz", "Host": "shop.example.com"},
            "data": {"card": "4111 1111 1111 1111", "csrfmiddlewaretoken": "t0k", "qty": "2"}},
        "breadcrumbs": {"values": [{"category": "query", "message": "SELECT * FROM cart"}]}
    })
}

async fn issues(admin: &Browser, query: &str) -> Value {
    admin
        .get(&format!("/api/v1/errors/issues?{query}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn digested(app: &TestApp, n: usize) {
    eventually("the events are digested", || {
        db_rows(app, "SELECT count(*) FROM error_events")[0][0] == n.to_string()
    })
    .await;
}

#[tokio::test]
async fn events_become_scrubbed_grouped_issues_with_counts() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let shop = project(&app, "Shop").await;
    for (n, id) in [(1, 42), (2, 7), (3, 1001)] {
        let (status, _) = send(
            &app,
            &shop,
            "event",
            &exception(
                n,
                "ZeroDivisionError",
                &format!("division by zero in order {id}"),
            ),
        )
        .await;
        assert_eq!(status, 200);
    }
    send(&app, &shop, "event", &exception(4, "KeyError", "'cart'")).await;
    for (n, uuid) in [
        (5, "0b9f6c2e-8a1d-4c3b-9e7f-1a2b3c4d5e6f"),
        (6, "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"),
    ] {
        send(&app, &shop, "event", &json!({"event_id": event_id(n), "logentry": {"formatted": format!("payment {uuid} failed")}})).await;
    }
    digested(&app, 6).await;

    let list = issues(&admin, "sort=events").await;
    assert_eq!(
        list["total"], 3,
        "ids, UUIDs and numbers collapse; types do not: {list}"
    );
    let top = &list["issues"][0];
    assert_eq!(top["events"], 3);
    assert_eq!(top["users"], 3);
    assert!(
        top["title"]
            .as_str()
            .unwrap()
            .starts_with("ZeroDivisionError: division by zero"),
        "{top}"
    );
    assert!(
        top["culprit"].as_str().unwrap().contains("checkout"),
        "{top}"
    );
    assert_eq!(
        (top["release"].as_str(), top["environment"].as_str()),
        (Some("shop@1.0"), Some("prod"))
    );
    assert_eq!(issues(&admin, "q=KeyError").await["total"], 1);
    assert_eq!(issues(&admin, "level=warning").await["total"], 0);
    assert_eq!(issues(&admin, "project=nope").await["total"], 0);

    // Scrubbed before it was stored: keys, cookies, card numbers.
    let stored = stored_event(&app, &event_id(1));
    let text = stored.to_string();
    for secret in [
        "hunter2",
        "sessionid=abc",
        "Bearer xyz",
        "4111 1111 1111 1111",
        "t0k",
    ] {
        assert!(!text.contains(secret), "{secret} was stored: {text}");
    }
    assert_eq!(stored["request"]["data"]["qty"], "2");

    let id = top["id"].as_i64().unwrap();
    let detail: Value = admin
        .get(&format!("/api/v1/errors/issues/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["event"]["event_id"],
        event_id(3),
        "the latest event by default"
    );
    let older = detail["older_event"].as_i64().unwrap();
    let browser_tag = detail["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[0] == "browser")
        .unwrap();
    assert_eq!(browser_tag[1].as_array().unwrap().len(), 2, "{browser_tag}");

    let page = admin
        .get(&format!("/errors/issues/{id}?event={older}"))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for shown in [
        "ZeroDivisionError",
        "shop/views.py",
        "in app",
        "total = cart.total / count",
        "[Filtered]",
        "SELECT * FROM cart",
        "Firefox",
        "Raw JSON",
    ] {
        assert!(html.contains(shown), "the issue page lacks {shown}");
    }
    assert!(!html.contains("hunter2"));
    let raw = admin
        .get(&format!("/errors/issues/{id}/events/{older}/raw"))
        .await;
    assert!(
        raw.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let raw: Value = raw.json().await.unwrap();
    assert_eq!(raw["event_id"], event_id(2));
    assert_eq!(
        admin
            .get(&format!("/errors/issues/{id}?event=999999"))
            .await
            .status(),
        404
    );
    assert_eq!(admin.get("/errors/issues/999999").await.status(), 404);

    let list_page = admin.get("/errors?sort=events").await.text().await.unwrap();
    assert!(
        list_page.contains("ZeroDivisionError") && list_page.contains("payment"),
        "the list shows the issues"
    );
}

#[tokio::test]
async fn resolving_ignoring_and_regressions() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let shop = project(&app, "Shop").await;
    send(&app, &shop, "event", &exception(1, "KeyError", "'a'")).await;
    send(&app, &shop, "event", &exception(2, "ValueError", "bad")).await;
    digested(&app, 2).await;
    let list = issues(&admin, "").await;
    let id_of = |title: &str| {
        list["issues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"].as_str().unwrap().starts_with(title))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (key_error, value_error) = (id_of("KeyError"), id_of("ValueError"));

    // Resolved in the next release: its own release does not reopen it, a later one does.
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/errors/issues/{key_error}/status"),
            json!({"action": "resolve_next_release"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    send(&app, &shop, "event", &exception(3, "KeyError", "'a'")).await;
    digested(&app, 3).await;
    let issue = |id: i64| {
        let admin = &admin;
        async move {
            admin
                .get(&format!("/api/v1/errors/issues/{id}"))
                .await
                .json::<Value>()
                .await
                .unwrap()["issue"]
                .clone()
        }
    };
    assert_eq!(issue(key_error).await["status"], "resolved");
    let mut later = exception(4, "KeyError", "'a'");
    later["release"] = json!("shop@1.1");
    send(&app, &shop, "event", &later).await;
    digested(&app, 4).await;
    let reopened = issue(key_error).await;
    assert_eq!(
        (reopened["status"].as_str(), reopened["regressed"].as_bool()),
        (Some("unresolved"), Some(true))
    );

    // Ignored until two more events.
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/errors/issues/{value_error}/status"),
            json!({"action": "ignore", "until_events": 2}),
        )
        .await;
    assert_eq!(res.status(), 204);
    send(&app, &shop, "event", &exception(5, "ValueError", "bad")).await;
    digested(&app, 5).await;
    assert_eq!(issue(value_error).await["status"], "ignored");
    assert_eq!(
        issues(&admin, "").await["total"],
        1,
        "ignored issues leave the default list"
    );
    send(&app, &shop, "event", &exception(6, "ValueError", "bad")).await;
    digested(&app, 6).await;
    assert_eq!(issue(value_error).await["status"], "unresolved");

    // Bulk, through the form, and bad actions.
    let page = "/errors";
    let ids = [
        ("ids", key_error.to_string()),
        ("ids", value_error.to_string()),
    ];
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fields.push(("action", "resolve"));
    let res = admin.submit(page, "/errors/issues/bulk", &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(issues(&admin, "status=resolved").await["total"], 2);
    let res = admin
        .api(
            Method::POST,
            "/api/v1/errors/issues/bulk",
            json!({"ids": [key_error], "action": "explode"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .api(
            Method::POST,
            "/api/v1/errors/issues/bulk",
            json!({"ids": [key_error], "action": "ignore", "for_duration": "soon"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .api(
            Method::POST,
            "/api/v1/errors/issues/bulk",
            json!({"ids": [], "action": "resolve"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = admin
        .api(
            Method::POST,
            "/api/v1/errors/issues/424242/status",
            json!({"action": "reopen"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(audit_rows(&app, "errors.issue_resolved").len() >= 3);
    assert_eq!(audit_rows(&app, "errors.issue_ignored").len(), 1);
}

#[tokio::test]
async fn project_quotas_answer_429_as_sdks_expect_and_keys_rotate() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let shop = project(&app, "Shop").await;
    let res = admin.api(Method::PUT, &format!("/api/v1/errors/projects/{}/settings", shop.0),
        json!({"quota_per_minute": 2, "quota_per_hour": null, "keep_events": 10000, "keep_days": 90})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        send(&app, &shop, "event", &exception(1, "E", "x")).await.0,
        200
    );
    assert_eq!(
        send(&app, &shop, "event", &exception(2, "E", "x")).await.0,
        200
    );
    let (status, headers) = send(&app, &shop, "event", &exception(3, "E", "x")).await;
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("an integer Retry-After");
    assert!((1..=60).contains(&retry));
    assert_eq!(
        headers["x-sentry-rate-limits"].to_str().unwrap(),
        format!("{retry}::project")
    );
    // Sessions are not events: they still go through.
    assert_eq!(
        send(
            &app,
            &shop,
            "sessions",
            &json!({"attrs": {"release": "r1"}, "aggregates": [{"exited": 1}]})
        )
        .await
        .0,
        200
    );
    let bad = admin
        .api(
            Method::PUT,
            &format!("/api/v1/errors/projects/{}/settings", shop.0),
            json!({"quota_per_minute": 0, "keep_events": 10000, "keep_days": 90}),
        )
        .await;
    assert_eq!(bad.status(), 400);

    // Rotation: a second key works alongside; the last key cannot be revoked.
    let added: Value = admin
        .api(
            Method::POST,
            &format!("/api/v1/errors/projects/{}/keys", shop.0),
            json!({"label": "new"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let dsn = added["dsn"].as_str().unwrap();
    let new_key = dsn
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    let res = admin
        .api(
            Method::DELETE,
            &format!("/api/v1/errors/projects/{}/keys/{}", shop.0, shop.1),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        send(&app, &shop, "sessions", &json!({})).await.0,
        403,
        "the revoked key is refused"
    );
    assert_eq!(
        send(&app, &(shop.0, new_key.clone()), "sessions", &json!({}))
            .await
            .0,
        200
    );
    let res = admin
        .api(
            Method::DELETE,
            &format!("/api/v1/errors/projects/{}/keys/{new_key}", shop.0),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let page = admin
        .get(&format!("/errors/projects/{}", shop.0))
        .await
        .text()
        .await
        .unwrap();
    for shown in [
        new_key.as_str(),
        "sentry_sdk.init(",
        "Sentry.init(",
        "sentry::init(",
        "revoked",
    ] {
        assert!(page.contains(shown), "the project page lacks {shown}");
    }
    assert_eq!(audit_rows(&app, "errors.key_revoked").len(), 1);
    assert_eq!(audit_rows(&app, "errors.project_settings").len(), 1);
}

#[tokio::test]
async fn transactions_feed_performance_and_sessions_give_crash_free_rates() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let shop = project(&app, "Shop").await;
    let now = app.clock.now_ms() as f64 / 1000.0;
    for (n, ms) in [(1, 120.0), (2, 80.0)] {
        let tx = json!({"event_id": event_id(n), "type": "transaction", "transaction": "/orders/<int:id>/",
            "start_timestamp": now - ms / 1000.0, "timestamp": now, "request": {"method": "GET"},
            "contexts": {"trace": {"status": "ok"}}});
        assert_eq!(send(&app, &shop, "transaction", &tx).await.0, 200);
    }
    for (release, exited, crashed) in [("shop@1.0", 9, 1), ("shop@1.1", 4, 0)] {
        let s = json!({"attrs": {"release": release, "environment": "prod"}, "aggregates": [{"started": "2026-12-07T10:00:00Z", "exited": exited, "crashed": crashed}]});
        send(&app, &shop, "sessions", &s).await;
    }
    send(&app, &shop, "client_report", &json!({"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}]})).await;
    send(
        &app,
        &shop,
        "event",
        &json!({"event_id": event_id(9), "message": "not json at all"}),
    )
    .await;
    eventually("every item is digested", || {
        db_rows(&app, "SELECT count(*) FROM error_items")[0][0] == "0"
    })
    .await;

    let sources: Value = admin
        .get("/api/v1/perf/sources")
        .await
        .json()
        .await
        .unwrap();
    assert!(sources.to_string().contains("app:shop"), "{sources}");
    let detail: Value = admin
        .get(&format!("/api/v1/errors/projects/{}", shop.0))
        .await
        .json()
        .await
        .unwrap();
    let releases = detail["releases"].as_array().unwrap();
    let first = releases
        .iter()
        .find(|r| r["release"] == "shop@1.0")
        .unwrap();
    assert_eq!(
        (first["total"].as_i64(), first["crashed"].as_i64()),
        (Some(10), Some(1))
    );
    assert_eq!(first["crash_free_pct"], 90.0);
    assert_eq!(
        detail["client_reports"][0],
        json!(["queue_overflow", "error", 3])
    );
    let page = admin
        .get(&format!("/errors/projects/{}", shop.0))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("90.00 %") && page.contains("queue_overflow"),
        "the project page shows release health"
    );
}

#[tokio::test]
async fn retention_keeps_each_issues_first_and_latest_and_the_counters() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let shop = project(&app, "Shop").await;
    for n in 1..=5 {
        send(&app, &shop, "event", &exception(n, "KeyError", "'a'")).await;
    }
    send(
        &app,
        &shop,
        "event",
        &exception(6, "ValueError", "only one"),
    )
    .await;
    digested(&app, 6).await;
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute("UPDATE error_projects SET keep_events = 1", [])
        .unwrap();
    let removed = app
        .store
        .write(|c| watchpost::errors::digest_repo::prune_events(c, 0, 1_000))
        .await
        .unwrap();
    assert_eq!(
        removed, 3,
        "the KeyError issue keeps its first and latest event"
    );
    let kept = db_rows(&app, "SELECT event_id FROM error_events ORDER BY id");
    assert_eq!(kept, [[event_id(1)], [event_id(5)], [event_id(6)]]);
    let list = issues(&admin, "sort=events").await;
    assert_eq!(
        list["issues"][0]["events"], 5,
        "issue counters survive retention"
    );
}

#[tokio::test]
async fn new_issues_and_regressions_fire_alert_rules() {
    let (app, admin) = app_with_admin_and(|c| {
        c.alerts.evaluate_every = "1s".into();
        c.alerts.default_rules = false;
        for (id, kind) in [
            ("new-error", "error_new_issue"),
            ("regressed", "error_regression"),
        ] {
            c.alerts.rules.push(watchpost::alerts::RuleConfig {
                id: id.into(),
                kind: kind.into(),
                ..Default::default()
            });
        }
    })
    .await;
    let shop = project(&app, "Shop").await;
    send(&app, &shop, "event", &exception(1, "KeyError", "'a'")).await;
    let firing = |rule: &'static str| {
        let admin = &admin;
        async move {
            let overview: Value = admin.get("/api/v1/alerts").await.json().await.unwrap();
            overview["instances"].as_array().unwrap().iter().any(|i| {
                i["rule_id"] == rule
                    && i["phase"] == "firing"
                    && i["subject"].as_str().unwrap().starts_with("issue:")
            })
        }
    };
    crate::alerts::eventually_async("the new-issue rule fires", || firing("new-error")).await;
    let id = issues(&admin, "").await["issues"][0]["id"]
        .as_i64()
        .unwrap();
    admin
        .api(
            Method::POST,
            &format!("/api/v1/errors/issues/{id}/status"),
            json!({"action": "resolve"}),
        )
        .await;
    send(&app, &shop, "event", &exception(2, "KeyError", "'a'")).await;
    crate::alerts::eventually_async("the regression rule fires", || firing("regressed")).await;
}
