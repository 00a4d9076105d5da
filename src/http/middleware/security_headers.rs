//! Layer 4: the security headers of DESIGN §6 on every response, errors
//! included. A strict CSP (no inline script or style), no framing, no
//! sniffing, same-origin isolation; HSTS only when Watchpost itself serves
//! HTTPS. Two headers only mean something to a document a browser renders —
//! `X-Frame-Options` (older browsers' `frame-ancestors`) and
//! `Permissions-Policy` — so they go with HTML responses only; JSON, assets
//! and `/health` stay shorter. The headers are Watchpost's alone: they
//! replace any a handler set.

use std::future::{self, Ready};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;

/// Scripts, styles, fonts and connections fall back to `default-src 'self'`;
/// naming them again would only lengthen every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// On every response. Built at compile time: each response only clones
/// static bytes.
static HEADERS: [(HeaderName, HeaderValue); 5] = [
    header("content-security-policy", CONTENT_SECURITY_POLICY),
    header("x-content-type-options", "nosniff"),
    header("referrer-policy", "strict-origin-when-cross-origin"),
    header("cross-origin-opener-policy", "same-origin"),
    header("cross-origin-resource-policy", "same-origin"),
];

/// On HTML responses too.
static DOCUMENT_HEADERS: [(HeaderName, HeaderValue); 2] = [
    header("x-frame-options", "DENY"),
    header(
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    ),
];

static HSTS: (HeaderName, HeaderValue) = header(
    "strict-transport-security",
    "max-age=63072000; includeSubDomains",
);

const fn header(name: &'static str, value: &'static str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// The middleware; see the module documentation.
pub struct SecurityHeaders {
    hsts: bool,
}

impl SecurityHeaders {
    /// `tls`: whether Watchpost itself serves HTTPS, and so sends HSTS.
    pub fn new(tls: bool) -> Self {
        SecurityHeaders { hsts: tls }
    }

    /// Whether responses carry `Strict-Transport-Security` (the security
    /// audit checks this against the configuration).
    pub fn sends_hsts(&self) -> bool {
        self.hsts
    }
}

impl<S, B> Transform<S, ServiceRequest> for SecurityHeaders
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = SecurityHeadersService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(SecurityHeadersService {
            service,
            hsts: self.hsts,
        }))
    }
}

pub struct SecurityHeadersService<S> {
    service: S,
    hsts: bool,
}

impl<S, B> Service<ServiceRequest> for SecurityHeadersService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = MapOk<S::Future, fn(ServiceResponse<B>) -> ServiceResponse<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let add: fn(_) -> _ = if self.hsts {
            add_headers_and_hsts
        } else {
            add_headers
        };
        self.service.call(req).map_ok(add)
    }
}

fn add_headers<B>(res: ServiceResponse<B>) -> ServiceResponse<B> {
    with_headers(res, None)
}

fn add_headers_and_hsts<B>(res: ServiceResponse<B>) -> ServiceResponse<B> {
    with_headers(res, Some(&HSTS))
}

fn with_headers<B>(
    mut res: ServiceResponse<B>,
    extra: Option<&(HeaderName, HeaderValue)>,
) -> ServiceResponse<B> {
    let headers = res.headers_mut();
    let document = headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let for_documents = if document { &DOCUMENT_HEADERS[..] } else { &[] };
    for (name, value) in HEADERS.iter().chain(for_documents).chain(extra) {
        headers.insert(name.clone(), value.clone());
    }
    res
}
