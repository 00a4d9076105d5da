//! The SQL of log read positions (`log_positions`) and signed inbound
//! webhooks (`hooks`, `hook_events`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::store::StoreError;

/// A stored read position: inode and offset (files) or cursor (journald).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPosition {
    pub path: String,
    pub inode: u64,
    pub offset: u64,
    pub cursor: Option<String>,
}

pub fn positions(conn: &Connection, source_id: &str) -> Result<Vec<StoredPosition>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT path, inode, offset, cursor FROM log_positions WHERE source_id = ?1",
    )?;
    let rows = stmt.query_map([source_id], |r| {
        Ok(StoredPosition {
            path: r.get(0)?,
            inode: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            offset: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            cursor: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn save_position(
    conn: &Connection,
    source_id: &str,
    p: &StoredPosition,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO log_positions (source_id, path, inode, offset, cursor, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (source_id, path) DO UPDATE SET \
         inode = ?3, offset = ?4, cursor = ?5, updated_ms = ?6",
        params![
            source_id,
            p.path,
            i64::try_from(p.inode).unwrap_or(i64::MAX),
            i64::try_from(p.offset).unwrap_or(i64::MAX),
            p.cursor,
            now_ms
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Hook {
    pub id: i64,
    pub name: String,
    pub origin: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
}

pub fn hooks(conn: &Connection) -> Result<Vec<Hook>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, origin, created_ms, last_used_ms FROM hooks ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Hook {
            id: r.get(0)?,
            name: r.get(1)?,
            origin: r.get(2)?,
            created_ms: r.get(3)?,
            last_used_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn sealed_secret(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT secret_sealed FROM hooks WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Creates the hook, or (for provisioning) replaces its secret and origin.
pub fn upsert_hook(
    conn: &Connection,
    name: &str,
    sealed: &[u8],
    origin: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO hooks (name, secret_sealed, origin, created_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (name) DO UPDATE SET secret_sealed = ?2, origin = ?3",
        params![name, sealed, origin, now_ms],
    )?;
    Ok(())
}

pub fn hook_exists(conn: &Connection, name: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT origin FROM hooks WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn delete_hook(conn: &Connection, name: &str) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM hooks WHERE name = ?1", [name])?)
}

/// Provisioned hooks no longer in the configuration.
pub fn delete_config_hooks_except(conn: &Connection, keep: &[String]) -> Result<usize, StoreError> {
    let mut removed = 0;
    for h in hooks(conn)?.into_iter().filter(|h| h.origin == "config") {
        if !keep.contains(&h.name) {
            removed += delete_hook(conn, &h.name)?;
        }
    }
    Ok(removed)
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HookEvent {
    pub id: i64,
    pub hook: String,
    pub ts_ms: i64,
    pub kind: String,
    pub title: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

pub fn record_delivery(
    conn: &Connection,
    hook: &str,
    kind: &str,
    title: &str,
    payload: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO hook_events (hook, ts_ms, kind, title, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hook, now_ms, kind, title, payload],
    )?;
    conn.execute(
        "UPDATE hooks SET last_used_ms = ?2 WHERE name = ?1",
        params![hook, now_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn hook_events(
    conn: &Connection,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<HookEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, hook, ts_ms, kind, title, payload FROM hook_events WHERE ts_ms >= ?1 \
         ORDER BY ts_ms DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![since_ms, limit], |r| {
        let payload: String = r.get(5)?;
        Ok(HookEvent {
            id: r.get(0)?,
            hook: r.get(1)?,
            ts_ms: r.get(2)?,
            kind: r.get(3)?,
            title: r.get(4)?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Retention: at most `limit` deliveries older than `before_ms`.
pub fn prune_hook_events(
    conn: &Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM hook_events WHERE id IN (SELECT id FROM hook_events WHERE ts_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}
