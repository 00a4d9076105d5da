//! Layer 3: one log line per request, after the response: client IP, method,
//! route *pattern* (`/assets/{path:.*}`, so lines group by route), the raw
//! path capped at 512 characters with secret query values redacted, status,
//! duration in µs, response bytes and the user agent capped at 256
//! characters. Authorization headers and cookies are never read here. The
//! line is written through `telemetry::emit` — the same outputs as every
//! event — borrowing from the request instead of copying it.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use tracing::Level;

use crate::http::client_ip::ClientIp;
use crate::redact;
use crate::telemetry::{self, FieldValue};

const TARGET: &str = "watchpost::access";
const MAX_PATH: usize = 512;
const MAX_USER_AGENT: usize = 256;

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !tracing::enabled!(target: TARGET, Level::INFO) {
        return next.call(req).await;
    }
    let started = Instant::now();
    let res = next.call(req).await?;
    let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let req = res.request();
    let raw = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| cap(String::from_utf8_lossy(v.as_bytes()), MAX_USER_AGENT))
        .unwrap_or_default();
    let client_ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let route = req
        .match_pattern()
        .map_or(Cow::Borrowed("unmatched"), Cow::Owned);
    let bytes = match res.response().body().size() {
        BodySize::Sized(n) => n,
        BodySize::None | BodySize::Stream => 0,
    };
    telemetry::emit(
        Level::INFO,
        TARGET,
        "request",
        vec![
            ("client_ip", FieldValue::Text(Cow::Owned(client_ip))),
            (
                "method",
                FieldValue::Text(Cow::Borrowed(req.method().as_str())),
            ),
            ("route", FieldValue::Text(route)),
            (
                "path",
                FieldValue::Text(cap(redact::redact_query(raw), MAX_PATH)),
            ),
            (
                "status",
                FieldValue::Unsigned(u64::from(res.status().as_u16())),
            ),
            ("duration_us", FieldValue::Unsigned(duration_us)),
            ("bytes", FieldValue::Unsigned(bytes)),
            ("user_agent", FieldValue::Text(user_agent)),
        ],
    );
    Ok(res)
}

/// `text` cut to `max` characters, marked with `…` when cut.
fn cap(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => text,
    }
}
