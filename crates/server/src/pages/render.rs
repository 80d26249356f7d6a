//! Templates compiled into the binary, rendered with autoescaping, and the
//! one place page failures become HTML answers.

use crate::error::{ApiError, Ids};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{context, Environment, State, Value};
use serde::de::DeserializeOwned;
use std::sync::LazyLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("courses.html", include_str!("../../templates/courses.html")),
    ("course.html", include_str!("../../templates/course.html")),
    ("file.html", include_str!("../../templates/file.html")),
    ("search.html", include_str!("../../templates/search.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("tree.html", include_str!("../../templates/tree.html")),
    (
        "admin/layout.html",
        include_str!("../../templates/admin/layout.html"),
    ),
    (
        "admin/refused.html",
        include_str!("../../templates/admin/refused.html"),
    ),
    (
        "admin/dashboard.html",
        include_str!("../../templates/admin/dashboard.html"),
    ),
    (
        "admin/health.html",
        include_str!("../../templates/admin/health.html"),
    ),
    (
        "admin/library.html",
        include_str!("../../templates/admin/library.html"),
    ),
    (
        "admin/scan_rows.html",
        include_str!("../../templates/admin/scan_rows.html"),
    ),
    (
        "admin/scans.html",
        include_str!("../../templates/admin/scans.html"),
    ),
    (
        "admin/scan.html",
        include_str!("../../templates/admin/scan.html"),
    ),
    (
        "admin/cleanup.html",
        include_str!("../../templates/admin/cleanup.html"),
    ),
    (
        "admin/cleaned.html",
        include_str!("../../templates/admin/cleaned.html"),
    ),
    (
        "admin/backups.html",
        include_str!("../../templates/admin/backups.html"),
    ),
    (
        "admin/verified.html",
        include_str!("../../templates/admin/verified.html"),
    ),
    (
        "admin/restore.html",
        include_str!("../../templates/admin/restore.html"),
    ),
    (
        "admin/delete.html",
        include_str!("../../templates/admin/delete.html"),
    ),
    (
        "admin/users.html",
        include_str!("../../templates/admin/users.html"),
    ),
    (
        "admin/user.html",
        include_str!("../../templates/admin/user.html"),
    ),
    (
        "admin/groups.html",
        include_str!("../../templates/admin/groups.html"),
    ),
    (
        "admin/group.html",
        include_str!("../../templates/admin/group.html"),
    ),
    (
        "admin/tokens.html",
        include_str!("../../templates/admin/tokens.html"),
    ),
    (
        "admin/token.html",
        include_str!("../../templates/admin/token.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
    ("account.html", include_str!("../../templates/account.html")),
];

/// Immutable once built: the templates are part of the binary, like code.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // Caught by the tests that render every page.
            tracing::error!("template {name} does not parse: {e}");
        }
    }
    env
});

/// A page, or the reason it could not be made.
pub fn render(name: &str, ctx: Value) -> Result<Html<String>, PageError> {
    ENVIRONMENT
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| PageError::Api(ApiError::Internal(format!("template {name}: {e:#}"))))
}

/// Runs `work` with the macros of `template` at hand, for pieces a page
/// puts together itself (see `tree.rs`).
pub fn with_macros<T>(
    template: &str,
    work: impl FnOnce(&State<'_, '_>) -> Result<T, minijinja::Error>,
) -> Result<T, PageError> {
    ENVIRONMENT
        .get_template(template)
        .and_then(|t| work(t.render_captured(())?.state()))
        .map_err(|e| PageError::Api(ApiError::Internal(format!("template {template}: {e:#}"))))
}

/// What can go wrong on a page. Failures of the shared API code keep their
/// status; a page shows them as HTML.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: to the login page, coming back here afterwards.
    SignIn {
        next: String,
    },
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized => PageError::SignIn { next: "/".into() },
            other => PageError::Api(other),
        }
    }
}

impl From<lectern_app::AppError> for PageError {
    fn from(e: lectern_app::AppError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<lectern_store::StoreError> for PageError {
    fn from(e: lectern_store::StoreError) -> Self {
        PageError::Api(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let error = match self {
            PageError::SignIn { next } => return sign_in_redirect(&next).into_response(),
            PageError::Api(error) => error,
        };
        if let ApiError::Internal(detail) = &error {
            tracing::error!("internal error on a page: {detail}");
        }
        let status = error.status();
        let ctx = context! { status => status.as_u16(), message => error.to_string() };
        let body = ENVIRONMENT
            .get_template("error.html")
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|_| error.to_string());
        let mut response = (status, Html(body)).into_response();
        error.add_retry_after(&mut response);
        response
    }
}

/// Ids in a page's path; anything else names no page (404, as HTML).
pub struct PageIds<T>(pub T);

impl<T, S> FromRequestParts<S> for PageIds<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let Ids(ids) = Ids::from_request_parts(parts, state).await?;
        Ok(PageIds(ids))
    }
}

/// `/login?next=…`, with `next` kept only when it is a path on this site.
pub fn sign_in_redirect(next: &str) -> Redirect {
    let next = local_path(next).unwrap_or("/");
    if next == "/" {
        return Redirect::to("/login");
    }
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}"))
}

/// A path on this site, never `//host` or `https://…`: after signing in,
/// nobody is sent to another site.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(ENVIRONMENT.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/courses/3?x=1"), Some("/courses/3?x=1"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
