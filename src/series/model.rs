//! The time-series types and pure logic: units, tiers, buckets, which tier
//! answers a query, and merging buckets down to a point budget. No I/O.

use serde::Serialize;

/// What a series' values measure; charts and `/metrics` format by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0–100.
    Percent,
    Bytes,
    BytesPerSecond,
    /// Events per second (errors, packets).
    PerSecond,
    Seconds,
    Milliseconds,
    Celsius,
    /// A plain number (load average, process count, queue depth).
    Count,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Bytes => "bytes",
            Unit::BytesPerSecond => "bytes_per_second",
            Unit::PerSecond => "per_second",
            Unit::Seconds => "seconds",
            Unit::Milliseconds => "milliseconds",
            Unit::Celsius => "celsius",
            Unit::Count => "count",
        }
    }

    pub fn parse(text: &str) -> Option<Unit> {
        [
            Unit::Percent,
            Unit::Bytes,
            Unit::BytesPerSecond,
            Unit::PerSecond,
            Unit::Seconds,
            Unit::Milliseconds,
            Unit::Celsius,
            Unit::Count,
        ]
        .into_iter()
        .find(|u| u.as_str() == text)
    }
}

/// One value of one series, as a feature hands it in.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub unit: Unit,
    /// What people read next to the value ("CPU core 1", "Used on /home").
    pub label: String,
    pub value: f64,
}

/// A stored series.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesInfo {
    pub name: String,
    pub unit: Unit,
    pub label: String,
}

/// Where samples are kept: as they came, or rolled up per minute or hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Raw,
    Minute,
    Hour,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    /// Bucket width in seconds (raw samples have none).
    pub fn step(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(60),
            Tier::Hour => Some(3600),
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Tier::Raw => "series_raw",
            Tier::Minute => "series_1m",
            Tier::Hour => "series_1h",
        }
    }

    /// The start of the bucket `ts` falls in.
    pub fn bucket_of(self, ts: i64) -> i64 {
        match self.step() {
            Some(step) => ts.div_euclid(step) * step,
            None => ts,
        }
    }
}

/// Min, max, sum and count of the samples in one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub ts: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: i64,
}

impl Bucket {
    pub fn of(ts: i64, value: f64) -> Bucket {
        Bucket {
            ts,
            min: value,
            max: value,
            sum: value,
            count: 1,
        }
    }

    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        self.sum / self.count as f64
    }

    pub fn absorb(&mut self, other: &Bucket) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.count += other.count;
    }
}

/// Which tier answers a query over `[from, to]` wanting at most `points`
/// points: the coarsest tier whose buckets are still no wider than one point
/// (`(to - from) / points`), so no resolution the chart could show is lost;
/// raw when even minutes are too coarse.
pub fn tier_for(from: i64, to: i64, points: usize) -> Tier {
    let per_point = (to - from).max(1) / i64::try_from(points.max(1)).unwrap_or(i64::MAX);
    if per_point >= 3600 {
        Tier::Hour
    } else if per_point >= 60 {
        Tier::Minute
    } else {
        Tier::Raw
    }
}

/// Merges time-ordered buckets into at most `points` buckets of equal width
/// aligned to `from`. Empty spans stay empty: a gap in the data stays a gap.
/// Returns the buckets and the width each now covers (`step`, or the merged
/// width when merging was needed).
pub fn downsample(
    buckets: Vec<Bucket>,
    from: i64,
    to: i64,
    points: usize,
    step: i64,
) -> (Vec<Bucket>, i64) {
    let points = i64::try_from(points.max(1)).unwrap_or(i64::MAX);
    let span = (to - from).max(1);
    let width = (span + points - 1) / points;
    if buckets.len() as i64 <= points || width <= step {
        return (buckets, step);
    }
    let width = width.max(step);
    let mut merged: Vec<Bucket> = Vec::with_capacity(usize::try_from(points).unwrap_or(0));
    for b in buckets {
        let slot = from + (b.ts - from).div_euclid(width) * width;
        match merged.last_mut() {
            Some(last) if last.ts == slot => last.absorb(&b),
            _ => merged.push(Bucket { ts: slot, ..b }),
        }
    }
    (merged, width)
}

/// The typical spacing of raw samples (the median gap), for telling a gap
/// from the normal cadence.
pub fn typical_spacing(buckets: &[Bucket]) -> Option<i64> {
    let mut gaps: Vec<i64> = buckets.windows(2).map(|w| w[1].ts - w[0].ts).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2].max(1))
}

/// What a query answers: the tier used, the width of each point, and the
/// points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub info: SeriesInfo,
    pub tier: Tier,
    pub step: i64,
    pub buckets: Vec<Bucket>,
}

/// Reads a point in time as Unix seconds: an integer, RFC 3339
/// (`2026-12-01T10:30:00Z`), or the `2026-12-01T10:30` a browser's
/// date-time field sends, read as UTC.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text, rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| time::PrimitiveDateTime::parse(text, seconds))
        .map(|t| t.assume_utc().unix_timestamp())
        .map_err(|_| {
            format!(
                "{:?} is not a time; use Unix seconds or RFC 3339 (2026-12-01T10:30:00Z)",
                text.chars().take(40).collect::<String>()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_in_every_accepted_form() {
        assert_eq!(parse_instant("1764585000"), Ok(1_764_585_000));
        assert_eq!(parse_instant("2025-12-01T10:30:00Z"), Ok(1_764_585_000));
        assert_eq!(
            parse_instant("2025-12-01T11:30:00+01:00"),
            Ok(1_764_585_000)
        );
        assert_eq!(parse_instant("2025-12-01T10:30"), Ok(1_764_585_000));
        assert!(parse_instant("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn the_tier_is_the_coarsest_that_still_resolves_the_range() {
        let day = 86_400;
        assert_eq!(tier_for(0, 3600, 600), Tier::Raw);
        assert_eq!(tier_for(0, 6 * 3600, 600), Tier::Raw);
        assert_eq!(tier_for(0, day, 600), Tier::Minute);
        assert_eq!(tier_for(0, 7 * day, 600), Tier::Minute);
        assert_eq!(tier_for(0, 30 * day, 600), Tier::Hour);
        assert_eq!(tier_for(0, 30 * day, 40_000), Tier::Minute);
        assert_eq!(tier_for(0, 0, 0), Tier::Raw);
    }

    #[test]
    fn buckets_align_to_their_step() {
        assert_eq!(Tier::Minute.bucket_of(119), 60);
        assert_eq!(Tier::Hour.bucket_of(7199), 3600);
        assert_eq!(Tier::Minute.bucket_of(-1), -60);
        assert_eq!(Tier::Raw.bucket_of(123), 123);
    }

    #[test]
    fn downsampling_merges_and_keeps_gaps() {
        // Minutes 0..10 and 20..30 present, 10..20 missing.
        let buckets: Vec<Bucket> = (0..30)
            .filter(|m| !(10..20).contains(m))
            .map(|m| Bucket::of(m * 60, m as f64))
            .collect();
        let (merged, width) = downsample(buckets, 0, 1800, 6, 60);
        assert_eq!(width, 300);
        let starts: Vec<i64> = merged.iter().map(|b| b.ts).collect();
        assert_eq!(starts, vec![0, 300, 1200, 1500]);
        assert_eq!(merged[0].count, 5);
        assert_eq!(merged[0].min, 0.0);
        assert_eq!(merged[0].max, 4.0);
        assert_eq!(merged[0].avg(), 2.0);
    }

    #[test]
    fn within_budget_nothing_is_merged() {
        let buckets = vec![Bucket::of(0, 1.0), Bucket::of(60, 2.0)];
        let (same, width) = downsample(buckets.clone(), 0, 120, 10, 60);
        assert_eq!(same, buckets);
        assert_eq!(width, 60);
    }

    #[test]
    fn typical_spacing_is_the_median_gap() {
        let b: Vec<Bucket> = [0, 10, 20, 30, 100, 110]
            .into_iter()
            .map(|t| Bucket::of(t, 0.0))
            .collect();
        assert_eq!(typical_spacing(&b), Some(10));
        assert_eq!(typical_spacing(&b[..1]), None);
    }

    #[test]
    fn units_read_back_from_their_names() {
        for unit in [Unit::Percent, Unit::BytesPerSecond, Unit::Celsius] {
            assert_eq!(Unit::parse(unit.as_str()), Some(unit));
        }
        assert_eq!(Unit::parse("furlongs"), None);
    }
}
