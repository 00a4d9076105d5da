//! Figures every checks page and the API share: uptime over 24 h, 7 d, 30 d
//! and 90 d, the 90 one-day bars of the status page, a latency sparkline,
//! and the JSON shape of a check.

use std::collections::HashMap;

use serde::Serialize;

use super::definition::Definition;
use super::model::{Counts, State, day_of, uptime_text};
use super::repo;
use super::service::{Checks, Loaded};
use crate::error::AppError;
use crate::web::chart::sparkline;

const DAY_MS: i64 = 86_400_000;
pub const BAR_DAYS: i64 = 90;
/// One point an hour: the sparkline reads the 1-hour tier (24 rows a check).
const SPARK_POINTS: usize = 24;

/// Uptime in percent over the four standard windows.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Uptime {
    pub h24: Option<f64>,
    pub d7: Option<f64>,
    pub d30: Option<f64>,
    pub d90: Option<f64>,
}

impl Uptime {
    pub fn texts(&self) -> [String; 4] {
        [self.h24, self.d7, self.d30, self.d90].map(uptime_text)
    }
}

/// One day of the status page's bar row.
#[derive(Clone)]
pub struct DayBar {
    pub class: &'static str,
    pub title: String,
}

pub struct Figures {
    pub uptime: Uptime,
    pub bars: Vec<DayBar>,
    pub sparkline: Option<String>,
}

/// Figures for every check in `loaded`, with two grouped queries for all of
/// them (and one series query each when `sparklines`).
pub async fn figures(
    checks: &Checks,
    loaded: &[Loaded],
    sparklines: bool,
) -> Result<HashMap<i64, Figures>, AppError> {
    let now = checks.clock.now_ms();
    let wanted: Vec<(i64, String)> = loaded.iter().map(|l| (l.row.id, l.series_name())).collect();
    let (day, week, days, mut lines) = checks
        .store
        .read(move |conn| {
            let day = repo::counts_since(conn, now - DAY_MS)?;
            let week = repo::counts_since(conn, now - 7 * DAY_MS)?;
            let days = repo::days(conn, day_of(now) - (BAR_DAYS - 1))?;
            let mut lines = HashMap::new();
            if sparklines {
                let (to, from) = (now / 1000, now / 1000 - 86_400);
                for (id, name) in &wanted {
                    if let Some(a) = crate::series::answer(conn, name, from, to, SPARK_POINTS)? {
                        lines.insert(*id, sparkline(&a.buckets, a.step, from, to));
                    }
                }
            }
            Ok((day, week, days, lines))
        })
        .await?;
    let today = day_of(now);
    let mut out = HashMap::new();
    for l in loaded {
        let id = l.row.id;
        let per_day = days.get(&id).map(Vec::as_slice).unwrap_or_default();
        let sum = |n: i64| {
            let mut c = Counts::default();
            for (_, counts) in per_day.iter().filter(|(d, _)| *d > today - n) {
                c.add(*counts);
            }
            c
        };
        let uptime = Uptime {
            h24: day.get(&id).and_then(Counts::uptime),
            d7: week.get(&id).and_then(Counts::uptime),
            d30: sum(30).uptime(),
            d90: sum(BAR_DAYS).uptime(),
        };
        out.insert(
            id,
            Figures {
                uptime,
                bars: bars(per_day, today),
                sparkline: lines.remove(&id),
            },
        );
    }
    Ok(out)
}

fn bars(per_day: &[(i64, Counts)], today: i64) -> Vec<DayBar> {
    let by_day: HashMap<i64, Counts> = per_day.iter().copied().collect();
    (today - (BAR_DAYS - 1)..=today)
        .map(|day| {
            let date = crate::auth::when(Some(day * DAY_MS));
            let date = date.split(' ').next().unwrap_or_default().to_string();
            match by_day.get(&day) {
                None => DayBar {
                    class: "none",
                    title: format!("{date}: no data"),
                },
                Some(c) => {
                    let uptime = c.uptime();
                    let class = match uptime {
                        None => "maintenance",
                        Some(u) if u >= 100.0 => "up",
                        Some(u) if u >= 95.0 => "partial",
                        Some(_) => "down",
                    };
                    DayBar {
                        class,
                        title: format!("{date}: {} up", uptime_text(uptime)),
                    }
                }
            }
        })
        .collect()
}

/// A check as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckJson {
    /// The stable id.
    pub id: String,
    pub name: String,
    pub kind: String,
    pub state: State,
    pub state_since_ms: i64,
    pub target: String,
    pub tags: Vec<String>,
    pub public: bool,
    pub paused: bool,
    /// `ui`, `config` (read-only here: edit watchpost.toml) or `builtin`.
    pub managed_by: String,
    pub interval_s: u64,
    pub last_run_ms: Option<i64>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub cert_days: Option<i64>,
    pub last_ping_ms: Option<i64>,
    pub uptime: Uptime,
    /// The definition, with credential headers as `[redacted]`.
    pub definition: Definition,
    /// Heartbeats, admins only: the URL the job pings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_url: Option<String>,
}

pub fn json(checks: &Checks, l: &Loaded, uptime: Uptime, admin: bool) -> CheckJson {
    CheckJson {
        id: l.row.slug.clone(),
        name: l.row.name.clone(),
        kind: l.row.kind.clone(),
        state: l.row.state,
        state_since_ms: l.row.state_since_ms,
        target: l.check.probe.target(),
        tags: l.check.tags.clone(),
        public: l.check.public,
        paused: l.row.paused,
        managed_by: l.row.origin.clone(),
        interval_s: l.check.interval.as_secs(),
        last_run_ms: l.row.last_run_ms,
        last_latency_ms: l.row.last_latency_ms,
        last_error: l.row.last_error.clone(),
        cert_days: l.row.cert_days,
        last_ping_ms: l.row.last_ping_ms,
        uptime,
        definition: super::definition::redacted(&l.def),
        ping_url: if admin { checks.ping_url(l) } else { None },
    }
}
