//! `lectern check [--json]`: the server's health checks, run once from the
//! shell (with the server running or stopped, and with a database too
//! damaged to open, which is then the finding). Exits 0 when every check
//! passes, 1 when some warn and none fails, 2 when one fails: the
//! monitoring-plugin convention, so Nagios, Icinga and cron can use it.

use super::Failure;
use crate::cli::JsonArg;
use crate::config::Config;
use lectern_app::health::{self, Probe, Report};
use lectern_backup::Secrets;
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(
    config: Config,
    root: Option<PathBuf>,
    args: JsonArg,
) -> Result<ExitCode, Failure> {
    let probe = probe(&config, root).await?;
    let report = health::run(&probe).await;
    if let Some(store) = &probe.store {
        store.close().await;
    }
    match args.json {
        true => crate::output::json(&report.health_json(true)),
        false => print(&report),
    }
    Ok(ExitCode::from(report.status.exit_code()))
}

/// What the checks look at: the database if it opens at all (a damaged
/// one is opened unchecked, so that its quick check is a finding).
async fn probe(config: &Config, root: Option<PathBuf>) -> Result<Probe, Failure> {
    let health = config.health.options(&config.data)?;
    let embedded = config.data.join("lectern.db");
    let opened = match config.database_url.is_none() && !embedded.exists() {
        // A check makes no database where a wrong --data points.
        true => Err(format!("there is no database at {}", embedded.display())),
        false => super::open_unchecked(config)
            .await
            .map_err(|e| e.to_string()),
    };
    match opened {
        Ok(store) => {
            let app = super::app(config, store, root, Secrets::none())
                .with_monitoring(health, Default::default());
            let demo = demo_library(config);
            let app = match (app.library_root().await, demo) {
                (Ok(None), Some(demo)) => app.with_library_root(demo),
                _ => app,
            };
            Ok(Probe::of(&app).await)
        }
        Err(problem) => Ok(Probe {
            store: None,
            problem: Some(problem),
            root: root
                .or_else(|| config.root.clone())
                .or_else(|| demo_library(config)),
            data: config.data.clone(),
            folder: super::backup_options(config, Secrets::none()).folder,
            thresholds: health.thresholds,
            sizes: health.sizes_file(),
            watching: lectern_app::watch::WatchState::Off,
        }),
    }
}

/// The demo library `serve` uses when no root is configured, once it
/// wrote it.
fn demo_library(config: &Config) -> Option<PathBuf> {
    Some(config.data.join("demo-library")).filter(|dir| dir.is_dir())
}

/// The verdict first (what Nagios and mail show of a plugin's output),
/// then a line per check.
fn print(report: &Report) {
    use lectern_core::health::Status;
    let count = |s| report.checks.iter().filter(|c| c.status == s).count();
    println!(
        "LECTERN {}: {} pass, {} warn, {} fail",
        report.status.as_str().to_uppercase(),
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail)
    );
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        println!(
            "{:<4}  {:<width$}  {}",
            check.status.as_str(),
            check.name,
            check.output
        );
    }
}
