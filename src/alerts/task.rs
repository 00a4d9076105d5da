//! The alerting tasks: the evaluator (every `alerts.evaluate_every`, and
//! listening on the bus for the signals rules count) and the deliverer
//! (every second, or at once when something is queued). Each survives its
//! own errors; what is still queued at shutdown is committed and goes out
//! after the next start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::{MissedTickBehavior, interval};

use super::Alerts;
use crate::tasks::Shutdown;

const DELIVER_EVERY: Duration = Duration::from_secs(1);

pub async fn evaluate(alerts: Arc<Alerts>, every: Duration, mut shutdown: Shutdown) {
    let mut signals = alerts.sources.bus.subscribe();
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = alerts.evaluate().await {
                    tracing::error!(error = %e, "evaluating alert rules failed; retrying at the next tick");
                }
            }
            signal = signals.recv() => match signal {
                Ok(signal) => alerts.hear(&signal).await,
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "alerting fell behind the bus"),
                Err(RecvError::Closed) => signals = alerts.sources.bus.subscribe(),
            },
            () = shutdown.wait() => break,
        }
    }
}

pub async fn deliver(alerts: Arc<Alerts>, mut shutdown: Shutdown) {
    let mut tick = interval(DELIVER_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = alerts.queued.notified() => {}
            () = shutdown.wait() => break,
        }
        if let Err(e) = alerts.deliver_due().await {
            tracing::error!(error = %e, "delivering alerts failed; retrying in a second");
        }
    }
}
