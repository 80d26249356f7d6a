//! The server's side of backups (SPEC §3): the answers of the backup
//! routes, and the upload's scratch file. The work itself is the
//! application layer's (`lectern_app::backups`, `lectern_app::restore`),
//! the same code the offline command line runs.

use crate::error::ApiError;
use crate::requests::OtherRequests;
use crate::state::AppState;
use lectern_app::restore::{RestoreOutcome, RestoreRequest};
use lectern_app::AppError;
use lectern_backup::{BackupRecord, Quiet};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

pub use lectern_app::BackupOptions;

/// The backup job running now, for `GET /api/admin/backup/status`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub operation: String,
    pub step: String,
    pub started_at: i64,
}

/// The backup, upload or restore running now, if any.
pub async fn current_job(state: &AppState) -> Option<Job> {
    let operation = state.app.coordination.operation().await.ok()??;
    let kinds = ["backup", "upload", "restore"];
    kinds.contains(&operation.kind.as_str()).then(|| Job {
        step: operation.step.get(),
        operation: operation.kind,
        started_at: operation.started_at,
    })
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

/// Puts backup `id` back: `lectern_app::restore::restore`, with this
/// server's other requests drained. The caller confirmed by asking.
pub async fn restore(state: &AppState, who: &str, id: &str) -> Result<Restored, ApiError> {
    let record = lectern_app::backups::find(&state.app, id)?;
    let drain = OtherRequests(state.requests.clone());
    let request = RestoreRequest {
        archive: &record.file_path,
        who,
        confirm: &|_| Ok(()),
        drain: &drain,
        progress: Arc::new(Quiet),
    };
    match lectern_app::restore::restore(&state.app, request).await? {
        RestoreOutcome::Restored(done) => Ok(Restored {
            restored: record,
            safety_backup_id: done.safety_backup.map(|r| r.id).unwrap_or_default(),
            schema_version: done.schema_version,
        }),
        // A running server cannot swap its own database file; the
        // offline restore can (RECOVERY.md).
        RestoreOutcome::Unreadable(_) => Err(AppError::Damaged(
            "the current database cannot be read; stop the server and run \
             `lectern backup restore`"
                .into(),
        )
        .into()),
    }
}

/// A file in the work folder that is removed unless it was taken in.
pub struct Upload {
    _dir: lectern_backup::Scratch,
    pub path: PathBuf,
}

impl Upload {
    pub fn new(state: &AppState) -> Result<Self, ApiError> {
        let dir = state.app.backups.folder.scratch("upload")?;
        let path = dir.path().join("upload.tar");
        Ok(Upload { _dir: dir, path })
    }
}
