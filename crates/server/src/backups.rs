//! Backups from the running server (SPEC §3): create, take in an upload,
//! and restore, each under the operation lock shared with scans. The
//! archive work itself is `lectern_backup`'s, the same code the offline
//! CLI runs; what is the server's own is the lock, the job shown in the
//! status, and the restore's maintenance window.

use crate::error::ApiError;
use crate::state::AppState;
pub use lectern_app::backups::{last_failure, record_outcome, send_offsite, Failure};
use lectern_backup::{
    BackupError, BackupFolder, BackupRecord, BackupType, Limits, NewBackup, Offsite, Progress,
    Secrets,
};
use lectern_store::lock::{LockError, LockHandle};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a restore waits for requests in flight (long downloads among
/// them) before it replaces the data anyway: they read files, not the
/// database, and the replacement is one transaction.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Where backups live and how they are sealed, from the configuration.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub folder: BackupFolder,
    /// From `LECTERN_BACKUP_*` only, never from the database.
    pub secrets: Secrets,
    pub limits: Limits,
    /// The largest upload taken, in bytes.
    pub max_upload: u64,
    /// Where new archives are copied (configuration only).
    pub offsite: Offsite,
}

impl BackupOptions {
    pub fn in_data(data: &Path, secrets: Secrets) -> Self {
        Self {
            folder: BackupFolder::in_data(data),
            secrets,
            limits: Limits::default(),
            max_upload: 16 << 30,
            offsite: Offsite::default(),
        }
    }
}

/// The backup job running now, for `GET /api/admin/backup/status`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub operation: String,
    pub step: String,
    pub started_at: i64,
}

#[derive(Default)]
pub struct JobSlot(Mutex<Option<Job>>);

impl JobSlot {
    pub fn current(&self) -> Option<Job> {
        self.0.lock().ok().and_then(|j| j.clone())
    }

    fn set(&self, job: Option<Job>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = job;
        }
    }
}

/// Shows each step of the archive work as the job's current step.
struct JobProgress(Arc<JobSlot>);

impl Progress for JobProgress {
    fn step(&self, name: &str, _total: Option<u64>) {
        if let Ok(mut slot) = self.0 .0.lock() {
            if let Some(job) = slot.as_mut() {
                job.step = name.to_owned();
            }
        }
    }
}

/// The operation lock and the job entry, released together.
struct Running {
    lock: LockHandle,
    jobs: Arc<JobSlot>,
}

impl Running {
    async fn start(state: &AppState, operation: &str, holder: &str) -> Result<Self, ApiError> {
        let lock = LockHandle::acquire(&state.store, operation, holder)
            .await
            .map_err(|e| match e {
                LockError::Busy(held) => {
                    ApiError::Conflict(format!("another operation is running: {held}"))
                }
                LockError::Store(e) => e.into(),
            })?;
        let jobs = state.backup_jobs.clone();
        jobs.set(Some(Job {
            operation: operation.to_owned(),
            step: "starting".to_owned(),
            started_at: lectern_store::now_ms(),
        }));
        Ok(Running { lock, jobs })
    }

    fn progress(&self) -> Arc<dyn Progress> {
        Arc::new(JobProgress(self.jobs.clone()))
    }

    async fn finish(self) {
        self.jobs.set(None);
        if let Err(e) = self.lock.release().await {
            tracing::warn!("cannot release the operation lock: {e}");
        }
    }
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotFound(_) => ApiError::NotFound,
            BackupError::Invalid(message) => ApiError::BadRequest(message),
            // This server's disk or database, not the request, is at fault.
            BackupError::Io { .. } | BackupError::DatabaseDamaged(_) => {
                ApiError::Internal(e.to_string())
            }
            BackupError::Store(e) => e.into(),
            BackupError::NoSpace { .. } => ApiError::InsufficientStorage(e.to_string()),
            // The archive (or the secret it needs) is at fault: say which
            // way, with the backup's own code.
            other => ApiError::Unprocessable {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

/// A new backup of the live database, of `backup_type`, by `who`.
pub async fn create(
    state: &AppState,
    who: &str,
    backup_type: BackupType,
    notes: Option<String>,
) -> Result<BackupRecord, ApiError> {
    let running = Running::start(state, "backup", who).await?;
    let result = create_locked(state, who, backup_type, notes, running.progress()).await;
    running.finish().await;
    result
}

async fn create_locked(
    state: &AppState,
    who: &str,
    backup_type: BackupType,
    notes: Option<String>,
    progress: Arc<dyn Progress>,
) -> Result<BackupRecord, ApiError> {
    let options = &state.options.backups;
    let new = NewBackup {
        backup_type,
        created_by: who.to_owned(),
        notes,
    };
    let store = state.store.as_ref();
    Ok(lectern_backup::create(store, &options.folder, &new, &options.secrets, progress).await?)
}

/// Takes an uploaded file (in the work folder) into the backup folder once
/// it verifies completely; a bad one is refused and removed.
pub async fn import(state: &AppState, who: &str, upload: &Path) -> Result<BackupRecord, ApiError> {
    let running = Running::start(state, "upload", who).await?;
    let options = &state.options.backups;
    let result = lectern_backup::import(
        upload,
        &options.folder,
        &options.secrets,
        options.limits,
        running.progress(),
    )
    .await;
    running.finish().await;
    Ok(result?)
}

/// What a restore did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Restored {
    /// The backup put back.
    #[schema(value_type = Object)]
    pub restored: BackupRecord,
    /// The backup of the data as it was just before, to undo the restore.
    pub safety_backup_id: String,
    /// The schema version the restored data was brought to.
    pub schema_version: i64,
}

/// Puts backup `id` back, as SPEC §3 lists the steps: the archive checked
/// and prepared first (a bad one changes nothing), a safety backup,
/// maintenance on, requests drained, the data replaced in one step (every
/// session ends, newer audit entries stay), online again.
pub async fn restore(state: &AppState, who: &str, id: &str) -> Result<Restored, ApiError> {
    let running = Running::start(state, "restore", who).await?;
    let result = restore_locked(state, who, id, running.progress()).await;
    running.finish().await;
    result
}

async fn restore_locked(
    state: &AppState,
    who: &str,
    id: &str,
    progress: Arc<dyn Progress>,
) -> Result<Restored, ApiError> {
    let options = &state.options.backups;
    let record = options.folder.find(id)?;
    let prepared = lectern_backup::prepare_restore(
        &record.file_path,
        &options.folder,
        &options.secrets,
        options.limits,
        progress.clone(),
    )
    .await?;
    // After the archive's checks, not beside them, so that it holds the
    // data as close as can be to the moment it is replaced.
    let notes = Some(format!("taken before restoring {id}"));
    let safety = create_locked(state, who, BackupType::Safety, notes, progress.clone()).await?;
    progress.step("replacing the data", None);
    let maintenance = state.maintenance().clone();
    let window = maintenance.begin(&format!("restoring backup {id}"));
    if let Err(running) = maintenance.drain(1, DRAIN_LIMIT).await {
        tracing::warn!("restoring with {running} requests still running after {DRAIN_LIMIT:?}");
    }
    state
        .store
        .replace_with_snapshot(prepared.database(), prepared.keep_audit_after())
        .await?;
    drop(window);
    Ok(Restored {
        restored: record,
        safety_backup_id: safety.id,
        schema_version: prepared.migrated_to,
    })
}

/// A file in the work folder that is removed unless it was taken in.
pub struct Upload {
    _dir: lectern_backup::Scratch,
    pub path: PathBuf,
}

impl Upload {
    pub fn new(state: &AppState) -> Result<Self, ApiError> {
        let dir = state.options.backups.folder.scratch("upload")?;
        let path = dir.path().join("upload.tar");
        Ok(Upload { _dir: dir, path })
    }
}
