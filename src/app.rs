//! Startup as a library function: [`App::build`] opens the store, binds the
//! listener (port 0 in tests) and starts the background tasks; `main` and the
//! tests use the same code. [`App::run_until`] serves until told to stop, then
//! shuts down in order: stop accepting, let in-flight requests finish (10 s
//! cap), stop the tasks, flush the writer.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web::{Data, ServiceConfig};
use anyhow::Context;

use crate::config::Config;
use crate::health::{self, DiskThreshold, HealthState};
use crate::store::{self, Store, instance};
use crate::tasks::Tasks;
use crate::web::ProcessStart;
use crate::{clock, http, web};

pub struct App {
    addr: SocketAddr,
    url: String,
    data_dir: PathBuf,
    server: actix_web::dev::Server,
    tasks: Tasks,
    store: Store,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        store::restrict_umask();
        let data_dir = config.data_dir();
        let store = Store::open(&data_dir)
            .with_context(|| format!("opening the database in {}", data_dir.display()))?;
        let started_ms = clock::now_ms();
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

        let routes = {
            let store = Data::new(store.clone());
            let health = Data::from(health.clone());
            let start = Data::new(ProcessStart(started_ms));
            move |cfg: &mut ServiceConfig| {
                cfg.app_data(store.clone())
                    .app_data(health.clone())
                    .app_data(start.clone());
                health::routes(cfg);
                web::routes(cfg);
            }
        };
        let (server, addr) = http::serve(&config.server, routes)?;

        let mut tasks = Tasks::default();
        let (probe_store, probe_health) = (store.clone(), health.clone());
        tasks.spawn("health-probe", move |shutdown| {
            health::task::run(probe_store.clone(), probe_health.clone(), shutdown)
        });

        let url = config.server.url(addr);
        Ok(App {
            addr,
            url,
            data_dir,
            server,
            tasks,
            store,
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
