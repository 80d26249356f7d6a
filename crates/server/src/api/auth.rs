use crate::api::views::UserView;
use crate::auth::{Caller, ClientAddress};
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use lectern_app::SignIn;
use lectern_store::SessionKind;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
}

/// A new session: its token (shown once) and whose it is.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LoggedIn {
    pub token: String,
    pub expires_at: i64,
    pub user: UserView,
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    security(()),
    request_body = Login,
    responses(
        (status = 200, description = "Signed in: the token, when it expires (ms since the epoch) and the user", body = LoggedIn),
        (status = 400, description = "The body is not `{username, password}`", body = ErrorEnvelope),
        (status = 401, description = "Wrong username or password, or a disabled account (`bad_credentials`)", body = ErrorEnvelope),
        (status = 429, description = "Too many failed sign-ins for this account from this address (or from this address, or for this account from unknown addresses), or too many sign-ins at once for the server; see `Retry-After`", body = ErrorEnvelope),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(login): JsonBody<Login>,
) -> Result<Json<LoggedIn>, ApiError> {
    let request = SignIn {
        username: login.username,
        password: login.password,
        address,
        kind: SessionKind::Api,
        session_ttl: state.options.session_ttl,
    };
    let signed_in = state.app.sign_in(&state.sign_in, request).await?;
    Ok(Json(LoggedIn {
        token: signed_in.token,
        expires_at: signed_in.expires_at,
        user: signed_in.user.into(),
    }))
}

/// The sign-in use case over this server's state; the API's login and the
/// login page both come here.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session (or API token) used for this request is ended"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Signed in with the cookie but without the CSRF token (`csrf_rejected`)", body = ErrorEnvelope),
    ),
)]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.store.delete_session(&caller.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    ),
)]
pub async fn me(caller: Caller) -> Json<UserView> {
    Json(caller.session.user.into())
}
