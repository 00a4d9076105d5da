//! Route names for access-log lines. Web-server logs give raw paths
//! (`/users/123/orders/9f8b…`); per-route statistics need route patterns,
//! or every id would become its own route. The user's rules (regex over the
//! whole path → name) are tried first; otherwise each `/` segment that is a
//! number, UUID, hex id, e-mail address, date or over-long token becomes a
//! placeholder (`{id}`, `{uuid}`, `{hex}`, `{email}`, `{date}`, `{long}`),
//! keeping an extension (`123.json` → `{id}.json`). A cap on distinct
//! routes per source folds the rest into `{other}`, so cardinality is
//! bounded whatever the traffic. The built-in checks are byte scans: this
//! runs for every log line.

use std::collections::HashSet;

/// A user rule: the first whose regex matches the raw path names the route.
pub struct RouteRule {
    pub regex: regex::Regex,
    pub name: String,
}

/// Where requests beyond the route cap are counted.
pub const OTHER: &str = "{other}";
/// Routes are cut to this many bytes.
const MAX_ROUTE: usize = 256;
/// Segments longer than this are tokens, not names.
const MAX_SEGMENT: usize = 64;

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_hex_id(s: &[u8]) -> bool {
    s.len() >= 8
        && s.iter().all(u8::is_ascii_hexdigit)
        && s.iter().any(u8::is_ascii_digit)
        && s.iter().any(|b| b.is_ascii_alphabetic())
}

fn is_date(s: &[u8]) -> bool {
    s.len() == 10
        && s.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn is_email(s: &str) -> bool {
    let (local, domain) = match s.split_once('@').or_else(|| {
        let lower = s.find("%40")?;
        Some((&s[..lower], &s[lower + 3..]))
    }) {
        Some(parts) => parts,
        None => return false,
    };
    !local.is_empty()
        && domain
            .rsplit_once('.')
            .is_some_and(|(host, tld)| !host.is_empty() && tld.len() >= 2)
}

/// The placeholder for a segment's stem, if it is an id of some kind.
fn placeholder(stem: &str) -> Option<&'static str> {
    let b = stem.as_bytes();
    if b.is_empty() {
        None
    } else if b.iter().all(u8::is_ascii_digit) {
        Some("{id}")
    } else if is_uuid(b) {
        Some("{uuid}")
    } else if is_date(b) {
        Some("{date}")
    } else if is_hex_id(b) {
        Some("{hex}")
    } else if is_email(stem) {
        Some("{email}")
    } else {
        None
    }
}

fn segment(seg: &str, out: &mut String) {
    if seg.len() > MAX_SEGMENT {
        out.push_str("{long}");
        return;
    }
    if let Some(p) = placeholder(seg) {
        out.push_str(p);
        return;
    }
    // `123.json`: the stem is an id, the extension stays.
    if let Some((stem, ext)) = seg.rsplit_once('.')
        && !ext.is_empty()
        && ext.len() <= 8
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && let Some(p) = placeholder(stem)
    {
        out.push_str(p);
        out.push('.');
        out.push_str(ext);
        return;
    }
    out.push_str(seg);
}

/// Built-in normalisation of one path (no user rules, no cap).
pub fn placeholders(path: &str) -> String {
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len().min(MAX_ROUTE));
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        segment(seg, &mut out);
        if out.len() > MAX_ROUTE {
            break;
        }
    }
    cut(out)
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_ROUTE {
        let mut end = MAX_ROUTE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// A source's normaliser: its rules, the routes admitted so far and the cap.
pub struct Normaliser {
    rules: Vec<RouteRule>,
    admitted: HashSet<String>,
    cap: usize,
    overflowed: u64,
}

impl Normaliser {
    /// `known`: routes admitted earlier (read back at start); they count toward the cap.
    pub fn new(
        rules: Vec<RouteRule>,
        cap: usize,
        known: impl IntoIterator<Item = String>,
    ) -> Normaliser {
        Normaliser {
            rules,
            admitted: known.into_iter().filter(|r| r != OTHER).collect(),
            cap,
            overflowed: 0,
        }
    }

    /// The route of a raw path: the first matching rule, else the
    /// placeholders; [`OTHER`] once `cap` distinct routes are admitted.
    pub fn route(&mut self, path: &str) -> String {
        let path = path.split('?').next().unwrap_or("");
        let route = match self.rules.iter().find(|r| r.regex.is_match(path)) {
            Some(rule) => cut(rule.name.clone()),
            None => placeholders(path),
        };
        if self.admitted.contains(&route) {
            return route;
        }
        if self.admitted.len() >= self.cap {
            self.overflowed += 1;
            return OTHER.to_owned();
        }
        self.admitted.insert(route.clone());
        route
    }

    /// Requests folded into [`OTHER`] so far.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_normalisation_table() {
        let long = format!("/t/{}", "a".repeat(65));
        for (path, want) in [
            ("", "/"),
            ("/", "/"),
            ("/users/123", "/users/{id}"),
            ("/users/123/orders/7", "/users/{id}/orders/{id}"),
            ("/u/550e8400-e29b-41d4-a716-446655440000", "/u/{uuid}"),
            ("/u/550E8400-E29B-41D4-A716-446655440000/x", "/u/{uuid}/x"),
            ("/commit/9f8b2c1d4e5f", "/commit/{hex}"),
            ("/o/507f1f77bcf86cd799439011", "/o/{hex}"),
            ("/words/deadbeef", "/words/deadbeef"),
            ("/words/abcdefab", "/words/abcdefab"),
            ("/invite/jo@example.com", "/invite/{email}"),
            ("/invite/jo%40example.com", "/invite/{email}"),
            ("/not/jo@", "/not/jo@"),
            ("/report/2026-12-02", "/report/{date}"),
            ("/api/items/123.json", "/api/items/{id}.json"),
            (
                "/img/550e8400-e29b-41d4-a716-446655440000.png",
                "/img/{uuid}.png",
            ),
            ("/api/v1/users", "/api/v1/users"),
            ("/2fa/setup", "/2fa/setup"),
            ("/static/app.css", "/static/app.css"),
            ("/search?q=123", "/search"),
            ("/trailing/", "/trailing/"),
            (long.as_str(), "/t/{long}"),
        ] {
            assert_eq!(placeholders(path), want, "{path}");
        }
    }

    fn rule(pattern: &str, name: &str) -> RouteRule {
        RouteRule {
            regex: regex::Regex::new(pattern).unwrap(),
            name: name.into(),
        }
    }

    #[test]
    fn user_rules_come_first_and_the_first_match_wins() {
        let mut n = Normaliser::new(
            vec![
                rule(r"^/@[^/]+$", "/@{user}"),
                rule(r"^/@", "/@{user}/more"),
                rule(r"^/users/\d+$", "/users/{user}"),
            ],
            100,
            [],
        );
        assert_eq!(n.route("/@alice"), "/@{user}");
        assert_eq!(n.route("/@alice/posts"), "/@{user}/more");
        assert_eq!(n.route("/users/9"), "/users/{user}");
        assert_eq!(n.route("/users/9/x"), "/users/{id}/x");
    }

    #[test]
    fn the_cap_folds_new_routes_into_other() {
        let mut n = Normaliser::new(Vec::new(), 3, ["/known".to_owned()]);
        assert_eq!(n.route("/a"), "/a");
        assert_eq!(n.route("/b/1"), "/b/{id}");
        assert_eq!(n.route("/c"), OTHER, "/known counts toward the cap");
        assert_eq!(n.route("/d"), OTHER);
        assert_eq!(
            n.route("/a"),
            "/a",
            "admitted routes still map to themselves"
        );
        assert_eq!(n.route("/known"), "/known");
        assert_eq!(n.route("/b/2"), "/b/{id}");
        assert_eq!(n.overflowed(), 2);
    }

    proptest! {
        #[test]
        fn no_path_panics_or_grows_past_the_cap(path in ".{0,600}") {
            let out = placeholders(&path);
            prop_assert!(out.len() <= MAX_ROUTE);
            let mut n = Normaliser::new(vec![rule("^/x", &"y".repeat(300))], 2, []);
            prop_assert!(n.route(&path).len() <= MAX_ROUTE);
        }
    }
}
