//! Layer 1: every request gets an id. A well-formed incoming `X-Request-Id`
//! (1–64 characters of letters, digits, `.`, `_`, `-`) is kept so ids follow a
//! request through proxies; anything else is replaced by a fresh UUIDv7. The id
//! is echoed in the response and attached to every log line of the request.
//! This layer never rejects a request.

use std::future::{self, Ready};
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;

use crate::telemetry::{self, InRequest};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, shared (not copied) by the layers, the log lines and
/// the handlers that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Rc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn is_well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The incoming id if well-formed, else a fresh UUIDv7, formatted into a
/// stack buffer rather than through `Display`.
fn request_id(req: &ServiceRequest) -> Rc<str> {
    if let Some(value) = req.headers().get(&REQUEST_ID_HEADER)
        && let Ok(id) = value.to_str()
        && is_well_formed(id)
    {
        return Rc::from(id);
    }
    let mut buffer = uuid::Uuid::encode_buffer();
    Rc::from(&*uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer))
}

/// The middleware; see the module documentation.
pub struct AssignRequestId;

impl<S, B> Transform<S, ServiceRequest> for AssignRequestId
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = AssignRequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(AssignRequestIdService { service }))
    }
}

pub struct AssignRequestIdService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for AssignRequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = MapOk<InRequest<S::Future>, fn(ServiceResponse<B>) -> ServiceResponse<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = request_id(&req);
        req.extensions_mut().insert(RequestId(id.clone()));
        telemetry::in_request(id, self.service.call(req)).map_ok(echo)
    }
}

fn echo<B>(mut res: ServiceResponse<B>) -> ServiceResponse<B> {
    let value = res
        .request()
        .extensions()
        .get::<RequestId>()
        .and_then(|id| HeaderValue::from_str(&id.0).ok());
    if let Some(value) = value {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    res
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
