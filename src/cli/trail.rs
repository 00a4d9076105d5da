//! `watchpost trail verify | export --csv [--output FILE] | erase EMAIL`: the
//! audit trail from the command line, against the configured data directory
//! (safe while the server runs). `verify` exits 0 when the chain is intact and
//! 1 naming the first broken row; `erase` records its own `trail.erased` row.
//! Never prints personal data except in the export asked for.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::audit_trail::{Actor, Trail, Verdict, purge_log, write_csv};
use crate::clock;
use crate::store::{self, Store, StoreError};

#[derive(Debug, Subcommand)]
pub enum TrailCommand {
    /// Recompute the hash chain and the personal-data digests; exit 0 when
    /// intact, 1 naming the first broken row.
    Verify,
    /// Write every row as CSV, oldest first, to stdout or --output.
    Export(ExportArgs),
    /// Blank the personal data of every row about EMAIL; the chain still verifies.
    Erase(EraseArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Export as CSV (RFC 4180, one header line).
    #[arg(long, required = true)]
    pub csv: bool,
    /// Write to FILE (created 0600; must not exist yet) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The e-mail address whose personal data is erased.
    pub email: String,
}

pub async fn run(file: Option<PathBuf>, command: TrailCommand) -> ExitCode {
    let loaded = match super::load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    store::restrict_umask();
    let data_dir = loaded.config.data_dir();
    match command {
        TrailCommand::Verify => verify(&data_dir).await,
        TrailCommand::Export(args) => export(&data_dir, args).await,
        TrailCommand::Erase(args) => erase(&data_dir, args).await,
    }
}

/// The key, or a message that says what is wrong and what to do.
fn load_key(data_dir: &Path) -> Result<Trail, ExitCode> {
    match Trail::load(data_dir) {
        Ok(trail) => Ok(trail),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "error: the audit trail key {} is missing. Without it personal data cannot be \
                 checked or erased. If this is the right data directory, restore trail.key from \
                 a backup of it (`watchpost serve` creates the key at first start).",
                Trail::key_path(data_dir).display()
            );
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn open_store(data_dir: &Path) -> Result<Store, ExitCode> {
    Store::open(data_dir).map_err(|e| {
        eprintln!(
            "error: cannot open the database in {}: {e}",
            data_dir.display()
        );
        ExitCode::FAILURE
    })
}

async fn verify(data_dir: &Path) -> ExitCode {
    let trail = match load_key(data_dir) {
        Ok(trail) => trail,
        Err(code) => return code,
    };
    let store = match open_store(data_dir) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let verdict = store.read(move |conn| trail.verify(conn)).await;
    store.close().await;
    match verdict {
        Ok(Verdict::Intact { rows, head }) => {
            println!("audit trail intact: {rows} rows");
            if let Some(head) = head {
                println!("head hash: {head}");
            }
            ExitCode::SUCCESS
        }
        Ok(Verdict::Broken { id, problem }) => {
            println!("audit trail broken at row {id}: {problem}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: the audit trail could not be read: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn export(data_dir: &Path, args: ExportArgs) -> ExitCode {
    let out: Box<dyn Write + Send> = match &args.output {
        None => Box::new(BufWriter::new(std::io::stdout())),
        Some(path) => match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(file) => Box::new(BufWriter::new(file)),
            Err(e) => {
                eprintln!(
                    "error: cannot create {}: {e}; choose a file that does not exist yet",
                    path.display()
                );
                return ExitCode::FAILURE;
            }
        },
    };
    let store = match open_store(data_dir) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let written = store.read(move |conn| write_csv(conn, out)).await;
    store.close().await;
    match written {
        Ok(rows) => {
            let to = args
                .output
                .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
            eprintln!("exported {rows} rows to {to}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the export failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn erase(data_dir: &Path, args: EraseArgs) -> ExitCode {
    if !args.email.contains('@') {
        eprintln!("error: give the e-mail address to erase, like someone@example.com");
        return ExitCode::FAILURE;
    }
    let trail = match load_key(data_dir) {
        Ok(trail) => trail,
        Err(code) => return code,
    };
    let store = match open_store(data_dir) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let now = clock::now_ms();
    let email = args.email;
    let erased = store
        .write(move |conn| trail.erase(conn, now, &email, Actor::Cli))
        .await;
    let purged = erased.is_ok() && matches!(purge_log(store.path()), Ok(true));
    store.close().await;
    match erased {
        Ok(rows) => {
            println!(
                "erased the personal data of {rows} rows; the erasure is recorded as trail.erased"
            );
            if !purged {
                println!(
                    "note: the running Watchpost kept the database log busy, so old copies stay \
                     in it until it is reused; run this again while Watchpost is stopped to remove \
                     them at once"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: nothing was erased: {e}");
            ExitCode::FAILURE
        }
    }
}
