//! The ban list as the ban-gate middleware reads it: active bans in memory
//! (exact addresses in a hash map, CIDR blocks in a short list), plus the
//! allowlist that is never banned. The database is the source of truth;
//! this is its cache, updated at once by the threats service and topped up
//! every few seconds from the database (bans made by the CLI or by the
//! login rules).
//!
//! Reads take a shared lock and never allocate; an expired ban stops
//! applying at its `until` even before the next reload removes it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;

use super::model::Target;

#[derive(Default)]
struct Active {
    exact: HashMap<IpAddr, i64>,
    nets: Vec<(IpNet, i64)>,
}

pub struct Gate {
    allow: Vec<IpNet>,
    active: RwLock<Active>,
}

impl Gate {
    pub fn new(allow: Vec<IpNet>) -> Gate {
        Gate {
            allow,
            active: RwLock::default(),
        }
    }

    /// Whether the address is on the allowlist (never banned, never limited).
    pub fn allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Until when the address is banned, if it is now.
    pub fn banned_until(&self, ip: IpAddr, now_ms: i64) -> Option<i64> {
        let ip = ip.to_canonical();
        let active = self.active.read().ok()?;
        let exact = active.exact.get(&ip).copied().filter(|u| *u > now_ms);
        let net = active
            .nets
            .iter()
            .filter(|(net, until)| *until > now_ms && net.contains(&ip))
            .map(|(_, until)| *until)
            .max();
        exact.max(net)
    }

    pub fn insert(&self, target: Target, until_ms: i64) {
        if let Ok(mut active) = self.active.write() {
            match target {
                Target::Ip(ip) => {
                    let slot = active.exact.entry(ip).or_insert(until_ms);
                    *slot = (*slot).max(until_ms);
                }
                Target::Net(net) => match active.nets.iter_mut().find(|(n, _)| *n == net) {
                    Some((_, until)) => *until = (*until).max(until_ms),
                    None => active.nets.push((net, until_ms)),
                },
            }
        }
    }

    pub fn remove(&self, target: Target) {
        if let Ok(mut active) = self.active.write() {
            match target {
                Target::Ip(ip) => {
                    active.exact.remove(&ip);
                }
                Target::Net(net) => active.nets.retain(|(n, _)| *n != net),
            }
        }
    }

    /// Forgets bans that have ended by `now_ms`.
    pub fn prune_expired(&self, now_ms: i64) {
        if let Ok(mut active) = self.active.write() {
            active.exact.retain(|_, until| *until > now_ms);
            active.nets.retain(|(_, until)| *until > now_ms);
        }
    }

    /// Whether the target is in the list (ended or not).
    /// Everything banned now in memory, expired or not.
    pub fn targets(&self) -> Vec<Target> {
        self.active.read().map_or_else(
            |_| Vec::new(),
            |a| {
                let exact = a.exact.keys().map(|ip| Target::Ip(*ip));
                exact
                    .chain(a.nets.iter().map(|(n, _)| Target::Net(*n)))
                    .collect()
            },
        )
    }

    pub fn holds(&self, target: Target) -> bool {
        self.active.read().is_ok_and(|a| match target {
            Target::Ip(ip) => a.exact.contains_key(&ip),
            Target::Net(net) => a.nets.iter().any(|(n, _)| *n == net),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn bans_apply_until_they_expire() {
        let gate = Gate::new(vec![]);
        gate.insert("203.0.113.5".parse().unwrap(), 1_000);
        assert_eq!(gate.banned_until(ip("203.0.113.5"), 999), Some(1_000));
        assert_eq!(
            gate.banned_until(ip("::ffff:203.0.113.5"), 999),
            Some(1_000)
        );
        assert_eq!(gate.banned_until(ip("203.0.113.5"), 1_000), None);
        assert_eq!(gate.banned_until(ip("203.0.113.6"), 0), None);
    }

    #[test]
    fn blocks_cover_their_addresses_and_removal_lifts() {
        let gate = Gate::new(vec![]);
        let block: Target = "198.51.100.0/24".parse().unwrap();
        gate.insert(block, 5_000);
        assert_eq!(gate.banned_until(ip("198.51.100.200"), 0), Some(5_000));
        gate.remove(block);
        assert_eq!(gate.banned_until(ip("198.51.100.200"), 0), None);
    }

    #[test]
    fn the_allowlist_covers_loopback_by_block() {
        let gate = Gate::new(vec![
            "127.0.0.1/32".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(gate.allowed(ip("127.0.0.1")));
        assert!(gate.allowed(ip("::1")));
        assert!(!gate.allowed(ip("127.0.0.2")));
    }

    #[test]
    fn ended_bans_are_pruned_and_later_ends_win() {
        let gate = Gate::new(vec![]);
        let target: Target = "203.0.113.5".parse().unwrap();
        gate.insert(target, 1_000);
        gate.insert(target, 500);
        assert_eq!(gate.banned_until(ip("203.0.113.5"), 0), Some(1_000));
        gate.insert("203.0.113.9".parse().unwrap(), 2_000);
        gate.prune_expired(1_000);
        assert!(!gate.holds(target));
        assert!(gate.holds("203.0.113.9".parse().unwrap()));
    }
}
