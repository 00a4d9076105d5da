//! The background tasks of one process, as a named set with one shutdown
//! signal. A task that returns is done; a task that panics is logged and
//! restarted with doubling backoff (1 s up to 60 s), and its restarts are
//! counted for the health detail page. [`Tasks::shutdown`] signals every task
//! and waits for each to finish its current work.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Resolves when the process is shutting down.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TaskStatus {
    pub restarts: u32,
    pub last_panic: Option<String>,
}

/// A read-only view of the tasks' records, usable after the set has moved.
#[derive(Clone)]
pub struct TaskBoard(Arc<Mutex<BTreeMap<&'static str, TaskStatus>>>);

impl TaskBoard {
    pub fn read(&self) -> BTreeMap<&'static str, TaskStatus> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

pub struct Tasks {
    stop: watch::Sender<bool>,
    supervisors: Vec<(&'static str, JoinHandle<()>)>,
    statuses: Arc<Mutex<BTreeMap<&'static str, TaskStatus>>>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            stop: watch::channel(false).0,
            supervisors: Vec::new(),
            statuses: Arc::default(),
        }
    }
}

impl Tasks {
    /// Starts `make(shutdown)` as task `name`, restarting it if it panics.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, make: F)
    where
        F: Fn(Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let shutdown = Shutdown(self.stop.subscribe());
        let statuses = self.statuses.clone();
        if let Ok(mut s) = statuses.lock() {
            s.insert(name, TaskStatus::default());
        }
        let supervisor = tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                let run = tokio::spawn(make(shutdown.clone()));
                let panic = match run.await {
                    Ok(()) => break,
                    Err(e) if e.is_panic() => panic_text(e.into_panic()),
                    Err(_) => break,
                };
                tracing::error!(task = name, panic = %panic, backoff_ms = backoff.as_millis() as u64, "background task panicked; restarting");
                if let Ok(mut s) = statuses.lock() {
                    let status = s.entry(name).or_default();
                    status.restarts += 1;
                    status.last_panic = Some(panic);
                }
                let mut stop = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
        self.supervisors.push((name, supervisor));
    }

    /// Each task's name and restart record.
    pub fn statuses(&self) -> BTreeMap<&'static str, TaskStatus> {
        self.board().read()
    }

    /// A handle that reads the tasks' records later (for `/health/detail`).
    pub fn board(&self) -> TaskBoard {
        TaskBoard(self.statuses.clone())
    }

    /// Signals shutdown and waits for every task to return.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for (name, supervisor) in self.supervisors {
            if let Err(e) = supervisor.await {
                tracing::warn!(task = name, error = %e, "task did not stop cleanly");
            }
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic".to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_counted() {
        let runs = Arc::new(AtomicU32::new(0));
        let mut tasks = Tasks::default();
        let counter = runs.clone();
        tasks.spawn("flaky", move |mut shutdown| {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first run fails");
                }
                shutdown.wait().await;
            }
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "restarted once after the backoff"
        );
        let status = tasks.statuses()["flaky"].clone();
        assert_eq!(status.restarts, 1);
        assert_eq!(status.last_panic.as_deref(), Some("first run fails"));
        tasks.shutdown().await;
    }
}
