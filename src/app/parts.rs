//! Parts that start-up assembles from the configuration: Watchpost's own
//! health checks, and the request statistics with a source per access log.

use std::sync::Arc;

use crate::audit_trail::Trail;
use crate::clock::Clock;
use crate::config::Config;
use crate::health::HealthState;
use crate::perf::{self, Perf};
use crate::store::Store;
use crate::{bus, checks, host};

/// Watchpost's own checks: its database, its disk, and whether the host
/// collector is still sampling (no sample for three intervals is down).
pub(super) fn self_checks(health: &Arc<HealthState>, host: &Arc<host::Host>) -> checks::Builtins {
    let collector = host.clone();
    checks::Builtins(vec![
        checks::builtin::database(health.clone()),
        checks::builtin::disk(health.clone()),
        checks::builtin::from_fn("collector", "Watchpost host collector", move || {
            let every = i64::try_from(collector.every.as_secs())
                .unwrap_or(10)
                .max(1);
            let now = crate::clock::now_ms() / 1000;
            match collector.latest() {
                Some(s) if now - s.ts <= 3 * every => Ok(()),
                Some(s) => Err(format!("the last host sample is {} s old", now - s.ts)),
                None => Err("no host sample has been taken yet".into()),
            }
        }),
    ])
}

/// The request statistics, with a source per access log (`nginx:<id>`) and
/// the routes each already had, so the route cap holds across restarts.
pub(super) async fn perf_service(
    config: &Config,
    store: &Store,
    clock: &Clock,
    bus: &bus::Bus,
    trail: &Trail,
) -> anyhow::Result<Perf> {
    let names: Vec<String> = config
        .threats
        .log_sources
        .iter()
        .filter(|s| s.kind == "nginx" || s.kind == "apache")
        .map(|s| perf::log_source_name(&s.kind, &s.id))
        .collect();
    let since = clock.now_s() - i64::from(config.perf.baseline_days) * 86_400;
    let known = store
        .read(move |conn| {
            names
                .into_iter()
                .map(|n| Ok((n.clone(), perf::repo::known_routes(conn, &n, since)?)))
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .await?;
    Ok(Perf::new(
        &config.perf,
        store.clone(),
        clock.clone(),
        bus.clone(),
        trail.clone(),
        known,
    ))
}
