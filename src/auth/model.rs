//! Account types and the pure rules about them: roles, email normalisation
//! and validation, display names, session stages and token scopes. No I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including managing users.
    Admin,
    /// Read-only pages and `GET` API; may manage only their own account.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(format!("{other:?} is not a role; use admin or viewer")),
        }
    }
}

/// An account as stored (without its secrets).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub totp_enabled: bool,
    pub has_password: bool,
    pub created_ms: i64,
    pub last_login_ms: Option<i64>,
}

/// How far a session's login got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the TOTP code is still due.
    Totp,
    /// Password accepted; an admin who must enrol in 2FA before anything else.
    Enrol,
    /// Fully logged in.
    Full,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enrol => "enrol",
            Stage::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "totp" => Some(Stage::Totp),
            "enrol" => Some(Stage::Enrol),
            "full" => Some(Stage::Full),
            _ => None,
        }
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `GET` on `/api/v1/*`.
    Read,
    /// Everything the token's user may do on `/api/v1/*`.
    Write,
    /// Scraping `/metrics` (used by the metrics feature).
    Metrics,
    /// Sending events to the error inbox (used by the ingest feature).
    Ingest,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Metrics => "metrics",
            Scope::Ingest => "ingest",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "metrics" => Ok(Scope::Metrics),
            "ingest" => Ok(Scope::Ingest),
            other => Err(format!(
                "{other:?} is not a token scope; use read, write, metrics or ingest"
            )),
        }
    }
}

/// Trims and lower-cases an email, then checks its shape: one `@`, a
/// non-empty local part, a domain with a dot and no spaces, at most 254
/// characters. Returns the normalised form.
pub fn normalise_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        format!(
            "{:?} is not an email address; write it as name@example.com",
            truncate(raw.trim(), 80)
        )
    };
    if email.is_empty() || email.chars().count() > 254 {
        return Err(invalid());
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid());
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"');
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.len() > 64 || !domain_ok || email.chars().any(bad_char) {
        return Err(invalid());
    }
    Ok(email)
}

/// A display name: trimmed, 1–100 characters, no control characters. Empty
/// input falls back to the email's local part.
pub fn display_name(raw: &str, email: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(email.split('@').next().unwrap_or(email).to_string());
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("A name is at most 100 characters, without line breaks or tabs.".into());
    }
    Ok(name.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalise_email("  Jo.Doe@Example.COM ").as_deref(),
            Ok("jo.doe@example.com")
        );
    }

    #[test]
    fn malformed_emails_are_refused_with_an_example() {
        for bad in [
            "",
            "nobody",
            "@example.com",
            "a@b",
            "a@.com",
            "a b@example.com",
            "a@example..com",
            "a\r\n@example.com",
        ] {
            let err = normalise_email(bad).unwrap_err();
            assert!(err.contains("name@example.com"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn roles_and_scopes_parse_their_names_only() {
        assert_eq!("Admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
        assert_eq!("write".parse::<Scope>(), Ok(Scope::Write));
        assert!("all".parse::<Scope>().is_err());
    }

    #[test]
    fn display_names_default_to_the_local_part_and_refuse_control_characters() {
        assert_eq!(display_name(" ", "ann@example.com").unwrap(), "ann");
        assert!(display_name("a\nb", "ann@example.com").is_err());
    }
}
