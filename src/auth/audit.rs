//! How the accounts feature writes to the audit trail: one call per event,
//! always inside the same transaction as the change it records.

use rusqlite::Connection;
use serde_json::Value;

use super::session::Origin;
use crate::audit_trail::{Actor, Entry, Outcome, Trail};
use crate::store::StoreError;

/// One audit event of the accounts feature.
pub struct Event<'a> {
    pub actor: Actor,
    pub action: &'a str,
    pub outcome: Outcome,
    pub target: Option<String>,
    pub details: Value,
    /// Personal data (a masked email, say): kept outside the hash chain, erasable.
    pub pii: Value,
}

impl<'a> Event<'a> {
    pub fn new(actor: Actor, action: &'a str, outcome: Outcome) -> Self {
        Event {
            actor,
            action,
            outcome,
            target: None,
            details: Value::Null,
            pii: Value::Null,
        }
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn pii(mut self, pii: Value) -> Self {
        self.pii = pii;
        self
    }

    pub fn write(
        self,
        trail: &Trail,
        conn: &Connection,
        now_ms: i64,
        origin: &Origin,
    ) -> Result<i64, StoreError> {
        let entry = Entry {
            actor: self.actor,
            ip: origin.ip.parse().ok(),
            user_agent: (!origin.user_agent.is_empty()).then(|| origin.user_agent.clone()),
            action: self.action.to_string(),
            target: self.target,
            outcome: self.outcome,
            request_id: origin.request_id.clone(),
            details: self.details,
            pii_details: self.pii,
        };
        trail.append(conn, now_ms, &entry)
    }
}

pub fn user_actor(id: i64, email: &str) -> Actor {
    Actor::User {
        id,
        email: email.to_string(),
    }
}
