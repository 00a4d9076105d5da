//! The SQL of `security_events` (aggregated per kind, IP and minute) and
//! `ssh_failures` (counted per hour, IP, user and kind).

use rusqlite::{Connection, Row, params};
use serde::Serialize;

use crate::store::StoreError;
use crate::threats::events::Pending;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventRow {
    pub id: i64,
    pub minute_ms: i64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub kind: String,
    pub severity: String,
    pub ip: String,
    pub source: String,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub count: i64,
}

fn event(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    let details: String = r.get(9)?;
    Ok(EventRow {
        id: r.get(0)?,
        minute_ms: r.get(1)?,
        first_ms: r.get(2)?,
        last_ms: r.get(3)?,
        kind: r.get(4)?,
        severity: r.get(5)?,
        ip: r.get(6)?,
        source: r.get(7)?,
        request_id: r.get(8)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        count: r.get(10)?,
    })
}

/// Adds pending aggregates: a row that exists for the (kind, IP, minute)
/// grows its count.
pub fn upsert(conn: &Connection, pending: &[Pending]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO security_events \
         (minute_ms, first_ms, last_ms, kind, severity, ip, source, request_id, details, count) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (kind, ip, minute_ms) DO UPDATE SET \
         count = count + excluded.count, last_ms = max(last_ms, excluded.last_ms)",
    )?;
    for p in pending {
        stmt.execute(params![
            p.minute_ms,
            p.first_ms,
            p.last_ms,
            p.kind,
            p.severity,
            p.ip,
            p.source,
            p.request_id,
            p.details.to_string(),
            p.count
        ])?;
    }
    Ok(())
}

/// Which events a listing shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub ip: Option<String>,
    pub source: Option<String>,
    pub since_ms: i64,
    pub limit: i64,
}

pub fn list(conn: &Connection, f: &Filter) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, minute_ms, first_ms, last_ms, kind, severity, ip, source, request_id, details, count \
         FROM security_events WHERE minute_ms >= ?1 \
         AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR ip = ?3) AND (?4 IS NULL OR source = ?4) \
         ORDER BY last_ms DESC, id DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(params![f.since_ms, f.kind, f.ip, f.source, f.limit], event)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Occurrences per hour and kind since a time: (hour_ms, kind, count).
pub fn per_hour(conn: &Connection, since_ms: i64) -> Result<Vec<(i64, String, i64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT minute_ms - (minute_ms % 3600000) AS hour, kind, SUM(count) \
         FROM security_events WHERE minute_ms >= ?1 GROUP BY hour, kind ORDER BY hour",
    )?;
    let rows = stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The addresses with the most occurrences since a time: (ip, count, kinds).
pub fn top_ips(
    conn: &Connection,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<(String, i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ip, SUM(count) AS n, group_concat(DISTINCT kind) FROM security_events \
         WHERE minute_ms >= ?1 AND ip != '' GROUP BY ip ORDER BY n DESC, ip LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![since_ms, limit], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Occurrences since a time.
pub fn total_since(conn: &Connection, since_ms: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(count), 0) FROM security_events WHERE minute_ms >= ?1",
        [since_ms],
        |r| r.get(0),
    )?)
}

/// Retention: at most `limit` event rows and `limit` sshd counts older than `before_ms`.
pub fn prune(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    let events = conn.execute(
        "DELETE FROM security_events WHERE id IN \
         (SELECT id FROM security_events WHERE minute_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?;
    let ssh = conn.execute(
        "DELETE FROM ssh_failures WHERE (hour_ms, ip, user, kind) IN \
         (SELECT hour_ms, ip, user, kind FROM ssh_failures WHERE hour_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?;
    Ok(events + ssh)
}

/// One sshd failure to count.
pub struct SshCount<'a> {
    pub hour_ms: i64,
    pub ip: &'a str,
    pub user: &'a str,
    pub kind: &'a str,
    pub count: i64,
}

pub fn add_ssh(conn: &Connection, rows: &[SshCount<'_>]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ssh_failures (hour_ms, ip, user, kind, count) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (hour_ms, ip, user, kind) DO UPDATE SET count = count + excluded.count",
    )?;
    for r in rows {
        stmt.execute(params![r.hour_ms, r.ip, r.user, r.kind, r.count])?;
    }
    Ok(())
}

/// The most tried user names, or the most failing addresses, since a time.
pub fn ssh_top(
    conn: &Connection,
    by_user: bool,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let sql = if by_user {
        "SELECT user, SUM(count) AS n FROM ssh_failures WHERE hour_ms >= ?1 \
         GROUP BY user ORDER BY n DESC, user LIMIT ?2"
    } else {
        "SELECT ip, SUM(count) AS n FROM ssh_failures WHERE hour_ms >= ?1 \
         GROUP BY ip ORDER BY n DESC, ip LIMIT ?2"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![since_ms, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn ssh_total(conn: &Connection, since_ms: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(count), 0) FROM ssh_failures WHERE hour_ms >= ?1",
        [since_ms],
        |r| r.get(0),
    )?)
}
