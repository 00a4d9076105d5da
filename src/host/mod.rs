//! Host metrics: a collector task samples the machine (and Watchpost itself)
//! every `collector.interval` and stores each reading as a time series, with
//! the top processes by CPU and memory beside it. This feature gives the
//! overview its status cards, the `/host` page its charts, and `/metrics` its
//! host gauges. `dev seed-metrics` fills a database with labelled synthetic
//! history for benchmarks and screenshots.

mod cards;
mod catalogue;
mod collector;
mod config;
mod metrics;
mod model;
pub mod repo;
mod routes;
pub mod seed;
pub mod task;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use cards::card_source;
pub use collector::Collector;
pub use config::CollectorConfig;
pub use metrics::contribution;
pub use model::{Family, Metric, Reading, Snapshot, TopProcess, TopProcesses};
pub use repo::prune_top;
pub use routes::routes;

/// What the collector last measured, shared with pages and `/metrics`.
pub struct Host {
    pub every: Duration,
    latest: RwLock<Option<Snapshot>>,
}

impl Host {
    pub fn latest(&self) -> Option<Snapshot> {
        self.latest.read().ok().and_then(|l| l.clone())
    }
}

/// The shared state and the collector that feeds it.
pub fn build(
    config: &CollectorConfig,
    db_path: PathBuf,
) -> anyhow::Result<(Arc<Host>, Arc<Mutex<Collector>>)> {
    let host = Arc::new(Host {
        every: config.every(),
        latest: RwLock::new(None),
    });
    let collector = Collector::new(config.clone(), db_path)?;
    Ok((host, Arc::new(Mutex::new(collector))))
}
