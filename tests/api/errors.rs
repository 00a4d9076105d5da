//! The Sentry-compatible ingest fast path over HTTP: each of the three
//! places a key may be, the refusals SDKs understand (400, 401, 403, 413,
//! never 500), compression and caps, unknown items skipped and counted,
//! CORS for browsers, and items committed before the answer.

use std::io::{Read, Write};

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::threats::{db_rows, eventually};
use watchpost::audit_trail::{Actioned, Trail};
use watchpost::errors::projects::Projects;

const EVENT_ID: &str = "9ec79c33ec9942ab8353589fcb2e04dc";

pub async fn project(app: &TestApp, name: &str) -> (i64, String) {
    let trail = Trail::load_or_create(&app.dir.path().join("data")).unwrap();
    let projects = Projects::new(app.store.clone(), app.clock.clone(), trail);
    projects
        .add(name, "python", &Actioned::system())
        .await
        .unwrap()
}

fn envelope(extra_header: &str) -> Vec<u8> {
    format!(
        "{{\"event_id\":\"{EVENT_ID}\"{extra_header}}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\",\"level\":\"error\"}}\n{{\"type\":\"profile_chunk\"}}\n{{}}\n"
    )
    .into_bytes()
}

/// The stored (scrubbed) JSON of an event.
pub fn stored_event(app: &TestApp, event_id: &str) -> Value {
    let hex = db_rows(
        app,
        &format!("SELECT hex(payload) FROM error_events WHERE event_id = '{event_id}'"),
    )[0][0]
        .clone();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut json = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .read_to_string(&mut json)
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

async fn post(app: &TestApp, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
    let mut req = app.client.post(app.at(path)).body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_envelope_is_committed_and_answered_with_its_event_id() {
    let app = spawn_app().await;
    let (id, key) = project(&app, "Shop").await;
    let path = format!("/api/{id}/envelope/?sentry_key={key}&sentry_version=7");
    let (status, body) = post(
        &app,
        &path,
        &[
            ("content-encoding", "gzip"),
            ("content-type", "application/x-sentry-envelope"),
        ],
        gzip(&envelope("")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], EVENT_ID);
    // Committed before the answer: still waiting, or already digested.
    let rows = db_rows(
        &app,
        "SELECT event_id, kind FROM error_items UNION ALL SELECT event_id, 'event' FROM error_events",
    );
    assert_eq!(rows, [[EVENT_ID, "event"]], "the unknown item is not kept");
    eventually("the event is digested", || {
        db_rows(&app, "SELECT count(*) FROM error_events")[0][0] == "1"
    })
    .await;
    let stored = stored_event(&app, EVENT_ID);
    assert_eq!(
        (stored["message"].as_str(), stored["event_id"].as_str()),
        (Some("boom"), Some(EVENT_ID))
    );
    assert_eq!(
        db_rows(&app, "SELECT kind, count FROM error_skipped"),
        [["profile_chunk", "1"]]
    );

    // The header and the envelope's dsn authenticate too.
    let auth =
        format!("Sentry sentry_version=7, sentry_client=sentry.python/2.19.0, sentry_key={key}");
    let (status, _) = post(
        &app,
        &format!("/api/{id}/envelope/"),
        &[("x-sentry-auth", &auth)],
        envelope(""),
    )
    .await;
    assert_eq!(status, 200);
    let dsn = format!(",\"dsn\":\"http://{key}@127.0.0.1/{id}\"");
    let (status, _) = post(&app, &format!("/api/{id}/envelope/"), &[], envelope(&dsn)).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &app,
        &format!("/api/{id}/store/?sentry_key={key}"),
        &[],
        format!(
            "{{\"event_id\":\"{}\",\"message\":\"legacy\"}}",
            "a".repeat(32)
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(
        (status, body["id"].as_str()),
        (200, Some("a".repeat(32).as_str()))
    );
    assert_eq!(
        db_rows(
            &app,
            "SELECT (SELECT COUNT(*) FROM error_items) + (SELECT COUNT(*) FROM error_events)"
        ),
        [["4"]]
    );
}

/// A path, headers, body, the status wanted and what the detail must say.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

#[tokio::test]
async fn refusals_say_why_in_the_form_sdks_expect() {
    let app = spawn_app().await;
    let (id, key) = project(&app, "Shop").await;
    let (other, other_key) = project(&app, "Blog").await;
    let with_key = |k: &str| format!("/api/{id}/envelope/?sentry_key={k}");
    let cases: Vec<Case> = vec![
        (
            format!("/api/{id}/envelope/"),
            vec![],
            envelope(""),
            401,
            "sentry_key",
        ),
        (
            with_key(&"0".repeat(32)),
            vec![],
            envelope(""),
            403,
            "not an active key",
        ),
        (
            with_key(&other_key),
            vec![],
            envelope(""),
            403,
            "not an active key",
        ),
        (
            with_key("short"),
            vec![],
            envelope(""),
            403,
            "not an active key",
        ),
        (with_key(&key), vec![], b"[1,2]\n".to_vec(), 400, "header"),
        (
            with_key(&key),
            vec![],
            b"{}\n{\"type\":\"event\",\"length\":99}\n{}".to_vec(),
            400,
            "length",
        ),
        (
            "/api/abc/envelope/".into(),
            vec![],
            envelope(""),
            400,
            "integer",
        ),
        (
            with_key(&key),
            vec![("content-encoding", "gzip")],
            b"plain".to_vec(),
            400,
            "gzip",
        ),
        (
            with_key(&key),
            vec![("content-encoding", "lzma")],
            envelope(""),
            400,
            "not supported",
        ),
        (
            with_key(&key),
            vec![("content-encoding", "gzip")],
            gzip(&vec![b' '; 30 << 20]),
            413,
            "more than",
        ),
        (
            with_key(&key),
            vec![("content-encoding", "gzip")],
            gzip(
                format!(
                    "{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{}\"}}\n",
                    "x".repeat(2 << 20)
                )
                .as_bytes(),
            ),
            413,
            "at most",
        ),
    ];
    for (path, headers, body, want, says) in cases {
        let (status, answer) = post(&app, &path, &headers, body).await;
        assert_eq!(status, want, "{path} {headers:?}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap_or("").contains(says),
            "{says}: {answer}"
        );
    }
    assert_eq!(
        db_rows(&app, "SELECT COUNT(*) FROM error_items"),
        [["0"]],
        "nothing refused is kept"
    );
    let _ = other;
}

#[tokio::test]
async fn browsers_get_cors_answers() {
    let app = spawn_app().await;
    let (id, key) = project(&app, "Front").await;
    let res = app
        .client
        .request(Method::OPTIONS, app.at(&format!("/api/{id}/envelope/")))
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(
        res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("X-Sentry-Auth")
    );
    let res = app
        .client
        .post(app.at(&format!("/api/{id}/envelope/?sentry_key={key}")))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(envelope(""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}
