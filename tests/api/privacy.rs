//! Privacy erasure end to end: a person who logged in, made a token, failed a
//! login, probed a path and appears in error events is erased through the
//! API; afterwards no TEXT or BLOB value of any table (error payloads
//! inflated) holds their email, name or addresses, their session and token
//! are dead, `user.erased` is recorded without the email, and `watchpost
//! trail verify` passes. The page asks for the email again; the CLI erases by
//! email and refuses an unknown one.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{ADMIN_EMAIL, Browser, app_with_admin_and, csrf_in};
use crate::helpers::{TestApp, account_rules_only};
use crate::threats::db_rows;
use watchpost::audit_trail::{Actioned, Trail};
use watchpost::errors::projects::Projects;

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");
const ANN: &str = "ann.person@example.com";
const ANN_NAME: &str = "Annabel Personne";
const ANN_PASSWORD: &str = "copper kettles sing at dawn in winter";
const ANN_IP: &str = "203.0.113.77";
const ANN_OTHER_IP: &str = "203.0.113.78";
const BOB: &str = "bob.other@example.com";

fn watchpost(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(data_dir.parent().unwrap())
        .env_remove("WATCHPOST_CONFIG")
        .env("WATCHPOST_SERVER__BIND", "127.0.0.1:0")
        .env("WATCHPOST_LOGGING__STDOUT", "false")
        .env("WATCHPOST_STORAGE__DATA_DIR", data_dir)
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn inflate(blob: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(blob)
        .read_to_end(&mut out)
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Every TEXT and BLOB value of every table (deflate blobs inflated), as
/// `(table.column, text)`.
fn every_text_value(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.len() > 20, "{tables:?}");
    let mut values = Vec::new();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in columns {
            let mut stmt = conn
                .prepare(&format!("SELECT \"{column}\" FROM \"{table}\""))
                .unwrap();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let value = match row.get_ref(0).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => text(t),
                    rusqlite::types::ValueRef::Blob(b) => inflate(b).unwrap_or_else(|| text(b)),
                    _ => continue,
                };
                values.push((format!("{table}.{column}"), value));
            }
        }
    }
    values
}

fn traces<'a>(values: &'a [(String, String)], needle: &str) -> Vec<&'a (String, String)> {
    let needle = needle.to_ascii_lowercase();
    values
        .iter()
        .filter(|(_, v)| v.to_ascii_lowercase().contains(&needle))
        .collect()
}

async fn error_project(app: &TestApp) -> (i64, String) {
    let trail = Trail::load_or_create(&app.dir.path().join("data")).unwrap();
    let projects = Projects::new(app.store.clone(), app.clock.clone(), trail);
    projects
        .add("shop", "python", &Actioned::system())
        .await
        .unwrap()
}

async fn send_event(app: &TestApp, project: i64, key: &str, event: Value) {
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{event}\n");
    let res = app
        .client
        .post(app.at(&format!("/api/{project}/envelope/?sentry_key={key}")))
        .header("content-type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Ann, with a name, a session from `ANN_IP`, an API token, a failed login
/// from `ANN_OTHER_IP`, a probe from `ANN_IP`, and two error events; Bob in
/// one error event. Returns Ann's id, her browser and her token.
async fn ann_everywhere(app: &TestApp, admin: &Browser) -> (i64, Browser, String) {
    let res = admin
        .api(
            Method::POST,
            "/api/v1/users",
            json!({ "email": ANN, "name": ANN_NAME, "role": "viewer", "password": ANN_PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let elsewhere = Browser::from_ip(app, ANN_OTHER_IP);
    assert_eq!(
        elsewhere
            .login(ANN, "not her password at all")
            .await
            .status(),
        401
    );
    let ann = Browser::from_ip(app, ANN_IP);
    assert_eq!(ann.login(ANN, ANN_PASSWORD).await.status(), 303);
    let res = ann
        .api(
            Method::POST,
            "/api/v1/tokens",
            json!({ "name": "laptop", "scope": "read" }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ann.get("/.env").await.status(), 404);
    crate::threats::eventually("the probe is recorded", || {
        !db_rows(
            app,
            &format!("SELECT id FROM security_events WHERE ip = '{ANN_IP}'"),
        )
        .is_empty()
    })
    .await;

    let (project, key) = error_project(app).await;
    send_event(
        app,
        project,
        &key,
        json!({"message": "checkout failed", "user": {"email": ANN, "ip_address": ANN_IP, "username": "annabel"}}),
    )
    .await;
    send_event(
        app,
        project,
        &key,
        json!({"message": format!("refund for {ANN} failed"), "user": {"id": "7", "ip_address": ANN_IP}}),
    )
    .await;
    send_event(
        app,
        project,
        &key,
        json!({"message": "fine", "user": {"email": BOB}}),
    )
    .await;
    (id, ann, token)
}

#[tokio::test]
async fn erasing_a_person_leaves_no_trace_in_any_table_and_the_trail_verifies() {
    let (app, admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        account_rules_only(c);
    })
    .await;
    let (id, ann, token) = ann_everywhere(&app, &admin).await;
    let before = every_text_value(&app.db_path());
    for needle in [ANN, ANN_NAME, ANN_IP, ANN_OTHER_IP] {
        assert!(
            !traces(&before, needle).is_empty(),
            "{needle} is stored before"
        );
    }

    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/erase"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["user_id"], id);
    assert_eq!(erased["sessions"], 1);
    assert_eq!(erased["api_tokens"], 1);
    assert_eq!(erased["ips_found"], 2, "{erased}");
    assert_eq!(erased["error_items"], 2, "{erased}");
    assert!(erased["audit_rows"].as_i64().unwrap() >= 3, "{erased}");
    assert!(erased["security_events"].as_i64().unwrap() >= 1, "{erased}");

    let after = every_text_value(&app.db_path());
    for needle in [ANN, ANN_NAME, ANN_IP, ANN_OTHER_IP] {
        assert_eq!(
            traces(&after, needle),
            Vec::<&(String, String)>::new(),
            "{needle}"
        );
    }
    assert!(
        !traces(&after, BOB).is_empty(),
        "other people's events are untouched"
    );
    assert!(
        !traces(&after, ADMIN_EMAIL).is_empty(),
        "the admin is still there"
    );
    assert_eq!(
        db_rows(
            &app,
            &format!("SELECT email, disabled FROM users WHERE id = {id}")
        ),
        vec![vec![format!("erased-{id}@invalid"), "1".to_string()]]
    );

    // The session and the token are dead.
    assert_eq!(ann.get("/api/v1/me").await.status(), 401);
    let with_token = app
        .client
        .get(app.at("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 401);

    // Recorded by user id, with counts, never the address.
    let rows = db_rows(
        &app,
        "SELECT target, details, coalesce(pii_details, '') FROM audit_trail WHERE action = 'user.erased'",
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], format!("user:{id}"));
    assert!(
        rows[0][1].contains("\"api_access_revoked\":1"),
        "{}",
        rows[0][1]
    );
    assert!(!rows[0].concat().contains(ANN));

    let verified = watchpost(&app.dir.path().join("data"), &["trail", "verify"]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stdout)
    );
    assert!(text(&verified.stdout).starts_with("audit trail intact"));
}

#[tokio::test]
async fn with_ip_erasure_off_security_events_keep_the_addresses() {
    let (app, admin) = app_with_admin_and(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.privacy.erase_ips_in_security_events = false;
        account_rules_only(c);
    })
    .await;
    let (id, _, _) = ann_everywhere(&app, &admin).await;
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/erase"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["ips_erased"], false);
    assert_eq!(erased["security_events"], 0);
    let after = every_text_value(&app.db_path());
    assert!(traces(&after, ANN).is_empty(), "{:?}", traces(&after, ANN));
    assert!(traces(&after, ANN_NAME).is_empty());
    assert!(
        traces(&after, ANN_IP)
            .iter()
            .all(|(column, _)| column.starts_with("security_events.")),
        "{:?}",
        traces(&after, ANN_IP)
    );
    assert!(!traces(&after, ANN_IP).is_empty());
}

#[tokio::test]
async fn the_page_asks_for_the_email_again_and_refuses_oneself_and_unknown_ids() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let id = crate::browser::add_user(&admin, ANN, "viewer", ANN_PASSWORD).await;
    let page = admin.get("/users").await.text().await.unwrap();
    assert!(page.contains(&format!("action=\"/users/{id}/erase\"")));
    let csrf = csrf_in(&page).unwrap();

    let res = admin
        .post_form(
            &format!("/users/{id}/erase"),
            &[("csrf", &csrf), ("confirm", "someone@example.com")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Nothing was erased"));
    assert!(!db_rows(&app, &format!("SELECT id FROM users WHERE email = '{ANN}'")).is_empty());

    let res = admin
        .post_form(
            &format!("/users/{id}/erase"),
            &[("csrf", &csrf), ("confirm", &ANN.to_uppercase())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "/users?done=erased"
    );
    assert!(db_rows(&app, &format!("SELECT id FROM users WHERE email = '{ANN}'")).is_empty());
    assert_eq!(crate::browser::audit_rows(&app, "user.erased").len(), 1);

    let me = admin.me().await["id"].as_i64().unwrap();
    let own = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{me}/erase"),
            json!({}),
        )
        .await;
    assert_eq!(own.status(), 409);
    let unknown = admin
        .api(Method::POST, "/api/v1/users/9999/erase", json!({}))
        .await;
    assert_eq!(unknown.status(), 404);

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/users/{id}/erase"]["post"].is_object());
}

#[tokio::test]
async fn the_cli_erases_by_email_and_refuses_an_unknown_one() {
    let (app, admin) = app_with_admin_and(|_| {}).await;
    let id = crate::browser::add_user(&admin, ANN, "viewer", ANN_PASSWORD).await;
    let ann = Browser::new(&app);
    assert_eq!(ann.login(ANN, ANN_PASSWORD).await.status(), 303);
    let data = app.dir.path().join("data");

    let unknown = watchpost(&data, &["user", "erase", "nobody@example.com"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("No account has the email nobody@example.com"),
        "{}",
        text(&unknown.stderr)
    );

    let done = watchpost(&data, &["user", "erase", ANN]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        text(&done.stdout).contains(&format!("erased user #{id}")),
        "{}",
        text(&done.stdout)
    );
    assert!(!text(&done.stdout).contains(ANN));
    assert_eq!(ann.get("/api/v1/me").await.status(), 401);
    assert!(traces(&every_text_value(&app.db_path()), ANN).is_empty());
    let rows = db_rows(
        &app,
        "SELECT actor_kind, target FROM audit_trail WHERE action = 'user.erased'",
    );
    assert_eq!(rows, vec![vec!["cli".to_string(), format!("user:{id}")]]);
    let verified = watchpost(&data, &["trail", "verify"]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stdout)
    );
}

/// A ban in force on an address the person used is lifted by the erasure:
/// the gate lets the address through again within a sync, and the firewall
/// unban command gets the address (kept only in memory: the database no
/// longer has it).
#[tokio::test]
async fn erasing_a_person_lifts_a_ban_on_their_address() {
    let dir = tempfile::tempdir().unwrap();
    let unbanned = dir.path().join("unbanned");
    let script = format!("echo \"$0\" >> {}", unbanned.display());
    let (app, admin) = app_with_admin_and(move |c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.threats.on_unban_command = vec!["sh".into(), "-c".into(), script.clone()];
        account_rules_only(c);
    })
    .await;
    let (id, _, _) = ann_everywhere(&app, &admin).await;
    let res = admin
        .api(
            Method::POST,
            "/api/v1/bans",
            json!({ "ip": ANN_OTHER_IP, "for": "4h", "reason": "manual" }),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let from_there = Browser::from_ip(&app, ANN_OTHER_IP);
    assert_eq!(from_there.get("/login").await.status(), 403, "banned");
    // The `ban.created` event still waits in memory (events are written in
    // batches every 2 s); the erasure writes it first, then erases it.

    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/users/{id}/erase"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["ip_bans"], 1);

    crate::alerts::eventually_async("the ban is lifted", || async {
        from_there.get("/login").await.status() == 200
    })
    .await;
    crate::threats::eventually("the unban command ran with the address", || {
        std::fs::read_to_string(&unbanned).is_ok_and(|t| t.lines().any(|l| l == ANN_OTHER_IP))
    })
    .await;
    // Gone from the security data. (The admin's own `ip.banned` row in the
    // audit trail keeps its target: targets are part of the hash chain.)
    let after = every_text_value(&app.db_path());
    let left: Vec<_> = traces(&after, ANN_OTHER_IP)
        .into_iter()
        .filter(|(column, _)| column != "audit_trail.target")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
