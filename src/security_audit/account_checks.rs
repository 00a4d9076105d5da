//! Checks of the accounts and API tokens: admins without 2FA or long
//! inactive, accounts never used, write tokens without expiry or unused,
//! password hashes weaker than the current argon2 parameters (read from the
//! PHC string), and accounts named `admin` or `root`. Pure: the rows come
//! from [`super::repo`]. Never looks at a hash beyond its parameters.

use super::model::{Category, Collector, Finding, Severity, sub};
use crate::auth::password::HashParams;

const DAY_MS: i64 = 86_400_000;
const ADMIN_INACTIVE_DAYS: i64 = 90;
const NEVER_USED_DAYS: i64 = 30;
const TOKEN_UNUSED_DAYS: i64 = 90;

/// An account, as the checks see it (enabled ones only).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub admin: bool,
    pub has_2fa: bool,
    pub password_hash: Option<String>,
    pub created_ms: i64,
    pub last_login_ms: Option<i64>,
}

/// A live (not revoked) API token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub scope: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// The argon2 parameters of a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`),
/// with the algorithm name.
pub fn phc_params(hash: &str) -> Option<(String, HashParams)> {
    let mut parts = hash.split('$');
    if !parts.next()?.is_empty() {
        return None;
    }
    let algorithm = parts.next()?.to_string();
    let mut params = parts.next()?;
    if params.starts_with("v=") {
        params = parts.next()?;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (key, value) = pair.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match key {
            "m" => m = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => {}
        }
    }
    Some((
        algorithm,
        HashParams {
            memory_kib: m?,
            iterations: t?,
            parallelism: p?,
        },
    ))
}

fn days(ms: i64) -> i64 {
    ms / DAY_MS
}

pub fn check(
    users: &[UserRow],
    tokens: &[TokenRow],
    current: HashParams,
    now_ms: i64,
    out: &mut Collector,
) {
    let start = out.len();
    for u in users.iter().filter(|u| u.admin && !u.has_2fa) {
        out.add(Finding::new(
            sub("account.admin_without_2fa", u.id),
            Severity::High,
            Category::Account,
            "An admin account has no second factor",
            format!("admin user {} ({}) has not enrolled TOTP", u.id, u.email),
            format!(
                "{} enrols at /account/2fa; or demote them: watchpost user set-role {} viewer",
                u.email, u.email
            ),
        ));
    }
    out.pass_if_clean("account.admin_without_2fa", start);

    let start = out.len();
    for u in users.iter().filter(|u| u.admin) {
        let last = u.last_login_ms.unwrap_or(u.created_ms);
        if now_ms - last > ADMIN_INACTIVE_DAYS * DAY_MS {
            out.add(Finding::new(
                sub("account.admin_inactive", u.id),
                Severity::Medium,
                Category::Account,
                "An admin account has not been used for over 90 days",
                format!(
                    "admin user {} ({}) last logged in {} days ago",
                    u.id,
                    u.email,
                    days(now_ms - last)
                ),
                format!("watchpost user disable {}", u.email),
            ));
        }
    }
    out.pass_if_clean("account.admin_inactive", start);

    let start = out.len();
    for u in users.iter().filter(|u| u.last_login_ms.is_none()) {
        if now_ms - u.created_ms > NEVER_USED_DAYS * DAY_MS {
            out.add(Finding::new(
                sub("account.never_used", u.id),
                Severity::Low,
                Category::Account,
                "An account was never used in the 30 days since it was made",
                format!(
                    "user {} ({}) was created {} days ago and has never logged in",
                    u.id,
                    u.email,
                    days(now_ms - u.created_ms)
                ),
                format!("watchpost user disable {}", u.email),
            ));
        }
    }
    out.pass_if_clean("account.never_used", start);

    let start = out.len();
    for u in users {
        let Some(hash) = &u.password_hash else {
            continue;
        };
        let weak = match phc_params(hash) {
            Some((algorithm, p)) => {
                algorithm != "argon2id"
                    || p.memory_kib < current.memory_kib
                    || p.iterations < current.iterations
                    || p.parallelism < current.parallelism
            }
            None => true,
        };
        if weak {
            let shown = phc_params(hash).map_or_else(
                || "an unreadable hash".to_string(),
                |(a, p)| {
                    format!(
                        "{a} m={},t={},p={}",
                        p.memory_kib, p.iterations, p.parallelism
                    )
                },
            );
            out.add(Finding::new(
                sub("account.weak_password_hash", u.id),
                Severity::Medium,
                Category::Account,
                "A password hash is weaker than the current argon2 parameters",
                format!(
                    "user {} ({}) has {shown}; the current parameters are argon2id m={},t={},p={}",
                    u.id, u.email, current.memory_kib, current.iterations, current.parallelism
                ),
                format!(
                    "It is rehashed at their next login; or set a new one now: watchpost user passwd {}",
                    u.email
                ),
            ));
        }
    }
    out.pass_if_clean("account.weak_password_hash", start);

    let start = out.len();
    for u in users {
        let local = u.email.split('@').next().unwrap_or("").to_ascii_lowercase();
        if local == "admin" || local == "root" {
            out.add(Finding::new(
                sub("account.default_name", u.id),
                Severity::Low,
                Category::Account,
                "An account has a name guessers try first",
                format!("user {} is {}", u.id, u.email),
                format!(
                    "Give the person an account of their own (watchpost user add alice@example.com --role {}), then: watchpost user disable {}",
                    if u.admin { "admin" } else { "viewer" },
                    u.email
                ),
            ));
        }
    }
    out.pass_if_clean("account.default_name", start);

    let live_write: Vec<&TokenRow> = tokens
        .iter()
        .filter(|t| t.scope == "write" && t.expires_ms.is_none_or(|e| e > now_ms))
        .collect();
    let start = out.len();
    for t in live_write.iter().filter(|t| t.expires_ms.is_none()) {
        out.add(Finding::new(
            sub("account.token_without_expiry", t.id),
            Severity::Medium,
            Category::Account,
            "A write-scope API token never expires",
            format!("token {} \"{}\" of {} has no expiry", t.id, t.name, t.owner),
            format!(
                "Revoke it on {}'s /account page and make one that expires: watchpost token create --user {} --name {} --scope write --expires-in 90d",
                t.owner, t.owner, t.name
            ),
        ));
    }
    out.pass_if_clean("account.token_without_expiry", start);

    let start = out.len();
    for t in live_write {
        let last = t.last_used_ms.unwrap_or(t.created_ms);
        if now_ms - last > TOKEN_UNUSED_DAYS * DAY_MS {
            out.add(Finding::new(
                sub("account.token_unused", t.id),
                Severity::Medium,
                Category::Account,
                "A write-scope API token has not been used for over 90 days",
                format!(
                    "token {} \"{}\" of {} was last used {} days ago",
                    t.id,
                    t.name,
                    t.owner,
                    days(now_ms - last)
                ),
                format!("Revoke it on {}'s /account page (Tokens)", t.owner),
            ));
        }
    }
    out.pass_if_clean("account.token_unused", start);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 400 * DAY_MS;
    const GOOD: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

    fn user(id: i64, email: &str, admin: bool) -> UserRow {
        UserRow {
            id,
            email: email.into(),
            admin,
            has_2fa: true,
            password_hash: Some(GOOD.into()),
            created_ms: NOW - 10 * DAY_MS,
            last_login_ms: Some(NOW - DAY_MS),
        }
    }

    fn token(id: i64, scope: &str) -> TokenRow {
        TokenRow {
            id,
            name: "deploy".into(),
            owner: "alice@example.com".into(),
            scope: scope.into(),
            created_ms: NOW - 10 * DAY_MS,
            expires_ms: Some(NOW + 30 * DAY_MS),
            last_used_ms: Some(NOW - DAY_MS),
        }
    }

    fn run(users: &[UserRow], tokens: &[TokenRow]) -> super::super::model::Report {
        let mut out = Collector::default();
        check(users, tokens, HashParams::MINIMUM, NOW, &mut out);
        out.into_report(NOW)
    }

    fn ids(r: &super::super::model::Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn healthy_accounts_and_tokens_pass_every_check() {
        let r = run(
            &[
                user(1, "alice@example.com", true),
                user(2, "bob@example.com", false),
            ],
            &[token(1, "write"), token(2, "read")],
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.passed.len(), 7, "{:?}", r.passed);
    }

    #[test]
    fn each_account_problem_is_found_by_user_id() {
        let mut no_2fa = user(1, "alice@example.com", true);
        no_2fa.has_2fa = false;
        let mut idle_admin = user(2, "carol@example.com", true);
        idle_admin.last_login_ms = Some(NOW - 91 * DAY_MS);
        let mut never = user(3, "dave@example.com", false);
        never.created_ms = NOW - 31 * DAY_MS;
        never.last_login_ms = None;
        let mut weak = user(4, "erin@example.com", false);
        weak.password_hash = Some("$argon2id$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA".into());
        let named = user(5, "Root@example.com", false);
        let r = run(&[no_2fa, idle_admin, never, weak, named], &[]);
        assert_eq!(
            ids(&r),
            [
                "account.admin_without_2fa:1",
                "account.admin_inactive:2",
                "account.weak_password_hash:4",
                "account.default_name:5",
                "account.never_used:3",
            ]
        );
        assert!(
            r.findings[0]
                .fix
                .contains("watchpost user set-role alice@example.com viewer")
        );
        assert!(r.findings[2].evidence.contains("m=4096,t=3,p=1"));
    }

    #[test]
    fn fresh_unused_accounts_and_a_bcrypt_hash() {
        let mut fresh = user(1, "new@example.com", false);
        fresh.last_login_ms = None;
        fresh.created_ms = NOW - 29 * DAY_MS;
        let mut bcrypt = user(2, "old@example.com", false);
        bcrypt.password_hash = Some("$2b$12$abcdefghijklmnopqrstuv".into());
        let r = run(&[fresh, bcrypt], &[]);
        assert_eq!(ids(&r), ["account.weak_password_hash:2"]);
    }

    #[test]
    fn write_tokens_without_expiry_or_long_unused_are_found() {
        let mut forever = token(7, "write");
        forever.expires_ms = None;
        let mut stale = token(8, "write");
        stale.last_used_ms = Some(NOW - 100 * DAY_MS);
        let mut stale_read = token(9, "read");
        stale_read.expires_ms = None;
        stale_read.last_used_ms = None;
        stale_read.created_ms = NOW - 200 * DAY_MS;
        let r = run(&[], &[forever, stale, stale_read]);
        assert_eq!(
            ids(&r),
            ["account.token_unused:8", "account.token_without_expiry:7"]
        );
        assert!(r.findings[1].fix.contains("--expires-in 90d"));
    }

    #[test]
    fn phc_strings_are_parsed() {
        let (algorithm, p) = phc_params(GOOD).unwrap();
        assert_eq!(algorithm, "argon2id");
        assert_eq!(p, HashParams::MINIMUM);
        assert!(phc_params("plain").is_none());
        assert!(phc_params("$argon2id$v=19$m=x,t=2,p=1$s$h").is_none());
    }
}
