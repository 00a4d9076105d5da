//! Privacy erasure of client addresses (see `crate::privacy`): the addresses
//! a person used are replaced in security events and ban rows, and their
//! sshd failure counts are deleted (their key is the address).

use rusqlite::{Connection, params};

use crate::store::StoreError;

/// What replaces an erased address inside text.
const ERASED: &str = "[erased]";

/// Rows changed per table.
#[derive(Debug, Default, Clone, Copy)]
pub struct IpsErased {
    pub security_events: usize,
    pub ip_bans: usize,
    pub ssh_failures: usize,
}

/// Replaces each of `ips` in `security_events` (the address becomes
/// `erased:<row id>`, unique as the table requires, and mentions in the
/// details go) and in `ip_bans` (address `erased`, marked ended: an erased
/// address cannot be enforced from the database again; the running gate
/// lifts what it holds at its next sync, see `Threats::sync`), and deletes
/// the sshd counts of those addresses.
pub fn erase_ips(conn: &Connection, ips: &[String], now_ms: i64) -> Result<IpsErased, StoreError> {
    let mut erased = IpsErased::default();
    for ip in ips.iter().filter(|ip| !ip.is_empty()) {
        erased.security_events += conn.execute(
            "UPDATE security_events SET ip = 'erased:' || id, details = replace(details, ?1, ?2) \
             WHERE ip = ?1",
            params![ip, ERASED],
        )?;
        erased.security_events += conn.execute(
            "UPDATE security_events SET details = replace(details, ?1, ?2) \
             WHERE instr(details, ?1) > 0",
            params![ip, ERASED],
        )?;
        erased.ip_bans += conn.execute(
            "UPDATE ip_bans SET ip = 'erased', reason = replace(reason, ?1, ?2), \
             lifted_ms = coalesce(lifted_ms, ?3), lifted_by = coalesce(lifted_by, 'erasure'), \
             ended_ms = coalesce(ended_ms, ?3), until_ms = min(until_ms, ?3) WHERE ip = ?1",
            params![ip, ERASED, now_ms],
        )?;
        erased.ssh_failures += conn.execute("DELETE FROM ssh_failures WHERE ip = ?1", [ip])?;
    }
    Ok(erased)
}
