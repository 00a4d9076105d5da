//! `watchpost errors project add NAME`: creates a project for an app's
//! Sentry SDK and prints its DSN — and nothing else — on stdout, so a
//! deploy script can capture it. The DSN's host is `server.public_url`
//! (else the bind address). Audited with actor `cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::audit_trail::{Actioned, Actor, Trail};
use crate::clock::Clock;
use crate::errors::model;
use crate::errors::projects::Projects;
use crate::store::{self, Store};

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its DSN.
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub name: String,
    /// The SDK's platform, shown on the project: python, javascript, rust, …
    #[arg(long, default_value = "python")]
    pub platform: String,
}

pub async fn errors(file: Option<PathBuf>, command: ErrorsCommand) -> ExitCode {
    let loaded = match super::load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    store::restrict_umask();
    let data_dir = loaded.config.data_dir();
    let opened = Store::open(&data_dir)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            Ok((
                s,
                Trail::load_or_create(&data_dir).map_err(|e| e.to_string())?,
            ))
        });
    let (store, trail) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base_url = match loaded.config.server.bind_addr() {
        Ok(addr) => loaded.config.server.url(addr),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let projects = Projects::new(store.clone(), Clock::system(), trail);
    let by = Actioned {
        actor: Actor::Cli,
        ip: None,
        request_id: None,
    };
    let ErrorsCommand::Project(ProjectCommand::Add(args)) = command;
    let result = projects
        .add(&args.name, &args.platform, &by)
        .await
        .map(|(id, key)| model::dsn(&base_url, &key, id));
    store.close().await;
    super::user::report(result)
}
