//! The error-tracking SQL: projects, keys and raw items.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::StoreError;

pub fn add_project(
    conn: &Connection,
    slug: &str,
    name: &str,
    platform: &str,
    key: &str,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO error_projects (slug, name, platform, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![slug, name, platform, now_ms],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO error_keys (public_key, project_id, created_ms) VALUES (?1, ?2, ?3)",
        params![key, id, now_ms],
    )?;
    Ok(id)
}

pub fn slug_taken(conn: &Connection, slug: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM error_projects WHERE slug = ?1",
            [slug],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The project an active key belongs to, with its quotas (per minute, per hour).
pub fn project_of_key(conn: &Connection, key: &str) -> Result<Option<KeyOwner>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT k.project_id, p.quota_per_minute, p.quota_per_hour
             FROM error_keys k JOIN error_projects p ON p.id = k.project_id
             WHERE k.public_key = ?1 AND k.active = 1",
        )?
        .query_row([key], |r| {
            Ok(KeyOwner {
                project_id: r.get(0)?,
                quota: (r.get(1)?, r.get(2)?),
            })
        })
        .optional()?)
}

pub struct KeyOwner {
    pub project_id: i64,
    pub quota: (Option<u32>, Option<u32>),
}

/// One received item, its payload already compressed.
pub struct NewItem {
    pub kind: String,
    pub payload: Vec<u8>,
}

pub fn add_items(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
    items: &[NewItem],
    skipped: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    for item in items {
        conn.execute(
            "INSERT INTO error_items (project_id, event_id, kind, received_ms, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![project_id, event_id, item.kind, now_ms, item.payload],
        )?;
    }
    for kind in skipped {
        conn.execute(
            "INSERT INTO error_skipped (project_id, kind, count) VALUES (?1, ?2, 1)
             ON CONFLICT (project_id, kind) DO UPDATE SET count = count + 1",
            params![project_id, kind],
        )?;
    }
    Ok(())
}

/// Every project's (id, slug).
pub fn slugs(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, slug FROM error_projects ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a key; false when the project does not exist.
pub fn add_key(
    conn: &Connection,
    project_id: i64,
    key: &str,
    label: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    if !project_exists(conn, project_id)? {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO error_keys (public_key, project_id, created_ms, label) VALUES (?1, ?2, ?3, ?4)",
        params![key, project_id, now_ms, label],
    )?;
    Ok(true)
}

fn project_exists(conn: &Connection, project_id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM error_projects WHERE id = ?1",
            [project_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[derive(Debug, PartialEq, Eq)]
pub enum Revoke {
    Done,
    Unknown,
    LastKey,
}

pub fn revoke_key(
    conn: &Connection,
    project_id: i64,
    key: &str,
    now_ms: i64,
) -> Result<Revoke, StoreError> {
    let active: i64 = conn.query_row(
        "SELECT count(*) FROM error_keys WHERE project_id = ?1 AND active = 1",
        [project_id],
        |r| r.get(0),
    )?;
    let this_active: Option<i64> = conn
        .query_row(
            "SELECT active FROM error_keys WHERE project_id = ?1 AND public_key = ?2",
            params![project_id, key],
            |r| r.get(0),
        )
        .optional()?;
    match this_active {
        None | Some(0) => Ok(Revoke::Unknown),
        Some(_) if active <= 1 => Ok(Revoke::LastKey),
        Some(_) => {
            conn.execute(
                "UPDATE error_keys SET active = 0, revoked_ms = ?3 WHERE project_id = ?1 AND public_key = ?2",
                params![project_id, key, now_ms],
            )?;
            Ok(Revoke::Done)
        }
    }
}

pub fn set_settings(
    conn: &Connection,
    project_id: i64,
    s: &super::projects::Settings,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE error_projects SET quota_per_minute = ?2, quota_per_hour = ?3, keep_events = ?4,
         keep_days = ?5 WHERE id = ?1",
        params![
            project_id,
            s.quota_per_minute,
            s.quota_per_hour,
            s.keep_events,
            s.keep_days
        ],
    )?;
    Ok(n > 0)
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Project {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub platform: String,
    pub created_ms: i64,
    pub settings: super::projects::Settings,
    /// Unresolved issues.
    pub open_issues: i64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Key {
    pub public_key: String,
    pub label: String,
    pub active: bool,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// Sessions of one release: how many ended, and how many crashed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReleaseHealth {
    pub release: String,
    pub environment: String,
    pub total: i64,
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
    /// Percent of sessions that did not crash (or end abnormally).
    pub crash_free_pct: f64,
}

/// Everything the project page shows besides its issues.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProjectDetail {
    pub project: Project,
    pub keys: Vec<Key>,
    pub releases: Vec<ReleaseHealth>,
    /// Item types skipped (not digested), with counts.
    pub skipped: Vec<(String, i64)>,
    /// (reason, category, quantity) the SDKs reported dropping.
    pub client_reports: Vec<(String, String, i64)>,
    pub events_kept: i64,
}

const PROJECT: &str = "SELECT p.id, p.slug, p.name, p.platform, p.created_ms, p.quota_per_minute,
    p.quota_per_hour, p.keep_events, p.keep_days,
    (SELECT count(*) FROM error_issues i WHERE i.project_id = p.id AND i.status = 'unresolved')
    FROM error_projects p";

fn project(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        platform: r.get(3)?,
        created_ms: r.get(4)?,
        settings: super::projects::Settings {
            quota_per_minute: r.get(5)?,
            quota_per_hour: r.get(6)?,
            keep_events: r.get(7)?,
            keep_days: r.get(8)?,
        },
        open_issues: r.get(9)?,
    })
}

pub fn projects(conn: &Connection) -> Result<Vec<Project>, StoreError> {
    let mut stmt = conn.prepare(&format!("{PROJECT} ORDER BY p.name"))?;
    let rows = stmt.query_map([], project)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn project_detail(conn: &Connection, id: i64) -> Result<Option<ProjectDetail>, StoreError> {
    let Some(project) = conn
        .query_row(&format!("{PROJECT} WHERE p.id = ?1"), [id], project)
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT public_key, label, active, created_ms, revoked_ms FROM error_keys
         WHERE project_id = ?1 ORDER BY active DESC, created_ms DESC",
    )?;
    let keys = stmt
        .query_map([id], |r| {
            Ok(Key {
                public_key: r.get(0)?,
                label: r.get(1)?,
                active: r.get(2)?,
                created_ms: r.get(3)?,
                revoked_ms: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT release, environment, total, errored, crashed, abnormal FROM error_sessions
         WHERE project_id = ?1 ORDER BY total DESC LIMIT 50",
    )?;
    let releases = stmt
        .query_map([id], |r| {
            let (total, crashed, abnormal): (i64, i64, i64) = (r.get(2)?, r.get(4)?, r.get(5)?);
            Ok(ReleaseHealth {
                release: r.get(0)?,
                environment: r.get(1)?,
                total,
                errored: r.get(3)?,
                crashed,
                abnormal,
                crash_free_pct: if total > 0 {
                    100.0 * (total - crashed - abnormal) as f64 / total as f64
                } else {
                    100.0
                },
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT kind, count FROM error_skipped WHERE project_id = ?1 ORDER BY count DESC",
    )?;
    let skipped = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT reason, category, quantity FROM error_client_reports WHERE project_id = ?1 ORDER BY quantity DESC",
    )?;
    let client_reports = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let events_kept = conn.query_row(
        "SELECT count(*) FROM error_events WHERE project_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(Some(ProjectDetail {
        project,
        keys,
        releases,
        skipped,
        client_reports,
        events_kept,
    }))
}
