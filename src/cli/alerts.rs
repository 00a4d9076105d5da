//! `watchpost alerts …` from the server's shell: list the rules, channels
//! and what fires; send a test notification straight away (to debug a
//! channel's settings, with the receiver's answer printed); silence rules.
//! Each change is audited with actor `cli`; a running server picks up a
//! silence at its next evaluation. The configuration file's rules and
//! channels are provisioned first, as the server does at start.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::alerts::channels::{self, Message};
use crate::alerts::defs::{self, Defs};
use crate::alerts::delivery::test_notification;
use crate::alerts::repo::{self, Silence};
use crate::alerts::silences::start_silence;
use crate::audit_trail::{Actioned, Actor, Trail};
use crate::auth::seal::Sealer;
use crate::error::AppError;
use crate::store::{self, Store};

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List the rules, the channels and what fires or is pending.
    List,
    /// Send a test notification on a channel now and print the outcome.
    Test { channel: String },
    /// Silence a rule, a subject or a label for a while.
    Silence(SilenceArgs),
}

#[derive(Debug, Args)]
pub struct SilenceArgs {
    /// A rule id (any rule when left out).
    #[arg(long, default_value = "")]
    pub rule: String,
    /// A subject or its beginning, like check:homepage.
    #[arg(long, default_value = "")]
    pub subject: String,
    /// A rule label, name=value.
    #[arg(long, default_value = "")]
    pub label: String,
    /// How long, in minutes.
    #[arg(long, default_value_t = 60)]
    pub minutes: i64,
    /// Why (required).
    #[arg(long)]
    pub comment: String,
}

struct Opened {
    store: Store,
    trail: Trail,
    defs: Defs,
    base_url: String,
}

async fn open(file: Option<PathBuf>) -> Result<Opened, ExitCode> {
    let loaded = super::load_config(file)?;
    store::restrict_umask();
    let data_dir = loaded.config.data_dir();
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    };
    let store = Store::open(&data_dir).map_err(|e| fail(e.to_string()))?;
    let trail = Trail::load_or_create(&data_dir).map_err(|e| fail(e.to_string()))?;
    let sealer = Sealer::load_or_create(&data_dir).map_err(|e| fail(e.to_string()))?;
    // The file's entries as the server would write them at its next start.
    let config = loaded.config.alerts.clone();
    let sealed = config
        .channels
        .iter()
        .map(|c| defs::seal(&sealer, c, defs::ORIGIN_CONFIG))
        .collect::<Result<Vec<_>, String>>()
        .map_err(fail)?;
    let now = crate::clock::now_ms();
    store
        .write(move |c| defs::provision(c, &config, &sealed, now))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let reminder = loaded.config.alerts.reminder();
    let (defs, problems) = store
        .read(move |c| defs::load(c, &sealer, reminder))
        .await
        .map_err(|e| fail(e.to_string()))?;
    for problem in problems {
        eprintln!("warning: {problem}");
    }
    let base_url = loaded.config.server.public_url.clone().unwrap_or_default();
    Ok(Opened {
        store,
        trail,
        defs,
        base_url,
    })
}

pub async fn alerts(file: Option<PathBuf>, command: AlertsCommand) -> ExitCode {
    let opened = match open(file).await {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let result = run(&opened, command).await;
    opened.store.close().await;
    super::user::report(result)
}

async fn run(o: &Opened, command: AlertsCommand) -> Result<String, AppError> {
    let by = Actioned {
        actor: Actor::Cli,
        ip: None,
        request_id: None,
    };
    let now = crate::clock::now_ms();
    match command {
        AlertsCommand::List => {
            let mut out = format!(
                "{:<28} {:<18} {:<9} {:<8} on",
                "rule", "kind", "severity", "from"
            );
            for r in &o.defs.rules {
                let kind = serde_json::to_value(&r.kind)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "\n{:<28} {:<18} {:<9} {:<8} {}",
                    r.id,
                    kind,
                    r.severity.as_str(),
                    r.origin,
                    if r.enabled { "yes" } else { "no" }
                ));
            }
            out.push_str(&format!(
                "\n\n{:<28} {:<10} {:<8} goes to",
                "channel", "kind", "from"
            ));
            for c in &o.defs.channels {
                out.push_str(&format!(
                    "\n{:<28} {:<10} {:<8} {}",
                    c.id,
                    c.kind(),
                    c.origin,
                    c.shown_target()
                ));
            }
            let instances = o.store.read(repo::instances).await?;
            out.push_str("\n\nfiring and pending:");
            let mut any = false;
            for i in instances
                .iter()
                .filter(|i| i.phase != crate::alerts::model::Phase::Inactive)
            {
                any = true;
                out.push_str(&format!(
                    "\n{:<8} {:<28} {} — {} (since {})",
                    i.phase.as_str(),
                    i.rule_id,
                    i.subject,
                    i.summary,
                    crate::auth::when(Some(i.since_ms))
                ));
            }
            if !any {
                out.push_str(" none");
            }
            Ok(out)
        }
        AlertsCommand::Test { channel } => {
            let found = o
                .defs
                .channels
                .iter()
                .find(|c| c.id == channel)
                .ok_or_else(|| AppError::BadRequest(format!("{channel:?} is not a channel")))?;
            let message = Message::One(Box::new(test_notification(&channel, &o.base_url, now)));
            let client = channels::client().map_err(|e| AppError::Internal(e.into()))?;
            let outcome = channels::deliver(&client, found, &message, now / 1000).await;
            let entry = by
                .entry("alert.channel_tested", format!("channel:{channel}"))
                .detail("delivered", outcome.is_ok());
            let trail = o.trail.clone();
            o.store
                .write(move |c| trail.append(c, now, &entry).map(|_| ()))
                .await?;
            match outcome {
                Ok(()) => Ok(format!(
                    "sent a test notification on {channel} ({})",
                    found.shown_target()
                )),
                Err(e) => Err(AppError::BadRequest(format!(
                    "the test notification on {channel} failed: {e}"
                ))),
            }
        }
        AlertsCommand::Silence(args) => {
            let silence = Silence {
                id: 0,
                rule_id: args.rule.trim().to_string(),
                subject: args.subject.trim().to_string(),
                label: args.label.trim().to_string(),
                starts_ms: 0,
                ends_ms: 0,
                created_by: "cli".into(),
                comment: args.comment.trim().to_string(),
                created_ms: 0,
            };
            let silence = start_silence(
                &o.store,
                &o.trail,
                &o.defs.rules,
                silence,
                args.minutes,
                &by,
                now,
            )
            .await?;
            let id = silence.id;
            Ok(format!(
                "silence #{id} until {}",
                crate::auth::when(Some(silence.ends_ms))
            ))
        }
    }
}
