//! Log lines: one line per event whatever the input, and no secrets.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{log_lines_with, log_text, spawn_app};

#[tokio::test]
async fn hostile_paths_and_user_agents_give_exactly_one_json_line() {
    let app = spawn_app().await;
    // CR, LF and quotes cannot travel raw in an HTTP/1.1 request line or header,
    // so they arrive percent-encoded in the path and as quotes/tabs in the agent.
    let request = "GET /x%0D%0A%22injected%22%0A{\"level\":\"ERROR\"}?q=%0d%0a HTTP/1.1\r\n\
                   Host: localhost\r\n\
                   X-Request-Id: hostile-line-1\r\n\
                   User-Agent: evil\"agent\t{\"level\":\"ERROR\",\"message\":\"forged\"}\r\n\
                   Connection: close\r\n\r\n";
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 404"));

    let lines = log_lines_with("hostile-line-1").await;
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "watchpost::access")
        .collect();
    assert_eq!(access.len(), 1, "{lines:?}");
    assert!(
        access[0]["path"]
            .as_str()
            .unwrap()
            .starts_with("/x%0D%0A%22injected%22")
    );
    assert_eq!(
        access[0]["user_agent"],
        "evil\"agent\t{\"level\":\"ERROR\",\"message\":\"forged\"}"
    );
    assert_eq!(access[0]["route"], "unmatched");
    assert_eq!(access[0]["status"], 404);
    assert!(access[0]["duration_us"].as_u64().is_some());
    let raw = log_text().await;
    assert!(
        !raw.lines()
            .any(|l| l.starts_with("{\"level\":\"ERROR\",\"message\":\"forged\""))
    );
    app.stop().await;
}

#[tokio::test]
async fn secret_query_values_and_credentials_never_reach_the_log() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.at("/health?token=tok-SUPERSECRET-1&password=pw-SUPERSECRET-2&page=3"))
        .header("x-request-id", "redaction-check-1")
        .header("authorization", "Bearer bearer-SUPERSECRET-3")
        .header("cookie", "session=cookie-SUPERSECRET-4")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let lines = log_lines_with("redaction-check-1").await;
    let access = lines
        .iter()
        .find(|l| l["target"] == "watchpost::access")
        .unwrap();
    assert_eq!(
        access["path"],
        "/health?token=[redacted]&password=[redacted]&page=3"
    );
    assert_eq!(access["route"], "/health");
    let raw = log_text().await;
    assert!(
        !raw.contains("SUPERSECRET"),
        "a secret reached the log file"
    );
    app.stop().await;
}

#[tokio::test]
async fn recent_lines_and_level_counts_are_readable_in_process() {
    let app = spawn_app().await;
    app.client
        .get(app.at("/health"))
        .header("x-request-id", "ring-check-1")
        .send()
        .await
        .unwrap();
    log_lines_with("ring-check-1").await;
    assert!(
        watchpost::telemetry::recent_lines()
            .iter()
            .any(|l| l.contains("ring-check-1"))
    );
    assert!(watchpost::telemetry::level_counts().info > 0);
    app.stop().await;
}
