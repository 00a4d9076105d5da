//! The SQL behind the issue pages and API: the filtered, sorted issue
//! list, one issue with its tag values, its events one at a time (with
//! their neighbours), and status changes.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Issue {
    pub id: i64,
    pub project_id: i64,
    pub project: String,
    pub title: String,
    pub culprit: Option<String>,
    pub level: String,
    /// `unresolved`, `resolved` or `ignored`.
    pub status: String,
    /// Reopened by an event after it was resolved.
    pub regressed: bool,
    pub events: i64,
    pub users: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Resolved "in next release": the release whose events do not reopen it.
    pub resolved_release: Option<String>,
    pub ignore_until_ms: Option<i64>,
    pub ignore_until_events: Option<i64>,
    pub grouping_version: String,
}

const COLUMNS: &str = "i.id, i.project_id, p.slug, i.title, i.culprit, i.level, i.status,
    i.regressed, i.event_count, i.user_count, i.first_seen_ms, i.last_seen_ms, i.last_release,
    i.last_environment, i.resolved_release, i.ignore_until_ms, i.ignore_until_count,
    i.grouping_version";

fn issue(r: &Row<'_>) -> rusqlite::Result<Issue> {
    Ok(Issue {
        id: r.get(0)?,
        project_id: r.get(1)?,
        project: r.get(2)?,
        title: r.get(3)?,
        culprit: r.get(4)?,
        level: r.get(5)?,
        status: r.get(6)?,
        regressed: r.get(7)?,
        events: r.get(8)?,
        users: r.get(9)?,
        first_seen_ms: r.get(10)?,
        last_seen_ms: r.get(11)?,
        release: r.get(12)?,
        environment: r.get(13)?,
        resolved_release: r.get(14)?,
        ignore_until_ms: r.get(15)?,
        ignore_until_events: r.get(16)?,
        grouping_version: r.get(17)?,
    })
}

/// What the list is narrowed to; empty strings mean any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub project: String,
    /// `unresolved` (the default), `resolved`, `ignored` or `all`.
    pub status: String,
    pub level: String,
    pub environment: String,
    pub release: String,
    /// Words in the title or culprit.
    pub query: String,
    /// `last_seen` (default), `first_seen`, `events` or `users`.
    pub sort: String,
    pub limit: i64,
    pub offset: i64,
}

pub fn list(conn: &Connection, f: &Filter) -> Result<(Vec<Issue>, i64), StoreError> {
    let order = match f.sort.as_str() {
        "first_seen" => "i.first_seen_ms DESC",
        "events" => "i.event_count DESC",
        "users" => "i.user_count DESC",
        _ => "i.last_seen_ms DESC",
    };
    let status = if f.status.is_empty() {
        "unresolved"
    } else {
        f.status.as_str()
    };
    let query = format!(
        "%{}%",
        f.query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let conditions = "FROM error_issues i JOIN error_projects p ON p.id = i.project_id
        WHERE (?1 = '' OR p.slug = ?1) AND (?2 = 'all' OR i.status = ?2)
          AND (?3 = '' OR i.level = ?3) AND (?4 = '' OR i.last_environment = ?4)
          AND (?5 = '' OR i.last_release = ?5)
          AND (?6 = '%%' OR i.title LIKE ?6 ESCAPE '\\' OR coalesce(i.culprit, '') LIKE ?6 ESCAPE '\\')";
    let args = params![f.project, status, f.level, f.environment, f.release, query];
    let total: i64 =
        conn.query_row(&format!("SELECT count(*) {conditions}"), args, |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} {conditions} ORDER BY {order}, i.id DESC LIMIT ?7 OFFSET ?8"
    ))?;
    let rows = stmt.query_map(
        params![
            f.project,
            status,
            f.level,
            f.environment,
            f.release,
            query,
            f.limit,
            f.offset
        ],
        issue,
    )?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// The distinct environments and releases of a project's issues, for the filters.
pub fn facets(conn: &Connection) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let distinct = |col: &str| -> Result<Vec<String>, StoreError> {
        let mut stmt = conn.prepare(&format!(
            "SELECT DISTINCT {col} FROM error_issues WHERE {col} IS NOT NULL ORDER BY {col} LIMIT 100"
        ))?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    Ok((distinct("last_environment")?, distinct("last_release")?))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Issue>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM error_issues i JOIN error_projects p ON p.id = i.project_id WHERE i.id = ?1"),
            [id],
            issue,
        )
        .optional()?)
}

/// Per tag key, its most frequent values with their counts.
pub type TagValues = Vec<(String, Vec<(String, i64)>)>;

/// Per tag key, its most frequent values with their counts (top 10 each).
pub fn tags(conn: &Connection, issue_id: i64) -> Result<TagValues, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value, count FROM error_issue_tags WHERE issue_id = ?1 ORDER BY key, count DESC, value",
    )?;
    let rows = stmt.query_map([issue_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
    })?;
    let mut out: TagValues = Vec::new();
    for row in rows {
        let (key, value, count) = row?;
        match out.last_mut() {
            Some((k, values)) if *k == key => {
                if values.len() < 10 {
                    values.push((value, count));
                }
            }
            _ => out.push((key, vec![(value, count)])),
        }
    }
    Ok(out)
}

/// One stored event of an issue.
pub struct StoredEvent {
    pub id: i64,
    pub event_id: String,
    pub received_ms: i64,
    pub payload: Vec<u8>,
    /// Older and newer events of the same issue (row ids), and the first and latest.
    pub older: Option<i64>,
    pub newer: Option<i64>,
    pub first: i64,
    pub latest: i64,
    pub kept: i64,
}

/// The event `event` (a row id) of an issue, else its latest.
pub fn event(
    conn: &Connection,
    issue_id: i64,
    event: Option<i64>,
) -> Result<Option<StoredEvent>, StoreError> {
    let found = conn
        .query_row(
            "SELECT id, event_id, received_ms, payload FROM error_events
             WHERE issue_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY id DESC LIMIT 1",
            params![issue_id, event],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((id, event_id, received_ms, payload)) = found else {
        return Ok(None);
    };
    let one = |sql: &str| -> Result<Option<i64>, StoreError> {
        Ok(conn
            .query_row(sql, params![issue_id, id], |r| r.get(0))
            .optional()?
            .flatten())
    };
    let older = one("SELECT max(id) FROM error_events WHERE issue_id = ?1 AND id < ?2")?;
    let newer = one("SELECT min(id) FROM error_events WHERE issue_id = ?1 AND id > ?2")?;
    let (first, latest, kept) = conn.query_row(
        "SELECT min(id), max(id), count(*) FROM error_events WHERE issue_id = ?1",
        [issue_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Some(StoredEvent {
        id,
        event_id,
        received_ms,
        payload,
        older,
        newer,
        first,
        latest,
        kept,
    }))
}

/// A status change, as the service decided it.
pub struct StatusChange {
    pub status: &'static str,
    /// Resolved in the next release: the current release's events do not reopen it.
    pub in_next_release: bool,
    pub ignore_until_ms: Option<i64>,
    /// Ignore until the issue has this many more events.
    pub ignore_more_events: Option<i64>,
}

/// Applies a status change to each issue; returns the ids that exist.
pub fn set_status(
    conn: &Connection,
    ids: &[i64],
    change: &StatusChange,
) -> Result<Vec<i64>, StoreError> {
    let mut done = Vec::new();
    for id in ids {
        let n = conn
            .prepare_cached(
                "UPDATE error_issues SET status = ?2,
             resolved_release = CASE WHEN ?2 = 'resolved' AND ?3 THEN last_release END,
             ignore_until_ms = ?4,
             ignore_until_count = CASE WHEN ?5 IS NULL THEN NULL ELSE event_count + ?5 END,
             regressed = CASE WHEN ?2 = 'resolved' THEN 0 ELSE regressed END
             WHERE id = ?1",
            )?
            .execute(params![
                id,
                change.status,
                change.in_next_release,
                change.ignore_until_ms,
                change.ignore_more_events
            ])?;
        if n > 0 {
            done.push(*id);
        }
    }
    Ok(done)
}
