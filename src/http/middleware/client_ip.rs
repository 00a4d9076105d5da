//! Layer 2: resolves the client address once (see `http/client_ip.rs`) and
//! stores it as `ClientIp` for every later layer and handler. It only adds to
//! the request: the response passes through untouched.

use std::future::{self, Ready};
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use ipnet::IpNet;

use crate::http::client_ip::{ClientIp, resolve};

/// The middleware; see the module documentation.
pub struct ResolveClientIp {
    trusted_proxies: Rc<[IpNet]>,
}

impl ResolveClientIp {
    pub fn new(trusted_proxies: &[IpNet]) -> Self {
        ResolveClientIp {
            trusted_proxies: trusted_proxies.into(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for ResolveClientIp
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ResolveClientIpService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(ResolveClientIpService {
            service,
            trusted_proxies: self.trusted_proxies.clone(),
        }))
    }
}

pub struct ResolveClientIpService<S> {
    service: S,
    trusted_proxies: Rc<[IpNet]>,
}

impl<S, B> Service<ServiceRequest> for ResolveClientIpService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let ip = resolve(req.peer_addr(), req.headers(), &self.trusted_proxies);
        req.extensions_mut().insert(ClientIp(ip));
        self.service.call(req)
    }
}
