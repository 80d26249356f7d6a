//! Putting a backup back: one sequence, run by the server's restore
//! endpoint and by the offline `lectern backup restore` alike. What
//! differs between them is a parameter of [`RestoreRequest`]: who
//! confirms, which requests are drained, where progress shows.
//!
//! The steps: take the operation lock; confirm; check and prepare the
//! archive (a bad one changes nothing); take a safety backup of the data
//! about to be replaced; turn maintenance on and wait until every live
//! instance has drained its database requests; replace the data in one
//! step (every session ends, newer audit entries stay); maintenance off.
//!
//! A database too damaged to back up cannot be replaced in place: the
//! restore then hands the prepared file back ([`RestoreOutcome::Unreadable`])
//! for [`install`], which moves the damaged file aside and puts the
//! restored one in its place; only possible with no server running.

use crate::context::App;
use crate::error::AppError;
use crate::events::{Actor, Event};
use crate::operation::Running;
use async_trait::async_trait;
use lectern_backup::{BackupRecord, BackupType, Manifest, PreparedRestore, Progress};
use lectern_store::snapshot;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a restore waits for requests in flight before it replaces
/// the data anyway: the replacement is one transaction, so a request
/// still running sees the old data or the new, never a mix.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// This instance's requests that may read or write the database.
#[async_trait]
pub trait Drain: Send + Sync {
    /// Waits until none runs but the restore's own, or `limit` passes;
    /// `Err` carries how many still run.
    async fn drain(&self, limit: Duration) -> Result<(), usize>;
}

/// The command line's: it serves no requests.
pub struct NoRequests;

#[async_trait]
impl Drain for NoRequests {
    async fn drain(&self, _limit: Duration) -> Result<(), usize> {
        Ok(())
    }
}

/// Asked with the lock held and before anything changes; an `Err` stops
/// the restore with nothing changed. The server's caller has confirmed by
/// asking; the command line asks a person.
pub type Confirm<'a> = &'a (dyn Fn(&Manifest) -> Result<(), AppError> + Send + Sync);

pub struct RestoreRequest<'a> {
    /// The archive to put back.
    pub archive: &'a Path,
    /// Who restores.
    pub who: &'a Actor,
    pub confirm: Confirm<'a>,
    pub drain: &'a dyn Drain,
    pub progress: Arc<dyn Progress>,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    pub archive: PathBuf,
    /// The schema version the data now has (migrated from the archive's).
    pub schema_version: i64,
    /// The backup of the data that was replaced.
    pub safety_backup: Option<BackupRecord>,
    /// Where a damaged database was moved.
    pub damaged_file: Option<PathBuf>,
}

pub enum RestoreOutcome {
    Restored(Box<Restored>),
    /// The live database cannot be read: nothing was changed, and the
    /// checked, prepared data is for [`install`].
    Unreadable(Box<PreparedRestore>),
}

/// Puts the archive back over the live database (see the module's steps).
pub async fn restore(app: &App, request: RestoreRequest<'_>) -> Result<RestoreOutcome, AppError> {
    crate::access::require_admin(request.who)?;
    let running = Running::start(app, "restore", &request.who.label()).await?;
    let progress = running.progress(request.progress.clone());
    let done = restore_locked(app, &request, progress).await;
    // The lock row was carried into the restored data, so this still
    // frees it.
    running.finish().await;
    done
}

async fn restore_locked(
    app: &App,
    request: &RestoreRequest<'_>,
    progress: Arc<dyn Progress>,
) -> Result<RestoreOutcome, AppError> {
    let manifest =
        lectern_backup::archive::read_layout(request.archive, snapshot::latest_schema_version())?
            .manifest;
    (request.confirm)(&manifest)?;
    let started = Event::RestoreStarted {
        backup_id: manifest.id.clone(),
        by: request.who.clone(),
    };
    app.events.emit(started).await;
    let replaced = prepare_and_replace(app, request, progress).await;
    let event = match &replaced {
        Ok(RestoreOutcome::Restored(done)) => Event::RestoreFinished {
            backup_id: manifest.id.clone(),
            by: request.who.clone(),
            safety_backup_id: done.safety_backup.as_ref().map(|r| r.id.clone()),
            schema_version: done.schema_version,
            damaged_file: done.damaged_file.clone(),
        },
        Ok(RestoreOutcome::Unreadable(_)) => {
            // Nothing was replaced here: the caller installs the prepared
            // file offline, or refuses. Either way this restore is over.
            let words = format!(
                "the restore of backup {} stopped: the current database cannot be read",
                manifest.id
            );
            app.alerts.clear("restore", words);
            return replaced;
        }
        Err(e) => Event::RestoreFailed {
            backup_id: manifest.id.clone(),
            by: request.who.clone(),
            message: e.chain(),
        },
    };
    app.events.emit(event).await;
    replaced
}

async fn prepare_and_replace(
    app: &App,
    request: &RestoreRequest<'_>,
    progress: Arc<dyn Progress>,
) -> Result<RestoreOutcome, AppError> {
    let prepared = prepare(&app.backups, request.archive, progress.clone()).await?;
    // After the archive's checks, not beside them, so that it holds the
    // data as close as can be to the moment it is replaced.
    let notes = Some(format!(
        "the data before restoring {}",
        prepared.manifest().id
    ));
    let safety = match crate::backups::create_locked(
        app,
        request.who,
        BackupType::Safety,
        notes,
        progress.clone(),
    )
    .await
    {
        Ok(record) => record,
        Err(AppError::Damaged(problems)) => {
            tracing::error!("the current database cannot be read: {problems}");
            return Ok(RestoreOutcome::Unreadable(Box::new(prepared)));
        }
        Err(e) => return Err(e),
    };
    progress.step("replacing the data", None);
    replace_in_maintenance(app, request.drain, &prepared).await?;
    Ok(RestoreOutcome::Restored(Box::new(Restored {
        manifest: prepared.manifest().clone(),
        archive: request.archive.to_owned(),
        schema_version: prepared.migrated_to,
        safety_backup: Some(safety),
        damaged_file: None,
    })))
}

/// Maintenance on, every instance drained, the data replaced, maintenance
/// off again on every way out.
async fn replace_in_maintenance(
    app: &App,
    drain: &dyn Drain,
    prepared: &PreparedRestore,
) -> Result<(), AppError> {
    let coordination = &app.coordination;
    let reason = format!("restoring backup {}", prepared.manifest().id);
    let epoch = coordination
        .begin_maintenance(&reason)
        .await
        .map_err(|e| AppError::internal("cannot turn maintenance on", e))?;
    wait_for_drain(app, drain, epoch).await;
    let replaced = app
        .store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await;
    // The generations tell indexes apart; a new database starts afresh all
    // the same.
    app.index_cache.clear();
    if let Err(e) = coordination.end_maintenance(epoch).await {
        tracing::error!("cannot turn maintenance off: {e}");
    }
    Ok(replaced?)
}

/// This instance's own requests first, then every other live instance's
/// confirmation; past [`DRAIN_LIMIT`] the restore goes on regardless.
async fn wait_for_drain(app: &App, drain: &dyn Drain, epoch: u64) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    if let Err(running) = drain.drain(DRAIN_LIMIT).await {
        tracing::warn!("restoring with {running} requests still running after {DRAIN_LIMIT:?}");
    }
    let coordination = &app.coordination;
    if let Err(e) = coordination.confirm_drained(epoch).await {
        tracing::warn!("cannot confirm this instance drained: {e}");
    }
    while Instant::now() < deadline {
        match all_drained(app, epoch).await {
            Ok(true) => return,
            Ok(false) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                tracing::warn!("cannot tell whether the other instances drained: {e}");
                return;
            }
        }
    }
    tracing::warn!("restoring before every instance confirmed its drain");
}

async fn all_drained(
    app: &App,
    epoch: u64,
) -> Result<bool, crate::coordination::CoordinationError> {
    let coordination = &app.coordination;
    let drained = coordination.drained(epoch).await?;
    let live = coordination.live_instances().await?;
    Ok(live.iter().all(|id| drained.contains(id)))
}

/// Checks the archive completely and prepares its database (migrated,
/// checked) in the work folder, changing nothing live: the first step of
/// every restore, and the whole of a test restore.
pub async fn prepare(
    backups: &crate::BackupOptions,
    archive: &Path,
    progress: Arc<dyn Progress>,
) -> Result<PreparedRestore, AppError> {
    let prepared = lectern_backup::prepare_restore(
        archive,
        &backups.folder,
        &backups.secrets,
        backups.limits,
        progress,
    )
    .await?;
    Ok(prepared)
}

/// The restore for a database that cannot be read, or is not there yet:
/// the damaged file is moved aside into the backup work folder (kept,
/// with its journal files) and the prepared file put in its place.
/// Nothing may have the database open.
pub async fn install(
    backups: &crate::BackupOptions,
    prepared: &PreparedRestore,
    archive: &Path,
    db_path: &Path,
) -> Result<Restored, AppError> {
    // What the archive's sessions and lock row were are no one's now.
    snapshot::forget_sessions_and_lock(prepared.database())
        .await
        .map_err(lectern_backup::BackupError::from)?;
    let folder = &backups.folder;
    folder.ensure()?;
    let aside = free_aside_name(folder.work_dir());
    let io = |what: &str, e: std::io::Error| AppError::internal(what, e);
    let moved = if db_path.exists() {
        snapshot::move_aside(db_path, &aside)
            .map_err(|e| io("cannot move the damaged database aside", e))?;
        Some(aside.clone())
    } else {
        None
    };
    if let Err(e) = snapshot::install(prepared.database(), db_path) {
        if moved.is_some() {
            // Put back what was there: a failed restore changes nothing
            // (but never over a database that appeared meanwhile).
            if let Err(e) = snapshot::put_back(&aside, db_path) {
                tracing::error!("the damaged database stays at {} ({e})", aside.display());
            }
        }
        return Err(io("cannot put the restored database in place", e));
    }
    Ok(Restored {
        manifest: prepared.manifest().clone(),
        archive: archive.to_owned(),
        schema_version: prepared.migrated_to,
        safety_backup: None,
        damaged_file: moved,
    })
}

/// Announces a restore [`install`] did, once the installed database is
/// open as `app`'s: its audit entry lands in the restored data.
pub async fn announce_installed(app: &App, who: &Actor, restored: &Restored) {
    let event = Event::RestoreFinished {
        backup_id: restored.manifest.id.clone(),
        by: who.clone(),
        safety_backup_id: None,
        schema_version: restored.schema_version,
        damaged_file: restored.damaged_file.clone(),
    };
    app.events.emit(event).await;
}

/// `damaged-STAMP.db`, numbered so that it never lands on an earlier one.
fn free_aside_name(dir: &Path) -> PathBuf {
    let stamp = lectern_backup::ArchiveName::stamp_now();
    (0..)
        .map(|n| match n {
            0 => dir.join(format!("damaged-{stamp}.db")),
            n => dir.join(format!("damaged-{stamp}-{n}.db")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(format!("damaged-{stamp}.db")))
}
