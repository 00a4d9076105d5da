//! Layer 1: every request gets an id. A well-formed incoming `X-Request-Id`
//! (1–64 characters of letters, digits, `.`, `_`, `-`) is kept so ids follow a
//! request through proxies; anything else is replaced by a fresh UUIDv7. The id
//! is echoed in the response and attached to every log line of the request.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

pub fn is_well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_well_formed(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = crate::telemetry::in_request(id.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::is_well_formed;

    #[test]
    fn only_short_plain_ids_are_accepted() {
        assert!(is_well_formed("0192f6a2-7b1c-7c3d-9e4f-a1b2c3d4e5f6"));
        assert!(is_well_formed("abc.DEF_123"));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed("bad id"));
        assert!(!is_well_formed("x\r\ny"));
        assert!(!is_well_formed(&"a".repeat(65)));
    }
}
