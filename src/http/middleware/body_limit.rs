//! Layer 8: request bodies are capped per route class (`/api/` or pages). A
//! declared `Content-Length` over the limit is refused with 413 before any
//! handler runs; a chunked body is counted as it streams and cut off at the
//! limit, which the extractors report as 413 too.

use std::future::{self, Ready};
use std::pin::Pin;

use actix_web::body::EitherBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{Error, HttpMessage};
use futures_util::future::{Either, MapOk};
use futures_util::{Stream, StreamExt, TryFutureExt};

use crate::error::AppError;
use crate::http::HttpSettings;

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// The middleware; see the module documentation.
pub struct BodyLimit {
    settings: Data<HttpSettings>,
}

impl BodyLimit {
    pub fn new(settings: Data<HttpSettings>) -> Self {
        BodyLimit { settings }
    }
}

impl<S, B> Transform<S, ServiceRequest> for BodyLimit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BodyLimitService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(BodyLimitService {
            service,
            settings: self.settings.clone(),
        }))
    }
}

pub struct BodyLimitService<S> {
    service: S,
    settings: Data<HttpSettings>,
}

impl<S, B> Service<ServiceRequest> for BodyLimitService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Either<
        Ready<Result<Self::Response, Error>>,
        MapOk<S::Future, fn(ServiceResponse<B>) -> Self::Response>,
    >;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let limit = self.settings.body_limit_for(req.path());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(length) if length > limit => {
                let error = AppError::PayloadTooLarge(format!(
                    "The request body is {length} bytes; the limit here is {limit} bytes. Send less, or raise server.body_limit."
                ));
                let refused = req.error_response(error).map_into_right_body();
                return Either::Left(future::ready(Ok(refused)));
            }
            Some(_) => {}
            None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
                let mut seen = 0u64;
                let limited = req.take_payload().map(move |chunk| {
                    let chunk = chunk?;
                    seen += chunk.len() as u64;
                    if seen > limit {
                        Err(PayloadError::Overflow)
                    } else {
                        Ok(chunk)
                    }
                });
                req.set_payload(Payload::from(Box::pin(limited) as BodyStream));
            }
            None => {}
        }
        Either::Right(
            self.service
                .call(req)
                .map_ok(ServiceResponse::map_into_left_body),
        )
    }
}
