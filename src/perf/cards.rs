//! The overview's requests card: Watchpost's own requests in the last hour
//! — how many, the p95 and the 5xx rate — with requests per minute as a
//! sparkline, and how many regressions are open.

use std::sync::Arc;

use super::model::SELF_SOURCE;
use super::service::Perf;
use super::views;
use crate::series::Bucket;
use crate::web::chart::sparkline;
use crate::web::{Card, CardSource};

pub fn card_source(perf: Arc<Perf>) -> CardSource {
    Arc::new(move || {
        let perf = perf.clone();
        Box::pin(async move {
            let Ok(view) = views::source(&perf, SELF_SOURCE, 1).await else {
                return Vec::new();
            };
            let open = perf.active_regressions().len();
            let buckets: Vec<Bucket> = view
                .points
                .iter()
                .map(|p| Bucket::of(p.ts, p.rpm))
                .collect();
            let to = perf.open_minute();
            vec![Card {
                title: "Requests".into(),
                value: value(&view.total, open),
                detail: "Watchpost's own requests in the last hour (p95, 5xx share) and open regressions.".into(),
                sparkline: (!buckets.is_empty()).then(|| sparkline(&buckets, 60, to - 3_600, to)),
                href: "/perf",
            }]
        })
    })
}

fn value(total: &super::model::Summary, open: usize) -> String {
    let p95 = total
        .p95_ms
        .map_or_else(|| "no p95 yet".to_owned(), |p| format!("p95 {p:.1} ms"));
    let regressions = match open {
        0 => String::new(),
        1 => " · 1 regression".to_owned(),
        n => format!(" · {n} regressions"),
    };
    format!(
        "{} req · {p95} · {:.1} % 5xx{regressions}",
        total.requests, total.error_rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::model::Summary;

    #[test]
    fn the_card_says_it_in_words() {
        let s = Summary {
            requests: 1200,
            p95_ms: Some(12.34),
            error_rate: 0.5,
            ..Summary::default()
        };
        assert_eq!(value(&s, 0), "1200 req · p95 12.3 ms · 0.5 % 5xx");
        assert_eq!(
            value(&Summary::default(), 2),
            "0 req · no p95 yet · 0.0 % 5xx · 2 regressions"
        );
    }
}
