//! Error pages: every response that carries an error is rendered for its
//! audience by `error::render_errors` — JSON under `/api/`, HTML elsewhere.
//! Sits inside the security headers, so error pages get them too. Successful
//! responses pass through with their body untouched.

use std::future::{self, Ready};

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;

use crate::error::render_errors;

/// The middleware; see the module documentation.
pub struct RenderErrors;

impl<S, B> Transform<S, ServiceRequest> for RenderErrors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RenderErrorsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(RenderErrorsService { service }))
    }
}

pub struct RenderErrorsService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RenderErrorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = MapOk<S::Future, fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.service.call(req).map_ok(render_errors)
    }
}
