//! What the digest and the pages read from one event, leniently: every
//! field may be missing or of the wrong shape (the SDKs differ, and old
//! ones send odd things), and a wrong shape reads as absent rather than
//! failing. `timestamp` is RFC 3339 or epoch seconds; `tags` a map or a
//! list of pairs; `exception` and `breadcrumbs` `{values: [...]}` or a bare
//! list.

use ring::digest;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The levels Sentry knows; anything else reads as `error`.
pub const LEVELS: [&str; 5] = ["fatal", "error", "warning", "info", "debug"];
/// The longest tag key or value kept.
const MAX_TAG: usize = 200;
/// Tags kept per event.
const MAX_TAGS: usize = 50;

/// A string field, trimmed, non-empty, at most `max` characters.
pub fn text(v: &Value, key: &str, max: usize) -> Option<String> {
    let s = v.get(key)?.as_str()?.trim();
    (!s.is_empty()).then(|| s.chars().take(max).collect())
}

/// Milliseconds since the epoch of a `timestamp`-like field.
pub fn time_ms(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e11)
            .map(|s| (s * 1000.0).round() as i64),
        Value::String(s) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .ok()
            .or_else(|| OffsetDateTime::parse(&format!("{}Z", s.trim()), &Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
        _ => None,
    }
}

pub fn level(v: &Value) -> &'static str {
    let level = v
        .get("level")
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_ascii_lowercase();
    let level = if level == "warn" {
        "warning"
    } else {
        level.as_str()
    };
    LEVELS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(level))
        .copied()
        .unwrap_or("error")
}

/// `{values: [...]}` or a bare list, as a slice.
pub fn values(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(items)) => items,
        Some(Value::Object(o)) => o
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        _ => &[],
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The event's tags, plus `environment`, `release`, `server_name` and
/// `level` (so their distribution shows next to the tags), capped.
pub fn tags(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, val: String| {
        let k: String = k.trim().chars().take(MAX_TAG).collect();
        let val: String = val.trim().chars().take(MAX_TAG).collect();
        if !k.is_empty() && !val.is_empty() && !out.iter().any(|(have, _)| *have == k) {
            out.push((k, val));
        }
    };
    for key in ["level", "environment", "release", "server_name"] {
        if let Some(val) = v.get(key).and_then(scalar) {
            push(key, val);
        }
    }
    match v.get("tags") {
        Some(Value::Object(map)) => {
            for (k, val) in map {
                if let Some(val) = scalar(val) {
                    push(k, val);
                }
            }
        }
        Some(Value::Array(pairs)) => {
            for pair in pairs {
                if let (Some(k), Some(val)) = (
                    pair.get(0).and_then(Value::as_str),
                    pair.get(1).and_then(scalar),
                ) {
                    push(k, val);
                }
            }
        }
        _ => {}
    }
    out.truncate(MAX_TAGS);
    out
}

/// Who the event happened to, as a digest (users are counted, never
/// stored): `user.id`, else `email`, else `username`, else `ip_address`.
pub fn user_key(v: &Value) -> Option<String> {
    let user = v.get("user")?;
    let who = ["id", "email", "username", "ip_address"]
        .iter()
        .find_map(|k| user.get(*k).and_then(scalar).filter(|s| !s.is_empty()))?;
    let hash = digest::digest(
        &digest::SHA256,
        format!("watchpost.errors.user.v1\u{1f}{who}").as_bytes(),
    );
    Some(data_encoding::HEXLOWER.encode(hash.as_ref().get(..16).unwrap_or_default()))
}

/// A transaction's duration in microseconds (`timestamp` − `start_timestamp`).
pub fn duration_us(v: &Value) -> Option<u64> {
    let end = time_ms_precise(v.get("timestamp"))?;
    let start = time_ms_precise(v.get("start_timestamp"))?;
    let us = ((end - start) * 1000.0).round();
    (us.is_finite() && us >= 0.0).then_some(us as u64)
}

fn time_ms_precise(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64().map(|s| s * 1000.0),
        Value::String(s) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp_nanos() as f64 / 1e6),
        _ => None,
    }
}

/// A transaction's HTTP status: `contexts.response.status_code`, the
/// `http.status_code` tag, else from `contexts.trace.status` (`ok` → 200,
/// anything else → 500).
pub fn transaction_status(v: &Value) -> u16 {
    let from_response = v
        .pointer("/contexts/response/status_code")
        .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok()));
    let from_tag = tags(v)
        .into_iter()
        .find(|(k, _)| k == "http.status_code")
        .and_then(|(_, s)| s.parse().ok());
    if let Some(code) = from_response
        .or(from_tag)
        .filter(|c| (100..600).contains(c))
    {
        return code as u16;
    }
    match v.pointer("/contexts/trace/status").and_then(Value::as_str) {
        None | Some("ok") => 200,
        Some("not_found") => 404,
        Some("permission_denied" | "unauthenticated") => 403,
        Some("invalid_argument") => 400,
        Some(_) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_read_leniently() {
        assert_eq!(
            time_ms(Some(&json!("2026-11-22T10:00:00.250Z"))),
            Some(1_795_341_600_250)
        );
        assert_eq!(
            time_ms(Some(&json!(1_795_341_600.25))),
            Some(1_795_341_600_250)
        );
        assert_eq!(
            time_ms(Some(&json!("2026-11-22T10:00:00"))),
            Some(1_795_341_600_000)
        );
        assert_eq!(time_ms(Some(&json!("yesterday"))), None);
        assert_eq!(time_ms(Some(&json!({"a": 1}))), None);
        assert_eq!(level(&json!({"level": "WARN"})), "warning");
        assert_eq!(level(&json!({"level": "bogus"})), "error");
        assert_eq!(level(&json!({})), "error");
        assert_eq!(values(Some(&json!([1, 2]))).len(), 2);
        assert_eq!(values(Some(&json!({"values": [1]}))).len(), 1);
        assert!(values(Some(&json!("x"))).is_empty());
    }

    #[test]
    fn tags_come_from_a_map_or_pairs_with_the_builtin_ones_first() {
        let map = json!({"environment": "prod", "tags": {"browser": "Firefox", "n": 3, "o": {}}});
        assert_eq!(
            tags(&map),
            vec![
                ("environment".into(), "prod".into()),
                ("browser".into(), "Firefox".into()),
                ("n".into(), "3".into())
            ]
        );
        let pairs = json!({"tags": [["a", "1"], ["bad"], ["b", 2]]});
        assert_eq!(
            tags(&pairs),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
    }

    #[test]
    fn users_are_keyed_by_a_digest_of_the_first_identifier() {
        let by_id = user_key(&json!({"user": {"id": 7, "email": "a@example.com"}})).unwrap();
        assert_eq!(by_id, user_key(&json!({"user": {"id": "7"}})).unwrap());
        assert_eq!(by_id.len(), 32);
        assert_ne!(
            user_key(&json!({"user": {"email": "a@example.com"}})),
            user_key(&json!({"user": {"email": "b@example.com"}}))
        );
        assert_eq!(user_key(&json!({"user": {}})), None);
        assert_eq!(user_key(&json!({})), None);
    }

    #[test]
    fn transactions_give_a_duration_and_a_status() {
        let tx = json!({
            "start_timestamp": 1_795_341_600.0, "timestamp": 1_795_341_600.125,
            "contexts": {"trace": {"status": "ok"}}
        });
        assert_eq!(duration_us(&tx), Some(125_000));
        assert_eq!(transaction_status(&tx), 200);
        let failed = json!({"contexts": {"trace": {"status": "internal_error"}}});
        assert_eq!(transaction_status(&failed), 500);
        let coded = json!({"contexts": {"response": {"status_code": 404}}});
        assert_eq!(transaction_status(&coded), 404);
        let tagged = json!({"tags": {"http.status_code": "503"}});
        assert_eq!(transaction_status(&tagged), 503);
        assert_eq!(duration_us(&json!({"timestamp": 1.0})), None);
    }
}
