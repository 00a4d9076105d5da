//! Sessions' SQL: create, find by token hash (with the user), touch, list, delete.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;

use super::user_at;
use crate::auth::model::{Stage, User};

/// A session row with its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub stage: Stage,
    pub csrf_token: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub user: User,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub stage: Stage,
    pub csrf_token: &'a str,
    pub now_ms: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

pub fn insert_session(conn: &Connection, s: &NewSession<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, stage, csrf_token, created_ms, last_seen_ms, ip, user_agent) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
        params![
            s.token_hash,
            s.user_id,
            s.stage.as_str(),
            s.csrf_token,
            s.now_ms,
            s.ip,
            s.user_agent
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn session_by_hash(conn: &Connection, hash: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT s.id, s.stage, s.csrf_token, s.created_ms, s.last_seen_ms, \
             u.id, u.email, u.display_name, u.role, u.disabled, u.totp_secret IS NOT NULL, \
             u.password_hash IS NOT NULL, u.created_ms, u.last_login_ms \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
            [hash],
            |row| {
                let stage: String = row.get(1)?;
                Ok(SessionRow {
                    id: row.get(0)?,
                    stage: Stage::parse(&stage).unwrap_or(Stage::Totp),
                    csrf_token: row.get(2)?,
                    created_ms: row.get(3)?,
                    last_seen_ms: row.get(4)?,
                    user: user_at(row, 5)?,
                })
            },
        )
        .optional()?)
}

pub fn delete_session_by_hash(conn: &Connection, hash: &str) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?)
}

/// Deletes one of `user_id`'s sessions; 0 when it is not theirs.
pub fn delete_session(conn: &Connection, id: i64, user_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )?)
}

/// Deletes every session of `user_id`, except the one with hash `keep`.
pub fn delete_user_sessions(
    conn: &Connection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR token_hash != ?2)",
        params![user_id, keep],
    )?)
}

/// Sessions that ended by timeout, removed by the sweeper.
pub fn delete_stale_sessions(
    conn: &Connection,
    idle_before_ms: i64,
    created_before_ms: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE last_seen_ms < ?1 OR created_ms < ?2",
        params![idle_before_ms, created_before_ms],
    )?)
}

pub fn touch_sessions(conn: &Connection, seen: &[(String, i64)]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "UPDATE sessions SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE token_hash = ?1",
    )?;
    for (hash, at) in seen {
        stmt.execute(params![hash, at])?;
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    pub id: i64,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub ip: String,
    pub user_agent: String,
    #[serde(skip)]
    pub token_hash: String,
}

pub fn list_sessions(conn: &Connection, user_id: i64) -> Result<Vec<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, created_ms, last_seen_ms, ip, user_agent, token_hash FROM sessions \
         WHERE user_id = ?1 AND stage = 'full' ORDER BY last_seen_ms DESC",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(SessionInfo {
            id: r.get(0)?,
            created_ms: r.get(1)?,
            last_seen_ms: r.get(2)?,
            ip: r.get(3)?,
            user_agent: r.get(4)?,
            token_hash: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
