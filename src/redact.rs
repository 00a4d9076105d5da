//! What must never be written down. One pattern of secret-looking names (the
//! one Sentry Relay uses), applied to log fields, query parameters and, later,
//! audit details and ingested events; plus scrubbing of values that are secret
//! whatever their name: PEM private keys and card numbers that pass Luhn.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

pub const REDACTED: &str = "[redacted]";

/// Sentry Relay's pattern, `password|secret|passwd|api[-_]key|apikey|auth|
/// credentials|mysql_pwd|privatekey|private[-_]key|token|bearer`, plus cookies,
/// sessions, CSRF tokens and TOTP codes, as case-insensitive substrings. Plain substring checks rather
/// than a regex: this runs for every field of every log line.
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "secret",
    "passwd",
    "apikey",
    "api_key",
    "api-key",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "private-key",
    "token",
    "bearer",
    "cookie",
    "session",
    "csrf",
    "totp",
];

static PEM_PRIVATE_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?s)-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(-----END[A-Z ]*PRIVATE KEY-----|$)").ok()
});

static CARD_CANDIDATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").ok());

/// Whether a field, header or parameter with this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

/// `value` with PEM private keys and Luhn-valid card numbers replaced.
pub fn scrub_value(value: &str) -> Cow<'_, str> {
    scrub_value_with(value, REDACTED)
}

/// [`scrub_value`] with another replacement (Sentry events say `[Filtered]`).
pub fn scrub_value_with<'a>(value: &'a str, replacement: &str) -> Cow<'a, str> {
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    if digits < 13 && !value.contains("PRIVATE KEY") {
        return Cow::Borrowed(value);
    }
    let mut out = Cow::Borrowed(value);
    if let Some(re) = PEM_PRIVATE_KEY.as_ref()
        && re.is_match(&out)
    {
        out = Cow::Owned(
            re.replace_all(&out, regex::NoExpand(replacement))
                .into_owned(),
        );
    }
    if let Some(re) = CARD_CANDIDATE.as_ref()
        && re.find_iter(&out).any(|m| luhn_valid(m.as_str()))
    {
        let replaced = re.replace_all(&out, |caps: &regex::Captures<'_>| {
            let m = &caps[0];
            if luhn_valid(m) {
                replacement.to_string()
            } else {
                m.to_string()
            }
        });
        out = Cow::Owned(replaced.into_owned());
    }
    out
}

/// A path with query string whose secret-named parameters have their values
/// replaced: `/x?token=abc&page=2` → `/x?token=[redacted]&page=2`.
pub fn redact_query(path_and_query: &str) -> Cow<'_, str> {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return Cow::Borrowed(path_and_query);
    };
    let mut changed = false;
    let parts: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(&percent_decode_lossy(name)) => {
                changed = true;
                Cow::Owned(format!("{name}={REDACTED}"))
            }
            _ => Cow::Borrowed(pair),
        })
        .collect();
    if !changed {
        return Cow::Borrowed(path_and_query);
    }
    Cow::Owned(format!("{path}?{}", parts.join("&")))
}

fn percent_decode_lossy(text: &str) -> String {
    url::form_urlencoded::parse(format!("{text}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_else(|| text.to_string())
}

fn luhn_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match i % 2 {
            1 if d * 2 > 9 => d * 2 - 9,
            1 => d * 2,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_relay_pattern() {
        for name in [
            "password",
            "new_password",
            "API_KEY",
            "api-key",
            "apikey",
            "authorization",
            "x_token",
            "Bearer",
            "private_key",
            "mysql_pwd",
            "cookie",
            "csrftoken",
        ] {
            assert!(is_secret_name(name), "{name} should be secret");
        }
        for name in ["path", "method", "status", "user_agent", "email"] {
            assert!(!is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn query_values_of_secret_parameters_are_replaced() {
        assert_eq!(
            redact_query("/x?token=abc&page=2"),
            "/x?token=[redacted]&page=2"
        );
        assert_eq!(redact_query("/x?page=2"), "/x?page=2");
        assert_eq!(redact_query("/x?api%5Fkey=zzz"), "/x?api%5Fkey=[redacted]");
        assert_eq!(redact_query("/plain"), "/plain");
    }

    #[test]
    fn card_numbers_and_private_keys_are_scrubbed_from_values() {
        assert_eq!(
            scrub_value("paid with 4111 1111 1111 1111 ok"),
            "paid with [redacted] ok"
        );
        assert_eq!(scrub_value("order 1234567890123"), "order 1234567890123");
        let pem = "key: -----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY----- done";
        assert_eq!(scrub_value(pem), "key: [redacted] done");
        assert_eq!(scrub_value("nothing here"), "nothing here");
    }
}
