//! What a person writes to define a check, in one shape for `[[checks]]` in
//! `watchpost.toml`, the JSON API and (through [`super::form`]) the pages;
//! and its validation into a typed [`Check`] that the probes run. Every
//! problem is reported at once, each naming the field and what to write.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::Problem;

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

/// A validated check, ready to run.
#[derive(Debug, Clone)]
pub struct Check {
    pub slug: String,
    pub name: String,
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub fail_after: u32,
    pub recover_after: u32,
    pub public: bool,
    pub public_details: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Probe {
    Http(Box<HttpProbe>),
    Tcp {
        host: String,
        port: u16,
    },
    Tls(TlsProbe),
    Heartbeat {
        period: Duration,
        grace: Duration,
    },
    /// One of Watchpost's own checks (database, disk, collector).
    Builtin(String),
}

impl Probe {
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http(_) => "http",
            Probe::Tcp { .. } => "tcp",
            Probe::Tls(_) => "tls",
            Probe::Heartbeat { .. } => "heartbeat",
            Probe::Builtin(_) => "builtin",
        }
    }

    /// What the check looks at, for people (never shown publicly unless allowed).
    pub fn target(&self) -> String {
        match self {
            Probe::Http(h) => h.url.to_string(),
            Probe::Tcp { host, port } => format!("{host}:{port}"),
            Probe::Tls(t) => format!("{}:{}", t.host, t.port),
            Probe::Heartbeat { period, grace } => format!(
                "every {} + {} grace",
                humantime::format_duration(*period),
                humantime::format_duration(*grace)
            ),
            Probe::Builtin(what) => format!("Watchpost {what}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpProbe {
    pub url: url::Url,
    pub method: reqwest::Method,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub expect: Vec<(u16, u16)>,
    pub keyword: Option<Matcher>,
    pub keyword_absent: Option<Matcher>,
    pub json: Option<JsonCondition>,
    pub degraded_after: Option<Duration>,
    pub follow_redirects: bool,
    pub verify_tls: bool,
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Text(String),
    Pattern(Regex),
}

impl Matcher {
    pub fn found_in(&self, body: &str) -> bool {
        match self {
            Matcher::Text(t) => body.contains(t.as_str()),
            Matcher::Pattern(r) => r.is_match(body),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Matcher::Text(t) => format!("keyword {t:?}"),
            Matcher::Pattern(r) => format!("pattern /{}/", r.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct JsonCondition {
    pub pointer: String,
    pub test: JsonTest,
}

#[derive(Debug, Clone)]
pub enum JsonTest {
    Equals(String),
    Contains(String),
}

#[derive(Debug, Clone)]
pub struct TlsProbe {
    pub host: String,
    pub port: u16,
    pub warn_days: u32,
    pub critical_days: u32,
    pub verify: bool,
}

/// Builtin kinds of [`Probe::Builtin`].
pub const BUILTIN: &str = "builtin";

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

/// Problems collected while validating, keyed under a prefix.
struct Problems {
    prefix: String,
    list: Vec<Problem>,
}

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        let key = if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        };
        self.list.push(Problem::new(key, message));
    }

    fn duration(&mut self, field: &str, value: &Option<String>) -> Option<Duration> {
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

    fn target(&mut self, value: &Option<String>) -> Option<(String, u16)> {
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

    fn statuses(&mut self, values: &[String]) -> Vec<(u16, u16)> {
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

    fn matcher(&mut self, field: &str, value: &Option<String>, regex: bool) -> Option<Matcher> {
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

fn tags(values: &[String], p: &mut Problems) -> Vec<String> {
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
