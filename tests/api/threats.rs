//! Threat detection through the HTTP face: detectors at their thresholds,
//! the ban gate, expiry and escalation, the allowlist, forwarded-address
//! trust, manual bans, the firewall list, rate limits and the pages.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::{TestApp, spawn_app_in, test_config};

/// An app behind a trusted proxy on loopback (so tests choose the sender's
/// address with `X-Forwarded-For`), with an admin logged in from loopback.
pub async fn app_behind_proxy() -> (TestApp, Browser) {
    app_with_admin_and(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await
}

/// Polls `check` for up to ten seconds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

pub fn db_rows(app: &TestApp, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

pub fn bans_of(app: &TestApp, ip: &str) -> Vec<Vec<String>> {
    db_rows(
        app,
        &format!(
            "SELECT ip, detector, source, until_ms - created_ms, lifted_ms FROM ip_bans WHERE ip = '{ip}' ORDER BY id"
        ),
    )
}

#[tokio::test]
async fn four_sensitive_files_ban_the_sender_and_three_do_not() {
    let (app, _admin) = app_behind_proxy().await;
    let careful = Browser::from_ip(&app, "203.0.113.10");
    for path in ["/.env", "/.git/config", "/.htpasswd"] {
        assert_eq!(careful.get(path).await.status(), 404);
    }
    assert_eq!(
        careful.get("/login").await.status(),
        200,
        "three stay under the threshold"
    );

    let scanner = Browser::from_ip(&app, "203.0.113.11");
    for path in ["/.env", "/.git/config", "/.htpasswd", "/backup.sql"] {
        scanner.get(path).await;
    }
    let refused = scanner.get("/login").await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("temporarily banned"));
    eventually("the ban is recorded", || {
        !bans_of(&app, "203.0.113.11").is_empty()
    })
    .await;
    let ban = &bans_of(&app, "203.0.113.11")[0];
    assert_eq!(
        (ban[1].as_str(), ban[2].as_str()),
        ("sensitive_file", "http")
    );
    assert_eq!(ban[3], (4 * 3_600_000).to_string(), "the baseline's 4 h");
    assert!(bans_of(&app, "203.0.113.10").is_empty());
    eventually("the events are written", || {
        !db_rows(&app, "SELECT count FROM security_events WHERE kind = 'probe.sensitive_file' AND ip = '203.0.113.11'").is_empty()
    })
    .await;
    let counted = db_rows(
        &app,
        "SELECT count FROM security_events WHERE kind = 'probe.sensitive_file' AND ip = '203.0.113.11'",
    );
    assert_eq!(
        counted,
        [["4"]],
        "one row per kind, IP and minute, with a count"
    );
}

#[tokio::test]
async fn one_scanner_user_agent_is_enough_and_ordinary_browsers_pass() {
    let (app, _admin) = app_behind_proxy().await;
    let browser = Browser::from_ip(&app, "203.0.113.20");
    assert_eq!(browser.get("/login").await.status(), 200);
    let ua = |ua: &'static str| move |r: reqwest::RequestBuilder| r.header("user-agent", ua);
    let scanner = Browser::from_ip(&app, "203.0.113.21");
    let first = scanner
        .send(
            Method::GET,
            "/login",
            ua("sqlmap/1.8.4#stable (https://sqlmap.org)"),
        )
        .await;
    assert_eq!(
        first.status(),
        200,
        "the request that trips the detector is answered"
    );
    assert_eq!(scanner.get("/login").await.status(), 403);
    assert_eq!(browser.get("/login").await.status(), 200);
}

#[tokio::test]
async fn sql_injection_needs_ten_quick_tries_and_nine_pass() {
    let (app, _admin) = app_behind_proxy().await;
    let nine = Browser::from_ip(&app, "203.0.113.30");
    for i in 0..9 {
        nine.get(&format!(
            "/status?id={i}%20UNION%20SELECT%20password%20FROM%20users"
        ))
        .await;
    }
    assert_eq!(nine.get("/status").await.status(), 200);
    let ten = Browser::from_ip(&app, "203.0.113.31");
    for i in 0..10 {
        ten.get(&format!("/status?id={i}+union+select+1,2")).await;
    }
    assert_eq!(ten.get("/status").await.status(), 403);
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // No trusted proxy: the header is ignored and the sender is loopback,
    // which the default allowlist never bans.
    let (app, _admin) = app_with_admin().await;
    let claims = Browser::from_ip(&app, "203.0.113.40");
    for path in [
        "/.env",
        "/.git/config",
        "/.aws/credentials",
        "/.htpasswd",
        "/db.sql",
    ] {
        claims.get(path).await;
    }
    assert_eq!(claims.get("/login").await.status(), 200);
    assert!(bans_of(&app, "203.0.113.40").is_empty());
    assert!(
        bans_of(&app, "127.0.0.1").is_empty(),
        "loopback is on the allowlist"
    );
}

#[tokio::test]
async fn a_ban_expires_on_time_and_a_repeat_offender_gets_twice_as_long() {
    let (app, _admin) = app_behind_proxy().await;
    let scanner = Browser::from_ip(&app, "203.0.113.50");
    let probe = || async {
        for path in ["/.env", "/.git/config", "/.htpasswd", "/dump.sql"] {
            scanner.get(path).await;
        }
    };
    probe().await;
    assert_eq!(scanner.get("/login").await.status(), 403);
    eventually("the ban is recorded", || {
        bans_of(&app, "203.0.113.50").len() == 1
    })
    .await;

    app.clock.advance(Duration::from_secs(4 * 3600 + 60));
    assert_eq!(scanner.get("/login").await.status(), 200, "the ban ended");
    eventually("the end is noticed", || {
        !db_rows(
            &app,
            "SELECT 1 FROM security_events WHERE kind = 'ban.expired' AND ip = '203.0.113.50'",
        )
        .is_empty()
    })
    .await;

    probe().await;
    assert_eq!(scanner.get("/login").await.status(), 403);
    eventually("the second ban is recorded", || {
        bans_of(&app, "203.0.113.50").len() == 2
    })
    .await;
    assert_eq!(
        bans_of(&app, "203.0.113.50")[1][3],
        (8 * 3_600_000).to_string()
    );
}

#[tokio::test]
async fn bans_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.server.trusted_proxies = vec!["127.0.0.1".into()];
    let app = spawn_app_in(config.clone()).await;
    let scanner = Browser::from_ip(&app, "203.0.113.60");
    scanner
        .send(Method::GET, "/", |r| r.header("user-agent", "Nikto/2.5.0"))
        .await;
    eventually("the ban is recorded", || {
        !bans_of(&app, "203.0.113.60").is_empty()
    })
    .await;
    app.stop().await;

    let again = spawn_app_in(config).await;
    let scanner = Browser::from_ip(&again, "203.0.113.60");
    assert_eq!(scanner.get("/login").await.status(), 403);
    drop(dir);
}

#[tokio::test]
async fn admins_ban_extend_and_unban_by_api_and_firewalls_read_the_list() {
    let (app, admin) = app_behind_proxy().await;
    let res = admin
        .api(
            Method::POST,
            "/api/v1/bans",
            json!({"ip": "198.51.100.0/24", "for": "2h", "reason": "abuse report"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    admin
        .api(Method::POST, "/api/v1/bans", json!({"ip": "203.0.113.70"}))
        .await;
    let inside = Browser::from_ip(&app, "198.51.100.42");
    assert_eq!(
        inside.get("/login").await.status(),
        403,
        "a block covers its addresses"
    );

    let list = admin.get("/api/v1/bans.txt").await;
    assert_eq!(list.status(), 200);
    assert!(
        list.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        list.text().await.unwrap(),
        "198.51.100.0/24\n203.0.113.70\n"
    );

    let extended: Value = admin
        .api(
            Method::POST,
            "/api/v1/bans/extend",
            json!({"ip": "198.51.100.0/24", "by": "1h"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        extended["until_ms"].as_i64().unwrap() - extended["created_ms"].as_i64().unwrap(),
        3 * 3_600_000
    );

    let res = admin
        .api(
            Method::POST,
            "/api/v1/bans/unban",
            json!({"ip": "198.51.100.0/24"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(inside.get("/login").await.status(), 200);
    assert_eq!(
        admin.get("/api/v1/bans.txt").await.text().await.unwrap(),
        "203.0.113.70\n"
    );
    let res = admin
        .api(
            Method::POST,
            "/api/v1/bans/unban",
            json!({"ip": "198.51.100.0/24"}),
        )
        .await;
    assert_eq!(res.status(), 404);

    for action in ["ip.banned", "ip.ban_extended", "ip.unbanned"] {
        assert!(!audit_rows(&app, action).is_empty(), "{action} is audited");
    }
}

#[tokio::test]
async fn bad_ban_requests_are_refused_with_the_reason() {
    let (_app, admin) = app_behind_proxy().await;
    for (body, needle) in [
        (json!({"ip": "203.0.113.5; rm -rf /"}), "not an IP address"),
        (json!({"ip": "127.0.0.1"}), "allowlist"),
        (json!({"ip": "127.0.0.0/8"}), "allowlist"),
        (
            json!({"ip": "203.0.113.5", "for": "forever"}),
            "not a duration",
        ),
        (json!({"ip": "203.0.113.5", "until": "4h"}), "unknown field"),
    ] {
        let res = admin.api(Method::POST, "/api/v1/bans", body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let text = res.text().await.unwrap();
        assert!(text.contains(needle), "{body}: {text}");
    }
}

#[tokio::test]
async fn viewers_read_the_ban_list_but_cannot_ban() {
    let (app, admin) = app_behind_proxy().await;
    let viewer = viewer(&app, &admin).await;
    assert_eq!(viewer.get("/api/v1/bans.txt").await.status(), 200);
    let res = viewer
        .api(Method::POST, "/api/v1/bans", json!({"ip": "203.0.113.80"}))
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/api/v1/bans.txt").await.status(), 401);
}

#[tokio::test]
async fn logins_beyond_the_burst_get_429_with_whole_seconds_to_wait() {
    let (app, _admin) = app_behind_proxy().await;
    let hurried = Browser::from_ip(&app, "203.0.113.90");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = hurried
            .post_form(
                "/login",
                &[("email", "x@example.com"), ("password", "wrong")],
            )
            .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let wait: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(statuses[..5].iter().all(|s| *s != 429), "{statuses:?}");
}

#[tokio::test]
async fn failed_logins_trip_the_brute_force_detector() {
    let (app, _admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        if let Some(l) = c.threats.rate_limits.get_mut("login") {
            l.burst = 100;
        }
    })
    .await;
    let guesser = Browser::from_ip(&app, "203.0.113.95");
    for _ in 0..5 {
        guesser.login(ADMIN_EMAIL, "not the password, surely").await;
    }
    assert_eq!(guesser.get("/login").await.status(), 403);
    eventually("the ban is recorded", || {
        !bans_of(&app, "203.0.113.95").is_empty()
    })
    .await;
    assert_eq!(bans_of(&app, "203.0.113.95")[0][1], "http_bruteforce");
    assert_eq!(
        bans_of(&app, "203.0.113.95")[0][3],
        "600000",
        "fail2ban's 10 minutes"
    );
}

#[tokio::test]
async fn the_security_page_shows_what_happened_and_admins_can_act() {
    let (app, admin) = app_behind_proxy().await;
    let scanner = Browser::from_ip(&app, "203.0.113.99");
    scanner
        .send(Method::GET, "/", |r| r.header("user-agent", "masscan/1.3"))
        .await;
    eventually("the events are written", || {
        !db_rows(
            &app,
            "SELECT 1 FROM security_events WHERE kind = 'ban.created'",
        )
        .is_empty()
    })
    .await;
    let page = admin.get("/security").await.text().await.unwrap();
    for needle in [
        "203.0.113.99",
        "probe.bad_agent",
        "ban.created",
        "Events per hour",
        "<svg",
        "Unban",
        "bad agent detector",
    ] {
        assert!(page.contains(needle), "{needle} missing");
    }
    let res = admin
        .submit(
            "/security",
            "/security/bans/unban",
            &[("ip", "203.0.113.99")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(scanner.get("/login").await.status(), 200);
    let res = admin
        .submit(
            "/security",
            "/security/bans",
            &[("ip", "not-an-ip"), ("for", "1h")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("is not an IP address"));

    let viewer = viewer(&app, &admin).await;
    let page = viewer.get("/security").await.text().await.unwrap();
    assert!(page.contains("203.0.113.99"));
    assert!(!page.contains("id=\"ban-form\""), "viewers get no forms");
    let overview = admin.get("/").await.text().await.unwrap();
    assert!(overview.contains("Security"));
}

#[tokio::test]
async fn the_timeline_filters_and_refuses_unknown_kinds() {
    let (app, admin) = app_behind_proxy().await;
    Browser::from_ip(&app, "203.0.113.101").get("/.env").await;
    Browser::from_ip(&app, "203.0.113.102")
        .get("/x?q=%3Cscript%3E")
        .await;
    eventually("the events are written", || {
        db_rows(&app, "SELECT 1 FROM security_events").len() >= 2
    })
    .await;
    let rows: Vec<Value> = admin
        .get("/api/v1/security/events?kind=probe.xss")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ip"], "203.0.113.102");
    let res = admin
        .get("/api/v1/security/events?kind=probe.everything")
        .await;
    assert_eq!(res.status(), 400);
    let summary: Value = admin
        .get("/api/v1/security/summary")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["events_total"], 2);
}
