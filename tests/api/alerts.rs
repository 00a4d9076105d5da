//! Alerting end to end: a check goes down and a loopback webhook receiver
//! gets one signed firing notification, then one resolved; a failing
//! receiver is retried with backoff and dead-lettered; a notification
//! queued before a restart is delivered after it, once, with its key;
//! viewers read, admins silence and test channels.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::browser::{Browser, app_with_admin_and, audit_rows, viewer};
use crate::checks::{create, run};
use crate::helpers::{TestApp, spawn_app_in, test_config};
use crate::targets::{HttpTarget, Reply};
use crate::threats::{db_rows, eventually};
use watchpost::alerts::{ChannelConfig, RuleConfig};
use watchpost::config::{Config, Secret};

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A loopback HTTP receiver that records every request and answers with
/// the status it is set to.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<u16>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            got: Arc::default(),
            status: Arc::new(Mutex::new(200)),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.lines();
                    let path = lines
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or("")
                        .to_string();
                    let headers = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                        .collect();
                    r.got.lock().unwrap().push(Received {
                        path,
                        headers,
                        body: buf[head_end..].to_vec(),
                    });
                    let status = *r.status.lock().unwrap();
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        receiver
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }
}

const SECRET: &str = "an-outbound-signing-secret";

/// Alerting at a 1 s tick, one signed webhook channel and one rule that
/// fires as soon as a check is down; no default rules, so only it speaks.
fn alerting(config: &mut Config, receiver: &Receiver, secret_file: &std::path::Path) {
    std::fs::write(secret_file, SECRET).unwrap();
    config.alerts.evaluate_every = "1s".into();
    config.alerts.default_rules = false;
    config.alerts.max_attempts = 2;
    config.alerts.channels.push(ChannelConfig {
        id: "ops-hook".into(),
        kind: "webhook".into(),
        url: Some(Secret::new(receiver.url.clone())),
        secret_file: Some(secret_file.to_path_buf()),
        ..ChannelConfig::default()
    });
    config.alerts.rules.push(RuleConfig {
        id: "site-down".into(),
        kind: "check_down".into(),
        severity: Some("critical".into()),
        runbook: Some("https://wiki.example.com/site".into()),
        channels: vec!["ops-hook".into()],
        ..RuleConfig::default()
    });
}

async fn down_check(admin: &Browser, target: &HttpTarget) {
    target.set(Reply {
        status: 500,
        ..Reply::default()
    });
    create(
        admin,
        json!({"id": "site", "name": "Site", "kind": "http", "url": target.url("/"), "interval": "1h", "fail_after": 1}),
    )
    .await;
    run(admin, "site").await;
}

pub async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[tokio::test]
async fn a_down_check_fires_once_signed_and_resolves_once() {
    let receiver = Receiver::start().await;
    let target = HttpTarget::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| alerting(c, &receiver, &secret_file)).await;
    down_check(&admin, &target).await;
    eventually("the firing notification arrives", || {
        !receiver.got().is_empty()
    })
    .await;
    // Several more evaluations while it stays down send nothing more.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "one notification per firing: {got:?}");
    let firing = &got[0];
    assert_eq!(firing.path, "/hook");
    let body = firing.json();
    assert_eq!(body["rule"], "site-down");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["subject"], "check:site");
    assert_eq!(body["runbook"], "https://wiki.example.com/site");
    assert!(body["summary"].as_str().unwrap().contains("Site is down"));
    assert!(body["started_at"].as_str().unwrap().ends_with('Z'));
    let key = body["idempotency_key"].as_str().unwrap();
    assert_eq!(firing.header("idempotency-key"), Some(key));
    // The signature is the inbound hooks' scheme over "<timestamp>.<body>".
    let ts: i64 = firing
        .header("x-watchpost-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        firing.header("x-watchpost-signature"),
        Some(watchpost::http::signature::sign(SECRET.as_bytes(), ts, &firing.body).as_str())
    );

    // The preview says whether a rule would fire now, and why.
    let preview = |def: Value| {
        let admin = &admin;
        async move {
            let res = admin.api(Method::POST, "/api/v1/alerts/preview", def).await;
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, slow) =
        preview(json!({"id": "p", "kind": "check_down", "checks": ["site"], "for": "1h"})).await;
    assert_eq!(status, 200);
    assert_eq!(slow[0]["subject"], "check:site");
    assert_eq!(slow[0]["active"], true);
    assert_eq!(slow[0]["would_fire"], false);
    assert!(slow[0]["why"].as_str().unwrap().contains("`for`"));
    let (_, now) =
        preview(json!({"id": "site-down", "kind": "check_down", "checks": ["site"]})).await;
    assert_eq!(now[0]["would_fire"], true);
    assert_eq!(now[0]["phase"], "firing");
    let (status, _) = preview(json!({"id": "p", "kind": "check_gone"})).await;
    assert_eq!(status, 400);
    let (status, _) = preview(json!({"id": "p", "kind": "check_down", "colour": "red"})).await;
    assert_eq!(status, 400, "unknown fields are refused");
    let rule_page = admin
        .get("/alerts/rules/site-down")
        .await
        .text()
        .await
        .unwrap();
    assert!(rule_page.contains("Would it fire now?") && rule_page.contains("check:site"));
    assert_eq!(admin.get("/alerts/rules/nope").await.status(), 404);

    target.set(Reply::default());
    run(&admin, "site").await;
    eventually("the resolved notification arrives", || {
        receiver.got().len() == 2
    })
    .await;
    let resolved = receiver.got()[1].json();
    assert_eq!(resolved["summary"], "Site is up");
    assert_eq!(resolved["status"], "resolved");
    assert_ne!(resolved["idempotency_key"], body["idempotency_key"]);
    let events: Vec<String> = db_rows(
        &app,
        "SELECT event FROM alert_events WHERE rule_id = 'site-down' ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(
        events,
        [
            "pending", "firing", "notified", "inactive", "resolved", "notified"
        ]
    );
    let page = admin.get("/alerts").await.text().await.unwrap();
    assert!(
        page.contains("site-down") && page.contains("Delivery log"),
        "{page}"
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_dead_lettered_and_can_be_retried() {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let target = HttpTarget::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| alerting(c, &receiver, &secret_file)).await;
    down_check(&admin, &target).await;
    eventually("a first attempt", || receiver.got().len() == 1).await;
    let queued = db_rows(
        &app,
        "SELECT status, attempts, last_error FROM alert_outbox",
    );
    assert_eq!(
        queued,
        [[
            "queued",
            "1",
            "the receiver answered 500 Internal Server Error"
        ]]
    );
    // The backoff holds the next attempt back until its time comes.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(receiver.got().len(), 1, "no retry before the backoff");
    app.clock.advance(Duration::from_secs(10));
    eventually("the second attempt", || receiver.got().len() == 2).await;
    let got = receiver.got();
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key")
    );
    let dead = admin.get("/api/v1/alerts/notifications?status=dead").await;
    let dead: Value = dead.json().await.unwrap();
    assert_eq!(
        dead.as_array().unwrap().len(),
        1,
        "max_attempts = 2: {dead}"
    );
    assert_eq!(dead[0]["attempts"], 2);
    let page = admin.get("/alerts").await.text().await.unwrap();
    assert!(page.contains("Undelivered") && page.contains("answered 500"));

    receiver.answer(200);
    let id = dead[0]["id"].as_i64().unwrap();
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/alerts/notifications/{id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    eventually("the retried delivery", || receiver.got().len() == 3).await;
    eventually_async("it is marked sent", || async {
        db_rows(&app, "SELECT status FROM alert_outbox") == [["sent"]]
    })
    .await;
    let res = admin
        .api(
            Method::POST,
            &format!("/api/v1/alerts/notifications/{id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 404, "only a dead letter is retried");
    assert_eq!(
        db_rows(
            &app,
            "SELECT COUNT(*) FROM audit_trail WHERE action = 'alert.delivery_retried'"
        ),
        [["1"]]
    );
}

#[tokio::test]
async fn a_notification_queued_before_a_restart_is_delivered_once_after_it() {
    let receiver = Receiver::start().await;
    let target = HttpTarget::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("hook-secret");
    let mut config = test_config(dir.path());
    config.admin_email = Some(crate::browser::ADMIN_EMAIL.into());
    config.admin_password = Some(Secret::new(crate::browser::ADMIN_PASSWORD));
    alerting(&mut config, &receiver, &secret_file);
    // The receiver is unreachable at first: point the channel at a closed port.
    let closed = crate::targets::closed_port().await;
    config.alerts.channels[0].url = Some(Secret::new(format!("http://{closed}/hook")));
    config.alerts.max_attempts = 10;
    let app = spawn_app_in(config.clone()).await;
    let admin = Browser::new(&app);
    admin
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    down_check(&admin, &target).await;
    eventually("a failed attempt", || {
        db_rows(&app, "SELECT attempts FROM alert_outbox") == [["1"]]
    })
    .await;
    let key = db_rows(&app, "SELECT idempotency_key FROM alert_outbox")[0][0].clone();
    drop(admin);
    let kept: TestApp = app;
    let _dir = kept.stop().await;

    config.alerts.channels[0].url = Some(Secret::new(receiver.url.clone()));
    let again = spawn_app_in(config).await;
    again.clock.advance(Duration::from_secs(60));
    eventually("the delivery after the restart", || {
        !receiver.got().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    assert_eq!(got[0].header("idempotency-key"), Some(key.as_str()));
    assert_eq!(
        db_rows(&again, "SELECT status FROM alert_outbox"),
        [["sent"]],
        "no second notification was queued for the same firing"
    );
}

/// A loopback SMTP server that accepts every mail and keeps its text.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = mails.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = tokio::io::BufReader::new(read);
                let _ = write.write_all(b"220 localhost ESMTP test\r\n").await;
                let mut data: Option<String> = None;
                let mut line = String::new();
                loop {
                    line.clear();
                    if tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line)
                        .await
                        .unwrap_or(0)
                        == 0
                    {
                        return;
                    }
                    if let Some(text) = data.as_mut() {
                        if line == ".\r\n" {
                            kept.lock().unwrap().push(std::mem::take(text));
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            text.push_str(&line);
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

#[tokio::test]
async fn an_email_channel_mails_the_notification_with_its_key_as_message_id() {
    let (port, mails) = smtp_server().await;
    let target = HttpTarget::start().await;
    let (app, admin) = app_with_admin_and(|c| {
        c.alerts.evaluate_every = "1s".into();
        c.alerts.default_rules = false;
        c.alerts.channels.push(ChannelConfig {
            id: "mail".into(),
            kind: "email".into(),
            smtp_host: Some("127.0.0.1".into()),
            smtp_port: Some(port),
            tls: Some("none".into()),
            from: Some("Watchpost <watchpost@example.com>".into()),
            to: vec!["ops@example.com".into()],
            ..ChannelConfig::default()
        });
        c.alerts.rules.push(RuleConfig {
            id: "site-down".into(),
            kind: "check_down".into(),
            ..RuleConfig::default()
        });
    })
    .await;
    down_check(&admin, &target).await;
    eventually("the mail arrives", || !mails.lock().unwrap().is_empty()).await;
    let mail = mails.lock().unwrap()[0].clone();
    let key = db_rows(&app, "SELECT idempotency_key FROM alert_outbox")[0][0].clone();
    assert!(mail.contains("Subject: [FIRING] site-down"), "{mail}");
    assert!(mail.contains("To: ops@example.com"), "{mail}");
    assert!(
        mail.contains(&format!("Message-ID: <{key}@watchpost>")),
        "{mail}"
    );
    assert!(mail.contains("Site is down"), "{mail}");
    let overview: Value = admin.get("/api/v1/alerts").await.json().await.unwrap();
    assert_eq!(
        overview["channels"][0]["target"],
        format!("smtp://127.0.0.1:{port}")
    );
}

#[tokio::test]
async fn perf_and_trail_rules_fire_from_stored_minutes_and_a_tampered_trail() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| {
        alerting(c, &receiver, &secret_file);
        c.alerts.rules = vec![
            RuleConfig {
                id: "slow-sources".into(),
                kind: "perf_p95".into(),
                route: Some("/api/v1/perf/sources".into()),
                value: Some(0.0),
                min_requests: Some(5),
                ..RuleConfig::default()
            },
            RuleConfig {
                id: "trail".into(),
                kind: "trail_broken".into(),
                ..RuleConfig::default()
            },
        ];
    })
    .await;
    for _ in 0..5 {
        admin.get("/api/v1/perf/sources").await;
    }
    app.clock.advance(Duration::from_secs(60));
    eventually("the p95 rule fires", || {
        receiver
            .got()
            .iter()
            .any(|r| r.json()["rule"] == "slow-sources")
    })
    .await;
    let note = receiver
        .got()
        .into_iter()
        .map(|r| r.json())
        .find(|n| n["rule"] == "slow-sources")
        .unwrap();
    assert_eq!(note["subject"], "route:self GET /api/v1/perf/sources");
    assert!(
        note["summary"]
            .as_str()
            .unwrap()
            .contains("over 5 requests"),
        "{note}"
    );
    assert!(
        !receiver.got().iter().any(|r| r.json()["rule"] == "trail"),
        "the trail verifies"
    );
    // A changed row breaks the chain; the next hourly verification says so.
    // (An attacker with the file can drop the append-only trigger.)
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_trail_only_erasure;
         UPDATE audit_trail SET action = 'login.forged' WHERE id = 1;",
    )
    .unwrap();
    app.clock.advance(Duration::from_secs(3_601));
    eventually("the trail rule fires", || {
        receiver.got().iter().any(|r| r.json()["rule"] == "trail")
    })
    .await;
}

#[tokio::test]
async fn an_admin_login_from_a_new_address_fires_and_a_known_one_does_not() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, _admin) = app_with_admin_and(|c| {
        alerting(c, &receiver, &secret_file);
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.alerts.rules = vec![RuleConfig {
            id: "new-admin-ip".into(),
            kind: "new_admin_ip".into(),
            ..RuleConfig::default()
        }];
    })
    .await;
    // The first login (from 127.0.0.1) is every admin's baseline; again from there is known.
    let again = Browser::new(&app);
    again
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(receiver.got().is_empty(), "a known address is quiet");
    let elsewhere = Browser::from_ip(&app, "198.51.100.7");
    let res = elsewhere
        .login(crate::browser::ADMIN_EMAIL, crate::browser::ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    eventually("the new-address alert", || !receiver.got().is_empty()).await;
    let note = receiver.got()[0].json();
    assert_eq!(note["rule"], "new-admin-ip");
    assert!(
        note["summary"].as_str().unwrap().contains("198.51.100.7"),
        "{note}"
    );
}

#[tokio::test]
async fn admins_make_change_and_delete_rules_and_channels_and_config_ones_are_read_only() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| {
        alerting(c, &receiver, &secret_file);
        c.alerts.default_rules = true;
    })
    .await;
    let v = viewer(&app, &admin).await;
    let url = format!("{}/second", receiver.url);
    let channel =
        json!({"id": "hook2", "kind": "webhook", "url": url, "secret": "hook2-signing-secret"});
    assert_eq!(
        v.api(Method::POST, "/api/v1/alerts/channels", channel.clone())
            .await
            .status(),
        403
    );
    let res = admin
        .api(Method::POST, "/api/v1/alerts/channels", channel.clone())
        .await;
    assert_eq!(res.status(), 201);
    let made = res.text().await.unwrap();
    assert!(
        made.contains("http://127.0.0.1")
            && !made.contains("hook2-signing-secret")
            && !made.contains("/second"),
        "{made}"
    );
    let sealed = db_rows(
        &app,
        "SELECT hex(sealed) FROM alert_channels WHERE id = 'hook2'",
    );
    let plain = String::from_utf8_lossy(&hex_decode(&sealed[0][0])).to_string();
    assert!(
        !plain.contains("hook2-signing-secret") && !plain.contains("/second"),
        "sealed at rest"
    );
    assert_eq!(
        admin
            .api(Method::POST, "/api/v1/alerts/channels", channel)
            .await
            .status(),
        409
    );
    for (bad, says) in [
        (
            json!({"id": "f", "kind": "webhook", "url": "http://127.0.0.1/x", "secret_file": "/etc/shadow"}),
            "configuration file",
        ),
        (
            json!({"id": "bad id", "kind": "slack", "url": "https://hooks.example.com/x"}),
            "letters",
        ),
        (json!({"id": "p", "kind": "pager"}), "not a channel kind"),
    ] {
        let res = admin
            .api(Method::POST, "/api/v1/alerts/channels", bad)
            .await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }

    let rule = json!({"id": "api-down", "kind": "check_down", "channels": ["hook2"], "for": "1m"});
    assert_eq!(
        v.api(Method::POST, "/api/v1/alerts/rules", rule.clone())
            .await
            .status(),
        403
    );
    let res = admin
        .api(Method::POST, "/api/v1/alerts/rules", rule.clone())
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    assert_eq!(
        (made["for_s"].as_i64(), made["origin"].as_str()),
        (Some(60), Some("ui"))
    );
    assert_eq!(
        admin
            .api(Method::POST, "/api/v1/alerts/rules", rule)
            .await
            .status(),
        409
    );
    for (bad, says) in [
        (json!({"id": "x", "kind": "check_gone"}), "not a rule kind"),
        (
            json!({"id": "x", "kind": "check_down", "channels": ["nope"]}),
            "not a channel",
        ),
        (
            json!({"id": "x", "kind": "check_down", "for": "soon"}),
            "for",
        ),
    ] {
        let res = admin.api(Method::POST, "/api/v1/alerts/rules", bad).await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    let res = admin
        .api(
            Method::PUT,
            "/api/v1/alerts/rules/api-down",
            json!({"kind": "check_down", "severity": "critical", "channels": ["hook2"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = admin
        .api(
            Method::PUT,
            "/api/v1/alerts/rules/site-down",
            json!({"kind": "check_down"}),
        )
        .await;
    assert_eq!(res.status(), 409, "a rule from the file is read-only here");
    assert!(res.text().await.unwrap().contains("configuration file"));
    let res = admin
        .api(
            Method::PUT,
            "/api/v1/alerts/rules/check-down",
            json!({"kind": "check_down", "for": "5m"}),
        )
        .await;
    assert_eq!(res.status(), 200, "a default rule is editable");
    let res = admin
        .api(
            Method::PUT,
            "/api/v1/alerts/rules/nope",
            json!({"kind": "check_down"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let overview: Value = admin.get("/api/v1/alerts").await.json().await.unwrap();
    let rule_of = |id: &str| {
        overview["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(rule_of("api-down")["severity"], "critical");
    assert_eq!(rule_of("check-down")["for_s"], 300);
    assert_eq!(rule_of("site-down")["origin"], "config");

    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/alerts/channels/hook2", json!({}))
            .await
            .status(),
        409,
        "api-down sends to it"
    );
    assert_eq!(
        admin
            .api(
                Method::DELETE,
                "/api/v1/alerts/channels/ops-hook",
                json!({})
            )
            .await
            .status(),
        409,
        "from the file"
    );
    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/alerts/rules/disk-full", json!({}))
            .await
            .status(),
        409,
        "a default is turned off, not deleted"
    );
    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/alerts/rules/api-down", json!({}))
            .await
            .status(),
        204
    );
    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/alerts/rules/api-down", json!({}))
            .await
            .status(),
        404
    );
    assert_eq!(
        admin
            .api(Method::DELETE, "/api/v1/alerts/channels/hook2", json!({}))
            .await
            .status(),
        204
    );

    // The form previews without saving, then saves.
    let fields = [
        ("id", "form-rule"),
        ("kind", "check_down"),
        ("enabled", "on"),
        ("for", "2m"),
        ("severity", "info"),
        ("preview", "1"),
    ];
    let res = admin
        .submit("/alerts/rules/new", "/alerts/rules", &fields)
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Would it fire now?"));
    assert_eq!(
        db_rows(
            &app,
            "SELECT COUNT(*) FROM alert_rules WHERE id = 'form-rule'"
        ),
        [["0"]]
    );
    let res = admin
        .submit("/alerts/rules/new", "/alerts/rules", &fields[..5])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        db_rows(
            &app,
            "SELECT origin FROM alert_rules WHERE id = 'form-rule'"
        ),
        [["ui"]]
    );
    let res = admin
        .submit(
            "/alerts/rules/new",
            "/alerts/rules",
            &[("id", "bad"), ("kind", "check_down"), ("for", "soon")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The rule was not saved"));
    let actions: Vec<String> = db_rows(
        &app,
        "SELECT action FROM audit_trail WHERE action LIKE 'alert.%' ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(
        actions,
        [
            "alert.channel_created",
            "alert.rule_created",
            "alert.rule_changed",
            "alert.rule_changed",
            "alert.rule_deleted",
            "alert.channel_deleted",
            "alert.rule_created"
        ]
    );
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn slack_discord_ntfy_and_telegram_get_their_own_requests() {
    let receiver = Receiver::start().await;
    let base = receiver.url.trim_end_matches("/hook").to_string();
    let (app, admin) = app_with_admin_and(|c| {
        c.alerts.default_rules = false;
        let channel = |id: &str, kind: &str, url: String| ChannelConfig {
            id: id.into(),
            kind: kind.into(),
            url: Some(Secret::new(url)),
            ..ChannelConfig::default()
        };
        c.alerts.channels = vec![
            channel("slack", "slack", format!("{base}/slack/T000/B000/XXXX")),
            channel("discord", "discord", format!("{base}/discord/123/abc")),
            ChannelConfig {
                tags: vec!["warning".into()],
                ..channel("ntfy", "ntfy", format!("{base}/ntfy/team-alerts"))
            },
            ChannelConfig {
                bot_token: Some(Secret::new("123456:ABC-token")),
                chat_id: Some("-1001".into()),
                ..channel("telegram", "telegram", base.clone())
            },
        ];
    })
    .await;
    let _ = &app;
    for id in ["slack", "discord", "ntfy", "telegram"] {
        let res = admin
            .api(
                Method::POST,
                &format!("/api/v1/alerts/channels/{id}/test"),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 202);
    }
    eventually("four requests", || receiver.got().len() == 4).await;
    let got = receiver.got();
    let at = |prefix: &str| {
        got.iter()
            .find(|r| r.path.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let slack = at("/slack/T000/B000/XXXX");
    assert!(
        slack.json()["text"]
            .as_str()
            .unwrap()
            .contains("A test notification")
    );
    let discord = at("/discord/123/abc");
    assert!(
        discord.json()["content"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] test")
    );
    let ntfy = at("/ntfy/team-alerts");
    assert_eq!(ntfy.header("title"), Some("[FIRING] test"));
    assert_eq!(ntfy.header("priority"), Some("3"), "info severity");
    assert_eq!(ntfy.header("tags"), Some("warning"));
    assert!(String::from_utf8_lossy(&ntfy.body).contains("A test notification"));
    let telegram = at("/bot123456:ABC-token/sendMessage");
    assert_eq!(telegram.json()["chat_id"], "-1001");
    assert!(
        telegram.json()["text"]
            .as_str()
            .unwrap()
            .contains("A test notification")
    );
    for r in &got {
        assert!(r.header("idempotency-key").is_some(), "{r:?}");
    }
}

#[tokio::test]
async fn a_burst_over_the_rate_limit_goes_as_one_digest() {
    let receiver = Receiver::start().await;
    let target = HttpTarget::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| {
        alerting(c, &receiver, &secret_file);
        c.alerts.rate_limit_per_minute = 2;
    })
    .await;
    target.set(Reply {
        status: 500,
        ..Reply::default()
    });
    for i in 0..5 {
        create(
            &admin,
            json!({"id": format!("site{i}"), "name": format!("Site {i}"), "kind": "http", "url": target.url("/"), "interval": "1h", "fail_after": 1}),
        )
        .await;
    }
    for i in 0..5 {
        run(&admin, &format!("site{i}")).await;
    }
    // Should the five have been split over two evaluations, what waits for
    // the next minute goes out once it starts.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.clock.advance(Duration::from_secs(61));
    eventually("the notifications go out", || {
        db_rows(
            &app,
            "SELECT COUNT(*) FROM alert_outbox WHERE status = 'sent'",
        ) == [["5"]]
    })
    .await;
    let got = receiver.got();
    let notes: usize = got
        .iter()
        .map(|r| {
            let body = r.json();
            if body["digest"] == true {
                body["notifications"].as_array().unwrap().len()
            } else {
                1
            }
        })
        .sum();
    assert_eq!(notes, 5, "nothing lost: {got:?}");
    assert!(
        got.len() <= 3,
        "at most 2 single requests and then digests: {}",
        got.len()
    );
    assert!(
        got.iter().any(|r| r.json()["digest"] == true),
        "a digest was sent"
    );
}

#[tokio::test]
async fn viewers_read_and_admins_silence_and_test_channels() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| alerting(c, &receiver, &secret_file)).await;
    let v = viewer(&app, &admin).await;
    let overview: Value = v.get("/api/v1/alerts").await.json().await.unwrap();
    assert_eq!(overview["rules"][0]["id"], "site-down");
    assert_eq!(overview["channels"][0]["target"], "http://127.0.0.1");
    assert!(
        !overview.to_string().contains("/hook"),
        "a channel's URL path is never shown"
    );
    assert_eq!(v.get("/alerts").await.status(), 200);
    let silence = json!({"rule_id": "site-down", "minutes": 30, "comment": "deploying"});
    let res = v
        .api(Method::POST, "/api/v1/alerts/silences", silence.clone())
        .await;
    assert_eq!(res.status(), 403);
    let res = v
        .api(
            Method::POST,
            "/api/v1/alerts/channels/ops-hook/test",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 403);

    for (bad, says) in [
        (json!({"minutes": 0, "comment": "x"}), "minutes"),
        (json!({"minutes": 5, "comment": ""}), "comment"),
        (
            json!({"rule_id": "nope", "minutes": 5, "comment": "x"}),
            "not a rule",
        ),
        (
            json!({"label": "team", "minutes": 5, "comment": "x"}),
            "name=value",
        ),
        (json!({"minutes": "soon"}), "JSON"),
    ] {
        let res = admin
            .api(Method::POST, "/api/v1/alerts/silences", bad)
            .await;
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }
    let res = admin
        .api(Method::POST, "/api/v1/alerts/silences", silence)
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let listed: Value = v.get("/api/v1/alerts/silences").await.json().await.unwrap();
    assert_eq!(listed[0]["comment"], "deploying");
    let id = made["id"].as_i64().unwrap();
    let end = format!("/api/v1/alerts/silences/{id}/end");
    assert_eq!(admin.api(Method::POST, &end, json!({})).await.status(), 204);
    assert_eq!(admin.api(Method::POST, &end, json!({})).await.status(), 404);

    let res = admin
        .api(
            Method::POST,
            "/api/v1/alerts/channels/ops-hook/test",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    eventually("the test notification arrives", || {
        !receiver.got().is_empty()
    })
    .await;
    assert!(
        receiver.got()[0].json()["summary"]
            .as_str()
            .unwrap()
            .contains("test notification")
    );
    let res = admin
        .api(Method::POST, "/api/v1/alerts/channels/nope/test", json!({}))
        .await;
    assert_eq!(res.status(), 404);
    let actions = db_rows(
        &app,
        "SELECT action FROM audit_trail WHERE action LIKE 'alert.%' ORDER BY id",
    );
    assert_eq!(
        actions,
        [
            ["alert.silenced"],
            ["alert.silence_ended"],
            ["alert.channel_tested"]
        ]
    );
    let bad = admin.get("/api/v1/alerts/notifications?status=lost").await;
    assert_eq!(bad.status(), 400);
    // The page's form makes a silence too.
    let res = admin
        .submit(
            "/alerts",
            "/alerts/silences",
            &[
                ("rule_id", "site-down"),
                ("minutes", "15"),
                ("comment", "from the form"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = admin.get("/alerts").await.text().await.unwrap();
    assert!(page.contains("from the form"), "{page}");
    let res = admin
        .submit(
            "/alerts",
            "/alerts/silences",
            &[("minutes", "soon"), ("comment", "x")],
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_new_high_security_audit_finding_fires_the_audit_finding_rule() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (_app, admin) = app_with_admin_and(|c| {
        alerting(c, &receiver, &secret_file);
        c.alerts.rules = vec![RuleConfig {
            id: "audit".into(),
            kind: "audit_finding".into(),
            ..RuleConfig::default()
        }];
    })
    .await;
    // The test configuration does not require 2FA for admins: a high finding.
    let res = admin
        .api(Method::POST, "/api/v1/security/audit/run", Value::Null)
        .await;
    assert_eq!(res.status(), 200);
    let subject = "audit:config.admin_2fa_not_required";
    eventually("the audit finding alert", || {
        receiver
            .got()
            .iter()
            .any(|r| r.json()["rule"] == "audit" && r.json()["subject"] == subject)
    })
    .await;
    let note = receiver
        .got()
        .into_iter()
        .map(|r| r.json())
        .find(|n| n["subject"] == subject)
        .unwrap();
    assert_eq!(note["status"], "firing", "{note}");
    assert!(
        note["summary"]
            .as_str()
            .unwrap()
            .contains("new high finding"),
        "{note}"
    );
}

/// The signature a test notification to `receiver` carries, checked
/// against `secret`.
fn signed_with(got: &Received, secret: &str) -> bool {
    let ts: i64 = got
        .header("x-watchpost-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    got.header("x-watchpost-signature")
        == Some(watchpost::http::signature::sign(secret.as_bytes(), ts, &got.body).as_str())
}

async fn put(who: &Browser, id: &str, body: Value) -> reqwest::Response {
    who.api(Method::PUT, &format!("/api/v1/alerts/channels/{id}"), body)
        .await
}

/// Sends a test notification on `channel` and returns what `receiver` got.
async fn test_notification(admin: &Browser, receiver: &Receiver, channel: &str) -> Received {
    let before = receiver.got().len();
    let path = format!("/api/v1/alerts/channels/{channel}/test");
    assert_eq!(
        admin.api(Method::POST, &path, json!({})).await.status(),
        202
    );
    eventually("the test notification arrives", || {
        receiver.got().len() > before
    })
    .await;
    receiver.got()[before].clone()
}

#[tokio::test]
async fn admins_edit_a_channel_and_secrets_left_empty_are_kept() {
    let receiver = Receiver::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook-secret");
    let (app, admin) = app_with_admin_and(|c| alerting(c, &receiver, &secret_file)).await;
    let url = format!("{}/team", receiver.url);
    let channel =
        json!({"id": "team", "kind": "webhook", "url": url, "secret": "first-signing-secret"});
    let res = admin
        .api(Method::POST, "/api/v1/alerts/channels", channel)
        .await;
    assert_eq!(res.status(), 201);
    let rule = json!({"id": "team-down", "kind": "check_down", "channels": ["team"]});
    let res = admin.api(Method::POST, "/api/v1/alerts/rules", rule).await;
    assert_eq!(res.status(), 201);

    // A new secret, the URL left out: the URL is kept.
    let v = viewer(&app, &admin).await;
    let change = json!({"secret": "second-signing-secret"});
    assert_eq!(put(&v, "team", change.clone()).await.status(), 403);
    let res = put(&admin, "team", change).await;
    assert_eq!(res.status(), 200);
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("\"target\":\"http://127.0.0.1\"") && !shown.contains("signing"),
        "{shown}"
    );
    let got = test_notification(&admin, &receiver, "team").await;
    assert_eq!(got.path, "/hook/team", "the URL was kept");
    assert!(signed_with(&got, "second-signing-secret"));
    assert!(
        !audit_rows(&app, "alert.channel_updated").is_empty(),
        "the change is audited"
    );

    // An empty change keeps both secrets; the rule still names the channel.
    assert_eq!(put(&admin, "team", json!({})).await.status(), 200);
    let got = test_notification(&admin, &receiver, "team").await;
    assert_eq!(got.path, "/hook/team");
    assert!(signed_with(&got, "second-signing-secret"));
    let overview: Value = admin.get("/api/v1/alerts").await.json().await.unwrap();
    assert!(
        overview["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "team-down")
    );

    for (id, body, status, says) in [
        ("team", json!({"kind": "email"}), 400, "stays one"),
        (
            "team",
            json!({"secret_file": "/etc/shadow"}),
            400,
            "configuration file",
        ),
        ("team", json!({"url": "not a url"}), 400, "url"),
        ("ops-hook", json!({}), 409, "configuration file"),
        ("nope", json!({}), 404, ""),
    ] {
        let res = put(&admin, id, body).await;
        assert_eq!(res.status(), status, "{id}");
        assert!(res.text().await.unwrap().contains(says), "{says}");
    }

    // The form: secrets are never shown, only whether they are set.
    let page = admin.get("/alerts/channels/team/edit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("set — leave empty to keep"), "{html}");
    assert!(!html.contains("second-signing-secret") && !html.contains("/hook/team"));
    assert_eq!(v.get("/alerts/channels/team/edit").await.status(), 403);
    assert_eq!(
        admin.get("/alerts/channels/ops-hook/edit").await.status(),
        409
    );
    let new_url = format!("{}/moved", receiver.url);
    let res = admin
        .submit(
            "/alerts/channels/team/edit",
            "/alerts/channels/team",
            &[("url", &new_url)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let got = test_notification(&admin, &receiver, "team").await;
    assert_eq!(got.path, "/hook/moved");
    assert!(
        signed_with(&got, "second-signing-secret"),
        "the secret was kept"
    );
    let res = admin
        .submit(
            "/alerts/channels/team/edit",
            "/alerts/channels/team",
            &[("url", "nowhere")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The channel was not saved")
    );
    assert!(
        admin
            .get("/alerts")
            .await
            .text()
            .await
            .unwrap()
            .contains("/alerts/channels/team/edit")
    );
}
