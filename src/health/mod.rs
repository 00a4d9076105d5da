//! Is this instance healthy? `GET`/`HEAD /health` answers `200
//! {"status":"ok","version":…}` when a fresh database connection can read
//! within 1 s, the periodic write probe (see [`task`]) last succeeded and is
//! recent, and the data directory's filesystem keeps its minimum free space;
//! otherwise `503 {"status":"fail","failing":[…]}`. The body never carries
//! paths, host names or error texts: it is public. The checks run at most once
//! a second however often the endpoint is polled.

pub mod client;
mod config;
mod disk;
mod repo;
pub mod task;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, ContentType, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Serialize;

pub use config::HealthConfig;
pub use disk::{DiskSpace, DiskThreshold, space_of};

/// A fresh verdict is computed at most this often.
const CACHE_FOR: Duration = Duration::from_secs(1);
/// The read probe must answer within this.
const READ_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Failing {
    Database,
    Disk,
}

pub struct HealthState {
    db_path: PathBuf,
    data_dir: PathBuf,
    threshold: DiskThreshold,
    cached: Mutex<Option<(Instant, Vec<Failing>)>>,
    refreshing: tokio::sync::Mutex<()>,
    write_probe: Mutex<Option<(Instant, bool)>>,
}

impl HealthState {
    pub fn new(db_path: PathBuf, data_dir: PathBuf, threshold: DiskThreshold) -> Self {
        HealthState {
            db_path,
            data_dir,
            threshold,
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            write_probe: Mutex::new(None),
        }
    }

    pub(crate) fn record_write_probe(&self, ok: bool) {
        if let Ok(mut probe) = self.write_probe.lock() {
            *probe = Some((Instant::now(), ok));
        }
    }

    fn cached(&self) -> Option<Vec<Failing>> {
        let cached = self.cached.lock().ok()?;
        cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CACHE_FOR)
            .map(|(_, failing)| failing.clone())
    }

    /// What is failing now (empty when healthy).
    pub async fn failing(&self) -> Vec<Failing> {
        if let Some(failing) = self.cached() {
            return failing;
        }
        let _turn = self.refreshing.lock().await;
        if let Some(failing) = self.cached() {
            return failing;
        }
        let failing = self.check().await;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), failing.clone()));
        }
        failing
    }

    async fn check(&self) -> Vec<Failing> {
        let mut failing = Vec::new();
        let path = self.db_path.clone();
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let conn = crate::store::open_fresh_reader(&path)?;
                repo::read_probe(&conn)
            }),
        )
        .await;
        let read_ok = matches!(read, Ok(Ok(Ok(_))));
        if !read_ok || !self.write_probe_ok() {
            failing.push(Failing::Database);
        }
        let disk_ok =
            disk::space_of(&self.data_dir).is_ok_and(|space| self.threshold.is_met(space));
        if !disk_ok {
            failing.push(Failing::Disk);
        }
        failing
    }

    fn write_probe_ok(&self) -> bool {
        let Ok(probe) = self.write_probe.lock() else {
            return false;
        };
        match *probe {
            None => true,
            Some((at, ok)) => ok && at.elapsed() < task::STALE_AFTER,
        }
    }
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    version: &'static str,
    failing: Vec<Failing>,
}

/// The healthy answer never changes, so it is written once, at compile time.
const HEALTHY: &str = concat!(
    "{\"status\":\"ok\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\"}"
);

async fn health(state: web::Data<HealthState>) -> HttpResponse {
    let failing = state.failing().await;
    if failing.is_empty() {
        return HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
            .content_type(ContentType::json())
            .body(HEALTHY);
    }
    HttpResponse::ServiceUnavailable()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(HealthBody {
            status: "fail",
            version: env!("CARGO_PKG_VERSION"),
            failing,
        })
}

pub fn routes(r: &mut crate::http::routes::Routes) {
    r.get("/health", crate::http::routes::Access::Public, health);
}
