//! Signing in and out of the pages: an HttpOnly, SameSite cookie holds the
//! session; every form that changes something carries the session's CSRF
//! token, checked by [`CsrfForm`].

use super::render::{local_path, render, sign_in_redirect, PageError};
use crate::auth::{same_origin, Caller, ClientAddress, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use lectern_app::SignIn;
use lectern_store::SessionKind;
use minijinja::context;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The signed-in person looking at a page; anyone else is sent to sign in.
pub struct Reader(pub Caller);

impl FromRequestParts<AppState> for Reader {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        match Caller::find(parts, state).await? {
            Some(caller) => Ok(Reader(caller)),
            None => Err(PageError::SignIn {
                next: parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned(),
            }),
        }
    }
}

impl Reader {
    /// What every page's layout shows: who is signed in, and the token its
    /// forms and scripts send back.
    pub fn layout(&self) -> minijinja::Value {
        let user = self.0.user();
        context! {
            me => context! { username => &user.username, admin => self.0.is_admin() },
            csrf => &self.0.session.csrf_token,
        }
    }
}

/// A form posted from one of Lectern's pages by the signed-in person: the
/// `csrf` field must match their session, and the browser must not say the
/// form came from another site.
pub struct CsrfForm<T> {
    pub reader: Reader,
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let reader = Reader::from_request_parts(&mut parts, state).await?;
        let form = checked_form(parts, body, state, &reader).await?;
        Ok(CsrfForm { reader, form })
    }
}

/// The form of a request by `reader`, once its `csrf` field matches their
/// session and the browser does not say it came from another site.
pub(super) async fn checked_form<T: DeserializeOwned>(
    parts: Parts,
    body: axum::body::Body,
    state: &AppState,
    reader: &Reader,
) -> Result<T, PageError> {
    if !same_origin(&parts.headers) {
        return Err(ApiError::CsrfRejected.into());
    }
    let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let field: CsrfField = parse_form(&bytes)?;
    if !reader.0.csrf_matches(&field.csrf) {
        return Err(ApiError::CsrfRejected.into());
    }
    parse_form(&bytes)
}

fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the form is not valid: {e}")).into())
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    /// After a restore from the panel: the backup restored, and the safety
    /// backup of the data it replaced.
    restored: Option<String>,
    safety: Option<String>,
    /// After a change on the account page: `password` or `everywhere`.
    changed: Option<String>,
}

/// A backup id from a link, shown only when it looks like one.
pub(super) fn backup_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|id| {
        !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

pub async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<Next>,
    parts: Parts,
) -> Result<Response, PageError> {
    let next = query.next.as_deref().and_then(local_path).unwrap_or("/");
    if Caller::find(&parts, &state).await?.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    let restored = backup_id(query.restored.as_deref());
    let safety = backup_id(query.safety.as_deref());
    let changed = query
        .changed
        .as_deref()
        .filter(|c| ["password", "everywhere"].contains(c));
    let ctx = context! { next, username => "", restored, safety, changed };
    Ok(render("login.html", ctx)?.into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// A wrong password shows the form again with the reason; the cookie is set
/// only on success.
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, PageError> {
    // Without a session there is no CSRF token yet; a login form posted
    // from another site is refused by its Origin.
    if !same_origin(&headers) {
        return Err(ApiError::CsrfRejected.into());
    }
    let form: LoginForm = parse_form(&body)?;
    let next = form.next.as_deref().and_then(local_path).unwrap_or("/");
    let request = SignIn {
        username: form.username.clone(),
        password: form.password,
        address,
        kind: SessionKind::Web,
        session_ttl: state.options.session_ttl,
    };
    let signed_in = state.app.sign_in(&state.sign_in, request).await;
    match signed_in.map_err(ApiError::from) {
        Ok(session) => {
            let cookie = session_cookie(&headers, session.token, &state);
            Ok((jar.add(cookie), Redirect::to(next)).into_response())
        }
        Err(error @ (ApiError::BadCredentials | ApiError::TooManyAttempts { .. })) => {
            let status = error.status();
            let message = error.to_string();
            let page = render(
                "login.html",
                context! { next, username => form.username, error => message },
            )?;
            let mut response = (status, page).into_response();
            error.add_retry_after(&mut response);
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

fn session_cookie(headers: &HeaderMap, token: String, state: &AppState) -> Cookie<'static> {
    // Behind a TLS-terminating proxy the cookie must never travel in clear.
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let max_age = time::Duration::seconds(state.options.session_ttl.as_secs() as i64);
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(https)
        .max_age(max_age)
        .build()
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    CsrfForm { reader, .. }: CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    state.store.delete_session(&reader.0.token_hash).await?;
    Ok(signed_out(jar, sign_in_redirect("/")))
}

/// The browser's session cookie removed, on the way to `to`: after signing
/// out, or after something that ended every session (a restore, a new
/// password).
pub(super) fn signed_out(jar: CookieJar, to: Redirect) -> Response {
    let gone = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    (jar.remove(gone), to).into_response()
}
