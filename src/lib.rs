//! Watchpost: host dashboards, health checks, authentication, an audit trail,
//! threat detection and error tracking for a small team's server, in one
//! process. The binary (`main.rs`) only parses the command line and dispatches
//! to [`cli`]; [`app::App`] is the server, used the same way by `main` and by
//! the tests.

pub mod alerts;
pub mod app;
pub mod audit_trail;
pub mod auth;
pub mod bus;
pub mod checks;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod errors;
pub mod health;
pub mod host;
pub mod http;
pub mod logwatch;
pub mod metrics;
pub mod perf;
pub mod privacy;
pub mod redact;
pub mod retention;
pub mod security_audit;
pub mod series;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod threats;
pub mod web;
