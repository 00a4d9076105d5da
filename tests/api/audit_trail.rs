//! The audit trail through the library and the CLI: the chain verifies, any
//! change to a row is found and named, the triggers refuse deletes and
//! rewrites, erasure leaves nothing readable and the chain intact, and the CSV
//! export round-trips awkward values.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use watchpost::audit_trail::{
    Actor, CSV_HEADER, Entry, KEY_FILE, Outcome, Problem, Trail, Verdict, mask_email, write_csv,
};
use watchpost::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

fn ann() -> Actor {
    Actor::User {
        id: 1,
        email: "ann@example.com".into(),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `n` entries alternating between Ann logging in and the system.
fn entries(n: usize) -> Vec<Entry> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                Entry::new(ann(), "login.success", Outcome::Success)
                    .ip(ip("192.0.2.10"))
                    .user_agent("Mozilla/5.0 (X11)")
                    .request_id(format!("req-{i}"))
                    .detail("method", "password")
            } else {
                Entry::new(Actor::System, "session.revoked", Outcome::Success)
                    .target(format!("session:{i}"))
            }
        })
        .collect()
}

async fn append_all(store: &Store, trail: &Trail, entries: Vec<Entry>) -> Vec<i64> {
    let trail = trail.clone();
    store
        .write(move |conn| {
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| trail.append(conn, 1_767_225_600_000 + i as i64, e))
                .collect()
        })
        .await
        .unwrap()
}

async fn verify(store: &Store, trail: &Trail) -> Verdict {
    let trail = trail.clone();
    store.read(move |conn| trail.verify(conn)).await.unwrap()
}

/// A store and trail key in `dir`.
fn open(dir: &Path) -> (Store, Trail) {
    let store = Store::open(dir).unwrap();
    let trail = Trail::load_or_create(dir).unwrap();
    (store, trail)
}

/// A raw connection with the append-only triggers dropped, as an attacker
/// with the database file would have.
fn tamperer(store: &Store) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_trail_only_erasure; DROP TRIGGER audit_trail_no_delete;",
    )
    .unwrap();
    conn
}

#[tokio::test]
async fn a_chain_of_appends_verifies_and_the_key_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    assert_eq!(
        verify(&store, &trail).await,
        Verdict::Intact {
            rows: 0,
            head: None
        }
    );
    let ids = append_all(&store, &trail, entries(25)).await;
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    // A second batch continues the same chain.
    append_all(&store, &trail, entries(5)).await;
    match verify(&store, &trail).await {
        Verdict::Intact { rows, head } => {
            assert_eq!(rows, 30);
            assert_eq!(head.unwrap().len(), 64);
        }
        broken => panic!("{broken:?}"),
    }
    let key = dir.path().join(KEY_FILE);
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let again = Trail::load_or_create(dir.path()).unwrap();
    assert_eq!(
        std::fs::read(&key).unwrap().len(),
        32,
        "loading again keeps the key"
    );
    assert!(matches!(
        verify(&store, &again).await,
        Verdict::Intact { rows: 30, .. }
    ));
    store.close().await;
}

#[tokio::test]
async fn changing_a_rows_action_is_detected_and_names_that_row() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    append_all(&store, &trail, entries(6)).await;
    let raw = tamperer(&store);
    raw.execute(
        "UPDATE audit_trail SET action = 'login.failure' WHERE id = 3",
        [],
    )
    .unwrap();
    assert_eq!(
        verify(&store, &trail).await,
        Verdict::Broken {
            id: 3,
            problem: Problem::Altered
        }
    );
    store.close().await;
}

/// The canonical form as the module doc describes it, reimplemented here as
/// an auditor would, and its SHA-256.
fn auditor_hash(conn: &rusqlite::Connection, id: i64) -> String {
    let form: String = conn
        .query_row(
            "SELECT id, ts_ms, actor_kind, actor_id, action, target, outcome, request_id, \
             details, pii_digest, prev_hash FROM audit_trail WHERE id = ?1",
            [id],
            |r| {
                Ok(json!([
                    "watchpost.audit.v1",
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                ])
                .to_string())
            },
        )
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, form.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_documented_canonical_form_reproduces_every_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    append_all(&store, &trail, entries(4)).await;
    let raw = rusqlite::Connection::open(store.path()).unwrap();
    for id in 1..=4 {
        let stored: String = raw
            .query_row("SELECT hash FROM audit_trail WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(auditor_hash(&raw, id), stored, "row {id}");
    }
    store.close().await;
}

#[tokio::test]
async fn a_changed_row_with_a_recomputed_hash_breaks_the_link_of_the_next_row() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    append_all(&store, &trail, entries(4)).await;
    let raw = tamperer(&store);
    raw.execute(
        "UPDATE audit_trail SET outcome = 'failure' WHERE id = 2",
        [],
    )
    .unwrap();
    let forged = auditor_hash(&raw, 2);
    raw.execute("UPDATE audit_trail SET hash = ?1 WHERE id = 2", [&forged])
        .unwrap();
    assert_eq!(
        verify(&store, &trail).await,
        Verdict::Broken {
            id: 3,
            problem: Problem::Unlinked
        }
    );
    store.close().await;
}

#[tokio::test]
async fn changed_personal_data_and_deleted_rows_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    append_all(&store, &trail, entries(6)).await;
    let raw = tamperer(&store);
    raw.execute(
        "UPDATE audit_trail SET ip = '203.0.113.66' WHERE id = 5",
        [],
    )
    .unwrap();
    assert_eq!(
        verify(&store, &trail).await,
        Verdict::Broken {
            id: 5,
            problem: Problem::PersonalAltered
        }
    );
    raw.execute("DELETE FROM audit_trail WHERE id = 2", [])
        .unwrap();
    assert_eq!(
        verify(&store, &trail).await,
        Verdict::Broken {
            id: 3,
            problem: Problem::Missing { expected: 2 }
        }
    );
    store.close().await;
}

#[tokio::test]
async fn the_triggers_refuse_deletes_rewrites_and_forged_links() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    append_all(&store, &trail, entries(3)).await;
    let raw = rusqlite::Connection::open(store.path()).unwrap();
    for sql in [
        "DELETE FROM audit_trail WHERE id = 1",
        "DELETE FROM audit_trail",
        "UPDATE audit_trail SET action = 'x.y' WHERE id = 2",
        "UPDATE audit_trail SET ts_ms = 0 WHERE id = 2",
        "UPDATE audit_trail SET details = '{}' WHERE id = 1",
        "UPDATE audit_trail SET ip = '203.0.113.1' WHERE id = 1",
        "UPDATE audit_trail SET actor_email = NULL WHERE id = 1",
        "INSERT INTO audit_trail (id, ts_ms, actor_kind, action, outcome, details, pii_digest, prev_hash, hash) \
         VALUES (9, 0, 'system', 'x.y', 'success', '{}', '', 'p', 'h')",
        "INSERT INTO audit_trail (id, ts_ms, actor_kind, action, outcome, details, pii_digest, prev_hash, hash) \
         VALUES (4, 0, 'system', 'x.y', 'success', '{}', '', 'not-the-last-hash', 'h')",
    ] {
        let err = raw.execute(sql, []).expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let count: i64 = raw
        .query_row("SELECT count(*) FROM audit_trail", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 3);
    // Erasure, and only erasure, may update a row.
    raw.execute(
        "UPDATE audit_trail SET actor_email = NULL, ip = NULL, user_agent = NULL, \
         pii_details = NULL, erased_ms = 1 WHERE id = 1",
        [],
    )
    .unwrap();
    assert!(matches!(
        verify(&store, &trail).await,
        Verdict::Intact { rows: 3, .. }
    ));
    store.close().await;
}

/// id, actor_email, ip, pii_details, erased_ms, action.
type StoredRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
);

#[tokio::test]
async fn erasure_blanks_personal_data_leaves_nothing_readable_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    let bob = Actor::User {
        id: 2,
        email: "bob@example.com".into(),
    };
    let mut batch = entries(4);
    batch.push(
        Entry::new(bob.clone(), "user.created", Outcome::Success)
            .target("user:1")
            .ip(ip("198.51.100.7"))
            .pii_detail("email", "ANN@example.com")
            .pii_detail("display_name", "Ann Example"),
    );
    batch.push(
        Entry::new(bob, "login.success", Outcome::Success)
            .ip(ip("198.51.100.7"))
            .user_agent("BobBrowser/1"),
    );
    append_all(&store, &trail, batch).await;

    let eraser = trail.clone();
    let erased = store
        .write(move |conn| eraser.erase(conn, 1_767_300_000_000, "Ann@Example.com", Actor::Cli))
        .await
        .unwrap();
    assert_eq!(erased, 3, "two of Ann's logins and the row that names her");
    assert!(matches!(
        verify(&store, &trail).await,
        Verdict::Intact { rows: 7, .. }
    ));

    let rows: Vec<StoredRow> = store
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, actor_email, ip, pii_details, erased_ms, action FROM audit_trail ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    for (id, email, ip, pii, erased_ms, _) in &rows[..5] {
        if [1, 3, 5].contains(id) {
            assert_eq!((email, ip, pii), (&None, &None, &None), "row {id}");
            assert_eq!(*erased_ms, Some(1_767_300_000_000));
        } else {
            assert_eq!(*erased_ms, None, "row {id} is not about Ann");
        }
    }
    assert_eq!(
        rows[5].1.as_deref(),
        Some("bob@example.com"),
        "Bob keeps his"
    );
    let (_, _, _, _, _, action) = &rows[6];
    assert_eq!(action, "trail.erased");

    assert!(watchpost::audit_trail::purge_log(store.path()).unwrap());
    store.close().await;
    drop(store);
    let mut bytes = std::fs::read(dir.path().join(watchpost::store::DB_FILE)).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("watchpost.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    assert!(
        !text.contains("ann@example.com"),
        "no copy of the address is left"
    );
    assert!(!text.contains("ann example"));
    assert!(text.contains("bob@example.com"));
}

#[tokio::test]
async fn details_are_redacted_before_they_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    let entry = Entry::new(Actor::Anonymous, "login.failure", Outcome::Failure)
        .detail("password", "hunter2-secret-value")
        .detail("headers", json!({"Authorization": "Bearer wp_abc"}))
        .pii_detail("email", mask_email("john@example.com"));
    append_all(&store, &trail, vec![entry]).await;
    let (details, pii): (String, String) = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT details, pii_details FROM audit_trail WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .unwrap();
    assert!(
        !details.contains("hunter2") && !details.contains("wp_abc"),
        "{details}"
    );
    assert!(details.contains("[redacted]"));
    assert_eq!(pii, r#"{"email":"jo***@example.com"}"#);
    store.close().await;
}

#[tokio::test]
async fn the_csv_export_has_a_header_one_record_per_row_and_round_trips_awkward_text() {
    let dir = tempfile::tempdir().unwrap();
    let (store, trail) = open(dir.path());
    let awkward = "a, \"quoted\" value\nover two lines";
    let mut batch = entries(3);
    batch.push(
        Entry::new(Actor::Cli, "user.role_changed", Outcome::Success)
            .target(awkward)
            .user_agent("=cmd|' /C calc'!A0"),
    );
    append_all(&store, &trail, batch).await;
    let csv_bytes = store
        .read(|conn| {
            let mut out = Vec::new();
            let rows = write_csv(conn, &mut out)?;
            assert_eq!(rows, 4);
            Ok(out)
        })
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, CSV_HEADER);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4);
    let col = |name: &str| CSV_HEADER.iter().position(|h| *h == name).unwrap();
    assert_eq!(&records[3][col("target")], awkward);
    assert_eq!(
        &records[3][col("user_agent")],
        "'=cmd|' /C calc'!A0",
        "formula-like text is neutralised"
    );
    assert_eq!(&records[0][col("actor_email")], "ann@example.com");
    assert_eq!(&records[0][col("time_utc")], "2026-01-01T00:00:00.000Z");
    assert_eq!(&records[1][col("prev_hash")], &records[0][col("hash")]);
    store.close().await;
}

fn watchpost(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("WATCHPOST_CONFIG")
        .env("WATCHPOST_SERVER__BIND", "127.0.0.1:0")
        .env("WATCHPOST_LOGGING__STDOUT", "false")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A data directory (`dir/data`, the default when run in `dir`) with `n` rows.
async fn data_with_rows(dir: &Path, n: usize) {
    let (store, trail) = open(&dir.join("data"));
    append_all(&store, &trail, entries(n)).await;
    store.close().await;
}

#[tokio::test]
async fn trail_verify_exits_0_when_intact_and_1_naming_the_broken_row() {
    let dir = tempfile::tempdir().unwrap();
    let missing = watchpost(dir.path(), &["trail", "verify"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("trail.key is missing"),
        "{}",
        stderr(&missing)
    );

    data_with_rows(dir.path(), 5).await;
    let ok = watchpost(dir.path(), &["trail", "verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(
        stdout(&ok).starts_with("audit trail intact: 5 rows\n"),
        "{}",
        stdout(&ok)
    );

    let raw = rusqlite::Connection::open(dir.path().join("data").join("watchpost.db")).unwrap();
    raw.execute_batch(
        "DROP TRIGGER audit_trail_only_erasure; \
         UPDATE audit_trail SET target = 'user:99' WHERE id = 4;",
    )
    .unwrap();
    drop(raw);
    let broken = watchpost(dir.path(), &["trail", "verify"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stdout(&broken).contains("audit trail broken at row 4"),
        "{}",
        stdout(&broken)
    );
}

#[tokio::test]
async fn trail_export_writes_a_private_csv_file_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    data_with_rows(dir.path(), 3).await;
    let file = dir.path().join("trail.csv");
    let args = [
        "trail",
        "export",
        "--csv",
        "--output",
        file.to_str().unwrap(),
    ];
    let out = watchpost(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 4, "header and three rows: {text}");
    assert!(text.starts_with("id,time_utc,ts_ms,"));
    let again = watchpost(dir.path(), &args);
    assert_eq!(again.status.code(), Some(1), "an existing file is kept");

    let to_stdout = watchpost(dir.path(), &["trail", "export", "--csv"]);
    assert_eq!(to_stdout.status.code(), Some(0));
    assert_eq!(stdout(&to_stdout), text);
}

#[tokio::test]
async fn trail_erase_blanks_an_address_records_itself_and_verify_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    data_with_rows(dir.path(), 4).await;
    let out = watchpost(dir.path(), &["trail", "erase", "ann@example.com"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("erased the personal data of 2 rows"),
        "{}",
        stdout(&out)
    );
    let verified = watchpost(dir.path(), &["trail", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert!(stdout(&verified).starts_with("audit trail intact: 5 rows"));
    let export = watchpost(dir.path(), &["trail", "export", "--csv"]);
    let text = stdout(&export);
    assert!(!text.contains("ann@example.com"), "{text}");
    assert!(text.contains("trail.erased"));
    let data = dir.path().join("data");
    let mut bytes = std::fs::read(data.join("watchpost.db")).unwrap();
    bytes.extend(std::fs::read(data.join("watchpost.db-wal")).unwrap_or_default());
    assert!(
        !String::from_utf8_lossy(&bytes).contains("ann@example.com"),
        "nothing readable is left on disk"
    );
}
