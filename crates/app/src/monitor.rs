//! The health checks in the background: run at an interval and soon after
//! anything that changes their answer (a scan, a backup, a restore), their
//! report stored for `/api/health`, the panel and the metrics, and handed
//! to the alerts. Also the admin's health settings: the thresholds and
//! which alerts are on.

use crate::context::App;
use crate::error::AppError;
use crate::events::{Event, Listener};
use crate::health::{self, Probe, Report, SizeSample, Thresholds};
use async_trait::async_trait;
use lectern_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// How the checks run (`[health]` in the configuration).
#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// Between two runs in the background.
    pub interval: Duration,
    /// The thresholds until an admin saves others in the panel.
    pub thresholds: Thresholds,
    /// The data folder, whose filesystem `disk:data` watches.
    pub data: PathBuf,
    /// `DATA/monitor`: the alerts' state and the database's past sizes.
    /// Outside the database, so that a restore replaces neither.
    pub state: PathBuf,
}

impl HealthOptions {
    pub fn in_data(data: &Path) -> HealthOptions {
        HealthOptions {
            interval: Duration::from_secs(60),
            thresholds: Thresholds::default(),
            data: data.to_owned(),
            state: data.join("monitor"),
        }
    }

    pub fn sizes_file(&self) -> PathBuf {
        self.state.join("database-sizes.json")
    }

    pub fn alerts_file(&self) -> PathBuf {
        self.state.join("alerts.json")
    }
}

/// The setting holding what an admin saved.
pub const HEALTH_SETTINGS: &str = "health_settings";

/// What an admin changes in the panel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    /// `None`: the configuration's.
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
    /// Alert conditions switched off.
    #[serde(default)]
    pub alerts_off: BTreeSet<String>,
}

/// What an admin saved; `Err` when the database did not say.
pub async fn read_settings(app: &App) -> Result<HealthSettings, StoreError> {
    let saved = crate::settings::json_setting(app.store.as_ref(), HEALTH_SETTINGS).await?;
    Ok(saved.unwrap_or_default())
}

/// What an admin saved, or nothing saved when the database does not say
/// (for the panel, which shows the database's trouble elsewhere).
pub async fn saved_settings(app: &App) -> HealthSettings {
    read_settings(app).await.unwrap_or_default()
}

/// The thresholds in force: the saved ones, else the configuration's.
pub async fn thresholds(app: &App) -> Thresholds {
    saved_settings(app)
        .await
        .thresholds
        .unwrap_or(app.health.thresholds)
}

/// Whether an admin's health settings can be saved, in words when not.
pub fn check_settings(change: &HealthSettings) -> Result<(), AppError> {
    if let Some(t) = &change.thresholds {
        t.check().map_err(AppError::Invalid)?;
    }
    match change
        .alerts_off
        .iter()
        .find(|c| crate::alerts::condition(c).is_none())
    {
        Some(unknown) => Err(AppError::Invalid(format!("no alert is named {unknown:?}"))),
        None => Ok(()),
    }
}

/// The last report, kept for readers between runs.
#[derive(Default)]
pub struct Monitor {
    latest: RwLock<Option<Report>>,
    wake: Notify,
    /// One run at a time: a slow run that began before a change must not
    /// replace the report of a run after it.
    running: tokio::sync::Mutex<()>,
}

impl Monitor {
    pub fn latest(&self) -> Option<Report> {
        self.latest.read().ok().and_then(|r| r.clone())
    }

    /// Asks for a run soon, as something the checks look at changed.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    fn keep(&self, report: Report) {
        if let Ok(mut latest) = self.latest.write() {
            *latest = Some(report);
        }
    }
}

/// The stored report; the checks run now if none is stored yet.
pub async fn report(app: &App) -> Report {
    match app.monitor.latest() {
        Some(report) => report,
        None => check_now(app).await,
    }
}

/// Runs the checks, keeps the report and tells the alerts.
pub async fn check_now(app: &App) -> Report {
    let _one = app.monitor.running.lock().await;
    let probe = Probe::of(app).await;
    let report = health::run(&probe).await;
    if let Ok(bytes) = app.store.database_size().await {
        let window = probe.thresholds.growth_window_secs;
        record_size(&app.health.sizes_file(), bytes, window);
    }
    app.monitor.keep(report.clone());
    // Unreadable settings switch nothing on or off: the last ones stand.
    let off = read_settings(app).await.ok().map(|s| s.alerts_off);
    app.alerts.observe(&report, off.as_ref());
    report
}

/// Runs the checks every interval, and soon after a nudge, until the
/// process ends.
pub async fn run(app: App) {
    loop {
        check_now(&app).await;
        let nudged = app.monitor.wake.notified();
        tokio::select! {
            _ = tokio::time::sleep(app.health.interval) => {}
            _ = nudged => {
                // Let a burst of events settle into one run.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Keeps one size per 1/48th of the window, and twice the window's worth.
pub fn record_size(path: &Path, bytes: u64, window_secs: u64) {
    let now = lectern_store::now_ms();
    let window = window_secs as i64 * 1000;
    let mut samples = health::read_sizes(path);
    samples.retain(|s| s.at >= now - 2 * window);
    let due = samples
        .last()
        .is_none_or(|last| now - last.at >= (window / 48).max(1));
    if !due {
        return;
    }
    samples.push(SizeSample { at: now, bytes });
    match serde_json::to_vec(&samples) {
        Ok(json) => {
            if let Err(e) = write_atomically(path, &json) {
                tracing::warn!("cannot keep the database size in {}: {e}", path.display());
            }
        }
        Err(e) => tracing::warn!("cannot write the database sizes: {e}"),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// crash leaves the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Runs the checks again after events that change what they find.
pub struct MonitorListener(pub Arc<Monitor>);

#[async_trait]
impl Listener for MonitorListener {
    async fn on(&self, event: &Event) {
        if matches!(
            event,
            Event::ScanFinished { .. }
                | Event::CleanupFinished { .. }
                | Event::BackupCreated { .. }
                | Event::BackupFailed { .. }
                | Event::BackupImported { .. }
                | Event::BackupDeleted { .. }
                | Event::OffsiteCopy { .. }
                | Event::DrillFinished { .. }
                | Event::RestoreFinished { .. }
                | Event::RestoreFailed { .. }
                | Event::SettingsChanged { .. }
        ) {
            self.0.nudge();
        }
    }
}
