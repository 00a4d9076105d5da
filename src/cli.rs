//! The command line: `serve` (the default), `config check|dump`,
//! `healthcheck`, `backup FILE`, `audit`, `trail verify|export|erase`, `systemd-unit`,
//! `user …`, `token …`, and `dev seed-metrics` (synthetic data for benchmarks).
//! Exit codes: 0 success, 1 the command failed, 2 the configuration is invalid
//! (nothing was started).

mod alerts;
mod audit;
mod dev;
mod errors;
mod systemd;
mod threats;
mod trail;
mod user;

pub use alerts::AlertsCommand;
pub use audit::{AuditArgs, FailOn};
pub use dev::DevCommand;
pub use errors::ErrorsCommand;
pub use threats::ThreatsCommand;
pub use user::{TokenCommand, UserCommand};

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::auth::bootstrap::{self, FirstRun};
use crate::config::{Config, Loaded, Sources};
use crate::health::client::{self, Outcome};
use crate::store::{self, BackupProgress};
use crate::telemetry;

pub use trail::{EraseArgs, ExportArgs, TrailCommand};

/// Exit code for an invalid configuration.
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "watchpost",
    version,
    about = "Watch a small team's server: health, logins, threats and errors, in one process."
)]
pub struct Cli {
    /// TOML configuration file (default: ./watchpost.toml when present).
    #[arg(long, global = true, env = "WATCHPOST_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (what `watchpost` does with no subcommand).
    Serve(ServeArgs),
    /// Check or print the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Exit 0 if a running Watchpost answers /health with 200 within 3 s.
    Healthcheck(HealthcheckArgs),
    /// Copy the live database to FILE with SQLite's online backup API.
    Backup(BackupArgs),
    /// Audit the configuration, files, accounts and host; exit 1 on findings
    /// at or above --fail-on.
    Audit(AuditArgs),
    /// Verify, export or erase from the audit trail.
    #[command(subcommand)]
    Trail(TrailCommand),
    /// Print a hardened systemd unit for this binary and configuration.
    SystemdUnit,
    /// Manage accounts: add, list, passwd, set-role, disable, enable, reset-2fa, revoke-sessions.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage bans: list, ban, unban, extend.
    #[command(subcommand)]
    Threats(ThreatsCommand),
    /// Alerting: list rules and what fires, test a channel, silence.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Error tracking: `errors project add NAME` prints a new project's DSN.
    #[command(subcommand)]
    Errors(ErrorsCommand),
    /// Tools for benchmarks and screenshots (synthetic data, clearly marked).
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Demo mode: checks of Watchpost's own endpoints on the public status
    /// page, and a read-only viewer demo@watchpost.local (password printed once).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration; exit 0 when valid, 2 when not.
    Check,
    /// Print the effective configuration, secrets as [redacted].
    Dump,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Health URL to ask (default: /health at the configured bind address).
    #[arg(long)]
    pub url: Option<String>,
    /// Accept a certificate that does not verify (a self-signed local one).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist yet.
    pub file: PathBuf,
}

/// Loads and validates; prints every problem and warning to stderr.
fn load_config(file: Option<PathBuf>) -> Result<Loaded, ExitCode> {
    let loaded = match Config::load(&Sources::from_process(file)) {
        Ok(loaded) => loaded,
        Err(problems) => return Err(report_problems(&problems)),
    };
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let problems = loaded.config.validate();
    if !problems.is_empty() {
        return Err(report_problems(&problems));
    }
    Ok(loaded)
}

fn report_problems(problems: &[crate::config::Problem]) -> ExitCode {
    eprintln!("error: the configuration is not valid:");
    for problem in problems {
        eprintln!("  - {problem}");
    }
    ExitCode::from(EXIT_CONFIG)
}

pub async fn dev(file: Option<PathBuf>, command: DevCommand) -> ExitCode {
    dev::run(file, command).await
}

pub async fn serve(file: Option<PathBuf>, args: ServeArgs) -> ExitCode {
    let loaded = match load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let mut config = loaded.config;
    config.demo = args.demo;
    config.config_file = loaded
        .file
        .as_deref()
        .and_then(|f| std::path::absolute(f).ok());
    store::restrict_umask();
    let data_dir = config.data_dir();
    if let Err(e) = store::create_private_dir(&data_dir) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let _guard = match telemetry::init(&config.logging, &data_dir) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: cannot start logging: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Watchpost could not start");
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal();
    // Written with errors ignored: a closed stdout must not stop the server.
    let mut banner = format!(
        "Watchpost {} listening on {}\nData directory: {}\n",
        env!("CARGO_PKG_VERSION"),
        app.url(),
        app.data_dir().display()
    );
    match app.first_run() {
        FirstRun::Done => {}
        FirstRun::AdminCreated(email) => {
            banner.push_str(&format!("Created the first admin account: {email}\n"));
        }
        FirstRun::SetupLink(link) => banner.push_str(&format!(
            "No account exists yet. Open this one-time link (valid 24 h) to create the first admin:\n  {link}\n(also written to {}, readable only by this user)\n",
            app.data_dir().join(bootstrap::SETUP_TOKEN_FILE).display()
        )),
    }
    if let Some(demo) = app.demo() {
        if let Some(password) = &demo.password {
            banner.push_str(&format!(
                "Demo viewer: {} / {password} (shown only now)\n",
                crate::checks::demo::DEMO_EMAIL
            ));
        }
        banner.push_str(&format!(
            "Demo mode: {} public checks created; status page at {}/status\n",
            demo.created.len(),
            app.url()
        ));
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    tracing::info!(url = app.url(), addr = %app.addr(), data_dir = %app.data_dir().display(), "Watchpost started");
    match app.run_until(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Watchpost stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// SIGINT or SIGTERM. The handlers are installed by this call, not when the
/// future is first polled, so a signal sent right after the banner is printed
/// still shuts down gracefully instead of meeting the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

pub fn config_check(file: Option<PathBuf>) -> ExitCode {
    match load_config(file) {
        Ok(loaded) => {
            let source = loaded.file.map_or_else(
                || "defaults and environment".to_string(),
                |f| f.display().to_string(),
            );
            println!("configuration is valid ({source})");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

pub fn config_dump(file: Option<PathBuf>) -> ExitCode {
    let loaded = match Config::load(&Sources::from_process(file)) {
        Ok(loaded) => loaded,
        Err(problems) => return report_problems(&problems),
    };
    match loaded.config.dump() {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn healthcheck(file: Option<PathBuf>, args: HealthcheckArgs) -> ExitCode {
    let url = match args.url {
        Some(url) => url,
        None => match Config::load(&Sources::from_process(file)) {
            // The bind address, not `public_url`, which may point at a proxy.
            Ok(loaded) => match loaded.config.server.bind_addr() {
                Ok(addr) => format!("{}/health", loaded.config.server.local_url(addr)),
                Err(e) => {
                    eprintln!("error: {e:#}; pass --url");
                    return ExitCode::from(EXIT_CONFIG);
                }
            },
            Err(problems) => return report_problems(&problems),
        },
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    match client::check(&url, args.insecure).await {
        Outcome::Healthy => {
            println!("healthy: {url}");
            ExitCode::SUCCESS
        }
        Outcome::Unhealthy(status, body) => {
            println!("unhealthy: {url} answered {status}: {}", body.trim());
            ExitCode::FAILURE
        }
        Outcome::Unreachable(reason) => {
            println!("unreachable: {url}: {reason}");
            ExitCode::FAILURE
        }
    }
}

pub async fn backup(file: Option<PathBuf>, args: BackupArgs) -> ExitCode {
    let loaded = match load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    store::restrict_umask();
    let source = loaded.config.data_dir().join(store::DB_FILE);
    let dest = args.file.clone();
    let tty = std::io::stderr().is_terminal();
    let copied = tokio::task::spawn_blocking(move || {
        let mut last = 0;
        store::backup(&source, &dest, |p: BackupProgress| {
            if tty && p.copied_pages != last {
                last = p.copied_pages;
                let pct = p.copied_pages * 100 / p.total_pages.max(1);
                eprint!(
                    "\rbackup: {pct:>3}% ({}/{} pages)",
                    p.copied_pages, p.total_pages
                );
            }
        })
    })
    .await;
    if tty {
        eprintln!();
    }
    match copied {
        Ok(Ok(())) => {
            println!(
                "backup written to {} (integrity_check: ok)",
                args.file.display()
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: backup failed: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: backup did not finish: {e}");
            ExitCode::FAILURE
        }
    }
}

pub use alerts::alerts;
pub use errors::errors;
pub use threats::threats;
pub use user::{token, user};

pub async fn audit(file: Option<PathBuf>, args: AuditArgs) -> ExitCode {
    audit::run(file, args).await
}

pub async fn trail(file: Option<PathBuf>, command: TrailCommand) -> ExitCode {
    trail::run(file, command).await
}

pub fn systemd_unit(file: Option<PathBuf>) -> ExitCode {
    let loaded = match load_config(file.clone()) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/watchpost"));
    let config_file = loaded.file.and_then(|f| std::path::absolute(f).ok());
    let port = loaded.config.server.bind_addr().map_or(8080, |a| a.port());
    print!(
        "{}",
        systemd::unit(
            &exe,
            config_file.as_deref(),
            &loaded.config.data_dir(),
            port
        )
    );
    ExitCode::SUCCESS
}
