//! The server's side of backups (SPEC §3): the answers of the backup
//! routes, and the upload's scratch file. The work itself is the
//! application layer's (`lectern_app::backups`, `lectern_app::restore`),
//! the same code the offline command line runs.

use crate::error::ApiError;
use crate::requests::OtherRequests;
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use futures_util::{Stream, StreamExt};
use lectern_app::restore::{RestoreOutcome, RestoreRequest, Restored};
use lectern_app::{Actor, AppError};
use lectern_backup::{BackupRecord, Quiet};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

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

impl Upload {
    /// Streams a body into the upload's file, never more than `limit`
    /// bytes: nothing is held whole in memory.
    pub async fn save<S, B, E>(&self, mut stream: S, limit: u64) -> Result<(), ApiError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let failed =
            |e: std::io::Error| ApiError::Internal(format!("cannot store the upload: {e}"));
        let mut file = tokio::fs::File::create(&self.path).await.map_err(failed)?;
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("the upload broke off: {e}")))?;
            let chunk = chunk.as_ref();
            written += chunk.len() as u64;
            if written > limit {
                return Err(ApiError::TooLarge(format!(
                    "an upload may be at most {limit} bytes"
                )));
            }
            file.write_all(chunk).await.map_err(failed)?;
        }
        file.sync_all().await.map_err(failed)?;
        Ok(())
    }
}

/// The boundary of a `multipart/form-data` body, if it is one.
pub fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let kind = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(kind).ok()
}

/// The form's `file` part; the parts before it are skipped.
pub async fn file_part(
    form: &mut multer::Multipart<'static>,
) -> Result<multer::Field<'static>, ApiError> {
    while let Some(field) = next_part(form).await? {
        if field.name() == Some("file") {
            return Ok(field);
        }
    }
    Err(ApiError::BadRequest(
        "send the archive as the form part `file`".into(),
    ))
}

/// The form's next part, a malformed body being the client's mistake.
pub async fn next_part(
    form: &mut multer::Multipart<'static>,
) -> Result<Option<multer::Field<'static>>, ApiError> {
    form.next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("the form is not valid: {e}")))
}

/// Puts backup `id` back: `lectern_app::restore::restore`, with this
/// server's other requests drained. The caller has confirmed.
pub async fn restore_backup(
    state: &AppState,
    who: &Actor,
    id: &str,
) -> Result<(BackupRecord, Restored), AppError> {
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
        RestoreOutcome::Restored(done) => Ok((record, *done)),
        // A running server cannot swap its own database file; the
        // offline restore can (RECOVERY.md).
        RestoreOutcome::Unreadable(_) => Err(AppError::Damaged(
            "the current database cannot be read; stop the server and run \
             `lectern backup restore`"
                .into(),
        )),
    }
}
