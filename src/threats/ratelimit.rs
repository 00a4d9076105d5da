//! Rate limits per client address and route class, with the `governor`
//! crate (GCRA, one 8-byte state per key). Keys are compact: an IPv4
//! address, or an IPv6 address's /64 (one subscriber's whole allocation,
//! so rotating through it gains an attacker nothing). That keeps a spray of
//! a million addresses to tens of megabytes; idle keys are dropped by
//! [`RateLimits::forget_idle`], which the threats task calls every minute.
//!
//! `/health`, `/metrics` and `/assets/` are not limited: they are cheap,
//! and orchestrators and scrapers poll them.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::http::Method;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::config::ThreatsConfig;

/// The route classes, as named in `threats.rate_limits.<class>`.
pub const CLASSES: [&str; 6] = ["login", "totp", "api", "ingest", "pages", "public"];

/// Which class a request falls in; None for routes that are not limited.
pub fn class_of(method: &Method, path: &str) -> Option<usize> {
    let unlimited = path == "/health"
        || path.starts_with("/health/")
        || path == "/metrics"
        || path.starts_with("/assets/");
    let class = if unlimited {
        return None;
    } else if *method == Method::POST && (path == "/login" || path == "/setup") {
        "login"
    } else if *method == Method::POST && path == "/login/totp" {
        "totp"
    } else if path.starts_with("/ping/")
        || path.starts_with("/api/v1/hooks/")
        || (path.starts_with("/api/")
            && (path.ends_with("/envelope/") || path.ends_with("/store/")))
    {
        "ingest"
    } else if path.starts_with("/api/") {
        "api"
    } else if path == "/status" || path.starts_with("/status/") || path.starts_with("/badge/") {
        "public"
    } else {
        "pages"
    };
    CLASSES.iter().position(|c| *c == class)
}

/// The compact key of an address: IPv4 as is, IPv6 by its /64.
pub fn key_of(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        // The upper 64 bits; /64s whose top 32 bits are zero are reserved
        // space, so they cannot collide with IPv4 keys in practice.
        IpAddr::V6(v6) => (u128::from(v6) >> 64) as u64,
    }
}

pub struct RateLimits {
    limiters: Vec<DefaultKeyedRateLimiter<u64>>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(config: &ThreatsConfig) -> RateLimits {
        let limiters = CLASSES
            .iter()
            .map(|class| {
                let limit = config.limit(class);
                let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
                RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
            })
            .collect();
        RateLimits {
            limiters,
            clock: DefaultClock::default(),
        }
    }

    /// None if the request may go on, else the whole seconds to wait.
    pub fn check(&self, class: usize, ip: IpAddr) -> Option<u64> {
        let limiter = self.limiters.get(class)?;
        match limiter.check_key(&key_of(ip)) {
            Ok(()) => None,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
        }
    }

    /// Drops the keys whose limits have fully recovered, and the memory they held.
    pub fn forget_idle(&self) {
        for limiter in &self.limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys currently tracked, across classes.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.limiters.iter().map(|l| l.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threats::config::LimitConfig;

    fn class(method: Method, path: &str) -> Option<&'static str> {
        class_of(&method, path).map(|i| CLASSES[i])
    }

    #[test]
    fn routes_fall_in_their_classes() {
        assert_eq!(class(Method::POST, "/login"), Some("login"));
        assert_eq!(class(Method::GET, "/login"), Some("pages"));
        assert_eq!(class(Method::POST, "/login/totp"), Some("totp"));
        assert_eq!(class(Method::GET, "/api/v1/checks"), Some("api"));
        assert_eq!(class(Method::POST, "/ping/abc"), Some("ingest"));
        assert_eq!(class(Method::POST, "/api/3/envelope/"), Some("ingest"));
        assert_eq!(class(Method::GET, "/status"), Some("public"));
        assert_eq!(class(Method::GET, "/badge/1/status.svg"), Some("public"));
        assert_eq!(class(Method::GET, "/health"), None);
        assert_eq!(class(Method::GET, "/assets/app.css"), None);
    }

    #[test]
    fn the_burst_passes_and_the_next_request_waits_whole_seconds() {
        let mut config = ThreatsConfig::default();
        config.rate_limits.insert(
            "login".into(),
            LimitConfig {
                per_minute: 6,
                burst: 3,
            },
        );
        let limits = RateLimits::new(&config);
        let login = class_of(&Method::POST, "/login").unwrap();
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limits.check(login, ip), None);
        }
        let wait = limits.check(login, ip).expect("the fourth is limited");
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(limits.check(login, "203.0.113.6".parse().unwrap()), None);
        assert_eq!(limits.tracked(), 2);
    }

    #[test]
    fn ipv6_addresses_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key_of(a), key_of(b));
        assert_ne!(key_of(a), key_of(c));
        assert_eq!(
            key_of("::ffff:10.0.0.1".parse().unwrap()),
            key_of("10.0.0.1".parse().unwrap())
        );
    }
}
