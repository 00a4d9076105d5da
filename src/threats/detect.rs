//! What a request (Watchpost's own, or a line of the host's access log) or an
//! sshd failure says about its sender: which detectors it feeds. Paths and
//! queries are percent-decoded twice (to see through double encoding),
//! lowercased, and SQL comments and `+` read as spaces before matching, so
//! `%252e%252e%252f` and `UNION/**/SELECT` are seen for what they are.
//!
//! This module is pure: no clock, no state, no I/O. It must never allocate
//! for a request that needs no decoding and matches nothing suspicious
//! beyond what the lowercase copy costs.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::patterns;

/// One detector: a kind of hostile behaviour with its own leaky bucket per IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Many distinct paths answered 4xx (a crawler of guesses).
    PathProbe,
    /// Configuration and credential files (`.env`, `.git/config`).
    SensitiveFile,
    /// Scanner user agents (sqlmap, nikto…).
    BadAgent,
    /// `../`, `/etc/passwd`, `php://`.
    Traversal,
    /// Admin panels of software that is not here (`/wp-admin`), on 4xx.
    AdminPath,
    /// `union select`, `sleep(`.
    Sqli,
    /// `<script`, `onerror=`.
    Xss,
    /// Failed logins (401 on the login and 2FA forms, on the API with a token,
    /// or behind nginx basic auth).
    HttpBruteforce,
    /// Failed sshd authentications.
    SshBruteforce,
}

impl Detector {
    pub const ALL: [Detector; 9] = [
        Detector::PathProbe,
        Detector::SensitiveFile,
        Detector::BadAgent,
        Detector::Traversal,
        Detector::AdminPath,
        Detector::Sqli,
        Detector::Xss,
        Detector::HttpBruteforce,
        Detector::SshBruteforce,
    ];

    /// The configuration key (`threats.detectors.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Detector::PathProbe => "path_probe",
            Detector::SensitiveFile => "sensitive_file",
            Detector::BadAgent => "bad_agent",
            Detector::Traversal => "traversal",
            Detector::AdminPath => "admin_path",
            Detector::Sqli => "sqli",
            Detector::Xss => "xss",
            Detector::HttpBruteforce => "http_bruteforce",
            Detector::SshBruteforce => "ssh_bruteforce",
        }
    }

    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The security event a hit (or, for the counting detectors, an
    /// overflow) is recorded as.
    pub fn event_kind(self) -> &'static str {
        match self {
            Detector::PathProbe | Detector::AdminPath => "probe.path",
            Detector::SensitiveFile => "probe.sensitive_file",
            Detector::BadAgent => "probe.bad_agent",
            Detector::Traversal => "probe.traversal",
            Detector::Sqli => "probe.sqli",
            Detector::Xss => "probe.xss",
            Detector::HttpBruteforce => "auth.bruteforce",
            Detector::SshBruteforce => "ssh.bruteforce",
        }
    }

    /// Whether one hit is itself worth a security event. Path probes and
    /// failed logins are ordinary one at a time (a missing favicon, a typo);
    /// only their overflow is an event.
    pub fn hit_is_event(self) -> bool {
        !matches!(
            self,
            Detector::PathProbe
                | Detector::AdminPath
                | Detector::HttpBruteforce
                | Detector::SshBruteforce
        )
    }

    /// Whether hits must be distinct paths to count (a probe tries many).
    pub fn counts_distinct_paths(self) -> bool {
        matches!(self, Detector::PathProbe)
    }
}

/// One HTTP request as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub status: u16,
    /// Whether the request was a login attempt (a credential was checked).
    pub login: bool,
}

/// The detectors a request feeds, without duplicates, in [`Detector::ALL`] order.
pub fn classify(req: &Request<'_>) -> Vec<Detector> {
    let mut hits = Vec::new();
    let path = normalise(req.path, false);
    let query = req.query.map(|q| normalise(q, true));
    let in_either = |m: &patterns::Fragments| {
        m.found_in(&path) || query.as_deref().is_some_and(|q| m.found_in(q))
    };
    let client_error = (400..500).contains(&req.status);
    if client_error && req.status != 401 && req.status != 429 {
        hits.push(Detector::PathProbe);
    }
    if patterns::SENSITIVE.found_in(&path) {
        hits.push(Detector::SensitiveFile);
    }
    if req
        .user_agent
        .is_some_and(|ua| patterns::AGENTS.found_in(&ua.to_ascii_lowercase()))
    {
        hits.push(Detector::BadAgent);
    }
    if in_either(&patterns::TRAVERSALS) {
        hits.push(Detector::Traversal);
    }
    if client_error && patterns::is_admin_path(&path) {
        hits.push(Detector::AdminPath);
    }
    if in_either(&patterns::INJECTIONS) {
        hits.push(Detector::Sqli);
    }
    if in_either(&patterns::SCRIPTS) {
        hits.push(Detector::Xss);
    }
    if req.login && req.status == 401 {
        hits.push(Detector::HttpBruteforce);
    }
    hits
}

/// Decoded twice, lowercased, with SQL comments, `+` (in queries) and runs
/// of whitespace read as one space.
pub fn normalise(raw: &str, query: bool) -> String {
    let once = decode(raw);
    let twice = decode(&once);
    let mut out = String::with_capacity(twice.len());
    let mut rest = twice.as_ref();
    let mut last_space = false;
    while let Some(c) = rest.chars().next() {
        let (space, len) = match c {
            '/' if rest.starts_with("/*") => {
                let end = rest[2..].find("*/").map_or(rest.len(), |i| i + 4);
                (true, end)
            }
            '+' if query => (true, 1),
            c if c.is_whitespace() => (true, c.len_utf8()),
            c => (false, c.len_utf8()),
        };
        if space {
            if !last_space {
                out.push(' ');
            }
        } else {
            out.extend(c.to_lowercase());
        }
        last_space = space;
        rest = &rest[len..];
    }
    out
}

fn decode(s: &str) -> Cow<'_, str> {
    if s.contains('%') {
        percent_decode_str(s).decode_utf8_lossy()
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, status: u16) -> Vec<Detector> {
        let (path, query) = path
            .split_once('?')
            .map_or((path, None), |(p, q)| (p, Some(q)));
        classify(&Request {
            method: "GET",
            path,
            query,
            user_agent: Some("Mozilla/5.0"),
            status,
            login: false,
        })
    }

    #[test]
    fn ordinary_requests_feed_nothing() {
        assert!(get("/", 200).is_empty());
        assert!(get("/checks?state=down", 200).is_empty());
        assert!(get("/assets/app.css", 304).is_empty());
        assert!(get("/search?q=selecting+a+union+rep", 200).is_empty());
    }

    #[test]
    fn each_probe_is_recognised_through_encoding() {
        assert_eq!(
            get("/.env", 404),
            [Detector::PathProbe, Detector::SensitiveFile]
        );
        assert!(
            get("/static/%252e%252e%252f%252e%252e%252fetc/passwd", 404)
                .contains(&Detector::Traversal)
        );
        assert!(get("/item?id=1%20UNION/**/SELECT%20password", 200).contains(&Detector::Sqli));
        assert!(get("/item?id=1+union+all+select+1,2", 200).contains(&Detector::Sqli));
        assert!(get("/q?x=%3Cscript%3Ealert(1)%3C/script%3E", 200).contains(&Detector::Xss));
        assert!(get("/wp-admin/setup-config.php", 404).contains(&Detector::AdminPath));
        assert!(!get("/wp-admin/", 200).contains(&Detector::AdminPath));
        assert!(
            get("/download?file=php://filter/resource=index", 200).contains(&Detector::Traversal)
        );
    }

    #[test]
    fn scanner_agents_and_failed_logins_are_recognised() {
        let scan = classify(&Request {
            method: "GET",
            path: "/",
            query: None,
            user_agent: Some("Mozilla/5.0 (compatible; Nmap Scripting Engine)"),
            status: 200,
            login: false,
        });
        assert_eq!(scan, [Detector::BadAgent]);
        let login = Request {
            method: "POST",
            path: "/login",
            query: None,
            user_agent: None,
            status: 401,
            login: true,
        };
        assert_eq!(classify(&login), [Detector::HttpBruteforce]);
        assert!(
            classify(&Request {
                status: 303,
                ..login
            })
            .is_empty()
        );
    }

    #[test]
    fn unauthorised_and_rate_limited_answers_are_not_path_probes() {
        assert!(get("/api/v1/checks", 401).is_empty());
        assert!(get("/login", 429).is_empty());
    }

    #[test]
    fn normalising_collapses_comments_and_spaces() {
        assert_eq!(normalise("A%2520B/**/c", false), "a b c");
        assert_eq!(normalise("x+y", true), "x y");
        assert_eq!(normalise("x+y", false), "x+y");
        assert_eq!(normalise("unterminated/*comment", false), "unterminated ");
    }

    #[test]
    fn names_round_trip() {
        for d in Detector::ALL {
            assert_eq!(Detector::from_name(d.name()), Some(d));
        }
    }
}
