//! Where rules and channels live. Both are stored: the shipped default rules
//! (inserted once, then editable), the `[[alerts.rules]]` and
//! `[[alerts.channels]]` of the configuration file (written at every start,
//! read-only elsewhere, removed when they leave the file) and those made in
//! the UI or the API. A channel's entry holds its credentials, so it is
//! stored sealed; channels made in the UI take their secrets inline, never
//! as a path to a file on the server.

use std::time::Duration;

use super::channels::Channel;
use super::config::{AlertsConfig, ChannelConfig, RuleConfig};
use super::repo::{self, ChannelRow};
use super::rules::{Rule, defaults};
use crate::auth::seal::Sealer;
use crate::store::StoreError;

pub const ORIGIN_DEFAULT: &str = "default";
pub const ORIGIN_CONFIG: &str = "config";
pub const ORIGIN_UI: &str = "ui";

/// The rules and channels in force.
#[derive(Clone, Default)]
pub struct Defs {
    pub rules: Vec<Rule>,
    pub channels: Vec<Channel>,
}

pub fn origin(text: &str) -> &'static str {
    match text {
        ORIGIN_DEFAULT => ORIGIN_DEFAULT,
        ORIGIN_CONFIG => ORIGIN_CONFIG,
        _ => ORIGIN_UI,
    }
}

fn aad(id: &str) -> Vec<u8> {
    format!("alert-channel:{id}").into_bytes()
}

/// The entry as JSON with its secrets in clear (secrets print as
/// `[redacted]` everywhere else), for sealing.
fn exposed(c: &ChannelConfig) -> serde_json::Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    for (field, secret) in [
        ("url", &c.url),
        ("secret", &c.secret),
        ("bot_token", &c.bot_token),
        ("password", &c.password),
    ] {
        if let Some(secret) = secret {
            value[field] = serde_json::Value::String(secret.expose().to_string());
        }
    }
    value
}

/// A channel entry as stored: sealed under its id.
pub fn seal(sealer: &Sealer, c: &ChannelConfig, origin: &str) -> Result<ChannelRow, String> {
    let json = serde_json::to_vec(&exposed(c)).map_err(|e| e.to_string())?;
    let sealed = sealer.seal(&json, &aad(&c.id)).map_err(|e| e.to_string())?;
    Ok(ChannelRow {
        id: c.id.clone(),
        kind: c.kind.clone(),
        sealed,
        origin: origin.to_string(),
    })
}

/// Writes what the configuration says: stale file entries removed, the
/// defaults inserted where no rule has their id (or removed when turned
/// off), the file's entries (`channels`: already sealed) written over
/// whatever had their ids.
pub fn provision(
    conn: &rusqlite::Connection,
    config: &AlertsConfig,
    channels: &[ChannelRow],
    now_ms: i64,
) -> Result<(), StoreError> {
    let file_rules: Vec<String> = config.rules.iter().map(|r| r.id.clone()).collect();
    repo::prune_rules(conn, ORIGIN_CONFIG, &file_rules)?;
    if config.default_rules {
        for rule in defaults() {
            let json = serde_json::to_string(&rule).unwrap_or_default();
            repo::put_rule(conn, &rule.id, &json, ORIGIN_DEFAULT, now_ms, true)?;
        }
    } else {
        repo::prune_rules(conn, ORIGIN_DEFAULT, &[])?;
    }
    for rule in &config.rules {
        let json = serde_json::to_string(rule).unwrap_or_default();
        repo::put_rule(conn, &rule.id, &json, ORIGIN_CONFIG, now_ms, false)?;
    }
    let file_channels: Vec<String> = config.channels.iter().map(|c| c.id.clone()).collect();
    repo::prune_channels(conn, ORIGIN_CONFIG, &file_channels)?;
    for channel in channels {
        repo::put_channel(conn, channel, now_ms)?;
    }
    conn.execute(
        "DELETE FROM alert_instances WHERE rule_id NOT IN (SELECT id FROM alert_rules)",
        [],
    )?;
    Ok(())
}

/// Everything stored, parsed. An entry that no longer parses (a secret
/// file gone, say) is skipped and reported, so one bad entry does not stop
/// the others.
/// A stored channel entry unsealed, secrets in clear.
pub fn open_channel(sealer: &Sealer, row: &ChannelRow) -> Result<ChannelConfig, String> {
    let json = sealer
        .open(&row.sealed, &aad(&row.id))
        .map_err(|e| e.to_string())?;
    serde_json::from_slice::<ChannelConfig>(&json).map_err(|e| e.to_string())
}

pub fn load(
    conn: &rusqlite::Connection,
    sealer: &Sealer,
    reminder: Duration,
) -> Result<(Defs, Vec<String>), StoreError> {
    let mut problems = Vec::new();
    let mut defs = Defs::default();
    for row in repo::channels(conn)? {
        let parsed = open_channel(sealer, &row).and_then(|c| Channel::from_config(&c));
        match parsed {
            Ok(mut channel) => {
                channel.origin = origin(&row.origin);
                defs.channels.push(channel);
            }
            Err(e) => problems.push(format!("channel {:?} is skipped: {e}", row.id)),
        }
    }
    for row in repo::rules(conn)? {
        let parsed = serde_json::from_str::<RuleConfig>(&row.definition)
            .map_err(|e| e.to_string())
            .and_then(|c| Rule::from_config(&c, reminder));
        match parsed {
            Ok(mut rule) => {
                rule.origin = origin(&row.origin);
                defs.rules.push(rule);
            }
            Err(e) => problems.push(format!("rule {:?} is skipped: {e}", row.id)),
        }
    }
    Ok((defs, problems))
}

/// An id made in the UI or the API: 1 to 64 letters, digits, `.`, `_`, `-`.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Ok(())
    } else {
        Err(format!(
            "{what} id {id:?} must be 1 to 64 letters, digits, '.', '_' or '-'"
        ))
    }
}

/// Channels made in the UI or the API name no server files: their secrets
/// come inline.
pub fn refuse_files(c: &ChannelConfig) -> Result<(), String> {
    for (field, set) in [
        ("secret_file", c.secret_file.is_some()),
        ("bot_token_file", c.bot_token_file.is_some()),
        ("password_file", c.password_file.is_some()),
    ] {
        if set {
            return Err(format!(
                "{field} is only for the configuration file; send the secret itself (secret, bot_token, password)"
            ));
        }
    }
    Ok(())
}
