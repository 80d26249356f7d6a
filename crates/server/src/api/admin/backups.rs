//! `/api/admin/backup/…` (SPEC §3, §4): create, list, download, upload,
//! restore, delete, status. The backup folder is the truth for the list;
//! the work is in `crate::backups`.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, BackupView, RestoredView};
use crate::auth::Admin;
use crate::backups::{file_part, multipart_boundary, restore_backup, Job, Upload};
use crate::error::{body_refused, ApiError, ErrorEnvelope, Ids, JsonBody};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use lectern_app::backups;
use lectern_app::schedule::{self, BackupPlan};
use lectern_backup::{BackupType, Quiet};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeFile;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Up to 2000 characters once surrounding spaces are dropped (blank is
    /// none), shown in the list; no control characters but newlines and tabs.
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$"
    )]
    notes: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/backup/create",
    tag = "backup",
    extensions(("x-audit-action" = json!("backup.create"))),
    operation_id = "create_backup",
    request_body(content = Option<CreateBody>, description = "Optional: `{}`, `{\"notes\": …}` or no body at all"),
    responses(
        (status = 201, description = "The finished backup", body = BackupView),
        (status = 400, description = "Notes too long or a malformed body", body = ErrorEnvelope),
        (status = 409, description = "Another operation holds the lock", body = ErrorEnvelope),
        (status = 413, description = "The body is over the JSON body limit (`too_large`)", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Admin(by): Admin,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<BackupView>), ApiError> {
    let body = body.map_err(|e| body_refused(e.status(), e.body_text()))?;
    // No body at all is fine (the seed's cron job posts none).
    let notes = match body.is_empty() {
        true => None,
        false => {
            serde_json::from_slice::<CreateBody>(&body)
                .map_err(|e| ApiError::BadRequest(format!("the body is not valid: {e}")))?
                .notes
        }
    };
    let quiet = Arc::new(Quiet);
    // A failed off-site copy is recorded (status, audit log); the backup
    // is made either way.
    let created = backups::create(&state.app, &by, BackupType::Manual, notes, quiet).await?;
    Ok((StatusCode::CREATED, Json(created.record.into())))
}

#[utoipa::path(
    get,
    path = "/admin/backup/list",
    tag = "backup",
    operation_id = "list_backups",
    responses(
        (status = 200, description = "Every archive in the backup folder, newest first", body = [BackupView]),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<BackupView>>, ApiError> {
    Ok(Json(views::all(backups::list(&state.app)?)))
}

#[utoipa::path(
    get,
    path = "/admin/backup/download/{id}",
    tag = "backup",
    operation_id = "download_backup",
    params(
        ("id" = String, Path, description = "A backup's id, or `latest`"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=START-END`"),
        ("If-Unmodified-Since" = Option<String>, Header, description = "An HTTP date: 412 when the archive was written after it"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date: 304 when the archive was not written after it"),
    ),
    responses(
        (status = 200, description = "The archive, as an attachment", content_type = "application/x-tar", headers(
            ("Content-Disposition" = String, description = "`attachment; filename=\"NAME.tar\"`"),
            ("Content-Length" = u64, description = "The archive's size"),
            ("Accept-Ranges" = String, description = "`bytes`"),
            ("Last-Modified" = String, description = "When the archive was written"),
        )),
        (status = 206, description = "The requested range (`Range: bytes=START-END`)", content_type = "application/x-tar", headers(
            ("Content-Range" = String, description = "`bytes START-END/SIZE`"),
        )),
        (status = 304, description = "`If-Modified-Since`: the client's copy is current"),
        (status = 404, description = "No such backup", body = ErrorEnvelope),
        (status = 412, description = "`If-Unmodified-Since`: the archive was written after it (`precondition_failed`)", body = ErrorEnvelope),
        (status = 416, description = "The range is outside the archive; `Content-Range: bytes */SIZE`", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn download(
    State(state): State<AppState>,
    _admin: Admin,
    Ids(id): Ids<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let record = backups::find(&state.app, &id)?;
    let served = ServeFile::new(&record.file_path)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot send {}: {e}", record.filename)))?;
    if let Some(refused) = crate::api::content::refusal(&served) {
        return Ok(refused);
    }
    let mut response = served.map(Body::new);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    // Archive names are `lectern-…-<type>-<hex>.tar`: plain ASCII.
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", record.filename))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// HEAD of [`download`]: the same headers and status, no bytes. The work is
/// [`download`]'s alone (tower-http answers a HEAD from the archive's
/// metadata, without opening it); this function only carries HEAD's own
/// operation in the OpenAPI document.
#[utoipa::path(
    head,
    path = "/admin/backup/download/{id}",
    tag = "backup",
    operation_id = "download_backup_head",
    params(
        ("id" = String, Path, description = "A backup's id, or `latest`"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=START-END`"),
    ),
    responses(
        (status = 200, description = "The headers GET would send (`Content-Type: application/x-tar`, `Content-Length`, `Content-Disposition`, `Accept-Ranges`), no body", headers(
            ("Content-Length" = u64, description = "The archive's size"),
            ("Accept-Ranges" = String, description = "`bytes`"),
        )),
        (status = 206, description = "The headers of the requested range, no body"),
        (status = 404, description = "No such backup (the envelope's headers, no body)", body = ErrorEnvelope),
        (status = 416, description = "The range is outside the archive (the envelope's headers, no body)", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn download_head(
    state: State<AppState>,
    admin: Admin,
    id: Ids<String>,
    request: Request,
) -> Result<Response, ApiError> {
    download(state, admin, id, request).await
}

#[utoipa::path(
    post,
    path = "/admin/backup/upload",
    tag = "backup",
    extensions(("x-audit-action" = json!("backup.upload"))),
    operation_id = "upload_backup",
    request_body(content = Vec<u8>, description = "The archive: `multipart/form-data` with the part `file`, or the raw bytes as `application/octet-stream`", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "The archive, verified and listed as `uploaded`", body = BackupView),
        (status = 400, description = "No `file` part, or a malformed multipart body", body = ErrorEnvelope),
        (status = 409, description = "Another operation holds the lock", body = ErrorEnvelope),
        (status = 413, description = "Larger than the upload limit", body = ErrorEnvelope),
        (status = 422, description = "Not a sound Lectern backup: truncated, corrupt, foreign, newer, hostile, a decompression bomb, or encrypted with a secret this server lacks; its code says which", body = ErrorEnvelope),
        (status = 503, description = "`insufficient_storage`: the work folder lacks the free space to unpack it; nothing was unpacked", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    Admin(by): Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<BackupView>), ApiError> {
    let upload = Upload::new(&state)?;
    let limit = state.app.backups.max_upload;
    match multipart_boundary(&headers) {
        Some(boundary) => {
            let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
            let field = file_part(&mut form).await?;
            upload.save(field, limit).await?;
        }
        None => upload.save(body.into_data_stream(), limit).await?,
    }
    let quiet = Arc::new(Quiet);
    let record = backups::import(&state.app, &by, &upload.path, quiet).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// Must be `true`: a restore replaces every account, grant and
    /// progress record with the backup's.
    confirm: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/admin/backup/restore/{id}",
    tag = "backup",
    extensions(("x-audit-action" = json!("backup.restore"))),
    operation_id = "restore_backup",
    params(("id" = String, Path, description = "A backup's id")),
    request_body = RestoreBody,
    responses(
        (status = 200, description = "Restored and back online; every session has ended", body = RestoredView),
        (status = 400, description = "Without `confirm: true`", body = ErrorEnvelope),
        (status = 404, description = "No such backup", body = ErrorEnvelope),
        (status = 409, description = "Another operation holds the lock", body = ErrorEnvelope),
        (status = 422, description = "The archive is not sound, or needs a secret this server lacks; nothing changed", body = ErrorEnvelope),
        (status = 503, description = "`insufficient_storage`: the work folder lacks the free space to unpack the archive; nothing changed", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn restore(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<String>,
    JsonBody(body): JsonBody<RestoreBody>,
) -> Result<Json<RestoredView>, ApiError> {
    if body.confirm != Some(true) {
        return Err(ApiError::BadRequest(
            "a restore replaces all accounts, grants and progress: send {\"confirm\": true}".into(),
        ));
    }
    let (record, done) = restore_backup(&state, &by, &id).await?;
    Ok(Json(RestoredView {
        restored: record.into(),
        safety_backup_id: done.safety_backup.map(|r| r.id).unwrap_or_default(),
        schema_version: done.schema_version,
    }))
}

#[utoipa::path(
    delete,
    path = "/admin/backup/{id}",
    tag = "backup",
    extensions(("x-audit-action" = json!("backup.delete"))),
    operation_id = "delete_backup",
    params(("id" = String, Path, description = "A backup's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such backup", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<String>,
) -> Result<StatusCode, ApiError> {
    backups::delete(&state.app, &by, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who holds the operation lock (its token stays private).
#[derive(Serialize, utoipa::ToSchema)]
pub struct LockView {
    operation: String,
    holder: String,
    host: String,
    pid: i64,
    acquired_at: i64,
    expires_at: i64,
}

impl From<lectern_store::LockInfo> for LockView {
    fn from(lock: lectern_store::LockInfo) -> Self {
        LockView {
            operation: lock.operation,
            holder: lock.owner.holder,
            host: lock.owner.host,
            pid: lock.owner.pid,
            acquired_at: lock.acquired_at,
            expires_at: lock.expires_at,
        }
    }
}

/// Why the last backup (or its off-site copy) failed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LastFailure {
    /// When, in ms since the epoch.
    at: i64,
    /// `backup.create`, `backup.offsite` or `backup.drill`.
    action: String,
    message: String,
}

impl From<backups::Failure> for LastFailure {
    fn from(f: backups::Failure) -> Self {
        LastFailure {
            at: f.at,
            action: f.action,
            message: f.message,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BackupStatusReport {
    /// The operation lock, while someone holds it.
    lock: Option<LockView>,
    maintenance: bool,
    maintenance_reason: Option<String>,
    /// The newest readable backup.
    last_backup: Option<BackupView>,
    /// The backup, upload or restore running in this process.
    running: Option<Job>,
    /// When the next scheduled backup runs (RFC 3339), unless off.
    next_scheduled: Option<String>,
    /// The last failure of a backup (any), an off-site copy or a test
    /// restore, until that step next succeeds.
    last_failure: Option<LastFailure>,
    /// The last test restore (`drill` in the settings).
    last_drill: Option<LastDrill>,
}

/// The last test restore: which backup, when, and how it went.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LastDrill {
    /// When, in ms since the epoch.
    at: i64,
    backup_id: Option<String>,
    ok: bool,
    message: String,
}

impl From<schedule::Drill> for LastDrill {
    fn from(d: schedule::Drill) -> Self {
        LastDrill {
            at: d.at,
            backup_id: d.backup_id,
            ok: d.ok,
            message: d.message,
        }
    }
}

/// RFC 3339 in the server's local time with its offset, `+00:00` too
/// (never `Z`): a time the schedule names on the server's clock.
const LOCAL_RFC3339: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);

#[utoipa::path(
    get,
    path = "/admin/backup/status",
    tag = "backup",
    operation_id = "backup_status",
    responses(
        (status = 200, description = "Lock holder, maintenance flag, last backup, running job; answers during maintenance too. During maintenance it also answers callers without a session (a restore ends every session, and whoever started it follows it here): then only `maintenance`, `maintenance_reason` and `running` are filled, the rest null", body = BackupStatusReport),
        AdminRead,
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    admin: Result<Admin, ApiError>,
) -> Result<Json<BackupStatusReport>, ApiError> {
    let maintenance = state.app.coordination.maintenance().await.ok().flatten();
    match (admin, maintenance) {
        (Ok(_), _) => {}
        // What the maintenance page tells everyone anyway, and the step.
        (Err(ApiError::Unauthorized), Some(window)) => {
            return Ok(Json(BackupStatusReport {
                lock: None,
                maintenance: true,
                maintenance_reason: Some(window.reason),
                last_backup: None,
                running: crate::backups::current_job(&state).await,
                next_scheduled: None,
                last_failure: None,
                last_drill: None,
            }));
        }
        (Err(refused), _) => return Err(refused),
    }
    let lock = state
        .store
        .read_lock()
        .await?
        .filter(lectern_store::lock::is_held)
        .map(LockView::from);
    let last_backup = backups::find(&state.app, "latest")
        .ok()
        .map(BackupView::from);
    let maintenance = state.app.coordination.maintenance().await.ok().flatten();
    let plan = BackupPlan::load(state.store.as_ref()).await?;
    let next_scheduled = plan
        .next_after(time::OffsetDateTime::now_utc())
        .and_then(|t| t.format(LOCAL_RFC3339).ok());
    Ok(Json(BackupStatusReport {
        lock,
        maintenance: maintenance.is_some(),
        maintenance_reason: maintenance.map(|m| m.reason),
        last_backup,
        running: crate::backups::current_job(&state).await,
        next_scheduled,
        last_failure: backups::last_failure(state.store.as_ref())
            .await?
            .map(LastFailure::from),
        last_drill: schedule::last_drill(state.store.as_ref())
            .await?
            .map(LastDrill::from),
    }))
}
