//! The scanner over HTTP (admins only). Scans run in the background: the
//! answer is 202 with the scan's id as soon as it holds the operation lock,
//! 409 when another operation holds it.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{
    self, CleanupCountsView, Phase, ScanIssueView, ScanRecordView, ScanStatus,
};
use crate::auth::Admin;
use crate::error::{ApiError, ErrorEnvelope, Ids, QueryParams};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::scans;
use lectern_backup::Quiet;
use lectern_core::{CourseId, ScanId};
use lectern_scanner::ScanScope;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScanFlags {
    /// Hash every file again, even those whose size and mtime are unchanged,
    /// and report content that changed behind them.
    #[serde(default)]
    verify: bool,
    /// Go on even when the safety guard would stop the scan (a large share
    /// of the library suddenly missing).
    #[serde(default)]
    force: bool,
}

/// A scan started in the background; follow it with `GET /api/scanner/status`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScanStarted {
    #[schema(value_type = i64)]
    scan_id: ScanId,
}

/// Whether a running scan was asked to stop, and which.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Aborted {
    aborted: bool,
    #[schema(value_type = Option<i64>)]
    scan_id: Option<ScanId>,
}

/// One history record and the per-path problems its scan found.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScanDetail {
    scan: ScanRecordView,
    issues: Vec<ScanIssueView>,
}

/// What a cleanup removed, and its history record's id and status.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CleanupDone {
    #[schema(value_type = i64)]
    scan_id: ScanId,
    status: ScanStatus,
    #[serde(flatten)]
    removed: CleanupCountsView,
    /// The backup taken just before: cleanup deletes the progress people
    /// kept on the purged files.
    safety_backup_id: String,
}

#[utoipa::path(
    post,
    path = "/scanner/scan",
    tag = "scanner",
    extensions(("x-audit-action" = json!("scan.start"))),
    params(ScanFlags),
    responses(
        (status = 202, description = "A full scan started", body = ScanStarted),
        (status = 400, description = "Unknown or malformed flags, or no library root is configured", body = ErrorEnvelope),
        (status = 409, description = "Another operation (scan, cleanup, backup) holds the lock", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn scan(
    state: State<AppState>,
    admin: Admin,
    flags: QueryParams<ScanFlags>,
) -> Result<(StatusCode, Json<ScanStarted>), ApiError> {
    start(state, admin, ScanScope::All, flags.0).await
}

#[utoipa::path(
    post,
    path = "/scanner/rescan/{course_id}",
    tag = "scanner",
    extensions(("x-audit-action" = json!("scan.rescan"))),
    params(("course_id" = i64, Path, description = "The course to scan"), ScanFlags),
    responses(
        (status = 202, description = "A scan of the course started", body = ScanStarted),
        (status = 400, description = "Unknown or malformed flags, or no library root is configured", body = ErrorEnvelope),
        (status = 404, description = "No such course", body = ErrorEnvelope),
        (status = 409, description = "Another operation holds the lock", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn rescan(
    state: State<AppState>,
    admin: Admin,
    Ids(course): Ids<i64>,
    flags: QueryParams<ScanFlags>,
) -> Result<(StatusCode, Json<ScanStarted>), ApiError> {
    start(state, admin, ScanScope::Course(CourseId(course)), flags.0).await
}

async fn start(
    State(state): State<AppState>,
    Admin(by): Admin,
    scope: ScanScope,
    flags: ScanFlags,
) -> Result<(StatusCode, Json<ScanStarted>), ApiError> {
    let id = scans::start(&state.app, &by, scope, flags.verify, flags.force).await?;
    Ok((StatusCode::ACCEPTED, Json(ScanStarted { scan_id: id })))
}

#[utoipa::path(
    post,
    path = "/scanner/cleanup",
    tag = "scanner",
    extensions(("x-audit-action" = json!("cleanup"))),
    responses(
        (status = 200, description = "Missing files, then empty courses and categories, purged; the counts removed", body = CleanupDone),
        (status = 409, description = "Another operation holds the lock", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn cleanup(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<Json<CleanupDone>, ApiError> {
    let done = scans::cleanup(&state.app, &by, Arc::new(Quiet)).await?;
    let report = done.report;
    Ok(Json(CleanupDone {
        scan_id: report.scan_id,
        status: report.status.into(),
        removed: report.removed.into(),
        safety_backup_id: done.safety_backup.id,
    }))
}

/// The running scan's progress; `running` is false (and the rest empty)
/// when none runs.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScannerStatus {
    running: bool,
    #[schema(value_type = Option<i64>)]
    scan_id: Option<ScanId>,
    phase: Option<Phase>,
    files_seen: u64,
    bytes_hashed: u64,
    percent: f64,
}

#[utoipa::path(
    get,
    path = "/scanner/status",
    tag = "scanner",
    responses(
        (status = 200, description = "Always: the running scan's progress, or `running: false`", body = ScannerStatus),
        AdminRead,
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<ScannerStatus>, ApiError> {
    let Some((id, progress)) = scans::current(&state.app).await? else {
        return Ok(Json(ScannerStatus {
            running: false,
            scan_id: None,
            phase: None,
            files_seen: 0,
            bytes_hashed: 0,
            percent: 0.0,
        }));
    };
    let s = progress.snapshot();
    Ok(Json(ScannerStatus {
        running: true,
        scan_id: Some(id),
        phase: Some(s.phase.into()),
        files_seen: s.files_seen,
        bytes_hashed: s.bytes_hashed,
        percent: s.percent,
    }))
}

#[utoipa::path(
    post,
    path = "/scanner/abort",
    tag = "scanner",
    extensions(("x-audit-action" = json!("scan.abort"))),
    responses(
        (status = 200, description = "Always: whether a running scan was asked to stop", body = Aborted),
        AdminChange,
    ),
)]
pub async fn abort(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<Json<Aborted>, ApiError> {
    let stopped = scans::abort(&state.app, &by).await?;
    Ok(Json(Aborted {
        aborted: stopped.is_some(),
        scan_id: stopped,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryPage {
    /// How many scans, 1 to 500 (default 100).
    limit: Option<u32>,
    /// How many of the newest to skip (default 0).
    offset: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/scanner/history",
    tag = "scanner",
    params(HistoryPage),
    responses(
        (status = 200, description = "Scans and cleanups, newest first: `limit` of them (default 100) after the `offset` newest", body = [ScanRecordView]),
        (status = 400, description = "`limit` outside 1 to 500", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    Admin(by): Admin,
    QueryParams(page): QueryParams<HistoryPage>,
) -> Result<Json<Vec<ScanRecordView>>, ApiError> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 500".into()));
    }
    let offset = page.offset.unwrap_or(0);
    let scans = scans::history(&state.app, &by, limit, offset).await?;
    Ok(Json(views::all(scans)))
}

#[utoipa::path(
    get,
    path = "/scanner/history/{scan_id}",
    tag = "scanner",
    params(("scan_id" = i64, Path, description = "The scan's id")),
    responses(
        (status = 200, description = "The scan's record and the problems it found", body = ScanDetail),
        (status = 404, description = "No such scan", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn scan_record(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<ScanDetail>, ApiError> {
    let (scan, issues) = scans::record(&state.app, &by, ScanId(id)).await?;
    Ok(Json(ScanDetail {
        scan: scan.into(),
        issues: views::all(issues),
    }))
}
