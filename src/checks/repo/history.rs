//! Reading a check's history: results, uptime counts per check and per
//! day, incidents and their notes.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::super::model::{Counts, State, hour_of};
use crate::store::StoreError;

/// One stored run.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ResultRow {
    pub ts_ms: i64,
    pub outcome: State,
    pub latency_ms: Option<f64>,
    pub reason: Option<String>,
}

pub fn results(conn: &Connection, id: i64, limit: i64) -> Result<Vec<ResultRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts_ms, outcome, latency_ms, reason FROM check_results WHERE check_id = ?1 \
         ORDER BY ts_ms DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![id, limit], |r| {
            let outcome: String = r.get(1)?;
            Ok(ResultRow {
                ts_ms: r.get(0)?,
                outcome: State::parse(&outcome).unwrap_or(State::Pending),
                latency_ms: r.get(2)?,
                reason: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Runs by outcome per check, from the hour that holds `since_ms` on (from
/// the hourly counts: a 7-day figure for 500 checks reads 84,000 small rows,
/// not millions of results).
pub fn counts_since(conn: &Connection, since_ms: i64) -> Result<HashMap<i64, Counts>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT check_id, sum(up), sum(degraded), sum(down), sum(maintenance) \
         FROM check_uptime_hours WHERE hour >= ?1 GROUP BY check_id",
    )?;
    let rows = stmt.query_map([hour_of(since_ms)], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Counts {
                up: r.get(1)?,
                degraded: r.get(2)?,
                down: r.get(3)?,
                maintenance: r.get(4)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Per-day counts from `from_day` on, per check, oldest first.
pub fn days(
    conn: &Connection,
    from_day: i64,
) -> Result<HashMap<i64, Vec<(i64, Counts)>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT check_id, day, up, degraded, down, maintenance FROM check_uptime_days \
         WHERE day >= ?1 ORDER BY check_id, day",
    )?;
    let mut all: HashMap<i64, Vec<(i64, Counts)>> = HashMap::new();
    let rows = stmt.query_map([from_day], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            Counts {
                up: r.get(2)?,
                degraded: r.get(3)?,
                down: r.get(4)?,
                maintenance: r.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (id, day, counts) = row?;
        all.entry(id).or_default().push((day, counts));
    }
    Ok(all)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: i64,
    #[serde(skip)]
    pub check_id: i64,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub severity: State,
    pub first_error: String,
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Note {
    pub ts_ms: i64,
    pub author: String,
    pub body: String,
}

/// Incidents of one check (or of every check with `None`), newest first.
pub fn incidents(
    conn: &Connection,
    check: Option<i64>,
    since_ms: i64,
    limit: i64,
) -> Result<Vec<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, check_id, started_ms, ended_ms, severity, first_error FROM check_incidents \
         WHERE (?1 IS NULL OR check_id = ?1) AND (ended_ms IS NULL OR ended_ms >= ?2) \
         ORDER BY started_ms DESC LIMIT ?3",
    )?;
    let mut list: Vec<Incident> = stmt
        .query_map(params![check, since_ms, limit], |r| {
            let severity: String = r.get(4)?;
            Ok(Incident {
                id: r.get(0)?,
                check_id: r.get(1)?,
                started_ms: r.get(2)?,
                ended_ms: r.get(3)?,
                severity: State::parse(&severity).unwrap_or(State::Down),
                first_error: r.get(5)?,
                notes: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut notes = conn.prepare_cached(
        "SELECT ts_ms, author, body FROM check_incident_notes WHERE incident_id = ?1 ORDER BY ts_ms",
    )?;
    for incident in &mut list {
        incident.notes = notes
            .query_map([incident.id], |r| {
                Ok(Note {
                    ts_ms: r.get(0)?,
                    author: r.get(1)?,
                    body: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(list)
}

/// The check an incident belongs to.
pub fn incident_check(conn: &Connection, incident: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT check_id FROM check_incidents WHERE id = ?1",
            [incident],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn add_note(
    conn: &Connection,
    incident: i64,
    ts_ms: i64,
    author: &str,
    body: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO check_incident_notes (incident_id, ts_ms, author, body) VALUES (?1, ?2, ?3, ?4)",
        params![incident, ts_ms, author, body],
    )?;
    Ok(())
}
