//! The latency histogram: fixed log-linear buckets over 100 µs … 60 s with
//! at most 5 % relative error. Each decade is cut into 90 equal buckets
//! (10, 11, … 99 × 10^k µs), so every bucket is at most a tenth of its lower
//! edge wide and its midpoint is within 5 % of any value inside it. A bucket
//! holds values in `(low, high]` — inclusive above, like Prometheus' `le` —
//! so the decimal edges that `/metrics` exports (0.1 ms, 0.25 ms, … 60 s)
//! are bucket edges and the exported counts are exact sums of these
//! buckets. Values at or below 100 µs share the first bucket, values above
//! 60 s the last.

/// The lowest edge, in µs.
const LOW_US: u64 = 100;
/// The highest edge, in µs.
const HIGH_US: u64 = 60_000_000;
/// Buckets per decade.
const PER_DECADE: usize = 90;
/// `(0, 100 µs]`, then 10^2…10^7 µs in 90 steps per decade up to 60 s, then
/// everything above.
pub const BUCKETS: usize = 1 + 5 * PER_DECADE + 50 + 1;

/// The `le` edges of the `/metrics` histogram, in µs.
pub const EXPORT_EDGES_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The bucket of a duration in µs.
pub fn bucket_of(us: u64) -> usize {
    if us <= LOW_US {
        return 0;
    }
    if us > HIGH_US {
        return BUCKETS - 1;
    }
    // (low, high] is [low, high) of us − 1.
    let v = us - 1;
    let decade = v.ilog10(); // 2..=7
    let scale = 10u64.pow(decade - 1);
    let step = usize::try_from(v / scale).unwrap_or(99); // 10..=99
    1 + (decade as usize - 2) * PER_DECADE + (step - 10)
}

/// A bucket's `(low, high]` edges in µs.
pub fn bounds(bucket: usize) -> (u64, u64) {
    match bucket {
        0 => (0, LOW_US),
        b if b >= BUCKETS - 1 => (HIGH_US, u64::MAX),
        b => {
            let i = b - 1;
            let decade = u32::try_from(i / PER_DECADE).unwrap_or(0) + 2;
            let scale = 10u64.pow(decade - 1);
            let step = (i % PER_DECADE) as u64 + 10;
            (step * scale, (step + 1) * scale)
        }
    }
}

/// The value a bucket stands for: its midpoint (the edge for the two open ends).
pub fn estimate(bucket: usize) -> f64 {
    let (low, high) = bounds(bucket);
    match bucket {
        0 => LOW_US as f64,
        b if b >= BUCKETS - 1 => HIGH_US as f64,
        _ => (low + high) as f64 / 2.0,
    }
}

/// Counts per bucket. Dense while aggregating, sparse when stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} values)", self.count())
    }
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        self.record_bucket(bucket_of(us));
    }

    pub fn record_bucket(&mut self, bucket: usize) {
        if let Some(c) = self.counts.get_mut(bucket) {
            *c += 1;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The q-quantile (0 < q ≤ 1) in µs: the estimate of the bucket holding
    /// the value of rank ⌈q·n⌉. None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(estimate(bucket));
            }
        }
        Some(estimate(BUCKETS - 1))
    }

    /// Values at or below each edge (`le`), for the exported histogram.
    pub fn cumulative(&self, edges_us: &[u64]) -> Vec<u64> {
        edges_us
            .iter()
            .map(|edge| {
                self.counts
                    .iter()
                    .enumerate()
                    .take_while(|(b, _)| bounds(*b).1 <= *edge)
                    .map(|(_, c)| c)
                    .sum()
            })
            .collect()
    }

    /// Sparse bytes: (bucket as u16 LE, count as u64 LE) per non-empty bucket.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (bucket, c) in self.counts.iter().enumerate() {
            if *c > 0 {
                out.extend_from_slice(&u16::try_from(bucket).unwrap_or(u16::MAX).to_le_bytes());
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out
    }

    /// Reads [`Histogram::encode`]'s bytes; a damaged blob gives an error.
    pub fn decode(bytes: &[u8]) -> Result<Histogram, String> {
        if !bytes.len().is_multiple_of(10) {
            return Err(format!("a histogram blob of {} bytes", bytes.len()));
        }
        let mut h = Histogram::default();
        for entry in bytes.chunks_exact(10) {
            let bucket = usize::from(u16::from_le_bytes([entry[0], entry[1]]));
            let mut count = [0u8; 8];
            count.copy_from_slice(&entry[2..]);
            let slot = h
                .counts
                .get_mut(bucket)
                .ok_or_else(|| format!("histogram bucket {bucket} out of range"))?;
            *slot += u64::from_le_bytes(count);
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_are_where_the_buckets_say() {
        assert_eq!(bucket_of(100), 0);
        assert_eq!(bucket_of(101), 1);
        assert_eq!(bounds(1), (100, 110));
        assert_eq!(bucket_of(110), 1);
        assert_eq!(bucket_of(111), 2);
        assert_eq!(bounds(bucket_of(60_000_000)), (59_000_000, 60_000_000));
        assert_eq!(bucket_of(60_000_001), BUCKETS - 1);
        for b in 1..BUCKETS - 1 {
            let (low, high) = bounds(b);
            assert_eq!(bucket_of(low + 1), b, "bucket {b}");
            assert_eq!(bucket_of(high), b, "bucket {b}");
            assert!((high - low) * 10 <= low, "bucket {b} is at most 10 % wide");
        }
        for edge in EXPORT_EDGES_US {
            assert!(
                (0..BUCKETS).any(|b| bounds(b).1 == edge),
                "{edge} µs is a bucket edge"
            );
        }
    }

    #[test]
    fn cumulative_counts_at_or_below_each_edge() {
        let mut h = Histogram::default();
        for us in [50, 100, 101, 250, 251, 1_000_000, 70_000_000] {
            h.record(us);
        }
        let c = h.cumulative(&EXPORT_EDGES_US);
        assert_eq!(c[0], 2, "≤ 100 µs");
        assert_eq!(c[1], 4, "≤ 250 µs");
        assert_eq!(c[2], 5, "≤ 500 µs");
        assert_eq!(c[12], 6, "≤ 1 s");
        assert_eq!(c[17], 6, "≤ 60 s; the 70 s one is only in +Inf");
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn encoding_round_trips_and_refuses_damage() {
        let mut h = Histogram::default();
        (0..1000u64).for_each(|i| h.record(100 + i * 997));
        let bytes = h.encode();
        assert_eq!(Histogram::decode(&bytes).unwrap(), h);
        assert!(Histogram::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Histogram::decode(&[0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    /// The exact q-quantile by the same rank rule.
    fn exact(sorted: &[u64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1] as f64
    }

    proptest! {
        #[test]
        fn percentiles_are_within_five_percent(
            values in proptest::collection::vec(101u64..=60_000_000, 1..2000),
            q in prop::sample::select(vec![0.5, 0.9, 0.95, 0.99, 1.0]),
        ) {
            let mut h = Histogram::default();
            values.iter().for_each(|v| h.record(*v));
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let want = exact(&sorted, q);
            let got = h.quantile(q).unwrap();
            prop_assert!((got - want).abs() <= 0.05 * want, "q{q}: {got} vs exact {want}");
        }

        #[test]
        fn log_spread_percentiles_are_within_five_percent(
            exps in proptest::collection::vec(2.0f64..7.77, 1..2000),
        ) {
            // Spread evenly over the decades, as real latencies are.
            let values: Vec<u64> = exps.iter().map(|e| (10f64.powf(*e) as u64).clamp(101, 60_000_000)).collect();
            let mut h = Histogram::default();
            values.iter().for_each(|v| h.record(*v));
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for q in [0.5, 0.95, 0.99] {
                let want = exact(&sorted, q);
                let got = h.quantile(q).unwrap();
                prop_assert!((got - want).abs() <= 0.05 * want, "q{q}: {got} vs exact {want}");
            }
        }
    }
}
