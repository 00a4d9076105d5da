//! The host feature's SQL: one row of top processes per sample.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::TopProcesses;
use crate::store::StoreError;

pub fn save_top(conn: &Connection, ts: i64, top: &TopProcesses) -> Result<(), StoreError> {
    let json = |v| serde_json::to_string(v).map_err(|e| StoreError::Task(e.to_string()));
    conn.prepare_cached(
        "INSERT INTO host_top_processes (ts, by_cpu, by_memory) VALUES (?1, ?2, ?3) \
         ON CONFLICT (ts) DO UPDATE SET by_cpu = excluded.by_cpu, by_memory = excluded.by_memory",
    )?
    .execute(params![ts, json(&top.by_cpu)?, json(&top.by_memory)?])?;
    Ok(())
}

/// The newest snapshot at or before `at` (Unix seconds), with its time.
pub fn top_at(conn: &Connection, at: i64) -> Result<Option<(i64, TopProcesses)>, StoreError> {
    let row: Option<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT ts, by_cpu, by_memory FROM host_top_processes WHERE ts <= ?1 \
             ORDER BY ts DESC LIMIT 1",
        )?
        .query_row([at], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.map(|(ts, cpu, memory)| {
        let top = TopProcesses {
            by_cpu: serde_json::from_str(&cpu).unwrap_or_default(),
            by_memory: serde_json::from_str(&memory).unwrap_or_default(),
        };
        (ts, top)
    }))
}

/// Retention: deletes up to `limit` snapshots older than `before_ms`.
pub fn prune_top(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM host_top_processes WHERE ts IN \
             (SELECT ts FROM host_top_processes WHERE ts < ?1 ORDER BY ts LIMIT ?2)",
        )?
        .execute(params![before_ms.div_euclid(1000), limit])?)
}

/// Marks the database as holding synthetic host history.
pub fn mark_synthetic(conn: &Connection, note: &str, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO synthetic_data (kind, note, created_ms) VALUES ('host', ?1, ?2) \
         ON CONFLICT (kind) DO UPDATE SET note = excluded.note, created_ms = excluded.created_ms",
        params![note, now_ms],
    )?;
    Ok(())
}

/// The note of the synthetic-data mark, when the database has one.
pub fn synthetic_note(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT note FROM synthetic_data WHERE kind = 'host'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::super::model::TopProcess;
    use super::*;

    #[test]
    fn top_lists_round_trip_and_expire() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        let top = TopProcesses {
            by_cpu: vec![TopProcess {
                pid: 7,
                name: "nginx".into(),
                user: "www-data".into(),
                value: 12.5,
            }],
            by_memory: vec![],
        };
        save_top(&conn, 100, &top).unwrap();
        save_top(&conn, 200, &TopProcesses::default()).unwrap();
        assert_eq!(top_at(&conn, 150).unwrap(), Some((100, top)));
        assert_eq!(top_at(&conn, 50).unwrap(), None);
        assert_eq!(prune_top(&conn, 150_000, 10).unwrap(), 1);
        assert_eq!(top_at(&conn, 150).unwrap(), None);
    }
}
