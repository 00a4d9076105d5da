//! Erasing one person from the ingested error data (privacy erasure, see
//! `crate::privacy`). Runs inside the caller's write transaction and touches
//! only this feature's tables, so it can be extended table by table: today
//! the raw items of `error_items` (deflate-compressed JSON); a later
//! `error_events` table adds its own pass to [`erase_user`].
//!
//! In every `event` and `transaction` payload that mentions the address (or,
//! for IPs, holds one as a whole string): a `user` object whose `email` is
//! the person's goes entirely; otherwise its `email`, `username`,
//! `ip_address` and `id` go where they equal the address or one of the IPs;
//! any other string holding the address has it replaced by `[erased]`, and
//! any string equal to one of the IPs becomes `[erased]`. A payload that is
//! not JSON has the address's bytes replaced. Must never leave a changed
//! payload uncompressed, nor touch an item that does not mention the person.

use std::io::{Read, Write};

use rusqlite::{Connection, params};
use serde_json::Value;

use super::service::MAX_EVENT;
use crate::store::StoreError;

/// What replaces an erased value.
pub const ERASED: &str = "[erased]";

/// Erases `email` (and the `ips`) from the error data; returns how many
/// stored items changed.
pub fn erase_user(conn: &Connection, email: &str, ips: &[String]) -> Result<usize, StoreError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Ok(0);
    }
    let mut changed = Vec::new();
    {
        let mut stmt = conn.prepare(
            "SELECT id, payload FROM error_items WHERE kind IN ('event', 'transaction') ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let payload: Vec<u8> = row.get(1)?;
            let Some(text) = inflate(&payload) else {
                continue;
            };
            if let Some(cleaned) = scrub_payload(&text, &email, ips) {
                changed.push((id, deflate(&cleaned)));
            }
        }
    }
    let mut update = conn.prepare("UPDATE error_items SET payload = ?2 WHERE id = ?1")?;
    for (id, payload) in &changed {
        update.execute(params![id, payload])?;
    }
    Ok(changed.len())
}

fn inflate(payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(payload)
        .take(MAX_EVENT as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
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
