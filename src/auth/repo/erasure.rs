//! Privacy erasure of one account (see `crate::privacy`): the account is kept
//! as an anonymous, disabled tombstone (its id stays taken, so audit rows
//! naming `user:<id>` never point at someone else), and everything that
//! identifies or authenticates the person goes.

use rusqlite::{Connection, params};

use crate::store::StoreError;

/// What the account erasure removed.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccountErased {
    pub sessions: usize,
    pub api_tokens: usize,
    pub one_time_links: usize,
    pub recovery_codes: usize,
    pub login_failures: usize,
    pub lockouts: usize,
}

/// The placeholder address of an erased account.
pub fn erased_email(id: i64) -> String {
    format!("erased-{id}@invalid")
}

/// The addresses the account's sessions came from.
pub fn session_ips(conn: &Connection, user_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT DISTINCT ip FROM sessions WHERE user_id = ?1 AND ip != '' ORDER BY ip")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The addresses failed logins as `email` came from.
pub fn failure_ips(conn: &Connection, email: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT ip FROM login_failures WHERE email = ?1 AND ip != '' \
         UNION SELECT DISTINCT ip FROM lockouts WHERE email = ?1 AND ip != ''",
    )?;
    let rows = stmt.query_map([email], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Anonymises account `id` (email `erased-<id>@invalid`, no name, no
/// password, no 2FA, disabled) and deletes its sessions, tokens, links and
/// recovery codes, and the failed logins and lockouts of `email` (and, when
/// `ips` is not empty, of those addresses).
pub fn erase_account(
    conn: &Connection,
    id: i64,
    email: &str,
    ips: &[String],
) -> Result<AccountErased, StoreError> {
    conn.execute(
        "UPDATE users SET email = ?2, display_name = '', password_hash = NULL, disabled = 1, \
         totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL, \
         totp_failures = 0, totp_failed_step = NULL, last_login_ms = NULL WHERE id = ?1",
        params![id, erased_email(id)],
    )?;
    let mut erased = AccountErased {
        sessions: conn.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?,
        api_tokens: conn.execute("DELETE FROM api_tokens WHERE user_id = ?1", [id])?,
        one_time_links: conn.execute("DELETE FROM one_time_tokens WHERE user_id = ?1", [id])?,
        recovery_codes: conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [id])?,
        login_failures: conn.execute("DELETE FROM login_failures WHERE email = ?1", [email])?,
        lockouts: conn.execute("DELETE FROM lockouts WHERE email = ?1", [email])?,
    };
    for ip in ips {
        erased.login_failures += conn.execute("DELETE FROM login_failures WHERE ip = ?1", [ip])?;
        erased.lockouts += conn.execute("DELETE FROM lockouts WHERE ip = ?1", [ip])?;
    }
    Ok(erased)
}
