//! The cross-cutting layers every request passes through, one file each. Their
//! order is set once, in `http/mod.rs`.

pub mod access_log;
pub mod body_limit;
pub mod client_ip;
pub mod request_id;
pub mod security_headers;
