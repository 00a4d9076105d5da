//! Backups while serving: the copy passes `integrity_check` and holds the same rows.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_backup_taken_while_serving_is_complete_and_consistent() {
    let app = spawn_app().await;
    app.store
        .write(|c| {
            c.execute_batch("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
            for i in 0..2000 {
                c.execute(
                    "INSERT INTO scratch (body) VALUES (?1)",
                    [format!("row {i} {}", "x".repeat(200))],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(app.get("/health").await.status(), 200);

    let dest = app.dir.path().join("copy.db");
    let (src, dst) = (app.db_path(), dest.clone());
    tokio::task::spawn_blocking(move || watchpost::store::backup(&src, &dst, |_| {}))
        .await
        .unwrap()
        .unwrap();

    let copy = rusqlite::Connection::open(&dest).unwrap();
    let verdict: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
    let rows: i64 = copy
        .query_row("SELECT count(*) FROM scratch", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2000);
    let original: String = app
        .store
        .read(|c| Ok(c.query_row("SELECT install_id FROM instance", [], |r| r.get(0))?))
        .await
        .unwrap();
    let copied: String = copy
        .query_row("SELECT install_id FROM instance", [], |r| r.get(0))
        .unwrap();
    assert_eq!(original, copied);
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o077,
        0,
        "the copy is private"
    );

    let again = watchpost::store::backup(&app.db_path(), &dest, |_| {});
    assert!(
        again.unwrap_err().to_string().contains("already exists"),
        "never overwrites"
    );
    app.stop().await;
}
