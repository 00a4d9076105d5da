//! Silences: what they cover (a rule, a subject or its beginning, a
//! label), how they are checked and started — by the page, the API and the
//! CLI alike — and ended, each audited.

use super::Alerts;
use super::repo::{self, Silence};
use super::rules::Rule;
use crate::audit_trail::{Actioned, Trail};
use crate::error::AppError;
use crate::store::Store;

impl Alerts {
    /// Starts a silence, audited. `minutes` from now, with a comment.
    pub async fn add_silence(
        &self,
        mut silence: Silence,
        minutes: i64,
        by: &Actioned,
        who: &str,
    ) -> Result<Silence, AppError> {
        silence.created_by = who.to_string();
        let now = self.clock.now_ms();
        start_silence(
            &self.store,
            &self.trail,
            &self.defs().rules,
            silence,
            minutes,
            by,
            now,
        )
        .await
    }

    /// Ends a silence now, audited.
    pub async fn end_silence(&self, id: i64, by: &Actioned) -> Result<(), AppError> {
        let now = self.clock.now_ms();
        let entry = by.entry("alert.silence_ended", format!("silence:{id}"));
        let trail = self.trail.clone();
        let ended = self
            .store
            .write(move |c| {
                let ended = repo::end_silence(c, id, now)?;
                if ended {
                    trail.append(c, now, &entry)?;
                }
                Ok(ended)
            })
            .await?;
        if ended {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Validates and stores a silence of `minutes` from `now_ms`, audited
/// (the page, the API and the CLI all start silences here).
pub async fn start_silence(
    store: &Store,
    trail: &Trail,
    rules: &[Rule],
    mut silence: Silence,
    minutes: i64,
    by: &Actioned,
    now_ms: i64,
) -> Result<Silence, AppError> {
    check_silence(rules, &silence, minutes)?;
    silence.starts_ms = now_ms;
    silence.ends_ms = now_ms + minutes * 60_000;
    silence.created_ms = now_ms;
    let target = if silence.rule_id.is_empty() {
        "*"
    } else {
        &silence.rule_id
    };
    let entry = by
        .entry("alert.silenced", format!("rule:{target}"))
        .detail("subject", silence.subject.clone())
        .detail("label", silence.label.clone())
        .detail("minutes", minutes)
        .pii_detail("comment", silence.comment.clone());
    let (trail, s) = (trail.clone(), silence.clone());
    silence.id = store
        .write(move |c| {
            let id = repo::add_silence(c, &s)?;
            trail.append(c, now_ms, &entry)?;
            Ok(id)
        })
        .await?;
    Ok(silence)
}

/// What is wrong with a silence of `minutes`, if anything.
fn check_silence(rules: &[Rule], silence: &Silence, minutes: i64) -> Result<(), AppError> {
    if !(1..=60 * 24 * 90).contains(&minutes) {
        return Err(AppError::BadRequest(
            "minutes must be between 1 and 129600 (90 days)".into(),
        ));
    }
    if silence.comment.trim().is_empty() || silence.comment.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "say why in a comment of 1 to 500 characters".into(),
        ));
    }
    if !silence.rule_id.is_empty() && !rules.iter().any(|r| r.id == silence.rule_id) {
        return Err(AppError::BadRequest(format!(
            "{:?} is not a rule id",
            silence.rule_id
        )));
    }
    if !silence.label.is_empty() && !silence.label.contains('=') {
        return Err(AppError::BadRequest(
            "label must be written name=value".into(),
        ));
    }
    if [&silence.subject, &silence.label]
        .iter()
        .any(|t| t.chars().count() > 200 || t.chars().any(char::is_control))
    {
        return Err(AppError::BadRequest(
            "subject and label must be at most 200 printable characters".into(),
        ));
    }
    Ok(())
}

/// Whether `silence` covers `rule` on `subject` at `now_ms`.
pub fn covers(silence: &Silence, rule: &Rule, subject: &str, now_ms: i64) -> bool {
    let label_matches = silence.label.split_once('=').is_none_or(|(name, value)| {
        rule.labels
            .get(name.trim())
            .is_some_and(|v| v == value.trim())
    });
    silence.starts_ms <= now_ms
        && now_ms < silence.ends_ms
        && (silence.rule_id.is_empty() || silence.rule_id == rule.id)
        && subject.starts_with(&silence.subject)
        && label_matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn silences_match_by_rule_subject_and_label() {
        let defaults = super::super::rules::defaults();
        let mut rule = Rule::from_config(&defaults[2], Duration::ZERO).unwrap();
        assert_eq!(rule.id, "check-down");
        rule.labels.insert("team".into(), "web".into());
        let s = |rule_id: &str, subject: &str, label: &str| Silence {
            id: 1,
            rule_id: rule_id.into(),
            subject: subject.into(),
            label: label.into(),
            starts_ms: 0,
            ends_ms: 100,
            created_by: "a".into(),
            comment: "c".into(),
            created_ms: 0,
        };
        assert!(covers(&s("", "", ""), &rule, "check:web", 50));
        assert!(covers(
            &s("check-down", "check:", "team=web"),
            &rule,
            "check:web",
            50
        ));
        assert!(!covers(&s("disk-full", "", ""), &rule, "check:web", 50));
        assert!(!covers(&s("", "check:api", ""), &rule, "check:web", 50));
        assert!(!covers(&s("", "", "team=db"), &rule, "check:web", 50));
        assert!(!covers(&s("", "", ""), &rule, "check:web", 100), "ended");
    }
}
