//! `watchpost dev …`: commands for benchmarks and screenshots, never part of
//! `serve`. `dev seed-metrics --days N` fills the configured database with
//! labelled synthetic host history and prints what it wrote and what it costs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::host::seed;
use crate::series;
use crate::store::{self, Store};

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill the database with synthetic host history (marked synthetic).
    SeedMetrics(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Days of history, ending now (1–400).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=400))]
    pub days: u32,
}

pub async fn run(file: Option<PathBuf>, command: DevCommand) -> ExitCode {
    let loaded = match super::load_config(file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    store::restrict_umask();
    let DevCommand::SeedMetrics(args) = command;
    let data_dir = loaded.config.data_dir();
    let store = match Store::open(&data_dir) {
        Ok(store) => store,
        Err(e) => {
            eprintln!(
                "error: cannot open the database in {}: {e}",
                data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let now = crate::clock::now_ms().div_euclid(1000);
    let outcome = async {
        let report = seed::seed(&store, args.days, now).await?;
        let footprint = store.read(series::repo::footprint).await?;
        Ok::<_, store::StoreError>((report, footprint))
    }
    .await;
    store.close().await;
    match outcome {
        Ok((report, footprint)) => {
            let db_bytes = std::fs::metadata(store.path())
                .map(|m| m.len())
                .unwrap_or(0);
            println!(
                "synthetic: {} days, {} series, {} samples (raw rows {}, 1m rows {}, 1h rows {})",
                args.days,
                report.series,
                report.samples,
                report.raw_rows,
                report.minute_rows,
                report.hour_rows
            );
            println!(
                "series tables: {} bytes for {} rows: {:.2} bytes per sample taken, {:.1} bytes per stored row; database file {} bytes",
                footprint.bytes,
                footprint.rows,
                footprint.bytes as f64 / report.samples.max(1) as f64,
                footprint.bytes as f64 / footprint.rows.max(1) as f64,
                db_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: seeding failed: {e}");
            ExitCode::FAILURE
        }
    }
}
