//! The web pages (SPEC §5), rendered on the server from templates compiled
//! into the binary. A little script (static/app.js) saves media positions;
//! everything else works without it.

mod account;
mod admin;
mod assets;
mod library;
mod render;
mod session;
mod tree;
pub mod viewer;

pub use render::PageError;

use crate::state::AppState;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// Pages load only Lectern's own scripts, styles, media and frames; nothing
/// inline runs, and no other site may frame them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; media-src 'self'; frame-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    let header =
        |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    Router::new()
        .route("/", get(library::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/categories/{id}", get(library::category))
        .route("/courses/{id}", get(library::course))
        .route("/files/{id}", get(library::file))
        .route("/files/{id}/complete", post(library::complete))
        .route("/search", get(library::search))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route(
            "/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .route("/static/{name}", get(assets::asset))
        .merge(admin::routes())
        .fallback(|| async { PageError::Api(crate::ApiError::NotFound) })
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        // Pages show one person's data: never kept by shared caches.
        .layer(header(header::CACHE_CONTROL, "no-store"))
}
