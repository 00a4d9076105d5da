//! `GET /metrics`: the Prometheus text exposition, built with
//! `prometheus-client` at each scrape from every registered
//! [`Contribution`] (the host's gauges, say) plus the platform's own: HTTP
//! requests and durations, log lines by level, dropped log lines, database
//! and WAL size, writer queue depth.
//!
//! The crate writes OpenMetrics; a scraper that asks for it (`Accept:
//! application/openmetrics-text`, as Prometheus does) gets it as written,
//! anyone else the classic text format 0.0.4, which differs only in naming
//! counter families with their `_total` suffix and having no `# EOF`.
//!
//! Access: a client whose IP lies in `metrics.allow_from`, or a request with
//! an API token of the `metrics` scope (the accounts feature registers that
//! check as [`MetricsToken`]). The default list is empty: token only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use ipnet::IpNet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};
use crate::error::AppError;
use crate::http::ClientIp;
use crate::http::routes::{Access, Routes};
use crate::store::Store;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `[metrics]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Addresses or networks (CIDR) whose clients may scrape without a token.
    /// A list, or one comma-separated string (handy in the environment).
    #[serde(deserialize_with = "crate::http::list_or_comma_separated")]
    pub allow_from: Vec<String>,
}

impl MetricsConfig {
    /// The parsed networks (validation refuses the configuration first when
    /// one does not parse).
    pub fn networks(&self) -> Vec<IpNet> {
        self.allow_from
            .iter()
            .filter_map(|n| crate::http::parse_network(n).ok())
            .collect()
    }
}

impl Section for MetricsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        for (i, text) in self.allow_from.iter().enumerate() {
            let key = format!("{prefix}.allow_from[{i}]");
            match crate::http::parse_network(text) {
                Ok(net) if net.prefix_len() == 0 => problems.push(Problem::new(
                    key,
                    "a /0 network lets everyone read /metrics; list your Prometheus server's address instead",
                )),
                Ok(_) => {}
                Err(e) => problems.push(Problem::new(key, format!("{e}"))),
            }
        }
    }
}

/// A feature's metrics, added to the registry being encoded.
pub type Contribution = Arc<dyn Fn(&mut Registry) + Send + Sync>;

/// Every contribution and the access list, as app data.
pub struct Exposition {
    pub contributions: Vec<Contribution>,
    pub allow_from: Vec<IpNet>,
}

/// Whether a request carries a valid `metrics` token.
pub struct MetricsToken(pub fn(HttpRequest) -> Pin<Box<dyn Future<Output = bool>>>);

async fn metrics(
    req: HttpRequest,
    exposition: web::Data<Exposition>,
    token: Option<web::Data<MetricsToken>>,
    store: web::Data<Store>,
) -> Result<HttpResponse, AppError> {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    let allowed = ip.is_some_and(|ip| exposition.allow_from.iter().any(|n| n.contains(&ip)));
    if !allowed {
        let has_token = match token {
            Some(check) => (check.0)(req.clone()).await,
            None => false,
        };
        if !has_token {
            return Err(AppError::Unauthorized);
        }
    }
    let mut registry = Registry::default();
    for contribute in &exposition.contributions {
        contribute(&mut registry);
    }
    platform(&mut registry, &store);
    let mut body = String::with_capacity(32 * 1024);
    encode(&mut body, &registry)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding /metrics: {e}")))?;
    let wants_openmetrics = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if wants_openmetrics {
        return Ok(HttpResponse::Ok().content_type(OPENMETRICS).body(body));
    }
    Ok(HttpResponse::Ok()
        .content_type(TEXT_FORMAT)
        .body(classic_text(&body)))
}

/// OpenMetrics text as the classic Prometheus text format: counter families
/// are named with their `_total` suffix in `# HELP` and `# TYPE`, and the
/// `# EOF` marker goes.
fn classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The platform's own metrics.
fn platform(registry: &mut Registry, store: &Store) {
    let counts = crate::telemetry::level_counts();
    let lines = Family::<Vec<(String, String)>, Counter>::default();
    for (level, n) in [
        ("error", counts.error),
        ("warn", counts.warn),
        ("info", counts.info),
        ("debug", counts.debug),
        ("trace", counts.trace),
    ] {
        lines
            .get_or_create(&vec![("level".to_string(), level.to_string())])
            .inc_by(n);
    }
    registry.register("watchpost_log_lines", "Log lines written, by level", lines);
    registry.register(
        "watchpost_log_lines_dropped",
        "Log lines dropped because an output could not keep up",
        ConstCounter::new(crate::telemetry::dropped_lines()),
    );
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = store.path().as_os_str().to_owned();
    wal.push("-wal");
    gauge(
        registry,
        "watchpost_database_bytes",
        "Size of the database file",
        size(store.path()) as f64,
    );
    gauge(
        registry,
        "watchpost_database_wal_bytes",
        "Size of the database's write-ahead log",
        size(std::path::Path::new(&wal)) as f64,
    );
    gauge(
        registry,
        "watchpost_writer_queue_depth",
        "Jobs waiting for the database writer",
        store.queue_depth() as f64,
    );
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let g = Gauge::<f64, AtomicU64>::default();
    g.set(value);
    registry.register(name, help, g);
}

pub fn routes(r: &mut Routes) {
    r.get("/metrics", Access::Public, metrics);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_total_suffix_in_the_classic_format() {
        let open = "# HELP requests Requests.\n# TYPE requests counter\nrequests_total 3\n\
                    # HELP load Load.\n# TYPE load gauge\nload 0.5\n# EOF\n";
        assert_eq!(
            classic_text(open),
            "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total 3\n\
             # HELP load Load.\n# TYPE load gauge\nload 0.5\n"
        );
    }
}
