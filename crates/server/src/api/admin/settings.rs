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
use lectern_app::monitor::HealthSettings;
use lectern_app::retention::Retention;
use lectern_app::settings::{self, SettingsChange};
use serde::{Deserialize, Serialize};

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
    /// The health checks' thresholds (`null`: the configuration's) and
    /// the alerts switched off: `{thresholds, alerts_off}`
    /// (docs/monitoring.md).
    #[schema(value_type = Object)]
    health: HealthSettings,
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
    /// `{"thresholds": {…} or null, "alerts_off": ["backup_missing", …]}`;
    /// replaces both. Thresholds: `backup_warn_after_secs`,
    /// `backup_fail_after_secs`, `scan_errors_fail_above`,
    /// `disk_warn_below_percent`, `disk_fail_below_percent`,
    /// `growth_warn_percent`, `growth_window_secs`; `null` goes back to the
    /// configuration's.
    #[schema(value_type = Option<Object>)]
    health: Option<HealthSettings>,
}

impl From<settings::Settings> for Settings {
    fn from(s: settings::Settings) -> Self {
        Settings {
            root_path: s.root_path,
            effective_root: s.effective_root.map(|p| p.to_string_lossy().into_owned()),
            root_overridden: s.root_overridden,
            library_open: s.library_open,
            schedule: s.schedule,
            retention: s.retention,
            drill: s.drill,
            health: s.health,
        }
    }
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
    Admin(by): Admin,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(settings::show(&state.app, &by).await?.into()))
}

#[utoipa::path(
    put,
    path = "/admin/settings",
    tag = "admin",
    extensions(("x-audit-action" = json!("settings.update"))),
    operation_id = "update_settings",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "The settings after the change", body = Settings),
        (status = 400, description = "Nothing to change, a root path that is not an absolute, readable directory, thresholds that do not fit together, an unknown alert, or a malformed body; nothing is saved", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    Admin(by): Admin,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> Result<Json<Settings>, ApiError> {
    let change = SettingsChange {
        root_path: patch.root_path,
        library_open: patch.library_open,
        schedule: patch.schedule,
        retention: patch.retention,
        drill: patch.drill,
        health: patch.health,
    };
    Ok(Json(
        settings::update(&state.app, &by, change).await?.into(),
    ))
}
