//! Erasing one person from the ingested error data (privacy erasure, see
//! `crate::privacy`). Runs inside the caller's write transaction and touches
//! only this feature's tables: the raw items of `error_items` and the
//! digested `error_events` (both deflate-compressed JSON), and the digests
//! of the person in `error_issues`' users (counts stay).
//!
//! In every `event` and `transaction` payload that mentions the address (or,
//! for IPs, holds one as a whole string): a `user` object whose `email` is
//! the person's goes entirely; otherwise its `email`, `username`,
//! `ip_address` and `id` go where they equal the address or one of the IPs;
//! any other string holding the address has it replaced by `[erased]`, and
//! any string equal to one of the IPs becomes `[erased]`. A payload that is
//! not JSON has the address's bytes replaced. Must never leave a changed
//! payload uncompressed, nor touch an item that does not mention the person.

use rusqlite::{Connection, params};
use serde_json::Value;

use super::digest::{deflate, inflate};
use super::service::MAX_DECOMPRESSED;
use crate::store::StoreError;

/// What replaces an erased value.
pub const ERASED: &str = "[erased]";

/// Erases `email` (and the `ips`) from the error data; returns how many
/// stored items and events changed (issues derived from them change too).
pub fn erase_user(conn: &Connection, email: &str, ips: &[String]) -> Result<usize, StoreError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Ok(0);
    }
    let items = erase_in(
        conn,
        "SELECT id, payload FROM error_items WHERE kind IN ('event', 'transaction') ORDER BY id",
        "UPDATE error_items SET payload = ?2 WHERE id = ?1",
        &email,
        ips,
    )?;
    let events = erase_in(
        conn,
        "SELECT id, payload FROM error_events ORDER BY id",
        "UPDATE error_events SET payload = ?2 WHERE id = ?1",
        &email,
        ips,
    )?;
    // Who was affected is counted by a digest of the user; the person's go.
    let mut forget = conn.prepare_cached("DELETE FROM error_issue_users WHERE user_key = ?1")?;
    for key in items.1.iter().chain(&events.1) {
        forget.execute([key])?;
    }
    erase_from_issues(conn, &email, ips)?;
    Ok(items.0 + events.0)
}

/// Issue titles and culprits are taken from events: the address in them
/// becomes [`ERASED`]; tag values naming the address or one of the IPs go.
fn erase_from_issues(conn: &Connection, email: &str, ips: &[String]) -> Result<(), StoreError> {
    let like = format!("%{email}%");
    let found: Vec<(i64, String, Option<String>)> = {
        let mut stmt = conn.prepare(
            "SELECT id, title, culprit FROM error_issues
             WHERE lower(title) LIKE ?1 OR lower(coalesce(culprit, '')) LIKE ?1",
        )?;
        let rows = stmt.query_map([&like], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, title, culprit) in &found {
        conn.execute(
            "UPDATE error_issues SET title = ?2, culprit = ?3 WHERE id = ?1",
            params![
                id,
                without(title, email),
                culprit.as_deref().map(|c| without(c, email))
            ],
        )?;
    }
    conn.execute(
        "DELETE FROM error_issue_tags WHERE lower(value) LIKE ?1",
        [&like],
    )?;
    for ip in ips.iter().filter(|ip| !ip.is_empty()) {
        conn.execute("DELETE FROM error_issue_tags WHERE value = ?1", [ip])?;
    }
    Ok(())
}

/// `text` with every occurrence of `lower` (matched in any case) replaced.
fn without(text: &str, lower: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find(lower) {
        out.push_str(&rest[..at]);
        out.push_str(ERASED);
        rest = &rest[at + lower.len()..];
    }
    out.push_str(rest);
    out
}

/// One table's pass: rewrites each payload that mentions the person;
/// returns how many changed and the user digests they carried.
fn erase_in(
    conn: &Connection,
    select: &str,
    update: &str,
    email: &str,
    ips: &[String],
) -> Result<(usize, Vec<String>), StoreError> {
    let mut changed = Vec::new();
    let mut users = Vec::new();
    {
        let mut stmt = conn.prepare(select)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let payload: Vec<u8> = row.get(1)?;
            let Some(text) = inflate(&payload, MAX_DECOMPRESSED) else {
                continue;
            };
            if let Some(cleaned) = scrub_payload(&text, email, ips) {
                if let Some(key) = serde_json::from_slice::<Value>(&text)
                    .ok()
                    .and_then(|v| super::event::user_key(&v))
                {
                    users.push(key);
                }
                changed.push((id, deflate(&cleaned)));
            }
        }
    }
    let mut stmt = conn.prepare(update)?;
    for (id, payload) in &changed {
        stmt.execute(params![id, payload])?;
    }
    Ok((changed.len(), users))
}

/// The payload without the person, or `None` when it does not mention them.
pub fn scrub_payload(payload: &[u8], email: &str, ips: &[String]) -> Option<Vec<u8>> {
    let lower = String::from_utf8_lossy(payload).to_ascii_lowercase();
    let mentions_ip = ips.iter().any(|ip| !ip.is_empty() && lower.contains(ip));
    if !lower.contains(email) && !mentions_ip {
        return None;
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(mut value) => {
            let before = value.clone();
            scrub_value(&mut value, email, ips);
            (value != before).then(|| value.to_string().into_bytes())
        }
        Err(_) => {
            let text = String::from_utf8_lossy(payload);
            let replaced = replace_ci(&text, email);
            (replaced != text).then(|| replaced.into_bytes())
        }
    }
}

fn is_person(value: &Value, email: &str, ips: &[String]) -> bool {
    value.as_str().is_some_and(|s| {
        let s = s.trim();
        s.eq_ignore_ascii_case(email) || ips.iter().any(|ip| ip == s)
    })
}

fn scrub_value(value: &mut Value, email: &str, ips: &[String]) {
    match value {
        Value::Object(map) => {
            let drop_user = map
                .get("user")
                .and_then(|u| u.get("email"))
                .is_some_and(|e| is_person(e, email, &[]));
            if drop_user {
                map.remove("user");
            } else if let Some(Value::Object(user)) = map.get_mut("user") {
                for field in ["email", "username", "ip_address", "id"] {
                    if user.get(field).is_some_and(|v| is_person(v, email, ips)) {
                        user.remove(field);
                    }
                }
            }
            for v in map.values_mut() {
                scrub_value(v, email, ips);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, email, ips)),
        Value::String(s) => {
            if ips.iter().any(|ip| ip == s.trim()) {
                *s = ERASED.to_string();
            } else if s.to_ascii_lowercase().contains(email) {
                *s = replace_ci(s, email);
            }
        }
        _ => {}
    }
}

/// `text` with every case-insensitive occurrence of `needle_lower` replaced.
fn replace_ci(text: &str, needle_lower: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find(needle_lower) {
        out.push_str(&text[at..at + found]);
        out.push_str(ERASED);
        at += found + needle_lower.len();
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_user_object_goes_when_its_email_matches() {
        let event = json!({"message": "boom", "user": {"email": "Ann@Example.com", "ip_address": "203.0.113.7"}});
        let out = scrub_payload(event.to_string().as_bytes(), "ann@example.com", &[]).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, json!({"message": "boom"}));
    }

    #[test]
    fn matching_fields_go_and_other_mentions_are_replaced() {
        let event = json!({
            "user": {"username": "ann@example.com", "ip_address": "203.0.113.7", "id": "7", "segment": "a"},
            "message": "failed for ANN@example.com today",
            "request": {"env": {"REMOTE_ADDR": "203.0.113.7"}}
        });
        let ips = vec!["203.0.113.7".to_string()];
        let out = scrub_payload(event.to_string().as_bytes(), "ann@example.com", &ips).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out,
            json!({
                "user": {"id": "7", "segment": "a"},
                "message": "failed for [erased] today",
                "request": {"env": {"REMOTE_ADDR": "[erased]"}}
            })
        );
    }

    #[test]
    fn other_people_and_non_json_are_handled() {
        let event = json!({"user": {"email": "bob@example.com"}});
        assert!(scrub_payload(event.to_string().as_bytes(), "ann@example.com", &[]).is_none());
        let out = scrub_payload(b"not json: Ann@example.com!", "ann@example.com", &[]).unwrap();
        assert_eq!(out, b"not json: [erased]!");
    }
}
