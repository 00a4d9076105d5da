//! Layer 5: after each response, the request (client IP, method, path,
//! query, user agent, whether it carried credentials, status) is handed to
//! the [`Guard`] to feed the detectors. It sits outside the ban gate and the
//! rate limits so it sees their answers too (the guard ignores requests of
//! banned addresses). The guard is read from the app data, so the layer's
//! future stays a plain function applied to the response.

use std::future::{self, Ready};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage};
use futures_util::TryFutureExt;
use futures_util::future::MapOk;

use crate::http::client_ip::ClientIp;
use crate::http::guard::{Guard, Seen};
use crate::http::middleware::request_id::RequestId;

/// The middleware; see the module documentation.
pub struct ThreatObserver;

impl<S, B> Transform<S, ServiceRequest> for ThreatObserver
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = ThreatObserverService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        future::ready(Ok(ThreatObserverService { service }))
    }
}

pub struct ThreatObserverService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for ThreatObserverService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = MapOk<S::Future, fn(ServiceResponse<B>) -> ServiceResponse<B>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.service.call(req).map_ok(observe)
    }
}

fn observe<B>(res: ServiceResponse<B>) -> ServiceResponse<B> {
    let req = res.request();
    let (Some(guard), Some(ip)) = (
        req.app_data::<Data<dyn Guard>>(),
        req.extensions().get::<ClientIp>().map(|c| c.0),
    ) else {
        return res;
    };
    let headers = req.headers();
    let extensions = req.extensions();
    let seen = Seen {
        ip,
        method: req.method().as_str(),
        path: req.path(),
        query: req.uri().query(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        authorization: headers.contains_key(header::AUTHORIZATION),
        status: res.status().as_u16(),
        request_id: extensions.get::<RequestId>().map(|r| r.as_str()),
    };
    guard.observe(&seen);
    drop(extensions);
    res
}
