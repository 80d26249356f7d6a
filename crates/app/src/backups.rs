//! Backup use cases shared by the server and the command line: making
//! one, taking in an upload, how an outcome nobody waits for is recorded,
//! and the off-site copies. The restore is `restore.rs`.

use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::operation::Running;
use crate::settings::json_setting;
use lectern_backup::{BackupRecord, BackupType, NewBackup, Progress};
use lectern_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// The setting that keeps the last backup failure until one succeeds.
pub const LAST_FAILURE: &str = "backup_last_failure";

/// Why the last backup (or its off-site copy) failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub at: i64,
    pub action: String,
    pub message: String,
}

pub async fn last_failure(store: &dyn Store) -> Result<Option<Failure>, StoreError> {
    json_setting(store, LAST_FAILURE).await
}

/// The steps whose failures are kept (`Failure::action`).
pub const CREATE: &str = "backup.create";
pub const OFFSITE: &str = "backup.offsite";
pub const DRILL: &str = "backup.drill";

/// The last failure, if it still matters: a backup's until a readable
/// backup newer than it exists; an off-site copy's or a drill's until
/// their own step succeeds (which clears it). The health checks and the
/// overview both judge by this.
pub fn failure_in_force(
    failure: Option<Failure>,
    newest: Option<&BackupRecord>,
) -> Option<Failure> {
    let newest_ms = newest.map(|r| (r.created_at.unix_timestamp_nanos() / 1_000_000) as i64);
    failure.filter(|f| f.action != CREATE || newest_ms.is_none_or(|made| made < f.at))
}

/// Keeps how a backup step went that no request is waiting for (a
/// scheduled backup, an off-site copy, a drill): a failure as the last
/// failure, which the status and health checks show, until a success
/// clears it. The audit log hears of it from the step's event.
pub async fn record_outcome(store: &dyn Store, action: &str, outcome: Result<(), String>) {
    let last = match &outcome {
        // A success clears only a failure of the same step: a passing
        // drill must not hide a failed backup.
        Ok(()) => match last_failure(store).await {
            Ok(Some(failure)) if failure.action != action => return,
            _ => String::new(),
        },
        Err(message) => {
            tracing::error!("{action} failed: {message}");
            let failure = Failure {
                at: lectern_store::now_ms(),
                action: action.to_owned(),
                message: message.clone(),
            };
            serde_json::to_string(&failure).unwrap_or_default()
        }
    };
    if let Err(e) = store.set_setting(LAST_FAILURE, &last).await {
        tracing::warn!("cannot keep the backup outcome: {e}");
    }
}

/// Copies a new archive off site, if configured; the server's backups and
/// the offline CLI's alike. The backup itself is made, so a failure is
/// recorded (and returned, for a person to be told) rather than undoing it.
pub async fn send_offsite(app: &App, who: &Actor, record: &BackupRecord) -> Result<(), String> {
    let offsite = &app.backups.offsite;
    if offsite.is_empty() {
        return Ok(());
    }
    let outcome = offsite.send(record).await.map_err(|e| e.to_string());
    record_outcome(app.store.as_ref(), OFFSITE, outcome.clone()).await;
    let event = Event::OffsiteCopy {
        backup_id: record.id.clone(),
        by: who.clone(),
        failure: outcome.clone().err(),
    };
    app.events.emit(event).await;
    outcome
}

/// A backup made, and why its off-site copy failed when it did.
#[derive(Debug)]
pub struct Created {
    pub record: BackupRecord,
    pub offsite_error: Option<String>,
}

/// A new backup of the live database, of `backup_type`, by `who`, under
/// the operation lock; then its off-site copies, outside the lock (a slow
/// mirror holds up no scan). A failed copy is recorded and returned: the
/// backup is made either way.
pub async fn create(
    app: &App,
    who: &Actor,
    backup_type: BackupType,
    notes: Option<String>,
    progress: Arc<dyn Progress>,
) -> Result<Created, AppError> {
    let record = create_archive(app, who, backup_type, notes, progress).await?;
    let copied = send_offsite(app, who, &record).await;
    Ok(Created {
        record,
        offsite_error: copied.err(),
    })
}

/// The backup alone, without its off-site copies.
pub async fn create_archive(
    app: &App,
    who: &Actor,
    backup_type: BackupType,
    notes: Option<String>,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, AppError> {
    crate::access::require_admin(who)?;
    let running = Running::start(app, "backup", &who.label()).await?;
    let made = create_locked(app, who, backup_type, notes, running.progress(progress)).await;
    running.finish().await;
    made
}

/// Every archive in the backup folder, newest first.
pub fn list(app: &App) -> Result<Vec<BackupRecord>, AppError> {
    Ok(app.backups.folder.list()?)
}

/// Backup `id`; `latest` names the newest readable one.
pub fn find(app: &App, id: &str) -> Result<BackupRecord, AppError> {
    let folder = &app.backups.folder;
    if id != "latest" {
        return Ok(folder.find(id)?);
    }
    newest_readable(&folder.list()?)
        .cloned()
        .ok_or_else(|| AppError::NotFound("there is no readable backup".into()))
}

/// The first readable archive of a list newest first: what `latest` names.
pub fn newest_readable(list: &[BackupRecord]) -> Option<&BackupRecord> {
    list.iter()
        .find(|r| r.status == lectern_backup::BackupStatus::Completed)
}

pub async fn delete(app: &App, who: &Actor, id: &str) -> Result<(), AppError> {
    crate::access::require_admin(who)?;
    app.backups.folder.delete(id)?;
    let event = Event::BackupDeleted {
        id: id.to_owned(),
        by: who.clone(),
    };
    app.events.emit(event).await;
    Ok(())
}

/// The backup itself, for a caller that holds the lock already (a
/// restore's or a cleanup's safety backup).
pub(crate) async fn create_locked(
    app: &App,
    who: &Actor,
    backup_type: BackupType,
    notes: Option<String>,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, AppError> {
    let options = &app.backups;
    let new = NewBackup {
        backup_type,
        created_by: who.label(),
        notes,
    };
    let store = app.store.as_ref();
    let made =
        lectern_backup::create(store, &options.folder, &new, &options.secrets, progress).await;
    match made {
        Ok(record) => {
            app.events
                .emit(Event::BackupCreated {
                    id: record.id.clone(),
                    backup_type,
                    by: who.clone(),
                })
                .await;
            Ok(record)
        }
        Err(e) => {
            let error = AppError::from(e);
            // Whoever asked, the health checks and alerts must know.
            record_outcome(store, CREATE, Err(error.chain())).await;
            app.events
                .emit(Event::BackupFailed {
                    backup_type,
                    by: who.clone(),
                    message: error.chain(),
                })
                .await;
            Err(error)
        }
    }
}

/// Takes an uploaded file (in the work folder) into the backup folder once
/// it verifies completely; a bad one is refused and removed.
pub async fn import(
    app: &App,
    who: &Actor,
    upload: &Path,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, AppError> {
    crate::access::require_admin(who)?;
    let running = Running::start(app, "upload", &who.label()).await?;
    let options = &app.backups;
    let taken = lectern_backup::import(
        upload,
        &options.folder,
        &options.secrets,
        options.limits,
        running.progress(progress),
    )
    .await;
    running.finish().await;
    let record = taken?;
    let event = Event::BackupImported {
        id: record.id.clone(),
        by: who.clone(),
    };
    app.events.emit(event).await;
    Ok(record)
}

/// Checks backup `id` completely, as a restore would before touching
/// anything (layout, checksums, decryption, the database inside), and
/// changes nothing.
pub async fn verify(
    app: &App,
    who: &Actor,
    id: &str,
    progress: Arc<dyn Progress>,
) -> Result<(BackupRecord, lectern_backup::Manifest), AppError> {
    crate::access::require_admin(who)?;
    let record = find(app, id)?;
    let options = &app.backups;
    let checked = lectern_backup::verify(
        &record.file_path,
        &options.folder,
        &options.secrets,
        options.limits,
        progress,
    )
    .await?;
    Ok((record, checked.manifest))
}
