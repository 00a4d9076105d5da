//! The alerting SQL: instances, events, the outbox and silences.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::model::{Instance, Phase};
use crate::store::StoreError;

/// An instance as stored, with what it was last about.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceRow {
    pub rule_id: String,
    pub subject: String,
    #[schema(value_type = String)]
    pub phase: Phase,
    pub since_ms: i64,
    pub summary: String,
    pub severity: String,
    pub notified_ms: Option<i64>,
    #[serde(skip)]
    #[schema(ignore)]
    pub state: Option<Instance>,
}

pub fn instances(conn: &Connection) -> Result<Vec<InstanceRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rule_id, subject, phase, since_ms, clear_since_ms, notified_ms, recent_firings, summary, severity
         FROM alert_instances ORDER BY since_ms DESC",
    )?;
    let rows = stmt
        .query_map([], |r| {
            let phase = Phase::parse(&r.get::<_, String>(2)?);
            let recent: String = r.get(6)?;
            let state = Instance {
                phase,
                since_ms: r.get(3)?,
                clear_since_ms: r.get(4)?,
                notified_ms: r.get(5)?,
                recent_firings: recent.split(',').filter_map(|t| t.parse().ok()).collect(),
            };
            Ok(InstanceRow {
                rule_id: r.get(0)?,
                subject: r.get(1)?,
                phase,
                since_ms: state.since_ms,
                summary: r.get(7)?,
                severity: r.get(8)?,
                notified_ms: state.notified_ms,
                state: Some(state),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Stores an instance, or forgets it once it is inactive with nothing to remember.
pub fn save_instance(
    conn: &Connection,
    rule_id: &str,
    subject: &str,
    inst: &Instance,
    summary: &str,
    severity: &str,
) -> Result<(), StoreError> {
    if inst.phase == Phase::Inactive && inst.recent_firings.is_empty() {
        conn.execute(
            "DELETE FROM alert_instances WHERE rule_id = ?1 AND subject = ?2",
            params![rule_id, subject],
        )?;
        return Ok(());
    }
    let recent: Vec<String> = inst.recent_firings.iter().map(i64::to_string).collect();
    conn.execute(
        "INSERT INTO alert_instances (rule_id, subject, phase, since_ms, clear_since_ms, notified_ms, recent_firings, summary, severity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (rule_id, subject) DO UPDATE SET phase = ?3, since_ms = ?4, clear_since_ms = ?5,
           notified_ms = ?6, recent_firings = ?7, summary = ?8, severity = ?9",
        params![
            rule_id,
            subject,
            inst.phase.as_str(),
            inst.since_ms,
            inst.clear_since_ms,
            inst.notified_ms,
            recent.join(","),
            summary,
            severity
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventRow {
    pub id: i64,
    pub ts_ms: i64,
    pub rule_id: String,
    pub subject: String,
    pub event: String,
    pub summary: String,
}

pub fn add_event(
    conn: &Connection,
    ts_ms: i64,
    rule_id: &str,
    subject: &str,
    event: &str,
    summary: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO alert_events (ts_ms, rule_id, subject, event, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ts_ms, rule_id, subject, event, summary],
    )?;
    Ok(())
}

pub fn events(conn: &Connection, limit: i64) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ts_ms, rule_id, subject, event, summary FROM alert_events ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(EventRow {
                id: r.get(0)?,
                ts_ms: r.get(1)?,
                rule_id: r.get(2)?,
                subject: r.get(3)?,
                event: r.get(4)?,
                summary: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxRow {
    pub id: i64,
    pub channel_id: String,
    pub idempotency_key: String,
    /// The notification as JSON.
    pub body: String,
    /// queued | sent | dead
    pub status: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
    pub digest_key: Option<String>,
}

const OUTBOX_COLUMNS: &str = "id, channel_id, idempotency_key, body, status, attempts, next_attempt_ms, last_error, created_ms, sent_ms, digest_key";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        channel_id: r.get(1)?,
        idempotency_key: r.get(2)?,
        body: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_ms: r.get(6)?,
        last_error: r.get(7)?,
        created_ms: r.get(8)?,
        sent_ms: r.get(9)?,
        digest_key: r.get(10)?,
    })
}

pub fn enqueue(
    conn: &Connection,
    channel_id: &str,
    key: &str,
    body: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO alert_outbox (channel_id, idempotency_key, body, status, next_attempt_ms, created_ms)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?4)",
        params![channel_id, key, body, now_ms],
    )?;
    Ok(())
}

/// Queued notifications whose next attempt is due, oldest first.
pub fn due(conn: &Connection, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE status = 'queued' AND next_attempt_ms <= ?1
         ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![now_ms, limit], outbox_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Notifications, newest first; `status` narrows to one state.
pub fn outbox(
    conn: &Connection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![status, limit], outbox_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// How many went out on `channel_id` since `since_ms` (for its rate limit).
pub fn sent_since(conn: &Connection, channel_id: &str, since_ms: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(DISTINCT COALESCE(digest_key, idempotency_key)) FROM alert_outbox
         WHERE channel_id = ?1 AND status = 'sent' AND sent_ms >= ?2",
        params![channel_id, since_ms],
        |r| r.get(0),
    )?)
}

pub fn mark_sent(
    conn: &Connection,
    ids: &[i64],
    now_ms: i64,
    digest_key: Option<&str>,
) -> Result<(), StoreError> {
    for id in ids {
        conn.execute(
            "UPDATE alert_outbox SET status = 'sent', sent_ms = ?2, attempts = attempts + 1, digest_key = ?3, last_error = NULL
             WHERE id = ?1",
            params![id, now_ms, digest_key],
        )?;
    }
    Ok(())
}

/// A failed attempt: try again at `next_ms`, or dead-letter it.
pub fn mark_failed(
    conn: &Connection,
    ids: &[i64],
    error: &str,
    next_ms: Option<i64>,
) -> Result<(), StoreError> {
    for id in ids {
        conn.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?2,
               status = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'queued' END,
               next_attempt_ms = COALESCE(?3, next_attempt_ms)
             WHERE id = ?1",
            params![id, error, next_ms],
        )?;
    }
    Ok(())
}

/// A dead letter back in the queue, for another round of attempts.
pub fn requeue(conn: &Connection, id: i64, now_ms: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE alert_outbox SET status = 'queued', attempts = 0, next_attempt_ms = ?2 WHERE id = ?1 AND status = 'dead'",
        params![id, now_ms],
    )? == 1)
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Silence {
    #[serde(default)]
    pub id: i64,
    /// A rule id; empty = any rule.
    #[serde(default)]
    pub rule_id: String,
    /// A subject or its beginning (`check:homepage`, `ip:`); empty = any.
    #[serde(default)]
    pub subject: String,
    /// `name=value` of a rule label; empty = any.
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub starts_ms: i64,
    pub ends_ms: i64,
    #[serde(default)]
    pub created_by: String,
    pub comment: String,
    #[serde(default)]
    pub created_ms: i64,
}

pub fn add_silence(conn: &Connection, s: &Silence) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO alert_silences (rule_id, subject, label, starts_ms, ends_ms, created_by, comment, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            s.rule_id,
            s.subject,
            s.label,
            s.starts_ms,
            s.ends_ms,
            s.created_by,
            s.comment,
            s.created_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Ends a silence now; false when there is no such silence still running.
pub fn end_silence(conn: &Connection, id: i64, now_ms: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE alert_silences SET ends_ms = ?2 WHERE id = ?1 AND ends_ms > ?2",
        params![id, now_ms],
    )? == 1)
}

/// Silences that have not ended by `now_ms`, soonest ending first.
pub fn silences(conn: &Connection, now_ms: i64) -> Result<Vec<Silence>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, rule_id, subject, label, starts_ms, ends_ms, created_by, comment, created_ms
         FROM alert_silences WHERE ends_ms > ?1 ORDER BY ends_ms",
    )?;
    let rows = stmt
        .query_map([now_ms], |r| {
            Ok(Silence {
                id: r.get(0)?,
                rule_id: r.get(1)?,
                subject: r.get(2)?,
                label: r.get(3)?,
                starts_ms: r.get(4)?,
                ends_ms: r.get(5)?,
                created_by: r.get(6)?,
                comment: r.get(7)?,
                created_ms: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Retention: events and finished notifications older than `before_ms`.
pub fn prune(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    let events = conn.execute(
        "DELETE FROM alert_events WHERE id IN (SELECT id FROM alert_events WHERE ts_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?;
    let outbox = conn.execute(
        "DELETE FROM alert_outbox WHERE id IN
         (SELECT id FROM alert_outbox WHERE status != 'queued' AND created_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?;
    let silences = conn.execute(
        "DELETE FROM alert_silences WHERE id IN (SELECT id FROM alert_silences WHERE ends_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?;
    Ok(events + outbox + silences)
}

/// A stored rule: its `[[alerts.rules]]` entry as JSON and where it came from.
pub struct RuleRow {
    pub id: String,
    pub definition: String,
    pub origin: String,
}

pub fn rules(conn: &Connection) -> Result<Vec<RuleRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, definition, origin FROM alert_rules ORDER BY rowid")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(RuleRow {
                id: r.get(0)?,
                definition: r.get(1)?,
                origin: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The origin of rule `id`, if it exists.
pub fn rule_origin(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT origin FROM alert_rules WHERE id = ?1")?;
    let mut rows = stmt.query([id])?;
    Ok(match rows.next()? {
        Some(r) => Some(r.get(0)?),
        None => None,
    })
}

/// Inserts or replaces rule `id`. With `keep_existing`, an existing row wins.
pub fn put_rule(
    conn: &Connection,
    id: &str,
    definition: &str,
    origin: &str,
    now_ms: i64,
    keep_existing: bool,
) -> Result<(), StoreError> {
    let sql = if keep_existing {
        "INSERT OR IGNORE INTO alert_rules (id, definition, origin, updated_ms) VALUES (?1, ?2, ?3, ?4)"
    } else {
        "INSERT INTO alert_rules (id, definition, origin, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET definition = ?2, origin = ?3, updated_ms = ?4"
    };
    conn.execute(sql, params![id, definition, origin, now_ms])?;
    Ok(())
}

/// Deletes rule `id` with everything remembered about it.
pub fn delete_rule(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM alert_instances WHERE rule_id = ?1", [id])?;
    Ok(conn.execute("DELETE FROM alert_rules WHERE id = ?1", [id])? == 1)
}

/// Deletes the rules of `origin` whose ids are not in `keep`.
pub fn prune_rules(conn: &Connection, origin: &str, keep: &[String]) -> Result<usize, StoreError> {
    let mut gone = 0;
    for row in rules(conn)? {
        if row.origin == origin && !keep.contains(&row.id) {
            delete_rule(conn, &row.id)?;
            gone += 1;
        }
    }
    Ok(gone)
}

/// A stored channel: its kind, its sealed entry and where it came from.
pub struct ChannelRow {
    pub id: String,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub origin: String,
}

pub fn channels(conn: &Connection) -> Result<Vec<ChannelRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, kind, sealed, origin FROM alert_channels ORDER BY rowid")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ChannelRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                sealed: r.get(2)?,
                origin: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn put_channel(conn: &Connection, row: &ChannelRow, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO alert_channels (id, kind, sealed, origin, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET kind = ?2, sealed = ?3, origin = ?4, updated_ms = ?5",
        params![row.id, row.kind, row.sealed, row.origin, now_ms],
    )?;
    Ok(())
}

pub fn delete_channel(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM alert_channels WHERE id = ?1", [id])? == 1)
}

/// Deletes the channels of `origin` whose ids are not in `keep`.
pub fn prune_channels(
    conn: &Connection,
    origin: &str,
    keep: &[String],
) -> Result<usize, StoreError> {
    let mut gone = 0;
    for row in channels(conn)? {
        if row.origin == origin && !keep.contains(&row.id) {
            delete_channel(conn, &row.id)?;
            gone += 1;
        }
    }
    Ok(gone)
}
