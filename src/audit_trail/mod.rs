//! The audit trail: an append-only, hash-chained record of who did what, when,
//! from where and with what outcome (DESIGN §8). Callers append inside their
//! own write transaction ([`Trail::append`]), so an action and its record
//! commit together or not at all; there is one writer, so the chain is linear.
//! It must never hold a secret (details are redacted) nor keep personal data
//! where erasure cannot reach it.
//!
//! # Row layout and what is hashed
//!
//! A row has canonical columns (`id`, `ts_ms`, `actor_kind`, `actor_id`,
//! `action`, `target`, `outcome`, `request_id`, `details`, `pii_digest`,
//! `prev_hash`, `hash`) and personal columns (`actor_email`, `ip`,
//! `user_agent`, `pii_details`). Ids are consecutive from 1.
//!
//! The **canonical form** of a row is the compact JSON array (no whitespace,
//! UTF-8, strings escaped as JSON requires: `"` `\` and control characters,
//! the latter as `\n`, `\r`, `\t`, `\b`, `\f` or lower-case `\u00xx`; other
//! characters as themselves; `null` for an absent value):
//!
//! ```text
//! ["watchpost.audit.v1", id, ts_ms, actor_kind, actor_id, action, target,
//!  outcome, request_id, details, pii_digest, prev_hash]
//! ```
//!
//! where `details` is the column's JSON text taken as one string. This is what
//! Python's `json.dumps(arr, separators=(",", ":"), ensure_ascii=False)`
//! prints. `hash` = lower-case hex SHA-256 of the canonical form's bytes;
//! `prev_hash` = the previous row's `hash`, 64 zeros for row 1.
//!
//! `pii_digest` = lower-case hex HMAC-SHA256, under the 32-byte installation
//! key in `data_dir/trail.key`, of the personal form
//! `["watchpost.audit.pii.v1", id, actor_email, ip, user_agent, pii_details]`
//! (same rules). Erasure sets the personal columns to NULL and keeps the
//! digest, so the chain still verifies and nothing readable is left.
//!
//! Verifying: for each row in id order, the id is the previous id + 1, its
//! `prev_hash` is the previous `hash`, its canonical form hashes to `hash`, and,
//! if any personal column is not NULL, the personal form's HMAC equals
//! `pii_digest`. Removing rows from the end cannot be seen from the rows
//! themselves: keep the head hash `trail verify` prints to compare later.

mod export;
mod filter;
mod model;
mod repo;
mod routes;
mod verify;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::Connection;
use serde_json::json;

pub use export::{CSV_HEADER, write_csv};
pub use model::{Actioned, Actor, Entry, Outcome, mask_email};
pub use routes::routes;
pub use verify::{Problem, Verdict};

use model::{GENESIS, Record};

use crate::store::{self, StoreError};

/// The key file inside the data directory.
pub const KEY_FILE: &str = "trail.key";
const KEY_LEN: usize = 32;

/// Appends to, verifies and erases from the audit trail with this
/// installation's key. Cheap to clone.
#[derive(Clone)]
pub struct Trail {
    key: Arc<hmac::Key>,
}

impl Trail {
    /// Where the key of the trail in `data_dir` lives.
    pub fn key_path(data_dir: &Path) -> PathBuf {
        data_dir.join(KEY_FILE)
    }

    /// Loads `data_dir/trail.key`, creating it (32 random bytes, mode 0600
    /// from creation) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Trail, StoreError> {
        store::create_private_dir(data_dir)?;
        let path = Trail::key_path(data_dir);
        match Trail::load(data_dir) {
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                match create_key(&path) {
                    Ok(trail) => Ok(trail),
                    // Another process created it first: use theirs.
                    Err(StoreError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Trail::load(data_dir)
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Loads an existing key; a missing file is an error whose source is
    /// `NotFound`.
    pub fn load(data_dir: &Path) -> Result<Trail, StoreError> {
        let path = Trail::key_path(data_dir);
        let io = |source| StoreError::Io {
            context: format!("reading the audit trail key {}", path.display()),
            source,
        };
        let mut bytes = Vec::with_capacity(KEY_LEN);
        std::fs::File::open(&path)
            .and_then(|f| f.take(KEY_LEN as u64 + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() != KEY_LEN {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "expected {KEY_LEN} bytes, found {}; restore the file from a backup of the data directory",
                    bytes.len()
                ),
            )));
        }
        Ok(Trail::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8]) -> Trail {
        Trail {
            key: Arc::new(hmac::Key::new(hmac::HMAC_SHA256, bytes)),
        }
    }

    /// Appends `entry` as the next row, inside the caller's transaction, and
    /// returns its id.
    pub fn append(&self, conn: &Connection, ts_ms: i64, entry: &Entry) -> Result<i64, StoreError> {
        let (last_id, prev_hash) = repo::last_link(conn)?.unwrap_or((0, GENESIS.to_string()));
        let id = last_id + 1;
        let personal = entry.personal();
        let pii_digest = personal.digest(&self.key, id);
        let canonical = entry.canonical(id, ts_ms, pii_digest, prev_hash);
        let hash = canonical.hash();
        repo::insert(
            conn,
            &Record {
                canonical,
                hash,
                personal,
                erased_ms: None,
            },
        )?;
        Ok(id)
    }

    /// Checks the whole chain (see the module doc).
    /// Earlier successful logins of `target` (`user:<id>`): (all, from `ip`).
    pub fn earlier_logins(
        &self,
        conn: &Connection,
        target: &str,
        ip: &str,
    ) -> Result<(i64, i64), StoreError> {
        repo::earlier_logins(conn, target, ip)
    }

    /// The client addresses recorded on rows (not yet erased) that account
    /// `user_id` acted in or that name `email`, for erasing them elsewhere.
    pub fn ips_of(
        &self,
        conn: &Connection,
        user_id: i64,
        email: &str,
    ) -> Result<Vec<String>, StoreError> {
        repo::ips_of(conn, user_id, email)
    }

    pub fn verify(&self, conn: &Connection) -> Result<Verdict, StoreError> {
        verify::verify(conn, &self.key)
    }

    /// Blanks the personal data of every row that mentions `email` (as the
    /// actor's snapshot or inside the personal details) and records a
    /// `trail.erased` row by `by`, which holds only the number of rows and a
    /// keyed digest of the address. Returns the number of rows erased.
    pub fn erase(
        &self,
        conn: &Connection,
        ts_ms: i64,
        email: &str,
        by: Actor,
    ) -> Result<usize, StoreError> {
        self.erase_person(conn, ts_ms, email, None, &[], by)
    }

    /// As [`Trail::erase`], and when `user_id` is given also every row that
    /// account acted in (its IP and user agent, whatever email it had then)
    /// and every row about it (`target` = `user:<id>`) that holds personal
    /// details, and every row recorded from one of `ips` (failed logins
    /// carry only a masked address and the IP). On those rows the acting
    /// admin's snapshot is blanked too: the trigger only allows all personal
    /// columns to go together.
    pub fn erase_person(
        &self,
        conn: &Connection,
        ts_ms: i64,
        email: &str,
        user_id: Option<i64>,
        ips: &[String],
        by: Actor,
    ) -> Result<usize, StoreError> {
        let mut ids = repo::ids_mentioning(conn, email)?;
        if let Some(user_id) = user_id {
            ids.extend(repo::ids_of_user(conn, user_id)?);
        }
        for ip in ips {
            ids.extend(repo::ids_from_ip(conn, ip)?);
        }
        ids.sort_unstable();
        ids.dedup();
        // Overwrite the old bytes rather than leave them in free space.
        let secure = repo::secure_delete(conn, 1)?;
        for &id in &ids {
            repo::erase_personal(conn, id, ts_ms)?;
        }
        repo::secure_delete(conn, secure)?;
        let subject = model::hex(
            hmac::sign(
                &self.key,
                json!([
                    "watchpost.audit.erasure.v1",
                    email.trim().to_ascii_lowercase()
                ])
                .to_string()
                .as_bytes(),
            )
            .as_ref(),
        );
        let entry = Entry::new(by, "trail.erased", Outcome::Success)
            .detail("rows", ids.len())
            .detail("subject_digest", subject);
        self.append(conn, ts_ms, &entry)?;
        Ok(ids.len())
    }
}

/// After an erasure, moves the database's write-ahead log into the database
/// file and empties it, so no copy of the erased bytes is left in the log.
/// Returns false when another process's readers kept it from finishing; the
/// old copies are then overwritten as the log is reused.
pub fn purge_log(db_path: &Path) -> Result<bool, StoreError> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    repo::checkpoint_truncate(&conn)
}

fn create_key(path: &Path) -> Result<Trail, StoreError> {
    let io = |source| StoreError::Io {
        context: format!("creating the audit trail key {}", path.display()),
        source,
    };
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| io(std::io::Error::other("the system random source failed")))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
        // A short key file would stop every later start; leave none instead.
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(Trail::from_bytes(&bytes))
}
