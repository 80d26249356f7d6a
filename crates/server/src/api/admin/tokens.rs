//! `/api/admin/tokens`: long-lived API tokens for scripts (a cron job that
//! starts a scan). A token acts as its owner through `Authorization:
//! Bearer …` exactly like a login token; it is shown once, when made, and
//! only its hash is kept. Deleting it ends it at once.

use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, ApiTokenView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::tokens::{self, NewToken};
use lectern_store::{ApiTokenId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// 1 to 100 characters once surrounding spaces are dropped, with no
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
    /// Whose rights the token carries; the calling admin by default.
    #[schema(value_type = Option<i64>)]
    user_id: Option<UserId>,
    /// 1 to 36500; never expires when absent.
    #[schema(minimum = 1, maximum = 36500)]
    expires_in_days: Option<u32>,
}

/// The token itself, shown this once, and its record.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    token: String,
    #[serde(flatten)]
    record: ApiTokenView,
}

#[utoipa::path(
    get,
    path = "/admin/tokens",
    tag = "admin",
    operation_id = "list_tokens",
    responses(
        (status = 200, description = "Every API token, expired ones included, oldest first; never the token itself", body = [ApiTokenView]),
        AdminRead,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Admin(by): Admin,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    Ok(Json(views::all(tokens::list(&state.app, &by).await?)))
}

#[utoipa::path(
    post,
    path = "/admin/tokens",
    tag = "admin",
    extensions(("x-audit-action" = json!("token.create"))),
    operation_id = "create_token",
    request_body = NewTokenBody,
    responses(
        (status = 201, description = "The token, shown this once, and its record", body = CreatedToken),
        (status = 400, description = "A bad name or expiry, no such user, a disabled owner, or a malformed body", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    Admin(by): Admin,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let new = NewToken {
        name: body.name,
        owner: body.user_id,
        expires_in_days: body.expires_in_days,
    };
    let created = tokens::create(&state.app, &by, new).await?;
    let (token, record) = (created.token, created.record.into());
    Ok((StatusCode::CREATED, Json(CreatedToken { token, record })))
}

#[utoipa::path(
    delete,
    path = "/admin/tokens/{id}",
    tag = "admin",
    extensions(("x-audit-action" = json!("token.delete"))),
    operation_id = "delete_token",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 204, description = "The token stops working at once"),
        (status = 404, description = "No such token", body = ErrorEnvelope),
        AdminChange,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(by): Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    tokens::delete(&state.app, &by, ApiTokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
