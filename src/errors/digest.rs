//! Digesting one stored item, as a pure step: decompress, parse, and for an
//! event normalise, scrub and group it; for a transaction read what request
//! performance needs; for sessions and client reports read their counts.
//! The task commits the results in batches (`digest_repo::commit`).

use std::io::{Read, Write};

use serde_json::Value;

use super::event;
use super::grouping;
use super::scrub;

/// One undigested item, as stored.
pub struct Pending {
    pub id: i64,
    pub project_id: i64,
    pub event_id: String,
    pub kind: String,
    pub received_ms: i64,
    pub payload: Vec<u8>,
}

/// An event, ready to be stored and counted against its issue.
pub struct EventRow {
    pub project_id: i64,
    pub event_id: String,
    pub ts_ms: i64,
    pub received_ms: i64,
    pub level: &'static str,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub grouping_version: &'static str,
    pub hash: String,
    pub title: String,
    pub culprit: Option<String>,
    pub user_key: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The scrubbed event, deflate-compressed.
    pub payload: Vec<u8>,
}

/// A transaction, for request performance (`app:<project>`).
pub struct Transaction {
    pub project_id: i64,
    pub name: String,
    pub method: String,
    pub status: u16,
    pub us: u64,
    pub ts_ms: i64,
}

/// Finished sessions of one release and environment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sessions {
    pub release: String,
    pub environment: String,
    pub total: i64,
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
}

/// What one item turned into.
pub enum Digest {
    Event(Box<EventRow>),
    Transaction(Transaction),
    Sessions(Vec<Sessions>),
    /// (reason, category, quantity) of events an SDK dropped.
    ClientReport(Vec<(String, String, i64)>),
    /// Not JSON, or not an object: dropped and counted as `invalid:<kind>`.
    Invalid,
}

pub fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Inflates a stored payload, at most `max` bytes.
pub fn inflate(bytes: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= max).then_some(out)
}

/// Digests one item; never fails, never panics.
pub fn digest(item: &Pending) -> Digest {
    let Some(bytes) = inflate(&item.payload, super::service::MAX_DECOMPRESSED) else {
        return Digest::Invalid;
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Digest::Invalid;
    };
    if !value.is_object() {
        return Digest::Invalid;
    }
    match item.kind.as_str() {
        "event" => Digest::Event(Box::new(event_row(item, &mut value))),
        "transaction" => transaction(item, &value),
        "sessions" => Digest::Sessions(aggregates(&value)),
        "session" => Digest::Sessions(single_session(&value).into_iter().collect()),
        "client_report" => Digest::ClientReport(discarded(&value)),
        _ => Digest::Invalid,
    }
}

fn event_row(item: &Pending, value: &mut Value) -> EventRow {
    scrub::scrub_event(value);
    let grouping = grouping::group(value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("event_id".into(), Value::String(item.event_id.clone()));
    }
    let ts_ms = event::time_ms(value.get("timestamp"))
        .filter(|t| (item.received_ms - 30 * 86_400_000..=item.received_ms + 60_000).contains(t))
        .unwrap_or(item.received_ms);
    EventRow {
        project_id: item.project_id,
        event_id: item.event_id.clone(),
        ts_ms,
        received_ms: item.received_ms,
        level: event::level(value),
        release: event::text(value, "release", 200),
        environment: event::text(value, "environment", 64),
        grouping_version: grouping.version,
        hash: grouping.hash,
        title: grouping::title(value),
        culprit: grouping::culprit(value),
        user_key: event::user_key(value),
        tags: event::tags(value),
        payload: deflate(value.to_string().as_bytes()),
    }
}

fn transaction(item: &Pending, value: &Value) -> Digest {
    let (Some(name), Some(us)) = (
        event::text(value, "transaction", 200),
        event::duration_us(value),
    ) else {
        return Digest::Invalid;
    };
    let method = value
        .pointer("/request/method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    Digest::Transaction(Transaction {
        project_id: item.project_id,
        name,
        method,
        status: event::transaction_status(value),
        us,
        ts_ms: event::time_ms(value.get("timestamp")).unwrap_or(item.received_ms),
    })
}

fn attrs(value: &Value) -> (String, String) {
    let attrs = value.get("attrs").unwrap_or(&Value::Null);
    (
        event::text(attrs, "release", 200).unwrap_or_default(),
        event::text(attrs, "environment", 64).unwrap_or_default(),
    )
}

fn count(v: &Value, key: &str) -> i64 {
    v.get(key)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .clamp(0, 1_000_000)
}

/// A `sessions` item: `{attrs, aggregates: [{exited, errored, crashed, abnormal}]}`.
fn aggregates(value: &Value) -> Vec<Sessions> {
    let (release, environment) = attrs(value);
    let mut total = Sessions {
        release,
        environment,
        ..Sessions::default()
    };
    for bucket in value
        .get("aggregates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
    {
        let (exited, errored, crashed, abnormal) = (
            count(bucket, "exited"),
            count(bucket, "errored"),
            count(bucket, "crashed"),
            count(bucket, "abnormal"),
        );
        total.total += exited + errored + crashed + abnormal;
        total.errored += errored;
        total.crashed += crashed;
        total.abnormal += abnormal;
    }
    if total.total == 0 {
        return Vec::new();
    }
    vec![total]
}

/// A `session` update counts when the session ends.
fn single_session(value: &Value) -> Option<Sessions> {
    let (release, environment) = attrs(value);
    let status = value.get("status").and_then(Value::as_str)?;
    let errored = i64::from(count(value, "errors") > 0);
    let mut s = Sessions {
        release,
        environment,
        total: 1,
        ..Sessions::default()
    };
    match status {
        "exited" => s.errored = errored,
        "crashed" => s.crashed = 1,
        "abnormal" => s.abnormal = 1,
        _ => return None,
    }
    Some(s)
}

fn discarded(value: &Value) -> Vec<(String, String, i64)> {
    value
        .get("discarded_events")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|d| {
            Some((
                event::text(d, "reason", 64)?,
                event::text(d, "category", 64)?,
                count(d, "quantity"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pending(kind: &str, body: &Value) -> Pending {
        Pending {
            id: 1,
            project_id: 2,
            event_id: "9ec79c33ec9942ab8353589fcb2e04dc".into(),
            kind: kind.into(),
            received_ms: 1_795_341_600_000,
            payload: deflate(body.to_string().as_bytes()),
        }
    }

    #[test]
    fn an_event_is_scrubbed_grouped_and_kept_compressed() {
        let body = json!({
            "timestamp": 1_795_341_599.5, "level": "warning", "release": "shop@1.2",
            "environment": "prod",
            "exception": {"values": [{"type": "KeyError", "value": "'user 42'"}]},
            "request": {"headers": {"Authorization": "Bearer abc"}},
            "user": {"id": "7"}
        });
        let Digest::Event(row) = digest(&pending("event", &body)) else {
            panic!("an event digests to an event row");
        };
        assert_eq!(row.ts_ms, 1_795_341_599_500);
        assert_eq!(row.level, "warning");
        assert_eq!(row.release.as_deref(), Some("shop@1.2"));
        assert!(row.title.starts_with("KeyError"));
        assert!(row.user_key.is_some());
        let stored: Value =
            serde_json::from_slice(&inflate(&row.payload, 1 << 20).unwrap()).unwrap();
        assert_eq!(stored["request"]["headers"]["Authorization"], "[Filtered]");
        assert_eq!(stored["event_id"], "9ec79c33ec9942ab8353589fcb2e04dc");
    }

    #[test]
    fn a_far_off_timestamp_falls_back_to_the_arrival_time() {
        let Digest::Event(row) = digest(&pending("event", &json!({"timestamp": 1.0}))) else {
            panic!("an event digests to an event row");
        };
        assert_eq!(row.ts_ms, 1_795_341_600_000);
    }

    #[test]
    fn transactions_sessions_and_reports_are_read() {
        let tx = json!({"transaction": "/api/orders/{id}", "start_timestamp": 10.0,
            "timestamp": 10.25, "request": {"method": "post"}});
        let Digest::Transaction(t) = digest(&pending("transaction", &tx)) else {
            panic!("a transaction digests to a transaction");
        };
        assert_eq!(
            (t.name.as_str(), t.method.as_str(), t.status, t.us),
            ("/api/orders/{id}", "POST", 200, 250_000)
        );
        let sessions = json!({"attrs": {"release": "r1", "environment": "prod"},
            "aggregates": [{"exited": 5, "errored": 2}, {"crashed": 1}]});
        let Digest::Sessions(s) = digest(&pending("sessions", &sessions)) else {
            panic!("sessions digest to counts");
        };
        assert_eq!(
            s,
            vec![Sessions {
                release: "r1".into(),
                environment: "prod".into(),
                total: 8,
                errored: 2,
                crashed: 1,
                abnormal: 0
            }]
        );
        let Digest::Sessions(one) = digest(&pending("session", &json!({"status": "ok"}))) else {
            panic!("a session update digests to counts");
        };
        assert!(one.is_empty());
        let report = json!({"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}, {"reason": "x"}]});
        let Digest::ClientReport(r) = digest(&pending("client_report", &report)) else {
            panic!("a client report digests to counts");
        };
        assert_eq!(r, vec![("queue_overflow".into(), "error".into(), 3)]);
    }

    #[test]
    fn garbage_is_invalid_not_a_failure() {
        for body in [b"not json".to_vec(), b"[1,2]".to_vec()] {
            let mut item = pending("event", &json!({}));
            item.payload = deflate(&body);
            assert!(matches!(digest(&item), Digest::Invalid));
        }
        let mut item = pending("event", &json!({}));
        item.payload = b"not deflate".to_vec();
        assert!(matches!(digest(&item), Digest::Invalid));
        let no_name = json!({"start_timestamp": 1.0, "timestamp": 2.0});
        assert!(matches!(
            digest(&pending("transaction", &no_name)),
            Digest::Invalid
        ));
    }
}
