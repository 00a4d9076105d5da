//! Layer 3: one log line per request, after the response: client IP, method,
//! route *pattern* (`/assets/{path:.*}`, so lines group by route), the raw
//! path capped at 512 characters with secret query values redacted, status,
//! duration in µs, response bytes and the user agent capped at 256
//! characters. Authorization headers and cookies are never read here. The
//! line is written through `telemetry::emit` — the same outputs as every
//! event — borrowing from the request instead of copying it.

use std::borrow::Cow;
use std::future::{self, Ready};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::{Error, HttpMessage};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;
use tracing::Level;

use crate::http::client_ip::ClientIp;
use crate::redact;
use crate::telemetry::{self, FieldValue};

const TARGET: &str = "watchpost::access";
const MAX_PATH: usize = 512;
const MAX_USER_AGENT: usize = 256;

/// The middleware; see the module documentation.
pub struct AccessLog;

impl<S, B> Transform<S, ServiceRequest> for AccessLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = AccessLogService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(AccessLogService { service }))
    }
}

pub struct AccessLogService<S> {
    service: S,
}

/// When the request came in; stored only when access lines are wanted.
struct Started(Instant);

impl<S, B> Service<ServiceRequest> for AccessLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = MapOk<S::Future, fn(ServiceResponse<B>) -> ServiceResponse<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if tracing::enabled!(target: TARGET, Level::INFO) {
            req.extensions_mut().insert(Started(Instant::now()));
        }
        self.service.call(req).map_ok(log_response)
    }
}

fn log_response<B: MessageBody>(res: ServiceResponse<B>) -> ServiceResponse<B> {
    let started = res.request().extensions().get::<Started>().map(|s| s.0);
    if let Some(started) = started {
        log(&res, started);
    }
    res
}

fn log(res: &ServiceResponse<impl MessageBody>, started: Instant) {
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
}

/// `text` cut to `max` characters, marked with `…` when cut.
fn cap(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => text,
    }
}
