//! `/api/admin/settings`: what an admin changes at run time. The library
//! root is saved only when it is an absolute path to a directory Lectern
//! can list; `--root`/`LECTERN_ROOT` still win over it for this process,
//! so both the saved and the effective root are shown.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::auth::Admin;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use lectern_app::retention::Retention;
use lectern_app::schedule::{parse_schedule, BackupPlan, DRILL, RETENTION, SCHEDULE};
use lectern_store::settings::{library_open, LIBRARY_OPEN, LIBRARY_ROOT};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Longer than any real path; keeps a hostile body out of the filesystem calls.
const MAX_PATH: usize = 4096;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Settings {
    /// The root saved here, if any.
    root_path: Option<String>,
    /// The root scans use: the override, else the saved one, else the default.
    effective_root: Option<String>,
    /// True when `--root`/`LECTERN_ROOT` decides the root for this process.
    root_overridden: bool,
    /// True opens the whole library to every signed-in user.
    library_open: bool,
    /// When scheduled backups run: five cron fields (minute hour day
    /// month weekday, server local time), or `off`.
    schedule: String,
    /// How many scheduled backups are kept: `{daily, weekly, monthly}`.
    #[schema(value_type = Object)]
    retention: Retention,
    /// When the test restore runs (cron, or `off`); monthly by default.
    drill: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// An absolute path (1 to 4096 bytes, no control characters) to a
    /// directory Lectern can list.
    #[schema(
        min_length = 1,
        max_length = 4096,
        pattern = r"^/[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    root_path: Option<String>,
    library_open: Option<bool>,
    /// A cron expression (minute hour day month weekday, server local
    /// time), or `off`.
    schedule: Option<String>,
    #[schema(value_type = Option<Object>)]
    retention: Option<Retention>,
    /// When the test restore runs: cron, or `off`.
    drill: Option<String>,
}

async fn current(state: &AppState) -> Result<Settings, ApiError> {
    let store = state.store.as_ref();
    let effective = state.library_root().await?;
    let plan = BackupPlan::load(store).await?;
    Ok(Settings {
        root_path: store.setting(LIBRARY_ROOT).await?,
        effective_root: effective.map(|p| p.to_string_lossy().into_owned()),
        root_overridden: state.options.root_override.is_some(),
        library_open: library_open(store).await?,
        schedule: plan.schedule,
        retention: plan.retention,
        drill: plan.drill,
    })
}

#[utoipa::path(
    get,
    path = "/admin/settings",
    tag = "admin",
    operation_id = "show_settings",
    responses(
        (status = 200, description = "The saved and the effective settings", body = Settings),
        AdminRead,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(current(&state).await?))
}

/// Checks everything first and then saves, so a bad field saves nothing.
#[utoipa::path(
    put,
    path = "/admin/settings",
    tag = "admin",
    operation_id = "update_settings",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "The settings after the change", body = Settings),
        (status = 400, description = "Nothing to change, a root path that is not an absolute, readable directory, or a malformed body; nothing is saved", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    if patch.root_path.is_none()
        && patch.library_open.is_none()
        && patch.schedule.is_none()
        && patch.retention.is_none()
        && patch.drill.is_none()
    {
        return Err(ApiError::BadRequest(
            "nothing to change: give root_path, library_open, schedule, retention or drill".into(),
        ));
    }
    for expression in [&patch.schedule, &patch.drill].into_iter().flatten() {
        parse_schedule(expression).map_err(ApiError::BadRequest)?;
    }
    let retention = patch
        .retention
        .map(|r| serde_json::to_string(&r))
        .transpose()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(root) = &patch.root_path {
        let root = root.clone();
        tokio::task::spawn_blocking(move || check_root(&root))
            .await
            .map_err(|e| ApiError::Internal(format!("the root check failed: {e}")))??;
    }
    let mut changes = Vec::new();
    if let Some(root) = &patch.root_path {
        changes.push((LIBRARY_ROOT, root.as_str()));
    }
    if let Some(open) = patch.library_open {
        changes.push((LIBRARY_OPEN, if open { "true" } else { "false" }));
    }
    if let Some(schedule) = &patch.schedule {
        changes.push((SCHEDULE, schedule.trim()));
    }
    if let Some(drill) = &patch.drill {
        changes.push((DRILL, drill.trim()));
    }
    if let Some(retention) = &retention {
        changes.push((RETENTION, retention.as_str()));
    }
    state.store.set_settings(&changes).await?;
    Ok(Json(current(&state).await?))
}

/// An absolute path to a directory that can be listed. Lectern only ever
/// reads under the root, so reading is all that is checked.
fn check_root(raw: &str) -> Result<(), ApiError> {
    let bad = |why: String| Err(ApiError::BadRequest(why));
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
