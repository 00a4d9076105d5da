//! The accounts feature's SQL, and only its SQL: users, recovery codes,
//! sessions, API tokens, one-time links, login failures, lockouts and IP bans.
//! Every statement uses bind parameters and names its columns.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{Role, Scope, Stage, User};
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

// ---- sessions ----

/// A session row with its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub stage: Stage,
    pub csrf_token: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub user: User,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub stage: Stage,
    pub csrf_token: &'a str,
    pub now_ms: i64,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

pub fn insert_session(conn: &Connection, s: &NewSession<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, stage, csrf_token, created_ms, last_seen_ms, ip, user_agent) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
        params![
            s.token_hash,
            s.user_id,
            s.stage.as_str(),
            s.csrf_token,
            s.now_ms,
            s.ip,
            s.user_agent
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn session_by_hash(conn: &Connection, hash: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT s.id, s.stage, s.csrf_token, s.created_ms, s.last_seen_ms, \
             u.id, u.email, u.display_name, u.role, u.disabled, u.totp_secret IS NOT NULL, \
             u.password_hash IS NOT NULL, u.created_ms, u.last_login_ms \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
            [hash],
            |row| {
                let stage: String = row.get(1)?;
                Ok(SessionRow {
                    id: row.get(0)?,
                    stage: Stage::parse(&stage).unwrap_or(Stage::Totp),
                    csrf_token: row.get(2)?,
                    created_ms: row.get(3)?,
                    last_seen_ms: row.get(4)?,
                    user: user_at(row, 5)?,
                })
            },
        )
        .optional()?)
}

pub fn delete_session_by_hash(conn: &Connection, hash: &str) -> Result<usize, StoreError> {
    Ok(conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?)
}

/// Deletes one of `user_id`'s sessions; 0 when it is not theirs.
pub fn delete_session(conn: &Connection, id: i64, user_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )?)
}

/// Deletes every session of `user_id`, except the one with hash `keep`.
pub fn delete_user_sessions(
    conn: &Connection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR token_hash != ?2)",
        params![user_id, keep],
    )?)
}

/// Sessions that ended by timeout, removed by the sweeper.
pub fn delete_stale_sessions(
    conn: &Connection,
    idle_before_ms: i64,
    created_before_ms: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM sessions WHERE last_seen_ms < ?1 OR created_ms < ?2",
        params![idle_before_ms, created_before_ms],
    )?)
}

pub fn touch_sessions(conn: &Connection, seen: &[(String, i64)]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "UPDATE sessions SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE token_hash = ?1",
    )?;
    for (hash, at) in seen {
        stmt.execute(params![hash, at])?;
    }
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    pub id: i64,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub ip: String,
    pub user_agent: String,
    #[serde(skip)]
    pub token_hash: String,
}

pub fn list_sessions(conn: &Connection, user_id: i64) -> Result<Vec<SessionInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, created_ms, last_seen_ms, ip, user_agent, token_hash FROM sessions \
         WHERE user_id = ?1 AND stage = 'full' ORDER BY last_seen_ms DESC",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok(SessionInfo {
            id: r.get(0)?,
            created_ms: r.get(1)?,
            last_seen_ms: r.get(2)?,
            ip: r.get(3)?,
            user_agent: r.get(4)?,
            token_hash: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---- API tokens ----

pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub name: &'a str,
    pub scope: Scope,
    pub now_ms: i64,
    pub expires_ms: Option<i64>,
}

pub fn insert_token(conn: &Connection, t: &NewToken<'_>) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, name, scope, created_ms, expires_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            t.token_hash,
            t.user_id,
            t.name,
            t.scope.as_str(),
            t.now_ms,
            t.expires_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    let scope: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: scope.parse().unwrap_or(Scope::Read),
        created_ms: r.get(3)?,
        expires_ms: r.get(4)?,
        last_used_ms: r.get(5)?,
        revoked_ms: r.get(6)?,
    })
}

pub fn list_tokens(conn: &Connection, user_id: i64) -> Result<Vec<TokenInfo>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, scope, created_ms, expires_ms, last_used_ms, revoked_ms FROM api_tokens \
         WHERE user_id = ?1 ORDER BY created_ms DESC, id DESC",
    )?;
    let rows = stmt.query_map([user_id], token_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A live token (not revoked) and its user.
pub fn token_by_hash(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(TokenInfo, i64)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, scope, created_ms, expires_ms, last_used_ms, revoked_ms, user_id \
             FROM api_tokens WHERE token_hash = ?1 AND revoked_ms IS NULL",
            [hash],
            |r| Ok((token_from_row(r)?, r.get(7)?)),
        )
        .optional()?)
}

/// Revokes one of `user_id`'s tokens; false when it is not theirs or already revoked.
pub fn revoke_token(
    conn: &Connection,
    id: i64,
    user_id: i64,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let name: Option<String> = conn
        .query_row(
            "UPDATE api_tokens SET revoked_ms = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_ms IS NULL \
             RETURNING name",
            params![id, user_id, now_ms],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name)
}

pub fn touch_tokens(conn: &Connection, used: &[(String, i64)]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(
        "UPDATE api_tokens SET last_used_ms = MAX(COALESCE(last_used_ms, 0), ?2) WHERE token_hash = ?1",
    )?;
    for (hash, at) in used {
        stmt.execute(params![hash, at])?;
    }
    Ok(())
}

// ---- one-time links ----

pub fn insert_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    user_id: Option<i64>,
    now_ms: i64,
    expires_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_ms, expires_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![hash, purpose, user_id, now_ms, expires_ms],
    )?;
    Ok(())
}

/// The live link's user (for set-password) without using it up.
pub fn peek_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    now_ms: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT user_id FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2 AND expires_ms > ?3",
            params![hash, purpose, now_ms],
            |r| r.get(0),
        )
        .optional()?)
}

/// Uses up a live link: returns its user (`Some(None)` for setup links).
pub fn take_one_time(
    conn: &Connection,
    hash: &str,
    purpose: &str,
    now_ms: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    Ok(conn
        .query_row(
            "DELETE FROM one_time_tokens WHERE token_hash = ?1 AND purpose = ?2 AND expires_ms > ?3 \
             RETURNING user_id",
            params![hash, purpose, now_ms],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn delete_one_time_purpose(conn: &Connection, purpose: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM one_time_tokens WHERE purpose = ?1", [purpose])?;
    Ok(())
}

// ---- failures, lockouts, bans ----

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
