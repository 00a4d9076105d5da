//! The audit trail's SQL, and only its SQL. Rows are inserted, read, and have
//! their personal columns blanked by erasure; the triggers of
//! `migrations/0002_audit_trail.sql` refuse anything else.

use std::ops::ControlFlow;

use rusqlite::{Connection, Row, named_params};

use super::filter::Filter;
use super::model::{Canonical, Personal, Record};
use crate::store::StoreError;

/// The id and hash of the newest row.
pub fn last_link(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, hash FROM audit_trail ORDER BY id DESC LIMIT 1")?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(row) => Ok(Some((row.get(0)?, row.get(1)?))),
        None => Ok(None),
    }
}

pub fn insert(conn: &Connection, record: &Record) -> Result<(), StoreError> {
    let (c, p) = (&record.canonical, &record.personal);
    conn.prepare_cached(
        "INSERT INTO audit_trail (id, ts_ms, actor_kind, actor_id, action, target, outcome, \
         request_id, details, pii_digest, prev_hash, hash, actor_email, ip, user_agent, pii_details) \
         VALUES (:id, :ts_ms, :actor_kind, :actor_id, :action, :target, :outcome, :request_id, \
         :details, :pii_digest, :prev_hash, :hash, :actor_email, :ip, :user_agent, :pii_details)",
    )?
    .execute(named_params! {
        ":id": c.id,
        ":ts_ms": c.ts_ms,
        ":actor_kind": c.actor_kind,
        ":actor_id": c.actor_id,
        ":action": c.action,
        ":target": c.target,
        ":outcome": c.outcome,
        ":request_id": c.request_id,
        ":details": c.details,
        ":pii_digest": c.pii_digest,
        ":prev_hash": c.prev_hash,
        ":hash": record.hash,
        ":actor_email": p.email,
        ":ip": p.ip,
        ":user_agent": p.user_agent,
        ":pii_details": p.details,
    })?;
    Ok(())
}

fn record(row: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        canonical: Canonical {
            id: row.get("id")?,
            ts_ms: row.get("ts_ms")?,
            actor_kind: row.get("actor_kind")?,
            actor_id: row.get("actor_id")?,
            action: row.get("action")?,
            target: row.get("target")?,
            outcome: row.get("outcome")?,
            request_id: row.get("request_id")?,
            details: row.get("details")?,
            pii_digest: row.get("pii_digest")?,
            prev_hash: row.get("prev_hash")?,
        },
        hash: row.get("hash")?,
        personal: Personal {
            email: row.get("actor_email")?,
            ip: row.get("ip")?,
            user_agent: row.get("user_agent")?,
            details: row.get("pii_details")?,
        },
        erased_ms: row.get("erased_ms")?,
    })
}

/// Calls `visit` with every row, oldest first, until it breaks.
pub fn each_in_order<E: From<rusqlite::Error>>(
    conn: &Connection,
    mut visit: impl FnMut(Record) -> Result<ControlFlow<()>, E>,
) -> Result<(), E> {
    let mut stmt = conn.prepare(
        "SELECT id, ts_ms, actor_kind, actor_id, action, target, outcome, request_id, details, \
         pii_digest, prev_hash, hash, actor_email, ip, user_agent, pii_details, erased_ms \
         FROM audit_trail ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        if visit(record(row)?)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Up to `limit` rows matching `filter`, newest first, older than `before`
/// (an id) when given.
pub fn page(
    conn: &Connection,
    filter: &Filter,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Record>, StoreError> {
    let contains = |s: &String| format!("%{}%", like_escape(s));
    let (action_exact, action_prefix) = match filter.action.as_deref() {
        Some(a) if a.ends_with('*') => (
            None,
            Some(format!("{}%", like_escape(a.trim_end_matches('*')))),
        ),
        Some(a) if a.ends_with('.') => (None, Some(format!("{}%", like_escape(a)))),
        Some(a) => (Some(a.to_string()), None),
        None => (None, None),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, ts_ms, actor_kind, actor_id, action, target, outcome, request_id, details, \
         pii_digest, prev_hash, hash, actor_email, ip, user_agent, pii_details, erased_ms \
         FROM audit_trail \
         WHERE (:before IS NULL OR id < :before) \
           AND (:actor IS NULL OR actor_kind = :actor OR CAST(actor_id AS TEXT) = :actor \
                OR actor_email LIKE :actor_like ESCAPE '\\') \
           AND (:action IS NULL OR action = :action) \
           AND (:action_prefix IS NULL OR action LIKE :action_prefix ESCAPE '\\') \
           AND (:outcome IS NULL OR outcome = :outcome) \
           AND (:from_ms IS NULL OR ts_ms >= :from_ms) \
           AND (:until_ms IS NULL OR ts_ms < :until_ms) \
           AND (:text IS NULL OR action LIKE :text ESCAPE '\\' OR target LIKE :text ESCAPE '\\' \
                OR details LIKE :text ESCAPE '\\') \
         ORDER BY id DESC LIMIT :limit",
    )?;
    let rows = stmt.query_map(
        named_params! {
            ":before": before,
            ":actor": filter.actor,
            ":actor_like": filter.actor.as_ref().map(contains),
            ":action": action_exact,
            ":action_prefix": action_prefix,
            ":outcome": filter.outcome.map(|o| o.as_str()),
            ":from_ms": filter.from_ms,
            ":until_ms": filter.until_ms,
            ":text": filter.text.as_ref().map(contains),
            ":limit": limit,
        },
        record,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The actions recorded so far, for the filter's suggestions.
/// Of `target`'s successful logins before the newest: how many there were,
/// and how many came from `ip` (rows whose personal data was erased count
/// as from elsewhere).
pub fn earlier_logins(conn: &Connection, target: &str, ip: &str) -> Result<(i64, i64), StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(ip = ?2), 0) FROM audit_trail
         WHERE action = 'login.success' AND target = ?1
           AND id < (SELECT MAX(id) FROM audit_trail WHERE action = 'login.success' AND target = ?1)",
        rusqlite::params![target, ip],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

pub fn actions(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT action FROM audit_trail ORDER BY action")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids of the rows, not yet erased, whose personal data mentions `email`.
pub fn ids_mentioning(conn: &Connection, email: &str) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, actor_email, ip, user_agent, pii_details FROM audit_trail \
         WHERE erased_ms IS NULL AND (actor_email IS NOT NULL OR pii_details IS NOT NULL) \
         ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        let personal = Personal {
            email: row.get(1)?,
            ip: row.get(2)?,
            user_agent: row.get(3)?,
            details: row.get(4)?,
        };
        if personal.mentions(email) {
            ids.push(row.get(0)?);
        }
    }
    Ok(ids)
}

/// Ids of the rows, not yet erased, that account `user_id` acted in, or
/// that are about it and hold personal details.
pub fn ids_of_user(conn: &Connection, user_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id FROM audit_trail WHERE erased_ms IS NULL \
         AND ((actor_kind = 'user' AND actor_id = ?1) \
              OR (target = ?2 AND (actor_email IS NOT NULL OR ip IS NOT NULL \
                  OR user_agent IS NOT NULL OR pii_details IS NOT NULL))) ORDER BY id",
    )?;
    let rows = stmt.query_map(rusqlite::params![user_id, format!("user:{user_id}")], |r| {
        r.get(0)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids of the rows, not yet erased, recorded from `ip`.
pub fn ids_from_ip(conn: &Connection, ip: &str) -> Result<Vec<i64>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id FROM audit_trail WHERE erased_ms IS NULL AND ip = ?1 ORDER BY id")?;
    let rows = stmt.query_map([ip], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Distinct addresses on rows (not yet erased) acted by `user_id` or by `email`.
pub fn ips_of(conn: &Connection, user_id: i64, email: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT ip FROM audit_trail WHERE erased_ms IS NULL AND ip IS NOT NULL \
         AND ((actor_kind = 'user' AND actor_id = ?1) OR lower(actor_email) = lower(?2)) \
         ORDER BY ip",
    )?;
    let rows = stmt.query_map(rusqlite::params![user_id, email.trim()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Blanks the personal columns of row `id` (the only update the triggers allow).
pub fn erase_personal(conn: &Connection, id: i64, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE audit_trail SET actor_email = NULL, ip = NULL, user_agent = NULL, \
         pii_details = NULL, erased_ms = ?2 WHERE id = ?1",
    )?
    .execute(rusqlite::params![id, now_ms])?;
    Ok(())
}

/// Sets `PRAGMA secure_delete` (0 off, 1 on: freed space is zeroed, 2 fast)
/// and returns the previous setting.
pub fn secure_delete(conn: &Connection, mode: i64) -> Result<i64, StoreError> {
    let previous: i64 = conn.pragma_query_value(None, "secure_delete", |row| row.get(0))?;
    conn.pragma_update(None, "secure_delete", mode)?;
    Ok(previous)
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`: copies the write-ahead log into the
/// database and empties it. False when readers kept it from finishing.
pub fn checkpoint_truncate(conn: &Connection) -> Result<bool, StoreError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    Ok(busy == 0)
}
