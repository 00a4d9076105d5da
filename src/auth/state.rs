//! What the accounts feature shares between requests: the store, the password
//! hasher, the sealing key, the audit trail, the clock, the parsed settings
//! and the batched "last seen" / "last used" times. One [`Auth`] per process,
//! given to handlers as `web::Data<Auth>`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::audit_trail::Trail;
use crate::clock::Clock;
use crate::store::{Store, StoreError};

use super::config::AuthSettings;
use super::model::Role;
use super::password::Hasher;
use super::policy::Policy;
use super::repo;
use super::seal::Sealer;

pub struct Auth {
    pub store: Store,
    pub hasher: Hasher,
    pub sealer: Sealer,
    pub trail: Trail,
    pub clock: Clock,
    pub settings: AuthSettings,
    /// Cookies get `Secure` and the `__Host-` prefix (served over HTTPS, by
    /// Watchpost itself or by a proxy in front of a `https://` public URL).
    pub secure_cookies: bool,
    /// The instance's public URL, for links shown to people (setup,
    /// set-password); known once the listener is bound.
    pub base_url: std::sync::OnceLock<String>,
    pub data_dir: std::path::PathBuf,
    pub touches: Touches,
    /// Where completed logins are announced (the alerting work listens).
    pub bus: crate::bus::Bus,
}

impl Auth {
    /// The password policy for an account: 12 characters when it has (or,
    /// as an admin who must enrol, will have) a second factor, 15 without.
    pub fn policy_for(&self, role: Role, has_2fa: bool) -> Policy {
        let will_have_2fa = role == Role::Admin && self.settings.require_2fa_for_admins;
        Policy::for_account(has_2fa || will_have_2fa)
    }

    pub fn base_url(&self) -> &str {
        self.base_url.get().map_or("", String::as_str)
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-wp_session"
        } else {
            "wp_session"
        }
    }

    pub fn csrf_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-wp_csrf"
        } else {
            "wp_csrf"
        }
    }
}

/// `last_seen` of sessions and `last_used` of API tokens, kept in memory and
/// written in one batch by the auth sweeper task, so a busy session does not
/// cost a write per request. A session's time is recorded at most once a
/// minute.
#[derive(Default)]
pub struct Touches {
    sessions: Mutex<HashMap<String, i64>>,
    tokens: Mutex<HashMap<String, i64>>,
}

/// A session's `last_seen` is refreshed when it is older than this.
pub const TOUCH_EVERY_MS: i64 = 60_000;

impl Touches {
    pub fn session(&self, token_hash: &str, now_ms: i64) {
        if let Ok(mut map) = self.sessions.lock() {
            map.insert(token_hash.to_string(), now_ms);
        }
    }

    /// The last use not yet written, if any.
    pub fn pending_session(&self, token_hash: &str) -> Option<i64> {
        self.sessions.lock().ok()?.get(token_hash).copied()
    }

    pub fn token(&self, token_hash: &str, now_ms: i64) {
        if let Ok(mut map) = self.tokens.lock() {
            map.insert(token_hash.to_string(), now_ms);
        }
    }

    /// Writes what is pending in one transaction.
    pub async fn flush(&self, store: &Store) -> Result<(), StoreError> {
        let take = |m: &Mutex<HashMap<String, i64>>| -> Vec<(String, i64)> {
            m.lock()
                .map(|mut map| map.drain().collect())
                .unwrap_or_default()
        };
        let sessions = take(&self.sessions);
        let tokens = take(&self.tokens);
        if sessions.is_empty() && tokens.is_empty() {
            return Ok(());
        }
        store
            .write(move |conn| {
                repo::touch_sessions(conn, &sessions)?;
                repo::touch_tokens(conn, &tokens)
            })
            .await
    }
}
