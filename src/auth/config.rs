//! The `[auth]` configuration section: 2FA policy for admins, session
//! timeouts and the lockout thresholds. Durations are written the human way
//! (`30m`, `12h`, `4h`) and checked by `validate`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::password::HashParams;
use crate::config::{Problem, Section};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// An admin without 2FA is sent to enrolment after the password step and
    /// can reach nothing else until enrolled.
    pub require_2fa_for_admins: bool,
    /// A session unused this long ends.
    pub session_idle: String,
    /// A session ends this long after login, however active.
    pub session_absolute: String,
    pub lockout: LockoutConfig,
    /// argon2id cost; only raising it above the OWASP minimum is accepted.
    /// Existing hashes are upgraded at their next successful login.
    pub password_hash: HashParams,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LockoutConfig {
    /// Failures for one account from one IP within `window` that lock them.
    pub max_failures: u32,
    pub window: String,
    /// The first lock's length; each repeat within a day doubles it.
    pub lock_for: String,
    /// Failures for one account from anywhere in 24 h before it refuses all logins.
    pub account_daily_max: u32,
    /// Failures from one IP across all accounts within `window` that ban the IP.
    pub ip_max_failures: u32,
    pub ip_ban_for: String,
    /// Wrong TOTP codes in one time step before the account must wait for the next.
    pub totp_max_failures: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            require_2fa_for_admins: true,
            session_idle: "30m".into(),
            session_absolute: "12h".into(),
            lockout: LockoutConfig::default(),
            password_hash: HashParams::default(),
        }
    }
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failures: 5,
            window: "15m".into(),
            lock_for: "15m".into(),
            account_daily_max: 100,
            ip_max_failures: 20,
            ip_ban_for: "4h".into(),
            totp_max_failures: 3,
        }
    }
}

/// The section with its durations parsed, as the auth code uses it.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub require_2fa_for_admins: bool,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub max_failures: u32,
    pub window: Duration,
    pub lock_for: Duration,
    pub account_daily_max: u32,
    pub ip_max_failures: u32,
    pub ip_ban_for: Duration,
    pub totp_max_failures: u32,
}

impl AuthConfig {
    pub fn settings(&self) -> Result<AuthSettings, String> {
        let d = |key: &str, value: &str| {
            humantime::parse_duration(value).map_err(|e| {
                format!("auth.{key} {value:?} is not a duration ({e}), e.g. \"30m\" or \"12h\"")
            })
        };
        let l = &self.lockout;
        Ok(AuthSettings {
            require_2fa_for_admins: self.require_2fa_for_admins,
            session_idle: d("session_idle", &self.session_idle)?,
            session_absolute: d("session_absolute", &self.session_absolute)?,
            max_failures: l.max_failures,
            window: d("lockout.window", &l.window)?,
            lock_for: d("lockout.lock_for", &l.lock_for)?,
            account_daily_max: l.account_daily_max,
            ip_max_failures: l.ip_max_failures,
            ip_ban_for: d("lockout.ip_ban_for", &l.ip_ban_for)?,
            totp_max_failures: l.totp_max_failures,
        })
    }
}

impl Section for AuthConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        let durations = [
            ("session_idle", &self.session_idle),
            ("session_absolute", &self.session_absolute),
            ("lockout.window", &self.lockout.window),
            ("lockout.lock_for", &self.lockout.lock_for),
            ("lockout.ip_ban_for", &self.lockout.ip_ban_for),
        ];
        for (key, value) in durations {
            match humantime::parse_duration(value) {
                Ok(d) if d.is_zero() => problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!("{value:?} is zero; give a positive duration such as \"15m\""),
                )),
                Ok(_) => {}
                Err(e) => problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    format!(
                        "{value:?} is not a duration ({e}); write e.g. \"30m\", \"12h\" or \"4h\""
                    ),
                )),
            }
        }
        self.password_hash
            .validate(&format!("{prefix}.password_hash"), problems);
        let counts = [
            ("lockout.max_failures", self.lockout.max_failures),
            ("lockout.account_daily_max", self.lockout.account_daily_max),
            ("lockout.ip_max_failures", self.lockout.ip_max_failures),
            ("lockout.totp_max_failures", self.lockout.totp_max_failures),
        ];
        for (key, value) in counts {
            if value == 0 {
                problems.push(Problem::new(
                    format!("{prefix}.{key}"),
                    "0 would lock out every login; give a count of at least 1",
                ));
            }
        }
        if let (Ok(idle), Ok(absolute)) = (
            humantime::parse_duration(&self.session_idle),
            humantime::parse_duration(&self.session_absolute),
        ) && idle > absolute
        {
            problems.push(Problem::new(
                format!("{prefix}.session_idle"),
                "is longer than auth.session_absolute; make it shorter or equal",
            ));
        }
    }
}
