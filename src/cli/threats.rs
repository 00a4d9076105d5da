//! `watchpost threats …`: the ban list from the server's shell — list,
//! ban, unban, extend — through the same operations (and audit rows, with
//! actor `cli`) as the security page. A running server picks the change up
//! within five seconds and runs its firewall commands then; this command
//! never runs them itself, so they run once.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::audit_trail::{Actor, Trail};
use crate::auth::Auth;
use crate::bus::Bus;
use crate::clock::Clock;
use crate::error::AppError;
use crate::store::{self, Store};
use crate::threats::{Actioned, Order, Target, Threats};

#[derive(Debug, Subcommand)]
pub enum ThreatsCommand {
    /// List the bans in force.
    List,
    /// Ban an address or CIDR block.
    Ban(BanArgs),
    /// Lift the ban of an address or block.
    Unban { target: String },
    /// Make a ban in force last longer.
    Extend {
        target: String,
        /// How much longer, e.g. 24h.
        #[arg(long)]
        by: String,
    },
}

#[derive(Debug, Args)]
pub struct BanArgs {
    /// An address (203.0.113.5) or block (198.51.100.0/24).
    pub target: String,
    /// How long, e.g. 4h or 7d.
    #[arg(long = "for", default_value = "4h")]
    pub for_: String,
    #[arg(long, default_value = "")]
    pub reason: String,
}

async fn open(file: Option<PathBuf>) -> Result<(Threats, Store), ExitCode> {
    let loaded = super::load_config(file)?;
    store::restrict_umask();
    let data_dir = loaded.config.data_dir();
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    };
    let store = Store::open(&data_dir).map_err(|e| fail(e.to_string()))?;
    let trail = Trail::load_or_create(&data_dir).map_err(|e| fail(e.to_string()))?;
    let clock = Clock::system();
    let auth = Auth::build(
        &loaded.config,
        store.clone(),
        trail.clone(),
        clock.clone(),
        &data_dir,
    )
    .map_err(|e| fail(format!("{e:#}")))?;
    let mut config = loaded.config.threats.clone();
    // The server runs the firewall commands when it sees the change.
    config.on_ban_command.clear();
    config.on_unban_command.clear();
    let threats = Threats::new(
        &config,
        store.clone(),
        trail,
        clock,
        auth.sealer.clone(),
        Bus::default(),
    );
    Ok((threats, store))
}

fn duration_ms(value: &str) -> Result<i64, AppError> {
    humantime::parse_duration(value)
        .ok()
        .filter(|d| !d.is_zero())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!("{value:?} is not a duration; write e.g. 4h or 7d"))
        })
}

fn target(value: &str) -> Result<Target, AppError> {
    value.parse().map_err(AppError::BadRequest)
}

pub async fn threats(file: Option<PathBuf>, command: ThreatsCommand) -> ExitCode {
    let (threats, store) = match open(file).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let result = run(&threats, command).await;
    if let Err(e) = threats.flush().await {
        eprintln!("warning: the security event was not written: {e}");
    }
    store.close().await;
    super::user::report(result)
}

async fn run(threats: &Threats, command: ThreatsCommand) -> Result<String, AppError> {
    let by = Actioned {
        actor: Actor::Cli,
        ip: None,
        request_id: None,
    };
    let until = |ms: i64| crate::auth::when(Some(ms));
    match command {
        ThreatsCommand::List => {
            let now = threats.clock.now_ms();
            let bans = threats
                .store
                .read(move |conn| crate::threats::repo::bans::active(conn, now))
                .await?;
            let mut out = format!("{:<40} {:<22} {:<12} reason", "address", "until", "source");
            for b in bans {
                out.push_str(&format!(
                    "\n{:<40} {:<22} {:<12} {}",
                    b.ip,
                    until(b.until_ms),
                    b.source,
                    b.reason
                ));
            }
            Ok(out)
        }
        ThreatsCommand::Ban(args) => {
            let order = Order {
                target: target(&args.target)?,
                for_ms: duration_ms(&args.for_)?,
                reason: args.reason,
            };
            let ban = threats.ban(order, &by).await?;
            Ok(format!("banned {} until {}", ban.ip, until(ban.until_ms)))
        }
        ThreatsCommand::Unban { target: t } => {
            threats.unban(target(&t)?, &by).await?;
            Ok(format!("lifted the ban of {t}"))
        }
        ThreatsCommand::Extend {
            target: t,
            by: more,
        } => {
            let ban = threats
                .extend(target(&t)?, duration_ms(&more)?, &by)
                .await?;
            Ok(format!(
                "{} is banned until {}",
                ban.ip,
                until(ban.until_ms)
            ))
        }
    }
}
