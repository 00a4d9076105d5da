//! Random secrets and their stored form: session ids, API tokens, setup
//! tokens and recovery codes, drawn from the operating system's CSPRNG, plus
//! the SHA-256 that stores them and the constant-time comparison that checks
//! them. Every random byte Watchpost needs comes from [`fill_random`].
//!
//! These secrets are high-entropy (128 bits and more), so a fast hash is the
//! right way to store them: nobody can enumerate 2^128 candidates, and a slow
//! hash would only make every request slower. Passwords, which people choose,
//! are the opposite and go through [`super::password`] instead.
//!
//! This module must never log a secret, store one other than as its hash, use
//! any randomness but the OS generator, or compare secrets with `==`.

use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// The operating system's random number generator failed. On Linux this
/// does not happen once the kernel has seeded it; if it does, nothing that
/// needs a secret can safely go on, so callers turn it into a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the operating system's random number generator failed; check the kernel's entropy source (getrandom) and restart Watchpost"
)]
pub struct RandomUnavailable;

/// Bytes of randomness in a session id (256 bits).
pub const SESSION_ID_BYTES: usize = 32;
/// Bytes of randomness in an API token (256 bits), after [`API_TOKEN_PREFIX`].
pub const API_TOKEN_BYTES: usize = 32;
/// Marks Watchpost API tokens so secret scanners and people recognise them.
pub const API_TOKEN_PREFIX: &str = "wp_";
/// Bytes of randomness in a first-run setup token (256 bits).
pub const SETUP_TOKEN_BYTES: usize = 32;
/// How many single-use recovery codes a user gets when enrolling in 2FA.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Lower-case letters and digits without the look-alikes 0/o and 1/l:
/// exactly 32 symbols, so each one carries 5 unbiased bits of a random byte.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Two groups of five symbols: 50 bits per code.
const RECOVERY_GROUP_LEN: usize = 5;

/// Fills `buf` from the OS CSPRNG. Used by the other auth modules (salts,
/// TOTP secrets, nonces, the seal key) so there is one source of randomness.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomUnavailable> {
    SystemRandom::new().fill(buf).map_err(|_| RandomUnavailable)
}

/// `bytes` random bytes as URL-safe base64 without padding (cookie-, header-
/// and URL-safe as is).
pub fn random_token(bytes: usize) -> Result<String, RandomUnavailable> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(BASE64URL_NOPAD.encode(&buf))
}

/// Lower-case hex SHA-256 of `s`: the stored form of session ids, API tokens,
/// setup tokens and (normalised) recovery codes.
pub fn sha256_hex(s: &str) -> String {
    HEXLOWER.encode(digest::digest(&digest::SHA256, s.as_bytes()).as_ref())
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
/// Use it whenever a secret (or a hash of one) is compared with user input.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new session id (256 bits). The cookie carries it; the database stores
/// only [`sha256_hex`] of it.
pub fn new_session_id() -> Result<String, RandomUnavailable> {
    random_token(SESSION_ID_BYTES)
}

/// A new API token, `wp_` followed by 256 random bits in base64url. Shown to
/// the user once; the database stores only [`sha256_hex`] of the whole token.
pub fn new_api_token() -> Result<String, RandomUnavailable> {
    Ok(format!(
        "{API_TOKEN_PREFIX}{}",
        random_token(API_TOKEN_BYTES)?
    ))
}

/// A new first-run setup token (256 bits), printed to the operator's console
/// so only someone with shell access can create the first admin. Stored, if
/// at all, as [`sha256_hex`].
pub fn new_setup_token() -> Result<String, RandomUnavailable> {
    random_token(SETUP_TOKEN_BYTES)
}

/// [`RECOVERY_CODE_COUNT`] distinct single-use recovery codes like
/// `k7m3q-x9ab2`, shown to the user once. Store
/// `sha256_hex(&normalise_recovery_code(code))` for each, and compare what a
/// user types the same way.
pub fn new_recovery_codes() -> Result<Vec<String>, RandomUnavailable> {
    let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let code = new_recovery_code()?;
        // A repeat has odds of about 2^-44 per set; skipping it keeps the
        // promise of ten usable codes anyway.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

fn new_recovery_code() -> Result<String, RandomUnavailable> {
    let mut bytes = [0u8; 2 * RECOVERY_GROUP_LEN];
    fill_random(&mut bytes)?;
    let mut code = String::with_capacity(bytes.len() + 1);
    for (i, b) in bytes.iter().enumerate() {
        if i == RECOVERY_GROUP_LEN {
            code.push('-');
        }
        // The mask keeps 5 bits, and the alphabet has exactly 32 symbols, so
        // every symbol is equally likely.
        code.push(char::from(RECOVERY_ALPHABET[usize::from(b & 0x1f)]));
    }
    Ok(code)
}

/// What a user typed as a recovery code, in the form that was hashed:
/// lower-case, with spaces and dashes (and any other whitespace) removed, so
/// `K7M3Q X9AB2` and `k7m3q-x9ab2` are the same code.
pub fn normalise_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::HashSet;

    use super::*;

    #[test]
    fn random_token_has_the_length_of_its_base64url_encoding() {
        // 32 bytes → 43 characters of unpadded base64url.
        let t = random_token(32).unwrap();
        assert_eq!(t.len(), 43);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(BASE64URL_NOPAD.decode(t.as_bytes()).unwrap().len(), 32);
    }

    #[test]
    fn session_ids_are_256_bits_and_unique() {
        let ids: HashSet<String> = (0..100).map(|_| new_session_id().unwrap()).collect();
        assert_eq!(ids.len(), 100);
        for id in &ids {
            assert_eq!(BASE64URL_NOPAD.decode(id.as_bytes()).unwrap().len(), 32);
        }
    }

    #[test]
    fn api_tokens_carry_the_prefix_and_256_bits() {
        let t = new_api_token().unwrap();
        let rest = t.strip_prefix("wp_").unwrap();
        assert_eq!(BASE64URL_NOPAD.decode(rest.as_bytes()).unwrap().len(), 32);
        assert_ne!(t, new_api_token().unwrap());
    }

    #[test]
    fn setup_tokens_are_256_bits() {
        let t = new_setup_token().unwrap();
        assert_eq!(BASE64URL_NOPAD.decode(t.as_bytes()).unwrap().len(), 32);
    }

    #[test]
    fn sha256_hex_matches_the_known_digest() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_of_the_unambiguous_alphabet() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            let (a, b) = code.split_once('-').unwrap();
            assert_eq!((a.len(), b.len()), (5, 5), "{code}");
            for c in a.chars().chain(b.chars()) {
                assert!(RECOVERY_ALPHABET.contains(&(c as u8)), "{code}");
                assert!(!"0o1l".contains(c), "{code}");
            }
        }
    }

    #[test]
    fn recovery_codes_use_the_whole_alphabet() {
        let seen: HashSet<char> = (0..50)
            .flat_map(|_| new_recovery_codes().unwrap())
            .flat_map(|c| c.chars().collect::<Vec<_>>())
            .filter(|c| *c != '-')
            .collect();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn normalising_ignores_case_spaces_and_dashes() {
        assert_eq!(normalise_recovery_code("K7M3Q X9AB2"), "k7m3qx9ab2");
        assert_eq!(normalise_recovery_code(" k7m3q-x9ab2\n"), "k7m3qx9ab2");
        assert_eq!(normalise_recovery_code("k7m3q--x9ab2"), "k7m3qx9ab2");
        let code = new_recovery_codes().unwrap().remove(0);
        assert_eq!(
            sha256_hex(&normalise_recovery_code(
                &code.to_uppercase().replace('-', " ")
            )),
            sha256_hex(&normalise_recovery_code(&code))
        );
    }
}
