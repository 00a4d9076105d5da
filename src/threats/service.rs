//! The threats service: the detectors' buckets, the ban gate's list, the
//! rate limiters and the pending security events, shared by the HTTP layers
//! (it implements [`Guard`]), the log watchers and the pages. Detection is
//! synchronous and in memory — a request is never slowed by the database:
//! an overflow bans the address in the gate at once and queues the ban's
//! record, which the threats task writes (with repeat-offender doubling),
//! announces on the bus and hands to the firewall command.
//!
//! This service must never block a request on I/O, and never feed the
//! detectors with allowlisted or already banned addresses.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use actix_web::http::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::bucket::{Buckets, Rule, path_hash};
use super::command::Commands;
use super::config::ThreatsConfig;
use super::detect::{self, Detector};
use super::events::{Aggregator, Occurrence, truncated};
use super::gate::Gate;
use super::ratelimit::{CLASSES, RateLimits, class_of};
use crate::audit_trail::Trail;
use crate::auth::seal::Sealer;
use crate::bus::{Bus, Signal};
use crate::clock::Clock;
use crate::http::signature::Verifier;
use crate::http::{Guard, Seen};
use crate::logwatch::sshd::SshFailure;
use crate::store::Store;

/// Detections waiting for the threats task; past this they are still
/// enforced by the gate, only their record waits for the next one.
const QUEUE: usize = 4_096;
const HOUR_MS: i64 = 3_600_000;

/// sshd failures counted per (hour start ms, IP, user, kind).
type SshKey = (i64, String, String, &'static str);

/// An overflow the task turns into a ban record.
#[derive(Debug, Clone)]
pub struct Detection {
    pub ip: IpAddr,
    pub detector: Detector,
    pub source: String,
    pub at_ms: i64,
    pub hits: i64,
}

/// The health of one watched log, for the security page and `/health/detail`.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq, Eq)]
pub struct SourceStatus {
    pub id: String,
    pub kind: String,
    pub path: String,
    /// `ok`, `waiting` (no file yet) or `error`.
    pub state: String,
    pub message: Option<String>,
    pub lines: u64,
    pub last_line_ms: Option<i64>,
}

pub struct Threats {
    pub store: Store,
    pub(super) trail: Trail,
    pub clock: Clock,
    pub gate: Gate,
    pub limits: RateLimits,
    pub(super) rules: BTreeMap<Detector, Rule>,
    buckets: Mutex<Buckets>,
    events: Mutex<Aggregator>,
    ssh: Mutex<HashMap<SshKey, i64>>,
    detections: mpsc::Sender<Detection>,
    pub(super) queue: Mutex<Option<mpsc::Receiver<Detection>>>,
    pub bus: Bus,
    pub(super) commands: Commands,
    pub(super) sealer: Sealer,
    pub(super) verifier: Verifier,
    pub(super) sources: Mutex<BTreeMap<String, SourceStatus>>,
    pub(super) config: ThreatsConfig,
    /// Where people reach this instance (set once the listener is bound).
    pub base_url: OnceLock<String>,
}

impl Threats {
    pub fn new(
        config: &ThreatsConfig,
        store: Store,
        trail: Trail,
        clock: Clock,
        sealer: Sealer,
        bus: Bus,
    ) -> Threats {
        let (detections, queue) = mpsc::channel(QUEUE);
        Threats {
            store,
            trail,
            clock,
            gate: Gate::new(config.allow_networks()),
            limits: RateLimits::new(config),
            rules: config.rules(),
            buckets: Mutex::default(),
            events: Mutex::default(),
            ssh: Mutex::default(),
            detections,
            queue: Mutex::new(Some(queue)),
            bus,
            commands: Commands {
                on_ban: config.on_ban_command.clone(),
                on_unban: config.on_unban_command.clone(),
                timeout: config.timeout(),
            },
            sealer,
            verifier: Verifier::default(),
            sources: Mutex::default(),
            config: config.clone(),
            base_url: OnceLock::new(),
        }
    }

    pub fn base_url(&self) -> &str {
        self.base_url.get().map_or("", String::as_str)
    }

    fn rule(&self, d: Detector) -> Rule {
        self.rules.get(&d).copied().unwrap_or(Rule {
            enabled: false,
            capacity: 1,
            leak_ms: 1,
            ban_ms: 1,
        })
    }

    /// Whether the address is exempt from everything (the allowlist), or
    /// already banned, so detectors need not look at it.
    fn ignored(&self, ip: IpAddr, now_ms: i64) -> bool {
        self.gate.allowed(ip) || self.gate.banned_until(ip, now_ms).is_some()
    }

    /// Feeds one HTTP request (own traffic, or a line of a host access log).
    pub fn feed_request(
        &self,
        ip: IpAddr,
        req: &detect::Request<'_>,
        source: &str,
        request_id: Option<&str>,
    ) {
        if self.gate.allowed(ip) {
            return;
        }
        let now = self.clock.now_ms();
        if self.gate.banned_until(ip, now).is_some() {
            return;
        }
        let hits = detect::classify(req);
        if hits.is_empty() {
            return;
        }
        let details = || {
            let target = match req.query {
                Some(q) => format!("{}?{q}", req.path),
                None => req.path.to_owned(),
            };
            json!({
                "method": truncated(req.method),
                "path": truncated(&crate::redact::redact_query(&target)),
                "status": req.status,
                "user_agent": req.user_agent.map(truncated),
            })
        };
        let hash = path_hash(req.path);
        for d in hits {
            self.hit(ip, d, source, request_id, now, Some(hash), &details);
        }
    }

    /// Feeds one sshd authentication failure.
    pub fn feed_ssh(&self, failure: &SshFailure, source: &str) {
        let now = self.clock.now_ms();
        let user = failure.user.as_deref().map_or(String::new(), |u| {
            u.chars().filter(|c| !c.is_control()).take(64).collect()
        });
        if let Ok(mut ssh) = self.ssh.lock() {
            let key = (
                now - now.rem_euclid(HOUR_MS),
                failure.ip.to_string(),
                user.clone(),
                failure.kind.as_str(),
            );
            *ssh.entry(key).or_insert(0) += 1;
        }
        if self.ignored(failure.ip, now) {
            return;
        }
        let details = || json!({ "user": user, "failure": failure.kind.as_str() });
        self.hit(
            failure.ip,
            Detector::SshBruteforce,
            source,
            None,
            now,
            None,
            &details,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn hit(
        &self,
        ip: IpAddr,
        d: Detector,
        source: &str,
        request_id: Option<&str>,
        now: i64,
        path: Option<u32>,
        details: &dyn Fn() -> Value,
    ) {
        let ip_text = ip.to_string();
        let with_detector = || {
            let mut v = details();
            v["detector"] = Value::from(d.name());
            v
        };
        let occurrence = Occurrence {
            kind: d.event_kind(),
            ip: &ip_text,
            source,
            request_id,
            ts_ms: now,
            details: &with_detector,
        };
        let rule = self.rule(d);
        if d.hit_is_event()
            && let Ok(mut events) = self.events.lock()
        {
            events.add(occurrence);
        }
        let overflow = self
            .buckets
            .lock()
            .is_ok_and(|mut b| b.hit(d, ip, &rule, now, path));
        if !overflow {
            return;
        }
        if !d.hit_is_event()
            && let Ok(mut events) = self.events.lock()
        {
            events.add(Occurrence {
                kind: d.event_kind(),
                ip: &ip_text,
                source,
                request_id,
                ts_ms: now,
                details: &with_detector,
            });
        }
        if matches!(d, Detector::HttpBruteforce | Detector::SshBruteforce) {
            self.bus.publish(Signal::BruteForce {
                ip: ip_text.clone(),
                detector: d.name(),
                source: source.to_owned(),
            });
        }
        self.gate
            .insert(super::model::Target::Ip(ip), now + rule.ban_ms);
        let detection = Detection {
            ip,
            detector: d,
            source: source.to_owned(),
            at_ms: now,
            hits: i64::from(rule.capacity),
        };
        if self.detections.try_send(detection).is_err() {
            tracing::warn!(ip = %ip_text, detector = d.name(), "the ban queue is full; the ban holds in memory and is recorded later");
        }
    }

    /// Records a security event that is not a detector hit.
    pub fn record(&self, kind: &'static str, ip: &str, source: &str, details: Value) {
        let now = self.clock.now_ms();
        if let Ok(mut events) = self.events.lock() {
            events.add(Occurrence {
                kind,
                ip,
                source,
                request_id: None,
                ts_ms: now,
                details: &|| details.clone(),
            });
        }
    }

    /// Writes the pending events and sshd counts; returns how many rows.
    pub async fn flush(&self) -> Result<usize, crate::store::StoreError> {
        let pending = self.events.lock().map(|mut e| e.take()).unwrap_or_default();
        let ssh: Vec<_> = self
            .ssh
            .lock()
            .map(|mut s| s.drain().collect())
            .unwrap_or_default();
        if pending.is_empty() && ssh.is_empty() {
            return Ok(0);
        }
        let n = pending.len() + ssh.len();
        self.store
            .write(move |conn| {
                super::repo::events::upsert(conn, &pending)?;
                let rows: Vec<_> = ssh
                    .iter()
                    .map(
                        |((hour_ms, ip, user, kind), count)| super::repo::events::SshCount {
                            hour_ms: *hour_ms,
                            ip,
                            user,
                            kind,
                            count: *count,
                        },
                    )
                    .collect();
                super::repo::events::add_ssh(conn, &rows)
            })
            .await?;
        Ok(n)
    }

    /// Drops drained buckets and idle rate-limit keys.
    pub fn sweep(&self) {
        let now = self.clock.now_ms();
        if let Ok(mut b) = self.buckets.lock() {
            b.sweep(|d| self.rule(d), now);
        }
        self.limits.forget_idle();
        self.gate.prune_expired(now);
    }

    /// The watched logs' health.
    pub fn source_statuses(&self) -> Vec<SourceStatus> {
        self.sources
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn set_source_status(&self, status: SourceStatus) {
        if let Ok(mut s) = self.sources.lock() {
            s.insert(status.id.clone(), status);
        }
    }
}

/// Whether a request checked a credential (a failure is a login failure).
fn is_login(seen: &Seen<'_>) -> bool {
    (seen.method == "POST" && matches!(seen.path, "/login" | "/login/totp" | "/setup"))
        || (seen.authorization && seen.path.starts_with("/api/"))
}

impl Guard for Threats {
    fn is_banned(&self, ip: IpAddr) -> bool {
        !self.gate.allowed(ip) && self.gate.banned_until(ip, self.clock.now_ms()).is_some()
    }

    fn retry_after(
        &self,
        method: &Method,
        path: &str,
        ip: IpAddr,
        request_id: Option<&str>,
    ) -> Option<u64> {
        let class = class_of(method, path)?;
        if self.gate.allowed(ip) {
            return None;
        }
        let wait = self.limits.check(class, ip)?;
        let ip_text = ip.to_string();
        if let Ok(mut events) = self.events.lock() {
            events.add(Occurrence {
                kind: "rate_limited",
                ip: &ip_text,
                source: "http",
                request_id,
                ts_ms: self.clock.now_ms(),
                details: &|| json!({ "class": CLASSES[class], "path": truncated(path) }),
            });
        }
        Some(wait)
    }

    fn observe(&self, seen: &Seen<'_>) {
        let req = detect::Request {
            method: seen.method,
            path: seen.path,
            query: seen.query,
            user_agent: seen.user_agent,
            status: seen.status,
            login: is_login(seen),
        };
        self.feed_request(seen.ip, &req, "http", seen.request_id);
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
