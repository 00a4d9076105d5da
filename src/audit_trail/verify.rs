//! Checking the chain: walk the rows oldest first, recompute each row's hash
//! from its canonical form, check it links to the row before and, where
//! personal data is still present, that it matches its digest. Stops at the
//! first broken row and says why. Never changes anything.

use std::fmt;
use std::ops::ControlFlow;

use ring::hmac;
use rusqlite::Connection;

use super::model::{GENESIS, Record};
use super::repo;
use crate::store::StoreError;

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Ids are consecutive from 1; a row before this one is missing.
    Missing { expected: i64 },
    /// `prev_hash` is not the hash of the row before.
    Unlinked,
    /// The canonical form does not hash to the stored hash.
    Altered,
    /// The personal data does not match `pii_digest`.
    PersonalAltered,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { expected } => write!(
                f,
                "row {expected} is missing before it (rows were deleted or renumbered)"
            ),
            Problem::Unlinked => f.write_str(
                "its prev_hash is not the hash of the row before it (a row before it was changed or replaced)",
            ),
            Problem::Altered => {
                f.write_str("its contents do not match its hash (the row was changed)")
            }
            Problem::PersonalAltered => f.write_str(
                "its personal data (email, IP, user agent or personal details) does not match its digest (it was changed)",
            ),
        }
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row checks out; `head` is the newest row's hash (`None` when empty).
    Intact { rows: u64, head: Option<String> },
    /// Row `id` is the first that does not.
    Broken { id: i64, problem: Problem },
}

/// Checks rows one at a time; `check` them in id order.
struct Chain<'k> {
    key: &'k hmac::Key,
    rows: u64,
    last_id: i64,
    last_hash: String,
}

impl Chain<'_> {
    fn check(&mut self, record: &Record) -> Result<(), Problem> {
        let c = &record.canonical;
        if c.id != self.last_id + 1 {
            return Err(Problem::Missing {
                expected: self.last_id + 1,
            });
        }
        if c.prev_hash != self.last_hash {
            return Err(Problem::Unlinked);
        }
        if c.hash() != record.hash {
            return Err(Problem::Altered);
        }
        if !record.personal.is_empty() && record.personal.digest(self.key, c.id) != c.pii_digest {
            return Err(Problem::PersonalAltered);
        }
        self.rows += 1;
        self.last_id = c.id;
        self.last_hash.clone_from(&record.hash);
        Ok(())
    }
}

/// Verifies the whole trail on `conn` with the installation's key.
pub fn verify(conn: &Connection, key: &hmac::Key) -> Result<Verdict, StoreError> {
    let mut chain = Chain {
        key,
        rows: 0,
        last_id: 0,
        last_hash: GENESIS.to_string(),
    };
    let mut broken = None;
    repo::each_in_order(conn, |record| -> Result<_, StoreError> {
        match chain.check(&record) {
            Ok(()) => Ok(ControlFlow::Continue(())),
            Err(problem) => {
                broken = Some(Verdict::Broken {
                    id: record.canonical.id,
                    problem,
                });
                Ok(ControlFlow::Break(()))
            }
        }
    })?;
    Ok(broken.unwrap_or(Verdict::Intact {
        rows: chain.rows,
        head: (chain.rows > 0).then_some(chain.last_hash),
    }))
}
