//! Secrets sealed at rest: TOTP seeds and webhook secrets are stored in the
//! database encrypted with AES-256-GCM (ring) under one installation key, the
//! file `secret.key` in the data directory, created `0600` on first start.
//! The associated data binds each sealed value to the row it belongs to
//! (`b"totp:user:42"`), so a value copied to another row does not open.
//!
//! This module must never log or return the key, write the key file with
//! wider permissions than `0600` (even for an instant), or accept a key file
//! that other users can read.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::secrets::{RandomUnavailable, fill_random};

/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";
/// The key is 32 raw bytes (AES-256).
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Why the key file could not be loaded or created. Each message names the
/// file and says what to do; start-up should stop on any of them.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error(
        "cannot read or create the key file {path}: {source}; check that the data directory exists and belongs to the user Watchpost runs as"
    )]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the key file {path} holds {len} bytes, not 32; restore it from a backup (without it, sealed TOTP and webhook secrets cannot be opened)"
    )]
    WrongLength { path: PathBuf, len: u64 },
    #[error(
        "the key file {path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}` and check who may have read it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error(
        "the key file {path} is not a regular file; move it away and restore the real key file"
    )]
    NotAFile { path: PathBuf },
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    #[error("the value is too large to seal")]
    TooLarge,
    /// Tampered, truncated, bound to another row (aad), or sealed under
    /// another installation's key: AES-GCM cannot tell these apart.
    #[error(
        "a sealed secret does not open with this installation's key: it was altered, belongs to another record, or was sealed with a different secret.key; set the secret again"
    )]
    WontOpen,
}

/// Seals and opens secrets with the installation key. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    key: Arc<LessSafeKey>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer { key: [redacted] }")
    }
}

impl Sealer {
    /// Reads `data_dir/secret.key`, or creates it (32 random bytes, mode
    /// 0600 from the moment it exists) when there is none. Refuses a key file
    /// of the wrong length or one that group or others can read.
    pub fn load_or_create(data_dir: &Path) -> Result<Sealer, KeyFileError> {
        let path = data_dir.join(KEY_FILE_NAME);
        let io_err = |source| KeyFileError::Io {
            path: path.clone(),
            source,
        };
        let key = match File::open(&path) {
            Ok(file) => read_key(file, &path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match create_key(&path) {
                Ok(key) => key,
                // Another process created it between our two calls: use theirs.
                Err(KeyFileError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists =>
                {
                    read_key(File::open(&path).map_err(io_err)?, &path)?
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(io_err(e)),
        };
        let unbound =
            UnboundKey::new(&AES_256_GCM, &key).map_err(|_| KeyFileError::WrongLength {
                path: path.clone(),
                len: key.len() as u64,
            })?;
        Ok(Sealer {
            key: Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// Encrypts `plaintext`, bound to `aad` (which is not stored: the caller
    /// passes the same bytes to [`Sealer::open`]). Output: a fresh random
    /// 96-bit nonce, then the ciphertext and its 128-bit tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| SealError::TooLarge)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts what [`Sealer::seal`] produced with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::WontOpen);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::WontOpen)?;
        let mut body = body.to_vec();
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| SealError::WontOpen)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }
}

fn read_key(mut file: File, path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    // The checks use the opened file itself, so a swap of the path between
    // check and read changes nothing.
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() != KEY_LEN as u64 {
        return Err(KeyFileError::WrongLength {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let mut key = vec![0u8; KEY_LEN];
    file.read_exact(&mut key).map_err(io_err)?;
    Ok(key)
}

fn create_key(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut key = vec![0u8; KEY_LEN];
    fill_random(&mut key)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err)?;
    file.write_all(&key).map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::fs;

    use super::*;

    const AAD: &[u8] = b"totp:user:42";

    #[test]
    fn sealed_value_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", AAD).unwrap();
        assert_eq!(sealed.len(), 12 + 16 + 16);
        assert_eq!(sealer.open(&sealed, AAD).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert_eq!(
            sealer.open(&sealer.seal(b"", AAD).unwrap(), AAD).unwrap(),
            b""
        );
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        assert_ne!(
            sealer.seal(b"same", AAD).unwrap(),
            sealer.seal(b"same", AAD).unwrap()
        );
    }

    #[test]
    fn any_flipped_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = sealer.seal(b"webhook secret", AAD).unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                sealer.open(&tampered, AAD),
                Err(SealError::WontOpen),
                "byte {i}"
            );
        }
        assert_eq!(sealer.open(&sealed[..20], AAD), Err(SealError::WontOpen));
    }

    #[test]
    fn another_rows_aad_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = sealer.seal(b"seed", b"totp:user:42").unwrap();
        assert_eq!(
            sealer.open(&sealed, b"totp:user:43"),
            Err(SealError::WontOpen)
        );
    }

    #[test]
    fn key_file_is_created_0600_with_32_bytes() {
        let dir = tempfile::tempdir().unwrap();
        Sealer::load_or_create(dir.path()).unwrap();
        let meta = fs::metadata(dir.path().join("secret.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
    }

    #[test]
    fn a_second_load_reads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = first.seal(b"seed", AAD).unwrap();
        let second = Sealer::load_or_create(dir.path()).unwrap();
        assert_eq!(second.open(&sealed, AAD).unwrap(), b"seed");
    }

    #[test]
    fn another_installations_key_does_not_open_it() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sealed = Sealer::load_or_create(a.path())
            .unwrap()
            .seal(b"seed", AAD)
            .unwrap();
        let other = Sealer::load_or_create(b.path()).unwrap();
        assert_eq!(other.open(&sealed, AAD), Err(SealError::WontOpen));
    }

    #[test]
    fn a_readable_key_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        Sealer::load_or_create(dir.path()).unwrap();
        let path = dir.path().join("secret.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Sealer::load_or_create(dir.path()).unwrap_err();
        assert!(
            matches!(err, KeyFileError::TooOpen { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(err.to_string().contains("secret.key"), "{err}");
    }

    #[test]
    fn a_key_file_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        for len in [0usize, 31, 33, 4096] {
            fs::write(&path, vec![7u8; len]).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            let err = Sealer::load_or_create(dir.path()).unwrap_err();
            assert!(
                matches!(err, KeyFileError::WrongLength { .. }),
                "{len}: {err}"
            );
            assert!(err.to_string().contains("secret.key"), "{err}");
        }
    }

    #[test]
    fn a_missing_data_dir_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = Sealer::load_or_create(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }), "{err}");
        assert!(err.to_string().contains("secret.key"), "{err}");
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(dir.path()).unwrap();
        assert_eq!(format!("{sealer:?}"), "Sealer { key: [redacted] }");
    }
}
