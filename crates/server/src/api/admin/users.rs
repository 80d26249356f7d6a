//! `/api/admin/users`: accounts. Password hashes never leave the store; a
//! new password or a disabled account ends that person's sessions; the last
//! enabled admin cannot be demoted, disabled or deleted (the store refuses,
//! 409).

use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, Role, UserView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::users::{self, AccountChanges, NewAccount};
use lectern_store::UserId;
use serde::Deserialize;

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
    Admin(by): Admin,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(views::all(users::list(&state.app, &by).await?)))
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
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<Json<UserView>, ApiError> {
    let user = users::show(&state.app, &by, UserId(id)).await?;
    Ok(Json(user.into()))
}

#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    extensions(("x-audit-action" = json!("user.create"))),
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
    Admin(by): Admin,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new = NewAccount {
        username: body.username,
        password: body.password,
        role: body.role.into(),
    };
    let user = users::create(&state.app, &by, new).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("user.update"))),
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
    Admin(by): Admin,
    Ids(id): Ids<i64>,
    JsonBody(patch): JsonBody<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    let changes = AccountChanges {
        password: patch.password,
        role: patch.role.map(Into::into),
        disabled: patch.disabled,
    };
    let user = users::update(&state.app, &by, UserId(id), changes).await?;
    Ok(Json(user.into()))
}

#[utoipa::path(
    delete,
    path = "/admin/users/{id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("user.delete"))),
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
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    users::delete(&state.app, &by, UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
