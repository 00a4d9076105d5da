//! The HTTP platform: binding (plain or rustls), the middleware stack in its
//! one documented order, extractor limits and errors, and the fallback 404.
//! Features hand in their routes as a `configure` function; this module knows
//! none of them.

pub mod client_ip;
mod config;
pub mod guard;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod signature;
pub mod stats;
mod tls;

use std::net::SocketAddr;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use ipnet::IpNet;

use crate::error::AppError;
use middleware::access_log::AccessLog;
use middleware::ban_gate::BanGate;
use middleware::body_limit::BodyLimit;
use middleware::client_ip::ResolveClientIp;
use middleware::rate_limit::RateLimit;
use middleware::render_errors::RenderErrors;
use middleware::request_id::AssignRequestId;
use middleware::security_headers::SecurityHeaders;
use middleware::threat_observer::ThreatObserver;

pub use client_ip::ClientIp;
pub use config::{BodyLimits, ServerConfig, TlsConfig, list_or_comma_separated, parse_network};
pub use guard::{Guard, Seen};
pub use middleware::request_id::RequestId;

/// In-flight requests get this long to finish at shutdown.
const SHUTDOWN_GRACE_SECS: u64 = 10;

/// What the middlewares need from the configuration, parsed once.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub tls: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub body_limit_pages: u64,
    pub body_limit_api: u64,
}

impl HttpSettings {
    pub fn from_config(config: &ServerConfig) -> anyhow::Result<Self> {
        Ok(HttpSettings {
            tls: config.tls_enabled(),
            trusted_proxies: config.proxy_networks()?,
            body_limit_pages: config.body_limit.pages.as_u64(),
            body_limit_api: config.body_limit.api.as_u64(),
        })
    }

    pub fn body_limit_for(&self, path: &str) -> u64 {
        if path.starts_with("/api/") {
            self.body_limit_api
        } else {
            self.body_limit_pages
        }
    }
}

/// Binds the listener and returns the server (not yet polled) and its
/// address. `guard` answers the threat layers (bans, rate limits, detectors);
/// `stats` counts every finished request.
pub fn serve<F>(
    config: &ServerConfig,
    guard: web::Data<dyn Guard>,
    stats: web::Data<dyn stats::RequestStats>,
    routes: F,
) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let settings = HttpSettings::from_config(config)?;
    let (pages, api) = (settings.body_limit_pages, settings.body_limit_api);
    let settings = web::Data::new(settings);
    let factory = move || {
        App::new()
            .app_data(settings.clone())
            .app_data(guard.clone())
            .app_data(stats.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(to_usize(api))
                    .error_handler(|e, _| bad_request(e)),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(to_usize(pages))
                    .error_handler(|e, _| bad_request(e)),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| bad_request(e)))
            .app_data(web::PayloadConfig::new(to_usize(api.max(pages))))
            .configure(routes.clone())
            .default_service(web::to(not_found))
            // Middleware, outermost last (actix-web runs the last `wrap` first):
            // 8. body limits — per route class; 413 before the handler reads anything
            .wrap(BodyLimit::new(settings.clone()))
            // 7. rate limits — per IP and route class; 429 with an integer Retry-After
            .wrap(RateLimit::new(guard.clone()))
            // 6. ban gate — 403 for banned addresses, before any other work
            .wrap(BanGate::new(guard.clone()))
            // 5. threat observer — each finished request feeds the detectors
            .wrap(ThreatObserver)
            // error pages — every error response rendered as JSON under /api/, HTML elsewhere
            .wrap(RenderErrors)
            // 4. security headers — on every response, errors included
            .wrap(SecurityHeaders::new(settings.tls))
            // 3. access log — one JSON line per request, by route pattern
            .wrap(AccessLog)
            // 2. client ip — socket address, or forwarded headers from trusted proxies only
            .wrap(ResolveClientIp::new(&settings.trusted_proxies))
            // 1. request id — accept a well-formed X-Request-Id or make one; echo it back
            .wrap(AssignRequestId)
    };
    let addr = config.bind_addr()?;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(factory)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE_SECS);
    let server = match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => {
            server.listen_rustls_0_23(listener, tls::server_config(cert, key)?)?
        }
        _ => server.listen(listener)?,
    };
    Ok((server.run(), addr))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn bad_request(e: impl std::fmt::Display) -> actix_web::Error {
    AppError::BadRequest(format!("The request could not be read: {e}")).into()
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}
