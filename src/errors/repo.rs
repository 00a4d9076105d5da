//! The error-tracking SQL: projects, keys and raw items.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;

pub fn add_project(
    conn: &Connection,
    slug: &str,
    name: &str,
    platform: &str,
    key: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO error_projects (slug, name, platform, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![slug, name, platform, now_ms],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO error_keys (public_key, project_id, created_ms) VALUES (?1, ?2, ?3)",
        params![key, id, now_ms],
    )?;
    Ok(id)
}

pub fn slug_taken(conn: &Connection, slug: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM error_projects WHERE slug = ?1",
            [slug],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The project an active key belongs to.
pub fn project_of_key(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT project_id FROM error_keys WHERE public_key = ?1 AND active = 1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Retention: at most `limit` items already digested that arrived before
/// `before_ms` (items not digested yet are kept).
pub fn prune_items(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM error_items WHERE id IN \
         (SELECT id FROM error_items WHERE digested = 1 AND received_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}

/// One received item, its payload already compressed.
pub struct NewItem {
    pub kind: String,
    pub payload: Vec<u8>,
}

pub fn add_items(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
    items: &[NewItem],
    skipped: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    for item in items {
        conn.execute(
            "INSERT INTO error_items (project_id, event_id, kind, received_ms, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project_id, event_id, item.kind, now_ms, item.payload],
        )?;
    }
    for kind in skipped {
        conn.execute(
            "INSERT INTO error_skipped (project_id, kind, count) VALUES (?1, ?2, 1)
             ON CONFLICT (project_id, kind) DO UPDATE SET count = count + 1",
            params![project_id, kind],
        )?;
    }
    Ok(())
}
