//! The collector loop: every `collector.interval`, sample the host on the
//! blocking pool, store every reading and the top processes in one writer
//! transaction, and keep the snapshot as the latest for pages and `/metrics`.

use std::sync::{Arc, Mutex};

use super::collector::{Collector, StoreFigures};
use super::{Host, repo};
use crate::store::{Store, StoreError};
use crate::tasks::Shutdown;

pub async fn run(
    host: Arc<Host>,
    collector: Arc<Mutex<Collector>>,
    store: Store,
    mut shutdown: Shutdown,
) {
    let mut tick = tokio::time::interval(host.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => return,
        }
        if let Err(e) = sample_once(&host, &collector, &store).await {
            tracing::warn!(error = %e, "storing a host sample failed");
        }
    }
}

/// Takes and stores one sample.
pub async fn sample_once(
    host: &Host,
    collector: &Arc<Mutex<Collector>>,
    store: &Store,
) -> Result<(), StoreError> {
    let figures = StoreFigures {
        queue_depth: store.queue_depth(),
    };
    let collector = collector.clone();
    let ts = crate::clock::now_ms().div_euclid(1000);
    let snapshot = tokio::task::spawn_blocking(move || {
        collector
            .lock()
            .map(|mut c| c.sample(ts, figures))
            .map_err(|_| StoreError::Task("the collector panicked earlier".into()))
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))??;
    let samples: Vec<_> = snapshot.readings.iter().map(|r| r.sample()).collect();
    let top = snapshot.top.clone();
    store
        .write(move |conn| {
            crate::series::repo::record(conn, ts, &samples)?;
            repo::save_top(conn, ts, &top)
        })
        .await?;
    if let Ok(mut latest) = host.latest.write() {
        *latest = Some(snapshot);
    }
    Ok(())
}
