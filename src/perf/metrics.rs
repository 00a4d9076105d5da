//! Perf's part of `/metrics`: Watchpost's own requests as
//! `watchpost_http_requests` (counter) and
//! `watchpost_http_request_duration_seconds` (histogram) by route pattern,
//! method and status class. Both come from the same cumulative cells as the
//! stored minutes, and the `le` edges are edges of the stored histogram, so
//! the exported buckets are exact sums of what the pages show.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

use super::histogram::{EXPORT_EDGES_US, Histogram};
use super::service::Perf;

pub fn contribution(perf: Arc<Perf>) -> crate::metrics::Contribution {
    Arc::new(move |registry: &mut Registry| {
        registry.register_collector(Box::new(Requests(perf.clone())));
    })
}

struct Requests(Arc<Perf>);

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Requests")
    }
}

const CLASSES: [&str; 6] = ["", "1xx", "2xx", "3xx", "4xx", "5xx"];

/// Per-bucket counts at the export edges, then +Inf.
fn buckets(h: &Histogram) -> Vec<(f64, u64)> {
    let cumulative = h.cumulative(&EXPORT_EDGES_US);
    let mut out = Vec::with_capacity(cumulative.len() + 1);
    let mut previous = 0;
    for (edge, c) in EXPORT_EDGES_US.iter().zip(&cumulative) {
        out.push((*edge as f64 / 1e6, c - previous));
        previous = *c;
    }
    out.push((f64::INFINITY, h.count() - previous));
    out
}

impl Collector for Requests {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let totals = self.0.own_totals();
        let labels = |route: &str, method: &str, class: u8| {
            [
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                (
                    "status",
                    CLASSES
                        .get(usize::from(class))
                        .copied()
                        .unwrap_or("5xx")
                        .to_owned(),
                ),
            ]
        };
        {
            let mut family = encoder.encode_descriptor(
                "watchpost_http_requests",
                "HTTP requests answered, by route pattern, method and status class",
                None,
                MetricType::Counter,
            )?;
            for (route, method, class, cell) in &totals {
                let set = labels(route, method, *class);
                ConstCounter::new(cell.count).encode(family.encode_family(&set)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "watchpost_http_request_duration_seconds",
            "Time to answer HTTP requests, by route pattern, method and status class",
            None,
            MetricType::Histogram,
        )?;
        for (route, method, class, cell) in &totals {
            let set = labels(route, method, *class);
            family
                .encode_family(&set)?
                .encode_histogram::<Vec<(String, String)>>(
                    cell.sum_us as f64 / 1e6,
                    cell.hist.count(),
                    &buckets(&cell.hist),
                    None,
                )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_the_histogram_at_the_edges() {
        let mut h = Histogram::default();
        for us in [90, 100, 200, 61_000_000] {
            h.record(us);
        }
        let b = buckets(&h);
        assert_eq!(b.len(), EXPORT_EDGES_US.len() + 1);
        assert_eq!(b[0], (0.0001, 2));
        assert_eq!(b[1], (0.00025, 1));
        assert_eq!(b.last().map(|x| x.1), Some(1), "+Inf holds the 61 s one");
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 4);
        assert_eq!(super::super::histogram::bounds(0).1, 100);
    }
}
