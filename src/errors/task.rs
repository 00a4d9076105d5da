//! The digest task: takes kept items in batches as they arrive (woken by
//! ingest, and at least every second), unignores issues whose ignore time
//! has passed (every minute), and survives its own errors. What
//! is still undigested at shutdown stays stored and is digested after the
//! next start.

use std::sync::Arc;
use std::time::Duration;

use super::Errors;
use crate::tasks::Shutdown;

const IDLE: Duration = Duration::from_secs(1);
/// How often issues ignored until a time are woken.
const WAKE_EVERY_MS: i64 = 60_000;

pub async fn run(errors: Arc<Errors>, mut shutdown: Shutdown) {
    let mut woken_ms = 0;
    loop {
        let now = errors.clock.now_ms();
        if now - woken_ms >= WAKE_EVERY_MS {
            woken_ms = now;
            if let Err(e) = errors
                .store
                .write(move |c| super::digest_repo::wake_ignored(c, now))
                .await
            {
                tracing::error!(error = %e, "waking ignored issues failed");
            }
        }
        let full = match errors.digest_pass().await {
            Ok(n) => n >= errors.config.digest_batch as usize,
            Err(e) => {
                tracing::error!(error = %e, "digesting error events failed; retrying in a second");
                false
            }
        };
        if full {
            tokio::select! {
                () = tokio::task::yield_now() => {}
                () = shutdown.wait() => break,
            }
            continue;
        }
        tokio::select! {
            () = errors.arrived.notified() => {}
            () = tokio::time::sleep(IDLE) => {}
            () = shutdown.wait() => break,
        }
    }
}
