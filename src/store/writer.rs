//! The one writer. A dedicated thread owns the only read-write connection. It
//! takes one job, drains whatever else is queued (up to [`MAX_BATCH`]), runs
//! them in one transaction — each inside its own savepoint, so one failing job
//! does not undo the others — and acknowledges every job only after COMMIT.
//! The queue is bounded: when it is full, callers wait; nothing is dropped.

use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Jobs waiting beyond this make callers wait (backpressure).
const QUEUE_CAPACITY: usize = 4096;
/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

/// Called after the batch's COMMIT (`Ok`) or its failure (`Err`).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Runs a caller's closure on the connection (or reports why it could not)
/// and says whether it succeeded.
type Job = Box<dyn FnOnce(Result<&Connection, String>) -> (bool, Finish) + Send>;

enum Message {
    Job(Job),
    Stop,
}

pub(super) struct Writer {
    sender: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(conn, receiver))
            .map_err(|source| StoreError::Io {
                context: "starting the database writer thread".into(),
                source,
            })?;
        Ok(Writer {
            sender,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(super) async fn submit<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (ack, done) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| match conn {
            Err(reason) => {
                let _ = ack.send(Err(StoreError::Commit(reason)));
                (false, Box::new(|_| {}))
            }
            Ok(conn) => {
                let result = work(conn);
                let ok = result.is_ok();
                let finish: Finish = Box::new(move |commit| {
                    let _ = ack.send(match commit {
                        Ok(()) => result,
                        Err(reason) => Err(StoreError::Commit(reason)),
                    });
                });
                (ok, finish)
            }
        });
        self.sender
            .send(Message::Job(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)?
    }

    pub(super) fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub(super) async fn stop(&self) {
        let _ = self.sender.send(Message::Stop).await;
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn run(mut conn: Connection, mut receiver: mpsc::Receiver<Message>) {
    // After Stop the channel is closed: new sends fail at once, while the jobs
    // already queued are still received, committed and acknowledged.
    while let Some(message) = receiver.blocking_recv() {
        let mut batch = Vec::new();
        match message {
            Message::Job(job) => batch.push(job),
            Message::Stop => receiver.close(),
        }
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Stop) => receiver.close(),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch);
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA optimize") {
        tracing::warn!(error = %e, "PRAGMA optimize at shutdown failed");
    }
    // Fold the WAL into the database and empty it: the read-only pool may
    // close after this connection, and a read-only connection cannot.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "the WAL checkpoint at shutdown failed");
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let mut tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let reason = e.to_string();
            tracing::error!(error = %reason, jobs = batch.len(), "could not begin a write transaction");
            for job in batch {
                let (_, finish) = job(Err(reason.clone()));
                finish(Err(reason.clone()));
            }
            return;
        }
    };
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        match tx.savepoint() {
            Ok(mut savepoint) => {
                let (ok, finish) = job(Ok(&savepoint));
                let settled = if ok {
                    savepoint.commit()
                } else {
                    savepoint.rollback()
                };
                if let Err(e) = settled {
                    finish(Err(e.to_string()));
                    continue;
                }
                finishers.push(finish);
            }
            Err(e) => {
                let (_, finish) = job(Err(e.to_string()));
                finish(Err(e.to_string()));
            }
        }
    }
    let committed = tx.commit().map_err(|e| e.to_string());
    if let Err(reason) = &committed {
        tracing::error!(error = %reason, jobs = finishers.len(), "a write transaction failed to commit");
    }
    for finish in finishers {
        finish(committed.clone());
    }
}
