//! What the threat layers of the middleware stack ask (layers 5–7): is this
//! address banned, may it make this request now, and here is what a request
//! did. The HTTP platform defines the question; the threats feature answers
//! it (`threats::Threats` implements [`Guard`]), so the platform knows no
//! detector.

use std::net::IpAddr;

use actix_web::http::Method;

/// A finished request, as the threat observer reports it.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub ip: IpAddr,
    pub method: &'a str,
    /// The path as sent (percent-encoded), without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Whether the request carried an `Authorization` header (its value is
    /// never read here).
    pub authorization: bool,
    pub status: u16,
    pub request_id: Option<&'a str>,
}

pub trait Guard: Send + Sync + 'static {
    /// Whether the address is banned now (the ban gate answers 403).
    fn is_banned(&self, ip: IpAddr) -> bool;
    /// None if the request may go on now, else the seconds to wait (429).
    fn retry_after(
        &self,
        method: &Method,
        path: &str,
        ip: IpAddr,
        request_id: Option<&str>,
    ) -> Option<u64>;
    /// Feeds the detectors with a finished request. Must not block.
    fn observe(&self, seen: &Seen<'_>);
}
