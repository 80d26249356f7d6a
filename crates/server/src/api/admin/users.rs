//! `/api/admin/users`: accounts. Password hashes never leave the store; a
//! new password or a disabled account ends that person's sessions; the last
//! enabled admin cannot be demoted, disabled or deleted (the store refuses,
//! 409).

use super::clean_name;
use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, Role, UserView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::passwords::hash_password;
use lectern_store::{NewUser, UserChanges, UserId};
use serde::Deserialize;

const MIN_PASSWORD: usize = 8;
/// Argon2 takes any length, but nobody types more, and hashing a megabyte
/// for every sign-in would be an easy way to load the server.
const MAX_PASSWORD: usize = 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// 1 to 64 characters once surrounding spaces are dropped, with no
    /// control characters or slashes.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f/\\]*[^\s\u0000-\u001f\u007f-\u009f/\\][^\u0000-\u001f\u007f-\u009f/\\]*$"
    )]
    username: String,
    /// 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    password: String,
    role: Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// 8 to 1024 characters; ends the user's sessions.
    #[schema(min_length = 8, max_length = 1024)]
    password: Option<String>,
    role: Option<Role>,
    disabled: Option<bool>,
}

/// Names people type and read: also no slashes, which would make paths
/// and log lines that mention the name ambiguous.
fn username(raw: &str) -> Result<String, ApiError> {
    let name = clean_name(raw, "username", 64)?;
    if name.contains(['/', '\\']) {
        return Err(ApiError::BadRequest(
            "a username cannot hold slashes".into(),
        ));
    }
    Ok(name)
}

/// Checks the password and hashes it off the async workers (Argon2 is slow
/// on purpose).
async fn new_password_hash(password: String) -> Result<String, ApiError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(ApiError::BadRequest(format!(
            "a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("the password hashing task failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    operation_id = "list_users",
    responses(
        (status = 200, description = "Every user, by name", body = [UserView]),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(views::all(state.store.users().await?)))
}

#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "show_user",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        AdminRead,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.store.user(UserId(id)).await?;
    Ok(Json(user.ok_or(ApiError::NotFound)?.into()))
}

#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    operation_id = "create_user",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "The new user", body = UserView),
        (status = 400, description = "A bad username, role or password (8 to 1024 characters), or a malformed body", body = ErrorEnvelope),
        (status = 409, description = "The username is taken", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new = NewUser {
        username: username(&body.username)?,
        password_hash: new_password_hash(body.password).await?,
        role: body.role.into(),
    };
    let user = state.store.create_user(&new).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "update_user",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user; a new password or disabling ends their sessions", body = UserView),
        (status = 400, description = "Nothing to change, a bad password or role, or a malformed body", body = ErrorEnvelope),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 409, description = "It would demote or disable the last enabled admin", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Ids(id): Ids<i64>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    if patch.password.is_none() && patch.role.is_none() && patch.disabled.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: give password, role or disabled".into(),
        ));
    }
    let password_hash = match patch.password {
        Some(password) => Some(new_password_hash(password).await?),
        None => None,
    };
    let ends_sessions = password_hash.is_some() || patch.disabled == Some(true);
    let changes = UserChanges {
        password_hash,
        role: patch.role.map(Into::into),
        disabled: patch.disabled,
    };
    let id = UserId(id);
    let user = state.store.update_user(id, &changes).await?;
    let user = user.ok_or(ApiError::NotFound)?;
    if ends_sessions {
        state.store.delete_user_sessions(id).await?;
    }
    Ok(Json(user.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{id}",
    tag = "admin",
    operation_id = "delete_user",
    params(("id" = i64, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Deleted, with their progress, sessions, memberships and tokens"),
        (status = 404, description = "No such user", body = ErrorEnvelope),
        (status = 409, description = "It is the last enabled admin", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_user(UserId(id)).await? {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
