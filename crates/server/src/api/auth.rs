use crate::api::views::UserView;
use crate::auth::{verify_password_blocking, Caller};
use crate::error::{ApiError, ErrorEnvelope, JsonBody};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use lectern_app::passwords::{new_token, token_hash};
use lectern_store::{NewSession, SessionKind};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

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
        (status = 429, description = "Too many failed sign-ins for this account or address; see `Retry-After`", body = ErrorEnvelope),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(login): JsonBody<Login>,
) -> Result<Json<LoggedIn>, ApiError> {
    let session = sign_in(
        &state,
        peer,
        &login.username,
        login.password,
        SessionKind::Api,
    )
    .await?;
    Ok(Json(session))
}

/// Checks a password and opens a session; the API's login and the login
/// page both come here, so both are limited the same way.
pub async fn sign_in(
    state: &AppState,
    peer: SocketAddr,
    username: &str,
    password: String,
    kind: SessionKind,
) -> Result<LoggedIn, ApiError> {
    let keys = [
        format!("user:{}", username.to_lowercase()),
        format!("addr:{}", peer.ip()),
    ];
    if state.limiter.blocked(&keys) {
        return Err(ApiError::TooManyAttempts);
    }
    let found = state.store.user_login(username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password_ok = verify_password_blocking(password, hash).await;
    let Some(user) = user.filter(|u| password_ok && !u.disabled) else {
        state.limiter.failed(&keys);
        return Err(ApiError::BadCredentials);
    };
    let token = new_token();
    let expires_at = lectern_store::now_ms() + state.options.session_ttl.as_millis() as i64;
    let session = NewSession {
        token_hash: token_hash(&token),
        user_id: user.id,
        kind,
        csrf_token: new_token(),
        expires_at,
    };
    state.store.create_session(&session).await?;
    Ok(LoggedIn {
        token,
        expires_at,
        user: user.into(),
    })
}

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
