//! The accounts feature's SQL, and only its SQL: users, recovery codes,
//! sessions, API tokens, one-time links, login failures, lockouts and IP bans.
//! Every statement uses bind parameters and names its columns.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{Role, User};
use crate::store::StoreError;

const USER_COLUMNS: &str = "id, email, display_name, role, disabled, totp_secret IS NOT NULL, \
password_hash IS NOT NULL, created_ms, last_login_ms";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    user_at(row, 0)
}

/// A user from the [`USER_COLUMNS`] starting at column `at`.
fn user_at(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    let role: String = row.get(at + 3)?;
    Ok(User {
        id: row.get(at)?,
        email: row.get(at + 1)?,
        display_name: row.get(at + 2)?,
        role: if role == "admin" {
            Role::Admin
        } else {
            Role::Viewer
        },
        disabled: row.get(at + 4)?,
        totp_enabled: row.get(at + 5)?,
        has_password: row.get(at + 6)?,
        created_ms: row.get(at + 7)?,
        last_login_ms: row.get(at + 8)?,
    })
}

/// A user with what the login path needs besides the public fields.
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending_secret: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub totp_failures: i64,
    pub totp_failed_step: Option<i64>,
}

fn credentials_from_row(row: &Row<'_>) -> rusqlite::Result<Credentials> {
    Ok(Credentials {
        user: user_from_row(row)?,
        password_hash: row.get(9)?,
        totp_secret: row.get(10)?,
        totp_pending_secret: row.get(11)?,
        totp_last_step: row.get(12)?,
        totp_failures: row.get(13)?,
        totp_failed_step: row.get(14)?,
    })
}

const CREDENTIAL_COLUMNS: &str = "password_hash, totp_secret, totp_pending_secret, totp_last_step, \
totp_failures, totp_failed_step";

// ---- users ----

pub fn count_users(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn email_taken(conn: &Connection, email: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM users WHERE email = ?1", [email], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn insert_user(
    conn: &Connection,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: Option<&str>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO users (email, display_name, role, password_hash, created_ms, password_changed_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            email,
            display_name,
            role.as_str(),
            password_hash,
            now_ms,
            password_hash.map(|_| now_ms)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn user_by_id(conn: &Connection, id: i64) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    Ok(conn.query_row(&sql, [id], user_from_row).optional()?)
}

pub fn user_by_email(conn: &Connection, email: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1");
    Ok(conn.query_row(&sql, [email], user_from_row).optional()?)
}

pub fn credentials_by_email(
    conn: &Connection,
    email: &str,
) -> Result<Option<Credentials>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, {CREDENTIAL_COLUMNS} FROM users WHERE email = ?1");
    Ok(conn
        .query_row(&sql, [email], credentials_from_row)
        .optional()?)
}

pub fn credentials_by_id(conn: &Connection, id: i64) -> Result<Option<Credentials>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, {CREDENTIAL_COLUMNS} FROM users WHERE id = ?1");
    Ok(conn
        .query_row(&sql, [id], credentials_from_row)
        .optional()?)
}

/// Filters of the users list; `None` means any.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub search: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub totp: Option<bool>,
}

pub fn list_users(conn: &Connection, filter: &UserFilter) -> Result<Vec<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users \
         WHERE (?1 IS NULL OR instr(email, ?1) > 0 OR instr(lower(display_name), ?1) > 0) \
           AND (?2 IS NULL OR role = ?2) \
           AND (?3 IS NULL OR disabled = ?3) \
           AND (?4 IS NULL OR (totp_secret IS NOT NULL) = ?4) \
         ORDER BY email"
    );
    let search = filter.search.as_ref().map(|s| s.to_lowercase());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![
            search,
            filter.role.map(Role::as_str),
            filter.disabled,
            filter.totp
        ],
        user_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Counts for the top of the users page.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct UserCounts {
    pub total: i64,
    pub admins: i64,
    pub disabled: i64,
    pub with_2fa: i64,
}

pub fn user_counts(conn: &Connection) -> Result<UserCounts, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(role = 'admin'), 0), COALESCE(SUM(disabled), 0), \
         COALESCE(SUM(totp_secret IS NOT NULL), 0) FROM users",
        [],
        |r| {
            Ok(UserCounts {
                total: r.get(0)?,
                admins: r.get(1)?,
                disabled: r.get(2)?,
                with_2fa: r.get(3)?,
            })
        },
    )?)
}

/// Enabled admins other than `except`: the last one may not be demoted or disabled.
pub fn other_active_admins(conn: &Connection, except: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id != ?1",
        [except],
        |r| r.get(0),
    )?)
}

pub fn set_role(conn: &Connection, id: i64, role: Role) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET role = ?2 WHERE id = ?1",
        params![id, role.as_str()],
    )?;
    Ok(())
}

pub fn set_disabled(conn: &Connection, id: i64, disabled: bool) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET disabled = ?2 WHERE id = ?1",
        params![id, disabled],
    )?;
    Ok(())
}

pub fn set_password_hash(
    conn: &Connection,
    id: i64,
    hash: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, password_changed_ms = ?3 WHERE id = ?1",
        params![id, hash, now_ms],
    )?;
    Ok(())
}

/// A rehash with stronger parameters; the password itself did not change.
pub fn replace_password_hash(conn: &Connection, id: i64, hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

pub fn set_last_login(conn: &Connection, id: i64, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET last_login_ms = ?2 WHERE id = ?1",
        params![id, now_ms],
    )?;
    Ok(())
}

// ---- TOTP ----

pub fn set_totp_pending(conn: &Connection, id: i64, sealed: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_pending_secret = ?2 WHERE id = ?1",
        params![id, sealed],
    )?;
    Ok(())
}

pub fn enable_totp(conn: &Connection, id: i64, sealed: &[u8], step: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_secret = ?2, totp_pending_secret = NULL, totp_last_step = ?3, \
         totp_failures = 0, totp_failed_step = NULL WHERE id = ?1",
        params![id, sealed, step],
    )?;
    Ok(())
}

pub fn disable_totp(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL, \
         totp_failures = 0, totp_failed_step = NULL WHERE id = ?1",
        [id],
    )?;
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [id])?;
    Ok(())
}

/// Records an accepted code: its step may never be accepted again.
pub fn accept_totp_step(conn: &Connection, id: i64, step: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_last_step = MAX(COALESCE(totp_last_step, 0), ?2), totp_failures = 0, \
         totp_failed_step = NULL WHERE id = ?1",
        params![id, step],
    )?;
    Ok(())
}

/// Counts a wrong code in time step `step`; returns the failures in that step.
pub fn record_totp_failure(conn: &Connection, id: i64, step: i64) -> Result<i64, StoreError> {
    conn.execute(
        "UPDATE users SET totp_failures = CASE WHEN totp_failed_step = ?2 THEN totp_failures + 1 ELSE 1 END, \
         totp_failed_step = ?2 WHERE id = ?1",
        params![id, step],
    )?;
    Ok(
        conn.query_row("SELECT totp_failures FROM users WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

pub fn replace_recovery_codes(
    conn: &Connection,
    user_id: i64,
    hashes: &[String],
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    let mut stmt = conn.prepare(
        "INSERT OR IGNORE INTO recovery_codes (user_id, code_hash, used_ms) VALUES (?1, ?2, NULL)",
    )?;
    for hash in hashes {
        stmt.execute(params![user_id, hash])?;
    }
    Ok(())
}

/// Marks an unused recovery code used; false when there is no such unused code.
pub fn use_recovery_code(
    conn: &Connection,
    user_id: i64,
    hash: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE recovery_codes SET used_ms = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_ms IS NULL",
        params![user_id, hash, now_ms],
    )?;
    Ok(changed == 1)
}

pub fn unused_recovery_codes(conn: &Connection, user_id: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND used_ms IS NULL",
        [user_id],
        |r| r.get(0),
    )?)
}

pub mod erasure;
mod links;
mod lockouts;
mod sessions;
mod tokens;

pub use links::*;
pub use lockouts::*;
pub use sessions::*;
pub use tokens::*;
