//! The store: migrations, the single batching writer, shutdown without loss.

use std::sync::Arc;

use watchpost::store::{Store, StoreError, known_version};

fn scratch_table(store: &Store) -> impl std::future::Future<Output = Result<(), StoreError>> + '_ {
    store.write(|c| {
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
        )?;
        Ok(())
    })
}

async fn count(store: &Store, table: &'static str) -> i64 {
    store
        .read(move |c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .await
        .unwrap()
}

async fn user_version(store: &Store) -> i64 {
    store
        .read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn all_migrations_apply_to_an_empty_database_and_rerunning_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(user_version(&store).await, known_version() as i64);
    assert!(known_version() >= 1);
    let journal: String = store
        .read(|c| Ok(c.pragma_query_value(None, "journal_mode", |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    store.close().await;
    drop(store);

    let again = Store::open(dir.path()).unwrap();
    assert_eq!(user_version(&again).await, known_version() as i64);
    again.close().await;
}

#[tokio::test]
async fn the_data_directory_and_database_are_private_from_creation() {
    use std::os::unix::fs::PermissionsExt;
    watchpost::store::restrict_umask();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let store = Store::open(&data).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(
        mode(store.path()) & 0o077,
        0,
        "database is not group/world accessible"
    );
    store.close().await;
}

#[tokio::test]
async fn a_database_from_a_newer_watchpost_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(watchpost::store::DB_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", known_version() as i64 + 5)
        .unwrap();
    drop(conn);
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StoreError::TooNew { .. }));
    let text = err.to_string();
    assert!(text.contains("newer than this Watchpost"), "{text}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        v,
        known_version() as i64 + 5,
        "the newer database is left untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_writes_are_all_acknowledged_and_present() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    scratch_table(&store).await.unwrap();
    let mut handles = Vec::new();
    for n in 0..10_000i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .write(move |c| {
                    c.execute("INSERT INTO scratch (n) VALUES (?1)", [n])?;
                    Ok(c.last_insert_rowid())
                })
                .await
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap().expect("acknowledged"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10_000, "every write got its own row");
    assert_eq!(count(&store, "scratch").await, 10_000);
    let distinct: i64 = store
        .read(|c| Ok(c.query_row("SELECT count(DISTINCT n) FROM scratch", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(distinct, 10_000);
    store.close().await;
}

#[tokio::test]
async fn a_failing_job_does_not_undo_the_others_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    scratch_table(&store).await.unwrap();
    let mut handles = Vec::new();
    for n in 0..200i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .write(move |c| {
                    c.execute("INSERT INTO scratch (n) VALUES (?1)", [n])?;
                    if n % 10 == 0 {
                        c.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                    }
                    Ok(())
                })
                .await
        }));
    }
    let mut failed = 0;
    for h in handles {
        if h.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 20);
    assert_eq!(
        count(&store, "scratch").await,
        180,
        "failed jobs left nothing behind, the rest committed"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_with_queued_writes_loses_none_that_were_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    scratch_table(&store).await.unwrap();
    let mut handles = Vec::new();
    for n in 0..6_000i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .write(move |c| Ok(c.execute("INSERT INTO scratch (n) VALUES (?1)", [n])?))
                .await
        }));
    }
    tokio::task::yield_now().await;
    store.close().await;
    let mut acknowledged = 0i64;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => acknowledged += 1,
            Err(StoreError::Closed) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(
        acknowledged > 0,
        "writes queued before close were committed"
    );
    let late = store.write(|_| Ok(())).await;
    assert!(
        matches!(late, Err(StoreError::Closed)),
        "writes after close are refused, not lost silently"
    );
    drop(store);

    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(
        count(&reopened, "scratch").await,
        acknowledged,
        "exactly the acknowledged writes are on disk"
    );
    reopened.close().await;
}
