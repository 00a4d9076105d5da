//! The security audit of Watchpost and its host: checks of the
//! configuration (exposure without TLS, cookies, `/metrics`, 2FA, lockout,
//! rate limits, secrets, HSTS), of the files it keeps (modes and owners), of
//! the accounts and API tokens, of the audit trail's hash chain, and of the
//! host (sshd, listeners, unattended upgrades, pending reboot, expiring
//! certificates). Each finding has a stable id, a severity, the evidence and
//! the exact fix; the report's JSON schema is `watchpost.audit.v1`. It runs
//! daily (stored, new high findings announced on the bus for the
//! `audit_finding` alert rule), from the page and API on demand, and from
//! `watchpost audit`. It reads and reports; it never changes what it checks.

pub mod account_checks;
mod config;
pub mod config_checks;
pub mod file_checks;
pub mod host_checks;
pub mod model;
pub mod repo;
mod routes;
pub mod service;
pub mod task;

pub use config::AuditConfig;
pub use host_checks::HostPaths;
pub use model::{Finding, Report, Severity};
pub use routes::SecurityAuditApi;
pub use service::{SecurityAudit, Setup, Trigger, audit};

use crate::http::routes::Routes;

pub fn routes(r: &mut Routes) {
    routes::routes(r);
}
