//! Maintenance windows, heartbeat pings, and retention of check history.

use rusqlite::{Connection, params};

use super::super::model::{Window, day_of, hour_of};
use crate::store::StoreError;

/// Maintenance windows of one check (or all, with `None`): (id, check id, window, note).
pub fn windows(
    conn: &Connection,
    check: Option<i64>,
) -> Result<Vec<(i64, i64, Window, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, check_id, kind, starts_ms, ends_ms, weekday, start_minute, minutes, note \
         FROM check_maintenance WHERE (?1 IS NULL OR check_id = ?1) ORDER BY id",
    )?;
    let rows = stmt.query_map([check], |r| {
        let kind: String = r.get(2)?;
        let window = if kind == "weekly" {
            Window::Weekly {
                weekday: r.get(5)?,
                start_minute: r.get(6)?,
                minutes: r.get(7)?,
            }
        } else {
            Window::Once {
                starts_ms: r.get(3)?,
                ends_ms: r.get(4)?,
            }
        };
        Ok((r.get(0)?, r.get(1)?, window, r.get(8)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn add_window(
    conn: &Connection,
    check: i64,
    w: &Window,
    note: &str,
) -> Result<i64, StoreError> {
    match *w {
        Window::Once { starts_ms, ends_ms } => conn.execute(
            "INSERT INTO check_maintenance (check_id, kind, starts_ms, ends_ms, note) \
             VALUES (?1, 'once', ?2, ?3, ?4)",
            params![check, starts_ms, ends_ms, note],
        )?,
        Window::Weekly {
            weekday,
            start_minute,
            minutes,
        } => conn.execute(
            "INSERT INTO check_maintenance (check_id, kind, weekday, start_minute, minutes, note) \
             VALUES (?1, 'weekly', ?2, ?3, ?4, ?5)",
            params![check, weekday, start_minute, minutes, note],
        )?,
    };
    Ok(conn.last_insert_rowid())
}

pub fn delete_window(conn: &Connection, check: i64, window: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "DELETE FROM check_maintenance WHERE id = ?1 AND check_id = ?2",
        params![window, check],
    )? > 0)
}

/// Records a heartbeat ping and the check's last-ping fields.
pub fn record_ping(
    conn: &Connection,
    id: i64,
    ts_ms: i64,
    kind: &str,
    body: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO check_pings (check_id, ts_ms, kind, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, ts_ms, kind, body])?;
    let sql = if kind == "start" {
        "UPDATE checks SET last_start_ms = ?2 WHERE id = ?1"
    } else {
        "UPDATE checks SET last_ping_ms = ?2, last_ping_kind = ?3 WHERE id = ?1"
    };
    if kind == "start" {
        conn.prepare_cached(sql)?.execute(params![id, ts_ms])?;
    } else {
        conn.prepare_cached(sql)?
            .execute(params![id, ts_ms, kind])?;
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Ping {
    pub ts_ms: i64,
    pub kind: String,
    pub body: Option<String>,
}

pub fn pings(conn: &Connection, id: i64, limit: i64) -> Result<Vec<Ping>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, kind, body FROM check_pings WHERE check_id = ?1 ORDER BY ts_ms DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![id, limit], |r| {
            Ok(Ping {
                ts_ms: r.get(0)?,
                kind: r.get(1)?,
                body: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Retention: results older than `before_ms`, at most `limit`.
pub fn prune_results(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM check_results WHERE (check_id, ts_ms) IN \
         (SELECT check_id, ts_ms FROM check_results WHERE ts_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}

/// Retention: heartbeat pings older than `before_ms`.
pub fn prune_pings(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM check_pings WHERE rowid IN (SELECT rowid FROM check_pings WHERE ts_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}

/// Retention: per-hour uptime of hours that ended before `before_ms`.
pub fn prune_hours(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM check_uptime_hours WHERE (check_id, hour) IN \
         (SELECT check_id, hour FROM check_uptime_hours WHERE hour < ?1 LIMIT ?2)",
        params![hour_of(before_ms), limit],
    )?)
}

/// Retention: per-day uptime of days that ended before `before_ms`.
pub fn prune_days(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM check_uptime_days WHERE (check_id, day) IN \
         (SELECT check_id, day FROM check_uptime_days WHERE day < ?1 LIMIT ?2)",
        params![day_of(before_ms), limit],
    )?)
}
