//! SQLite storage (DESIGN §4): one writer thread that batches queued jobs into
//! one transaction and acknowledges each job only after COMMIT, and a pool of
//! read-only connections used from the blocking pool, never from the async
//! runtime. Opening the store creates the data directory `0700`, sets the
//! PRAGMAs and applies the embedded migrations.
//!
//! Nothing here knows about features: they pass closures that run their SQL
//! (kept in their own `repo.rs`).

mod backup;
mod config;
pub mod instance;
mod migrations;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

pub use backup::{BackupProgress, backup};
pub use config::StorageConfig;
pub use instance::Instance;
pub use migrations::{known_version, migrate};

/// The database file inside the data directory.
pub const DB_FILE: &str = "watchpost.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the database writer has stopped; restart Watchpost")]
    Closed,
    #[error("the transaction could not be committed: {0}")]
    Commit(String),
    #[error("a database task did not finish: {0}")]
    Task(String),
    #[error(
        "the database is at schema version {found}, newer than this Watchpost understands ({known}); run the newer Watchpost again or restore a backup made by this version"
    )]
    TooNew { found: usize, known: usize },
    #[error("applying migration {version}: {source}")]
    Migration {
        version: usize,
        source: rusqlite_migration::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/watchpost.db`, migrates it and
    /// starts the writer thread.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let mut conn = open_writer_connection(&path)?;
        migrate(&mut conn)?;
        let readers = r2d2::Pool::builder()
            .max_size(read_pool_size())
            .min_idle(Some(1))
            .build(
                SqliteConnectionManager::file(&path)
                    .with_flags(read_only_flags())
                    .with_init(|c| {
                        c.busy_timeout(std::time::Duration::from_secs(5))?;
                        c.pragma_update(None, "query_only", true)
                    }),
            )?;
        let writer = writer::Writer::start(conn)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `job` in the writer's next transaction and returns its value once
    /// that transaction has committed. Waits while the queue is full.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.writer.submit(job).await
    }

    /// Jobs waiting for the writer right now.
    pub fn queue_depth(&self) -> usize {
        self.inner.writer.queue_depth()
    }

    /// Runs `query` on a read-only connection on the blocking pool.
    pub async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.inner.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            query(&conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Stops the writer after it has committed every job queued so far.
    /// Later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.inner.writer.stop().await;
    }
}

/// Opens a fresh read-only connection to the database file, as a restart would,
/// so a missing or unreadable file is noticed even while pooled connections
/// still hold it open.
pub fn open_fresh_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, read_only_flags())?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    Ok(conn)
}

fn read_only_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

fn read_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(2, 16) as u32
}

fn open_writer_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // auto_vacuum only takes effect before the first table exists.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Creates `dir` (and parents) with mode `0700`, so it is private from birth.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            context: format!("creating data directory {}", dir.display()),
            source,
        })
}

/// Files and directories this process creates are private to its user
/// (`0600` / `0700`) from the moment they exist, SQLite's among them.
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}
