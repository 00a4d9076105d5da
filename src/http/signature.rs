//! Webhook signatures: `X-Watchpost-Signature: sha256=<hex>` is HMAC-SHA256
//! over `<timestamp>.<raw body>` (Stripe's scheme, so the timestamp cannot be
//! changed without breaking the signature), with `X-Watchpost-Timestamp` in
//! Unix seconds. [`Verifier`] accepts a timestamp within ±300 s of now,
//! compares in constant time (`ring::hmac::verify`) and refuses a signature
//! it has already accepted in the last 10 minutes.
//!
//! The alert webhooks (outbound, [`sign`]) and the inbound webhooks of later
//! features use this module; until they land it is exercised by its tests.
//!
//! This module must never log a secret or a signature, compare MACs with
//! `==`, or remember a signature that did not verify (so unsigned junk cannot
//! fill the replay cache).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};
use ring::hmac;

/// The header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Watchpost-Signature";
/// The header carrying the Unix time (seconds) that was signed.
pub const TIMESTAMP_HEADER: &str = "X-Watchpost-Timestamp";
/// How far the signed timestamp may be from now, either way.
pub const TOLERANCE_S: i64 = 300;
/// How long an accepted signature is refused if it comes again.
pub const REPLAY_WINDOW_S: i64 = 600;
/// The replay cache's bound. A signature is only worth remembering while its
/// timestamp is within tolerance, so evicting the oldest early (under a flood
/// of validly signed requests) still leaves it bound by the timestamp check.
const REPLAY_CACHE_MAX: usize = 16_384;

const SCHEME_PREFIX: &str = "sha256=";
const MAC_LEN: usize = 32;

/// Why a signed request was refused. Messages are safe to return to the
/// sender: they say what to fix and reveal nothing about the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "the {SIGNATURE_HEADER} header is missing; sign the request and send `sha256=<hex HMAC>`"
    )]
    MissingSignature,
    #[error(
        "the {TIMESTAMP_HEADER} header is missing; send the Unix time in seconds that you signed"
    )]
    MissingTimestamp,
    #[error("the {SIGNATURE_HEADER} header is malformed; send `sha256=` followed by 64 hex digits")]
    MalformedSignature,
    #[error("the {TIMESTAMP_HEADER} header is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error(
        "the signed timestamp is {skew_s} s away from the server's clock (at most {TOLERANCE_S} s allowed); check the sender's clock and sign each request when it is sent"
    )]
    OutOfTolerance { skew_s: u64 },
    #[error(
        "the signature does not match; sign `<timestamp>.<raw body>` with HMAC-SHA256 and the shared secret"
    )]
    BadSignature,
    #[error("this signature was already used; sign every request afresh")]
    Replayed,
}

/// HMAC-SHA256 of `message` under `secret`, as lower-case hex.
pub fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    HEXLOWER.encode(hmac::sign(&key, message).as_ref())
}

/// The `X-Watchpost-Signature` value (`sha256=<hex>`) for `body` sent at
/// `timestamp` (Unix seconds, also sent as `X-Watchpost-Timestamp`).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "{SCHEME_PREFIX}{}",
        hmac_sha256_hex(secret, &signed_message(timestamp, body))
    )
}

fn signed_message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_string();
    let mut message = Vec::with_capacity(ts.len() + 1 + body.len());
    message.extend_from_slice(ts.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// Checks signed requests and remembers accepted signatures for
/// [`REPLAY_WINDOW_S`]. Share one per process (e.g. in `web::Data`); it is
/// `Sync`.
#[derive(Debug, Default)]
pub struct Verifier {
    seen: Mutex<Seen>,
}

/// Accepted MACs and when each may be forgotten; `order` is oldest first.
#[derive(Debug, Default)]
struct Seen {
    expires: HashMap<[u8; MAC_LEN], i64>,
    order: VecDeque<([u8; MAC_LEN], i64)>,
}

impl Seen {
    fn forget_expired(&mut self, now_s: i64) {
        while let Some(&(mac, expires_at)) = self.order.front() {
            if expires_at > now_s && self.order.len() < REPLAY_CACHE_MAX {
                break;
            }
            self.order.pop_front();
            if self.expires.get(&mac) == Some(&expires_at) {
                self.expires.remove(&mac);
            }
        }
    }
}

impl Verifier {
    pub fn new() -> Self {
        Verifier::default()
    }

    /// Verifies one request: both headers present and well-formed, the
    /// timestamp within ±[`TOLERANCE_S`] of `now_s`, the MAC right for
    /// `<timestamp>.<body>` under `secret`, and not seen before. `now_s` is
    /// passed in so tests control the clock.
    pub fn verify(
        &self,
        secret: &[u8],
        signature_header: Option<&str>,
        timestamp_header: Option<&str>,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), SignatureError> {
        let signature = signature_header.ok_or(SignatureError::MissingSignature)?;
        let timestamp = timestamp_header.ok_or(SignatureError::MissingTimestamp)?;
        let mac = parse_signature(signature)?;
        let timestamp = parse_timestamp(timestamp)?;
        let skew_s = now_s.abs_diff(timestamp);
        if skew_s > TOLERANCE_S.unsigned_abs() {
            return Err(SignatureError::OutOfTolerance { skew_s });
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        hmac::verify(&key, &signed_message(timestamp, body), &mac)
            .map_err(|_| SignatureError::BadSignature)?;
        self.remember(mac, now_s)
    }

    /// Records `mac` as used, or reports that it already was.
    fn remember(&self, mac: [u8; MAC_LEN], now_s: i64) -> Result<(), SignatureError> {
        // A panic elsewhere while holding the lock leaves the map consistent
        // (every mutation is a single insert or remove), so keep using it.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.forget_expired(now_s);
        if seen.expires.get(&mac).is_some_and(|&at| at > now_s) {
            return Err(SignatureError::Replayed);
        }
        let expires_at = now_s.saturating_add(REPLAY_WINDOW_S);
        seen.expires.insert(mac, expires_at);
        seen.order.push_back((mac, expires_at));
        Ok(())
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.seen.lock().map(|s| s.expires.len()).unwrap_or(0)
    }
}

fn parse_signature(header: &str) -> Result<[u8; MAC_LEN], SignatureError> {
    let hex = header
        .trim()
        .strip_prefix(SCHEME_PREFIX)
        .ok_or(SignatureError::MalformedSignature)?;
    if hex.len() != 2 * MAC_LEN {
        return Err(SignatureError::MalformedSignature);
    }
    let mut mac = [0u8; MAC_LEN];
    HEXLOWER_PERMISSIVE
        .decode_mut(hex.as_bytes(), &mut mac)
        .map_err(|_| SignatureError::MalformedSignature)?;
    Ok(mac)
}

fn parse_timestamp(header: &str) -> Result<i64, SignatureError> {
    let digits = header.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedTimestamp);
    }
    digits
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SECRET: &[u8] = b"whsec-test-secret";
    const NOW: i64 = 1_760_000_000;
    const BODY: &[u8] = br#"{"alert":"disk full","host":"web-1"}"#;

    fn signed(ts: i64) -> (String, String) {
        (sign(SECRET, ts, BODY), ts.to_string())
    }

    #[test]
    fn reproduces_githubs_documented_vector() {
        assert_eq!(
            hmac_sha256_hex(b"It's a Secret to Everybody", b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn signs_timestamp_dot_body() {
        assert_eq!(
            sign(SECRET, 42, b"{}"),
            format!("sha256={}", hmac_sha256_hex(SECRET, b"42.{}"))
        );
    }

    #[test]
    fn a_correctly_signed_request_verifies() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        assert_eq!(v.verify(SECRET, Some(&sig), Some(&ts), BODY, NOW), Ok(()));
        // Upper-case hex and surrounding whitespace are accepted too.
        let (sig, ts) = signed(NOW + 1);
        let upper = format!(" sha256={} ", sig["sha256=".len()..].to_uppercase());
        assert_eq!(v.verify(SECRET, Some(&upper), Some(&ts), BODY, NOW), Ok(()));
    }

    #[test]
    fn one_flipped_byte_in_the_body_is_rejected() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        for i in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[i] ^= 0x01;
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(&ts), &body, NOW),
                Err(SignatureError::BadSignature),
                "byte {i}"
            );
        }
    }

    #[test]
    fn a_changed_timestamp_or_secret_is_rejected() {
        let v = Verifier::new();
        let (sig, _) = signed(NOW);
        assert_eq!(
            v.verify(SECRET, Some(&sig), Some(&(NOW + 1).to_string()), BODY, NOW),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            v.verify(b"other", Some(&sig), Some(&NOW.to_string()), BODY, NOW),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn missing_headers_are_rejected() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        assert_eq!(
            v.verify(SECRET, None, Some(&ts), BODY, NOW),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            v.verify(SECRET, Some(&sig), None, BODY, NOW),
            Err(SignatureError::MissingTimestamp)
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        let hex = &sig["sha256=".len()..];
        let bad_signatures = [
            String::new(),
            "sha256=".into(),
            format!("sha1={hex}"),
            hex.to_string(),
            format!("{sig}00"),
            format!("sha256={}", "g".repeat(64)),
        ];
        for bad in &bad_signatures {
            assert_eq!(
                v.verify(SECRET, Some(bad), Some(&ts), BODY, NOW),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
        for bad in ["", "soon", "-5", "+5", "1.5", "99999999999999999999999"] {
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(bad), BODY, NOW),
                Err(SignatureError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn timestamps_more_than_300_s_away_are_rejected() {
        let v = Verifier::new();
        for ts in [NOW - 301, NOW + 301] {
            let (sig, ts_header) = signed(ts);
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(&ts_header), BODY, NOW),
                Err(SignatureError::OutOfTolerance { skew_s: 301 })
            );
        }
        for ts in [NOW - 300, NOW + 300] {
            let (sig, ts_header) = signed(ts);
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(&ts_header), BODY, NOW),
                Ok(())
            );
        }
    }

    #[test]
    fn a_replayed_signature_is_rejected_within_ten_minutes() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW + 300);
        assert_eq!(v.verify(SECRET, Some(&sig), Some(&ts), BODY, NOW), Ok(()));
        for later in [NOW, NOW + 1, NOW + 300, NOW + 599] {
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(&ts), BODY, later),
                Err(SignatureError::Replayed),
                "at +{}",
                later - NOW
            );
        }
    }

    #[test]
    fn after_ten_minutes_the_cache_forgets_it() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        assert_eq!(v.verify(SECRET, Some(&sig), Some(&ts), BODY, NOW), Ok(()));
        assert_eq!(v.remembered(), 1);
        let later = NOW + REPLAY_WINDOW_S + 1;
        let (sig2, ts2) = signed(later);
        assert_eq!(
            v.verify(SECRET, Some(&sig2), Some(&ts2), BODY, later),
            Ok(())
        );
        assert_eq!(v.remembered(), 1, "the first signature was forgotten");
        // And once forgotten it is refused by the timestamp check instead.
        assert_eq!(
            v.verify(SECRET, Some(&sig), Some(&ts), BODY, later),
            Err(SignatureError::OutOfTolerance { skew_s: 601 })
        );
    }

    #[test]
    fn the_cache_stays_bounded() {
        let v = Verifier::new();
        let ts = NOW.to_string();
        for i in 0..REPLAY_CACHE_MAX + 10 {
            let body = i.to_string();
            let sig = sign(SECRET, NOW, body.as_bytes());
            assert_eq!(
                v.verify(SECRET, Some(&sig), Some(&ts), body.as_bytes(), NOW),
                Ok(())
            );
        }
        assert_eq!(v.remembered(), REPLAY_CACHE_MAX);
    }

    #[test]
    fn rejections_never_enter_the_cache() {
        let v = Verifier::new();
        let (sig, ts) = signed(NOW);
        let _ = v.verify(SECRET, Some(&sig), Some(&ts), b"tampered", NOW);
        assert_eq!(v.remembered(), 0);
        assert_eq!(v.verify(SECRET, Some(&sig), Some(&ts), BODY, NOW), Ok(()));
    }
}
