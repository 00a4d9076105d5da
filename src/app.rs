//! Startup as a library function: [`App::build`] opens the store, binds the
//! listener (port 0 in tests) and starts the background tasks; `main` and the
//! tests use the same code. [`App::run_until`] serves until told to stop, then
//! shuts down in order: stop accepting, let in-flight requests finish (10 s
//! cap), stop the tasks, flush the writer.
//!
//! The route table is written once, in [`all_routes`]; the server registers
//! it and the tests walk it ([`route_table`]).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web::{Data, ServiceConfig};
use anyhow::Context;

use crate::audit_trail::{self, Trail};
use crate::auth::bootstrap::{self, FirstRun};
use crate::auth::{self, Auth, Runtime};
use crate::checks::{self, Checks};
use crate::clock::Clock;
use crate::config::Config;
use crate::health::{self, DiskThreshold, HealthState};
use crate::http::routes::{RouteInfo, Routes};
use crate::metrics::{Exposition, MetricsToken};
use crate::perf;
use crate::retention::Retention;
use crate::store::{self, Store, instance};
use crate::tasks::Tasks;
use crate::threats::{self, Threats};
use crate::web::{Identify, Overview, ProcessStart};
use crate::{
    alerts, bus, errors, host, http, metrics, privacy, retention, security_audit, series, web,
};

mod parts;
mod retention_table;
use parts::{perf_service, self_checks};
use retention_table::retention_policies;

pub struct App {
    addr: SocketAddr,
    url: String,
    data_dir: PathBuf,
    server: actix_web::dev::Server,
    tasks: Tasks,
    store: Store,
    first_run: FirstRun,
    demo: Option<checks::demo::Demo>,
}

/// Every route of Watchpost, in one place.
pub fn all_routes(r: &mut Routes) {
    health::routes(r);
    web::routes(r);
    // Before `auth`: its `/users/{id}/{action}` would take `/users/{id}/erase`.
    privacy::routes(r);
    auth::routes(r);
    audit_trail::routes(r);
    series::routes(r);
    host::routes(r);
    checks::routes(r);
    threats::routes(r);
    perf::routes(r);
    alerts::routes(r);
    retention::routes(r);
    errors::routes(r);
    security_audit::routes(r);
    metrics::routes(r);
    http::openapi::routes(r);
}

/// The OpenAPI document: every feature's API part, merged.
fn openapi_parts() -> Vec<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    vec![
        auth::AccountsApi::openapi(),
        privacy::PrivacyApi::openapi(),
        retention::RetentionApi::openapi(),
        series::SeriesApi::openapi(),
        checks::ChecksApi::openapi(),
        checks::CheckHistoryApi::openapi(),
        threats::ThreatsApi::openapi(),
        threats::HooksApi::openapi(),
        perf::PerfApi::openapi(),
        alerts::AlertsApi::openapi(),
        alerts::AlertEditsApi::openapi(),
        alerts::AlertChannelsApi::openapi(),
        errors::ErrorsApi::openapi(),
        security_audit::SecurityAuditApi::openapi(),
    ]
}

/// The route table as the server registers it, for tests to walk.
pub fn route_table() -> Vec<RouteInfo> {
    let mut routes = Routes::default();
    all_routes(&mut routes);
    routes.table().to_vec()
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        App::build_with_clock(config, Clock::system()).await
    }

    /// As [`App::build`], with the clock that time-dependent rules use
    /// (tests move it forward).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
        store::restrict_umask();
        let data_dir = config.data_dir();
        let store = Store::open(&data_dir)
            .with_context(|| format!("opening the database in {}", data_dir.display()))?;
        let started_ms = crate::clock::now_ms();
        store
            .write(move |conn| instance::ensure(conn, started_ms))
            .await
            .context("recording the installation")?;
        let threshold =
            DiskThreshold::parse(&config.health.min_free_disk).map_err(anyhow::Error::msg)?;
        let health = Arc::new(HealthState::new(
            store.path().to_path_buf(),
            data_dir.clone(),
            threshold,
        ));
        health::task::probe_once(&store, &health).await;
        let trail = Trail::load_or_create(&data_dir).context("loading the audit trail key")?;
        let bus = bus::Bus::default();
        let mut auth = Auth::build(
            &config,
            store.clone(),
            trail.clone(),
            clock.clone(),
            &data_dir,
        )
        .context("starting accounts")?;
        auth.bus = bus.clone();
        let auth = Arc::new(auth);
        let mut tasks = Tasks::default();
        let (host, collector) = host::build(&config.collector, store.path().to_path_buf())
            .context("starting the host collector")?;
        let builtins = self_checks(&health, &host);
        let checks = Arc::new(
            Checks::new(
                store.clone(),
                trail.clone(),
                clock.clone(),
                auth.sealer.clone(),
                builtins.clone(),
            )
            .context("starting health checks")?,
        );
        for change in checks
            .provision(checks::wanted(&config.checks, &builtins))
            .await
            .context("provisioning [[checks]]")?
        {
            tracing::info!(change = %change, "checks from the configuration");
        }
        let threats = Arc::new(Threats::new(
            &config.threats,
            store.clone(),
            trail.clone(),
            clock.clone(),
            auth.sealer.clone(),
            bus.clone(),
        ));
        let hooks = threats
            .provision_hooks(&config.threats.hooks)
            .await
            .context("provisioning [[threats.hooks]]")?;
        if hooks > 0 {
            tracing::info!(hooks, "webhooks from the configuration");
        }
        threats.sync().await.context("loading the ban list")?;
        let perf = Arc::new(
            perf_service(&config, &store, &clock, &bus, &trail)
                .await
                .context("starting request statistics")?,
        );
        let alerts = Arc::new(
            alerts::Alerts::start(
                &config.alerts,
                store.clone(),
                clock.clone(),
                trail.clone(),
                auth.sealer.clone(),
                alerts::Sources {
                    checks: checks.clone(),
                    host: host.clone(),
                    perf: perf.clone(),
                    health: health.clone(),
                    tasks: tasks.board(),
                    bus: bus.clone(),
                },
            )
            .await
            .context("starting alerting")?,
        );
        let overview = Overview(vec![
            alerts::card_source(alerts.clone()),
            perf::card_source(perf.clone()),
            checks::card_source(checks.clone()),
            threats::card_source(threats.clone()),
            host::card_source(host.clone(), store.clone()),
        ]);
        let exposition = Exposition {
            contributions: vec![
                host::contribution(host.clone()),
                perf::contribution(perf.clone()),
            ],
            allow_from: config.metrics.networks(),
        };
        let openapi = http::openapi::document(openapi_parts())?;

        let security_audit = Arc::new(security_audit::SecurityAudit::new(
            store.clone(),
            trail.clone(),
            clock.clone(),
            bus.clone(),
            security_audit::Setup::new(&config),
        ));
        let errors = Arc::new(
            errors::Errors::new(
                &config.errors,
                errors::Parts {
                    store: store.clone(),
                    clock: clock.clone(),
                    trail: trail.clone(),
                    perf: perf.clone(),
                    bus: bus.clone(),
                },
            )
            .await
            .context("starting error tracking")?,
        );
        let errors_data = Data::from(errors.clone());
        let retention = Arc::new(Retention {
            store: store.clone(),
            trail: trail.clone(),
            clock: clock.clone(),
            policies: retention_policies(&config),
        });
        let retention_data = Data::from(retention.clone());
        let privacy_data = Data::new(
            privacy::Privacy::new(&config.privacy, store.clone(), trail.clone(), clock.clone())
                .flushing(threats.clone()),
        );
        let app_data = {
            let store = Data::new(store.clone());
            let health = Data::from(health.clone());
            let start = Data::new(ProcessStart(started_ms));
            let auth = Data::from(auth.clone());
            let trail_data = Data::new(trail.clone());
            let overview = Data::new(overview);
            let exposition = Data::new(exposition);
            let metrics_token = Data::new(MetricsToken(|req| {
                Box::pin(auth::extract::has_metrics_token(req))
            }));
            let openapi = Data::new(openapi);
            let checks_data = Data::from(checks.clone());
            let threats_data = Data::from(threats.clone());
            let perf_data = Data::from(perf.clone());
            let alerts_data = Data::from(alerts.clone());
            let errors_data = errors_data.clone();
            let audit_data = Data::from(security_audit.clone());
            let status_page = Data::new(config.status_page.clone());
            let identify = Data::new(Identify(|req| Box::pin(auth::viewer_of(req))));
            let sources = threats.clone();
            let runtime = Data::new(Runtime {
                started_ms,
                tasks: tasks.board(),
                sections: vec![(
                    "log_sources",
                    Arc::new(move || serde_json::json!(sources.source_statuses())),
                )],
            });
            move |cfg: &mut ServiceConfig| {
                cfg.app_data(store.clone())
                    .app_data(health.clone())
                    .app_data(start.clone())
                    .app_data(auth.clone())
                    .app_data(trail_data.clone())
                    .app_data(overview.clone())
                    .app_data(exposition.clone())
                    .app_data(metrics_token.clone())
                    .app_data(openapi.clone())
                    .app_data(checks_data.clone())
                    .app_data(threats_data.clone())
                    .app_data(perf_data.clone())
                    .app_data(alerts_data.clone())
                    .app_data(errors_data.clone())
                    .app_data(audit_data.clone())
                    .app_data(privacy_data.clone())
                    .app_data(retention_data.clone())
                    .app_data(status_page.clone())
                    .app_data(identify.clone())
                    .app_data(runtime.clone());
                let mut routes = Routes::default();
                all_routes(&mut routes);
                routes.register(cfg);
            }
        };
        let guard: Data<dyn http::Guard> = Data::from(threats.clone() as Arc<dyn http::Guard>);
        let stats: Data<dyn http::stats::RequestStats> =
            Data::from(perf.clone() as Arc<dyn http::stats::RequestStats>);
        let (server, addr) = http::serve(&config.server, guard, stats, app_data)?;
        let url = config.server.url(addr);
        let _ = auth.base_url.set(url.clone());
        let _ = checks.base_url.set(url.clone());
        let _ = threats.base_url.set(url.clone());
        let _ = alerts.base_url.set(url.clone());
        let _ = errors.base_url.set(url.clone());
        let first_run = bootstrap::ensure_first_admin(&auth, &config, &data_dir)
            .await
            .context("preparing the first admin account")?;

        let demo = if config.demo {
            Some(
                checks::demo::prepare(
                    &checks,
                    &auth,
                    &config.server.local_url(addr),
                    &addr.to_string(),
                )
                .await
                .context("preparing the demo")?,
            )
        } else {
            None
        };
        let max_concurrent = config.scheduler.max_concurrent;
        tasks.spawn("checks-scheduler", move |shutdown| {
            checks::task::run(checks.clone(), max_concurrent, shutdown)
        });
        let threats_task = threats.clone();
        tasks.spawn("threats", move |shutdown| {
            threats::task::run(threats_task.clone(), shutdown)
        });
        let (evaluator, every) = (alerts.clone(), config.alerts.evaluate_every());
        tasks.spawn("alerts-evaluator", move |shutdown| {
            alerts::task::evaluate(evaluator.clone(), every, shutdown)
        });
        let deliverer = alerts.clone();
        tasks.spawn("alerts-deliverer", move |shutdown| {
            alerts::task::deliver(deliverer.clone(), shutdown)
        });
        tasks.spawn("errors-digest", move |shutdown| {
            errors::task::run(errors.clone(), shutdown)
        });
        let perf_task = perf.clone();
        tasks.spawn("perf", move |shutdown| {
            perf::task::run(perf_task.clone(), shutdown)
        });
        for source in config.threats.log_sources.clone() {
            let (watcher, name) = (threats.clone(), watcher_name(&source.id));
            let timings = perf.clone() as Arc<dyn crate::logwatch::AccessSink>;
            tasks.spawn(name, move |shutdown| {
                threats::watch::run(watcher.clone(), timings.clone(), source.clone(), shutdown)
            });
        }
        tasks.spawn("security-audit", move |shutdown| {
            security_audit::task::run(security_audit.clone(), shutdown)
        });
        let (probe_store, probe_health) = (store.clone(), health.clone());
        tasks.spawn("health-probe", move |shutdown| {
            health::task::run(probe_store.clone(), probe_health.clone(), shutdown)
        });
        tasks.spawn("auth-sweeper", move |shutdown| {
            auth::sweeper(auth.clone(), shutdown)
        });
        let collector_store = store.clone();
        tasks.spawn("host-collector", move |shutdown| {
            host::task::run(
                host.clone(),
                collector.clone(),
                collector_store.clone(),
                shutdown,
            )
        });
        tasks.spawn("retention", move |shutdown| {
            retention::run(retention.clone(), shutdown)
        });

        Ok(App {
            addr,
            url,
            data_dir,
            server,
            tasks,
            store,
            first_run,
            demo,
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where people reach this instance.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What start-up did about the first admin (for the console).
    pub fn first_run(&self) -> &FirstRun {
        &self.first_run
    }

    /// What `--demo` set up (for the console).
    pub fn demo(&self) -> Option<&checks::demo::Demo> {
        self.demo.as_ref()
    }

    /// Serves until `stop` resolves (or the server fails), then shuts down
    /// gracefully. Every write acknowledged before this returns is committed.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let outcome = tokio::select! {
            ended = &mut server => ended.context("the HTTP server task failed").and_then(|r| r.context("the HTTP server stopped")),
            () = stop => {
                tracing::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
                let _ = server.await;
                Ok(())
            }
        };
        self.tasks.shutdown().await;
        self.store.close().await;
        tracing::info!("shutdown complete");
        outcome
    }
}

/// A log watcher's task name (`logwatch:<id>`). Task names are static; a
/// source's is made once at start, so the few bytes live as long as the
/// process does anyway.
fn watcher_name(id: &str) -> &'static str {
    Box::leak(format!("logwatch:{id}").into_boxed_str())
}
