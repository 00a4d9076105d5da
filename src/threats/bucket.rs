//! Leaky buckets, one per (detector, IP). Each hit adds one token and
//! tokens leak away continuously, one per `leak` interval, so `capacity`
//! hits within one `leak` interval overflow the bucket (a detection, which
//! empties it), and so does any sustained rate above one hit per `leak`.
//! The path-probing detector counts only distinct paths: its bucket
//! remembers the last few paths' hashes.
//!
//! Memory is bounded: at most [`MAX_BUCKETS`] buckets live at once; drained
//! buckets are swept, and when the table is full of live ones a new sender
//! is not tracked (its hits are still recorded as events). This module must
//! never allocate per hit beyond the bucket itself.

use std::collections::HashMap;
use std::net::IpAddr;

use super::detect::Detector;

pub const MAX_BUCKETS: usize = 100_000;
const REMEMBERED_PATHS: usize = 8;

/// A detector's thresholds, parsed from `threats.detectors.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub enabled: bool,
    /// Hits within one `leak` interval that overflow the bucket.
    pub capacity: u32,
    /// How long one token takes to leak away (the detection window).
    pub leak_ms: i64,
    /// The ban an overflow earns (before repeat-offender doubling).
    pub ban_ms: i64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f32,
    last_ms: i64,
    paths: [u32; REMEMBERED_PATHS],
    next_path: u8,
}

impl Bucket {
    fn leaked(&self, rule: &Rule, now_ms: i64) -> f32 {
        let elapsed = (now_ms - self.last_ms).max(0) as f32;
        (self.level - elapsed / rule.leak_ms.max(1) as f32).max(0.0)
    }
}

#[derive(Default)]
pub struct Buckets {
    map: HashMap<(Detector, IpAddr), Bucket>,
}

impl Buckets {
    /// Adds a hit; true when it overflows the bucket.
    pub fn hit(
        &mut self,
        detector: Detector,
        ip: IpAddr,
        rule: &Rule,
        now_ms: i64,
        path_hash: Option<u32>,
    ) -> bool {
        if !rule.enabled {
            return false;
        }
        if !self.map.contains_key(&(detector, ip)) && self.map.len() >= MAX_BUCKETS {
            return false;
        }
        let bucket = self.map.entry((detector, ip)).or_insert(Bucket {
            level: 0.0,
            last_ms: now_ms,
            paths: [0; REMEMBERED_PATHS],
            next_path: 0,
        });
        if let Some(hash) = path_hash.filter(|_| detector.counts_distinct_paths()) {
            let hash = hash | 1; // 0 marks an empty slot
            if bucket.paths.contains(&hash) {
                return false;
            }
            bucket.paths[usize::from(bucket.next_path)] = hash;
            bucket.next_path = (bucket.next_path + 1) % REMEMBERED_PATHS as u8;
        }
        bucket.level = bucket.leaked(rule, now_ms) + 1.0;
        bucket.last_ms = now_ms;
        // Full when the earlier hits have not yet leaked below capacity − 1:
        // `capacity` hits within one leak interval.
        if bucket.level > rule.capacity as f32 - 1.0 {
            self.map.remove(&(detector, ip));
            return true;
        }
        false
    }

    /// Drops buckets that have leaked empty.
    pub fn sweep(&mut self, rule_of: impl Fn(Detector) -> Rule, now_ms: i64) {
        self.map
            .retain(|(detector, _), b| b.leaked(&rule_of(*detector), now_ms) > 0.0);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// A cheap, stable hash of a path for the distinct-paths memory.
pub fn path_hash(path: &str) -> u32 {
    path.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: Rule = Rule {
        enabled: true,
        capacity: 4,
        leak_ms: 1_250,
        ban_ms: 1,
    };

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, n])
    }

    #[test]
    fn a_burst_at_capacity_overflows_and_one_below_does_not() {
        let mut b = Buckets::default();
        let d = Detector::SensitiveFile;
        assert!(!(0..3).any(|_| b.hit(d, ip(1), &RULE, 0, None)));
        assert!(b.hit(d, ip(1), &RULE, 0, None), "the fourth hit overflows");
        assert!(
            !b.hit(d, ip(1), &RULE, 0, None),
            "and the bucket starts again"
        );
    }

    #[test]
    fn capacity_hits_within_one_leak_interval_overflow_and_slower_ones_do_not() {
        let mut b = Buckets::default();
        let d = Detector::SensitiveFile;
        for t in [0, 400, 800] {
            assert!(!b.hit(d, ip(9), &RULE, t, None));
        }
        assert!(b.hit(d, ip(9), &RULE, 1_200, None), "four within 1.25 s");
        for t in [0, 450, 900] {
            assert!(!b.hit(d, ip(8), &RULE, 10_000 + t, None));
        }
        assert!(!b.hit(d, ip(8), &RULE, 11_350, None), "four over 1.35 s");
    }

    #[test]
    fn tokens_leak_over_time_and_buckets_are_per_ip() {
        let mut b = Buckets::default();
        let d = Detector::SensitiveFile;
        for t in 0..10 {
            assert!(
                !b.hit(d, ip(1), &RULE, t * 1_300, None),
                "a slow drip never fills"
            );
        }
        for _ in 0..3 {
            b.hit(d, ip(2), &RULE, 20_000, None);
        }
        assert!(!b.hit(d, ip(3), &RULE, 20_000, None));
        assert!(b.hit(d, ip(2), &RULE, 20_000, None));
    }

    #[test]
    fn path_probes_count_distinct_paths_only() {
        let mut b = Buckets::default();
        let d = Detector::PathProbe;
        for _ in 0..10 {
            assert!(!b.hit(d, ip(1), &RULE, 0, Some(path_hash("/same"))));
        }
        let hits: Vec<bool> = ["/a", "/b", "/c"]
            .iter()
            .map(|p| b.hit(d, ip(1), &RULE, 0, Some(path_hash(p))))
            .collect();
        assert_eq!(hits, [false, false, true]);
    }

    #[test]
    fn disabled_rules_never_fire_and_drained_buckets_are_swept() {
        let mut b = Buckets::default();
        let off = Rule {
            enabled: false,
            ..RULE
        };
        assert!(!(0..10).any(|_| b.hit(Detector::Xss, ip(1), &off, 0, None)));
        b.hit(Detector::Xss, ip(1), &RULE, 0, None);
        b.hit(Detector::Xss, ip(2), &RULE, 5_000, None);
        b.sweep(|_| RULE, 5_000);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut b = Buckets::default();
        for n in 0..(MAX_BUCKETS as u32 + 10) {
            b.hit(Detector::Xss, IpAddr::from(n.to_be_bytes()), &RULE, 0, None);
        }
        assert_eq!(b.len(), MAX_BUCKETS);
    }
}
