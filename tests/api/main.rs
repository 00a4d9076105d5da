//! The one integration-test binary: each module tests one part of Watchpost
//! through its public face (HTTP, the library API, or the CLI binary).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod audit_trail;
mod audit_trail_pages;
mod auth_access;
mod auth_login;
mod auth_secrets;
mod auth_sessions;
mod backup;
mod browser;
mod checks;
mod checks_pages;
mod cli;
mod config;
mod errors;
mod errors_issues;
mod health;
mod helpers;
mod host;
mod http;
mod logs;
mod perf;
mod privacy;
mod retention;
mod security_audit;
mod store;
mod targets;
mod threats;
mod threats_hooks;
mod threats_logs;
