//! Request statistics for `/metrics`: a counter and a duration histogram per
//! route pattern, method and status class, updated by the access-log layer
//! for every response. Process-wide, like the log-line counters.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: &'static str,
}

type Durations = Family<RequestLabels, Histogram, fn() -> Histogram>;

struct Stats {
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
}

fn histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0001, 2.0, 16,
    ))
}

fn stats() -> &'static Stats {
    static STATS: OnceLock<Stats> = OnceLock::new();
    STATS.get_or_init(|| Stats {
        requests: Family::default(),
        durations: Family::new_with_constructor(histogram as fn() -> Histogram),
    })
}

/// Counts one response.
pub fn record(route: &str, method: &str, status: u16, seconds: f64) {
    let labels = RequestLabels {
        route: route.to_string(),
        method: standard_method(method).to_string(),
        status: status_class(status),
    };
    let s = stats();
    s.requests.get_or_create(&labels).inc();
    s.durations.get_or_create(&labels).observe(seconds);
}

/// Adds the request families to a registry being encoded.
pub fn register(registry: &mut Registry) {
    let s = stats();
    registry.register(
        "watchpost_http_requests",
        "HTTP requests answered, by route pattern, method and status class",
        s.requests.clone(),
    );
    registry.register(
        "watchpost_http_request_duration_seconds",
        "Time to answer HTTP requests, by route pattern, method and status class",
        s.durations.clone(),
    );
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Unknown methods share one label value, so they cannot grow the series.
fn standard_method(method: &str) -> &str {
    match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(standard_method("BREW"), "other");
        assert_eq!(standard_method("GET"), "GET");
    }
}
