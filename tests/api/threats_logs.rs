//! The host's logs as threat sources: nginx access lines and sshd failures
//! from files, fed to the same detectors, resumed after a restart without
//! re-reading, and an unreadable source reported.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::browser::*;
use crate::helpers::{TestApp, spawn_app_in, test_config};
use crate::threats::{bans_of, db_rows, eventually};
use watchpost::threats::LogSource;

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn nginx(ip: &str, path: &str, status: u16, ua: &str) -> String {
    format!(
        r#"{ip} - - [02/Dec/2026:10:00:00 +0000] "GET {path} HTTP/1.1" {status} 153 "-" "{ua}" 0.002"#
    )
}

fn sshd(ip: &str, user: &str) -> String {
    format!(
        "Dec  2 10:00:00 web1 sshd[4242]: Failed password for invalid user {user} from {ip} port 52113 ssh2"
    )
}

async fn app_watching(dir: &Path, sources: Vec<LogSource>) -> TestApp {
    let mut config = test_config(dir);
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(watchpost::config::Secret::new(ADMIN_PASSWORD));
    config.threats.log_sources = sources;
    spawn_app_in(config).await
}

fn source(id: &str, kind: &str, path: &Path) -> LogSource {
    LogSource {
        id: id.into(),
        kind: kind.into(),
        path: Some(path.to_string_lossy().into_owned()),
        format: None,
    }
}

#[tokio::test]
async fn nginx_probes_and_sshd_failures_ban_their_senders() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let auth = dir.path().join("auth.log");
    std::fs::write(
        &access,
        nginx("198.51.100.1", "/old-history", 404, "curl") + "\n",
    )
    .unwrap();
    std::fs::write(&auth, "").unwrap();
    let app = app_watching(
        dir.path(),
        vec![
            source("nginx-main", "nginx", &access),
            source("auth-log", "sshd", &auth),
        ],
    )
    .await;
    eventually("the watchers start", || {
        db_rows(&app, "SELECT COUNT(*) FROM log_positions") == [["2"]]
    })
    .await;
    let probes: Vec<String> = ["/.env", "/.git/config", "/wp-config.php", "/db.sql"]
        .iter()
        .map(|p| nginx("198.51.100.7", p, 404, "Mozilla/5.0"))
        .collect();
    append(&access, &probes);
    append(
        &auth,
        &(0..4)
            .map(|i| sshd("203.0.113.77", &format!("user{i}")))
            .collect::<Vec<_>>(),
    );
    eventually("the nginx prober is banned", || {
        !bans_of(&app, "198.51.100.7").is_empty()
    })
    .await;
    assert_eq!(bans_of(&app, "198.51.100.7")[0][2], "nginx-main");
    assert!(
        bans_of(&app, "198.51.100.1").is_empty(),
        "history before the start is not replayed"
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        bans_of(&app, "203.0.113.77").is_empty(),
        "four sshd failures stay under five"
    );
    append(&auth, &[sshd("203.0.113.77", "oracle")]);
    eventually("the ssh guesser is banned", || {
        !bans_of(&app, "203.0.113.77").is_empty()
    })
    .await;
    assert_eq!(bans_of(&app, "203.0.113.77")[0][1], "ssh_bruteforce");

    let admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    eventually("the failures are counted", || {
        db_rows(&app, "SELECT SUM(count) FROM ssh_failures") == [["5"]]
    })
    .await;
    let summary: Value = admin
        .get("/api/v1/security/summary")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(summary["ssh_total"], 5);
    assert_eq!(summary["ssh_ips"][0]["name"], "203.0.113.77");
    let sources = summary["sources"].as_array().unwrap();
    assert!(sources.iter().all(|s| s["state"] == "ok"), "{sources:?}");
    let page = admin.get("/security").await.text().await.unwrap();
    assert!(page.contains("oracle") && page.contains("nginx-main"));
}

#[tokio::test]
async fn a_restart_resumes_where_reading_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth.log");
    std::fs::write(&auth, "").unwrap();
    let sources = vec![source("auth-log", "sshd", &auth)];
    let app = app_watching(dir.path(), sources.clone()).await;
    eventually("the watcher starts", || {
        !db_rows(&app, "SELECT 1 FROM log_positions").is_empty()
    })
    .await;
    append(
        &auth,
        &(0..3)
            .map(|i| sshd("203.0.113.88", &format!("u{i}")))
            .collect::<Vec<_>>(),
    );
    eventually("three failures are read", || {
        db_rows(&app, "SELECT SUM(count) FROM ssh_failures") == [["3"]]
    })
    .await;
    let data = app.stop().await;
    drop(data);

    append(
        &auth,
        &(0..2)
            .map(|i| sshd("203.0.113.88", &format!("v{i}")))
            .collect::<Vec<_>>(),
    );
    let again = app_watching(dir.path(), sources).await;
    eventually("the two lines written while down are read", || {
        db_rows(&again, "SELECT SUM(count) FROM ssh_failures") == [["5"]]
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        db_rows(&again, "SELECT SUM(count) FROM ssh_failures"),
        [["5"]],
        "nothing is read twice"
    );
}

#[tokio::test]
async fn an_unreadable_source_is_reported_on_the_page_and_in_health() {
    let dir = tempfile::tempdir().unwrap();
    // A directory cannot be read as a log, whoever runs the test.
    let odd = dir.path().join("not-a-file.log");
    std::fs::create_dir(&odd).unwrap();
    let app = app_watching(dir.path(), vec![source("odd", "nginx", &odd)]).await;
    let admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut last = Value::Null;
    for _ in 0..50 {
        let summary: Value = admin
            .get("/api/v1/security/summary")
            .await
            .json()
            .await
            .unwrap();
        last = summary["sources"][0].clone();
        if last["state"] == "error" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["state"], "error", "{last}");
    let health: Value = admin.get("/health/detail").await.json().await.unwrap();
    assert_eq!(health["log_sources"][0]["id"], "odd");
    assert_eq!(health["log_sources"][0]["state"], "error", "{health}");
}
