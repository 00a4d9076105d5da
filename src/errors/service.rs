//! The error-tracking service: projects with their keys (audited), the
//! ingest fast path — authenticate, decompress within caps, parse, check
//! the quotas, keep the items, commit, answer with the event id — and the
//! digest pass the background task runs over what was kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::Notify;

use super::config::ErrorsConfig;
use super::decode::{DecodeError, decode};
use super::digest::{self, Digest, deflate};
use super::digest_repo::{self, Digested};
use super::envelope::{self, Envelope, Item};
use super::model;
use super::projects::Projects;
use super::quota::Quotas;
use super::repo::{self, NewItem};
use crate::audit_trail::Trail;
use crate::bus::{Bus, Signal};
use crate::clock::Clock;
use crate::error::AppError;
use crate::perf::Perf;
use crate::store::{Store, StoreError};

/// The most a body may decompress to.
pub const MAX_DECOMPRESSED: usize = 20 << 20;
/// The most one event or transaction may be, decompressed.
pub const MAX_EVENT: usize = 1 << 20;
/// The item types kept for digesting; every other type is skipped and counted.
pub const KEPT: [&str; 5] = [
    "event",
    "transaction",
    "sessions",
    "session",
    "client_report",
];

pub struct Errors {
    pub projects: Projects,
    pub store: Store,
    pub clock: Clock,
    pub(super) trail: Trail,
    pub(super) config: ErrorsConfig,
    perf: Arc<Perf>,
    bus: Bus,
    quotas: Quotas,
    /// Items kept and not digested yet.
    backlog: AtomicI64,
    /// Wakes the digest task when items arrive.
    pub(super) arrived: Notify,
    /// Where SDKs reach this instance, for DSNs (set once bound).
    pub base_url: std::sync::OnceLock<String>,
}

/// Why an ingest request was refused, as SDKs are told.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// 400
    Bad(String),
    /// 401: no key at all.
    NoKey,
    /// 403: a key that is not this project's.
    WrongKey,
    /// 413
    TooLarge(String),
    /// 503: the store failed; the SDK retries.
    Unavailable,
    /// 429: over a quota, or too much waiting to be digested.
    TooMany {
        retry_after_s: u64,
        scope: &'static str,
    },
}

/// One ingest request as the handler read it.
pub struct Request<'a> {
    pub project_id: i64,
    /// `envelope` or `store` (one bare JSON event).
    pub legacy_store: bool,
    pub query: &'a str,
    pub auth_header: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub body: &'a [u8],
}

/// The parts the service stands on.
pub struct Parts {
    pub store: Store,
    pub clock: Clock,
    pub trail: Trail,
    pub perf: Arc<Perf>,
    pub bus: Bus,
}

impl Errors {
    /// Starts the service; the backlog is read from the store.
    pub async fn new(config: &ErrorsConfig, parts: Parts) -> Result<Errors, StoreError> {
        let backlog = parts.store.read(digest_repo::backlog).await?;
        Ok(Errors {
            projects: Projects::new(
                parts.store.clone(),
                parts.clock.clone(),
                parts.trail.clone(),
            ),
            store: parts.store,
            clock: parts.clock,
            trail: parts.trail,
            config: config.clone(),
            perf: parts.perf,
            bus: parts.bus,
            quotas: Quotas::new(config.quota_per_minute, config.quota_per_hour),
            backlog: AtomicI64::new(backlog),
            arrived: Notify::new(),
            base_url: std::sync::OnceLock::new(),
        })
    }

    /// The DSN of a key of a project.
    pub fn dsn(&self, key: &str, project_id: i64) -> String {
        let base = self
            .base_url
            .get()
            .map_or("http://127.0.0.1:8080", String::as_str);
        model::dsn(base, key, project_id)
    }

    /// Items waiting to be digested.
    pub fn backlog(&self) -> i64 {
        self.backlog.load(Ordering::Relaxed)
    }

    /// The fast path: nothing is acknowledged before it is committed.
    pub async fn ingest(&self, req: Request<'_>) -> Result<String, Refused> {
        let body =
            decode(req.content_encoding, req.body, MAX_DECOMPRESSED).map_err(|e| match e {
                DecodeError::TooLarge(_) => Refused::TooLarge(e.to_string()),
                _ => Refused::Bad(e.to_string()),
            })?;
        let envelope = if req.legacy_store {
            Envelope {
                headers: serde_json::Map::new(),
                items: vec![Item {
                    kind: "event".into(),
                    headers: serde_json::Map::new(),
                    payload: body,
                }],
            }
        } else {
            envelope::parse(&body).map_err(|e| Refused::Bad(e.to_string()))?
        };
        let key = model::key_from_query(req.query)
            .or_else(|| req.auth_header.and_then(model::key_from_auth_header))
            .or_else(|| envelope.dsn().and_then(model::key_from_dsn))
            .ok_or(Refused::NoKey)?;
        if !model::is_key(&key) {
            return Err(Refused::WrongKey);
        }
        let owner = self
            .store
            .read(move |c| repo::project_of_key(c, &key))
            .await
            .map_err(|_| Refused::Unavailable)?
            .filter(|o| o.project_id == req.project_id)
            .ok_or(Refused::WrongKey)?;
        let mut kept = Vec::new();
        let mut skipped = Vec::new();
        let mut item_event_id = None;
        for item in &envelope.items {
            if !KEPT.contains(&item.kind.as_str()) {
                skipped.push(item.kind.chars().take(64).collect());
                continue;
            }
            if matches!(item.kind.as_str(), "event" | "transaction") {
                if item.payload.len() > MAX_EVENT {
                    return Err(Refused::TooLarge(format!(
                        "an {} item is {} bytes; at most {MAX_EVENT} are accepted",
                        item.kind,
                        item.payload.len()
                    )));
                }
                item_event_id = item_event_id.or_else(|| event_id_of(&item.payload));
            }
            kept.push(NewItem {
                kind: item.kind.clone(),
                payload: deflate(&item.payload),
            });
        }
        let events = kept
            .iter()
            .filter(|i| matches!(i.kind.as_str(), "event" | "transaction"))
            .count();
        if events > 0 && self.backlog() >= i64::from(self.config.max_backlog) {
            return Err(Refused::TooMany {
                retry_after_s: 10,
                scope: "organization",
            });
        }
        self.quotas
            .take(owner.project_id, owner.quota, events as u32)
            .map_err(|over| Refused::TooMany {
                retry_after_s: over.retry_after_s,
                scope: over.scope,
            })?;
        let event_id = envelope
            .event_id()
            .or(item_event_id)
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        let (id, now, project) = (event_id.clone(), self.clock.now_ms(), req.project_id);
        let count = kept.len() as i64;
        self.store
            .write(move |c| repo::add_items(c, project, &id, &kept, &skipped, now))
            .await
            .map_err(|_| Refused::Unavailable)?;
        if count > 0 {
            self.backlog.fetch_add(count, Ordering::Relaxed);
            self.arrived.notify_one();
        }
        Ok(event_id)
    }

    /// Digests up to one batch of kept items; returns how many it took.
    /// Transactions feed request performance and new or regressed issues
    /// are announced, both only after the commit.
    pub async fn digest_pass(&self) -> Result<usize, AppError> {
        let limit = self.config.digest_batch;
        let items = self
            .store
            .read(move |c| digest_repo::pending(c, limit))
            .await?;
        if items.is_empty() {
            return Ok(0);
        }
        let batch = tokio::task::spawn_blocking(move || {
            items
                .into_iter()
                .map(|item| {
                    let digest = digest::digest(&item);
                    Digested { item, digest }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the digest worker failed: {e}")))?;
        let ((changes, committed), batch) = self
            .store
            .write(move |c| Ok((digest_repo::commit(c, &batch)?, batch)))
            .await?;
        self.backlog
            .fetch_sub(committed.len() as i64, Ordering::Relaxed);
        let slugs = self.store.read(repo::slugs).await?;
        let slug = |id: i64| {
            slugs
                .iter()
                .find(|(p, _)| *p == id)
                .map_or_else(|| id.to_string(), |(_, s)| s.clone())
        };
        for d in batch.iter().filter(|d| committed.contains(&d.item.id)) {
            if let Digest::Transaction(t) = &d.digest {
                let source = format!("app:{}", slug(t.project_id));
                self.perf
                    .feed_transaction(&source, &t.name, &t.method, t.status, t.us, t.ts_ms);
            }
        }
        for change in changes {
            self.bus.publish(Signal::ErrorIssue {
                project: slug(change.project_id),
                issue_id: change.issue_id,
                title: change.title,
                kind: change.kind,
            });
        }
        Ok(committed.len())
    }
}

/// The `event_id` inside an event payload, if well-formed.
fn event_id_of(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: Option<String>,
    }
    let id = serde_json::from_slice::<Id>(payload).ok()?.event_id?;
    let id = id.replace('-', "").to_ascii_lowercase();
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}
