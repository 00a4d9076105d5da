//! Input that is not already a [`Definition`]: the HTML check form (flat
//! text fields, tags comma-separated, headers one `Name: value` per line)
//! and maintenance windows from a form or the API.

use serde::{Deserialize, Serialize};

use super::definition::Definition;
use super::model::{WEEKDAYS, Window};
use crate::config::Problem;

/// The check form's fields, as the browser sends them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CheckForm {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub method: String,
    pub headers: String,
    pub body: String,
    pub target: String,
    pub interval: String,
    pub timeout: String,
    pub expect_status: String,
    pub keyword: String,
    pub keyword_absent: String,
    pub keyword_regex: Option<String>,
    pub json_pointer: String,
    pub json_equals: String,
    pub json_contains: String,
    pub degraded_after: String,
    /// Checkboxes: present when ticked. `follow_redirects` and `verify_tls`
    /// default to on, so the form sends `no_follow_redirects`/`no_verify_tls`.
    pub no_follow_redirects: Option<String>,
    pub no_verify_tls: Option<String>,
    pub warn_days: String,
    pub critical_days: String,
    pub period: String,
    pub grace: String,
    pub fail_after: String,
    pub recover_after: String,
    pub public: Option<String>,
    pub public_details: Option<String>,
    pub tags: String,
    /// Which button was pressed: `test` runs the check once without saving.
    pub action: String,
}

fn text(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl CheckForm {
    /// The definition the form describes, or the fields that are not numbers.
    pub fn definition(&self) -> Result<Definition, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut number = |field: &str, value: &str| -> Option<u32> {
            let v = value.trim();
            if v.is_empty() {
                return None;
            }
            v.parse().map_or_else(
                |_| {
                    problems.push(Problem::new(field, format!("{v:?} is not a whole number")));
                    None
                },
                Some,
            )
        };
        let warn_days = number("warn_days", &self.warn_days);
        let critical_days = number("critical_days", &self.critical_days);
        let fail_after = number("fail_after", &self.fail_after);
        let recover_after = number("recover_after", &self.recover_after);
        let mut headers = std::collections::BTreeMap::new();
        for line in self
            .headers
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match line.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    headers.insert(name.trim().to_string(), value.trim().to_string());
                }
                _ => problems.push(Problem::new(
                    "headers",
                    format!("{line:?} is not a header; write one \"Name: value\" per line"),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Definition {
            id: self.id.trim().to_string(),
            name: self.name.trim().to_string(),
            kind: self.kind.trim().to_string(),
            url: text(&self.url),
            method: text(&self.method),
            headers,
            body: text(&self.body),
            target: text(&self.target),
            interval: text(&self.interval),
            timeout: text(&self.timeout),
            expect_status: self.expect_status.split(',').filter_map(text).collect(),
            keyword: text(&self.keyword),
            keyword_absent: text(&self.keyword_absent),
            keyword_regex: self.keyword_regex.is_some(),
            json_pointer: text(&self.json_pointer),
            json_equals: text(&self.json_equals),
            json_contains: text(&self.json_contains),
            degraded_after: text(&self.degraded_after),
            follow_redirects: self.no_follow_redirects.is_some().then_some(false),
            verify_tls: self.no_verify_tls.is_some().then_some(false),
            warn_days,
            critical_days,
            period: text(&self.period),
            grace: text(&self.grace),
            fail_after,
            recover_after,
            public: self.public.is_some(),
            public_details: self.public_details.is_some(),
            tags: self.tags.split(',').filter_map(text).collect(),
        })
    }

    /// The form filled from a stored definition (for editing).
    pub fn of(def: &Definition) -> CheckForm {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        let on = |b: bool| b.then(|| "on".to_string());
        CheckForm {
            id: def.id.clone(),
            name: def.name.clone(),
            kind: def.kind.clone(),
            url: opt(&def.url),
            method: opt(&def.method),
            headers: def
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            body: opt(&def.body),
            target: opt(&def.target),
            interval: opt(&def.interval),
            timeout: opt(&def.timeout),
            expect_status: def.expect_status.join(", "),
            keyword: opt(&def.keyword),
            keyword_absent: opt(&def.keyword_absent),
            keyword_regex: on(def.keyword_regex),
            json_pointer: opt(&def.json_pointer),
            json_equals: opt(&def.json_equals),
            json_contains: opt(&def.json_contains),
            degraded_after: opt(&def.degraded_after),
            no_follow_redirects: on(def.follow_redirects == Some(false)),
            no_verify_tls: on(def.verify_tls == Some(false)),
            warn_days: num(def.warn_days),
            critical_days: num(def.critical_days),
            period: opt(&def.period),
            grace: opt(&def.grace),
            fail_after: num(def.fail_after),
            recover_after: num(def.recover_after),
            public: on(def.public),
            public_details: on(def.public_details),
            tags: def.tags.join(", "),
            action: String::new(),
        }
    }
}

/// A maintenance window as entered: `once` with `starts` and `ends`
/// (RFC 3339, or `YYYY-MM-DDTHH:MM` read as UTC), or `weekly` with a
/// `weekday` (Monday … Sunday, or 0–6), a `start` time `HH:MM` (UTC) and a
/// `duration` (`90m`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct WindowInput {
    pub kind: String,
    pub starts: String,
    pub ends: String,
    pub weekday: String,
    pub start: String,
    pub duration: String,
    pub note: String,
}

impl WindowInput {
    pub fn window(&self) -> Result<(Window, String), String> {
        let note = self.note.trim().chars().take(200).collect::<String>();
        match self.kind.trim() {
            "once" => {
                let starts_ms = instant(&self.starts).map_err(|e| format!("starts: {e}"))?;
                let ends_ms = instant(&self.ends).map_err(|e| format!("ends: {e}"))?;
                if ends_ms <= starts_ms {
                    return Err("ends must be after starts".into());
                }
                Ok((Window::Once { starts_ms, ends_ms }, note))
            }
            "weekly" => {
                let day = self.weekday.trim();
                let weekday = WEEKDAYS
                    .iter()
                    .position(|d| d.eq_ignore_ascii_case(day))
                    .or_else(|| day.parse::<usize>().ok().filter(|d| *d < 7))
                    .ok_or_else(|| format!("weekday: {day:?} is not Monday … Sunday"))?;
                let (h, m) = self
                    .start
                    .trim()
                    .split_once(':')
                    .and_then(|(h, m)| Some((h.parse::<u16>().ok()?, m.parse::<u16>().ok()?)))
                    .filter(|(h, m)| *h < 24 && *m < 60)
                    .ok_or_else(|| format!("start: {:?} is not a time like 02:30", self.start))?;
                let minutes = humantime::parse_duration(self.duration.trim())
                    .ok()
                    .map(|d| d.as_secs() / 60)
                    .filter(|m| (1..=7 * 24 * 60).contains(m))
                    .ok_or_else(|| {
                        format!(
                            "duration: {:?} is not a length like \"90m\" (at most 7 days)",
                            self.duration
                        )
                    })?;
                Ok((
                    Window::Weekly {
                        weekday: u8::try_from(weekday).unwrap_or(0),
                        start_minute: h * 60 + m,
                        minutes: u32::try_from(minutes).unwrap_or(60),
                    },
                    note,
                ))
            }
            other => Err(format!("kind: {other:?} is not once or weekly")),
        }
    }
}

/// Unix ms from RFC 3339 or a `datetime-local` value (UTC).
fn instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let local = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            time::PrimitiveDateTime::parse(text, &local)
                .ok()
                .map(time::PrimitiveDateTime::assume_utc)
        })
        .ok_or_else(|| format!("{text:?} is not a time like 2026-12-24T22:00 (UTC)"))?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).map_err(|_| "out of range".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_round_trips_a_definition() {
        let form = CheckForm {
            id: "api".into(),
            name: "API".into(),
            kind: "http".into(),
            url: "https://api.example.com/health".into(),
            headers: "Authorization: Bearer x\nAccept: application/json".into(),
            expect_status: "200, 204".into(),
            no_verify_tls: Some("on".into()),
            tags: "web, api".into(),
            fail_after: "3".into(),
            ..CheckForm::default()
        };
        let def = form.definition().unwrap();
        assert_eq!(def.headers.len(), 2);
        assert_eq!(def.expect_status, vec!["200", "204"]);
        assert_eq!(def.verify_tls, Some(false));
        assert_eq!(def.follow_redirects, None);
        assert_eq!(def.fail_after, Some(3));
        assert_eq!(CheckForm::of(&def).definition().unwrap(), def);
        let bad = CheckForm {
            fail_after: "three".into(),
            headers: "no colon".into(),
            ..form
        };
        assert_eq!(bad.definition().unwrap_err().len(), 2);
    }

    #[test]
    fn windows_parse_once_and_weekly() {
        let once = WindowInput {
            kind: "once".into(),
            starts: "2026-12-24T22:00".into(),
            ends: "2026-12-25T02:00:00Z".into(),
            ..WindowInput::default()
        };
        let (w, _) = once.window().unwrap();
        assert!(
            matches!(w, Window::Once { starts_ms, ends_ms } if ends_ms - starts_ms == 4 * 3_600_000)
        );
        let weekly = WindowInput {
            kind: "weekly".into(),
            weekday: "sunday".into(),
            start: "23:30".into(),
            duration: "1h".into(),
            ..WindowInput::default()
        };
        assert_eq!(
            weekly.window().unwrap().0,
            Window::Weekly {
                weekday: 6,
                start_minute: 23 * 60 + 30,
                minutes: 60
            }
        );
        let backwards = WindowInput {
            ends: "2026-12-24T21:00".into(),
            ..once
        };
        assert!(backwards.window().is_err());
    }
}
