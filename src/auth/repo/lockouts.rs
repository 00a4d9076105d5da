//! The SQL of the lockout rules: failed logins, locks per (email, IP), IP bans.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;

pub fn record_failure(
    conn: &Connection,
    email: &str,
    ip: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO login_failures (ts_ms, email, ip) VALUES (?1, ?2, ?3)",
        params![now_ms, email, ip],
    )?;
    Ok(())
}

pub fn failures_for_pair(
    conn: &Connection,
    email: &str,
    ip: &str,
    since_ms: i64,
) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE email = ?1 AND ip = ?2 AND ts_ms > ?3",
        params![email, ip, since_ms],
        |r| r.get(0),
    )?)
}

pub fn failures_for_email(
    conn: &Connection,
    email: &str,
    since_ms: i64,
) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE email = ?1 AND ts_ms > ?2",
        params![email, since_ms],
        |r| r.get(0),
    )?)
}

pub fn failures_for_ip(conn: &Connection, ip: &str, since_ms: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE ip = ?1 AND ts_ms > ?2",
        params![ip, since_ms],
        |r| r.get(0),
    )?)
}

/// Failures older than `before_ms` no longer count for anything.
pub fn delete_old_failures(conn: &Connection, before_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM login_failures WHERE ts_ms < ?1", [before_ms])?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub locked_ms: i64,
    pub until_ms: i64,
    pub strikes: i64,
}

pub fn lockout(conn: &Connection, email: &str, ip: &str) -> Result<Option<Lockout>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT locked_ms, until_ms, strikes FROM lockouts WHERE email = ?1 AND ip = ?2",
            params![email, ip],
            |r| {
                Ok(Lockout {
                    locked_ms: r.get(0)?,
                    until_ms: r.get(1)?,
                    strikes: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn set_lockout(
    conn: &Connection,
    email: &str,
    ip: &str,
    lock: Lockout,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO lockouts (email, ip, locked_ms, until_ms, strikes) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (email, ip) DO UPDATE SET locked_ms = ?3, until_ms = ?4, strikes = ?5",
        params![email, ip, lock.locked_ms, lock.until_ms, lock.strikes],
    )?;
    Ok(())
}

/// Forgets an account's locks and failures (an admin cleared them).
pub fn clear_lockouts(conn: &Connection, email: &str) -> Result<usize, StoreError> {
    let locks = conn.execute("DELETE FROM lockouts WHERE email = ?1", [email])?;
    conn.execute("DELETE FROM login_failures WHERE email = ?1", [email])?;
    Ok(locks)
}

pub fn clear_pair_lockout(conn: &Connection, email: &str, ip: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM lockouts WHERE email = ?1 AND ip = ?2",
        params![email, ip],
    )?;
    conn.execute(
        "DELETE FROM login_failures WHERE email = ?1 AND ip = ?2",
        params![email, ip],
    )?;
    Ok(())
}

pub fn active_ban(conn: &Connection, ip: &str, now_ms: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM ip_bans WHERE ip = ?1 AND until_ms > ?2 AND lifted_ms IS NULL LIMIT 1",
            params![ip, now_ms],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub fn insert_ban(
    conn: &Connection,
    ip: &str,
    reason: &str,
    source: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO ip_bans (ip, reason, source, created_ms, until_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ip, reason, source, now_ms, until_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A lock in force, with the account's id when the e-mail belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActiveLockout {
    pub user_id: Option<i64>,
    pub email: String,
    pub ip: String,
    pub until_ms: i64,
    pub strikes: i64,
}

/// Locks in force now, the longest first (the security page's list).
pub fn active_lockouts(conn: &Connection, now_ms: i64) -> Result<Vec<ActiveLockout>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, l.email, l.ip, l.until_ms, l.strikes FROM lockouts l \
         LEFT JOIN users u ON u.email = l.email WHERE l.until_ms > ?1 \
         ORDER BY l.until_ms DESC LIMIT 200",
    )?;
    let rows = stmt.query_map([now_ms], |r| {
        Ok(ActiveLockout {
            user_id: r.get(0)?,
            email: r.get(1)?,
            ip: r.get(2)?,
            until_ms: r.get(3)?,
            strikes: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
