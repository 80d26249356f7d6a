//! `/api/admin/tokens`: long-lived API tokens for scripts (a cron job that
//! starts a scan). A token acts as its owner through `Authorization:
//! Bearer …` exactly like a login token; it is shown once, when made, and
//! only its hash is kept. Deleting it ends it at once.

use super::clean_name;
use crate::api::openapi::{AdminChange, AdminRead};
use crate::api::views::{self, ApiTokenView};
use crate::auth::Admin;
use crate::error::Ids;
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::passwords::{new_token, token_hash};
use lectern_store::{ApiTokenId, NewApiToken, UserId};
use serde::{Deserialize, Serialize};

const MAX_TOKEN_NAME: usize = 100;
/// A hundred years: "practically never" without overflowing a timestamp.
const MAX_DAYS: u32 = 36_500;
const DAY_MS: i64 = 24 * 3600 * 1000;

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
    _admin: Admin,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    Ok(Json(views::all(state.store.api_tokens().await?)))
}

fn expiry(days: Option<u32>) -> Result<Option<i64>, ApiError> {
    match days {
        None => Ok(None),
        Some(days @ 1..=MAX_DAYS) => Ok(Some(lectern_store::now_ms() + i64::from(days) * DAY_MS)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "expires_in_days is 1 to {MAX_DAYS}; leave it out for a token that never expires"
        ))),
    }
}

#[utoipa::path(
    post,
    path = "/admin/tokens",
    tag = "admin",
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
    Admin(caller): Admin,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = clean_name(&body.name, "token name", MAX_TOKEN_NAME)?;
    let expires_at = expiry(body.expires_in_days)?;
    let owner_id = body.user_id.unwrap_or(caller.user().id);
    let owner = state.store.user(owner_id).await?;
    let owner = owner
        .ok_or_else(|| ApiError::BadRequest(format!("there is no user with id {owner_id}")))?;
    if owner.disabled {
        return Err(ApiError::BadRequest(format!(
            "{} is disabled; a token for them would not work",
            owner.username
        )));
    }
    let token = new_token();
    let new = NewApiToken {
        name,
        user_id: owner.id,
        token_hash: token_hash(&token),
        csrf_token: new_token(),
        expires_at,
    };
    let record = state.store.create_api_token(&new).await?;
    let record = record.into();
    Ok((StatusCode::CREATED, Json(CreatedToken { token, record })))
}

#[utoipa::path(
    delete,
    path = "/admin/tokens/{id}",
    tag = "admin",
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
    _admin: Admin,
    Ids(id): Ids<i64>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_api_token(ApiTokenId(id)).await? {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
