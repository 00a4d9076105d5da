//! The `watchpost` binary: parse the command line, start the runtime, dispatch.

use std::process::ExitCode;

use clap::Parser;
use watchpost::cli::{self, Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.clone();
    runtime.block_on(async move {
        match cli
            .command
            .unwrap_or(Command::Serve(cli::ServeArgs::default()))
        {
            Command::Serve(args) => cli::serve(config, args).await,
            Command::Config(ConfigCommand::Check) => cli::config_check(config),
            Command::Config(ConfigCommand::Dump) => cli::config_dump(config),
            Command::Healthcheck(args) => cli::healthcheck(config, args).await,
            Command::Backup(args) => cli::backup(config, args).await,
            Command::Audit(args) => cli::audit(config, args).await,
            Command::Trail(command) => cli::trail(config, command).await,
            Command::SystemdUnit => cli::systemd_unit(config),
            Command::User(command) => cli::user(config, command).await,
            Command::Token(command) => cli::token(config, command).await,
            Command::Threats(command) => cli::threats(config, command).await,
            Command::Alerts(command) => cli::alerts(config, command).await,
            Command::Errors(command) => cli::errors(config, command).await,
            Command::Dev(command) => cli::dev(config, command).await,
        }
    })
}
