//! The pattern lists of the detectors, kept as data files beside this module
//! (`patterns/*.txt`, one lowercase fragment per line, `#` comments) and
//! embedded at build time. Matching is case-insensitive over text that
//! [`super::detect`] has already decoded and lowercased.
//!
//! This module must never hold a pattern in code: the lists are the data
//! files, so a reviewer reads them in one place.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

const SENSITIVE_FILES: &str = include_str!("patterns/sensitive_files.txt");
const BAD_AGENTS: &str = include_str!("patterns/bad_agents.txt");
const TRAVERSAL: &str = include_str!("patterns/traversal.txt");
const ADMIN_PATHS: &str = include_str!("patterns/admin_paths.txt");
const SQLI: &str = include_str!("patterns/sqli.txt");
const XSS: &str = include_str!("patterns/xss.txt");

/// The lines of a pattern file that are patterns.
fn entries(file: &'static str) -> Vec<&'static str> {
    file.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Fragments matched anywhere in a text.
pub struct Fragments(Option<AhoCorasick>);

impl Fragments {
    fn of(file: &'static str) -> Fragments {
        // Built from our own embedded lists; a failure would only mean an
        // empty matcher, which the tests would catch.
        Fragments(AhoCorasick::new(entries(file)).ok())
    }

    pub fn found_in(&self, text: &str) -> bool {
        self.0.as_ref().is_some_and(|m| m.is_match(text))
    }
}

pub static SENSITIVE: LazyLock<Fragments> = LazyLock::new(|| Fragments::of(SENSITIVE_FILES));
pub static AGENTS: LazyLock<Fragments> = LazyLock::new(|| Fragments::of(BAD_AGENTS));
pub static TRAVERSALS: LazyLock<Fragments> = LazyLock::new(|| Fragments::of(TRAVERSAL));
pub static INJECTIONS: LazyLock<Fragments> = LazyLock::new(|| Fragments::of(SQLI));
pub static SCRIPTS: LazyLock<Fragments> = LazyLock::new(|| Fragments::of(XSS));
pub static ADMIN: LazyLock<Vec<&'static str>> = LazyLock::new(|| entries(ADMIN_PATHS));

/// Whether a decoded, lowercased path starts with a known admin panel's path.
pub fn is_admin_path(path: &str) -> bool {
    ADMIN.iter().any(|prefix| path.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_loads_and_has_no_uppercase_entries() {
        for file in [
            SENSITIVE_FILES,
            BAD_AGENTS,
            TRAVERSAL,
            ADMIN_PATHS,
            SQLI,
            XSS,
        ] {
            let list = entries(file);
            assert!(list.len() >= 10, "a list has only {} entries", list.len());
            for entry in list {
                assert_eq!(entry, entry.to_lowercase(), "{entry} must be lowercase");
            }
        }
        for matcher in [&*SENSITIVE, &*AGENTS, &*TRAVERSALS, &*INJECTIONS, &*SCRIPTS] {
            assert!(matcher.0.is_some());
        }
    }

    #[test]
    fn fragments_match_anywhere_and_admin_paths_only_at_the_start() {
        assert!(SENSITIVE.found_in("/app/.env"));
        assert!(AGENTS.found_in("sqlmap/1.7.2#stable (https://sqlmap.org)"));
        assert!(!AGENTS.found_in("mozilla/5.0 (x11; linux x86_64) firefox/133.0"));
        assert!(is_admin_path("/wp-admin/install.php"));
        assert!(!is_admin_path("/blog/wp-admin"));
    }
}
