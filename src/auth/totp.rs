//! Time-based one-time passwords (RFC 6238): HMAC-SHA1, 6 digits, 30-second
//! steps, one step of clock skew either way, 32-byte secrets; plus what
//! enrolment shows: the `otpauth://` URL, its QR code as inline SVG, and the
//! secret as a grouped base32 key for typing by hand.
//!
//! Built on ring's HMAC rather than a TOTP crate: the algorithm is a dozen
//! lines, and owning it lets verification compare in constant time and report
//! replays by step (the caller stores the last accepted step per user and
//! refuses anything at or before it, as Vaultwarden does with `last_used`).
//!
//! This module must never log a secret or a code, and never accept a code
//! from outside steps t-1..=t+1 or at or before the last accepted step.

use data_encoding::BASE32_NOPAD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use ring::hmac;
use url::Url;

use super::secrets::{RandomUnavailable, constant_time_eq, fill_random};

/// Bytes in a new TOTP secret (256 bits, as Authelia uses).
pub const SECRET_BYTES: usize = 32;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Seconds in one time step.
pub const STEP_SECONDS: u64 = 30;
/// The issuer shown in authenticator apps, unless configured otherwise.
pub const ISSUER: &str = "Watchpost";
/// Steps accepted either side of the current one.
const SKEW_STEPS: u64 = 1;

/// The outcome of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// Valid and fresh: store `step` as the user's last accepted step.
    Accepted { step: u64 },
    /// Valid, but for a step at or before the last accepted one: a code used
    /// twice. Refuse it like a wrong code, and audit it.
    Replayed,
    /// Not a valid code now (or not six digits at all).
    Wrong,
}

/// A new random secret, to be sealed (see [`super::seal`]) before storing.
pub fn new_secret() -> Result<Vec<u8>, RandomUnavailable> {
    let mut secret = vec![0u8; SECRET_BYTES];
    fill_random(&mut secret)?;
    Ok(secret)
}

/// The time step that `now_unix_s` falls in.
pub fn current_step(now_unix_s: u64) -> u64 {
    now_unix_s / STEP_SECONDS
}

/// The 6-digit code for the moment `unix_s`. Used by enrolment checks and
/// by tests that must type the right code.
pub fn code_at(secret: &[u8], unix_s: u64) -> String {
    code_for_step(secret, current_step(unix_s), DIGITS)
}

/// RFC 4226 HOTP of `step`: HMAC-SHA1, dynamic truncation, `digits` digits.
fn code_for_step(secret: &[u8], step: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    // A SHA-1 tag has 20 bytes, so offset ≤ 15 and offset + 4 ≤ 19.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let code = u64::from(binary) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// Checks `code` (spaces allowed, e.g. `123 456`) against steps t-1, t and
/// t+1 around `now_unix_s`. `last_step` is the user's last accepted step, if
/// any; a valid code for that step or an earlier one is [`TotpCheck::Replayed`].
pub fn verify(secret: &[u8], code: &str, now_unix_s: u64, last_step: Option<u64>) -> TotpCheck {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return TotpCheck::Wrong;
    }
    let now = current_step(now_unix_s);
    let first = now.saturating_sub(SKEW_STEPS);
    let mut matched: Option<u64> = None;
    // Every candidate is computed and compared, so the time taken does not
    // say which step (if any) matched.
    for step in first..=now.saturating_add(SKEW_STEPS) {
        let expected = code_for_step(secret, step, DIGITS);
        if constant_time_eq(expected.as_bytes(), typed.as_bytes()) {
            matched = Some(step);
        }
    }
    match (matched, last_step) {
        (None, _) => TotpCheck::Wrong,
        (Some(step), Some(last)) if step <= last => TotpCheck::Replayed,
        (Some(step), _) => TotpCheck::Accepted { step },
    }
}

/// The secret in base32 without padding, in groups of four
/// (`ABCD EFGH …`), for people who type it into their app by hand.
pub fn manual_key(secret: &[u8]) -> String {
    let plain = BASE32_NOPAD.encode(secret);
    let mut grouped = String::with_capacity(plain.len() + plain.len() / 4);
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    grouped
}

/// The Key URI that authenticator apps import:
/// `otpauth://totp/Watchpost:alice@example.com?secret=…&issuer=Watchpost&…`.
/// It contains the secret: render it into the enrolment page only, never log it.
pub fn otpauth_url(secret: &[u8], account_email: &str, issuer: &str) -> String {
    let mut url = match Url::parse("otpauth://totp") {
        Ok(url) => url,
        // The literal above always parses; this arm only satisfies the types.
        Err(_) => return String::new(),
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.push(&format!("{issuer}:{account_email}"));
    }
    url.query_pairs_mut()
        .append_pair("secret", &BASE32_NOPAD.encode(secret))
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", &DIGITS.to_string())
        .append_pair("period", &STEP_SECONDS.to_string());
    url.into()
}

/// The text does not fit in a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the enrolment link is too long for a QR code; use the manual key instead")]
pub struct QrTooLong;

/// `url` as a QR code in an inline `<svg>` element, ready to embed in a page
/// as markup: no XML declaration, no `style` attributes and no scripts (only
/// presentation attributes such as `fill`), so a strict CSP allows it.
pub fn qr_svg(url: &str) -> Result<String, QrTooLong> {
    let code =
        QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(|_| QrTooLong)?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(svg::Color("#000"))
        .light_color(svg::Color("#fff"))
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].replacen(
        "<svg ",
        r#"<svg role="img" aria-label="QR code to scan with your authenticator app" "#,
        1,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";
    const NOW: u64 = 1_700_000_015;

    #[test]
    fn rfc6238_sha1_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (t, expected) in vectors {
            assert_eq!(
                code_for_step(RFC_SECRET, current_step(t), 8),
                expected,
                "t={t}"
            );
            assert_eq!(code_at(RFC_SECRET, t), expected[2..], "t={t}");
        }
    }

    #[test]
    fn codes_of_the_previous_current_and_next_step_are_accepted() {
        let now = current_step(NOW);
        for step in [now - 1, now, now + 1] {
            let code = code_at(RFC_SECRET, step * STEP_SECONDS);
            assert_eq!(
                verify(RFC_SECRET, &code, NOW, None),
                TotpCheck::Accepted { step }
            );
        }
    }

    #[test]
    fn codes_two_steps_away_are_wrong() {
        let now = current_step(NOW);
        for step in [now - 2, now + 2] {
            let code = code_at(RFC_SECRET, step * STEP_SECONDS);
            assert_eq!(verify(RFC_SECRET, &code, NOW, None), TotpCheck::Wrong);
        }
    }

    #[test]
    fn a_code_at_or_before_the_last_accepted_step_is_a_replay() {
        let code = code_at(RFC_SECRET, NOW);
        let TotpCheck::Accepted { step } = verify(RFC_SECRET, &code, NOW, None) else {
            panic!("fresh code refused");
        };
        assert_eq!(
            verify(RFC_SECRET, &code, NOW, Some(step)),
            TotpCheck::Replayed
        );
        assert_eq!(
            verify(RFC_SECRET, &code, NOW, Some(step + 1)),
            TotpCheck::Replayed
        );
        // The previous step's code after the current one was used: also a replay.
        let earlier = code_at(RFC_SECRET, NOW - STEP_SECONDS);
        assert_eq!(
            verify(RFC_SECRET, &earlier, NOW, Some(step)),
            TotpCheck::Replayed
        );
        // The next step's code is still fresh.
        let next = code_at(RFC_SECRET, NOW + STEP_SECONDS);
        assert_eq!(
            verify(RFC_SECRET, &next, NOW, Some(step)),
            TotpCheck::Accepted { step: step + 1 }
        );
    }

    #[test]
    fn spaces_are_ignored_but_anything_else_is_wrong() {
        let code = code_at(RFC_SECRET, NOW);
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert!(matches!(
            verify(RFC_SECRET, &spaced, NOW, None),
            TotpCheck::Accepted { .. }
        ));
        let garbage = [
            "",
            "abcdef",
            "12345",
            "1234567",
            "12-34-56",
            "١٢٣٤٥٦",
            "        ",
            &format!("{code}0"),
            &format!("+{}", &code[1..]),
        ];
        for input in garbage {
            assert_eq!(
                verify(RFC_SECRET, input, NOW, None),
                TotpCheck::Wrong,
                "{input:?}"
            );
        }
    }

    #[test]
    fn another_secrets_code_is_wrong() {
        let code = code_at(b"another secret of twenty", NOW);
        if code != code_at(RFC_SECRET, NOW) {
            assert_eq!(verify(RFC_SECRET, &code, NOW, None), TotpCheck::Wrong);
        }
    }

    #[test]
    fn the_first_steps_of_the_epoch_do_not_underflow() {
        let code = code_at(RFC_SECRET, 0);
        assert_eq!(
            verify(RFC_SECRET, &code, 0, None),
            TotpCheck::Accepted { step: 0 }
        );
    }

    #[test]
    fn new_secrets_are_32_random_bytes() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn manual_key_is_unpadded_base32_in_groups_of_four() {
        let secret = new_secret().unwrap();
        let key = manual_key(&secret);
        assert!(!key.contains('='));
        let groups: Vec<&str> = key.split(' ').collect();
        assert!(
            groups[..groups.len() - 1].iter().all(|g| g.len() == 4),
            "{key}"
        );
        assert_eq!(
            BASE32_NOPAD
                .decode(key.replace(' ', "").as_bytes())
                .unwrap(),
            secret
        );
        assert_eq!(
            manual_key(b"12345678901234567890"),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }

    #[test]
    fn otpauth_url_names_issuer_account_and_parameters() {
        let url = otpauth_url(RFC_SECRET, "alice+ops@example.com", ISSUER);
        assert_eq!(
            url,
            "otpauth://totp/Watchpost:alice+ops@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Watchpost&algorithm=SHA1&digits=6&period=30"
        );
        let spaced = otpauth_url(RFC_SECRET, "a b@example.com", "My Team");
        assert!(
            spaced.starts_with("otpauth://totp/My%20Team:a%20b@example.com?"),
            "{spaced}"
        );
    }

    #[test]
    fn qr_svg_is_inline_markup_without_styles_or_scripts() {
        let svg = qr_svg(&otpauth_url(RFC_SECRET, "alice@example.com", ISSUER)).unwrap();
        assert!(svg.starts_with("<svg "), "{}", &svg[..60]);
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r##"fill="#000""##));
        for forbidden in ["<?xml", "style", "<script", " on", "javascript:"] {
            assert!(!svg.contains(forbidden), "{forbidden} in {svg}");
        }
    }

    #[test]
    fn qr_svg_refuses_text_too_long_for_a_code() {
        assert_eq!(qr_svg(&"x".repeat(8000)), Err(QrTooLong));
    }
}
