//! The server's side of backups (SPEC §3): the answers of the backup
//! routes, and the upload's scratch file. The work itself is the
//! application layer's (`lectern_app::backups`, `lectern_app::restore`),
//! the same code the offline command line runs.

use crate::error::ApiError;
use crate::state::AppState;
use serde::Serialize;
use std::path::PathBuf;

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
