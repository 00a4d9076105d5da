//! The HTTP platform: security headers, request ids, error rendering, assets,
//! body limits, trusted proxies.

use crate::helpers::{assert_security_headers, log_lines_with, spawn_app, spawn_app_with};

/// Makes the home page fail for real: its table disappears under it.
fn break_the_instance_table(app: &crate::helpers::TestApp) {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute_batch("DROP TABLE instance").unwrap();
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (app, admin) = crate::browser::app_with_admin().await;
    let ok = admin.get("/").await;
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok);
    assert!(
        ok.headers().get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing);

    let too_big = app
        .client
        .post(app.at("/"))
        .body(vec![b'x'; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    assert_security_headers(&too_big);

    let head = app.client.head(app.at("/health")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_security_headers(&head);

    break_the_instance_table(&app);
    let failed = admin.get("/").await;
    assert_eq!(failed.status(), 500);
    assert_security_headers(&failed);
    app.stop().await;
}

#[tokio::test]
async fn a_server_error_is_opaque_shows_the_request_id_and_is_logged_once() {
    let (app, admin) = crate::browser::app_with_admin().await;
    break_the_instance_table(&app);
    let res = admin
        .send(reqwest::Method::GET, "/", |r| {
            r.header("x-request-id", "forced-500-check")
        })
        .await;
    assert_eq!(res.status(), 500);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("forced-500-check"),
        "the page shows the request id"
    );
    assert!(
        !body.contains("no such table") && !body.to_lowercase().contains("sqlite"),
        "no internals: {body}"
    );

    let lines = log_lines_with("forced-500-check").await;
    let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "the cause is logged once: {lines:?}");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("no such table"),
        "the log keeps the cause"
    );
    app.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_generated_or_replaced() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.at("/health"))
        .header("x-request-id", "abc-123.DEF_9")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123.DEF_9");

    let generated = app.get("/health").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let uuid = uuid::Uuid::parse_str(&id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 7);

    for bad in ["has space", "semi;colon", &"a".repeat(65)] {
        let res = app
            .client
            .get(app.at("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let got = res.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(got, bad);
        assert!(
            uuid::Uuid::parse_str(got).is_ok(),
            "a malformed id is replaced by a fresh one"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn errors_are_json_under_api_and_html_elsewhere() {
    let app = spawn_app().await;
    let api = app.get("/api/v1/nothing-here").await;
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()["content-type"], "application/json");
    let id = api.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["request_id"], id.as_str());
    assert!(body["error"].as_str().unwrap().contains("Nothing is here"));

    let page = app.get("/nothing-here").await;
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<!doctype html>") && html.contains("404"));

    let big = app
        .client
        .post(app.at("/api/v1/anything"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let body: serde_json::Value = big.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn body_limits_follow_the_configuration() {
    let app = spawn_app_with(|c| c.server.body_limit.pages = bytesize::ByteSize::b(100)).await;
    let res = app
        .client
        .post(app.at("/"))
        .body(vec![b'x'; 101])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = app
        .client
        .post(app.at("/"))
        .body(vec![b'x'; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "within the limit the request reaches routing (no POST route here)"
    );
    app.stop().await;
}

#[tokio::test]
async fn assets_have_etags_and_answer_304_when_unchanged() {
    let app = spawn_app().await;
    let first = app.get("/assets/app.css").await;
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() > 10);

    let again = app
        .client
        .get(app.at("/assets/app.css"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_security_headers(&again);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app
        .client
        .get(app.at("/assets/app.css"))
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    assert_eq!(app.get("/assets/nope.css").await.status(), 404);
    assert_eq!(app.get("/assets/../Cargo.toml").await.status(), 404);
    app.stop().await;
}

async fn logged_client_ip(
    app: &crate::helpers::TestApp,
    marker: &str,
    forwarded_for: &str,
) -> String {
    app.client
        .get(app.at("/health"))
        .header("x-request-id", marker)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap();
    let lines = log_lines_with(marker).await;
    let access = lines
        .iter()
        .find(|l| l["target"] == "watchpost::access")
        .expect("an access line");
    access["client_ip"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let untrusted = spawn_app().await;
    assert_eq!(
        logged_client_ip(&untrusted, "xff-untrusted-1", "203.0.113.9").await,
        "127.0.0.1"
    );
    untrusted.stop().await;

    let behind_proxy =
        spawn_app_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    assert_eq!(
        logged_client_ip(&behind_proxy, "xff-trusted-1", "203.0.113.9").await,
        "203.0.113.9"
    );
    assert_eq!(
        logged_client_ip(&behind_proxy, "xff-trusted-2", "198.51.100.1, 203.0.113.7").await,
        "203.0.113.7",
        "the right-most untrusted hop, not whatever the client put first"
    );
    behind_proxy.stop().await;
}

#[tokio::test]
async fn https_is_served_with_hsts_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let app = spawn_app_with(|c| {
        c.server.tls.cert = Some(cert_path.clone());
        c.server.tls.key = Some(key_path.clone());
    })
    .await;
    assert!(app.url.starts_with("https://"), "{}", app.url);
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = trusting
        .get(format!("https://localhost:{}/health", app.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_security_headers(&res);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains",
        "HSTS only over HTTPS"
    );
    let plain = reqwest::get(format!("http://127.0.0.1:{}/health", app.addr.port())).await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "no plain HTTP on the TLS port"
    );
    app.stop().await;
}
