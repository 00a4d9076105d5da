//! Signed inbound webhooks: `POST /api/v1/hooks/{name}` with
//! `X-Watchpost-Timestamp` and `X-Watchpost-Signature: sha256=<hex>` (HMAC
//! over `<timestamp>.<raw body>`, verified by `http::signature`). Hooks are
//! created in the UI or API (the secret is shown once) or provisioned from
//! `[[threats.hooks]]` with a `secret_file`; secrets are sealed at rest.
//! An accepted delivery is stored as an event — a deploy marker or an
//! annotation — that charts can draw; a refused one is a
//! `signature.invalid` security event.
//!
//! Unknown hook names are refused exactly like a bad signature, so names
//! cannot be discovered by probing.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::bans::Actioned;
use super::config::HookConfig;
use super::repo::hooks::{self as repo, Hook};
use super::service::Threats;
use crate::auth::secrets;
use crate::bus::Signal;
use crate::error::AppError;
use crate::http::signature::SignatureError;

pub const ORIGIN_UI: &str = "ui";
pub const ORIGIN_CONFIG: &str = "config";
/// Titles of stored deliveries are cut to this many characters.
const MAX_TITLE: usize = 200;

/// A hook name: 1–64 of `a-z`, `0-9`, `-`, `_` (it is part of a URL).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a hook name; use 1 to 64 lowercase letters, digits, - or _ (e.g. \"deploys\")"
        ))
    }
}

/// What an accepted delivery says: its kind and a title.
pub fn describe(body: &[u8]) -> (String, String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let (kind, title) = match &parsed {
        Some(v) if v.is_object() => {
            let kind = match text(v, "kind").as_deref() {
                Some("deploy") => "deploy",
                _ => "annotation",
            };
            let title = text(v, "title")
                .or_else(|| text(v, "version").map(|ver| format!("deploy {ver}")))
                .or_else(|| text(v, "message"))
                .unwrap_or_else(|| kind.to_owned());
            (kind, title)
        }
        _ => (
            "annotation",
            String::from_utf8_lossy(body)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
        ),
    };
    let title: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect();
    let payload = match parsed {
        Some(v) => v.to_string(),
        None => Value::String(String::from_utf8_lossy(body).into_owned()).to_string(),
    };
    (kind.to_owned(), title, payload)
}

impl Threats {
    pub async fn hooks(&self) -> Result<Vec<Hook>, AppError> {
        Ok(self.store.read(repo::hooks).await?)
    }

    /// Creates a hook and returns its secret (shown once, then only sealed).
    pub async fn create_hook(&self, name: &str, by: &Actioned) -> Result<String, AppError> {
        let name = name.trim().to_owned();
        check_name(&name).map_err(AppError::BadRequest)?;
        let secret = secrets::random_token(32).map_err(|e| AppError::Internal(e.into()))?;
        let sealed = self.sealer.seal(secret.as_bytes(), name.as_bytes())?;
        let now = self.clock.now_ms();
        let trail = self.trail.clone();
        let entry = by.entry("hook.created", format!("hook:{name}"));
        let created = self
            .store
            .write(move |conn| {
                if repo::hook_exists(conn, &name)?.is_some() {
                    return Ok(false);
                }
                repo::upsert_hook(conn, &name, &sealed, ORIGIN_UI, now)?;
                trail.append(conn, now, &entry)?;
                Ok(true)
            })
            .await?;
        if !created {
            return Err(AppError::Conflict(
                "A hook with this name exists already; choose another name.".into(),
            ));
        }
        Ok(secret)
    }

    pub async fn delete_hook(&self, name: &str, by: &Actioned) -> Result<(), AppError> {
        let name = name.to_owned();
        let now = self.clock.now_ms();
        let trail = self.trail.clone();
        let entry = by.entry("hook.deleted", format!("hook:{name}"));
        self.store
            .write(
                move |conn| {
                    match repo::hook_exists(conn, &name)?.as_deref() {
                None => Ok(Err(AppError::NotFound)),
                Some(ORIGIN_CONFIG) => Ok(Err(AppError::Conflict(
                    "This hook comes from [[threats.hooks]] in the configuration; remove it there."
                        .into(),
                ))),
                Some(_) => {
                    repo::delete_hook(conn, &name)?;
                    trail.append(conn, now, &entry)?;
                    Ok(Ok(()))
                }
            }
                },
            )
            .await?
    }

    /// Makes the stored hooks match `[[threats.hooks]]`: secrets read from
    /// their files and sealed; provisioned hooks no longer listed removed.
    pub async fn provision_hooks(&self, hooks: &[HookConfig]) -> anyhow::Result<usize> {
        let mut sealed = Vec::new();
        for h in hooks {
            let secret = std::fs::read_to_string(&h.secret_file).map_err(|e| {
                anyhow::anyhow!(
                    "threats.hooks {:?}: cannot read secret_file {} ({e}); check the path and its permissions",
                    h.name,
                    h.secret_file.display()
                )
            })?;
            let secret = secret.trim();
            if secret.len() < 16 {
                anyhow::bail!(
                    "threats.hooks {:?}: the secret in {} is shorter than 16 characters; use a long random one (e.g. `openssl rand -hex 32`)",
                    h.name,
                    h.secret_file.display()
                );
            }
            sealed.push((
                h.name.clone(),
                self.sealer.seal(secret.as_bytes(), h.name.as_bytes())?,
            ));
        }
        let now = self.clock.now_ms();
        let n = sealed.len();
        self.store
            .write(move |conn| {
                let names: Vec<String> = sealed.iter().map(|(n, _)| n.clone()).collect();
                for (name, secret) in &sealed {
                    repo::upsert_hook(conn, name, secret, ORIGIN_CONFIG, now)?;
                }
                repo::delete_config_hooks_except(conn, &names)
            })
            .await?;
        Ok(n)
    }

    /// Verifies and stores one delivery; the stored event's id.
    pub async fn deliver(
        &self,
        name: &str,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        from: IpAddr,
    ) -> Result<i64, AppError> {
        let owned = name.to_owned();
        let sealed = self
            .store
            .read(move |conn| repo::sealed_secret(conn, &owned))
            .await?;
        let secret = match sealed {
            Some(s) => Some(self.sealer.open(&s, name.as_bytes())?),
            None => None,
        };
        let verdict = match &secret {
            Some(secret) => {
                self.verifier
                    .verify(secret, signature, timestamp, body, self.clock.now_s())
            }
            None => Err(SignatureError::BadSignature),
        };
        if let Err(e) = verdict {
            self.record(
                "signature.invalid",
                &from.to_string(),
                "hooks",
                json!({ "hook": super::events::truncated(name), "reason": e.to_string() }),
            );
            return Err(AppError::SignatureRefused(e.to_string()));
        }
        let (kind, title, payload) = describe(body);
        let now = self.clock.now_ms();
        let deploy = (kind == "deploy").then(|| deploy_signal(body, name, now));
        let name = name.to_owned();
        let delivered = self
            .store
            .write(move |conn| repo::record_delivery(conn, &name, &kind, &title, &payload, now))
            .await?;
        // Stored first, then announced: the request statistics draw it.
        if let Some(signal) = deploy {
            self.bus.publish(signal);
        }
        Ok(delivered)
    }
}

/// A deploy delivery as a bus signal: `version`, `source` and `notes` read
/// from the JSON body (each capped), the version defaulting to the title.
fn deploy_signal(body: &[u8], hook: &str, ts_ms: i64) -> Signal {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |key: &str, max: usize| -> String {
        parsed
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect()
    };
    let version = text("version", 100);
    Signal::Deploy {
        version: if version.is_empty() {
            text("title", 100)
        } else {
            version
        },
        source: text("source", 100),
        notes: text("notes", 2_000),
        hook: hook.to_owned(),
        ts_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_url_safe_words() {
        assert!(check_name("deploys").is_ok());
        assert!(check_name("ci_main-2").is_ok());
        for bad in ["", "Deploys", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deliveries_are_described_by_kind_and_title() {
        let (kind, title, _) = describe(br#"{"kind":"deploy","version":"1.4.2"}"#);
        assert_eq!((kind.as_str(), title.as_str()), ("deploy", "deploy 1.4.2"));
        let (kind, title, _) = describe(br#"{"title":"DB migration\nstarted"}"#);
        assert_eq!(
            (kind.as_str(), title.as_str()),
            ("annotation", "DB migrationstarted")
        );
        let (kind, title, payload) = describe(b"plain text note\nsecond line");
        assert_eq!(
            (kind.as_str(), title.as_str()),
            ("annotation", "plain text note")
        );
        assert_eq!(payload, "\"plain text note\\nsecond line\"");
    }
}
