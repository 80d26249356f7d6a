//! The OpenAPI document (SPEC §4): generated from the handlers' own
//! `#[utoipa::path]` declarations as `api::routes` registers them with
//! `routes!`, so a route registered that way is always described (and
//! `tests/openapi.rs` catches one that is not). Served without sign-in at
//! `GET /api/openapi.json`.

use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use axum::{Extension, Json};
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// What the document says before the routes add their paths: title,
/// version, the two ways to sign in, and that every operation needs one of
/// them unless it says otherwise.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lectern",
        version = env!("CARGO_PKG_VERSION"),
        description = "Lectern's JSON API. Every error is `{\"error\":{\"code\",\"message\"}}` \
            with its status. Anything outside the caller's grants answers 404, as if it did \
            not exist.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    modifiers(&SignIn),
    security(("bearer" = []), ("session" = [])),
    components(schemas(crate::error::ErrorEnvelope)),
    tags(
        (name = "auth", description = "Sign in and out"),
        (name = "library", description = "Categories, courses, files and progress"),
        (name = "search", description = "Courses and files by name"),
        (name = "scanner", description = "Bringing the index in line with the disk (admins)"),
        (name = "admin", description = "Users, groups, grants, API tokens, settings (admins)"),
        (name = "backup", description = "Backups and restore (admins)"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// Adds the security schemes the `security(...)` lists name.
struct SignIn;

impl Modify for SignIn {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "A token from `POST /api/auth/login`, or a long-lived API token an admin made \
             (`POST /api/admin/tokens`), as `Authorization: Bearer TOKEN`."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let cookie = ApiKeyValue::with_description(
            SESSION_COOKIE.to_owned(),
            format!(
                "The web pages' HttpOnly session cookie (from `POST /login`). A request that \
                 changes something with it must also send the session's CSRF token in \
                 `{CSRF_HEADER}`, or it gets 403 `csrf_rejected`. The Bearer token wins when \
                 both are sent."
            ),
        );
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(cookie)));
    }
}

/// The document for routes registered at `paths` (relative to `/api`),
/// with their paths as clients call them.
pub fn document(paths: Document) -> Document {
    ApiDoc::openapi().nest("/api", paths)
}

/// The document itself, handed to the handler by `api::routes`.
pub type Shared = Arc<Document>;

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json")),
)]
pub async fn openapi_json(Extension(doc): Extension<Shared>) -> Json<Document> {
    Json(doc.as_ref().clone())
}

/// How an admin route that only reads refuses a caller, for its
/// `#[utoipa::path]` `responses(...)`. A description, never built.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum AdminRead {
    #[response(status = 401, description = "Not signed in")]
    NotSignedIn(crate::error::ErrorEnvelope),
    #[response(status = 403, description = "Not an admin")]
    NotAdmin(crate::error::ErrorEnvelope),
}

/// How an admin route that changes something refuses a caller: as
/// [`AdminRead`], and a cookie request without its CSRF token. A
/// description, never built.
#[allow(dead_code)]
#[derive(utoipa::IntoResponses)]
pub enum AdminChange {
    #[response(status = 401, description = "Not signed in")]
    NotSignedIn(crate::error::ErrorEnvelope),
    #[response(
        status = 403,
        description = "Not an admin, or the cookie without the CSRF token"
    )]
    NotAdmin(crate::error::ErrorEnvelope),
}
