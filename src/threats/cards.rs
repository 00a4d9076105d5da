//! The overview's security card: security events in the last 24 hours and
//! the bans in force.

use std::sync::Arc;

use super::repo::{bans, events};
use super::service::Threats;
use crate::web::{Card, CardSource};

const DAY_MS: i64 = 86_400_000;

pub fn card_source(threats: Arc<Threats>) -> CardSource {
    Arc::new(move || {
        let threats = threats.clone();
        Box::pin(async move {
            let now = threats.clock.now_ms();
            let counts = threats
                .store
                .read(move |conn| {
                    Ok((
                        events::total_since(conn, now - DAY_MS)?,
                        bans::active(conn, now)?.len(),
                    ))
                })
                .await;
            let Ok((events, bans)) = counts else {
                return Vec::new();
            };
            vec![Card {
                title: "Security".into(),
                value: summary(events, bans),
                detail: "Security events in the last 24 h, and bans in force.".into(),
                sparkline: None,
                href: "/security",
            }]
        })
    })
}

fn summary(events: i64, bans: usize) -> String {
    let plural = |n: i64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    format!(
        "{} · {}",
        plural(events, "event", "events"),
        plural(i64::try_from(bans).unwrap_or(i64::MAX), "ban", "bans")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_counts_in_words() {
        assert_eq!(summary(0, 0), "0 events · 0 bans");
        assert_eq!(summary(1, 1), "1 event · 1 ban");
        assert_eq!(summary(4_210, 3), "4210 events · 3 bans");
    }
}
