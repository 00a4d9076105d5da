//! Projects and their DSN keys, and where an SDK puts its key: the query
//! string (`sentry_key`), the `X-Sentry-Auth` header, or the envelope's
//! `dsn` — tried in that order.

use ring::rand::{SecureRandom, SystemRandom};

/// A new public key: 32 lowercase hex digits.
pub fn new_public_key() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// Whether `key` looks like a key this server issues.
pub fn is_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The DSN SDKs are configured with: `{scheme}://{key}@{host}{path}/{project_id}`.
pub fn dsn(base_url: &str, key: &str, project_id: i64) -> String {
    let (scheme, rest) = base_url.split_once("://").unwrap_or(("http", base_url));
    format!(
        "{scheme}://{key}@{}/{project_id}",
        rest.trim_end_matches('/')
    )
}

/// `sentry_key` from a query string.
pub fn key_from_query(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "sentry_key")
        .map(|(_, value)| value.trim().to_string())
}

/// `sentry_key` from `X-Sentry-Auth: Sentry sentry_version=7, sentry_key=…`.
pub fn key_from_auth_header(value: &str) -> Option<String> {
    let value = value.trim();
    let pairs = value
        .strip_prefix("Sentry ")
        .or_else(|| value.strip_prefix("sentry "))
        .unwrap_or(value);
    pairs.split(',').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == "sentry_key").then(|| value.trim().to_string())
    })
}

/// The public key of a DSN (`http://KEY@host/1`).
pub fn key_from_dsn(dsn: &str) -> Option<String> {
    let url = url::Url::parse(dsn).ok()?;
    Some(url.username().to_string()).filter(|k| !k.is_empty())
}

/// A URL-safe slug of a project name: `My Shop!` → `my-shop`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(50).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_each_place_an_sdk_puts_them() {
        let key = new_public_key().unwrap();
        assert!(is_key(&key));
        assert_ne!(key, new_public_key().unwrap());
        assert_eq!(
            key_from_query("sentry_version=7&sentry_key=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(key_from_query("sentry_version=7"), None);
        assert_eq!(
            key_from_auth_header(
                "Sentry sentry_version=7, sentry_client=sentry.python/2.19.0, sentry_key=abc"
            )
            .as_deref(),
            Some("abc")
        );
        assert_eq!(key_from_auth_header("Sentry sentry_version=7"), None);
        assert_eq!(
            key_from_dsn("https://abc@watchpost.example.com/3").as_deref(),
            Some("abc")
        );
        assert_eq!(key_from_dsn("not a dsn"), None);
        assert_eq!(
            dsn("https://w.example.com/", "abc", 3),
            "https://abc@w.example.com/3"
        );
        assert_eq!(
            dsn("http://127.0.0.1:8080", "abc", 1),
            "http://abc@127.0.0.1:8080/1"
        );
        assert_eq!(slug("  My Shop! (prod) "), "my-shop-prod");
    }
}
