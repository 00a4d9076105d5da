//! What a person writes to define a check, in one shape for `[[checks]]` in
//! `watchpost.toml`, the JSON API and (through [`super::form`]) the pages;
//! and its validation into a typed [`Check`] that the probes run. Every
//! problem is reported at once, each naming the field and what to write.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check::{Check, HttpProbe, JsonCondition, JsonTest, Probe, TlsProbe};
use super::fields::{Problems, tags};
use crate::config::Problem;

pub use super::check::BUILTIN;

pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);
const MAX_BODY: usize = 64 * 1024;
const MAX_SLUG: usize = 64;
/// A check as written: every kind's fields, the unused ones left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Definition {
    /// Stable id, `[a-z0-9-]`; the URLs and series use it.
    pub id: String,
    pub name: String,
    /// `http`, `tcp`, `tls` or `heartbeat`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `GET` (default), `HEAD` or `POST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `host:port`, for `tcp` and `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Status codes and ranges (`"200-399"`, `"404"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword_absent: Option<String>,
    /// Read `keyword` and `keyword_absent` as regular expressions.
    #[serde(skip_serializing_if = "is_false")]
    pub keyword_regex: bool,
    /// A JSON pointer (`/status`) into the response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    /// Certificate days left that make a `tls` check degraded (default 14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn_days: Option<u32>,
    /// … and down (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_days: Option<u32>,
    /// Heartbeats: how often the job pings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Heartbeats: how late a ping may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace: Option<String>,
    /// Consecutive failures before `down` (default 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_after: Option<u32>,
    /// Consecutive successes before `up` again (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recover_after: Option<u32>,
    /// Shown on the public status page.
    #[serde(skip_serializing_if = "is_false")]
    pub public: bool,
    /// The status page may show this check's target and error texts.
    #[serde(skip_serializing_if = "is_false")]
    pub public_details: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Definition {
    /// The typed check, or every problem with this definition. `prefix`
    /// names where it came from (`checks[2]`, or empty for a form).
    pub fn validate(&self, prefix: &str) -> Result<Check, Vec<Problem>> {
        let mut p = Problems {
            prefix: prefix.to_string(),
            list: Vec::new(),
        };
        let slug = self.id.trim().to_string();
        if slug.is_empty() {
            p.add(
                "id",
                "is required: a stable id of a-z, 0-9 and -, like \"homepage\"",
            );
        } else if slug.len() > MAX_SLUG
            || !slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || slug.starts_with('-')
        {
            p.add(
                "id",
                format!("{slug:?} must be 1–{MAX_SLUG} of a-z, 0-9 and -, not starting with -"),
            );
        }
        let name = self.name.trim().to_string();
        if name.is_empty() {
            p.add("name", "is required: what people call this service");
        } else if name.chars().count() > 100 || name.chars().any(char::is_control) {
            p.add(
                "name",
                "must be at most 100 characters, without control characters",
            );
        }
        let interval = p
            .duration("interval", &self.interval)
            .unwrap_or(DEFAULT_INTERVAL);
        if interval < MIN_INTERVAL {
            p.add("interval", "must be at least 10s");
        }
        let timeout = p
            .duration("timeout", &self.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            p.add("timeout", "must be between 1ms and 120s");
        }
        let fail_after = self.fail_after.unwrap_or(2);
        let recover_after = self.recover_after.unwrap_or(1);
        if !(1..=100).contains(&fail_after) {
            p.add("fail_after", "must be between 1 and 100");
        }
        if !(1..=100).contains(&recover_after) {
            p.add("recover_after", "must be between 1 and 100");
        }
        let tags = tags(&self.tags, &mut p);
        let probe = match self.kind.trim() {
            "http" => self.http(&mut p, timeout).map(|h| Probe::Http(Box::new(h))),
            "tcp" => p
                .target(&self.target)
                .map(|(host, port)| Probe::Tcp { host, port }),
            "tls" => self.tls(&mut p),
            "heartbeat" => self.heartbeat(&mut p),
            BUILTIN => Some(Probe::Builtin(self.target.clone().unwrap_or_default())),
            "" => {
                p.add("kind", "is required: http, tcp, tls or heartbeat");
                None
            }
            other => {
                p.add(
                    "kind",
                    format!("{other:?} is not a kind; use http, tcp, tls or heartbeat"),
                );
                None
            }
        };
        match probe {
            Some(probe) if p.list.is_empty() => Ok(Check {
                slug,
                name,
                probe,
                interval,
                timeout,
                fail_after,
                recover_after,
                public: self.public,
                public_details: self.public_details,
                tags,
            }),
            _ => Err(p.list),
        }
    }

    fn http(&self, p: &mut Problems, timeout: Duration) -> Option<HttpProbe> {
        let url = match self.url.as_deref().map(str::trim) {
            None | Some("") => {
                p.add("url", "is required for an http check");
                None
            }
            Some(text) => match url::Url::parse(text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                Ok(_) => {
                    p.add(
                        "url",
                        format!("{text:?} must be an http:// or https:// URL"),
                    );
                    None
                }
                Err(e) => {
                    p.add("url", format!("{text:?} is not a URL ({e})"));
                    None
                }
            },
        };
        let method = match self
            .method
            .as_deref()
            .unwrap_or("GET")
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "" | "GET" => reqwest::Method::GET,
            "HEAD" => reqwest::Method::HEAD,
            "POST" => reqwest::Method::POST,
            other => {
                p.add("method", format!("{other:?} is not GET, HEAD or POST"));
                reqwest::Method::GET
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let ok_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
            let ok_value = reqwest::header::HeaderValue::from_str(value).is_ok();
            if !ok_name || !ok_value {
                p.add(
                    "headers",
                    format!("{name:?} is not a valid header name and value"),
                );
            } else {
                headers.push((name.clone(), value.clone()));
            }
        }
        if self.body.as_ref().is_some_and(|b| b.len() > MAX_BODY) {
            p.add("body", "must be at most 64 KiB");
        }
        let expect = p.statuses(&self.expect_status);
        let keyword = p.matcher("keyword", &self.keyword, self.keyword_regex);
        let keyword_absent = p.matcher("keyword_absent", &self.keyword_absent, self.keyword_regex);
        let json = self.json_condition(p);
        let degraded_after = p.duration("degraded_after", &self.degraded_after);
        if degraded_after.is_some_and(|d| d >= timeout) {
            p.add("degraded_after", "must be shorter than the timeout");
        }
        Some(HttpProbe {
            url: url?,
            method,
            headers,
            body: self.body.clone().filter(|b| !b.is_empty()),
            expect,
            keyword,
            keyword_absent,
            json,
            degraded_after,
            follow_redirects: self.follow_redirects.unwrap_or(true),
            verify_tls: self.verify_tls.unwrap_or(true),
        })
    }

    fn json_condition(&self, p: &mut Problems) -> Option<JsonCondition> {
        let pointer = self
            .json_pointer
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let equals = self.json_equals.clone();
        let contains = self.json_contains.clone();
        match (pointer, equals, contains) {
            (None, None, None) => None,
            (Some(ptr), _, _) if !ptr.starts_with('/') => {
                p.add(
                    "json_pointer",
                    format!("{ptr:?} must start with / (like /status)"),
                );
                None
            }
            (Some(ptr), Some(v), None) => Some(JsonCondition {
                pointer: ptr.to_string(),
                test: JsonTest::Equals(v),
            }),
            (Some(ptr), None, Some(v)) => Some(JsonCondition {
                pointer: ptr.to_string(),
                test: JsonTest::Contains(v),
            }),
            (Some(_), Some(_), Some(_)) => {
                p.add("json_equals", "give json_equals or json_contains, not both");
                None
            }
            (Some(_), None, None) => {
                p.add("json_pointer", "needs json_equals or json_contains");
                None
            }
            (None, _, _) => {
                p.add(
                    "json_pointer",
                    "is required with json_equals or json_contains",
                );
                None
            }
        }
    }

    fn tls(&self, p: &mut Problems) -> Option<Probe> {
        let target = p.target(&self.target);
        let warn_days = self.warn_days.unwrap_or(14);
        let critical_days = self.critical_days.unwrap_or(3);
        if critical_days > warn_days {
            p.add("critical_days", "must not be more than warn_days");
        }
        let (host, port) = target?;
        Some(Probe::Tls(TlsProbe {
            host,
            port,
            warn_days,
            critical_days,
            verify: self.verify_tls.unwrap_or(true),
        }))
    }

    fn heartbeat(&self, p: &mut Problems) -> Option<Probe> {
        let period = p.duration("period", &self.period);
        let grace = p
            .duration("grace", &self.grace)
            .unwrap_or(Duration::from_secs(3600));
        match period {
            None if self.period.is_none() => {
                p.add(
                    "period",
                    "is required for a heartbeat: how often the job runs, like \"24h\"",
                );
                None
            }
            Some(period) if period < Duration::from_secs(60) => {
                p.add("period", "must be at least 1m");
                None
            }
            Some(period) => Some(Probe::Heartbeat { period, grace }),
            None => None,
        }
    }
}

/// Header names whose values are credentials (shown as `[redacted]`).
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "cookie"
        || name == "proxy-authorization"
        || crate::redact::is_secret_name(&name)
}

/// The definition with credential header values as `[redacted]` (for
/// pages, the API and `config dump`).
pub fn redacted(def: &Definition) -> Definition {
    let mut def = def.clone();
    for (name, value) in def.headers.iter_mut() {
        if is_secret_header(name) {
            *value = crate::redact::REDACTED.to_string();
        }
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str) -> Definition {
        Definition {
            id: "home".into(),
            name: "Home".into(),
            kind: "http".into(),
            url: Some(url.into()),
            ..Definition::default()
        }
    }

    #[test]
    fn an_http_check_gets_the_documented_defaults() {
        let check = http("https://example.com/").validate("").unwrap();
        assert_eq!(check.interval, DEFAULT_INTERVAL);
        assert_eq!(check.timeout, DEFAULT_TIMEOUT);
        assert_eq!((check.fail_after, check.recover_after), (2, 1));
        let Probe::Http(h) = check.probe else {
            panic!("http")
        };
        assert_eq!(h.expect, vec![(200, 399)]);
        assert!(h.follow_redirects && h.verify_tls);
        assert_eq!(h.method, reqwest::Method::GET);
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let def = Definition {
            id: "Bad Id".into(),
            kind: "http".into(),
            url: Some("ftp://x".into()),
            interval: Some("5s".into()),
            expect_status: vec!["200-99".into()],
            keyword: Some("(".into()),
            keyword_regex: true,
            ..Definition::default()
        };
        let problems = def.validate("checks[0]").unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "checks[0].id",
                "checks[0].name",
                "checks[0].interval",
                "checks[0].url",
                "checks[0].expect_status",
                "checks[0].keyword"
            ]
        );
    }

    #[test]
    fn tcp_tls_and_heartbeat_read_their_fields() {
        let tcp = Definition {
            id: "db".into(),
            name: "DB".into(),
            kind: "tcp".into(),
            target: Some("db.internal:5432".into()),
            ..Definition::default()
        };
        assert!(matches!(
            tcp.validate("").unwrap().probe,
            Probe::Tcp { port: 5432, .. }
        ));
        let bad = Definition {
            target: Some("db.internal".into()),
            ..tcp.clone()
        };
        assert_eq!(bad.validate("").unwrap_err()[0].key, "target");
        let beat = Definition {
            id: "backup".into(),
            name: "Backup".into(),
            kind: "heartbeat".into(),
            period: Some("24h".into()),
            grace: Some("1h".into()),
            ..Definition::default()
        };
        let Probe::Heartbeat { period, grace } = beat.validate("").unwrap().probe else {
            panic!("heartbeat")
        };
        assert_eq!((period.as_secs(), grace.as_secs()), (86_400, 3600));
        let tls = Definition {
            kind: "tls".into(),
            target: Some("[::1]:443".into()),
            warn_days: Some(2),
            ..beat
        };
        assert_eq!(tls.validate("").unwrap_err()[0].key, "critical_days");
    }

    #[test]
    fn the_toml_shape_of_the_readme_parses() {
        let text = r#"
            id = "homepage"
            name = "Homepage"
            kind = "http"
            url = "https://example.com/"
            interval = "60s"
            timeout = "10s"
            expect_status = ["200-399"]
            keyword = "Welcome"
            degraded_after = "2s"
            public = true
            tags = ["web"]
        "#;
        let def: Definition = toml::from_str(text).unwrap();
        let check = def.validate("").unwrap();
        assert!(check.public);
        assert_eq!(check.tags, vec!["web"]);
        assert!(toml::from_str::<Definition>("id = \"x\"\nnmae = \"typo\"").is_err());
    }
}
