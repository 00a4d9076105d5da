//! The threats task: writes the bans that detections queue (with
//! repeat-offender doubling), flushes aggregated security events every two
//! seconds, syncs the ban gate with the database every five (bans made
//! elsewhere, ends to handle), and every minute sweeps drained buckets and
//! idle rate-limit keys. On shutdown it writes what is pending.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{MissedTickBehavior, interval};

use super::service::Threats;
use crate::tasks::Shutdown;

const FLUSH_EVERY: Duration = Duration::from_secs(2);
const SYNC_EVERY: Duration = Duration::from_secs(5);
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub async fn run(threats: Arc<Threats>, mut shutdown: Shutdown) {
    let Some(mut queue) = threats.queue.lock().ok().and_then(|mut q| q.take()) else {
        tracing::error!("the threats task is already running");
        return;
    };
    let mut flush = interval(FLUSH_EVERY);
    let mut sync = interval(SYNC_EVERY);
    let mut sweep = interval(SWEEP_EVERY);
    for t in [&mut flush, &mut sync, &mut sweep] {
        t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    }
    loop {
        tokio::select! {
            Some(detection) = queue.recv() => {
                if let Err(e) = threats.ban_detected(detection).await {
                    tracing::error!(error = %e, "recording a ban failed; it holds in memory until it ends");
                }
            }
            _ = flush.tick() => flush_events(&threats).await,
            _ = sync.tick() => {
                if let Err(e) = threats.sync().await {
                    tracing::error!(error = %e, "syncing the ban list failed; retrying in 5 s");
                }
            }
            _ = sweep.tick() => threats.sweep(),
            () = shutdown.wait() => break,
        }
    }
    // Bans detected just before shutdown are recorded, so they survive it.
    queue.close();
    while let Some(detection) = queue.recv().await {
        if let Err(e) = threats.ban_detected(detection).await {
            tracing::error!(error = %e, "recording a ban at shutdown failed");
        }
    }
    flush_events(&threats).await;
}

async fn flush_events(threats: &Threats) {
    if let Err(e) = threats.flush().await {
        tracing::error!(error = %e, "writing security events failed; this batch of events is lost");
    }
}
