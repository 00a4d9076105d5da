//! Synthetic host history for benchmarks and screenshots only
//! (`watchpost dev seed-metrics --days N`; never part of `serve`). It writes
//! what `days` of a 10-second collector would leave behind after retention
//! with the default policy: raw samples for the last 48 hours, minute and
//! hour rollups for the whole span, top processes for the last 48 hours.
//! Rows go in time order, series interleaved, as the live collector writes
//! them. A 20-minute outage three days back is left as a gap. The database
//! is marked synthetic, and the host page says so.

use super::catalogue::*;
use super::model::{Reading, TopProcess, TopProcesses};
use super::repo;
use crate::series::{self, Bucket, Tier};
use crate::store::{Store, StoreError};

const INTERVAL: i64 = 10;
const RAW_KEEP: i64 = 48 * 3600;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub series: usize,
    /// Samples the synthetic collector took (each folded into every tier).
    pub samples: u64,
    pub raw_rows: u64,
    pub minute_rows: u64,
    pub hour_rows: u64,
}

/// A tiny deterministic generator (xorshift), so runs are reproducible.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

/// The synthetic readings at `ts`, `t0` being the first instant.
fn readings(ts: i64, t0: i64, noise: &mut Noise) -> Vec<Reading> {
    let day = ((ts % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU).sin();
    let days = (ts - t0) as f64 / 86_400.0;
    let cpu = (18.0 + 12.0 * day + 8.0 * noise.next()).clamp(0.5, 100.0);
    let used = 3.2 * GIB + 0.6 * GIB * day + 64.0 * MIB * noise.next();
    let mut r = vec![Reading::new(&CPU_TOTAL, cpu)];
    for core in 0..4 {
        let v = (cpu + 10.0 * noise.next()).clamp(0.0, 100.0);
        r.push(Reading::labelled(&CPU_CORE, core.to_string(), v));
    }
    r.extend([
        Reading::new(&LOAD_1, (cpu / 25.0 + 0.3 * noise.next()).max(0.0)),
        Reading::new(&LOAD_5, (cpu / 25.0).max(0.0)),
        Reading::new(&LOAD_15, (cpu / 26.0).max(0.0)),
        Reading::new(&MEMORY_USED, used.round()),
        Reading::new(&MEMORY_AVAILABLE, (8.0 * GIB - used - 0.4 * GIB).round()),
        Reading::new(&MEMORY_TOTAL, 8.0 * GIB),
        Reading::new(&SWAP_USED, (96.0 * MIB + 2.0 * MIB * days).round()),
        Reading::new(&SWAP_TOTAL, 2.0 * GIB),
        Reading::labelled(&FS_USED, "/", (41.0 * GIB + 0.05 * GIB * days).round()),
        Reading::labelled(&FS_TOTAL, "/", 80.0 * GIB),
        Reading::labelled(&FS_USED, "/data", (310.0 * GIB + 1.5 * GIB * days).round()),
        Reading::labelled(&FS_TOTAL, "/data", 500.0 * GIB),
        Reading::new(
            &DISK_READ,
            (180_000.0 * (1.0 + day) * (1.0 + noise.next()))
                .round()
                .max(0.0),
        ),
        Reading::new(
            &DISK_WRITE,
            (420_000.0 * (1.0 + 0.5 * day + noise.next()))
                .round()
                .max(0.0),
        ),
        Reading::labelled(
            &NET_RX,
            "eth0",
            (150_000.0 * (1.2 + day + noise.next())).round().max(0.0),
        ),
        Reading::labelled(
            &NET_TX,
            "eth0",
            (90_000.0 * (1.2 + day + noise.next())).round().max(0.0),
        ),
        Reading::labelled(
            &NET_RX_ERRORS,
            "eth0",
            if noise.next() > 0.499 { 0.1 } else { 0.0 },
        ),
        Reading::labelled(&NET_TX_ERRORS, "eth0", 0.0),
        Reading::new(&PROCESSES, (182.0 + 6.0 * noise.next()).round()),
        Reading::labelled(
            &TEMPERATURE,
            "Package id 0",
            42.0 + cpu / 5.0 + noise.next(),
        ),
        Reading::new(&UPTIME, (ts - t0 + 86_400) as f64),
        Reading::new(&OWN_RSS, (14.0 * MIB + 2.0 * MIB * noise.next()).round()),
        Reading::new(&OWN_CPU, (0.15 + 0.1 * noise.next()).max(0.0)),
        Reading::new(&OWN_FDS, 24.0),
        Reading::new(&OWN_DB, (4.0 * MIB + 3.0 * MIB * days).round()),
        Reading::new(&OWN_WAL, 4.0 * MIB),
        Reading::new(&OWN_QUEUE, 0.0),
    ]);
    r
}

fn top(noise: &mut Noise) -> TopProcesses {
    let list = |names: &[(&str, u32, &str, f64)], noise: &mut Noise| {
        names
            .iter()
            .map(|(name, pid, user, base)| TopProcess {
                pid: *pid,
                name: (*name).to_string(),
                user: (*user).to_string(),
                value: (base * (1.0 + 0.4 * noise.next())).round(),
            })
            .collect()
    };
    let procs = [
        ("postgres", 812, "postgres", 0.0),
        ("nginx", 640, "www-data", 0.0),
        ("gunicorn", 1204, "app", 0.0),
        ("redis-server", 733, "redis", 0.0),
        ("watchpost", 990, "watchpost", 0.0),
    ];
    let with = |base: [f64; 5]| {
        let mut p = procs;
        for (p, b) in p.iter_mut().zip(base) {
            p.3 = b;
        }
        p
    };
    TopProcesses {
        by_cpu: list(&with([9.0, 4.0, 12.0, 1.0, 0.2]), noise),
        by_memory: list(
            &with([
                900.0 * MIB,
                60.0 * MIB,
                420.0 * MIB,
                120.0 * MIB,
                14.0 * MIB,
            ]),
            noise,
        ),
    }
}

/// Fills `store` with `days` of synthetic history ending at `now` (Unix s).
pub async fn seed(store: &Store, days: u32, now: i64) -> Result<SeedReport, StoreError> {
    let now = Tier::Hour.bucket_of(now);
    let t0 = now - i64::from(days) * 86_400;
    let outage = (now - 3 * 86_400, now - 3 * 86_400 + 1200);
    let mut report = SeedReport::default();
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let samples: Vec<_> = readings(t0, t0, &mut noise)
        .iter()
        .map(Reading::sample)
        .collect();
    report.series = samples.len();
    let ids = store
        .write(move |conn| {
            samples
                .iter()
                .map(|s| series::repo::ensure(conn, s, t0 * 1000))
                .collect::<Result<Vec<i64>, _>>()
        })
        .await?;
    let mut hour = t0;
    while hour < now {
        let ids = ids.clone();
        let mut state = Noise(noise.0);
        let (written, next_noise) = store
            .write(move |conn| {
                let written = seed_hour(conn, &ids, hour, t0, now, outage, &mut state)?;
                Ok((written, state.0))
            })
            .await?;
        noise.0 = next_noise;
        report.samples += written.samples;
        report.raw_rows += written.raw_rows;
        report.minute_rows += written.minute_rows;
        report.hour_rows += written.hour_rows;
        hour += 3600;
    }
    let note = format!("{days} days generated by `watchpost dev seed-metrics`");
    store
        .write(move |conn| repo::mark_synthetic(conn, &note, crate::clock::now_ms()))
        .await?;
    Ok(report)
}

/// One hour of every series: raw rows when within the raw retention, one
/// minute row per series per minute, one hour row per series.
fn seed_hour(
    conn: &rusqlite::Connection,
    ids: &[i64],
    hour: i64,
    t0: i64,
    now: i64,
    outage: (i64, i64),
    noise: &mut Noise,
) -> Result<SeedReport, StoreError> {
    let mut report = SeedReport::default();
    let mut hours: Vec<Option<Bucket>> = vec![None; ids.len()];
    for minute in (hour..hour + 3600).step_by(60) {
        let mut minutes: Vec<Option<Bucket>> = vec![None; ids.len()];
        for ts in (minute..minute + 60).step_by(usize::try_from(INTERVAL).unwrap_or(10)) {
            if (outage.0..outage.1).contains(&ts) {
                continue;
            }
            let values = readings(ts, t0, noise);
            let keep_raw = ts >= now - RAW_KEEP;
            for ((id, reading), slot) in ids.iter().zip(&values).zip(minutes.iter_mut()) {
                if keep_raw {
                    series::repo::insert_raw(conn, *id, ts, reading.value)?;
                    report.raw_rows += 1;
                }
                let sample = Bucket::of(minute, reading.value);
                match slot {
                    Some(b) => b.absorb(&sample),
                    None => *slot = Some(sample),
                }
                report.samples += 1;
            }
            if keep_raw {
                repo::save_top(conn, ts, &top(noise))?;
            }
        }
        for ((id, bucket), slot) in ids.iter().zip(minutes).zip(hours.iter_mut()) {
            let Some(bucket) = bucket else { continue };
            series::repo::fold(conn, Tier::Minute, *id, &bucket)?;
            report.minute_rows += 1;
            let as_hour = Bucket { ts: hour, ..bucket };
            match slot {
                Some(h) => h.absorb(&as_hour),
                None => *slot = Some(as_hour),
            }
        }
    }
    for (id, bucket) in ids.iter().zip(hours) {
        if let Some(bucket) = bucket {
            series::repo::fold(conn, Tier::Hour, *id, &bucket)?;
            report.hour_rows += 1;
        }
    }
    Ok(report)
}
