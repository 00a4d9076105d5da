//! Sessions and second factors: rotation at every login step, timeouts,
//! logout and disable killing sessions, password change, TOTP with replay
//! refusal and recovery codes (security baseline behaviours 8–11).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use watchpost::auth::totp;

use crate::browser::*;

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Reads the manual key off the enrolment page and turns 2FA on; returns the secret.
async fn enrol(b: &Browser) -> Vec<u8> {
    enrol_showing_codes(b).await.0
}

/// As [`enrol`], also returning the page that shows the recovery codes.
async fn enrol_showing_codes(b: &Browser) -> (Vec<u8>, String) {
    let page = b.get("/account/2fa").await.text().await.unwrap();
    let at = page.find("id=\"manual-key\">").unwrap() + "id=\"manual-key\">".len();
    let key: String = page[at..]
        .split('<')
        .next()
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let secret = data_encoding::BASE32_NOPAD.decode(key.as_bytes()).unwrap();
    let csrf = csrf_in(&page).unwrap();
    let code = totp::code_at(&secret, now_s());
    let res = b
        .post_form("/account/2fa/enable", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"recovery-codes\""), "{body}");
    (secret, body)
}

#[tokio::test]
async fn logging_in_issues_a_new_session_and_the_old_cookie_dies() {
    let (app, _admin) = app_with_admin().await;
    let b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let first = b.session().unwrap();
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let second = b.session().unwrap();
    assert_ne!(first, second);
    let old = Browser::new(&app);
    old.set_cookie("wp_session", &first);
    assert_eq!(old.get("/api/v1/me").await.status(), 401);
    assert_eq!(b.get("/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn logout_and_disable_kill_sessions_on_the_server() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    let stolen = v.session().unwrap();
    let csrf = v.csrf_of("/account").await;
    let res = v.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let replay = Browser::new(&app);
    replay.set_cookie("wp_session", &stolen);
    assert_eq!(replay.get("/api/v1/me").await.status(), 401);
    let page = replay.get("/account").await;
    assert_eq!(page.status(), 303);
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );

    assert_eq!(v.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(), 303);
    let id = v.me().await["id"].as_i64().unwrap();
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/disable"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(v.get("/api/v1/me").await.status(), 401);
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_the_absolute_timeout() {
    let (app, admin) = app_with_admin().await;
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        admin.get("/api/v1/me").await.status(),
        200,
        "29 min idle is fine"
    );
    app.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        admin.get("/api/v1/me").await.status(),
        401,
        "31 min idle ends it"
    );

    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 303);
    for _ in 0..25 {
        app.clock.advance(Duration::from_secs(29 * 60));
        if admin.get("/api/v1/me").await.status() != 200 {
            break;
        }
    }
    assert_eq!(
        admin.get("/api/v1/me").await.status(),
        401,
        "an active session still ends after 12 h"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    let other = Browser::new(&app);
    other.login(VIEWER_EMAIL, VIEWER_PASSWORD).await;
    let before = v.session().unwrap();
    let new = "a brand new marmalade sunrise over docks";

    let res = v
        .submit(
            "/account",
            "/account/password",
            &[
                ("current", "not my password at all"),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(other.get("/api/v1/me").await.status(), 200);

    let res = v
        .submit(
            "/account",
            "/account/password",
            &[("current", VIEWER_PASSWORD), ("new", new), ("confirm", new)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_ne!(v.session().unwrap(), before, "the session was rotated");
    assert_eq!(v.get("/api/v1/me").await.status(), 200);
    assert_eq!(other.get("/api/v1/me").await.status(), 401);
    let old = Browser::new(&app);
    old.set_cookie("wp_session", &before);
    assert_eq!(old.get("/api/v1/me").await.status(), 401);
    assert_eq!(
        Browser::new(&app).login(VIEWER_EMAIL, new).await.status(),
        303
    );
}

#[tokio::test]
async fn an_admin_without_2fa_must_enrol_before_anything_else() {
    let (app, _) = app_with_admin_and(|c| c.auth.require_2fa_for_admins = true).await;
    let b = Browser::new(&app);
    let res = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/account/2fa");
    let pending = b.session().unwrap();
    let res = b.get("/users").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/2fa");
    assert_eq!(b.get("/api/v1/me").await.status(), 401);
    enrol(&b).await;
    assert_ne!(b.session().unwrap(), pending, "rotated at the 2FA step");
    assert_eq!(b.get("/users").await.status(), 200);
}

#[tokio::test]
async fn totp_login_accepts_neighbouring_steps_and_refuses_replays() {
    let (app, admin) = app_with_admin().await;
    let secret = enrol(&admin).await;
    // Enrolment used the current step; ten steps later all neighbours are fresh.
    app.clock.advance(Duration::from_secs(300));
    let now = now_s() + 300;
    let step = |offset: i64| (now as i64 + offset * 30) as u64;

    for (offset, ok) in [(-2, false), (2, false), (-1, true), (0, true), (1, true)] {
        let b = Browser::new(&app);
        let res = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.headers()["location"], "/login/totp");
        let pending = b.session().unwrap();
        let code = totp::code_at(&secret, step(offset));
        let res = b
            .submit("/login/totp", "/login/totp", &[("code", &code)])
            .await;
        if ok {
            assert_eq!(res.status(), 303, "step {offset:+} is accepted");
            assert_ne!(b.session().unwrap(), pending, "rotated at the 2FA step");
            assert_eq!(b.get("/api/v1/me").await.status(), 200);
        } else {
            assert_eq!(res.status(), 401, "step {offset:+} is refused");
        }
    }

    // The t+1 code was used last; using it again, from another session, is a replay.
    let b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let code = totp::code_at(&secret, step(1));
    let res = b
        .submit("/login/totp", "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 401);
    assert!(!audit_rows(&app, "totp.replay").is_empty());
}

#[tokio::test]
async fn three_wrong_codes_make_the_user_wait_for_the_next_step() {
    let (app, admin) = app_with_admin().await;
    let secret = enrol(&admin).await;
    let b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        b.submit("/login/totp", "/login/totp", &[("code", "000000")])
            .await;
    }
    let right = totp::code_at(&secret, now_s() + 30);
    let res = b
        .submit("/login/totp", "/login/totp", &[("code", &right)])
        .await;
    assert_eq!(res.status(), 429);
    crate::helpers::assert_security_headers(&res);
    assert!(res.headers().get("retry-after").is_some());
    assert!(res.text().await.unwrap().contains("Wait for your app"));
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let (app, admin) = app_with_admin().await;
    let (_, body) = enrol_showing_codes(&admin).await;
    let list = &body[body.find("id=\"recovery-codes\"").unwrap()..];
    let first = &list[list.find("<code>").unwrap() + 6..];
    let recovery = first[..first.find("</code>").unwrap()].to_string();

    let b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = b
        .submit("/login/totp", "/login/totp", &[("code", &recovery)])
        .await;
    assert_eq!(res.status(), 303);
    let again = Browser::new(&app);
    again.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = again
        .submit("/login/totp", "/login/totp", &[("code", &recovery)])
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn totp_secrets_are_sealed_at_rest() {
    let (app, admin) = app_with_admin().await;
    let secret = enrol(&admin).await;
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let stored: Vec<u8> = conn
        .query_row(
            "SELECT totp_secret FROM users WHERE totp_secret IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
    let key = app.dir.path().join("data").join("secret.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn an_admin_can_reset_another_users_2fa() {
    let (app, admin) = app_with_admin().await;
    let v = viewer(&app, &admin).await;
    enrol(&v).await;
    let id = v.me().await["id"].as_i64().unwrap();
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/reset-2fa"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let b = Browser::new(&app);
    let res = b.login(VIEWER_EMAIL, VIEWER_PASSWORD).await;
    assert_eq!(res.headers()["location"], "/", "no code asked any more");
    assert_eq!(audit_rows(&app, "totp.reset").len(), 1);
}
