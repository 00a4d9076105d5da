//! Layer 7: per client address and route class, requests beyond the
//! configured rate get 429 with an integer `Retry-After` before any handler
//! runs. The classes and their limits are the [`Guard`]'s business.

use std::future::{self, Ready};

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk};

use crate::error::AppError;
use crate::http::client_ip::ClientIp;
use crate::http::guard::Guard;
use crate::http::middleware::request_id::RequestId;

/// The middleware; see the module documentation.
pub struct RateLimit {
    guard: Data<dyn Guard>,
}

impl RateLimit {
    pub fn new(guard: Data<dyn Guard>) -> Self {
        RateLimit { guard }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RateLimit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RateLimitService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(RateLimitService {
            service,
            guard: self.guard.clone(),
        }))
    }
}

pub struct RateLimitService<S> {
    service: S,
    guard: Data<dyn Guard>,
}

impl<S, B> Service<ServiceRequest> for RateLimitService<S>
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

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let wait = {
            let extensions = req.extensions();
            extensions.get::<ClientIp>().and_then(|c| {
                let request_id = extensions.get::<RequestId>().map(|r| r.as_str());
                self.guard
                    .retry_after(req.method(), req.path(), c.0, request_id)
            })
        };
        if let Some(seconds) = wait {
            let refused = req.error_response(AppError::TooManyRequests(seconds));
            return Either::Left(future::ready(Ok(refused.map_into_right_body())));
        }
        Either::Right(
            self.service
                .call(req)
                .map_ok(ServiceResponse::map_into_left_body),
        )
    }
}
