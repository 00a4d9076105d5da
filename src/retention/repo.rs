//! Retention's own SQL: the record of runs (`retention_runs`) and the
//! figures of each policy's tables. Table names and oldest-record
//! expressions come from the policy list in code, never from input.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Policy, Table, What};
use crate::store::StoreError;

/// How much a data type holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Rows (files, for log files).
    pub rows: i64,
    /// Bytes on disk: pages counted by SQLite's `dbstat` (tables and their
    /// indexes) when `bytes_exact`, else the sum of the values' lengths.
    pub bytes: i64,
    pub bytes_exact: bool,
    /// The oldest record's time, Unix ms.
    pub oldest_ms: Option<i64>,
}

/// One data type as the page and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Row {
    pub data: &'static str,
    /// The tables it covers (the log directory for log files).
    pub tables: Vec<String>,
    /// The configuration key of its keep duration (empty when none).
    pub key: &'static str,
    /// How long records are kept, e.g. `30days`; `null` when never pruned.
    pub keep: Option<String>,
    pub keep_secs: Option<u64>,
    /// Why it is never pruned, when it is not.
    pub kept_because: Option<&'static str>,
    pub figures: Figures,
    pub last_run_ms: Option<i64>,
    pub last_removed: Option<i64>,
}

/// Records that a run removed `removed` of `data` at `now_ms`.
pub fn record_run(
    conn: &Connection,
    data: &str,
    now_ms: i64,
    removed: usize,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO retention_runs (data, last_run_ms, removed) VALUES (?1, ?2, ?3) \
         ON CONFLICT (data) DO UPDATE SET last_run_ms = excluded.last_run_ms, removed = excluded.removed",
    )?
    .execute(params![data, now_ms, i64::try_from(removed).unwrap_or(i64::MAX)])?;
    Ok(())
}

fn runs(conn: &Connection) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT data, last_run_ms, removed FROM retention_runs")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether this SQLite has the `dbstat` table (it does when built with
/// `SQLITE_ENABLE_DBSTAT_VTAB`, as rusqlite's bundled build is).
fn has_dbstat(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT count(*) FROM dbstat WHERE name = 'sqlite_schema'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .is_ok()
}

fn table_figures(
    conn: &Connection,
    (table, oldest): Table,
    dbstat: bool,
) -> Result<Figures, StoreError> {
    let (rows, oldest_ms): (i64, Option<i64>) = conn.query_row(
        &format!("SELECT count(*), {oldest} FROM \"{table}\""),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let bytes = if dbstat {
        conn.query_row(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat \
             WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = ?1)",
            [table],
            |r| r.get(0),
        )?
    } else {
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")?
            .query_map([table], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let lengths: Vec<String> = columns
            .iter()
            .map(|c| format!("coalesce(length(\"{c}\"), 0)"))
            .collect();
        conn.query_row(
            &format!(
                "SELECT coalesce(sum({}), 0) FROM \"{table}\"",
                if lengths.is_empty() {
                    "0".to_string()
                } else {
                    lengths.join(" + ")
                }
            ),
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0)
    };
    Ok(Figures {
        rows,
        bytes,
        bytes_exact: dbstat,
        oldest_ms,
    })
}

/// Every policy's figures (log files are filled in by the caller) and last run.
pub fn overview(conn: &Connection, policies: &[Policy]) -> Result<Vec<Row>, StoreError> {
    let dbstat = has_dbstat(conn);
    let runs = runs(conn)?;
    let mut out = Vec::with_capacity(policies.len());
    for policy in policies {
        let (tables, kept_because): (&[Table], _) = match &policy.what {
            What::Rows { tables, .. } => (tables, None),
            What::Kept { tables, why } => (tables, Some(*why)),
            What::Files { .. } => (&[], None),
        };
        let mut figures = Figures {
            bytes_exact: dbstat,
            ..Figures::default()
        };
        for &table in tables {
            let f = table_figures(conn, table, dbstat)?;
            figures.rows += f.rows;
            figures.bytes += f.bytes;
            figures.oldest_ms = match (figures.oldest_ms, f.oldest_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let names = match &policy.what {
            What::Files { dir, stem } => vec![format!("{}/{stem}.N.gz", dir.display())],
            _ => tables.iter().map(|(t, _)| (*t).to_string()).collect(),
        };
        let run = runs.get(policy.data);
        let kept = kept_because.is_some();
        out.push(Row {
            data: policy.data,
            tables: names,
            key: policy.key,
            keep: (!kept).then(|| {
                if policy.keep.is_zero() {
                    "per project (its quotas and retention)".to_string()
                } else {
                    humantime::format_duration(policy.keep).to_string()
                }
            }),
            keep_secs: (!kept).then_some(policy.keep.as_secs()),
            kept_because,
            figures,
            last_run_ms: run.map(|r| r.0),
            last_removed: run.map(|r| r.1),
        });
    }
    Ok(out)
}
