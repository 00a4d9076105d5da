//! The digest's SQL: reading pending items, and committing a batch of
//! digested ones in one transaction — each event joins (or opens) its
//! issue, reopening a resolved issue as a regression and waking an ignored
//! one when its condition is met; counters, users, tag values and
//! per-minute counts follow, and the raw items are deleted.

use rusqlite::{Connection, OptionalExtension, params};

use super::digest::{Digest, EventRow, Pending, Sessions};
use crate::store::StoreError;

/// What happened to an issue, for the alert rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub issue_id: i64,
    pub project_id: i64,
    pub title: String,
    /// `new` or `regression`.
    pub kind: &'static str,
}

pub fn pending(conn: &Connection, limit: u32) -> Result<Vec<Pending>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, project_id, event_id, kind, received_ms, payload FROM error_items
         WHERE digested = 0 ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Pending {
            id: r.get(0)?,
            project_id: r.get(1)?,
            event_id: r.get(2)?,
            kind: r.get(3)?,
            received_ms: r.get(4)?,
            payload: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn backlog(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM error_items WHERE digested = 0",
        [],
        |r| r.get(0),
    )?)
}

/// One item with what it turned into.
pub struct Digested {
    pub item: Pending,
    pub digest: Digest,
}

/// Commits a digested batch; returns the issues that are new or regressed,
/// and the ids of the items committed. An item that changed or went since
/// it was read (a privacy erasure rewrote it) is left for the next pass.
pub fn commit(
    conn: &Connection,
    batch: &[Digested],
) -> Result<(Vec<Change>, Vec<i64>), StoreError> {
    let mut changes = Vec::new();
    let mut committed = Vec::new();
    for Digested { item, digest } in batch {
        let (item_id, project_id, kind) = (&item.id, &item.project_id, &item.kind);
        let unchanged: Option<bool> = conn
            .prepare_cached("SELECT payload = ?2 FROM error_items WHERE id = ?1")?
            .query_row(params![item_id, item.payload], |r| r.get(0))
            .optional()?;
        if unchanged != Some(true) {
            continue;
        }
        committed.push(*item_id);
        match digest {
            Digest::Event(row) => {
                if let Some(change) = add_event(conn, row)? {
                    changes.push(change);
                }
            }
            Digest::Sessions(sessions) => {
                for s in sessions {
                    add_sessions(conn, *project_id, s)?;
                }
            }
            Digest::ClientReport(discarded) => {
                for (reason, category, quantity) in discarded {
                    conn.prepare_cached(
                        "INSERT INTO error_client_reports (project_id, reason, category, quantity)
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (project_id, reason, category)
                         DO UPDATE SET quantity = quantity + excluded.quantity",
                    )?
                    .execute(params![project_id, reason, category, quantity])?;
                }
            }
            Digest::Transaction(_) => {}
            Digest::Invalid => {
                conn.prepare_cached(
                    "INSERT INTO error_skipped (project_id, kind, count) VALUES (?1, ?2, 1)
                     ON CONFLICT (project_id, kind) DO UPDATE SET count = count + 1",
                )?
                .execute(params![project_id, format!("invalid:{kind}")])?;
            }
        }
        conn.prepare_cached("DELETE FROM error_items WHERE id = ?1")?
            .execute([item_id])?;
    }
    Ok((changes, committed))
}

struct Current {
    id: i64,
    status: String,
    resolved_release: Option<String>,
    ignore_until_ms: Option<i64>,
    ignore_until_count: Option<i64>,
    event_count: i64,
}

fn add_event(conn: &Connection, e: &EventRow) -> Result<Option<Change>, StoreError> {
    let current = conn
        .prepare_cached(
            "SELECT id, status, resolved_release, ignore_until_ms, ignore_until_count, event_count
             FROM error_issues WHERE project_id = ?1 AND grouping_version = ?2 AND hash = ?3",
        )?
        .query_row(params![e.project_id, e.grouping_version, e.hash], |r| {
            Ok(Current {
                id: r.get(0)?,
                status: r.get(1)?,
                resolved_release: r.get(2)?,
                ignore_until_ms: r.get(3)?,
                ignore_until_count: r.get(4)?,
                event_count: r.get(5)?,
            })
        })
        .optional()?;
    let (issue_id, change) = match current {
        None => {
            conn.prepare_cached(
                "INSERT INTO error_issues (project_id, grouping_version, hash, title, culprit,
                 level, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute(params![
                e.project_id,
                e.grouping_version,
                e.hash,
                e.title,
                e.culprit,
                e.level,
                e.received_ms
            ])?;
            let id = conn.last_insert_rowid();
            (id, Some("new"))
        }
        Some(c) => {
            let count = c.event_count + 1;
            let (status, change) = match c.status.as_str() {
                "resolved"
                    if c.resolved_release.is_some()
                        && (e.release.is_none() || e.release == c.resolved_release) =>
                {
                    ("resolved", None)
                }
                "resolved" => ("unresolved", Some("regression")),
                "ignored"
                    if c.ignore_until_ms.is_some_and(|t| e.received_ms >= t)
                        || c.ignore_until_count.is_some_and(|n| count >= n) =>
                {
                    ("unresolved", None)
                }
                "ignored" => ("ignored", None),
                _ => ("unresolved", None),
            };
            let reopened = status != c.status;
            conn.prepare_cached(
                "UPDATE error_issues SET status = ?2, title = ?3, culprit = ?4, level = ?5,
                 regressed = regressed OR ?6,
                 resolved_release = CASE WHEN ?7 THEN NULL ELSE resolved_release END,
                 ignore_until_ms = CASE WHEN ?7 THEN NULL ELSE ignore_until_ms END,
                 ignore_until_count = CASE WHEN ?7 THEN NULL ELSE ignore_until_count END
                 WHERE id = ?1",
            )?
            .execute(params![
                c.id,
                status,
                e.title,
                e.culprit,
                e.level,
                change.is_some(),
                reopened
            ])?;
            (c.id, change)
        }
    };
    conn.prepare_cached(
        "UPDATE error_issues SET event_count = event_count + 1, last_seen_ms = max(last_seen_ms, ?2),
         last_release = coalesce(?3, last_release), last_environment = coalesce(?4, last_environment)
         WHERE id = ?1",
    )?
    .execute(params![issue_id, e.received_ms, e.release, e.environment])?;
    conn.prepare_cached(
        "INSERT INTO error_events (issue_id, project_id, event_id, ts_ms, received_ms, level,
         release, environment, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        issue_id,
        e.project_id,
        e.event_id,
        e.ts_ms,
        e.received_ms,
        e.level,
        e.release,
        e.environment,
        e.payload
    ])?;
    if let Some(user) = &e.user_key {
        let added = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO error_issue_users (issue_id, user_key) VALUES (?1, ?2)",
            )?
            .execute(params![issue_id, user])?;
        if added > 0 {
            conn.prepare_cached(
                "UPDATE error_issues SET user_count = user_count + 1 WHERE id = ?1",
            )?
            .execute([issue_id])?;
        }
    }
    for (key, value) in &e.tags {
        conn.prepare_cached(
            "INSERT INTO error_issue_tags (issue_id, key, value, count) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (issue_id, key, value) DO UPDATE SET count = count + 1",
        )?
        .execute(params![issue_id, key, value])?;
    }
    let minute = e.received_ms.div_euclid(60_000) * 60;
    conn.prepare_cached(
        "INSERT INTO error_minutes (project_id, minute, events) VALUES (?1, ?2, 1)
         ON CONFLICT (project_id, minute) DO UPDATE SET events = events + 1",
    )?
    .execute(params![e.project_id, minute])?;
    Ok(change.map(|kind| Change {
        issue_id,
        project_id: e.project_id,
        title: e.title.clone(),
        kind,
    }))
}

fn add_sessions(conn: &Connection, project_id: i64, s: &Sessions) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO error_sessions (project_id, release, environment, total, errored, crashed, abnormal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (project_id, release, environment)
         DO UPDATE SET total = total + excluded.total, errored = errored + excluded.errored,
         crashed = crashed + excluded.crashed, abnormal = abnormal + excluded.abnormal",
    )?
    .execute(params![
        project_id,
        s.release,
        s.environment,
        s.total,
        s.errored,
        s.crashed,
        s.abnormal
    ])?;
    Ok(())
}

/// Per project: events in the `window_s` before `now_s`, and the usual
/// number per window over the 24 hours before that.
pub fn rates(
    conn: &Connection,
    now_s: i64,
    window_s: i64,
) -> Result<Vec<(String, u64, f64)>, StoreError> {
    let since = now_s - window_s;
    let day_before = since - 86_400;
    let mut stmt = conn.prepare_cached(
        "SELECT p.slug,
           coalesce((SELECT sum(events) FROM error_minutes m WHERE m.project_id = p.id AND m.minute >= ?1), 0),
           coalesce((SELECT sum(events) FROM error_minutes m WHERE m.project_id = p.id AND m.minute >= ?2 AND m.minute < ?1), 0)
         FROM error_projects p ORDER BY p.slug",
    )?;
    let rows = stmt.query_map(params![since, day_before], |r| {
        let (slug, recent, before): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        Ok((
            slug,
            recent.max(0) as u64,
            before as f64 * window_s as f64 / 86_400.0,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Issues ignored until a time that has come are unresolved again; returns how many.
pub fn wake_ignored(conn: &Connection, now_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE error_issues SET status = 'unresolved', ignore_until_ms = NULL, ignore_until_count = NULL
         WHERE status = 'ignored' AND ignore_until_ms <= ?1",
        [now_ms],
    )?)
}

/// Retention of events, per project: older than its `keep_days` (counted
/// back from `now_ms`), or beyond its newest `keep_events`, except each
/// issue's first and latest event. Deletes at most `limit`; issue counters
/// are not touched.
pub fn prune_events(conn: &Connection, now_ms: i64, limit: i64) -> Result<usize, StoreError> {
    let projects: Vec<(i64, i64, i64)> = {
        let mut stmt = conn.prepare("SELECT id, keep_events, keep_days FROM error_projects")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut removed = 0;
    for (project, keep_events, keep_days) in projects {
        let cutoff = now_ms - keep_days * 86_400_000;
        let beyond: i64 = conn
            .query_row(
                "SELECT id FROM error_events WHERE project_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                params![project, keep_events],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        removed += conn.execute(
            "DELETE FROM error_events WHERE id IN (
               SELECT e.id FROM error_events e
               WHERE e.project_id = ?1 AND (e.received_ms < ?2 OR e.id <= ?3)
                 AND e.id != (SELECT min(id) FROM error_events f WHERE f.issue_id = e.issue_id)
                 AND e.id != (SELECT max(id) FROM error_events f WHERE f.issue_id = e.issue_id)
               ORDER BY e.id LIMIT ?4)",
            params![project, cutoff, beyond, limit - removed as i64],
        )?;
        if removed as i64 >= limit {
            break;
        }
    }
    Ok(removed)
}
