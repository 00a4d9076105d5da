//! The report: findings (stable id, severity, category, title, evidence,
//! the exact fix), the ids of the checks that passed, and the JSON schema
//! `watchpost.audit.v1` that the CLI, the API and the stored runs share.
//! Pure types and logic only: no I/O here.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The report's schema name; a change that breaks readers gets a new one.
pub const SCHEMA: &str = "watchpost.audit.v1";

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Config,
    File,
    Account,
    Integrity,
    Host,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Config => "config",
            Category::File => "file",
            Category::Account => "account",
            Category::Integrity => "integrity",
            Category::Host => "host",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        Some(match text {
            "config" => Category::Config,
            "file" => Category::File,
            "account" => Category::Account,
            "integrity" => Category::Integrity,
            "host" => Category::Host,
            _ => return None,
        })
    }
}

/// One problem found: what, how bad, the evidence, and what to run or write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    /// Stable: `check` or `check:subject` (`account.admin_without_2fa:3`).
    pub id: String,
    pub severity: Severity,
    pub category: Category,
    pub title: String,
    pub evidence: String,
    /// A command to run or a configuration line to write.
    pub fix: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

/// The report, schema `watchpost.audit.v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub schema: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub summary: Summary,
    /// Worst first, then by id.
    pub findings: Vec<Finding>,
    /// Ids of the checks that found nothing, sorted.
    pub passed: Vec<String>,
}

impl Finding {
    pub fn new(
        id: impl Into<String>,
        severity: Severity,
        category: Category,
        title: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            id: id.into(),
            severity,
            category,
            title: title.into(),
            evidence: evidence.into(),
            fix: fix.into(),
        }
    }
}

/// A finding's id for one subject of a check: `check:subject`.
pub fn sub(check: &str, subject: impl std::fmt::Display) -> String {
    format!("{check}:{subject}")
}

/// What the checks write into while they run.
#[derive(Debug, Default)]
pub struct Collector {
    findings: Vec<Finding>,
    passed: BTreeSet<String>,
}

impl Collector {
    pub fn pass(&mut self, id: &str) {
        self.passed.insert(id.to_string());
    }

    pub fn add(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Passes `id` when nothing was found under it since `before` findings.
    pub fn pass_if_clean(&mut self, id: &str, before: usize) {
        let prefix = format!("{id}:");
        let found = self.findings[before.min(self.findings.len())..]
            .iter()
            .any(|f| f.id == id || f.id.starts_with(&prefix));
        if !found {
            self.pass(id);
        }
    }

    pub fn len(&self) -> usize {
        self.findings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    pub fn into_report(self, now_ms: i64) -> Report {
        let mut findings = self.findings;
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
        findings.dedup_by(|a, b| a.id == b.id);
        Report {
            schema: SCHEMA.to_string(),
            generated_at: rfc3339(now_ms),
            summary: summarise(&findings),
            passed: self.passed.into_iter().collect(),
            findings,
        }
    }
}

pub fn summarise(findings: &[Finding]) -> Summary {
    let mut s = Summary::default();
    for f in findings {
        match f.severity {
            Severity::High => s.high += 1,
            Severity::Medium => s.medium += 1,
            Severity::Low => s.low += 1,
        }
    }
    s
}

pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.replace_nanosecond(0)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

impl Report {
    /// Whether a finding at or above `threshold` exists (the CLI's exit 1).
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }

    /// High findings whose ids `previous` did not have.
    pub fn new_high<'a>(&'a self, previous: Option<&Report>) -> Vec<&'a Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .filter(|f| previous.is_none_or(|p| p.findings.iter().all(|old| old.id != f.id)))
            .collect()
    }

    /// The human-readable table the CLI prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Watchpost security audit, {}: {} high, {} medium, {} low; {} checks passed",
            self.generated_at,
            self.summary.high,
            self.summary.medium,
            self.summary.low,
            self.passed.len()
        );
        if self.findings.is_empty() {
            out.push_str("No findings.\n");
            return out;
        }
        let width = self
            .findings
            .iter()
            .map(|f| f.id.chars().count())
            .max()
            .unwrap_or(2)
            .max(2);
        let _ = writeln!(out, "\n{:<8} {:<width$}  TITLE", "SEVERITY", "ID");
        for f in &self.findings {
            let _ = writeln!(
                out,
                "{:<8} {:<width$}  {}",
                f.severity.as_str(),
                f.id,
                f.title
            );
            let _ = writeln!(out, "{:<8} {:<width$}  evidence: {}", "", "", f.evidence);
            let _ = writeln!(out, "{:<8} {:<width$}  fix:      {}", "", "", f.fix);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut c = Collector::default();
        c.pass("config.metrics_open");
        c.add(Finding::new(
            sub("account.admin_without_2fa", 3),
            Severity::High,
            Category::Account,
            "An admin has no 2FA",
            "user 3",
            "enrol",
        ));
        c.add(Finding::new(
            sub("host.listener_all_interfaces", "0.0.0.0:22"),
            Severity::Low,
            Category::Host,
            "t",
            "e",
            "f",
        ));
        c.into_report(1_765_000_000_000)
    }

    #[test]
    fn the_report_serialises_with_the_documented_keys() {
        let value = serde_json::to_value(report()).unwrap();
        let keys: BTreeSet<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["schema", "generated_at", "summary", "findings", "passed"])
        );
        assert_eq!(value["schema"], "watchpost.audit.v1");
        assert_eq!(value["generated_at"], "2025-12-06T05:46:40Z");
        assert_eq!(
            value["summary"],
            serde_json::json!({"high": 1, "medium": 0, "low": 1})
        );
        let finding = value["findings"][0].as_object().unwrap();
        let keys: BTreeSet<&str> = finding.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "severity", "category", "title", "evidence", "fix"])
        );
        assert_eq!(finding["severity"], "high");
        assert_eq!(finding["category"], "account");
        assert_eq!(value["passed"], serde_json::json!(["config.metrics_open"]));
        let back: Report = serde_json::from_value(value).unwrap();
        assert_eq!(back, report());
    }

    #[test]
    fn fail_on_counts_findings_at_or_above_the_threshold() {
        let r = report();
        assert!(r.fails(Severity::Low));
        assert!(
            r.fails(Severity::Medium),
            "the high finding is above medium"
        );
        assert!(r.fails(Severity::High));
        let mut low_only = r.clone();
        low_only.findings.retain(|f| f.severity == Severity::Low);
        assert!(low_only.fails(Severity::Low));
        assert!(!low_only.fails(Severity::Medium));
        assert!(!low_only.fails(Severity::High));
    }

    #[test]
    fn new_high_findings_are_those_the_previous_run_lacked() {
        let r = report();
        assert_eq!(r.new_high(None).len(), 1);
        assert!(r.new_high(Some(&r)).is_empty());
        let mut before = r.clone();
        before.findings.clear();
        let new = r.new_high(Some(&before));
        assert_eq!(new[0].id, "account.admin_without_2fa:3");
    }

    #[test]
    fn the_table_shows_each_finding_with_its_fix() {
        let text = report().table();
        assert!(text.contains("1 high, 0 medium, 1 low; 1 checks passed"));
        assert!(text.contains("high     account.admin_without_2fa:3"));
        assert!(text.contains("fix:      enrol"));
    }

    #[test]
    fn pass_if_clean_passes_only_checks_without_findings() {
        let mut c = Collector::default();
        let before = c.len();
        c.add(Finding::new(
            sub("a.b", "x"),
            Severity::Low,
            Category::Host,
            "",
            "",
            "",
        ));
        c.pass_if_clean("a.b", before);
        c.pass_if_clean("a.c", before);
        let r = c.into_report(0);
        assert_eq!(r.passed, ["a.c"]);
    }
}
