//! Field parsers for check definitions: durations, `host:port` targets,
//! status ranges, keyword matchers and tags, each adding a problem that
//! names its field when the text does not parse.

use std::time::Duration;

use super::check::Matcher;
use crate::config::Problem;

/// Problems collected while validating, keyed under a prefix.
pub struct Problems {
    pub prefix: String,
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let key = if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        };
        self.list.push(Problem::new(key, message));
    }

    pub fn duration(&mut self, field: &str, value: &Option<String>) -> Option<Duration> {
        let text = value.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
        match humantime::parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.add(
                    field,
                    format!("{text:?} is not a duration ({e}); write e.g. \"30s\""),
                );
                None
            }
        }
    }

    pub fn target(&mut self, value: &Option<String>) -> Option<(String, u16)> {
        let text = value.as_deref().map(str::trim).unwrap_or_default();
        let parsed = text.rsplit_once(':').and_then(|(host, port)| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
            let ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
            ok.then(|| (host.to_string(), port))
        });
        if parsed.is_none() {
            self.add(
                "target",
                format!("{text:?} must be host:port, like \"db.internal:5432\""),
            );
        }
        parsed
    }

    pub fn statuses(&mut self, values: &[String]) -> Vec<(u16, u16)> {
        if values.is_empty() {
            return vec![(200, 399)];
        }
        let mut out = Vec::new();
        for v in values {
            let v = v.trim();
            let parsed = match v.split_once('-') {
                Some((a, b)) => a.trim().parse().ok().zip(b.trim().parse().ok()),
                None => v.parse().ok().map(|s| (s, s)),
            };
            match parsed {
                Some((a, b)) if (100..=599).contains(&a) && (a..=599).contains(&b) => {
                    out.push((a, b));
                }
                _ => self.add(
                    "expect_status",
                    format!("{v:?} is not a status or range like \"200-399\""),
                ),
            }
        }
        out
    }

    pub fn matcher(&mut self, field: &str, value: &Option<String>, regex: bool) -> Option<Matcher> {
        let text = value.as_deref().filter(|t| !t.is_empty())?;
        if !regex {
            return Some(Matcher::Text(text.to_string()));
        }
        match regex::RegexBuilder::new(text).size_limit(1 << 20).build() {
            Ok(r) => Some(Matcher::Pattern(r)),
            Err(e) => {
                self.add(field, format!("is not a valid regular expression ({e})"));
                None
            }
        }
    }
}

pub fn tags(values: &[String], p: &mut Problems) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in values {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.len() > 32
            || !tag
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        {
            p.add(
                "tags",
                format!("{tag:?}: a tag is up to 32 letters, digits, - or _"),
            );
        } else if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}
