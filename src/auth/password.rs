//! Password hashing with argon2id (PHC strings such as
//! `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), run off the async runtime
//! behind a semaphore sized to the CPU count, so a burst of logins queues
//! instead of starving the runtime or exhausting memory. The hashes run on
//! this hasher's own threads (one per CPU) at the lowest OS priority (nice
//! 19), so while both cores hash, every other request still gets the CPU
//! the moment it needs it: logins slow down, the rest of Watchpost does not.
//!
//! Parameters default to the OWASP minimum (m=19456 KiB, t=2, p=1) and can
//! only be raised; a stored hash made with weaker parameters (or another
//! algorithm) verifies as before and reports `needs_rehash`, so the login
//! code can store a fresh hash. An unknown user is checked against a dummy
//! hash made with the same parameters, so both paths cost the same.
//!
//! This module must never log, truncate or keep a password, and never return
//! `ok` for a login that did not match a real stored hash.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::secrets::{RandomUnavailable, fill_random};
use crate::config::{Problem, Section};

/// Bytes of random salt per hash.
const SALT_LEN: usize = 16;

/// argon2id cost parameters: the `[auth.password_hash]` config section
/// (`memory_kib`, `iterations`, `parallelism`). Values
/// below the OWASP minimum are rejected by [`Section::validate`] and by
/// [`Hasher::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashParams {
    /// Memory per hash, in KiB (argon2 `m`).
    pub memory_kib: u32,
    /// Passes over the memory (argon2 `t`).
    pub iterations: u32,
    /// Lanes (argon2 `p`).
    pub parallelism: u32,
}

impl HashParams {
    /// The OWASP Password Storage Cheat Sheet minimum for argon2id, which is
    /// also the default.
    pub const MINIMUM: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Every way these parameters fall short, as (field, message) pairs
    /// that say what to do.
    fn problems(&self) -> Vec<(&'static str, String)> {
        let min = HashParams::MINIMUM;
        let mut problems = Vec::new();
        let fields = [
            ("memory_kib", self.memory_kib, min.memory_kib),
            ("iterations", self.iterations, min.iterations),
            ("parallelism", self.parallelism, min.parallelism),
        ];
        for (field, value, floor) in fields {
            if value < floor {
                problems.push((
                    field,
                    format!(
                        "{value} is below the OWASP minimum for argon2id; set it to at least {floor} (or remove it to use the default)"
                    ),
                ));
            }
        }
        if problems.is_empty()
            && let Err(e) = self.argon2_params()
        {
            problems.push((
                "memory_kib",
                format!("argon2 refuses these parameters ({e}); lower them to a sensible size"),
            ));
        }
        problems
    }

    fn argon2_params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }

    /// Whether a hash made with `other` is weaker than one made with these.
    fn is_weaker(&self, other: &Params) -> bool {
        other.m_cost() < self.memory_kib
            || other.t_cost() < self.iterations
            || other.p_cost() < self.parallelism
            || other.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN) < Params::DEFAULT_OUTPUT_LEN
    }
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams::MINIMUM
    }
}

impl Section for HashParams {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        for (field, message) in self.problems() {
            problems.push(Problem::new(format!("{prefix}.{field}"), message));
        }
    }
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing parameters rejected: {0}")]
    Params(String),
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    #[error("argon2 failed: {0}")]
    Argon2(String),
    #[error("the password hashing task did not finish (the runtime is shutting down)")]
    Interrupted,
    #[error("cannot start a password hashing thread: {0}")]
    Thread(String),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches the stored hash. Always false for an unknown user.
    pub ok: bool,
    /// The stored hash was made with weaker parameters (or not with
    /// argon2id v19): when `ok`, hash the password again and store that.
    pub needs_rehash: bool,
}

impl Verified {
    const NO: Verified = Verified {
        ok: false,
        needs_rehash: false,
    };
}

/// Hashes and verifies passwords off the async runtime. Build one at start
/// (`Hasher::new(config.auth.password_hash)`) and clone it into whatever
/// needs it: clones share the semaphore and the dummy hash.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

/// A hashing job for one of the hasher's threads.
type Job = Box<dyn FnOnce() + Send>;

struct Inner {
    params: HashParams,
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Feeds the hashing threads; they end when the last clone is dropped.
    jobs: Mutex<mpsc::Sender<Job>>,
    /// The unknown-user hash, made on first need with `params`.
    dummy: OnceLock<Option<String>>,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.inner.params)
            .field("permits", &self.inner.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher with `params`, which must be at least [`HashParams::MINIMUM`].
    /// At most as many hashes run at once as the machine has CPUs.
    pub fn new(params: HashParams) -> Result<Hasher, HashError> {
        if let Some((field, message)) = params.problems().into_iter().next() {
            return Err(HashError::Params(format!("{field}: {message}")));
        }
        let argon2_params = params
            .argon2_params()
            .map_err(|e| HashError::Params(e.to_string()))?;
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Ok(Hasher {
            inner: Arc::new(Inner {
                params,
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params),
                permits: Arc::new(Semaphore::new(cpus)),
                jobs: Mutex::new(start_threads(cpus)?),
                dummy: OnceLock::new(),
            }),
        })
    }

    /// The PHC string of `password` with a fresh 16-byte salt. The password
    /// is hashed whole, whatever its length (the policy bounds that).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let inner = Arc::clone(&self.inner);
        self.run(move || inner.hash(password.as_bytes()))
            .await
            .ok_or(HashError::Interrupted)?
    }

    /// Checks `password` against `phc`, the user's stored hash, or against
    /// the dummy hash when there is no such user (`None`), at the same cost.
    /// A stored hash that does not parse counts as a mismatch (and is logged,
    /// without the password).
    pub async fn verify(&self, password: String, phc: Option<String>) -> Verified {
        let inner = Arc::clone(&self.inner);
        self.run(move || inner.verify(password.as_bytes(), phc.as_deref()))
            .await
            .unwrap_or(Verified::NO)
    }

    /// Runs `job` on a hashing thread once a permit is free; `None` if the
    /// threads are gone (the process is shutting down).
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let permit = Arc::clone(&self.inner.permits).acquire_owned().await.ok()?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(job());
            drop(permit);
        });
        self.inner.jobs.lock().ok()?.send(job).ok()?;
        result.await.ok()
    }
}

/// Starts `count` hashing threads at the lowest priority, sharing one queue.
fn start_threads(count: usize) -> Result<mpsc::Sender<Job>, HashError> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..count {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                if let Err(e) = thread_priority::set_current_thread_priority(
                    thread_priority::ThreadPriority::Min,
                ) {
                    tracing::warn!(error = ?e, "could not lower the hashing thread's priority");
                }
                loop {
                    let next = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| HashError::Thread(e.to_string()))?;
    }
    Ok(sender)
}

impl Inner {
    fn hash(&self, password: &[u8]) -> Result<String, HashError> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        self.argon2
            .hash_password_with_salt(password, &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError::Argon2(e.to_string()))
    }

    fn verify(&self, password: &[u8], phc: Option<&str>) -> Verified {
        let stored = phc.and_then(|s| match PasswordHash::new(s) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                tracing::warn!(error = %e, "a stored password hash does not parse; that user must reset the password");
                None
            }
        });
        let Some(stored) = stored else {
            self.spend_like_a_verify(password);
            return Verified::NO;
        };
        let ok = self.argon2.verify_password(password, &stored).is_ok();
        Verified {
            ok,
            needs_rehash: ok && self.needs_rehash(&stored),
        }
    }

    /// The unknown-user path: one argon2 computation with the current
    /// parameters, like a real verify. The very first call makes the dummy
    /// hash, which costs the same as verifying against it.
    fn spend_like_a_verify(&self, password: &[u8]) {
        let mut made_now = false;
        let dummy = self.dummy.get_or_init(|| {
            made_now = true;
            // Not the caller's password: nothing may ever match the dummy.
            let mut filler = [0u8; 32];
            fill_random(&mut filler).ok()?;
            self.hash(&filler).ok()
        });
        if made_now {
            return;
        }
        match dummy.as_deref().map(PasswordHash::new) {
            Some(Ok(parsed)) => {
                let _ = self.argon2.verify_password(password, &parsed);
            }
            _ => {
                let _ = self.hash(password);
            }
        }
    }

    fn needs_rehash(&self, stored: &PasswordHash) -> bool {
        if stored.algorithm.as_str() != "argon2id" || stored.version != Some(Version::V0x13.into())
        {
            return true;
        }
        match Params::try_from(stored) {
            Ok(params) => self.params.is_weaker(&params),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(HashParams::default()).unwrap()
    }

    /// A hash made directly with the argon2 crate, as an older Watchpost or
    /// another tool would have.
    fn legacy_hash(password: &str, algorithm: Algorithm, m: u32, t: u32, p: u32) -> String {
        Argon2::new(
            algorithm,
            Version::V0x13,
            Params::new(m, t, p, None).unwrap(),
        )
        .hash_password_with_salt(password.as_bytes(), b"legacy-salt-1234")
        .unwrap()
        .to_string()
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_differ_and_both_verify() {
        let h = hasher();
        let a = h.hash("correct horse battery staple".into()).await.unwrap();
        let b = h.hash("correct horse battery staple".into()).await.unwrap();
        assert_ne!(a, b);
        for phc in [a, b] {
            let v = h
                .verify("correct horse battery staple".into(), Some(phc))
                .await;
            assert_eq!(
                v,
                Verified {
                    ok: true,
                    needs_rehash: false
                }
            );
        }
    }

    #[tokio::test]
    async fn hashes_use_argon2id_at_the_owasp_minimum() {
        let phc = hasher().hash("a password".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.salt.unwrap().len(), 16);
    }

    #[tokio::test]
    async fn a_wrong_password_fails() {
        let h = hasher();
        let phc = h.hash("the right one, long enough".into()).await.unwrap();
        let v = h
            .verify("the wrong one, long enough".into(), Some(phc.clone()))
            .await;
        assert_eq!(v, Verified::NO);
        // Not truncated: a prefix of the password is a different password.
        let v = h
            .verify("the right one, long enoug".into(), Some(phc))
            .await;
        assert!(!v.ok);
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let h = hasher();
        for _ in 0..3 {
            assert_eq!(h.verify("anything at all".into(), None).await, Verified::NO);
        }
        assert!(
            h.inner
                .dummy
                .get()
                .unwrap()
                .as_deref()
                .unwrap()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert_eq!(h.verify(String::new(), None).await, Verified::NO);
    }

    #[tokio::test]
    async fn a_stored_hash_that_does_not_parse_never_verifies() {
        let v = hasher()
            .verify("x".into(), Some("not a phc string".into()))
            .await;
        assert_eq!(v, Verified::NO);
    }

    #[tokio::test]
    async fn weaker_stored_hashes_verify_and_ask_for_a_rehash() {
        let h = hasher();
        let weaker = [
            legacy_hash("old password", Algorithm::Argon2id, 8_192, 2, 1),
            legacy_hash("old password", Algorithm::Argon2id, 19_456, 1, 1),
            legacy_hash("old password", Algorithm::Argon2i, 19_456, 2, 1),
        ];
        for phc in weaker {
            let v = h.verify("old password".into(), Some(phc.clone())).await;
            assert_eq!(
                v,
                Verified {
                    ok: true,
                    needs_rehash: true
                },
                "{phc}"
            );
            // A wrong password says nothing about the hash.
            let v = h.verify("not the password".into(), Some(phc)).await;
            assert_eq!(v, Verified::NO);
        }
    }

    #[tokio::test]
    async fn raised_parameters_make_current_hashes_need_a_rehash() {
        let phc = hasher().hash("a password".into()).await.unwrap();
        let stronger = Hasher::new(HashParams {
            memory_kib: 32_768,
            ..HashParams::MINIMUM
        })
        .unwrap();
        let v = stronger.verify("a password".into(), Some(phc)).await;
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        let fresh = stronger.hash("a password".into()).await.unwrap();
        assert!(
            fresh.starts_with("$argon2id$v=19$m=32768,t=2,p=1$"),
            "{fresh}"
        );
    }

    #[test]
    fn parameters_below_the_minimum_are_refused_with_the_fix() {
        let low = HashParams {
            memory_kib: 4_096,
            iterations: 1,
            parallelism: 1,
        };
        let mut problems = Vec::new();
        low.validate("auth.password_hash", &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].key, "auth.password_hash.memory_kib");
        assert!(
            problems[0].message.contains("at least 19456"),
            "{}",
            problems[0].message
        );
        assert_eq!(problems[1].key, "auth.password_hash.iterations");
        assert!(Hasher::new(low).is_err());

        let mut problems = Vec::new();
        HashParams::default().validate("auth.password_hash", &mut problems);
        assert!(problems.is_empty());
        HashParams {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 4,
        }
        .validate("auth.password_hash", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
