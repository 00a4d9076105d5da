//! A validated check, as the probes run it: the typed form of a
//! [`super::definition::Definition`], with parsed URLs, compiled patterns
//! and durations.

use std::time::Duration;

use regex::Regex;

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
