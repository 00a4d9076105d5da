//! The checks' SQL: definitions and current status, and storing a run
//! (here); results, uptime and incidents ([`history`]); maintenance windows,
//! heartbeat pings and retention ([`upkeep`]). Sealing and unsealing happen in
//! the caller; rows carry the bytes.

mod history;
mod upkeep;

pub use history::*;
pub use upkeep::*;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::model::{IncidentChange, Outcome, State, Tally, day_of, hour_of};
use crate::store::StoreError;

/// A check as stored, with its current status.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub spec: String,
    pub headers_sealed: Option<Vec<u8>>,
    pub origin: String,
    pub public: bool,
    pub paused: bool,
    pub ping_sealed: Option<Vec<u8>>,
    pub state: State,
    pub state_since_ms: i64,
    pub fails: u32,
    pub successes: u32,
    pub last_run_ms: Option<i64>,
    pub last_latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub cert_days: Option<i64>,
    pub last_ping_ms: Option<i64>,
    pub last_start_ms: Option<i64>,
    pub last_ping_kind: Option<String>,
    pub created_ms: i64,
}

impl CheckRow {
    /// The row of a check not stored (yet): for "test now" and tests.
    pub fn unsaved(check: &super::check::Check, now_ms: i64) -> CheckRow {
        CheckRow {
            id: 0,
            slug: check.slug.clone(),
            name: check.name.clone(),
            kind: check.probe.kind().to_string(),
            spec: String::new(),
            headers_sealed: None,
            origin: "ui".into(),
            public: check.public,
            paused: false,
            ping_sealed: None,
            state: State::Pending,
            state_since_ms: now_ms,
            fails: 0,
            successes: 0,
            last_run_ms: None,
            last_latency_ms: None,
            last_error: None,
            cert_days: None,
            last_ping_ms: None,
            last_start_ms: None,
            last_ping_kind: None,
            created_ms: now_ms,
        }
    }

    pub fn tally(&self) -> Tally {
        Tally {
            state: self.state,
            fails: self.fails,
            successes: self.successes,
        }
    }
}

const COLUMNS: &str = "id, slug, name, kind, spec, headers_sealed, origin, public, paused, ping_sealed, \
     state, state_since_ms, fails, successes, last_run_ms, last_latency_ms, last_error, cert_days, \
     last_ping_ms, last_start_ms, last_ping_kind, created_ms";

fn check_row(r: &Row<'_>) -> rusqlite::Result<CheckRow> {
    let state: String = r.get(10)?;
    Ok(CheckRow {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        spec: r.get(4)?,
        headers_sealed: r.get(5)?,
        origin: r.get(6)?,
        public: r.get(7)?,
        paused: r.get(8)?,
        ping_sealed: r.get(9)?,
        state: State::parse(&state).unwrap_or(State::Pending),
        state_since_ms: r.get(11)?,
        fails: r.get(12)?,
        successes: r.get(13)?,
        last_run_ms: r.get(14)?,
        last_latency_ms: r.get(15)?,
        last_error: r.get(16)?,
        cert_days: r.get(17)?,
        last_ping_ms: r.get(18)?,
        last_start_ms: r.get(19)?,
        last_ping_kind: r.get(20)?,
        created_ms: r.get(21)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<CheckRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM checks ORDER BY name, slug"))?;
    let rows = stmt.query_map([], check_row)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn by_slug(conn: &Connection, slug: &str) -> Result<Option<CheckRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM checks WHERE slug = ?1"))?;
    Ok(stmt.query_row([slug], check_row).optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<CheckRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM checks WHERE id = ?1"))?;
    Ok(stmt.query_row([id], check_row).optional()?)
}

pub fn by_ping_hash(conn: &Connection, hash: &str) -> Result<Option<CheckRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM checks WHERE ping_hash = ?1"
    ))?;
    Ok(stmt.query_row([hash], check_row).optional()?)
}

/// What is written when a check is created or its definition changes.
pub struct Written<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub spec: &'a str,
    pub headers_sealed: Option<&'a [u8]>,
    pub origin: &'a str,
    pub public: bool,
}

pub fn insert(
    conn: &Connection,
    w: &Written<'_>,
    ping: Option<(&str, &[u8])>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO checks (slug, name, kind, spec, headers_sealed, origin, public, ping_hash, \
         ping_sealed, state, state_since_ms, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?10, ?10)",
        params![
            w.slug,
            w.name,
            w.kind,
            w.spec,
            w.headers_sealed,
            w.origin,
            w.public,
            ping.map(|p| p.0),
            ping.map(|p| p.1),
            now_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Replaces a check's definition. A changed kind starts its status afresh.
pub fn update(
    conn: &Connection,
    id: i64,
    w: &Written<'_>,
    ping: Option<(&str, &[u8])>,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE checks SET name = ?2, spec = ?3, headers_sealed = ?4, origin = ?5, public = ?6, \
         updated_ms = ?7, \
         ping_hash = CASE WHEN ?8 IS NULL THEN ping_hash ELSE ?8 END, \
         ping_sealed = CASE WHEN ?9 IS NULL THEN ping_sealed ELSE ?9 END, \
         state = CASE WHEN kind = ?10 THEN state ELSE 'pending' END, \
         state_since_ms = CASE WHEN kind = ?10 THEN state_since_ms ELSE ?7 END, \
         fails = CASE WHEN kind = ?10 THEN fails ELSE 0 END, \
         successes = CASE WHEN kind = ?10 THEN successes ELSE 0 END, \
         kind = ?10 WHERE id = ?1",
        params![
            id,
            w.name,
            w.spec,
            w.headers_sealed,
            w.origin,
            w.public,
            now_ms,
            ping.map(|p| p.0),
            ping.map(|p| p.1),
            w.kind
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM checks WHERE id = ?1", [id])? > 0)
}

/// Pauses (closing any open incident) or resumes (as pending) a check.
pub fn set_paused(conn: &Connection, id: i64, paused: bool, now_ms: i64) -> Result<(), StoreError> {
    let state = if paused {
        State::Paused
    } else {
        State::Pending
    };
    conn.execute(
        "UPDATE checks SET paused = ?2, state = ?3, state_since_ms = ?4, fails = 0, successes = 0, \
         updated_ms = ?4 WHERE id = ?1",
        params![id, paused, state.as_str(), now_ms],
    )?;
    if paused {
        close_incident(conn, id, now_ms)?;
    }
    Ok(())
}

/// One run as stored: when, what it shows (its outcome, or `maintenance`),
/// and the state change it made.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub ts_ms: i64,
    pub shown: State,
    pub before: Tally,
    pub after: Tally,
    pub change: IncidentChange,
}

/// Stores one run: the result row, the day's counts, the check's status and
/// any incident change, together.
pub fn save_run(conn: &Connection, id: i64, run: Run, outcome: &Outcome) -> Result<(), StoreError> {
    let Run {
        ts_ms,
        shown,
        before,
        after,
        change,
    } = run;
    conn.prepare_cached(
        "INSERT INTO check_results (check_id, ts_ms, outcome, latency_ms, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        id,
        ts_ms,
        shown.as_str(),
        outcome.latency_ms,
        outcome.reason
    ])?;
    count(conn, "check_uptime_days", "day", id, day_of(ts_ms), shown)?;
    count(
        conn,
        "check_uptime_hours",
        "hour",
        id,
        hour_of(ts_ms),
        shown,
    )?;
    let since_changed = before.state != after.state;
    conn.prepare_cached(
        "UPDATE checks SET state = ?2, fails = ?3, successes = ?4, last_run_ms = ?5, \
         last_latency_ms = ?6, last_error = ?7, cert_days = COALESCE(?8, cert_days), \
         state_since_ms = CASE WHEN ?9 THEN ?5 ELSE state_since_ms END WHERE id = ?1",
    )?
    .execute(params![
        id,
        after.state.as_str(),
        after.fails,
        after.successes,
        ts_ms,
        outcome.latency_ms,
        outcome.reason,
        outcome.cert_days,
        since_changed
    ])?;
    let first_error = outcome.reason.clone().unwrap_or_default();
    match change {
        IncidentChange::None => {}
        IncidentChange::Open(severity) => {
            conn.prepare_cached(
                "INSERT INTO check_incidents (check_id, started_ms, severity, first_error) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![id, ts_ms, severity.as_str(), first_error])?;
        }
        IncidentChange::Worsen(severity) => {
            conn.prepare_cached(
                "UPDATE check_incidents SET severity = ?2 WHERE check_id = ?1 AND ended_ms IS NULL",
            )?
            .execute(params![id, severity.as_str()])?;
        }
        IncidentChange::Close => close_incident(conn, id, ts_ms)?,
    }
    Ok(())
}

/// Counts one run in its day's or hour's row.
fn count(
    conn: &Connection,
    table: &str,
    period: &str,
    id: i64,
    key: i64,
    shown: State,
) -> Result<(), StoreError> {
    let column = match shown {
        State::Up => "up",
        State::Degraded => "degraded",
        State::Down => "down",
        _ => "maintenance",
    };
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (check_id, {period}, {column}) VALUES (?1, ?2, 1) \
         ON CONFLICT (check_id, {period}) DO UPDATE SET {column} = {column} + 1"
    ))?
    .execute(params![id, key])?;
    Ok(())
}

fn close_incident(conn: &Connection, id: i64, ts_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE check_incidents SET ended_ms = ?2 WHERE check_id = ?1 AND ended_ms IS NULL",
    )?
    .execute(params![id, ts_ms])?;
    Ok(())
}
