//! What the audit trail's list, CSV export and JSON API are narrowed to: the
//! filters as they arrive in a query string ([`FilterQuery`]) and as the
//! queries use them ([`Filter`]), with readable errors for bad input.

use std::fmt;

use serde::Serialize;

use super::model::Outcome;

/// What the list, the CSV export and the JSON API are narrowed to. Every
/// field is optional; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `system`, `cli`, `anonymous`, a user id, or part of an e-mail.
    pub actor: Option<String>,
    /// An exact action, or a prefix ending in `.` or `*` (`login.`, `login*`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Inclusive lower bound, Unix ms.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, Unix ms.
    pub until_ms: Option<i64>,
    /// Free text looked for in action, target and details.
    pub text: Option<String>,
}

/// A filter field that could not be understood; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The filter fields as they arrive in a query string (HTML forms send empty
/// fields as empty strings).
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize, PartialEq, Eq)]
pub struct FilterQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub q: String,
}

impl FilterQuery {
    pub fn parse(&self) -> Result<Filter, FilterError> {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let outcome = match text(&self.outcome) {
            None => None,
            Some(o) => Some(Outcome::parse(&o).ok_or_else(|| {
                FilterError(format!(
                    "outcome must be success, failure or denied, not {o:?}"
                ))
            })?),
        };
        let day = |name: &str, value: &str| -> Result<Option<i64>, FilterError> {
            text(value)
                .map(|v| {
                    day_start_ms(&v).ok_or_else(|| {
                        FilterError(format!("{name} must be a date like 2026-01-31, not {v:?}"))
                    })
                })
                .transpose()
        };
        let from_ms = day("from", &self.from)?;
        let until_ms = day("to", &self.to)?.map(|start| start + 86_400_000);
        Ok(Filter {
            actor: text(&self.actor),
            action: text(&self.action),
            outcome,
            from_ms,
            until_ms,
            text: text(&self.q),
        })
    }

    /// The query string that reproduces these filters (empty when none).
    pub fn to_query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date, in Unix ms.
fn day_start_ms(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_dates_as_whole_utc_days_and_reject_nonsense() {
        let q = FilterQuery {
            from: "2026-01-01".into(),
            to: "2026-01-01".into(),
            outcome: "denied".into(),
            actor: "  ".into(),
            ..FilterQuery::default()
        };
        let f = q.parse().unwrap();
        assert_eq!(f.from_ms, Some(1_767_225_600_000));
        assert_eq!(f.until_ms, Some(1_767_225_600_000 + 86_400_000));
        assert_eq!(f.outcome, Some(Outcome::Denied));
        assert_eq!(f.actor, None);
        for bad in ["2026-13-01", "yesterday", "2026-1-1", "2026-02-30"] {
            let q = FilterQuery {
                from: bad.into(),
                ..FilterQuery::default()
            };
            assert!(q.parse().unwrap_err().0.contains("2026-01-31"), "{bad}");
        }
        let q = FilterQuery {
            outcome: "maybe".into(),
            ..FilterQuery::default()
        };
        assert!(q.parse().is_err());
        let q = FilterQuery {
            action: "login.".into(),
            q: "a b".into(),
            ..FilterQuery::default()
        };
        assert_eq!(q.to_query(), "action=login.&q=a+b");
    }
}
