//! Watchpost's own checks, listed with the rest: its database, the disk of
//! its data directory, and the freshness of the host collector. The platform
//! parts come from [`crate::health`]; what a feature must answer (the
//! collector) is handed in by `app.rs` as a closure, so this module names no
//! other feature.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use super::definition::{BUILTIN, Definition};
use super::model::Outcome;
use crate::health::{Failing, HealthState};

pub type BuiltinFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
pub type BuiltinProbe = Arc<dyn Fn() -> BuiltinFuture + Send + Sync>;

/// One self-check: its stable id (`watchpost-<what>`), name and probe.
#[derive(Clone)]
pub struct Builtin {
    pub what: &'static str,
    pub name: &'static str,
    pub probe: BuiltinProbe,
}

#[derive(Clone, Default)]
pub struct Builtins(pub Vec<Builtin>);

impl Builtins {
    /// The definitions provisioned at start.
    pub fn definitions(&self) -> Vec<Definition> {
        self.0
            .iter()
            .map(|b| Definition {
                id: format!("watchpost-{}", b.what),
                name: b.name.to_string(),
                kind: BUILTIN.to_string(),
                target: Some(b.what.to_string()),
                interval: Some("60s".into()),
                fail_after: Some(2),
                tags: vec!["watchpost".into()],
                ..Definition::default()
            })
            .collect()
    }

    pub async fn run(&self, what: &str) -> Outcome {
        match self.0.iter().find(|b| b.what == what) {
            Some(b) => (b.probe)().await,
            None => Outcome::down(format!("Watchpost has no self-check named {what:?}")),
        }
    }
}

/// The database answers reads and the write probe succeeds.
pub fn database(health: Arc<HealthState>) -> Builtin {
    Builtin {
        what: "database",
        name: "Watchpost database",
        probe: Arc::new(move || {
            let health = health.clone();
            Box::pin(async move {
                let started = Instant::now();
                let failing = health.failing().await;
                if failing.contains(&Failing::Database) {
                    Outcome::down("the database does not answer reads, or the write probe failed")
                } else {
                    Outcome::up(started.elapsed().as_secs_f64() * 1000.0)
                }
            })
        }),
    }
}

/// The data directory's disk has the free space `[health] min_free_disk` asks.
pub fn disk(health: Arc<HealthState>) -> Builtin {
    Builtin {
        what: "disk",
        name: "Watchpost disk space",
        probe: Arc::new(move || {
            let health = health.clone();
            Box::pin(async move {
                let started = Instant::now();
                if health.failing().await.contains(&Failing::Disk) {
                    Outcome::down(
                        "free disk space in the data directory is below health.min_free_disk",
                    )
                } else {
                    Outcome::up(started.elapsed().as_secs_f64() * 1000.0)
                }
            })
        }),
    }
}

/// A self-check from a closure that answers `Err(reason)` when failing.
pub fn from_fn<F>(what: &'static str, name: &'static str, check: F) -> Builtin
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    let check = Arc::new(check);
    Builtin {
        what,
        name,
        probe: Arc::new(move || {
            let check = check.clone();
            Box::pin(async move {
                let started = Instant::now();
                match check() {
                    Ok(()) => Outcome::up(started.elapsed().as_secs_f64() * 1000.0),
                    Err(reason) => Outcome::down(reason),
                }
            })
        }),
    }
}
