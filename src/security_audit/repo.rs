//! The security audit's SQL: what the account checks read (accounts, live
//! API tokens), the certificates the health checks last saw (read-only,
//! from their table), and the stored runs with their findings.

use rusqlite::{Connection, OptionalExtension, params};

use super::account_checks::{TokenRow, UserRow};
use super::host_checks::CertDays;
use super::model::{Category, Finding, Report, Severity, Summary, rfc3339};
use crate::store::StoreError;

/// Runs kept; older ones are pruned when a new one is stored.
const KEEP_RUNS: i64 = 90;

/// Enabled accounts.
pub fn users(conn: &Connection) -> Result<Vec<UserRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, email, role, totp_secret IS NOT NULL, password_hash, created_ms, last_login_ms \
         FROM users WHERE disabled = 0 ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(UserRow {
            id: r.get(0)?,
            email: r.get(1)?,
            admin: r.get::<_, String>(2)? == "admin",
            has_2fa: r.get(3)?,
            password_hash: r.get(4)?,
            created_ms: r.get(5)?,
            last_login_ms: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// API tokens not revoked, of enabled accounts.
pub fn tokens(conn: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.name, u.email, t.scope, t.created_ms, t.expires_ms, t.last_used_ms \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.revoked_ms IS NULL AND u.disabled = 0 ORDER BY t.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TokenRow {
            id: r.get(0)?,
            name: r.get(1)?,
            owner: r.get(2)?,
            scope: r.get(3)?,
            created_ms: r.get(4)?,
            expires_ms: r.get(5)?,
            last_used_ms: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The certificate days left that active health checks last recorded.
pub fn certificates(conn: &Connection) -> Result<Vec<CertDays>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT slug, name, cert_days FROM checks \
         WHERE cert_days IS NOT NULL AND paused = 0 ORDER BY slug",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores a run and its findings; prunes the oldest beyond the kept count.
pub fn insert_run(
    conn: &Connection,
    ts_ms: i64,
    trigger: &str,
    report: &Report,
) -> Result<i64, StoreError> {
    let passed = serde_json::to_string(&report.passed).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO security_audit_runs (ts_ms, trigger, high, medium, low, passed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            ts_ms,
            trigger,
            report.summary.high,
            report.summary.medium,
            report.summary.low,
            passed
        ],
    )?;
    let run = conn.last_insert_rowid();
    let mut stmt = conn.prepare(
        "INSERT OR IGNORE INTO security_audit_findings \
         (run_id, finding_id, severity, category, title, evidence, fix) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for f in &report.findings {
        stmt.execute(params![
            run,
            f.id,
            f.severity.as_str(),
            f.category.as_str(),
            f.title,
            f.evidence,
            f.fix
        ])?;
    }
    conn.execute(
        "DELETE FROM security_audit_runs WHERE id NOT IN \
         (SELECT id FROM security_audit_runs ORDER BY id DESC LIMIT ?1)",
        [KEEP_RUNS],
    )?;
    Ok(run)
}

/// The newest stored run: when, how it was started, and its report.
pub fn last_run(conn: &Connection) -> Result<Option<(i64, String, Report)>, StoreError> {
    let run: Option<(i64, i64, String, String)> = conn
        .query_row(
            "SELECT id, ts_ms, trigger, passed FROM security_audit_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, ts_ms, trigger, passed)) = run else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT finding_id, severity, category, title, evidence, fix \
         FROM security_audit_findings WHERE run_id = ?1",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut findings = Vec::new();
    for row in rows {
        let (id, severity, category, title, evidence, fix) = row?;
        findings.push(Finding {
            id,
            severity: Severity::parse(&severity).unwrap_or(Severity::High),
            category: Category::parse(&category).unwrap_or(Category::Config),
            title,
            evidence,
            fix,
        });
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let summary: Summary = super::model::summarise(&findings);
    let report = Report {
        schema: super::model::SCHEMA.to_string(),
        generated_at: rfc3339(ts_ms),
        summary,
        findings,
        passed: serde_json::from_str(&passed).unwrap_or_default(),
    };
    Ok(Some((ts_ms, trigger, report)))
}
