//! The scheduled audit: a run a day after the last one (the first a minute
//! after start when none ran in the last day). A failed run is logged and
//! tried again an hour later; shutdown interrupts the wait, never a run.

use std::sync::Arc;
use std::time::Duration;

use super::service::{SecurityAudit, Trigger};
use crate::tasks::Shutdown;

/// The earliest a scheduled run starts after Watchpost does.
const FIRST_AFTER: Duration = Duration::from_secs(60);
const RETRY_AFTER: Duration = Duration::from_secs(3600);

pub async fn run(audit: Arc<SecurityAudit>, mut shutdown: Shutdown) {
    let mut wait = audit.next_due(FIRST_AFTER).await;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => break,
        }
        wait = match audit.run(Trigger::Schedule, None).await {
            Ok(report) => {
                tracing::info!(
                    high = report.summary.high,
                    medium = report.summary.medium,
                    low = report.summary.low,
                    "scheduled security audit done"
                );
                audit.next_due(FIRST_AFTER).await
            }
            Err(e) => {
                tracing::error!(error = %e, "the scheduled security audit failed; retrying in an hour");
                RETRY_AFTER
            }
        };
    }
}
