//! The admin panel (`/admin`, SPEC §5): every recovery procedure as
//! clicks. A third thin front end beside the API and the command line: each
//! handler parses a form, calls a use case of `lectern_app` and renders its
//! result or its refusal in words. Forms post back here (CSRF-checked) and
//! end in a redirect, so a reload never repeats an action.

mod audit;
mod backups;
mod dashboard;
mod health;
mod library;
mod people;
mod words;

use super::render::{render, PageError};
use super::session::{backup_id, checked_form, Reader};
use crate::auth::request_address;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use lectern_app::{Actor, AppError, Event};
use minijinja::{context, Value};
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/library", get(library::show))
        .route("/admin/library/root", post(library::save_root))
        .route("/admin/scans", get(library::history).post(library::scan))
        .route("/admin/scans/abort", post(library::abort))
        .route("/admin/scans/{id}", get(library::scan_page))
        .route("/admin/courses/{id}/rescan", post(library::rescan))
        .route(
            "/admin/cleanup",
            get(library::cleanup_preview).post(library::cleanup),
        )
        .route("/admin/backups", get(backups::show).post(backups::create))
        .route("/admin/backups/upload", post(backups::upload))
        .route(
            "/admin/users",
            get(people::users_page).post(people::create_user),
        )
        .route(
            "/admin/users/{id}",
            get(people::user_page).post(people::update_user),
        )
        .route("/admin/users/{id}/delete", post(people::delete_user))
        .route(
            "/admin/groups",
            get(people::groups_page).post(people::create_group),
        )
        .route(
            "/admin/groups/{id}",
            get(people::group_page).post(people::rename_group),
        )
        .route("/admin/groups/{id}/delete", post(people::delete_group))
        .route("/admin/groups/{id}/members", post(people::change_member))
        .route("/admin/groups/{id}/grants", post(people::change_grant))
        .route(
            "/admin/tokens",
            get(people::tokens_page).post(people::create_token),
        )
        .route("/admin/tokens/{id}/delete", post(people::delete_token))
        .route("/admin/audit", get(audit::show))
        .route("/admin/health", get(health::show))
        .route("/admin/health/settings", post(health::save))
        .route("/admin/health/test", post(health::test))
        .route("/admin/backups/plan", post(backups::save_plan))
        .route("/admin/backups/{id}/verify", post(backups::verify))
        .route(
            "/admin/backups/{id}/restore",
            get(backups::restore_page).post(backups::restore),
        )
        .route(
            "/admin/backups/{id}/delete",
            get(backups::delete_page).post(backups::delete),
        )
}

/// A signed-in administrator looking at the panel: anyone not signed in
/// is sent to sign in (and back), anyone else signed in gets the 403 page.
pub struct AdminPage {
    pub reader: Reader,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let reader = Reader::from_request_parts(parts, state).await?;
        if !reader.0.is_admin() {
            return Err(PageError::Api(ApiError::Forbidden));
        }
        let actor = reader.0.actor(request_address(parts, state));
        Ok(AdminPage { reader, actor })
    }
}

impl AdminPage {
    /// What every admin page's layout needs, with `section` marked in the
    /// panel's navigation.
    fn layout(&self, section: &str) -> Value {
        context! { section, ..self.reader.layout() }
    }
}

/// A form posted by an administrator from one of the panel's pages.
pub struct AdminForm<T> {
    pub admin: AdminPage,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let admin = AdminPage::from_request_parts(&mut parts, state).await?;
        let form = checked_form(parts, body, state, &admin.reader).await?;
        Ok(AdminForm { admin, form })
    }
}

/// A use case's refusal on a panel page: announced for the audit log like
/// the API's (with the API's action name), then shown in words.
struct Refusal {
    message: String,
    status: StatusCode,
}

impl Refusal {
    async fn announce(
        state: &AppState,
        by: &Actor,
        action: &str,
        target: Option<String>,
        error: AppError,
    ) -> Refusal {
        let message = in_words(&error);
        let api = ApiError::from(error);
        let status = api.status();
        let event = Event::Refused {
            by: by.clone(),
            action: action.to_owned(),
            target,
            status: Some(status.as_u16()),
            code: Some(api.code().to_owned()),
        };
        state.events.emit(event).await;
        Refusal { message, status }
    }

    /// The refusal as a page: what happened in words, and the way back.
    fn page(self, admin: &AdminPage, back: &str) -> Response {
        let ctx =
            context! { title => "Not done", message => self.message, back, ..admin.layout("") };
        match render("admin/refused.html", ctx) {
            Ok(page) => (self.status, page).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// The box a destructive form must have ticked, or the refusal saying
/// what it confirms: `tick the box to confirm that {what}`.
fn ticked(value: &Option<String>, what: &str) -> Result<(), AppError> {
    match value {
        Some(_) => Ok(()),
        None => Err(AppError::Declined(format!(
            "tick the box to confirm that {what}"
        ))),
    }
}

/// The words a person is shown for a use case's error: its own message,
/// except for an internal failure, whose detail goes to the log only.
pub fn in_words(error: &AppError) -> String {
    match error {
        AppError::Internal { .. } | AppError::Damaged(_) => {
            tracing::error!("internal error on an admin page: {}", error.chain());
            "the server failed to do this; its log says why".into()
        }
        other => other.to_string(),
    }
}

/// A short message a redirect carries back to the page (`?done=…`): a code
/// the page turns into words, so no text from a link is ever shown.
#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    id: Option<String>,
}

impl Done {
    /// The sentence for this code, with the id when it is a plain one.
    fn message(&self) -> Option<String> {
        let id = backup_id(self.id.as_deref()).unwrap_or("");
        let text = match self.done.as_deref()? {
            "root" => "The library root is saved. Scan the library to index it.".into(),
            "aborted" => "The scan was asked to stop.".into(),
            "not-running" => "No scan was running.".into(),
            "created" => format!("Backup {id} was created."),
            "uploaded" => format!("The upload was checked and listed as backup {id}."),
            "deleted" => format!("Backup {id} was deleted."),
            "plan" => "The backup schedule is saved.".into(),
            _ => return None,
        };
        Some(text)
    }
}

/// A page of the panel, rendered with its layout, whose names (`me`,
/// `csrf`, `section`) a page's own cannot hide.
fn page(
    name: &str,
    admin: &AdminPage,
    section: &str,
    ctx: Value,
) -> Result<Html<String>, PageError> {
    render(name, context! { ..admin.layout(section), ..ctx })
}
