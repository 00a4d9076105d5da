//! The error-tracking service: projects with their keys (audited), and the
//! ingest fast path — authenticate, decompress within caps, parse, keep
//! the items a later step digests, commit, answer with the event id.

use std::io::Write;

use super::decode::{DecodeError, decode};
use super::envelope::{self, Envelope, Item};
use super::model;
use super::repo::{self, NewItem};
use crate::audit_trail::{Actioned, Trail};
use crate::clock::Clock;
use crate::error::AppError;
use crate::store::Store;

/// The most a body may decompress to.
pub const MAX_DECOMPRESSED: usize = 20 << 20;
/// The most one event or transaction may be, decompressed.
pub const MAX_EVENT: usize = 1 << 20;
/// The item types kept for digesting; every other type is skipped and counted.
pub const KEPT: [&str; 4] = ["event", "transaction", "sessions", "client_report"];

pub struct Errors {
    pub store: Store,
    pub clock: Clock,
    trail: Trail,
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

fn deflated(payload: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(payload);
    e.finish().unwrap_or_default()
}

impl Errors {
    pub fn new(store: Store, clock: Clock, trail: Trail) -> Errors {
        Errors {
            store,
            clock,
            trail,
        }
    }

    /// Creates a project with one key; returns its id and key. Audited.
    pub async fn add_project(
        &self,
        name: &str,
        platform: &str,
        by: &Actioned,
    ) -> Result<(i64, String), AppError> {
        let name = name.trim().to_string();
        let slug = model::slug(&name);
        if slug.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AppError::BadRequest(
                "a project needs a name of 1 to 100 printable characters with a letter or digit"
                    .into(),
            ));
        }
        let key = model::new_public_key()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("no randomness for a key")))?;
        let entry = by
            .entry("errors.project_created", format!("project:{slug}"))
            .detail("platform", platform.to_string());
        let (trail, now, platform, k) = (
            self.trail.clone(),
            self.clock.now_ms(),
            platform.to_string(),
            key.clone(),
        );
        let id = self
            .store
            .write(move |c| {
                if repo::slug_taken(c, &slug)? {
                    return Ok(None);
                }
                let id = repo::add_project(c, &slug, &name, &platform, &k, now)?;
                trail.append(c, now, &entry)?;
                Ok(Some(id))
            })
            .await?;
        id.map(|id| (id, key)).ok_or_else(|| {
            AppError::Conflict("a project with that name exists already; choose another".into())
        })
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
            .map_err(|_| Refused::Unavailable)?;
        if owner != Some(req.project_id) {
            return Err(Refused::WrongKey);
        }
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
                payload: deflated(&item.payload),
            });
        }
        let event_id = envelope
            .event_id()
            .or(item_event_id)
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        let (id, now, project) = (event_id.clone(), self.clock.now_ms(), req.project_id);
        self.store
            .write(move |c| repo::add_items(c, project, &id, &kept, &skipped, now))
            .await
            .map_err(|_| Refused::Unavailable)?;
        Ok(event_id)
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
