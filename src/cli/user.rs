//! `watchpost user …` and `watchpost token create`: account administration
//! from the server's shell, through the same operations (and audit rows, with
//! actor `cli`) as the admin pages; `user erase` through `crate::privacy`. Passwords come from a no-echo prompt or
//! from standard input (`--password-stdin`), never from the command line.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::audit_trail::{Actioned, Actor, Trail, purge_log};
use crate::auth::accounts::{self, NewApiToken, NewUser};
use crate::auth::session::Origin;
use crate::auth::{Auth, Role, Scope, repo};
use crate::clock::Clock;
use crate::error::AppError;
use crate::privacy::{Person, Privacy};
use crate::store::{self, Store};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (role defaults to viewer).
    Add(AddArgs),
    /// List users.
    List,
    /// Set a user's password (ends their sessions).
    Passwd(PasswdArgs),
    /// Make a user admin or viewer.
    SetRole { email: String, role: Role },
    /// Disable a user and end their sessions.
    Disable { email: String },
    /// Enable a disabled user.
    Enable { email: String },
    /// Turn off a user's 2FA (they enrol again at their next login).
    #[command(name = "reset-2fa")]
    Reset2fa { email: String },
    /// End every session of a user.
    RevokeSessions { email: String },
    /// Erase a person's personal data everywhere: the account becomes an
    /// anonymous, disabled placeholder; sessions, tokens, their audit trail
    /// personal data, their addresses in security data (`[privacy]`) and their
    /// `user` data in error events go. Cannot be undone.
    Erase { email: String },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub email: String,
    #[arg(long, default_value = "viewer")]
    pub role: Role,
    #[arg(long, default_value = "")]
    pub name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct PasswdArgs {
    pub email: String,
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it (and nothing else) on stdout.
    Create(TokenArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub scope: Scope,
    /// Lifetime, e.g. 30d; no expiry when absent.
    #[arg(long)]
    pub expires_in: Option<String>,
}

/// Opens the store and the accounts state the way the server does.
async fn open(file: Option<PathBuf>) -> Result<(Auth, Store, Privacy), ExitCode> {
    let loaded = super::load_config(file)?;
    store::restrict_umask();
    let data_dir = loaded.config.data_dir();
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    };
    let store = Store::open(&data_dir).map_err(|e| fail(e.to_string()))?;
    let trail = Trail::load_or_create(&data_dir).map_err(|e| fail(e.to_string()))?;
    let privacy = Privacy::new(
        &loaded.config.privacy,
        store.clone(),
        trail.clone(),
        Clock::system(),
    );
    let auth = Auth::build(
        &loaded.config,
        store.clone(),
        trail,
        Clock::system(),
        &data_dir,
    )
    .map_err(|e| fail(format!("{e:#}")))?;
    let _ = auth.base_url.set(
        loaded.config.server.url(
            loaded
                .config
                .server
                .bind_addr()
                .map_err(|e| fail(format!("{e:#}")))?,
        ),
    );
    Ok((auth, store, privacy))
}

fn read_password(from_stdin: bool, confirm: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            "no terminal to ask for the password; pass --password-stdin and pipe it in".into(),
        );
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    if confirm {
        let again = rpassword::prompt_password("Password again: ").map_err(|e| e.to_string())?;
        if again != first {
            return Err("the two passwords differ; run the command again".into());
        }
    }
    Ok(first)
}

fn cli_origin() -> Origin {
    Origin {
        ip: String::new(),
        user_agent: "watchpost-cli".into(),
        request_id: None,
    }
}

pub(super) fn report(result: Result<String, AppError>) -> ExitCode {
    match result {
        Ok(message) => {
            if !message.is_empty() {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(AppError::Internal(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn user(file: Option<PathBuf>, command: UserCommand) -> ExitCode {
    let (auth, store, privacy) = match open(file).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let result = run_user(&auth, &privacy, command).await;
    store.close().await;
    report(result)
}

async fn run_user(
    auth: &Auth,
    privacy: &Privacy,
    command: UserCommand,
) -> Result<String, AppError> {
    let origin = cli_origin();
    match command {
        UserCommand::Add(args) => {
            let password =
                read_password(args.password_stdin, true).map_err(AppError::BadRequest)?;
            let created = accounts::create_user(
                auth,
                Actor::Cli,
                &origin,
                NewUser {
                    email: args.email,
                    name: args.name,
                    role: args.role,
                    password: Some(password),
                },
            )
            .await?;
            Ok(format!("created {} ({})", created.email, args.role))
        }
        UserCommand::List => {
            let users = auth
                .store
                .read(|conn| repo::list_users(conn, &repo::UserFilter::default()))
                .await?;
            let mut out = format!(
                "{:<40} {:<7} {:<9} {:<4} last login",
                "email", "role", "status", "2fa"
            );
            for u in users {
                out.push_str(&format!(
                    "\n{:<40} {:<7} {:<9} {:<4} {}",
                    u.email,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "active" },
                    if u.totp_enabled { "on" } else { "off" },
                    crate::auth::when(u.last_login_ms)
                ));
            }
            Ok(out)
        }
        UserCommand::Passwd(args) => {
            let user = accounts::user_by_email(auth, &args.email).await?;
            let password =
                read_password(args.password_stdin, true).map_err(AppError::BadRequest)?;
            accounts::set_password(auth, Actor::Cli, &origin, user.id, password, None).await?;
            Ok(format!(
                "password set for {}; their sessions were ended",
                user.email
            ))
        }
        UserCommand::SetRole { email, role } => {
            let user = accounts::user_by_email(auth, &email).await?;
            accounts::set_role(auth, Actor::Cli, &origin, user.id, role).await?;
            Ok(format!("{} is now {role}", user.email))
        }
        UserCommand::Disable { email } => {
            let user = accounts::user_by_email(auth, &email).await?;
            accounts::set_disabled(auth, Actor::Cli, &origin, user.id, true).await?;
            Ok(format!(
                "{} is disabled; their sessions were ended",
                user.email
            ))
        }
        UserCommand::Enable { email } => {
            let user = accounts::user_by_email(auth, &email).await?;
            accounts::set_disabled(auth, Actor::Cli, &origin, user.id, false).await?;
            Ok(format!("{} is enabled", user.email))
        }
        UserCommand::Reset2fa { email } => {
            let user = accounts::user_by_email(auth, &email).await?;
            accounts::reset_2fa(auth, Actor::Cli, &origin, user.id).await?;
            Ok(format!(
                "2FA is off for {}; they enrol again at their next login",
                user.email
            ))
        }
        UserCommand::RevokeSessions { email } => {
            let user = accounts::user_by_email(auth, &email).await?;
            let ended = accounts::revoke_sessions(auth, Actor::Cli, &origin, user.id, None).await?;
            Ok(format!("ended {ended} session(s) of {}", user.email))
        }
        UserCommand::Erase { email } => erase(privacy, &auth.store, email).await,
    }
}

/// `watchpost user erase EMAIL`: one transaction, then the database log is
/// emptied so no copy of the erased bytes stays in it.
async fn erase(privacy: &Privacy, store: &Store, email: String) -> Result<String, AppError> {
    let by = Actioned {
        actor: Actor::Cli,
        ip: None,
        request_id: None,
    };
    let erased = privacy.erase(Person::Email(email), by, None).await?;
    let purged = matches!(purge_log(store.path()), Ok(true));
    let mut out = format!(
        "erased user #{id}: the account is now erased-{id}@invalid (disabled); removed \
         {} session(s), {} API token(s), {} one-time link(s), {} recovery code(s), \
         {} failed login(s), {} lockout(s); blanked {} audit trail row(s); changed {} error item(s)",
        erased.sessions,
        erased.api_tokens,
        erased.one_time_links,
        erased.recovery_codes,
        erased.login_failures,
        erased.lockouts,
        erased.audit_rows,
        erased.error_items,
        id = erased.user_id,
    );
    if erased.ips_erased {
        out.push_str(&format!(
            "; {} address(es) replaced in {} security event(s) and {} ban(s), {} sshd count(s) deleted",
            erased.ips_found, erased.security_events, erased.ip_bans, erased.ssh_failures
        ));
    } else {
        out.push_str(&format!(
            "; {} address(es) left in security data ([privacy] erase_ips_in_security_events = false)",
            erased.ips_found
        ));
    }
    out.push_str(". Recorded as user.erased.");
    if !purged {
        out.push_str(
            "\nnote: the running Watchpost kept the database log busy, so old copies stay in it \
             until it is reused; run `watchpost trail erase` again while Watchpost is stopped to \
             remove them at once",
        );
    }
    Ok(out)
}

pub async fn token(file: Option<PathBuf>, command: TokenCommand) -> ExitCode {
    let (auth, store, _) = match open(file).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let TokenCommand::Create(args) = command;
    let result = async {
        let user = accounts::user_by_email(&auth, &args.user).await?;
        let expires_in = match args.expires_in.as_deref() {
            Some(text) => Some(humantime::parse_duration(text).map_err(|_| {
                AppError::BadRequest(format!(
                    "--expires-in {text:?} is not a lifetime; write e.g. 30d or 12h"
                ))
            })?),
            None => None,
        };
        let (_, token) = accounts::create_token(
            &auth,
            Actor::Cli,
            &cli_origin(),
            user.id,
            NewApiToken {
                name: args.name,
                scope: args.scope,
                expires_in,
            },
        )
        .await?;
        Ok(token)
    }
    .await;
    store.close().await;
    report(result)
}
