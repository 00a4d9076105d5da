//! Secrets stay secret and hostile input stays one line (security baseline
//! behaviours 15 and 16), and the account CLI (`watchpost user …`,
//! `watchpost token create`) works as the README documents it.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::browser::*;
use crate::helpers::{log_text, spawn_app_with, test_config};

fn audit_text(app: &crate::helpers::TestApp) -> String {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT action || ' ' || COALESCE(target, '') || ' ' || COALESCE(details, '') || ' ' || COALESCE(user_agent, '') FROM audit_trail")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn passwords_tokens_cookies_and_codes_never_reach_logs_or_the_audit_trail() {
    let (app, admin) = app_with_admin().await;
    let wrong = "zebra-crossing-secret-attempt-991";
    Browser::new(&app).login(ADMIN_EMAIL, wrong).await;
    let res = admin
        .api(
            Method::POST,
            "/api/v1/tokens",
            json!({ "name": "ci", "scope": "read" }),
        )
        .await;
    let token = res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let session = admin.session().unwrap();
    app.client
        .get(app.at("/api/v1/me?token=querysecret12345"))
        .bearer_auth(&token)
        .header("x-webhook-secret", "hooksecret67890")
        .send()
        .await
        .unwrap();
    Browser::new(&app)
        .submit("/login", "/login/totp", &[("code", "424242")])
        .await;
    let logs = log_text().await;
    let audit = audit_text(&app);
    for secret in [
        ADMIN_PASSWORD,
        wrong,
        token.as_str(),
        session.as_str(),
        "querysecret12345",
        "hooksecret67890",
        "424242",
    ] {
        assert!(!logs.contains(secret), "{secret} is in the log");
        assert!(!audit.contains(secret), "{secret} is in the audit trail");
    }
}

#[tokio::test]
async fn an_email_with_a_forged_log_line_stays_one_line() {
    let app = spawn_app_with(|_| {}).await;
    let hostile = "eve@x.com\r\n{\"level\":\"INFO\",\"message\":\"forged\"}";
    Browser::new(&app).login(hostile, "whatever it is").await;
    let logs = log_text().await;
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not one JSON line ({e}): {line}"));
        assert!(!line.starts_with("{\"level\":\"INFO\",\"message\":\"forged\""));
    }
    assert!(logs.contains("login failed"), "the failure is logged");
}

fn watchpost(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_user_and_token_commands_manage_accounts_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watchpost.toml");
    std::fs::write(
        &config,
        format!("[storage]\ndata_dir = {:?}\n", dir.path().join("data")),
    )
    .unwrap();
    let add = watchpost(
        &config,
        &[
            "user",
            "add",
            "ops@example.com",
            "--role",
            "admin",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        Some(&format!("{ADMIN_PASSWORD}\n")),
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let weak = watchpost(
        &config,
        &["user", "add", "weak@example.com", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("15"));

    let token = watchpost(
        &config,
        &[
            "token",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "ci",
            "--scope",
            "read",
            "--expires-in",
            "30d",
        ],
        None,
    );
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap();
    assert!(
        token.starts_with("wp_") && token.trim().lines().count() == 1,
        "{token:?}"
    );

    let list = watchpost(&config, &["user", "list"], None);
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("ops@example.com") && list.contains("admin"),
        "{list}"
    );

    let last_admin = watchpost(
        &config,
        &["user", "set-role", "ops@example.com", "viewer"],
        None,
    );
    assert!(
        !last_admin.status.success(),
        "the last admin keeps the role"
    );
    let ann = watchpost(
        &config,
        &["user", "add", "ann@example.com", "--password-stdin"],
        Some(&format!("{VIEWER_PASSWORD}\n")),
    );
    assert!(ann.status.success());
    for args in [
        vec!["user", "set-role", "ann@example.com", "admin"],
        vec!["user", "disable", "ann@example.com"],
        vec!["user", "enable", "ann@example.com"],
        vec!["user", "reset-2fa", "ops@example.com"],
        vec!["user", "revoke-sessions", "ops@example.com"],
    ] {
        let out = watchpost(&config, &args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let passwd = watchpost(
        &config,
        &["user", "passwd", "ops@example.com", "--password-stdin"],
        Some("another fine passphrase for rivers\n"),
    );
    assert!(passwd.status.success());
    let missing = watchpost(&config, &["user", "disable", "nobody@example.com"], None);
    assert!(!missing.status.success());

    // The token works against a server on the same data directory.
    let mut config = test_config(dir.path());
    config.storage.data_dir = dir.path().join("data");
    let app = crate::helpers::spawn_app_in(config).await;
    let res = app
        .client
        .get(app.at("/api/v1/me"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let cli_rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_trail WHERE actor_kind = 'cli'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(-1);
    assert!(cli_rows >= 7, "audited with actor cli: {cli_rows}");
}
