//! `GET /metrics`: the Prometheus text exposition, built with
//! `prometheus-client` at each scrape from every registered
//! [`Contribution`] (the host's gauges, say) plus the platform's own: HTTP
//! requests and durations, log lines by level, dropped log lines, database
//! and WAL size, writer queue depth.
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

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `[metrics]` section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Networks (CIDR) whose clients may scrape without a token.
    pub allow_from: Vec<IpNet>,
}

impl Section for MetricsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if self.allow_from.iter().any(|n| n.prefix_len() == 0) {
            problems.push(Problem::new(
                format!("{prefix}.allow_from"),
                "a /0 network lets everyone read /metrics; list your Prometheus server's address instead",
            ));
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
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(body))
}

/// The platform's own metrics.
fn platform(registry: &mut Registry, store: &Store) {
    crate::http::stats::register(registry);
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
