//! Layer 3: one log line per request, after the response: client IP, method,
//! route *pattern* (`/assets/{path:.*}`, so lines group by route), the raw
//! path capped at 512 characters with secret query values redacted, status,
//! duration in µs, response bytes and the user agent capped at 256
//! characters. Authorization headers and cookies are never read here. The
//! line is written through `telemetry::emit` — the same outputs as every
//! event — borrowing from the request instead of copying it. Every response
//! is also handed to the request statistics (`http::stats`).

use std::borrow::Cow;
use std::future::{self, Ready};
use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use futures_util::FutureExt;
use futures_util::future::{self as future_util, Join, Map};
use tracing::Level;

use crate::http::client_ip::ClientIp;
use crate::http::stats::{Finished, RequestStats};
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

impl<S, B> Service<ServiceRequest> for AccessLogService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Map<Join<S::Future, Ready<Instant>>, fn(Joined<B>) -> Outcome<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        // Joined with a ready value, the start time rides along to the
        // response in the future itself: no box, no request extension.
        future_util::join(self.service.call(req), future::ready(started)).map(log_response)
    }
}

type Outcome<B> = Result<ServiceResponse<B>, Error>;
/// The inner service's outcome and when the request came in.
type Joined<B> = (Outcome<B>, Instant);

fn log_response<B: MessageBody>((outcome, started): Joined<B>) -> Outcome<B> {
    let res = outcome?;
    let elapsed = started.elapsed();
    let req = res.request();
    let pattern = req.match_pattern();
    if let Some(stats) = req.app_data::<Data<dyn RequestStats>>() {
        stats.record(&Finished {
            route: pattern.as_deref().unwrap_or("unmatched"),
            method: req.method().as_str(),
            status: res.status().as_u16(),
            elapsed,
            request: req,
        });
    }
    if tracing::enabled!(target: TARGET, Level::INFO) {
        log(&res, elapsed, pattern);
    }
    Ok(res)
}

fn log(
    res: &ServiceResponse<impl MessageBody>,
    elapsed: std::time::Duration,
    pattern: Option<String>,
) {
    let duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let req = res.request();
    let raw = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| cap(String::from_utf8_lossy(v.as_bytes()), MAX_USER_AGENT))
        .unwrap_or_default();
    let mut ip_buffer = [0; 15];
    let client_ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| ip_text(c.0, &mut ip_buffer))
        .unwrap_or_default();
    let route = pattern.map_or(Cow::Borrowed("unmatched"), Cow::Owned);
    let bytes = match res.response().body().size() {
        BodySize::Sized(n) => n,
        BodySize::None | BodySize::Stream => 0,
    };
    let mut fields = [
        ("client_ip", FieldValue::Text(client_ip)),
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
    ];
    telemetry::emit(Level::INFO, TARGET, "request", &mut fields);
}

/// The address as text. IPv4 is written digit by digit into `buffer`:
/// through `Display` it would cost more than all the other fields together.
fn ip_text(ip: IpAddr, buffer: &mut [u8; 15]) -> Cow<'_, str> {
    let IpAddr::V4(v4) = ip else {
        return Cow::Owned(ip.to_string());
    };
    let mut len = 0;
    let mut put = |byte: u8| {
        buffer[len] = byte;
        len += 1;
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            put(b'.');
        }
        if octet >= 100 {
            put(b'0' + octet / 100);
        }
        if octet >= 10 {
            put(b'0' + octet / 10 % 10);
        }
        put(b'0' + octet % 10);
    }
    Cow::Borrowed(std::str::from_utf8(&buffer[..len]).unwrap_or_default())
}

/// `text` cut to `max` characters, marked with `…` when cut.
fn cap(text: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.100.255",
            "203.0.113.9",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip, &mut [0; 15]), ip.to_string());
        }
    }
}
