//! The write probe: every [`PROBE_EVERY`] the health task commits one small
//! row through the writer, so `/health` notices a writer that is stuck or a
//! database that refuses writes, not only one that refuses reads.

use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::{HealthState, repo};
use crate::store::Store;
use crate::tasks::Shutdown;

pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// A probe that has not succeeded for this long counts as failed.
pub const STALE_AFTER: Duration = Duration::from_secs(35);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One write probe; records and returns whether it committed in time.
pub async fn probe_once(store: &Store, state: &HealthState) -> bool {
    let now_ms = crate::clock::now_ms();
    let write = store.write(move |conn| repo::write_probe(conn, now_ms));
    let ok = match tokio::time::timeout(PROBE_TIMEOUT, write).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health write probe failed");
            false
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = PROBE_TIMEOUT.as_millis() as u64,
                "health write probe timed out"
            );
            false
        }
    };
    state.record_write_probe(ok);
    ok
}

pub async fn run(store: Store, state: std::sync::Arc<HealthState>, mut shutdown: Shutdown) {
    let mut ticks = tokio::time::interval(PROBE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticks.tick() => { probe_once(&store, &state).await; }
            _ = shutdown.wait() => break,
        }
    }
}
