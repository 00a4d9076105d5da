//! Layer 4: the security headers of DESIGN §6 on every response, errors
//! included. A strict CSP (no inline script or style), no framing, no
//! sniffing, same-origin isolation; HSTS only when Watchpost itself serves
//! HTTPS. A Content-Security-Policy a handler set deliberately is left as it is.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;

use crate::http::HttpSettings;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Built at compile time: each response only clones static bytes.
static HEADERS: [(HeaderName, HeaderValue); 7] = [
    header("content-security-policy", CONTENT_SECURITY_POLICY),
    header("x-content-type-options", "nosniff"),
    header("x-frame-options", "DENY"),
    header("referrer-policy", "strict-origin-when-cross-origin"),
    header("cross-origin-opener-policy", "same-origin"),
    header("cross-origin-resource-policy", "same-origin"),
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

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tls = req.app_data::<Data<HttpSettings>>().is_some_and(|s| s.tls);
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let extra = tls.then_some(&HSTS);
    for (i, (name, value)) in HEADERS.iter().chain(extra).enumerate() {
        // Only a CSP is ever set by a handler (a page that needs more); the
        // other headers are Watchpost's alone, so they skip the lookup.
        if i > 0 || !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    Ok(res)
}
