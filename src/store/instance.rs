//! The installation record: one row written at first start, with a random
//! installation id and the time of installation.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub install_id: String,
    pub created_ms: i64,
}

/// Records the installation unless it already is; returns the record.
pub fn ensure(conn: &Connection, now_ms: i64) -> Result<Instance, StoreError> {
    conn.execute(
        "INSERT INTO instance (id, install_id, created_ms) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
        rusqlite::params![uuid::Uuid::now_v7().to_string(), now_ms],
    )?;
    load(conn)?.ok_or_else(|| StoreError::Commit("the instance row was not written".into()))
}

pub fn load(conn: &Connection) -> Result<Option<Instance>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT install_id, created_ms FROM instance WHERE id = 1",
            [],
            |row| {
                Ok(Instance {
                    install_id: row.get(0)?,
                    created_ms: row.get(1)?,
                })
            },
        )
        .optional()?)
}
