//! The SQL of `ip_bans`: the ban list, its history, lifting, extending, and
//! noticing ends (expiry or lift) exactly once.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Ban {
    pub id: i64,
    /// An address or a CIDR block.
    pub ip: String,
    pub reason: String,
    pub detector: Option<String>,
    /// `http` (own traffic), `auth`, a log source's id, or `manual`.
    pub source: String,
    pub created_ms: i64,
    pub first_seen_ms: Option<i64>,
    pub until_ms: i64,
    pub hits: i64,
    pub lifted_ms: Option<i64>,
    pub lifted_by: Option<String>,
}

const COLUMNS: &str = "id, ip, reason, detector, source, created_ms, first_seen_ms, until_ms, \
                       hits, lifted_ms, lifted_by";

fn ban(r: &Row<'_>) -> rusqlite::Result<Ban> {
    Ok(Ban {
        id: r.get(0)?,
        ip: r.get(1)?,
        reason: r.get(2)?,
        detector: r.get(3)?,
        source: r.get(4)?,
        created_ms: r.get(5)?,
        first_seen_ms: r.get(6)?,
        until_ms: r.get(7)?,
        hits: r.get(8)?,
        lifted_ms: r.get(9)?,
        lifted_by: r.get(10)?,
    })
}

/// A ban to record.
pub struct NewBan<'a> {
    pub ip: &'a str,
    pub reason: &'a str,
    pub detector: Option<&'a str>,
    pub source: &'a str,
    pub first_seen_ms: Option<i64>,
    pub until_ms: i64,
    pub hits: i64,
}

pub fn insert(conn: &Connection, b: &NewBan<'_>, now_ms: i64) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO ip_bans (ip, reason, detector, source, created_ms, first_seen_ms, until_ms, hits) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![b.ip, b.reason, b.detector, b.source, now_ms, b.first_seen_ms, b.until_ms, b.hits],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Bans in force now, soonest to end last.
pub fn active(conn: &Connection, now_ms: i64) -> Result<Vec<Ban>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM ip_bans WHERE until_ms > ?1 AND lifted_ms IS NULL \
         ORDER BY until_ms DESC"
    ))?;
    let rows = stmt.query_map([now_ms], ban)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The one ban in force for exactly this address or block.
pub fn active_for(conn: &Connection, ip: &str, now_ms: i64) -> Result<Option<Ban>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM ip_bans WHERE ip = ?1 AND until_ms > ?2 \
                 AND lifted_ms IS NULL ORDER BY until_ms DESC LIMIT 1"
            ),
            params![ip, now_ms],
            ban,
        )
        .optional()?)
}

/// How long the target's latest ban since `since_ms` was meant to last.
pub fn previous_length(
    conn: &Connection,
    ip: &str,
    since_ms: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT until_ms - created_ms FROM ip_bans WHERE ip = ?1 AND created_ms >= ?2 \
             ORDER BY created_ms DESC LIMIT 1",
            params![ip, since_ms],
            |r| r.get(0),
        )
        .optional()?)
}

/// Ends the bans in force on the target; how many were lifted.
pub fn lift(conn: &Connection, ip: &str, by: &str, now_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE ip_bans SET lifted_ms = ?3, lifted_by = ?2 \
         WHERE ip = ?1 AND until_ms > ?3 AND lifted_ms IS NULL",
        params![ip, by, now_ms],
    )?)
}

/// Moves the end of the target's ban in force; how many were changed.
pub fn extend(
    conn: &Connection,
    ip: &str,
    until_ms: i64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE ip_bans SET until_ms = ?2 WHERE ip = ?1 AND until_ms > ?3 AND lifted_ms IS NULL",
        params![ip, until_ms, now_ms],
    )?)
}

/// Bans that have ended (expired or lifted) and were not yet noticed; marks
/// them noticed, so each end is handled once.
pub fn take_ended(conn: &Connection, now_ms: i64) -> Result<Vec<Ban>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE ip_bans SET ended_ms = ?1 WHERE ended_ms IS NULL \
         AND (until_ms <= ?1 OR lifted_ms IS NOT NULL) RETURNING {COLUMNS}"
    ))?;
    let rows = stmt.query_map([now_ms], ban)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest bans, in force or not (the history on the security page).
pub fn recent(conn: &Connection, limit: i64) -> Result<Vec<Ban>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM ip_bans ORDER BY created_ms DESC, id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], ban)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retention: at most `limit` bans that ended before `before_ms` (bans in
/// force are kept, however old).
pub fn prune(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM ip_bans WHERE id IN (SELECT id FROM ip_bans \
         WHERE ended_ms IS NOT NULL AND ended_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}
