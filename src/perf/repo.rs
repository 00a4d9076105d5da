//! The request-statistics SQL: minute and hour cells (a flush merges into
//! both, so there is no separate rollup), baselines, regressions, deploy
//! markers and the slowest requests.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::histogram::Histogram;
use super::model::{Baseline, Cell, Row};
use crate::store::StoreError;

/// Where cells are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Minutes,
    Hours,
}

impl Tier {
    fn table(self) -> &'static str {
        match self {
            Tier::Minutes => "perf_minutes",
            Tier::Hours => "perf_hours",
        }
    }

    pub fn step(self) -> i64 {
        match self {
            Tier::Minutes => 60,
            Tier::Hours => 3_600,
        }
    }
}

fn merge_into(conn: &Connection, tier: Tier, row: &Row) -> Result<(), StoreError> {
    let table = tier.table();
    let ts = row.ts - row.ts.rem_euclid(tier.step());
    let key = params![row.source, ts, row.route, row.method, row.class];
    let existing: Option<(i64, i64, i64, Vec<u8>, String)> = conn
        .query_row(
            &format!(
                "SELECT count, sum_us, max_us, hist, codes FROM {table}
                 WHERE source = ?1 AND ts = ?2 AND route = ?3 AND method = ?4 AND class = ?5"
            ),
            key,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let mut cell = row.cell.clone();
    if let Some(stored) = existing {
        cell.merge(&cell_of(stored));
    }
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO {table} (source, ts, route, method, class, count, sum_us, max_us, hist, codes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            row.source,
            ts,
            row.route,
            row.method,
            row.class,
            to_i64(cell.count),
            to_i64(cell.sum_us),
            to_i64(cell.max_us),
            cell.hist.encode(),
            cell.codes_text()
        ],
    )?;
    Ok(())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn cell_of((count, sum_us, max_us, hist, codes): (i64, i64, i64, Vec<u8>, String)) -> Cell {
    let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    Cell {
        count: to_u64(count),
        sum_us: to_u64(sum_us),
        max_us: to_u64(max_us),
        // A damaged blob loses its latencies, not the row's counts.
        hist: Histogram::decode(&hist).unwrap_or_default(),
        codes: Cell::parse_codes(&codes),
    }
}

/// Adds finished minutes to the minute and the hour tiers.
pub fn write_cells(conn: &Connection, rows: &[Row]) -> Result<(), StoreError> {
    for row in rows {
        merge_into(conn, Tier::Minutes, row)?;
        merge_into(conn, Tier::Hours, row)?;
    }
    Ok(())
}

/// Cells of a source with `from ≤ ts < to` (unix seconds), optionally of one
/// route and method.
pub fn cells(
    conn: &Connection,
    tier: Tier,
    source: &str,
    from: i64,
    to: i64,
    route: Option<(&str, &str)>,
) -> Result<Vec<Row>, StoreError> {
    let table = tier.table();
    let (r, m) = route.unwrap_or(("", ""));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT route, method, class, ts, count, sum_us, max_us, hist, codes FROM {table}
         WHERE source = ?1 AND ts >= ?2 AND ts < ?3 AND (?4 = '' OR (route = ?4 AND method = ?5))
         ORDER BY ts"
    ))?;
    let rows = stmt
        .query_map(params![source, from, to, r, m], |row| {
            Ok(Row {
                source: source.to_owned(),
                route: row.get(0)?,
                method: row.get(1)?,
                class: row.get(2)?,
                ts: row.get(3)?,
                cell: cell_of((
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                )),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every source that has hour cells since `from`.
pub fn sources(conn: &Connection, from: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT source FROM perf_hours WHERE ts >= ?1 ORDER BY source")?;
    let rows = stmt
        .query_map([from], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Routes a source has had since `from` (to keep the route cap across restarts).
pub fn known_routes(conn: &Connection, source: &str, from: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT route FROM perf_hours WHERE source = ?1 AND ts >= ?2")?;
    let rows = stmt
        .query_map(params![source, from], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Replaces a source's baselines.
pub fn save_baselines(
    conn: &Connection,
    source: &str,
    baselines: &[(String, String, Baseline)],
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM perf_baselines WHERE source = ?1", [source])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO perf_baselines (source, route, method, p50_ms, p95_ms, error_rate, requests, computed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (route, method, b) in baselines {
        stmt.execute(params![
            source,
            route,
            method,
            b.p50_ms,
            b.p95_ms,
            b.error_rate,
            to_i64(b.requests),
            now_ms
        ])?;
    }
    Ok(())
}

pub fn baselines(
    conn: &Connection,
    source: &str,
) -> Result<Vec<(String, String, Baseline)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT route, method, p50_ms, p95_ms, error_rate, requests FROM perf_baselines WHERE source = ?1",
    )?;
    let rows = stmt
        .query_map([source], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                Baseline {
                    p50_ms: r.get(2)?,
                    p95_ms: r.get(3)?,
                    error_rate: r.get(4)?,
                    requests: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A regression, open or closed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RegressionRow {
    pub id: i64,
    pub source: String,
    pub route: String,
    pub method: String,
    pub kind: String,
    pub detail: String,
    pub started_ms: i64,
    pub cleared_ms: Option<i64>,
}

pub fn open_regression(conn: &Connection, r: &RegressionRow) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO perf_regressions (source, route, method, kind, detail, started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![r.source, r.route, r.method, r.kind, r.detail, r.started_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn clear_regression(
    conn: &Connection,
    source: &str,
    route: &str,
    method: &str,
    cleared_ms: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE perf_regressions SET cleared_ms = ?4
         WHERE source = ?1 AND route = ?2 AND method = ?3 AND cleared_ms IS NULL",
        params![source, route, method, cleared_ms],
    )?)
}

/// Newest first; `open_only` for the ones in force.
pub fn regressions(
    conn: &Connection,
    open_only: bool,
    limit: i64,
) -> Result<Vec<RegressionRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, source, route, method, kind, detail, started_ms, cleared_ms FROM perf_regressions
         WHERE (?1 = 0 OR cleared_ms IS NULL) ORDER BY started_ms DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![open_only, limit], |r| {
            Ok(RegressionRow {
                id: r.get(0)?,
                source: r.get(1)?,
                route: r.get(2)?,
                method: r.get(3)?,
                kind: r.get(4)?,
                detail: r.get(5)?,
                started_ms: r.get(6)?,
                cleared_ms: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A deploy marker.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deploy {
    pub id: i64,
    pub ts_ms: i64,
    pub version: String,
    /// The perf source it concerns (`self`, `nginx:shop`), or `""` for all.
    pub source: String,
    pub notes: String,
    /// `api`, or `hook:<name>`.
    pub origin: String,
}

pub fn insert_deploy(conn: &Connection, d: &Deploy) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO deploys (ts_ms, version, source, notes, origin) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![d.ts_ms, d.version, d.source, d.notes, d.origin],
    )?;
    Ok(conn.last_insert_rowid())
}

fn deploy_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deploy> {
    Ok(Deploy {
        id: r.get(0)?,
        ts_ms: r.get(1)?,
        version: r.get(2)?,
        source: r.get(3)?,
        notes: r.get(4)?,
        origin: r.get(5)?,
    })
}

/// Deploys with `from_ms ≤ ts_ms < to_ms`, newest first.
pub fn deploys(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> Result<Vec<Deploy>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ts_ms, version, source, notes, origin FROM deploys
         WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC, id DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![from_ms, to_ms, limit], deploy_of)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn deploy(conn: &Connection, id: i64) -> Result<Option<Deploy>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, ts_ms, version, source, notes, origin FROM deploys WHERE id = ?1",
            [id],
            deploy_of,
        )
        .optional()?)
}

/// A request slower than the threshold.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Slow {
    pub source: String,
    pub ts_ms: i64,
    pub route: String,
    pub method: String,
    pub status: u16,
    pub duration_ms: f64,
    pub request_id: Option<String>,
    /// The path and query, secret query values redacted, capped.
    pub path: String,
}

/// Keeps the newest `keep` per source.
pub fn save_slow(conn: &Connection, slow: &[Slow], keep: i64) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO perf_slow (source, ts_ms, route, method, status, duration_us, request_id, path)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for s in slow {
        stmt.execute(params![
            s.source,
            s.ts_ms,
            s.route,
            s.method,
            s.status,
            (s.duration_ms * 1000.0).round() as i64,
            s.request_id,
            s.path
        ])?;
    }
    let mut sources: Vec<&str> = slow.iter().map(|s| s.source.as_str()).collect();
    sources.dedup();
    for source in sources {
        conn.execute(
            "DELETE FROM perf_slow WHERE source = ?1 AND id NOT IN
             (SELECT id FROM perf_slow WHERE source = ?1 ORDER BY ts_ms DESC, id DESC LIMIT ?2)",
            params![source, keep],
        )?;
    }
    Ok(())
}

/// Newest first.
pub fn slow(conn: &Connection, source: &str, limit: i64) -> Result<Vec<Slow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, ts_ms, route, method, status, duration_us, request_id, path FROM perf_slow
         WHERE source = ?1 ORDER BY ts_ms DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![source, limit], |r| {
            Ok(Slow {
                source: r.get(0)?,
                ts_ms: r.get(1)?,
                route: r.get(2)?,
                method: r.get(3)?,
                status: r.get(4)?,
                duration_ms: r.get::<_, i64>(5)? as f64 / 1000.0,
                request_id: r.get(6)?,
                path: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Retention for one tier: at most `limit` cells older than `before_ms`.
pub fn prune(
    conn: &Connection,
    tier: Tier,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    let table = tier.table();
    Ok(conn.execute(
        &format!(
            "DELETE FROM {table} WHERE (source, ts, route, method, class) IN
             (SELECT source, ts, route, method, class FROM {table} WHERE ts < ?1 LIMIT ?2)"
        ),
        params![before_ms.div_euclid(1000), limit],
    )?)
}

/// Retention: at most `limit` deploy markers older than `before_ms`.
pub fn prune_deploys(conn: &Connection, before_ms: i64, limit: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM deploys WHERE id IN (SELECT id FROM deploys WHERE ts_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}

/// Retention: at most `limit` cleared regressions that started before `before_ms`.
pub fn prune_regressions(
    conn: &Connection,
    before_ms: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM perf_regressions WHERE id IN
         (SELECT id FROM perf_regressions WHERE cleared_ms IS NOT NULL AND started_ms < ?1 LIMIT ?2)",
        params![before_ms, limit],
    )?)
}
