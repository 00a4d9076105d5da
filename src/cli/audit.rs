//! `watchpost audit [--json] [--fail-on low|medium|high]`: every security
//! audit check against the configured data directory and configuration
//! (safe while the server runs: it only reads). Prints a table, or the
//! `watchpost.audit.v1` JSON report; exits 1 when a finding at or above
//! `--fail-on` (default high) exists, 0 when none does, 2 when the
//! configuration is invalid. It does not store the run: the server's runs
//! are what the page shows and what alerts compare.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::audit_trail::Trail;
use crate::clock;
use crate::security_audit::{self, Setup, Severity};
use crate::store::{self, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Print the report as JSON (schema watchpost.audit.v1).
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: FailOn,
}

pub async fn run(file: Option<PathBuf>, args: AuditArgs) -> ExitCode {
    let loaded = match super::load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    store::restrict_umask();
    let mut config = loaded.config;
    config.config_file = loaded
        .file
        .as_deref()
        .and_then(|f| std::path::absolute(f).ok());
    let setup = Setup::new(&config);
    let store = match Store::open(&setup.data_dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!(
                "error: cannot open the database in {}: {e}",
                setup.data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let trail = Trail::load(&setup.data_dir).map_err(|e| e.to_string());
    let report = security_audit::audit(&setup, &store, trail, clock::now_ms()).await;
    store.close().await;
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: the audit could not read the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: the report could not be written as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.table());
    }
    if report.fails(args.fail_on.into()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
