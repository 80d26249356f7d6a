//! Backups in the panel: create with notes, the list, download, upload
//! (streamed, with a progress bar where scripts run), the full check,
//! restore behind its warning, a ticked box and the typed id (all checked
//! here, on the server), delete with confirmation, and the schedule,
//! retention and test-restore settings with their plain-words preview.

use super::words::{ago, ago_ms, size, when, when_ms};
use super::{in_words, page, ticked, AdminForm, AdminPage, Done, Refusal};
use crate::backups::{multipart_boundary, next_part, restore_backup, Upload};
use crate::error::ApiError;
use crate::pages::render::{PageError, PageIds};
use crate::pages::session::signed_out;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use lectern_app::retention::Retention;
use lectern_app::schedule::{self, plan_in_words, BackupPlan};
use lectern_app::settings::{self, SettingsChange};
use lectern_app::{backups, AppError};
use lectern_backup::{BackupRecord, BackupStatus, BackupType, Quiet};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One archive as the list shows it.
#[derive(Serialize)]
struct BackupRow {
    id: String,
    filename: String,
    created: String,
    ago: String,
    kind: &'static str,
    size: String,
    created_by: Option<String>,
    notes: Option<String>,
    encrypted: bool,
    sound: bool,
    status: &'static str,
    reason: Option<String>,
}

impl From<BackupRecord> for BackupRow {
    fn from(r: BackupRecord) -> Self {
        BackupRow {
            created: when(r.created_at),
            ago: ago(r.created_at),
            kind: r.backup_type.as_str(),
            size: size(r.file_size),
            sound: r.status == BackupStatus::Completed,
            status: match r.status {
                BackupStatus::Completed => "readable",
                _ => "unreadable",
            },
            id: r.id,
            filename: r.filename,
            created_by: r.created_by,
            notes: r.notes,
            encrypted: r.encrypted,
            reason: r.reason,
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    admin: AdminPage,
    Query(done): Query<Done>,
) -> Result<Html<String>, PageError> {
    backups_page(&state, &admin, done.message(), None).await
}

/// The backups page, with a message after an action, or the plan form as
/// it was sent with the reason it was refused.
async fn backups_page(
    state: &AppState,
    admin: &AdminPage,
    notice: Option<String>,
    plan_error: Option<String>,
) -> Result<Html<String>, PageError> {
    let list: Vec<BackupRow> = backups::list(&state.app)?
        .into_iter()
        .map(BackupRow::from)
        .collect();
    let plan = BackupPlan::load(state.store.as_ref()).await?;
    let next = plan
        .next_after(time::OffsetDateTime::now_utc())
        .map(|t| format!("{} ({})", when(t), ago(t)));
    let failure = backups::last_failure(state.store.as_ref())
        .await?
        .map(|f| context! { at => when_ms(f.at), ago => ago_ms(f.at), action => f.action, message => f.message });
    let drill = schedule::last_drill(state.store.as_ref())
        .await?
        .map(|d| context! { at => when_ms(d.at), ok => d.ok, message => d.message, backup_id => d.backup_id });
    let job = crate::backups::current_job(state).await;
    let ctx = context! {
        title => "Backups",
        notice,
        plan_error,
        backups => list,
        plan => context! {
            schedule => &plan.schedule,
            drill => &plan.drill,
            retention => plan.retention,
            words => plan_in_words(&plan),
            drill_words => schedule::in_words(&plan.drill),
            next,
        },
        failure,
        drill,
        job,
        offsite => !state.app.backups.offsite.is_empty(),
        max_upload => size(state.app.backups.max_upload),
    };
    page("admin/backups.html", admin, "backups", ctx)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    notes: String,
}

pub async fn create(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<CreateForm>,
) -> Response {
    let notes = Some(form.notes).filter(|n| !n.trim().is_empty());
    let made = backups::create(
        &state.app,
        &admin.actor,
        BackupType::Manual,
        notes,
        Arc::new(Quiet),
    )
    .await;
    match made {
        Ok(created) => done("created", &created.record.id),
        Err(e) => Refusal::announce(&state, &admin.actor, "backup.create", None, e)
            .await
            .page(&admin, "/admin/backups"),
    }
}

fn done(what: &str, id: &str) -> Response {
    let query = serde_urlencoded::to_string([("done", what), ("id", id)]).unwrap_or_default();
    Redirect::to(&format!("/admin/backups?{query}")).into_response()
}

/// The upload form posts `multipart/form-data` with the `csrf` field
/// before the `file` part, so the token is checked before a byte of the
/// archive is stored; the archive streams to the work folder.
pub async fn upload(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let admin = match AdminPage::from_request_parts(&mut parts, &state).await {
        Ok(admin) => admin,
        Err(e) => return e.into_response(),
    };
    match take_upload(&state, &admin, &parts.headers, body).await {
        Ok(record) => done("uploaded", &record.id),
        Err(e) => Refusal::announce(&state, &admin.actor, "backup.upload", None, e)
            .await
            .page(&admin, "/admin/backups"),
    }
}

async fn take_upload(
    state: &AppState,
    admin: &AdminPage,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<BackupRecord, AppError> {
    let refused = |message: &str| AppError::Invalid(message.to_owned());
    if !crate::auth::same_origin(headers) {
        return Err(AppError::Forbidden);
    }
    let boundary = multipart_boundary(headers)
        .ok_or_else(|| refused("send the archive from the upload form"))?;
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    let first = next_part(&mut form).await.map_err(in_app)?;
    let csrf = match first {
        Some(part) if part.name() == Some("csrf") => part.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    if !admin.reader.0.csrf_matches(&csrf) {
        return Err(AppError::Forbidden);
    }
    let field = crate::backups::file_part(&mut form).await.map_err(in_app)?;
    let upload = Upload::new(state).map_err(in_app)?;
    upload
        .save(field, state.app.backups.max_upload)
        .await
        .map_err(in_app)?;
    backups::import(&state.app, &admin.actor, &upload.path, Arc::new(Quiet)).await
}

/// The server's own refusals (a malformed form, too large) in the use
/// cases' terms, so that one page shows every refusal.
fn in_app(error: ApiError) -> AppError {
    let message = error.to_string();
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::Unprocessable {
            code: "too_large",
            message,
        },
        s if s.is_client_error() => AppError::Invalid(message),
        _ => AppError::internal("cannot store the upload", message),
    }
}

/// The full check of one archive, and what it found.
pub async fn verify(
    State(state): State<AppState>,
    PageIds(id): PageIds<String>,
    AdminForm { admin, .. }: AdminForm<serde::de::IgnoredAny>,
) -> Result<Html<String>, PageError> {
    let checked = backups::verify(&state.app, &admin.actor, &id, Arc::new(Quiet)).await;
    let result = match checked {
        Ok((record, manifest)) => context! {
            sound => true,
            filename => record.filename,
            created => when(manifest.created_at),
            created_by => manifest.created_by,
            schema_version => manifest.schema_version,
            lectern_version => manifest.lectern_version,
            rows => manifest.row_counts,
        },
        Err(AppError::NotFound(_)) => return Err(ApiError::NotFound.into()),
        Err(e) => context! { sound => false, message => in_words(&e) },
    };
    let ctx = context! { title => "Backup check", id, result };
    page("admin/verified.html", &admin, "backups", ctx)
}

pub async fn restore_page(
    State(state): State<AppState>,
    admin: AdminPage,
    PageIds(id): PageIds<String>,
) -> Result<Html<String>, PageError> {
    confirm_page(&state, &admin, &id, "admin/restore.html", None).await
}

pub async fn delete_page(
    State(state): State<AppState>,
    admin: AdminPage,
    PageIds(id): PageIds<String>,
) -> Result<Html<String>, PageError> {
    confirm_page(&state, &admin, &id, "admin/delete.html", None).await
}

/// A page that asks to confirm something done to one backup.
async fn confirm_page(
    state: &AppState,
    admin: &AdminPage,
    id: &str,
    template: &str,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let backup = match backups::find(&state.app, id) {
        Ok(record) => BackupRow::from(record),
        Err(AppError::NotFound(_)) => return Err(ApiError::NotFound.into()),
        Err(e) => return Err(e.into()),
    };
    let title = match template {
        "admin/restore.html" => "Restore a backup",
        _ => "Delete a backup",
    };
    let ctx = context! { title, backup, error };
    page(template, admin, "backups", ctx)
}

#[derive(Deserialize)]
pub struct RestoreForm {
    /// The box that says the person read the warning.
    #[serde(default)]
    understood: Option<String>,
    /// The backup's id, typed by hand.
    #[serde(default)]
    typed_id: String,
}

/// Restores once the box is ticked and the typed id is this backup's,
/// checked here whatever the page's script did. Every session ends with
/// the restore, so the browser is sent to sign in again, with what
/// happened and which safety backup holds the data as it was.
pub async fn restore(
    State(state): State<AppState>,
    PageIds(id): PageIds<String>,
    jar: CookieJar,
    AdminForm { admin, form }: AdminForm<RestoreForm>,
) -> Result<Response, PageError> {
    let target = Some(format!("backup={id}"));
    let problem = match (form.understood.is_some(), form.typed_id.trim() == id) {
        (false, _) => Some("tick the box to confirm that you understand what a restore replaces"),
        (true, false) => Some("the id you typed is not this backup's id; type it exactly"),
        (true, true) => None,
    };
    if let Some(problem) = problem {
        let error = AppError::Declined(problem.into());
        let refusal =
            Refusal::announce(&state, &admin.actor, "backup.restore", target, error).await;
        let shown = confirm_page(
            &state,
            &admin,
            &id,
            "admin/restore.html",
            Some(refusal.message),
        )
        .await?;
        return Ok((refusal.status, shown).into_response());
    }
    match restore_backup(&state, &admin.actor, &id).await {
        Ok((_, done)) => {
            let safety = done.safety_backup.map(|r| r.id).unwrap_or_default();
            let query =
                serde_urlencoded::to_string([("restored", id.as_str()), ("safety", &safety)])
                    .unwrap_or_default();
            let to = Redirect::to(&format!("/login?{query}"));
            Ok(signed_out(jar, to))
        }
        Err(e) => Ok(
            Refusal::announce(&state, &admin.actor, "backup.restore", target, e)
                .await
                .page(&admin, "/admin/backups"),
        ),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    PageIds(id): PageIds<String>,
    AdminForm { admin, form }: AdminForm<DeleteForm>,
) -> Result<Response, PageError> {
    let target = Some(format!("backup={id}"));
    let outcome = async {
        ticked(&form.confirm, "this archive may be deleted")?;
        backups::delete(&state.app, &admin.actor, &id).await
    }
    .await;
    match outcome {
        Ok(()) => Ok(done("deleted", &id)),
        Err(e @ AppError::Declined(_)) => {
            let refusal = Refusal::announce(&state, &admin.actor, "backup.delete", target, e).await;
            let shown = confirm_page(
                &state,
                &admin,
                &id,
                "admin/delete.html",
                Some(refusal.message),
            )
            .await?;
            Ok((refusal.status, shown).into_response())
        }
        Err(e) => Ok(
            Refusal::announce(&state, &admin.actor, "backup.delete", target, e)
                .await
                .page(&admin, "/admin/backups"),
        ),
    }
}

#[derive(Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    drill: String,
    daily: Option<String>,
    weekly: Option<String>,
    monthly: Option<String>,
}

/// Saves the schedule, retention and test-restore settings together, or
/// none of them.
pub async fn save_plan(
    State(state): State<AppState>,
    AdminForm { admin, form }: AdminForm<PlanForm>,
) -> Result<Response, PageError> {
    let saved = match retention(&form) {
        Ok(retention) => {
            let change = SettingsChange {
                schedule: Some(form.schedule.trim().to_owned()),
                drill: Some(form.drill.trim().to_owned()),
                retention: Some(retention),
                ..SettingsChange::default()
            };
            settings::update(&state.app, &admin.actor, change).await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/admin/backups?done=plan#plan").into_response()),
        Err(e) => {
            let refusal = Refusal::announce(&state, &admin.actor, "settings.update", None, e).await;
            let shown = backups_page(&state, &admin, None, Some(refusal.message)).await?;
            Ok((refusal.status, shown).into_response())
        }
    }
}

fn retention(form: &PlanForm) -> Result<Retention, AppError> {
    let count = |name: &str, raw: &Option<String>| -> Result<u32, AppError> {
        let raw = raw.as_deref().unwrap_or("").trim();
        raw.parse::<u32>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| AppError::Invalid(format!("keep {name}: a whole number from 0 to 1000")))
    };
    Ok(Retention {
        daily: count("daily", &form.daily)?,
        weekly: count("weekly", &form.weekly)?,
        monthly: count("monthly", &form.monthly)?,
    })
}
