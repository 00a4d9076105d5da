//! The cross-cutting layers every request passes through, one file each. Their
//! order is set once, in `http/mod.rs`.
//!
//! Each is a plain actix-web `Transform`/`Service` pair. Its future is the
//! inner service's future with a plain function applied to the response
//! (`MapOk<_, fn>`), so a layer costs neither a boxed future nor a dynamic
//! call per request. What handlers read too (the request id, the client IP)
//! travels in the request's extensions; what only the layer needs later (the
//! access log's start time) rides along in its future.

pub mod access_log;
pub mod ban_gate;
pub mod body_limit;
pub mod client_ip;
pub mod rate_limit;
pub mod render_errors;
pub mod request_id;
pub mod security_headers;
pub mod threat_observer;
