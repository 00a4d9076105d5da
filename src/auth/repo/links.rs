//! One-time links' SQL: the first-run setup link and set-password links.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;

pub fn insert_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    user_id: Option<i64>,
    now_ms: i64,
    expires_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_ms, expires_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash, purpose, user_id, now_ms, expires_ms],
    )?;
    Ok(())
}

/// The live link's user (for set-password) without using it up.
pub fn peek_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    now_ms: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT user_id FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2 AND expires_ms > ?3",
            params![hash, purpose, now_ms],
            |r| r.get(0),
        )
        .optional()?)
}

/// Uses up a live link: returns its user (`Some(None)` for setup links).
pub fn take_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    now_ms: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    Ok(conn
        .query_row(
            "DELETE FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2 AND expires_ms > ?3 \
             RETURNING user_id",
            params![hash, purpose, now_ms],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn delete_one_time_purpose(conn: &Connection, purpose: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM one_time_tokens WHERE purpose = ?1", [purpose])?;
    Ok(())
}
