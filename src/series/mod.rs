//! Numeric time series (DESIGN §7). Any feature records samples by series
//! name; each sample is kept raw and folded into 1-minute and 1-hour rollups
//! (min, max, sum, count) in the same transaction. A query names a series, a
//! range and a point budget, and is answered from the coarsest tier that
//! still resolves the range, merged down to the budget; missing samples stay
//! missing. Retention of each tier is the retention task's job.

mod model;
pub mod repo;
mod routes;

pub use model::{Answer, Bucket, Sample, SeriesInfo, Tier, Unit, parse_instant, tier_for};
pub use routes::{RangeQuery, SeriesApi, routes};

use crate::store::{Store, StoreError};

/// Points a query returns when the caller does not say.
pub const DEFAULT_POINTS: usize = 600;
/// The most points a query may ask for.
pub const MAX_POINTS: usize = 10_000;

/// One series over `[from, to]` (Unix seconds) in at most `points` points, or
/// `None` when no series has that name.
pub async fn query(
    store: &Store,
    name: &str,
    from: i64,
    to: i64,
    points: usize,
) -> Result<Option<Answer>, StoreError> {
    let name = name.to_string();
    store
        .read(move |conn| answer(conn, &name, from, to, points))
        .await
}

/// As [`query`], on a connection the caller holds (pages that chart many
/// series use one connection for all).
pub fn answer(
    conn: &rusqlite::Connection,
    name: &str,
    from: i64,
    to: i64,
    points: usize,
) -> Result<Option<Answer>, StoreError> {
    let Some((id, info)) = repo::find(conn, name)? else {
        return Ok(None);
    };
    let tier = tier_for(from, to, points);
    let buckets = repo::range(conn, tier, id, tier.bucket_of(from), to)?;
    let step = tier
        .step()
        .or_else(|| model::typical_spacing(&buckets))
        .unwrap_or(1);
    let (buckets, step) = model::downsample(buckets, tier.bucket_of(from), to, points, step);
    Ok(Some(Answer {
        info,
        tier,
        step,
        buckets,
    }))
}

/// Retention of one tier: deletes up to `limit` rows older than
/// `before_ms`, series by series, oldest first.
pub fn prune(
    conn: &rusqlite::Connection,
    tier: Tier,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    let before = before_ms.div_euclid(1000);
    let mut removed = 0;
    for id in repo::ids(conn)? {
        let room = limit - i64::try_from(removed).unwrap_or(i64::MAX);
        if room <= 0 {
            break;
        }
        removed += repo::delete_older(conn, tier, id, before, room)?;
    }
    Ok(removed)
}

pub fn prune_raw(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    prune(conn, Tier::Raw, before_ms, limit)
}

pub fn prune_minutes(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    prune(conn, Tier::Minute, before_ms, limit)
}

pub fn prune_hours(
    conn: &rusqlite::Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    prune(conn, Tier::Hour, before_ms, limit)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use rusqlite::Connection;

    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        conn
    }

    fn sample(value: f64) -> Sample {
        Sample {
            name: "s".into(),
            unit: Unit::Count,
            label: "s".into(),
            value,
        }
    }

    /// Every tier's buckets, computed the slow way from the samples kept.
    fn brute_force(samples: &BTreeMap<i64, f64>, tier: Tier) -> Vec<Bucket> {
        let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
        for (&ts, &v) in samples {
            let start = tier.bucket_of(ts);
            buckets
                .entry(start)
                .and_modify(|b| b.absorb(&Bucket::of(start, v)))
                .or_insert(Bucket::of(start, v));
        }
        buckets.into_values().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rollups_equal_a_brute_force_computation(
            samples in proptest::collection::vec((0i64..20_000, -1.0e6f64..1.0e6), 1..300)
        ) {
            let conn = db();
            // The first value at a second is the one kept.
            let mut kept = BTreeMap::new();
            for &(ts, v) in &samples {
                repo::record(&conn, ts, &[sample(v)]).unwrap();
                kept.entry(ts).or_insert(v);
            }
            let (id, _) = repo::find(&conn, "s").unwrap().unwrap();
            for tier in Tier::ALL {
                let stored = repo::range(&conn, tier, id, i64::MIN, i64::MAX).unwrap();
                let expected = brute_force(&kept, tier);
                prop_assert_eq!(stored.len(), expected.len());
                for (s, e) in stored.iter().zip(&expected) {
                    prop_assert_eq!((s.ts, s.min, s.max, s.count), (e.ts, e.min, e.max, e.count));
                    prop_assert!((s.sum - e.sum).abs() <= 1e-6 * e.sum.abs().max(1.0));
                }
            }
        }
    }

    #[test]
    fn a_query_uses_the_tier_the_range_needs_and_keeps_gaps() {
        let conn = db();
        // Two hours of 10-second samples with the middle 20 minutes missing.
        for ts in (0..7200).step_by(10) {
            if !(3000..4200).contains(&ts) {
                repo::record(&conn, ts, &[sample(ts as f64)]).unwrap();
            }
        }
        let short = answer(&conn, "s", 0, 1800, 600).unwrap().unwrap();
        assert_eq!((short.tier, short.step), (Tier::Raw, 10));
        assert_eq!(short.buckets.len(), 181);

        let whole = answer(&conn, "s", 0, 7199, 100).unwrap().unwrap();
        assert_eq!(whole.tier, Tier::Minute);
        assert!(whole.buckets.len() <= 100);
        let gap = whole
            .buckets
            .windows(2)
            .map(|w| w[1].ts - w[0].ts)
            .max()
            .unwrap();
        assert!(gap >= 1200, "the 20-minute hole is still there: {gap}");
        assert!(
            whole
                .buckets
                .iter()
                .all(|b| b.min <= b.avg() && b.avg() <= b.max)
        );

        assert_eq!(answer(&conn, "nope", 0, 10, 10).unwrap(), None);
    }
}
