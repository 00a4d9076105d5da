//! The erasure's own SQL: only the `secure_delete` setting, so the bytes
//! freed by an erasure are overwritten rather than left in free pages.

use rusqlite::Connection;

use crate::store::StoreError;

/// Sets `PRAGMA secure_delete` and returns the previous setting.
pub fn secure_delete(conn: &Connection, mode: i64) -> Result<i64, StoreError> {
    let previous: i64 = conn.pragma_query_value(None, "secure_delete", |row| row.get(0))?;
    conn.pragma_update(None, "secure_delete", mode)?;
    Ok(previous)
}
