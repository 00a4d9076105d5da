//! Logging in with a password: the hashes, the policy, the lockout rules and
//! the anti-enumeration guarantees (security baseline behaviours 1–7, 14).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::browser::*;
use crate::helpers::{account_rules_only, spawn_app_with};

fn stored_hashes(app: &crate::helpers::TestApp) -> Vec<String> {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT password_hash FROM users WHERE password_hash IS NOT NULL ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn two_users_with_the_same_password_get_two_different_argon2id_hashes() {
    let (app, admin) = app_with_admin().await;
    add_user(&admin, "a@example.com", "viewer", VIEWER_PASSWORD).await;
    add_user(&admin, "b@example.com", "viewer", VIEWER_PASSWORD).await;
    let hashes = stored_hashes(&app);
    assert_eq!(hashes.len(), 3);
    assert_ne!(hashes[1], hashes[2]);
    for hash in &hashes {
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
    }
}

#[tokio::test]
async fn the_policy_refuses_short_common_and_personal_passwords_with_a_reason() {
    let (_app, admin) = app_with_admin().await;
    let cases = [
        ("short@example.com", "elevenchars"),
        ("common@example.com", "password1234"),
        ("own@example.com", "own@example.com"),
        ("brand@example.com", "watchpost2026"),
    ];
    for (email, password) in cases {
        let res = admin
            .api(
                Method::POST,
                "/api/v1/users",
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(res.status(), 400, "{password} was accepted");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().len() > 20,
            "no reason for {password}: {body}"
        );
    }
    let passphrase = "quiet otters 🦦 juggle ten amber lanterns";
    let res = admin
        .api(
            Method::POST,
            "/api/v1/users",
            json!({ "email": "emoji@example.com", "password": passphrase }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_long_password_is_never_truncated() {
    let (app, admin) = app_with_admin().await;
    let long: String = "plum sky river ".repeat(7).chars().take(100).collect();
    add_user(&admin, "long@example.com", "viewer", &long).await;
    let user = Browser::new(&app);
    let shorter: String = long.chars().take(99).collect();
    assert_eq!(user.login("long@example.com", &shorter).await.status(), 401);
    assert_eq!(user.login("long@example.com", &long).await.status(), 303);
}

#[tokio::test]
async fn five_failures_lock_the_account_from_that_ip_until_the_lock_expires() {
    let (app, admin) = app_with_admin().await;
    add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let attacker = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(
            attacker
                .login(VIEWER_EMAIL, "wrong password here")
                .await
                .status(),
            401
        );
    }
    let locked = attacker.login(VIEWER_EMAIL, VIEWER_PASSWORD).await;
    assert_eq!(
        locked.status(),
        401,
        "the right password is refused while locked"
    );
    assert!(
        locked
            .text()
            .await
            .unwrap()
            .contains("Invalid email or password.")
    );
    assert!(!audit_rows(&app, "login.locked").is_empty());

    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(
        attacker.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn a_lock_is_per_account_and_ip() {
    let (app, admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        account_rules_only(c);
    })
    .await;
    add_user(&admin, "a@example.com", "viewer", VIEWER_PASSWORD).await;
    add_user(&admin, "b@example.com", "viewer", VIEWER_PASSWORD).await;
    let ip1 = Browser::from_ip(&app, "198.51.100.1");
    for _ in 0..5 {
        ip1.login("a@example.com", "not the password at all").await;
    }
    assert_eq!(
        ip1.login("a@example.com", VIEWER_PASSWORD).await.status(),
        401
    );
    assert_eq!(
        ip1.login("b@example.com", VIEWER_PASSWORD).await.status(),
        303
    );
    let ip2 = Browser::from_ip(&app, "198.51.100.2");
    assert_eq!(
        ip2.login("a@example.com", VIEWER_PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn the_daily_ceiling_refuses_an_account_from_every_ip() {
    let (app, admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        account_rules_only(c);
        c.auth.lockout.account_daily_max = 6;
    })
    .await;
    add_user(&admin, "a@example.com", "viewer", VIEWER_PASSWORD).await;
    for i in 0..6 {
        let from = Browser::from_ip(&app, &format!("198.51.100.{i}"));
        from.login("a@example.com", "not the password at all").await;
    }
    let fresh = Browser::from_ip(&app, "203.0.113.50");
    assert_eq!(
        fresh.login("a@example.com", VIEWER_PASSWORD).await.status(),
        401
    );
}

#[tokio::test]
async fn one_ip_trying_twenty_accounts_is_banned_and_others_are_not() {
    let (app, admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        account_rules_only(c);
    })
    .await;
    add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let sprayer = Browser::from_ip(&app, "203.0.113.9");
    for i in 0..20 {
        sprayer
            .login(&format!("user{i}@example.com"), "Summer2026!")
            .await;
    }
    assert_eq!(
        sprayer.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(),
        401,
        "the banned IP cannot log in even with the right password"
    );
    assert!(!audit_rows(&app, "ip.banned").is_empty());
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let banned: String = conn
        .query_row("SELECT ip FROM ip_bans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(banned, "203.0.113.9");
    let real = Browser::from_ip(&app, "198.51.100.7");
    assert_eq!(
        real.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored_by_bans() {
    let (app, admin) = app_with_admin().await;
    add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let sprayer = Browser::from_ip(&app, "203.0.113.9");
    for i in 0..20 {
        sprayer
            .login(&format!("user{i}@example.com"), "Summer2026!")
            .await;
    }
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let banned: String = conn
        .query_row("SELECT ip FROM ip_bans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(banned, "127.0.0.1", "the socket address, not the header");
}

fn comparable_headers(res: &reqwest::Response) -> Vec<(String, String)> {
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "x-request-id" | "date"))
        .map(|(k, v)| {
            let v = v.to_str().unwrap();
            // Same Set-Cookie shape: the name and attributes, not the random value.
            let v = match v.split_once('=') {
                Some((name, rest)) if k == "set-cookie" => {
                    format!("{name}=…{}", rest.split_once(';').map_or("", |r| r.1))
                }
                _ => v.to_string(),
            };
            (k.to_string(), v)
        })
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_and_cost_the_same() {
    let (app, admin) = app_with_admin().await;
    add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let mut known_ms = Vec::new();
    let mut unknown_ms = Vec::new();
    let mut shapes = Vec::new();
    for round in 0..6 {
        // A fresh browser each time (and a reset lock), so both paths start equal.
        for email in [VIEWER_EMAIL, "nobody@example.com"] {
            let b = Browser::new(&app);
            let csrf = b.csrf_of("/login").await;
            let started = Instant::now();
            let res = b
                .post_form(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("email", email),
                        ("password", "definitely wrong"),
                    ],
                )
                .await;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            let headers = comparable_headers(&res);
            let status = res.status();
            let body = res
                .text()
                .await
                .unwrap()
                .replace(&csrf, "CSRF")
                .replace(email, "EMAIL");
            if email == VIEWER_EMAIL {
                known_ms.push(elapsed);
            } else {
                unknown_ms.push(elapsed);
            }
            shapes.push((email, status, headers, body));
        }
        if round % 2 == 1 {
            app.clock.advance(Duration::from_secs(3600));
        }
    }
    let (_, s1, h1, b1) = &shapes[0];
    let (_, s2, h2, b2) = &shapes[1];
    assert_eq!(s1, s2);
    assert_eq!(*s1, 401);
    assert_eq!(h1, h2);
    assert_eq!(b1, b2);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known_ms), median(&mut unknown_ms));
    assert!(
        (k - u).abs() < 20.0 + 0.5 * k.min(u),
        "median latency known {k:.1} ms vs unknown {u:.1} ms"
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_log_in_and_gets_the_generic_answer() {
    let (app, admin) = app_with_admin().await;
    let id = add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let b = Browser::new(&app);
    let res = b.login(VIEWER_EMAIL, VIEWER_PASSWORD).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Invalid email or password.")
    );
}

#[tokio::test]
async fn an_admin_can_clear_a_lockout_and_it_is_audited() {
    let (app, admin) = app_with_admin().await;
    let id = add_user(&admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let b = Browser::new(&app);
    for _ in 0..5 {
        b.login(VIEWER_EMAIL, "nope nope nope nope").await;
    }
    assert_eq!(b.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(), 401);
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/clear-lockout"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(), 303);
    assert_eq!(audit_rows(&app, "lockout.cleared").len(), 1);
}

#[tokio::test]
async fn the_login_form_needs_its_csrf_token() {
    let app = spawn_app_with(|_| {}).await;
    let b = Browser::new(&app);
    b.get("/login").await;
    let res = b
        .post_form("/login", &[("email", "a@example.com"), ("password", "x")])
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn raising_the_hash_parameters_rehashes_at_the_next_login() {
    let (app, _admin) = app_with_admin().await;
    let dir = app.stop().await;
    let mut config = crate::helpers::test_config(dir.path());
    config.auth.password_hash.memory_kib = 24_576;
    config.auth.password_hash.iterations = 3;
    let app = crate::helpers::spawn_app_in(config).await;
    assert!(stored_hashes(&app)[0].contains("m=19456,t=2"));
    assert_eq!(
        Browser::new(&app)
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        303
    );
    assert!(stored_hashes(&app)[0].starts_with("$argon2id$v=19$m=24576,t=3,p=1$"));
}
