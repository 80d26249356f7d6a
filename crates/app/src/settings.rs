//! The run-time settings an admin changes, and settings kept as JSON in
//! the store's key/value settings.

use crate::access::require_admin;
use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::monitor::{self, HealthSettings};
use crate::retention::Retention;
use crate::schedule::{parse_schedule, BackupPlan, DRILL, RETENTION, SCHEDULE};
use lectern_store::settings::{library_open, LIBRARY_OPEN, LIBRARY_ROOT};
use lectern_store::{FileState, Scope, Store, StoreError};
use std::path::{Path, PathBuf};

/// A setting kept as JSON; `None` when unset, cleared or unreadable.
pub async fn json_setting<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, StoreError> {
    Ok(store
        .setting(key)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok()))
}

/// The saved and the effective settings an admin changes at run time.
pub struct Settings {
    /// The saved library root.
    pub root_path: Option<String>,
    /// The root in use: `--root`/`LECTERN_ROOT` win over the saved one.
    pub effective_root: Option<PathBuf>,
    pub root_overridden: bool,
    pub library_open: bool,
    pub schedule: String,
    pub retention: Retention,
    pub drill: String,
    /// The health checks' thresholds and the alerts switched off.
    pub health: HealthSettings,
}

/// What to change; `None` leaves a setting as it is.
#[derive(Default)]
pub struct SettingsChange {
    pub root_path: Option<String>,
    pub library_open: Option<bool>,
    pub schedule: Option<String>,
    pub retention: Option<Retention>,
    pub drill: Option<String>,
    pub health: Option<HealthSettings>,
}

const MAX_PATH: usize = 4096;

pub async fn show(app: &App, by: &Actor) -> Result<Settings, AppError> {
    require_admin(by)?;
    let store = app.store.as_ref();
    let plan = BackupPlan::load(store).await?;
    Ok(Settings {
        root_path: store.setting(LIBRARY_ROOT).await?,
        effective_root: app.library_root().await?,
        root_overridden: app.library.root_override.is_some(),
        library_open: library_open(store).await?,
        schedule: plan.schedule,
        retention: plan.retention,
        drill: plan.drill,
        health: monitor::saved_settings(app).await,
    })
}

/// Saves the changes together, or none of them: a root path is saved only
/// when it is an absolute path to a directory Lectern can list, and the
/// schedules only when they parse.
pub async fn update(app: &App, by: &Actor, change: SettingsChange) -> Result<Settings, AppError> {
    require_admin(by)?;
    if change.root_path.is_none()
        && change.library_open.is_none()
        && change.schedule.is_none()
        && change.retention.is_none()
        && change.drill.is_none()
        && change.health.is_none()
    {
        return Err(AppError::Invalid(
            "nothing to change: give root_path, library_open, schedule, retention, drill or \
             health"
                .into(),
        ));
    }
    if let Some(health) = &change.health {
        monitor::check_settings(health)?;
    }
    let health = change
        .health
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| AppError::internal("cannot write the health settings", e))?;
    for expression in [&change.schedule, &change.drill].into_iter().flatten() {
        parse_schedule(expression).map_err(AppError::Invalid)?;
    }
    let retention = change
        .retention
        .map(|r| serde_json::to_string(&r))
        .transpose()
        .map_err(|e| AppError::internal("cannot write the retention", e))?;
    if let Some(root) = &change.root_path {
        let root = root.clone();
        tokio::task::spawn_blocking(move || check_root(&root))
            .await
            .map_err(|e| AppError::internal("the root check failed", e))??;
    }
    let mut changes = Vec::new();
    if let Some(root) = &change.root_path {
        changes.push((LIBRARY_ROOT, root.as_str()));
    }
    if let Some(open) = change.library_open {
        changes.push((LIBRARY_OPEN, if open { "true" } else { "false" }));
    }
    if let Some(schedule) = &change.schedule {
        changes.push((SCHEDULE, schedule.trim()));
    }
    if let Some(drill) = &change.drill {
        changes.push((DRILL, drill.trim()));
    }
    if let Some(retention) = &retention {
        changes.push((RETENTION, retention.as_str()));
    }
    if let Some(health) = &health {
        changes.push((monitor::HEALTH_SETTINGS, health.as_str()));
    }
    app.store.set_settings(&changes).await?;
    let names = changes.iter().map(|(name, _)| *name).collect();
    let event = Event::SettingsChanged {
        by: by.clone(),
        names,
    };
    app.events.emit(event).await;
    if health.is_some() {
        // The panel shows the checks under the new thresholds at once.
        monitor::check_now(app).await;
    }
    show(app, by).await
}

fn check_root(raw: &str) -> Result<(), AppError> {
    let bad = |why: String| Err(AppError::Invalid(why));
    if raw.is_empty() || raw.len() > MAX_PATH || raw.chars().any(char::is_control) {
        return bad(format!(
            "root_path is a path of 1 to {MAX_PATH} bytes without control characters"
        ));
    }
    let path = Path::new(raw);
    if !path.is_absolute() {
        return bad(format!("root_path must be absolute: {raw:?}"));
    }
    match std::fs::metadata(path) {
        Err(e) => return bad(format!("root_path {raw:?} cannot be used: {e}")),
        Ok(meta) if !meta.is_dir() => return bad(format!("root_path {raw:?} is not a directory")),
        Ok(_) => {}
    }
    if let Err(e) = std::fs::read_dir(path) {
        return bad(format!("root_path {raw:?} cannot be read: {e}"));
    }
    Ok(())
}

/// What saving a new library root would mean, asked before it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct RootCheck {
    /// Entries directly inside the folder.
    pub entries: u64,
    /// Files the index holds as present now.
    pub indexed: u64,
    /// How many of those are at the same place under the new root.
    pub found: u64,
    /// Each reason to think twice, in words: an empty folder (an unmounted
    /// share), or more of the index missing there than a scan's safety
    /// guard allows.
    pub warnings: Vec<String>,
}

/// Checks a root path the way [`update`] does (absolute, a folder Lectern
/// can list), then compares it with the index: the unmounted-NAS case is
/// seen before a scan marks half the library missing.
pub async fn check_new_root(app: &App, by: &Actor, raw: &str) -> Result<RootCheck, AppError> {
    require_admin(by)?;
    let known = app.store.known_files(Scope::All).await?;
    let share = app.library.max_missing_share;
    let raw = raw.to_owned();
    tokio::task::spawn_blocking(move || {
        check_root(&raw)?;
        Ok(compare_root(Path::new(&raw), &known, share))
    })
    .await
    .map_err(|e| AppError::internal("the root check failed", e))?
}

fn compare_root(root: &Path, known: &[lectern_store::KnownFile], share: f64) -> RootCheck {
    let entries = std::fs::read_dir(root).map_or(0, |dir| dir.count() as u64);
    let present = known.iter().filter(|f| f.state == FileState::Present);
    let (mut indexed, mut found) = (0u64, 0u64);
    for file in present {
        indexed += 1;
        found += u64::from(file.path.to_path(root).exists());
    }
    let mut warnings = Vec::new();
    if entries == 0 {
        warnings.push(format!(
            "{} is empty: if it is a network share, it may not be mounted",
            root.display()
        ));
    }
    let missing = indexed - found;
    if lectern_core::scan::exceeds_missing_share(missing, indexed, share) {
        warnings.push(format!(
            "{missing} of the {indexed} indexed files are not in {}: a scan would mark them \
             missing (its safety guard stops above {:.0} %)",
            root.display(),
            share * 100.0
        ));
    }
    RootCheck {
        entries,
        indexed,
        found,
        warnings,
    }
}
