//! The audit trail's types and pure logic: what a caller hands in ([`Entry`]),
//! what a stored row is ([`Record`], split into its [`Canonical`] part and its
//! [`Personal`] part), the two serialisations that are hashed, redaction of
//! details, e-mail masking and the page filters. Nothing here touches the
//! database or the key file.

use std::net::IpAddr;

use ring::{digest, hmac};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::redact::{self, REDACTED};

/// `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// First element of the canonical form; names its layout.
pub const CANONICAL_TAG: &str = "watchpost.audit.v1";
/// First element of the personal-data form covered by `pii_digest`.
pub const PERSONAL_TAG: &str = "watchpost.audit.pii.v1";
/// User agents are cut to this many characters.
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user; the e-mail is a snapshot (personal data, erasable).
    User { id: i64, email: String },
    /// Watchpost itself (a background task).
    System,
    /// An operator at the command line.
    Cli,
    /// Someone not logged in (a failed login, for instance).
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::System => "system",
            Actor::Cli => "cli",
            Actor::Anonymous => "anonymous",
        }
    }

    fn id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    fn email(&self) -> Option<&str> {
        match self {
            Actor::User { email, .. } => Some(email),
            _ => None,
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    /// Refused: not allowed, locked, rate limited.
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One event to record. `details` must not hold personal data (it is hashed
/// and kept forever); names, e-mails and the like go in `pii_details`. Both
/// are redacted before they are stored.
#[derive(Debug, Clone)]
pub struct Entry {
    pub actor: Actor,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Dotted, lower case: `login.success`, `user.role_changed`.
    pub action: String,
    /// What it was done to, without personal data: `user:42`, `token:7`.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub details: Value,
    pub pii_details: Value,
}

impl Entry {
    pub fn new(actor: Actor, action: impl Into<String>, outcome: Outcome) -> Entry {
        Entry {
            actor,
            ip: None,
            user_agent: None,
            action: action.into(),
            target: None,
            outcome,
            request_id: None,
            details: Value::Null,
            pii_details: Value::Null,
        }
    }

    pub fn ip(mut self, ip: impl Into<Option<IpAddr>>) -> Entry {
        self.ip = ip.into();
        self
    }

    /// An empty user agent is recorded as none.
    pub fn user_agent(mut self, user_agent: &str) -> Entry {
        self.user_agent = Some(user_agent.to_string()).filter(|ua| !ua.is_empty());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(target.into());
        self
    }

    pub fn request_id(mut self, request_id: impl Into<Option<String>>) -> Entry {
        self.request_id = request_id.into();
        self
    }

    /// Adds `key: value` to the (non-personal, hashed) details.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Entry {
        insert(&mut self.details, key, value.into());
        self
    }

    /// Adds `key: value` to the personal details (erasable).
    pub fn pii_detail(mut self, key: &str, value: impl Into<Value>) -> Entry {
        insert(&mut self.pii_details, key, value.into());
        self
    }

    /// The details as stored: redacted JSON text, `{}` when there are none.
    pub fn details_text(&self) -> String {
        match &self.details {
            Value::Null => "{}".to_string(),
            other => redact_details(other.clone()).to_string(),
        }
    }

    /// The personal data as stored: trimmed, capped and redacted.
    pub fn personal(&self) -> Personal {
        let pii_details = match &self.pii_details {
            Value::Null => None,
            Value::Object(map) if map.is_empty() => None,
            other => Some(redact_details(other.clone()).to_string()),
        };
        Personal {
            email: self.actor.email().map(str::to_string),
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.as_deref().map(cap_user_agent),
            details: pii_details,
        }
    }

    /// The canonical part of the row this entry becomes.
    pub fn canonical(
        &self,
        id: i64,
        ts_ms: i64,
        pii_digest: String,
        prev_hash: String,
    ) -> Canonical {
        Canonical {
            id,
            ts_ms,
            actor_kind: self.actor.kind().to_string(),
            actor_id: self.actor.id(),
            action: self.action.clone(),
            target: self.target.clone(),
            outcome: self.outcome.as_str().to_string(),
            request_id: self.request_id.clone(),
            details: self.details_text(),
            pii_digest,
            prev_hash,
        }
    }
}

fn insert(object: &mut Value, key: &str, value: Value) {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    if let Value::Object(map) = object {
        map.insert(key.to_string(), value);
    }
}

/// The hashed, never-changing part of a row, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    pub id: i64,
    pub ts_ms: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    /// Redacted JSON text, hashed exactly as stored.
    pub details: String,
    pub pii_digest: String,
    pub prev_hash: String,
}

impl Canonical {
    /// The canonical form (see the module doc of `audit_trail`): a compact
    /// JSON array of the fields in a fixed order.
    pub fn form(&self) -> String {
        json!([
            CANONICAL_TAG,
            self.id,
            self.ts_ms,
            self.actor_kind,
            self.actor_id,
            self.action,
            self.target,
            self.outcome,
            self.request_id,
            self.details,
            self.pii_digest,
            self.prev_hash,
        ])
        .to_string()
    }

    /// Lower-case hex SHA-256 of [`Canonical::form`].
    pub fn hash(&self) -> String {
        hex(digest::digest(&digest::SHA256, self.form().as_bytes()).as_ref())
    }
}

/// The personal data of a row, as stored; all `None` once erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Personal {
    pub email: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Redacted JSON text.
    pub details: Option<String>,
}

impl Personal {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.ip.is_none()
            && self.user_agent.is_none()
            && self.details.is_none()
    }

    /// What `pii_digest` covers: a compact JSON array of the row id and the
    /// personal columns, so personal data cannot be moved to another row.
    pub fn form(&self, id: i64) -> String {
        json!([
            PERSONAL_TAG,
            id,
            self.email,
            self.ip,
            self.user_agent,
            self.details,
        ])
        .to_string()
    }

    /// Lower-case hex HMAC-SHA256 of [`Personal::form`] under the trail key.
    pub fn digest(&self, key: &hmac::Key, id: i64) -> String {
        hex(hmac::sign(key, self.form(id).as_bytes()).as_ref())
    }

    /// Whether this personal data is about `email`: the actor's snapshot is
    /// that address, or a text inside the personal details contains it
    /// (both compared without regard to ASCII case).
    pub fn mentions(&self, email: &str) -> bool {
        let wanted = email.trim().to_ascii_lowercase();
        if wanted.is_empty() {
            return false;
        }
        if self
            .email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(&wanted))
        {
            return true;
        }
        self.details
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .is_some_and(|value| any_text_contains(&value, &wanted))
    }
}

fn any_text_contains(value: &Value, wanted_lower: &str) -> bool {
    match value {
        Value::String(s) => s.to_ascii_lowercase().contains(wanted_lower),
        Value::Array(items) => items.iter().any(|v| any_text_contains(v, wanted_lower)),
        Value::Object(map) => map.values().any(|v| any_text_contains(v, wanted_lower)),
        _ => false,
    }
}

/// A stored row.
#[derive(Debug, Clone)]
pub struct Record {
    pub canonical: Canonical,
    pub hash: String,
    pub personal: Personal,
    pub erased_ms: Option<i64>,
}

/// `details` with every value under a secret-looking key (see
/// [`redact::is_secret_name`]) replaced by `[redacted]`, at any depth, and
/// PEM private keys and card numbers scrubbed from every text.
pub fn redact_details(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = if redact::is_secret_name(&key) {
                        Value::String(REDACTED.to_string())
                    } else {
                        redact_details(value)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_details).collect()),
        Value::String(text) => Value::String(redact::scrub_value(&text).into_owned()),
        other => other,
    }
}

/// `john@example.com` → `jo***@example.com`: enough to tell attempts apart,
/// not enough to read the address. Short local parts keep fewer characters;
/// text without `@` (perhaps a password typed in the wrong field) is hidden
/// entirely.
pub fn mask_email(email: &str) -> String {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".to_string();
    };
    let keep = local.chars().count().saturating_sub(1).min(2);
    let shown: String = local.chars().take(keep).collect();
    let domain: String = domain.chars().take(64).collect();
    format!("{shown}***@{domain}")
}

fn cap_user_agent(user_agent: &str) -> String {
    user_agent.chars().take(USER_AGENT_MAX_CHARS).collect()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// `ts_ms` as RFC 3339 UTC with milliseconds: `2026-01-31T09:05:00.123Z`.
pub fn utc_text(ts_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ts_ms.to_string())
}

/// Who asked for a change, for its audit row: the actor, from where, and
/// with which request.
#[derive(Debug, Clone)]
pub struct Actioned {
    pub actor: Actor,
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl Actioned {
    /// Watchpost itself (start-up provisioning, the demo).
    pub fn system() -> Actioned {
        Actioned {
            actor: Actor::System,
            ip: None,
            request_id: None,
        }
    }

    /// A successful `action` on `target`, ready for more details.
    pub fn entry(&self, action: &str, target: impl Into<String>) -> Entry {
        Entry::new(self.actor.clone(), action, Outcome::Success)
            .ip(self.ip)
            .request_id(self.request_id.clone())
            .target(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical() -> Canonical {
        Canonical {
            id: 7,
            ts_ms: 1_767_225_600_000,
            actor_kind: "user".into(),
            actor_id: Some(3),
            action: "login.success".into(),
            target: None,
            outcome: "success".into(),
            request_id: Some("r-1".into()),
            details: r#"{"method":"password"}"#.into(),
            pii_digest: "ab".into(),
            prev_hash: GENESIS.into(),
        }
    }

    #[test]
    fn the_canonical_form_is_a_compact_json_array_in_the_documented_order() {
        assert_eq!(
            canonical().form(),
            format!(
                r#"["watchpost.audit.v1",7,1767225600000,"user",3,"login.success",null,"success","r-1","{{\"method\":\"password\"}}","ab","{GENESIS}"]"#
            )
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_form_and_changes_with_any_canonical_field() {
        let base = canonical();
        let expected = hex(digest::digest(&digest::SHA256, base.form().as_bytes()).as_ref());
        assert_eq!(base.hash(), expected);
        assert_eq!(base.hash().len(), 64);
        let variants = [
            Canonical {
                id: 8,
                ..base.clone()
            },
            Canonical {
                ts_ms: 1,
                ..base.clone()
            },
            Canonical {
                action: "login.failure".into(),
                ..base.clone()
            },
            Canonical {
                target: Some("user:3".into()),
                ..base.clone()
            },
            Canonical {
                outcome: "denied".into(),
                ..base.clone()
            },
            Canonical {
                details: "{}".into(),
                ..base.clone()
            },
            Canonical {
                pii_digest: "cd".into(),
                ..base.clone()
            },
            Canonical {
                prev_hash: "1".repeat(64),
                ..base.clone()
            },
        ];
        for variant in variants {
            assert_ne!(variant.hash(), base.hash(), "{variant:?}");
        }
    }

    #[test]
    fn personal_data_is_outside_the_canonical_form_but_inside_the_digest() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        let entry = Entry::new(
            Actor::User {
                id: 3,
                email: "ann@example.com".into(),
            },
            "login.success",
            Outcome::Success,
        )
        .ip("192.0.2.1".parse::<IpAddr>().ok())
        .user_agent("curl/8");
        let personal = entry.personal();
        let digest = personal.digest(&key, 1);
        let form = entry.canonical(1, 5, digest.clone(), GENESIS.into()).form();
        assert!(!form.contains("ann@example.com") && !form.contains("192.0.2.1"));
        assert!(!form.contains("curl"));
        assert_eq!(
            personal.form(1),
            r#"["watchpost.audit.pii.v1",1,"ann@example.com","192.0.2.1","curl/8",null]"#
        );
        let other_ip = Personal {
            ip: Some("192.0.2.2".into()),
            ..personal.clone()
        };
        assert_ne!(other_ip.digest(&key, 1), digest);
        assert_ne!(personal.digest(&key, 2), digest, "bound to its row");
        let other_key = hmac::Key::new(hmac::HMAC_SHA256, &[8; 32]);
        assert_ne!(personal.digest(&other_key, 1), digest);
    }

    #[test]
    fn secret_keys_in_details_are_redacted_at_any_depth() {
        let entry = Entry::new(Actor::Anonymous, "login.failure", Outcome::Failure)
            .detail("password", "hunter2")
            .detail("reason", "bad password")
            .detail(
                "nested",
                json!({"api_key": "k", "list": [{"session_id": "s"}], "n": 1}),
            )
            .detail("note", "card 4111 1111 1111 1111")
            .pii_detail("new_password", "123456")
            .pii_detail("email", "jo***@example.com");
        let details: Value = serde_json::from_str(&entry.details_text()).unwrap();
        assert_eq!(
            details,
            json!({
                "password": "[redacted]",
                "reason": "bad password",
                "nested": {"api_key": "[redacted]", "list": [{"session_id": "[redacted]"}], "n": 1},
                "note": "card [redacted]",
            })
        );
        let pii: Value = serde_json::from_str(&entry.personal().details.unwrap()).unwrap();
        assert_eq!(
            pii,
            json!({"new_password": "[redacted]", "email": "jo***@example.com"})
        );
    }

    #[test]
    fn empty_details_are_stored_as_an_empty_object_and_no_personal_details_as_none() {
        let entry = Entry::new(Actor::System, "trail.erased", Outcome::Success);
        assert_eq!(entry.details_text(), "{}");
        assert!(entry.personal().is_empty());
    }

    #[test]
    fn emails_are_masked_for_failed_logins() {
        assert_eq!(mask_email("john@example.com"), "jo***@example.com");
        assert_eq!(mask_email("  Jo@Example.com "), "J***@Example.com");
        assert_eq!(mask_email("a@b.c"), "***@b.c");
        assert_eq!(mask_email("not-an-email-maybe-a-password"), "***");
        assert_eq!(mask_email("élodie@example.fr"), "él***@example.fr");
    }

    #[test]
    fn user_agents_are_capped_and_empty_ones_dropped() {
        let long = "x".repeat(1000);
        let entry = Entry::new(Actor::System, "a.b", Outcome::Success).user_agent(&long);
        assert_eq!(
            entry.personal().user_agent.unwrap().len(),
            USER_AGENT_MAX_CHARS
        );
        let entry = Entry::new(Actor::System, "a.b", Outcome::Success).user_agent("");
        assert_eq!(entry.user_agent, None);
    }

    #[test]
    fn personal_data_mentions_an_email_in_the_snapshot_or_the_details() {
        let p = Personal {
            email: Some("Ann@Example.com".into()),
            ..Personal::default()
        };
        assert!(p.mentions("ann@example.com"));
        assert!(!p.mentions("bob@example.com"));
        let p = Personal {
            details: Some(r#"{"new_user":{"email":"bob@example.com"}}"#.into()),
            ..Personal::default()
        };
        assert!(p.mentions("BOB@example.com"));
        assert!(!p.mentions(""));
    }

    #[test]
    fn times_are_shown_as_rfc3339_utc() {
        assert_eq!(utc_text(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
    }
}
