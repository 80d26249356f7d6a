mod auth;
pub mod library;
mod scanner;

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
        .route("/files/{id}/progress", put(library::progress))
        .route("/scanner/scan", post(scanner::scan))
        .route("/scanner/rescan/{course_id}", post(scanner::rescan))
        .route("/scanner/cleanup", post(scanner::cleanup))
        .route("/scanner/status", get(scanner::status))
        .route("/scanner/abort", post(scanner::abort))
        .route("/scanner/history", get(scanner::history))
        .route("/scanner/history/{scan_id}", get(scanner::scan_record))
        .fallback(|| async { crate::ApiError::NotFound })
}
