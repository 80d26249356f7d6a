//! The scanner over HTTP (admins only). Scans run in the background: the
//! answer is 202 with the scan's id as soon as it holds the operation lock,
//! 409 when another operation holds it.

use crate::auth::Admin;
use crate::error::{ApiError, Ids, QueryParams};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_core::{CourseId, ScanId};
use lectern_scanner::{ScanError, ScanOptions, ScanScope, Scanner};
use lectern_store::ScanRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

impl From<ScanError> for ApiError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Busy(lock) => {
                ApiError::Conflict(format!("another operation is running: {lock}"))
            }
            ScanError::UnknownCourse(_) => ApiError::NotFound,
            ScanError::Store(e) => e.into(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScanFlags {
    #[serde(default)]
    verify: bool,
    #[serde(default)]
    force: bool,
}

pub async fn scan(
    state: State<AppState>,
    admin: Admin,
    flags: QueryParams<ScanFlags>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    start(state, admin, ScanScope::All, flags.0).await
}

pub async fn rescan(
    state: State<AppState>,
    admin: Admin,
    Ids(course): Ids<i64>,
    flags: QueryParams<ScanFlags>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    start(state, admin, ScanScope::Course(CourseId(course)), flags.0).await
}

async fn start(
    State(state): State<AppState>,
    Admin(caller): Admin,
    scope: ScanScope,
    flags: ScanFlags,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let options = ScanOptions {
        scope,
        verify: flags.verify,
        force: flags.force,
        started_by: format!("user:{}", caller.user().username),
    };
    let id = start_scan(&state, options).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "scan_id": id }))))
}

/// Starts a scan in the background once it holds the operation lock; its
/// progress shows in the status endpoint until it ends.
pub async fn start_scan(state: &AppState, options: ScanOptions) -> Result<ScanId, ApiError> {
    let root = state
        .library_root()
        .await?
        .ok_or_else(|| ApiError::BadRequest("no library root is configured".into()))?;
    let scanner =
        Scanner::new(state.store.clone(), root).max_missing_share(state.options.max_missing_share);
    let running = scanner.start(options).await?;
    let id = running.id();
    state.scan.set(id, running.progress());
    let slot = state.scan.clone();
    tokio::spawn(async move {
        let report = running.run().await;
        tracing::info!(scan = %report.scan_id, status = %report.status, "scan ended");
        slot.clear(id);
    });
    Ok(id)
}

pub async fn cleanup(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<Value>, ApiError> {
    let who = format!("user:{}", caller.user().username);
    let report = lectern_scanner::cleanup(&state.store, &who).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| ApiError::Internal(e.to_string()))?,
    ))
}

#[derive(Serialize)]
pub struct Status {
    running: bool,
    scan_id: Option<ScanId>,
    phase: Option<lectern_core::progress::Phase>,
    files_seen: u64,
    bytes_hashed: u64,
    percent: f64,
}

pub async fn status(State(state): State<AppState>, _admin: Admin) -> Json<Status> {
    let Some((id, progress)) = state.scan.current() else {
        return Json(Status {
            running: false,
            scan_id: None,
            phase: None,
            files_seen: 0,
            bytes_hashed: 0,
            percent: 0.0,
        });
    };
    let s = progress.snapshot();
    Json(Status {
        running: true,
        scan_id: Some(id),
        phase: Some(s.phase),
        files_seen: s.files_seen,
        bytes_hashed: s.bytes_hashed,
        percent: s.percent,
    })
}

pub async fn abort(State(state): State<AppState>, _admin: Admin) -> Json<Value> {
    match state.scan.current() {
        Some((id, progress)) => {
            progress.cancel();
            Json(json!({ "aborted": true, "scan_id": id }))
        }
        None => Json(json!({ "aborted": false, "scan_id": null })),
    }
}

pub async fn history(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<ScanRecord>>, ApiError> {
    Ok(Json(state.store.scans(100).await?))
}

pub async fn scan_record(
    State(state): State<AppState>,
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<Value>, ApiError> {
    let id = ScanId(id);
    let scan = state.store.scan(id).await?.ok_or(ApiError::NotFound)?;
    let issues = state.store.scan_issues(id).await?;
    Ok(Json(json!({ "scan": scan, "issues": issues })))
}
