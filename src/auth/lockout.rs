//! The lockout rules, as pure functions of counts and times (the counts come
//! from `login_failures`, see `repo.rs`):
//!
//! - per (account, IP): `max_failures` failures within `window` lock the pair
//!   for `lock_for`, doubled for each repeat within a day; attempts during a
//!   lock do not count towards the next one;
//! - per account from any IP: `account_daily_max` failures in 24 h refuse
//!   every login of that account until the count falls;
//! - per IP across accounts: `ip_max_failures` within `window` ban the IP for
//!   `ip_ban_for` (password spraying).
//!
//! While locked, the right password is refused with the same generic message.

use super::config::AuthSettings;
use super::repo::Lockout;

pub const DAY_MS: i64 = 24 * 3600 * 1000;

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Why a login is refused before its password is even considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    IpBanned,
    PairLocked { until_ms: i64 },
    DailyCeiling,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::IpBanned => "ip_banned",
            Refusal::PairLocked { .. } => "locked",
            Refusal::DailyCeiling => "daily_limit",
        }
    }
}

pub fn refusal(
    settings: &AuthSettings,
    banned: bool,
    lock: Option<Lockout>,
    failures_today: i64,
    now_ms: i64,
) -> Option<Refusal> {
    if banned {
        return Some(Refusal::IpBanned);
    }
    if let Some(lock) = lock.filter(|l| l.until_ms > now_ms) {
        return Some(Refusal::PairLocked {
            until_ms: lock.until_ms,
        });
    }
    (failures_today >= i64::from(settings.account_daily_max)).then_some(Refusal::DailyCeiling)
}

/// Since when failures of a pair count towards its next lock.
pub fn pair_count_since(settings: &AuthSettings, lock: Option<Lockout>, now_ms: i64) -> i64 {
    let window_start = now_ms - ms(settings.window);
    lock.map_or(window_start, |l| window_start.max(l.until_ms))
}

/// The lock a pair gets after a failure, if this failure crosses the limit.
pub fn lock_after(
    settings: &AuthSettings,
    pair_failures: i64,
    previous: Option<Lockout>,
    now_ms: i64,
) -> Option<Lockout> {
    if pair_failures < i64::from(settings.max_failures) {
        return None;
    }
    let strikes = match previous {
        Some(p) if now_ms - p.locked_ms < DAY_MS => p.strikes + 1,
        _ => 1,
    };
    let factor = 1i64 << (strikes - 1).clamp(0, 20);
    Some(Lockout {
        locked_ms: now_ms,
        until_ms: now_ms.saturating_add(ms(settings.lock_for).saturating_mul(factor)),
        strikes,
    })
}

/// Whether an IP's failures across accounts earn it a ban.
pub fn ip_should_be_banned(settings: &AuthSettings, ip_failures: i64) -> bool {
    ip_failures >= i64::from(settings.ip_max_failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::config::AuthConfig;

    fn settings() -> AuthSettings {
        AuthConfig::default().settings().unwrap()
    }

    const MIN: i64 = 60_000;

    #[test]
    fn the_fifth_failure_locks_for_fifteen_minutes_and_a_repeat_doubles_it() {
        let s = settings();
        assert_eq!(lock_after(&s, 4, None, 0), None);
        let first = lock_after(&s, 5, None, 0).unwrap();
        assert_eq!((first.until_ms, first.strikes), (15 * MIN, 1));
        let second = lock_after(&s, 5, Some(first), 20 * MIN).unwrap();
        assert_eq!((second.until_ms - 20 * MIN, second.strikes), (30 * MIN, 2));
        let after_a_day = lock_after(&s, 5, Some(second), 20 * MIN + DAY_MS).unwrap();
        assert_eq!(after_a_day.strikes, 1);
    }

    #[test]
    fn a_lock_refuses_until_it_ends_and_failures_during_it_do_not_count() {
        let s = settings();
        let lock = Lockout {
            locked_ms: 0,
            until_ms: 15 * MIN,
            strikes: 1,
        };
        assert!(refusal(&s, false, Some(lock), 0, 14 * MIN).is_some());
        assert_eq!(refusal(&s, false, Some(lock), 0, 15 * MIN), None);
        assert_eq!(pair_count_since(&s, Some(lock), 16 * MIN), 15 * MIN);
    }

    #[test]
    fn bans_and_the_daily_ceiling_refuse_too() {
        let s = settings();
        assert_eq!(refusal(&s, true, None, 0, 0), Some(Refusal::IpBanned));
        assert_eq!(
            refusal(&s, false, None, 100, 0),
            Some(Refusal::DailyCeiling)
        );
        assert!(!ip_should_be_banned(&s, 19));
        assert!(ip_should_be_banned(&s, 20));
    }
}
