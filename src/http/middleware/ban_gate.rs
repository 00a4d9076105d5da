//! Layer 6: a banned address gets 403 before any other work — no routing,
//! no body read, no database. The ban list lives in memory behind the
//! [`Guard`].

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

/// What a banned address is told.
pub const BANNED: &str = "Your address is temporarily banned after suspicious requests. \
                          If this is a mistake, ask the administrator to lift the ban.";

/// The middleware; see the module documentation.
pub struct BanGate {
    guard: Data<dyn Guard>,
}

impl BanGate {
    pub fn new(guard: Data<dyn Guard>) -> Self {
        BanGate { guard }
    }
}

impl<S, B> Transform<S, ServiceRequest> for BanGate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = BanGateService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(BanGateService {
            service,
            guard: self.guard.clone(),
        }))
    }
}

pub struct BanGateService<S> {
    service: S,
    guard: Data<dyn Guard>,
}

impl<S, B> Service<ServiceRequest> for BanGateService<S>
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
        let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
        if ip.is_some_and(|ip| self.guard.is_banned(ip)) {
            let refused = req.error_response(AppError::Forbidden(BANNED.into()));
            return Either::Left(future::ready(Ok(refused.map_into_right_body())));
        }
        Either::Right(
            self.service
                .call(req)
                .map_ok(ServiceResponse::map_into_left_body),
        )
    }
}
