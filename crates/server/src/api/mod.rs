pub mod admin;
pub mod auth;
pub mod content;
pub mod health;
pub mod library;
pub mod openapi;
pub mod revalidate;
pub mod scanner;
pub mod search;
pub mod views;

use crate::audit::Actions;
use crate::state::AppState;
use axum::{Extension, Router};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The JSON API, relative to `/api`. Each handler's `#[utoipa::path]`
/// gives its method and path once: `routes!` registers it from there and
/// adds it to the OpenAPI document served at `/api/openapi.json`. With the
/// router come the audited actions that document declares.
pub fn routes() -> (Router<AppState>, Actions) {
    let (router, paths) = OpenApiRouter::default()
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(library::categories))
        .routes(routes!(library::category))
        .routes(routes!(library::course))
        .routes(routes!(library::file))
        .routes(routes!(
            crate::api::content::content,
            crate::api::content::content_head
        ))
        .routes(routes!(crate::api::content::webvtt))
        .routes(routes!(library::progress))
        .routes(routes!(search::search))
        .routes(routes!(scanner::scan))
        .routes(routes!(scanner::rescan))
        .routes(routes!(scanner::cleanup))
        .routes(routes!(scanner::status))
        .routes(routes!(scanner::abort))
        .routes(routes!(scanner::history))
        .routes(routes!(scanner::scan_record))
        .routes(routes!(admin::users::list, admin::users::create))
        .routes(routes!(
            admin::users::show,
            admin::users::update,
            admin::users::delete
        ))
        .routes(routes!(admin::groups::list, admin::groups::create))
        .routes(routes!(
            admin::groups::show,
            admin::groups::rename,
            admin::groups::delete
        ))
        .routes(routes!(admin::groups::members, admin::groups::add_member))
        .routes(routes!(admin::groups::remove_member))
        .routes(routes!(admin::groups::grants, admin::groups::add_grant))
        .routes(routes!(admin::groups::remove_grant))
        .routes(routes!(admin::tokens::list, admin::tokens::create))
        .routes(routes!(admin::tokens::delete))
        .routes(routes!(admin::settings::show, admin::settings::update))
        .routes(routes!(admin::audit::list))
        .routes(routes!(admin::backups::create))
        .routes(routes!(admin::backups::list))
        .routes(routes!(
            admin::backups::download,
            admin::backups::download_head
        ))
        .routes(routes!(admin::backups::upload))
        .routes(routes!(admin::backups::restore))
        .routes(routes!(admin::backups::delete))
        .routes(routes!(admin::backups::status))
        .routes(routes!(health::health))
        .routes(routes!(health::list))
        .routes(routes!(health::test))
        .split_for_parts();
    let document: openapi::Shared = Arc::new(openapi::document(paths));
    let actions = match serde_json::to_value(document.as_ref()) {
        Ok(json) => Actions::from_document(&json),
        Err(e) => {
            tracing::error!("cannot read the audited actions off the API document: {e}");
            Actions::default()
        }
    };
    let router = router
        .layer(Extension(document))
        .fallback(|| async { crate::ApiError::NotFound })
        .method_not_allowed_fallback(|| async { crate::ApiError::MethodNotAllowed });
    (router, actions)
}
