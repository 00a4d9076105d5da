//! The overview's checks card: how many checks are up, degraded and down,
//! naming the failing ones.

use std::sync::Arc;

use super::model::State;
use super::service::Checks;
use crate::web::{Card, CardSource};

pub fn card_source(checks: Arc<Checks>) -> CardSource {
    Arc::new(move || {
        let checks = checks.clone();
        Box::pin(async move {
            let Ok(all) = checks.all().await else {
                return Vec::new();
            };
            if all.is_empty() {
                return Vec::new();
            }
            let count = |s: State| all.iter().filter(|l| l.row.state == s).count();
            let failing: Vec<&str> = all
                .iter()
                .filter(|l| matches!(l.row.state, State::Down | State::Degraded))
                .map(|l| l.row.name.as_str())
                .collect();
            vec![Card {
                title: "Checks".into(),
                value: summary(count(State::Up), count(State::Degraded), count(State::Down)),
                detail: failing_text(&failing),
                sparkline: None,
                href: "/checks",
            }]
        })
    })
}

fn summary(up: usize, degraded: usize, down: usize) -> String {
    format!("{up} up · {degraded} degraded · {down} down")
}

fn failing_text(failing: &[&str]) -> String {
    match failing.len() {
        0 => "Nothing is failing.".into(),
        1..=3 => format!("Failing: {}", failing.join(", ")),
        n => format!("Failing: {} and {} more", failing[..3].join(", "), n - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_names_what_fails() {
        assert_eq!(summary(3, 1, 2), "3 up · 1 degraded · 2 down");
        assert_eq!(failing_text(&[]), "Nothing is failing.");
        assert_eq!(failing_text(&["API", "DB"]), "Failing: API, DB");
        assert_eq!(
            failing_text(&["a", "b", "c", "d", "e"]),
            "Failing: a, b, c and 2 more"
        );
    }
}
