pub mod admin;
pub mod auth;
pub mod library;
pub mod scanner;
pub mod search;

use crate::state::AppState;
use axum::routing::{get, post, put};
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/categories", get(library::categories))
        .route("/categories/{id}", get(library::category))
        .route("/courses/{id}", get(library::course))
        .route("/files/{id}", get(library::file))
        .route("/files/{id}/content", get(crate::content::content))
        .route("/files/{id}/vtt", get(crate::content::webvtt))
        .route("/files/{id}/progress", put(library::progress))
        .route("/search", get(search::search))
        .route("/scanner/scan", post(scanner::scan))
        .route("/scanner/rescan/{course_id}", post(scanner::rescan))
        .route("/scanner/cleanup", post(scanner::cleanup))
        .route("/scanner/status", get(scanner::status))
        .route("/scanner/abort", post(scanner::abort))
        .route("/scanner/history", get(scanner::history))
        .route("/scanner/history/{scan_id}", get(scanner::scan_record))
        .route(
            "/admin/users",
            get(admin::users::list).post(admin::users::create),
        )
        .route(
            "/admin/users/{id}",
            get(admin::users::show)
                .patch(admin::users::update)
                .delete(admin::users::delete),
        )
        .route(
            "/admin/groups",
            get(admin::groups::list).post(admin::groups::create),
        )
        .route(
            "/admin/groups/{id}",
            get(admin::groups::show)
                .patch(admin::groups::rename)
                .delete(admin::groups::delete),
        )
        .route(
            "/admin/groups/{id}/members",
            get(admin::groups::members).post(admin::groups::add_member),
        )
        .route(
            "/admin/groups/{id}/members/{user_id}",
            axum::routing::delete(admin::groups::remove_member),
        )
        .route(
            "/admin/groups/{id}/grants",
            get(admin::groups::grants).post(admin::groups::add_grant),
        )
        .route(
            "/admin/groups/{id}/grants/{grant_id}",
            axum::routing::delete(admin::groups::remove_grant),
        )
        .route(
            "/admin/tokens",
            get(admin::tokens::list).post(admin::tokens::create),
        )
        .route(
            "/admin/tokens/{id}",
            axum::routing::delete(admin::tokens::delete),
        )
        .route(
            "/admin/settings",
            get(admin::settings::show).put(admin::settings::update),
        )
        .fallback(|| async { crate::ApiError::NotFound })
        .method_not_allowed_fallback(|| async { crate::ApiError::MethodNotAllowed })
}
