//! The health probes' SQL.

use rusqlite::Connection;

use crate::store::StoreError;

/// Rewrites the single probe row.
pub fn write_probe(conn: &Connection, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO health_probe (id, written_ms) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET written_ms = excluded.written_ms",
        [now_ms],
    )?;
    Ok(())
}

/// Reads the probe table, proving the schema is reachable.
pub fn read_probe(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM health_probe", [], |row| row.get(0))?)
}
