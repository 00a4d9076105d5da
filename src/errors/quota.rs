//! Ingest quotas: events (and transactions) per minute and per hour, for
//! all projects together (`[errors]`) and per project (its page), with the
//! `governor` crate. A refusal says how many whole seconds to wait, which
//! becomes `Retry-After` and `X-Sentry-Rate-Limits`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A per-minute and a per-hour limiter; either may be absent (unlimited).
struct Pair {
    limits: (Option<u32>, Option<u32>),
    minute: Option<DefaultDirectRateLimiter>,
    hour: Option<DefaultDirectRateLimiter>,
}

impl Pair {
    fn new(per_minute: Option<u32>, per_hour: Option<u32>) -> Pair {
        let limiter = |n: Option<u32>, quota: fn(NonZeroU32) -> Quota| {
            n.and_then(NonZeroU32::new)
                .map(|n| RateLimiter::direct(quota(n)))
        };
        Pair {
            limits: (per_minute, per_hour),
            minute: limiter(per_minute, Quota::per_minute),
            hour: limiter(per_hour, Quota::per_hour),
        }
    }

    /// Takes `n` cells from each limiter, or says how long to wait.
    fn take(&self, n: NonZeroU32, clock: &DefaultClock) -> Result<(), u64> {
        for limiter in [&self.minute, &self.hour].into_iter().flatten() {
            match limiter.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(clock.now());
                    return Err((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
                }
                // More at once than the quota ever allows: an hour.
                Err(_) => return Err(3_600),
            }
        }
        Ok(())
    }
}

/// Which quota refused, and for how many seconds.
#[derive(Debug, PartialEq, Eq)]
pub struct OverQuota {
    pub retry_after_s: u64,
    /// `organization` for the global quota, `project` for a project's.
    pub scope: &'static str,
}

pub struct Quotas {
    global: Pair,
    projects: Mutex<HashMap<i64, Pair>>,
    clock: DefaultClock,
}

impl Quotas {
    pub fn new(per_minute: u32, per_hour: u32) -> Quotas {
        Quotas {
            global: Pair::new(Some(per_minute), Some(per_hour)),
            projects: Mutex::default(),
            clock: DefaultClock::default(),
        }
    }

    /// Counts `events` against the project's quota (as currently set) and
    /// the global one.
    pub fn take(
        &self,
        project_id: i64,
        limits: (Option<u32>, Option<u32>),
        events: u32,
    ) -> Result<(), OverQuota> {
        let Some(n) = NonZeroU32::new(events) else {
            return Ok(());
        };
        {
            let mut projects = self.projects.lock().unwrap_or_else(|p| p.into_inner());
            let pair = projects
                .entry(project_id)
                .or_insert_with(|| Pair::new(limits.0, limits.1));
            if pair.limits != limits {
                *pair = Pair::new(limits.0, limits.1);
            }
            pair.take(n, &self.clock).map_err(|s| OverQuota {
                retry_after_s: s,
                scope: "project",
            })?;
        }
        self.global.take(n, &self.clock).map_err(|s| OverQuota {
            retry_after_s: s,
            scope: "organization",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_over_its_quota_waits_and_others_do_not() {
        let quotas = Quotas::new(1_000, 10_000);
        assert_eq!(quotas.take(1, (Some(2), None), 1), Ok(()));
        assert_eq!(quotas.take(1, (Some(2), None), 1), Ok(()));
        let refused = quotas.take(1, (Some(2), None), 1).unwrap_err();
        assert_eq!(refused.scope, "project");
        assert!((1..=60).contains(&refused.retry_after_s));
        assert_eq!(quotas.take(2, (None, None), 1), Ok(()));
        // A raised quota applies at once.
        assert_eq!(quotas.take(1, (Some(100), None), 1), Ok(()));
        assert_eq!(quotas.take(1, (None, None), 0), Ok(()));
    }

    #[test]
    fn the_global_quota_covers_every_project() {
        let quotas = Quotas::new(3, 10_000);
        for project in 1..=3 {
            assert_eq!(quotas.take(project, (None, None), 1), Ok(()));
        }
        let refused = quotas.take(4, (None, None), 1).unwrap_err();
        assert_eq!(refused.scope, "organization");
        assert_eq!(
            quotas
                .take(5, (None, None), 5_000)
                .unwrap_err()
                .retry_after_s,
            3_600
        );
    }
}
