//! The perf service: the aggregators of every source (Watchpost's own
//! traffic, answered through `http::RequestStats`, and each access-log
//! source, fed by the log watchers), the slowest own requests waiting to
//! be stored, and the regressions in force. The background task flushes,
//! recomputes baselines and judges regressions through it.

use std::collections::HashMap;
use std::sync::Mutex;

use super::aggregate::Aggregator;
use super::config::PerfConfig;
use super::model::{Active, Baseline, Cell, SELF_SOURCE, standard_method};
use super::normalise::Normaliser;
use super::repo::Slow;
use crate::audit_trail::Trail;
use crate::bus::Bus;
use crate::clock::Clock;
use crate::http::RequestId;
use crate::http::stats::{Finished, RequestStats};
use crate::logwatch::AccessLine;
use crate::store::Store;
use actix_web::HttpMessage;

/// The longest stored path of a slow request.
const MAX_PATH: usize = 512;
/// Slow requests kept per source.
pub const SLOW_KEPT: usize = 100;

/// An access-log source: its aggregator and its route normaliser.
struct LogSource {
    aggregator: Aggregator,
    normaliser: Mutex<Normaliser>,
}

/// (source, route, method).
pub type RouteKey = (String, String, String);

pub struct Perf {
    pub store: Store,
    pub clock: Clock,
    pub config: PerfConfig,
    pub bus: Bus,
    trail: Trail,
    own: Aggregator,
    logs: HashMap<String, LogSource>,
    /// Apps reporting transactions through error tracking (`app:<project>`),
    /// added as they first report.
    apps: Mutex<HashMap<String, std::sync::Arc<LogSource>>>,
    slow_us: u64,
    slow: Mutex<Vec<Slow>>,
    pub(super) active: Mutex<HashMap<RouteKey, Active>>,
    pub(super) baselines: Mutex<HashMap<RouteKey, Baseline>>,
}

/// The perf source name of an access-log source (`nginx:shop`).
pub fn log_source_name(kind: &str, id: &str) -> String {
    format!("{kind}:{id}")
}

impl Perf {
    /// `log_sources`: the names of the access-log sources that will be fed,
    /// each with the routes it already had (they count toward the cap).
    pub fn new(
        config: &PerfConfig,
        store: Store,
        clock: Clock,
        bus: Bus,
        trail: Trail,
        log_sources: Vec<(String, Vec<String>)>,
    ) -> Perf {
        let logs = log_sources
            .into_iter()
            .map(|(name, known)| {
                let source = LogSource {
                    aggregator: Aggregator::new(&name),
                    normaliser: Mutex::new(Normaliser::new(
                        config.route_rules(),
                        config.max_routes,
                        known,
                    )),
                };
                (name, source)
            })
            .collect();
        Perf {
            store,
            clock,
            slow_us: config.slow_us(),
            config: config.clone(),
            bus,
            trail,
            own: Aggregator::new(SELF_SOURCE),
            logs,
            apps: Mutex::default(),
            slow: Mutex::default(),
            active: Mutex::default(),
            baselines: Mutex::default(),
        }
    }

    fn minute_now(&self) -> i64 {
        let s = self.clock.now_s();
        s - s.rem_euclid(60)
    }

    /// One line of an access-log source (unknown sources are ignored).
    pub fn feed_access(&self, source: &str, line: &AccessLine) {
        let Some(log) = self.logs.get(source) else {
            return;
        };
        if line.method.is_empty() {
            return;
        }
        let route = log
            .normaliser
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .route(&line.path);
        let minute = line.ts_ms.map_or_else(
            || self.minute_now(),
            |ms| {
                let s = ms.div_euclid(1000);
                s - s.rem_euclid(60)
            },
        );
        let us = line
            .request_time_ms
            .map(|ms| (ms * 1000.0).round().max(0.0) as u64);
        log.aggregator.observe(
            &route,
            standard_method(&line.method),
            line.status,
            us,
            minute,
        );
    }

    /// One transaction an app's Sentry SDK reported: `source` is
    /// `app:<project>`, the route its transaction name (capped like a log
    /// source's routes).
    pub fn feed_transaction(
        &self,
        source: &str,
        name: &str,
        method: &str,
        status: u16,
        us: u64,
        ts_ms: i64,
    ) {
        let app = {
            let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
            apps.entry(source.to_owned())
                .or_insert_with(|| {
                    std::sync::Arc::new(LogSource {
                        aggregator: Aggregator::new(source),
                        normaliser: Mutex::new(Normaliser::new(
                            self.config.route_rules(),
                            self.config.max_routes,
                            Vec::new(),
                        )),
                    })
                })
                .clone()
        };
        let route = app
            .normaliser
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .route(name);
        let s = ts_ms.div_euclid(1000);
        app.aggregator.observe(
            &route,
            standard_method(method),
            status,
            Some(us),
            s - s.rem_euclid(60),
        );
    }

    fn app_sources(&self) -> Vec<std::sync::Arc<LogSource>> {
        self.apps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Requests folded into `{other}` per log source.
    pub fn overflowed(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .logs
            .iter()
            .map(|(name, l)| {
                let n = l.normaliser.lock().unwrap_or_else(|p| p.into_inner());
                (name.clone(), n.overflowed())
            })
            .collect();
        out.sort();
        out
    }

    /// Every source that is fed in this process.
    pub fn live_sources(&self) -> Vec<String> {
        let mut out: Vec<String> = std::iter::once(SELF_SOURCE.to_owned())
            .chain(self.logs.keys().cloned())
            .chain(
                self.app_sources()
                    .iter()
                    .map(|a| a.aggregator.source.clone()),
            )
            .collect();
        out[1..].sort();
        out
    }

    /// The finished minutes of every source (all minutes with None).
    pub fn take_rows(&self, before_minute: Option<i64>) -> Vec<super::model::Row> {
        let mut rows = self.own.take_before(before_minute);
        for log in self.logs.values() {
            rows.extend(log.aggregator.take_before(before_minute));
        }
        for app in self.app_sources() {
            rows.extend(app.aggregator.take_before(before_minute));
        }
        rows
    }

    pub fn take_slow(&self) -> Vec<Slow> {
        std::mem::take(&mut *self.slow.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Watchpost's own requests since start, for `/metrics`.
    pub fn own_totals(&self) -> Vec<(String, &'static str, u8, Cell)> {
        self.own.totals()
    }

    /// The current minute's figures are not stored yet: the start of the
    /// minute that is still being aggregated.
    pub fn open_minute(&self) -> i64 {
        self.minute_now()
    }
}

impl RequestStats for Perf {
    fn record(&self, f: &Finished<'_>) {
        let us = u64::try_from(f.elapsed.as_micros()).unwrap_or(u64::MAX);
        let method = standard_method(f.method);
        self.own
            .observe(f.route, method, f.status, Some(us), self.minute_now());
        if us >= self.slow_us {
            let raw = f
                .request
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str());
            let path: String = crate::redact::redact_query(raw)
                .chars()
                .take(MAX_PATH)
                .collect();
            let slow = Slow {
                source: SELF_SOURCE.to_owned(),
                ts_ms: self.clock.now_ms(),
                route: f.route.to_owned(),
                method: method.to_owned(),
                status: f.status,
                duration_ms: us as f64 / 1000.0,
                request_id: f
                    .request
                    .extensions()
                    .get::<RequestId>()
                    .map(|r| r.as_str().to_owned()),
                path,
            };
            let mut pending = self.slow.lock().unwrap_or_else(|p| p.into_inner());
            if pending.len() >= SLOW_KEPT {
                pending.remove(0);
            }
            pending.push(slow);
        }
    }
}

impl Perf {
    pub fn set_baselines(&self, map: HashMap<RouteKey, Baseline>) {
        *self.baselines.lock().unwrap_or_else(|p| p.into_inner()) = map;
    }

    pub fn baselines_snapshot(&self) -> HashMap<RouteKey, Baseline> {
        self.baselines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Open regressions in memory: (source, route, method) → since.
    pub fn active_regressions(&self) -> Vec<(RouteKey, Active)> {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active.iter().map(|(k, a)| (k.clone(), *a)).collect()
    }
}

impl Perf {
    /// Records a deploy marker now, audited.
    pub async fn add_deploy(
        &self,
        body: super::api::DeployBody,
        origin: &str,
        by: &crate::audit_trail::Actioned,
    ) -> Result<super::repo::Deploy, crate::error::AppError> {
        use crate::error::AppError;
        let version = body.version.trim().to_owned();
        if version.is_empty()
            || version.chars().count() > 100
            || version.chars().any(char::is_control)
        {
            return Err(AppError::BadRequest(
                "version must be 1 to 100 printable characters, e.g. \"v2.4.1\"".into(),
            ));
        }
        if body.notes.chars().count() > 2_000 {
            return Err(AppError::BadRequest(
                "notes must be at most 2000 characters".into(),
            ));
        }
        if !body.source.is_empty() && !self.live_sources().contains(&body.source) {
            return Err(AppError::BadRequest(format!(
                "source {:?} is not a source; use one of {} or leave it out",
                body.source,
                self.live_sources().join(", ")
            )));
        }
        let now = self.clock.now_ms();
        let mut deploy = super::repo::Deploy {
            id: 0,
            ts_ms: now,
            version: version.clone(),
            source: body.source,
            notes: body.notes,
            origin: origin.to_owned(),
        };
        let entry = by.entry("deploy.recorded", format!("deploy:{version}"));
        let (trail, d) = (self.trail.clone(), deploy.clone());
        deploy.id = self
            .store
            .write(move |c| {
                let id = super::repo::insert_deploy(c, &d)?;
                trail.append(c, now, &entry)?;
                Ok(id)
            })
            .await?;
        Ok(deploy)
    }
}

impl crate::logwatch::AccessSink for Perf {
    fn access(&self, kind: &str, id: &str, line: &AccessLine) {
        self.feed_access(&log_source_name(kind, id), line);
    }
}
