//! The OpenAPI document (SPEC §4): generated from the handlers' own
//! `#[utoipa::path]` declarations as `api::routes` registers them with
//! `routes!`, so a route registered that way is always described (and
//! `tests/openapi.rs` catches one that is not). Served without sign-in at
//! `GET /api/openapi.json`.

use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use crate::requests::ALWAYS_OPEN;
use axum::{Extension, Json};
use std::sync::Arc;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
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
        (name = "health", description = "Health checks and alerts"),
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
/// with their paths as clients call them, and on every operation the
/// answers that come from outside its handler.
pub fn document(paths: Document) -> Document {
    let mut doc = ApiDoc::openapi().nest("/api", paths);
    for (path, item) in doc.paths.paths.iter_mut() {
        let always_open = ALWAYS_OPEN.contains(&path.as_str());
        for operation in operations(item) {
            add_outside_answers(operation, always_open);
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.head,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The answers every operation can get before its handler runs: hyper's
/// limits on the request head (414 and 431, with no body; the connection is
/// closed), the JSON body limit where it takes JSON (413), and maintenance
/// (503, see `crate::maintenance`) unless it is one of the routes that
/// stay open.
fn add_outside_answers(operation: &mut Operation, always_open: bool) {
    let answers = &mut operation.responses.responses;
    let takes_json = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    if takes_json {
        answers.entry("413".into()).or_insert_with(|| {
            envelope("The JSON body is over the body limit (2 MiB) (`too_large`)")
        });
    }
    answers.entry("414".into()).or_insert_with(|| {
        bare(
            "The request target (path and query) is over 65,534 bytes; no body, and the \
             connection is closed",
        )
    });
    answers.entry("431".into()).or_insert_with(|| {
        bare(
            "The request head (request line and headers) has more than 100 headers, or is over \
             the 408 KiB read buffer (checked while the head is incomplete, so one a little \
             larger may still be read); no body, and the connection is closed",
        )
    });
    if !always_open {
        // A route's own 503 (too little disk to unpack an archive) joins
        // the maintenance answer, which every route can give.
        let own = match answers.get("503") {
            Some(RefOr::T(response)) => format!("; or {}", response.description),
            _ => String::new(),
        };
        let mut busy = ResponseBuilder::new()
            .description(format!(
                "Lectern is in maintenance (a restore is replacing the data) (`maintenance`); \
                 try again after `Retry-After`{own}"
            ))
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("Seconds to wait"))
                    .build(),
            );
        busy = busy.content("application/json", envelope_content());
        answers.insert("503".into(), RefOr::T(busy.build()));
    }
}

fn envelope_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorEnvelope")))
}

fn envelope(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", envelope_content())
            .build(),
    )
}

fn bare(description: &str) -> RefOr<Response> {
    RefOr::T(Response::new(description))
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
    #[response(status = 403, description = "Not an admin (`forbidden`)")]
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
        description = "Not an admin (`forbidden`), or signed in with the cookie but without the \
            session's CSRF token in `x-csrf-token` or from another origin (`csrf_rejected`)"
    )]
    NotAdmin(crate::error::ErrorEnvelope),
}
