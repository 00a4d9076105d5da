//! Layer 2: resolves the client address once (see `http/client_ip.rs`) and
//! stores it as `ClientIp` for every later layer and handler.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Data;

use crate::http::HttpSettings;
use crate::http::client_ip::{ClientIp, resolve};

pub async fn client_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trusted = req
        .app_data::<Data<HttpSettings>>()
        .map(|s| s.trusted_proxies.as_slice())
        .unwrap_or_default();
    let ip = resolve(req.peer_addr(), req.headers(), trusted);
    req.extensions_mut().insert(ClientIp(ip));
    next.call(req).await
}
