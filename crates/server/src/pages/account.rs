//! `/account`: every signed-in person's own page: a new password (the
//! current one required) and signing out on every device.

use super::admin::in_words;
use super::render::{render, PageError};
use super::session::{signed_out, CsrfForm, Reader};
use crate::auth::ClientAddress;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use lectern_app::users;
use minijinja::context;
use serde::Deserialize;

pub async fn show(reader: Reader) -> Result<Html<String>, PageError> {
    account_page(&reader, None)
}

fn account_page(reader: &Reader, error: Option<String>) -> Result<Html<String>, PageError> {
    let ctx = context! { title => "Your account", error, ..reader.layout() };
    render("account.html", ctx)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// A new password ends every session, this one too: the person signs in
/// again with it.
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    CsrfForm { reader, form }: CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    if form.new != form.repeat {
        let error = "the two new passwords differ: type the same one twice".to_owned();
        let page = account_page(&reader, Some(error))?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let actor = reader.0.actor(Some(address));
    match users::change_own_password(&state.app, &state.sign_in, &actor, form.current, form.new)
        .await
    {
        Ok(()) => Ok(signed_out(jar, Redirect::to("/login?changed=password"))),
        Err(e) => {
            let message = in_words(&e);
            let status = ApiError::from(e).status();
            let page = account_page(&reader, Some(message))?;
            Ok((status, page).into_response())
        }
    }
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    jar: CookieJar,
    CsrfForm { reader, .. }: CsrfForm<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    let actor = reader.0.actor(Some(address));
    users::sign_out_everywhere(&state.app, &actor).await?;
    Ok(signed_out(jar, Redirect::to("/login?changed=everywhere")))
}
