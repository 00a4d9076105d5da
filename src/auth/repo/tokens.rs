//! API tokens' SQL: create, find a live one by hash, list, revoke, touch.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::StoreError;

use crate::auth::model::Scope;

pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub scope: Scope,
    pub now_ms: i64,
    pub expires_ms: Option<i64>,
}

pub fn insert_token(conn: &Connection, t: &NewToken<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, name, scope, created_ms, expires_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            t.token_hash,
            t.user_id,
            t.name,
            t.scope.as_str(),
            t.now_ms,
            t.expires_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    let scope: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: scope.parse().unwrap_or(Scope::Read),
        created_ms: r.get(3)?,
        expires_ms: r.get(4)?,
        last_used_ms: r.get(5)?,
        revoked_ms: r.get(6)?,
    })
}

pub fn list_tokens(conn: &Connection, user_id: i64) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, scope, created_ms, expires_ms, last_used_ms, revoked_ms FROM api_tokens \
         WHERE user_id = ?1 ORDER BY created_ms DESC, id DESC",
    )?;
    let rows = stmt.query_map([user_id], token_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A live token (not revoked) and its user.
pub fn token_by_hash(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(TokenInfo, i64)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, scope, created_ms, expires_ms, last_used_ms, revoked_ms, user_id \
             FROM api_tokens WHERE token_hash = ?1 AND revoked_ms IS NULL",
            [hash],
            |r| Ok((token_from_row(r)?, r.get(7)?)),
        )
        .optional()?)
}

/// Revokes one of `user_id`'s tokens; false when it is not theirs or already revoked.
pub fn revoke_token(
    conn: &Connection,
    id: i64,
    user_id: i64,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let name: Option<String> = conn
        .query_row(
            "UPDATE api_tokens SET revoked_ms = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_ms IS NULL \
             RETURNING name",
            params![id, user_id, now_ms],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name)
}

pub fn touch_tokens(conn: &Connection, used: &[(String, i64)]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "UPDATE api_tokens SET last_used_ms = MAX(COALESCE(last_used_ms, 0), ?2) WHERE token_hash = ?1",
    )?;
    for (hash, at) in used {
        stmt.execute(params![hash, at])?;
    }
    Ok(())
}
